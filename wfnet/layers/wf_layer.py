"""The memory matrices shared by every Weight-Filtering layer.

Poppi et al., "Multi-Class Unlearning for Image Classification via Weight Filtering",
IEEE Intelligent Systems 2024 (arXiv 2304.02049), section "Single-shot multiple class
unlearning": a layer keeps its frozen weights and learns alpha (N_c x C_out); row y, squeezed by
a sigmoid, masks output channel c of the weights and of the bias.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .gates import GateSelection, select_gates

ALPHA_INIT = 3.0  # sigmoid(3) = 0.95: gates start almost open with a non-zero gradient


class WFLayer(nn.Module):
    """Base of the WF wrappers: the frozen ``inner`` layer plus alpha_weight / alpha_bias.

    Because a gate scales a whole output channel, masking the weights equals scaling the
    bias-free output: ``conv(x, g * W) == g * conv(x, W)``. The wrappers use that, so no
    per-sample weight tensor is ever built and rows may differ from sample to sample.
    """

    inner: nn.Module

    def __init__(
        self, inner: nn.Module, out_features: int, num_classes: int, selection: GateSelection,
        init: float = ALPHA_INIT,
    ) -> None:
        super().__init__()
        self.inner = inner
        for p in inner.parameters():
            p.requires_grad_(False)
        self.selection = selection
        w = inner.weight
        self.alpha_weight = nn.Parameter(torch.full((num_classes, out_features), init, device=w.device))
        bias = getattr(inner, "bias", None)
        self.alpha_bias = (
            nn.Parameter(torch.full((num_classes, out_features), init, device=w.device))
            if bias is not None else None
        )

    @property
    def num_classes(self) -> int:
        return int(self.alpha_weight.shape[0])

    def alphas(self) -> list[Tensor]:
        return [a for a in (self.alpha_weight, self.alpha_bias) if a is not None]

    def gated(self, out: Tensor, channel_dim: int) -> Tensor:
        """Apply the selected rows' gates to a bias-free output and add the gated bias."""
        rows = self.selection.rows
        assert rows is not None
        shape = [out.shape[0] if rows.shape[0] != 1 else 1] + [1] * (out.ndim - 1)
        shape[channel_dim] = -1
        g = select_gates(self.alpha_weight, rows, self.selection.combine).to(out.dtype).view(shape)
        # in place when nothing needs the ungated output for a backward pass (inference)
        out = out.mul_(g) if not (torch.is_grad_enabled() and g.requires_grad) else out * g
        bias = getattr(self.inner, "bias", None)
        if bias is not None:
            assert self.alpha_bias is not None
            gb = select_gates(self.alpha_bias, rows, self.selection.combine).to(out.dtype)
            out = out.add_((bias.to(out.dtype) * gb).view(shape))
        return out

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, gates={self.alpha_weight.shape[1]}"

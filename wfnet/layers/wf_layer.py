"""The memory matrices alpha (N_c x C_out) shared by every Weight-Filtering layer (Poppi et al., IEEE
Intelligent Systems 2024, arXiv 2304.02049): row y, squeezed by a sigmoid, masks output channels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .gates import GateSelection, LayerGates, activation_dtype, select_gates

# Poppi et al., "Multi-Class Unlearning for Image Classification via Weight Filtering",
# IEEE Intelligent Systems 2024 (arXiv 2304.02049), section "Single-shot multiple class
# unlearning": a layer keeps its frozen weights and learns alpha (N_c x C_out); row y, squeezed by
# a sigmoid, masks output channel c of the weights and of the bias.

ALPHA_INIT = 3.0  # sigmoid(3) = 0.95: gates start almost open with a non-zero gradient


class WFLayer(nn.Module):
    """Base of the WF wrappers: the frozen ``inner`` layer plus alpha_weight / alpha_bias.

    A gate scales a whole output channel, so masking the weights equals scaling the bias-free
    output: ``conv(x, g * W) == g * conv(x, W)``. With fusion on (the default) a layer applies
    its gates where they cost nothing extra: inside its weights when the whole batch shares one
    selection (paper Eq. 2 as written), else in one addcmul over its output (one row per sample,
    no per-sample weight tensor). ``gated`` is the elementwise reference path (fusion off).
    ``slot``: this layer's index in the gates its model computes in one go for all layers.
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
        self.slot: int | None = None
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

    channel_dim: int = 1  # where a gate's channel sits in this layer's output

    def compute(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """The wrapped layer's operation with the given weights (conv, linear)."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """The original layer (no selection), the elementwise reference (fusion off), the gates
        folded into the weights (one selection for the batch), or one addcmul (one row each)."""
        sel, inner = self.selection, self.inner
        if sel.rows is None:
            return inner(x)
        if not sel.fuse:
            return self.gated(self.compute(x, inner.weight, None), channel_dim=self.channel_dim)
        gates = self.layer_gates(x)
        if gates.scale.shape[0] == 1:
            bias = None if gates.shift is None else gates.shift.reshape(-1)
            scale = gates.scale.view(-1, *[1] * (inner.weight.ndim - 1))
            return self.compute(x, self.scaled_weight(scale), bias)
        return self.apply_gates(self.compute(x, inner.weight, None), gates, channel_dim=self.channel_dim)

    def layer_gates(self, x: Tensor) -> LayerGates:
        """This forward's gates: the model's one-go computation if it made one, else this layer's."""
        sel = self.selection
        if sel.computed is not None and self.slot is not None:
            return sel.computed[self.slot]
        assert sel.rows is not None
        dtype = activation_dtype(x)
        scale = select_gates(self.alpha_weight, sel.rows, sel.combine).to(dtype)
        bias = getattr(self.inner, "bias", None)
        if bias is None:
            return LayerGates(scale, None)
        assert self.alpha_bias is not None
        return LayerGates(scale, (bias * select_gates(self.alpha_bias, sel.rows, sel.combine)).to(dtype))

    def scaled_weight(self, scale: Tensor) -> Tensor:
        """The weights times ``scale`` (shaped to broadcast over them): when no gradient is needed,
        written straight in the gates' dtype, one kernel that also does autocast's weight cast."""
        w = self.inner.weight
        if torch.is_grad_enabled() and (w.requires_grad or scale.requires_grad):
            return w * scale
        return torch.mul(w, scale, out=torch.empty_like(w, dtype=scale.dtype))

    def apply_gates(self, out: Tensor, gates: LayerGates, channel_dim: int) -> Tensor:
        """out * scale + shift per sample and channel, one pass (in place when no grad needs it)."""
        shape = [gates.scale.shape[0]] + [1] * (out.ndim - 1)
        shape[channel_dim] = -1
        scale = gates.scale.to(out.dtype).view(shape)
        shift = None
        if gates.shift is not None:
            shape[0] = gates.shift.shape[0]
            shift = gates.shift.to(out.dtype).view(shape)
        inplace = not (torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (out, scale, shift)))
        if shift is None:
            return out.mul_(scale) if inplace else out * scale
        return torch.addcmul(shift, out, scale, out=out) if inplace else _GateAffine.apply(out, scale, shift)

    def gated(self, out: Tensor, channel_dim: int) -> Tensor:
        """Reference path: apply the selected rows' gates to a bias-free output, add the gated bias."""
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


class _GateAffine(torch.autograd.Function):
    """z * scale + shift (scale, shift broadcast over z) as one addcmul, with a lean backward:
    addcmul's own multiplies z by its ``value`` (1) in a full extra pass over the activations."""

    @staticmethod
    def forward(ctx, z: Tensor, scale: Tensor, shift: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(z if ctx.needs_input_grad[1] else None, scale)
        ctx.shift_shape = shift.shape
        return torch.addcmul(shift, z, scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        z, scale = ctx.saved_tensors
        need_z, need_scale, need_shift = ctx.needs_input_grad
        return (grad * scale if need_z else None,
                (grad * z).sum_to_size(scale.shape) if need_scale else None,
                grad.sum_to_size(ctx.shift_shape) if need_shift else None)

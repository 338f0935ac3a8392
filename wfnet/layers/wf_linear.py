"""Weight-Filtering for linear projections: ViT q/k/v gates per output feature."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .gates import GateSelection
from .wf_layer import ALPHA_INIT, WFLayer


class WFLinear(WFLayer):
    """A frozen ``nn.Linear`` (e.g. timm's fused ``attn.qkv``) masked per output feature.

    Poppi et al., IEEE Intelligent Systems 2024, section "Vision Transformers". One selection
    for the whole batch gates the weights and bias themselves; one row per sample gates the
    output in one addcmul broadcast over the tokens.
    """

    inner: nn.Linear

    def __init__(self, linear: nn.Linear, num_classes: int, selection: GateSelection, init: float = ALPHA_INIT) -> None:
        super().__init__(linear, linear.out_features, num_classes, selection, init)

    def forward(self, x: Tensor) -> Tensor:
        lin, sel = self.inner, self.selection
        if sel.rows is None:
            return lin(x)
        if not sel.fuse:
            return self.gated(F.linear(x, lin.weight), channel_dim=-1)
        gates = self.layer_gates(x)
        if gates.scale.shape[0] == 1:
            bias = None if gates.shift is None else gates.shift.reshape(-1)
            return F.linear(x, self.scaled_weight(gates.scale.view(-1, 1)), bias)
        return self.apply_gates(F.linear(x, lin.weight), gates, channel_dim=-1)

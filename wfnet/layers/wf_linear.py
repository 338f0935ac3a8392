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

    channel_dim = -1

    def compute(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return F.linear(x, weight, bias)

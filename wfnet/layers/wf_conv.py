"""Weight-Filtering for convolutions: gates on output channels (paper, "CNNs")."""

from __future__ import annotations

from torch import Tensor, nn

from .gates import GateSelection
from .wf_layer import ALPHA_INIT, WFLayer


class WFConv2d(WFLayer):
    """A frozen ``nn.Conv2d`` whose kernels and biases are masked per output channel.

    Poppi et al., IEEE Intelligent Systems 2024, Eq. 2 with alpha^c, alpha^b in R^{N_c x C_out}.
    One selection for the whole batch runs the conv on gated weights and bias (a BN after it
    folded in); one row per sample runs the plain conv and one addcmul (again with the BN in it).
    """

    inner: nn.Conv2d

    def __init__(self, conv: nn.Conv2d, num_classes: int, selection: GateSelection, init: float = ALPHA_INIT) -> None:
        super().__init__(conv, conv.out_channels, num_classes, selection, init)

    def compute(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return self.inner._conv_forward(x, weight, bias)

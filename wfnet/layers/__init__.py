"""Weight-Filtering layers: thin wrappers around frozen conv/linear layers."""

from .gates import COMBINES, GateSelection, check_combine, select_gates
from .wf_conv import WFConv2d
from .wf_layer import ALPHA_INIT, WFLayer
from .wf_linear import WFLinear

__all__ = ["ALPHA_INIT", "COMBINES", "GateSelection", "WFConv2d", "WFLayer", "WFLinear", "check_combine",
           "select_gates"]

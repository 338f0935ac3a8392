"""Weight-Filtering layers: thin wrappers around frozen conv/linear layers."""

from .fusion import FoldableBatchNorm, bn_affine, conv_bn_pairs
from .gate_bank import GateBank
from .gates import COMBINES, GateSelection, LayerGates, activation_dtype, check_combine, select_gates
from .wf_conv import WFConv2d
from .wf_layer import ALPHA_INIT, WFLayer
from .wf_linear import WFLinear

__all__ = ["ALPHA_INIT", "COMBINES", "FoldableBatchNorm", "GateBank", "GateSelection", "LayerGates", "WFConv2d",
           "WFLayer", "WFLinear", "activation_dtype", "bn_affine", "check_combine", "conv_bn_pairs",
           "select_gates"]

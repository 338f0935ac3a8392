"""wfnet: multi-class unlearning via Weight Filtering (Poppi et al., IEEE Intelligent Systems 2024)."""

from .backbones import BACKBONES, BackboneSpec, create_backbone
from .errors import CheckpointError, DatasetNotFoundError, WFNetError
from .layers import WFConv2d, WFLayer, WFLinear
from .wrap import WFModel, wrap

__version__ = "0.1.0"

__all__ = [
    "BACKBONES", "BackboneSpec", "CheckpointError", "DatasetNotFoundError", "WFConv2d",
    "WFLayer", "WFLinear", "WFModel", "WFNetError", "create_backbone", "wrap",
]

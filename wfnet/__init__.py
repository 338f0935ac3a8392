"""wfnet: multi-class unlearning via Weight Filtering (Poppi et al., IEEE Intelligent Systems 2024).
The public API: backbones, the WF layers and ``wrap``, and the configs of training and untraining."""

from .backbones import BACKBONES, BackboneSpec, create_backbone
from .errors import CheckpointError, DatasetNotFoundError, WFNetError
from .layers import WFConv2d, WFLayer, WFLinear
from .methods.untrain import UntrainConfig
from .train import TrainConfig
from .wrap import WFModel, wrap

# The public API: build a backbone, ``wrap`` it; then ``wfnet.methods.untrain.untrain`` every class
# in one round, score it with ``wfnet.evaluation.metrics``, or run a whole Table-1 column with
# ``wfnet.experiments.reproduce``. The folders follow the roles: ``layers`` and ``wrap`` (the WF
# model), ``methods`` (the registry of unlearning methods), ``evaluation`` (the paper's metrics and
# more), ``experiments`` (protocols and result files), ``report`` (the book), ``data``.

__version__ = "0.1.0"

__all__ = [
    "BACKBONES", "BackboneSpec", "CheckpointError", "DatasetNotFoundError", "TrainConfig",
    "UntrainConfig", "WFConv2d", "WFLayer", "WFLinear", "WFModel", "WFNetError",
    "create_backbone", "wrap",
]

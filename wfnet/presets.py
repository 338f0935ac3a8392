"""Experiment presets: the whole protocol of one Table-1 column in one readable place.

``paper`` follows the paper (full-width backbones, RT on 500 samples per epoch capped at 100
epochs, insertion/deletion in 10 steps); ``smoke`` runs every method at reduced size (1/8
width, few epochs, RT capped at 3) so that one dataset x backbone finishes on 2 CPU cores in
about ten minutes. Numbers from ``smoke`` show that the pipeline works, not the paper's claims.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from .baselines import FinetuneConfig
from .config import TrainConfig, UntrainConfig, train_defaults, untrain_defaults
from .registry import Registry
from .relearn import RelearnConfig

METHOD_VERSION = 1  # bump when a method's semantics change: cached results are then recomputed


@dataclass(frozen=True)
class Preset:
    name: str
    width: float                      # channel multiplier of every backbone
    train_epochs_small: int           # original + retrained models, MNIST-size data
    train_epochs_cifar: int           # original + retrained models, CIFAR-10 (conv nets)
    train_epochs_cifar_vit: int       # original + retrained models, CIFAR-10 (ViTs)
    untrain_epochs: int               # WF-Net untraining, upper bound (early stopping)
    random_labels: FinetuneConfig
    negative_gradients: FinetuneConfig
    relearn: RelearnConfig
    insdel_steps: int = 10            # points - 1 on the insertion/deletion curves
    top_k: int = 10                   # Figures 3-4: top-k gates per class

    def train_config(self, dataset: str, backbone: str, seed: int) -> TrainConfig:
        vit = backbone.startswith("vit")
        if dataset == "cifar10":
            epochs = self.train_epochs_cifar_vit if vit else self.train_epochs_cifar
        else:
            epochs = self.train_epochs_small
        return replace(train_defaults(backbone), epochs=epochs, seed=seed)

    def untrain_config(self, backbone: str, seed: int) -> UntrainConfig:
        return replace(untrain_defaults(backbone), epochs=self.untrain_epochs, seed=seed)

    def relearn_config(self, backbone: str, seed: int) -> RelearnConfig:
        if backbone.startswith("vit"):
            return replace(self.relearn, optimizer="adamw", lr=self.relearn.lr / 10, seed=seed)
        return replace(self.relearn, seed=seed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def key(self, dataset: str, backbone: str, seed: int) -> str:
        """Content key of everything a result depends on: the preset's fields *and* every config
        derived from them (so a changed default in ``wfnet.config`` invalidates the cache)."""
        blob = json.dumps({
            "preset": self.as_dict(), "dataset": dataset, "backbone": backbone, "seed": seed,
            "train": self.train_config(dataset, backbone, seed).as_dict(),
            "untrain": self.untrain_config(backbone, seed).as_dict(),
            "relearn": self.relearn_config(backbone, seed).as_dict(),
            "method_version": METHOD_VERSION,
        }, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


PRESETS: Registry[Preset] = Registry("preset")

PRESETS.register("smoke")(Preset(
    name="smoke", width=0.125, train_epochs_small=2, train_epochs_cifar=2, train_epochs_cifar_vit=2,
    untrain_epochs=2,
    random_labels=FinetuneConfig(epochs=1, lr=0.01),
    negative_gradients=FinetuneConfig(epochs=1, lr=0.001),
    relearn=RelearnConfig(max_epochs=3),
))

PRESETS.register("paper")(Preset(
    name="paper", width=1.0, train_epochs_small=15, train_epochs_cifar=60, train_epochs_cifar_vit=150,
    untrain_epochs=20,
    random_labels=FinetuneConfig(epochs=5, lr=0.01),
    negative_gradients=FinetuneConfig(epochs=1, lr=0.001),
    relearn=RelearnConfig(max_epochs=100),
))

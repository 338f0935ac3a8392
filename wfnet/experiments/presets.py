"""Experiment presets: the whole protocol of one Table-1 column in one readable place, and the
per-method keys that say which configs each result depends on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any

import torch

from ..errors import WFNetError
from ..evaluation.mia import MIAConfig
from ..evaluation.relearn import RelearnConfig
from ..io import content_key
from ..methods import METHODS
from ..methods.baselines import FinetuneConfig
from ..methods.untrain import UntrainConfig, untrain_defaults
from ..provenance import resolve_device
from ..registry import Registry
from ..runtime import check_precision, resolve_precision
from ..train import TrainConfig, train_defaults

# ``paper`` follows the paper where it is specific (full-width backbones, untraining at batch 128
# and lr 100, RT on 500 samples per epoch capped at 100 epochs, insertion/deletion in 10 steps).
# The paper does not say how the original and retrained models were trained: there ``paper`` uses
# a fast recipe per dataset and backbone (a larger batch, the learning rate scaled with it and
# warmed up; see ``RECIPES_PAPER`` and the README's recipe table for the accuracy and GPU seconds
# each was measured at). ``smoke`` runs every method at reduced size (1/8 width, few epochs, RT
# capped at 3) so that one dataset x backbone finishes on 2 CPU cores in minutes. Numbers from
# ``smoke`` show that the pipeline works, not the paper's claims.
#
# Result keys are per method (``Preset.key(..., method=m)``): a method's key covers exactly the
# configs its result depends on, so retuning a baseline never invalidates WF-Net's numbers. A
# single-class method's key also holds its own code version (``Method.version``), the membership
# attack its pieces were scored with (``mia``) and where its config came from (a baseline search
# of the cell, or the defaults: ``wfnet.experiments.baseline_search.resolve_preset`` fills
# ``searched`` and ``sources`` for one dataset x backbone).

METHOD_VERSION = 3  # bump when a method's semantics change: cached results are then recomputed
#   2: per-method keys; RT targets are the original's per-class test accuracy from its full-test logits
#   3: every single-class piece also holds its MIA-efficacy and SalUn's accuracies (the scorecard)


@dataclass(frozen=True)
class Recipe:
    """How an original (and each retrained) model is trained; None keeps the backbone's default
    (``wfnet.train.train_defaults``: SGD for conv nets, AdamW for ViTs)."""

    epochs: int
    batch_size: int | None = None     # images per step
    lr: float | None = None           # peak learning rate at that batch size
    warmup_epochs: float | None = None


def recipe_group(dataset: str, backbone: str) -> str:
    """Recipes are chosen per data size (28 px MNIST-like vs 32 px CIFAR-10) and backbone family."""
    data = "cifar" if dataset == "cifar10" else "small"
    return f"{data}/{'vit' if backbone.startswith('vit') else 'conv'}"


RECIPE_GROUPS = ("small/conv", "small/vit", "cifar/conv", "cifar/vit")


@dataclass(frozen=True)
class Preset:
    name: str
    width: float                      # channel multiplier of every backbone
    recipes: dict[str, Recipe]        # by ``recipe_group``: original + retrained models
    untrain_epochs: int               # WF-Net untraining, upper bound (early stopping)
    random_labels: FinetuneConfig
    negative_gradients: FinetuneConfig
    relearn: RelearnConfig
    insdel_steps: int = 10            # points - 1 on the insertion/deletion curves
    top_k: int = 10                   # Figures 3-4: top-k gates per class
    gpu_only: bool = False            # days on a CPU: refuse there unless asked explicitly
    precision: str = "auto"           # of every loop and evaluation: "auto", "fp32" or "bf16"
    mia: MIAConfig = field(default_factory=MIAConfig)  # the membership attack every unlearned model is scored with
    # one dataset x backbone (``resolve_preset``): method -> the config a baseline search chose
    # for it, and method -> where its config comes from ("search:<key of the search file>", or
    # the method's ``defaults``); empty in the registered presets
    searched: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [g for g in RECIPE_GROUPS if g not in self.recipes]
        if missing:
            raise WFNetError(f"preset {self.name!r} has no training recipe for {missing}")
        check_precision(self.precision, f"preset {self.name!r} precision")

    def on(self, device: torch.device) -> "Preset":
        """This preset with its precision resolved for ``device`` (what a run there computes, so
        what its keys say: a bf16 result never shares a key with its fp32 twin)."""
        return replace(self, precision=resolve_precision(self.precision, device))

    @property
    def resolved_precision(self) -> str:
        """The precision on this machine's default device (an "auto" preset's keys here)."""
        return resolve_precision(self.precision, resolve_device("auto"))

    def train_config(self, dataset: str, backbone: str, seed: int) -> TrainConfig:
        r = self.recipes[recipe_group(dataset, backbone)]
        changes = {k: v for k, v in asdict(r).items() if v is not None}
        return replace(train_defaults(backbone), seed=seed, precision=self.resolved_precision, **changes)

    def untrain_config(self, backbone: str, seed: int) -> UntrainConfig:
        return replace(untrain_defaults(backbone), epochs=self.untrain_epochs, seed=seed,
                       precision=self.resolved_precision)

    def relearn_config(self, backbone: str, seed: int) -> RelearnConfig:
        cfg = replace(self.relearn, seed=seed, precision=self.resolved_precision)
        return replace(cfg, optimizer="adamw", lr=cfg.lr / 10) if backbone.startswith("vit") else cfg

    def method_config(self, method: str, dataset: str, backbone: str, seed: int) -> Any:
        """What this preset gives a registered method (``wfnet.methods``): its provenance, and
        its key's ``key_field``; every loop in it at the preset's precision."""
        return with_precision(METHODS.get(method).config_for(self, dataset, backbone, seed), self.resolved_precision)

    def config_source(self, method: str) -> str:
        """Where ``method_config(method, ...)`` comes from: a search, or the method's defaults."""
        return self.sources.get(method) or METHODS.get(method).defaults

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def key(self, dataset: str, backbone: str, seed: int, method: str | None = None) -> str:
        """Content key of what a result depends on: the configs derived from this preset (so a
        changed default of a config invalidates it too). ``method=None``: everything."""
        return content_key(self.key_parts(dataset, backbone, seed, method))

    def key_parts(self, dataset: str, backbone: str, seed: int, method: str | None = None) -> dict[str, object]:
        base: dict[str, object] = {
            "dataset": dataset, "backbone": backbone, "seed": seed, "width": self.width,
            "train": self.train_config(dataset, backbone, seed).as_dict(), "method_version": METHOD_VERSION,
            "precision": self.resolved_precision}
        relearn = {"relearn": self.relearn_config(backbone, seed).as_dict()}
        if method is None:
            return {**base, "preset": self.as_dict(), "untrain": self.untrain_config(backbone, seed).as_dict(),
                    **relearn}
        if method == "original":
            return base
        if method == "wfnet":
            return {**base, **relearn, "untrain": self.untrain_config(backbone, seed).as_dict(),
                    "insdel_steps": self.insdel_steps, "top_k": self.top_k}
        m = METHODS.get(method)  # a single-class method: its pieces are scored by the attack too
        parts = {**base, **relearn, "method": method, "version": m.version, "mia": self.mia.as_dict()}
        if m.key_field is not None:
            parts[m.key_field] = _as_dict(self.method_config(method, dataset, backbone, seed))
            parts["config_source"] = self.config_source(method)
        return parts


def with_precision(cfg: Any, precision: str) -> Any:
    """``cfg`` (a config dataclass, possibly holding others, e.g. SalUn's fine-tuning) with every
    ``precision`` field set to ``precision``; anything else as it is."""
    if not is_dataclass(cfg) or isinstance(cfg, type):
        return cfg
    changes = {f.name: precision if f.name == "precision" else with_precision(getattr(cfg, f.name), precision)
               for f in fields(cfg) if f.name == "precision" or is_dataclass(getattr(cfg, f.name))}
    return replace(cfg, **changes) if changes else cfg


def _as_dict(cfg: Any) -> Any:
    return cfg.as_dict() if hasattr(cfg, "as_dict") else cfg


PRESETS: Registry[Preset] = Registry("preset")

PRESETS.register("smoke")(Preset(
    name="smoke", width=0.125, recipes={g: Recipe(epochs=2) for g in RECIPE_GROUPS},
    untrain_epochs=2,
    random_labels=FinetuneConfig(epochs=1, lr=0.01),
    negative_gradients=FinetuneConfig(epochs=1, lr=0.001),
    relearn=RelearnConfig(max_epochs=3),
))

# The paper's models, trained fast: batch 512 with the learning rate scaled linearly from the
# batch-128 defaults (SGD 0.05 -> 0.2) and warmed up; ViTs keep AdamW at 1e-3 with a longer
# warmup. Epochs: see the README's recipe table for what each reached, on which GPU, in how long.
RECIPES_PAPER = {
    "small/conv": Recipe(epochs=15, batch_size=512, lr=0.2, warmup_epochs=1.0),
    "small/vit": Recipe(epochs=15, batch_size=512, lr=1e-3, warmup_epochs=1.0),
    "cifar/conv": Recipe(epochs=40, batch_size=512, lr=0.2, warmup_epochs=1.0),
    "cifar/vit": Recipe(epochs=80, batch_size=512, lr=1e-3, warmup_epochs=5.0),  # ViT-S fits a 9-min piece
}

PRESETS.register("paper")(Preset(
    name="paper", width=1.0, recipes=RECIPES_PAPER,
    untrain_epochs=20,
    random_labels=FinetuneConfig(epochs=5, lr=0.01),
    negative_gradients=FinetuneConfig(epochs=1, lr=0.001),
    relearn=RelearnConfig(max_epochs=100),
    gpu_only=True,
    precision="bf16",  # bf16 autocast, as every GPU run of this project has used (keys computed anywhere agree)
))

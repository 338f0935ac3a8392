"""Selective Synaptic Dampening (Foster, Schoepf, Brintrup, AAAI 2024), a training-free single-class
baseline beyond the paper: dampen the weights that matter far more to the forget class."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import MAX_BATCH, Checker
from ..data import BatchIterator, ImageDataset
from .baselines import class_index
from .registry import UnlearnRun, register_method

# Foster, Schoepf, Brintrup, "Fast Machine Unlearning Without Retraining Through Selective
# Synaptic Dampening", AAAI 2024 (arXiv 2308.07707), as the paper describes it:
#
# 1. Importance of each parameter: the diagonal of the Fisher information, estimated as the mean
#    over mini-batches of the squared gradient of the batch-mean cross-entropy, once on the whole
#    training set D ([]_D) and once on the forget set D_f ([]_Df).
# 2. A parameter is selected when it matters far more to the forget set: []_Df > alpha * []_D.
# 3. A selected parameter is dampened: theta <- beta * theta, beta = min(lambda * []_D / []_Df, 1).
#
# As the authors' released code runs it (if-loops/selective-synaptic-dampening, full-class
# forgetting): D is read unshuffled in the order they build it, class by class (every retained
# class in class order, then the forget class), so each batch of 64 holds (mostly) one class; the
# passes run in float32 in evaluation mode. The order matters: a batch that mixes classes averages
# their gradients before squaring, so opposite per-class gradients cancel, []_D shrinks, more
# weights pass the selection and dampening is stronger than at the same alpha and lambda
# (``tests/test_ssd.py`` shows it on a small model). D's order depends on the forget class, so
# []_D is one pass over D per class (a forward and backward of the training set, no step).
# Defaults are the authors' for full-class forgetting: lambda = 1, alpha = 10 (ResNet-18), halved
# for ViTs (alpha = 5), per their released experiment configuration.

Importances = dict[str, Tensor]


@dataclass(frozen=True)
class SSDConfig:
    alpha: float = 10.0        # selection: []_Df > alpha * []_D (authors: 10, ViT 5)
    dampening: float = 1.0     # lambda: beta = min(lambda * []_D / []_Df, 1) (authors: 1)
    batch_size: int = 64       # images per gradient of the importance estimate (authors: 64); 1 to 65,536

    def __post_init__(self) -> None:
        c = Checker("ssd")
        c.number("alpha", self.alpha, low=0.0, low_open=True)
        c.number("dampening", self.dampening, low=0.0, low_open=True)
        c.integer("batch_size", self.batch_size, 1, MAX_BATCH)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def for_backbone(cls, backbone: str) -> "SSDConfig":
        return cls(alpha=5.0) if backbone.startswith("vit") else cls()


def full_index(labels: Tensor, cls: int, within: Tensor | None = None) -> Tensor:
    """D in the authors' order: every retained class in class order (each in dataset order), then
    the forget class ``cls``; only samples in ``within`` when given."""
    labels = labels.cpu()
    pool = torch.arange(len(labels)) if within is None else within.cpu()
    classes = [c for c in sorted(set(labels[pool].tolist())) if c != cls]
    return torch.cat([class_index(labels, c, keep=True, within=pool) for c in [*classes, cls]])


def importances(model: nn.Module, data: ImageDataset, index: Tensor, batch_size: int,
                device: torch.device) -> Importances:
    """Mean over mini-batches of ``index`` (in that order, unshuffled) of the squared gradient of
    the batch-mean cross-entropy, per parameter; float32 and eval mode (batch-norm statistics are
    read, never updated), as the authors compute it."""
    model = model.to(device).eval()
    params = {n: p for n, p in model.named_parameters()}
    total = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    batches = 0
    for x, y in BatchIterator(data.train, batch_size, data.mean, data.std, device, index=index):
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=False):  # float32 even inside a caller's autocast,
            loss = F.cross_entropy(model(x.float()).float(), y)  # forward and backward alike
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                total[n] += g.float().pow(2)
        batches += 1
    return {n: t / max(batches, 1) for n, t in total.items()}


@torch.no_grad()
def dampen(model: nn.Module, full: Importances, forget: Importances, cfg: SSDConfig) -> dict[str, int]:
    """Apply the selection and dampening rule in place; returns how many entries each parameter
    had dampened (for the record)."""
    changed = {}
    for name, p in model.named_parameters():
        d, f = full[name].to(p.device), forget[name].to(p.device)
        selected = f > cfg.alpha * d
        beta = (cfg.dampening * d / f.clamp_min(torch.finfo(f.dtype).tiny)).clamp(max=1.0)
        p.copy_(torch.where(selected, p * beta.to(p.dtype), p))
        changed[name] = int(selected.sum())
    return changed


def class_importances(model: nn.Module, data: ImageDataset, cls: int, batch_size: int, device: torch.device,
                      within: Tensor | None = None) -> tuple[Importances, Importances]:
    """([]_D, []_Df) for forgetting ``cls``: D in the authors' class-by-class order, D_f the
    forget class's samples (in dataset order); both depend on the batch size only, not on alpha
    or lambda, so a search over those reuses them."""
    labels = data.train.labels
    return (importances(model, data, full_index(labels, cls, within), batch_size, device),
            importances(model, data, class_index(labels, cls, keep=True, within=within), batch_size, device))


def ssd(original: nn.Module, data: ImageDataset, cls: int, cfg: SSDConfig, device: torch.device,
        within: Tensor | None = None, computed: tuple[Importances, Importances] | None = None) -> nn.Module:
    """A copy of ``original`` that forgot ``cls`` (training samples only from ``within`` when
    given); ``computed``: its ``class_importances``, when already at hand."""
    model = copy.deepcopy(original).to(device).eval()
    full, forget = computed or class_importances(model, data, cls, cfg.batch_size, device, within)
    dampen(model, full, forget, cfg)
    return model.eval()


@register_method("ssd", label="SSD †", kind="single_class", in_paper=False, order=60,
                 config=lambda p, dataset, backbone, seed: SSDConfig.for_backbone(backbone),
                 cite="Foster, Schoepf, Brintrup, AAAI 2024", version=2, defaults="authors' defaults")
def _ssd(run: UnlearnRun, cls: int, cfg: SSDConfig) -> nn.Module:
    return ssd(run.original_model(), run.data, cls, cfg, run.device)

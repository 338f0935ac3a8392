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
from ..runtime import autocast
from .baselines import class_index
from .registry import UnlearnRun, register_method

# Foster, Schoepf, Brintrup, "Fast Machine Unlearning Without Retraining Through Selective
# Synaptic Dampening", AAAI 2024 (arXiv 2308.07707), as the paper describes it:
#
# 1. Importance of each parameter: the diagonal of the Fisher information, estimated as the mean
#    over mini-batches of the squared gradient of the cross-entropy, once on the whole training
#    set D ([]_D) and once on the forget set D_f ([]_Df).
# 2. A parameter is selected when it matters far more to the forget set: []_Df > alpha * []_D.
# 3. A selected parameter is dampened: theta <- beta * theta, beta = min(lambda * []_D / []_Df, 1).
#
# No gradient step is taken: the cost is one pass over D (shared by every class) and one over D_f.
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


def importances(model: nn.Module, data: ImageDataset, index: Tensor, batch_size: int,
                device: torch.device) -> Importances:
    """Mean over mini-batches of the squared cross-entropy gradient, per parameter (eval mode:
    batch-norm statistics are read, never updated)."""
    model = model.to(device).eval()
    params = {n: p for n, p in model.named_parameters()}
    total = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    batches = 0
    for x, y in BatchIterator(data.train, batch_size, data.mean, data.std, device, index=index):
        model.zero_grad(set_to_none=True)
        with autocast(device, "fp32"):
            loss = F.cross_entropy(model(x).float(), y)
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


def ssd(original: nn.Module, data: ImageDataset, cls: int, cfg: SSDConfig, device: torch.device,
        full: Importances | None = None, within: Tensor | None = None) -> nn.Module:
    """A copy of ``original`` that forgot ``cls``; pass ``full`` ([]_D) to share it across classes."""
    model = copy.deepcopy(original).to(device).eval()
    pool = torch.arange(len(data.train)) if within is None else within.cpu()
    if full is None:
        full = importances(model, data, pool, cfg.batch_size, device)
    forget = importances(model, data, class_index(data.train.labels, cls, keep=True, within=within),
                         cfg.batch_size, device)
    dampen(model, full, forget, cfg)
    return model.eval()


@register_method("ssd", label="SSD †", kind="single_class", in_paper=False, order=60,
                 config=lambda p, dataset, backbone, seed: SSDConfig.for_backbone(backbone),
                 cite="Foster, Schoepf, Brintrup, AAAI 2024")
def _ssd(run: UnlearnRun, cls: int, cfg: SSDConfig) -> nn.Module:
    full = run.memo(("ssd importance", cfg.batch_size), lambda: importances(
        run.original_model(), run.data, torch.arange(len(run.data.train)), cfg.batch_size, run.device))
    return ssd(run.original_model(), run.data, cls, cfg, run.device, full=full)

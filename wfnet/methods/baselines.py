"""The paper's comparison methods (section "Experimental Results"): retrained, random labels and
negative gradients, each a single-class method run once per class from the original."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import MAX_BATCH, MAX_EPOCHS, Checker
from ..data import BatchIterator, ImageDataset
from ..runtime import autocast, seed_everything
from ..train import TrainConfig, train_model
from .registry import UnlearnRun, register_method

# - retrained: a model trained from scratch without the forget class, same recipe as the original.
# - random_labels (Hayase et al., 2020): fine-tune the original on the forget class with random
#   wrong labels, mixed with retain samples under their true labels.
# - negative_gradients (Golatkar et al., 2020): gradient ascent on the forget class.
#
# Each is a single-class method: it runs once per class, starting from the original each time.


@dataclass(frozen=True)
class FinetuneConfig:
    """A short fine-tuning of all weights, as the single-class baselines do."""

    epochs: int = 2                 # passes over the forget-class samples, 1 to 10,000
    batch_size: int = 64            # images per step, 1 to 65,536
    lr: float = 0.01                # SGD learning rate (momentum 0.9)
    retain_ratio: float = 1.0       # random_labels: retain samples per forget sample, 0 to 64
    clip_grad_norm: float | None = 5.0  # max L2 norm of the weight gradient per step
    precision: str = "auto"         # "auto" (bf16 where the hardware has it), "fp32" or "bf16"
    seed: int = 0

    def __post_init__(self) -> None:
        c = Checker("finetune")
        c.integer("epochs", self.epochs, 1, MAX_EPOCHS)
        c.integer("batch_size", self.batch_size, 1, MAX_BATCH)
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.number("retain_ratio", self.retain_ratio, low=0.0, high=64.0)
        c.number("clip_grad_norm", self.clip_grad_norm, low=0.0, low_open=True, optional=True)
        c.seed(self.seed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def class_index(labels: Tensor, cls: int, keep: bool, within: Tensor | None = None) -> Tensor:
    """Indices of the samples of ``cls`` (keep=True) or of every other class (keep=False),
    optionally only among ``within`` (e.g. the fit part of a train/validation split)."""
    labels = labels.cpu()
    pool = torch.arange(len(labels)) if within is None else within.cpu()
    mask = labels[pool] == cls
    return pool[mask if keep else ~mask]


def retrain_without(backbone_factory, data: ImageDataset, cls: int, cfg: TrainConfig,
                    device: torch.device, progress: bool = False) -> nn.Module:
    """The gold standard: train from scratch on every class but ``cls``."""
    seed_everything(cfg.seed)
    model = backbone_factory()
    return train_model(model, data, cfg, device, class_index(data.train.labels, cls, keep=False),
                       progress=progress, desc=f"retrain -{cls}").model


def _finetune(model: nn.Module, batches: BatchIterator, cfg: "FinetuneConfig", loss_fn,
              device: torch.device, train_mode: bool, stop=None) -> nn.Module:
    """SGD over ``batches`` for ``cfg.epochs``; stops early when ``stop(logits, y)`` says the
    class is forgotten, and never applies a non-finite step (gradient ascent diverges)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    model.train(train_mode)
    for _ in range(cfg.epochs):
        for x, y in batches:
            with autocast(device, cfg.precision):
                logits = model(x)
                loss = loss_fn(logits, y)
            if not torch.isfinite(loss) or (stop is not None and stop(logits, y)):
                return model.eval()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            opt.step()
    return model.eval()


def random_labels(original: nn.Module, data: ImageDataset, cls: int, cfg: FinetuneConfig,
                  device: torch.device, within: Tensor | None = None) -> nn.Module:
    """Forget samples get a random wrong label each step; retain samples keep theirs
    (training samples only from ``within`` when given)."""
    gen = seed_everything(cfg.seed)
    model = copy.deepcopy(original).to(device)
    labels = data.train.labels.cpu()
    forget = class_index(labels, cls, keep=True, within=within)
    retain = class_index(labels, cls, keep=False, within=within)
    n_retain = min(len(retain), int(round(cfg.retain_ratio * len(forget))))
    retain = retain[torch.randperm(len(retain), generator=gen)[:n_retain]]
    index = torch.cat([forget, retain])
    batches = BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device, shuffle=True,
                            augment=data.augment, generator=gen, index=index)
    nc = data.num_classes

    def loss_fn(logits: Tensor, y: Tensor) -> Tensor:
        is_f = y == cls
        wrong = (y + torch.randint(1, nc, y.shape, generator=gen).to(y.device, non_blocking=True)) % nc
        return F.cross_entropy(logits, torch.where(is_f, wrong, y))

    return _finetune(model, batches, cfg, loss_fn, device, train_mode=True)


def negative_gradients(original: nn.Module, data: ImageDataset, cls: int, cfg: FinetuneConfig,
                       device: torch.device, within: Tensor | None = None) -> nn.Module:
    """Gradient ascent on the forget class (batch norm frozen: only forget samples are seen).

    Ascent has no minimum: it stops at the first batch of the forget class that the model no
    longer gets right at all, before the weights run away (the usual practice)."""
    gen = seed_everything(cfg.seed)
    model = copy.deepcopy(original).to(device)
    forget = class_index(data.train.labels, cls, keep=True, within=within)
    batches = BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device, shuffle=True,
                            augment=data.augment, generator=gen, index=forget)
    return _finetune(model, batches, cfg, lambda logits, y: -F.cross_entropy(logits.float(), y), device,
                     train_mode=False, stop=lambda logits, y: bool((logits.argmax(1) != y).all()))


# -- registered in the method table (``wfnet.methods.registry``) ----------------------------------

@register_method("retrained", label="Retrained Model", kind="single_class", in_paper=True, order=10,
                 config=lambda p, dataset, backbone, seed: p.train_config(dataset, backbone, seed),
                 key_field=None, cite="the gold standard: trained from scratch without the class")
def _retrained(run: UnlearnRun, cls: int, cfg: TrainConfig) -> nn.Module:
    return retrain_without(run.factory, run.data, cls, cfg, run.device)


@register_method("random_labels", label="Random Labels †", kind="single_class", in_paper=True, order=20,
                 config=lambda p, dataset, backbone, seed: p.random_labels, key_field="finetune",
                 cite="Hayase et al., 2020")
def _random_labels(run: UnlearnRun, cls: int, cfg: FinetuneConfig) -> nn.Module:
    return random_labels(run.original_model(), run.data, cls, cfg, run.device)


@register_method("negative_gradients", label="Negative Gradients †", kind="single_class", in_paper=True, order=30,
                 config=lambda p, dataset, backbone, seed: p.negative_gradients, key_field="finetune",
                 cite="Golatkar et al., 2020")
def _negative_gradients(run: UnlearnRun, cls: int, cfg: FinetuneConfig) -> nn.Module:
    return negative_gradients(run.original_model(), run.data, cls, cfg, run.device)

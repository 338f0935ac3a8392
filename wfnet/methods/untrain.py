"""WF-Net's single-round untraining of every class at once (paper, "Label expansion" and
Algorithm 1): its config with the named choices, and the loop that trains only alpha."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..config import MAX_BATCH, MAX_CHI, MAX_EPOCHS, Checker
from ..data import BatchIterator, ImageDataset, stratified_split
from ..errors import WFNetError
from ..runtime import PRECISIONS, autocast, seed_everything
from ..wrap import WFModel
from .loss import FORGET_TERMS, REGULARIZERS, LossParts, wf_loss
from .registry import Method, register

CLIP_SCOPES = ("global", "per_row")


def check_clip_scope(scope: str) -> str:
    """A clip scope's name, checked (a config refuses an unknown one before any step)."""
    if scope not in CLIP_SCOPES:
        raise WFNetError(f"unknown clip_scope {scope!r}; expected one of {list(CLIP_SCOPES)}")
    return scope


@dataclass(frozen=True)
class UntrainConfig:
    """WF-Net untraining (paper, "Training" and "Implementation and Training Details")."""

    epochs: int = 20                  # upper bound (1 to 10,000); early stopping usually ends sooner
    batch_size: int = 128             # B: half forgets, half retains (paper: 128); 2 to 65,536
    lr: float = 100.0                 # the paper's fixed (un)learning rate
    optimizer: str = "sgd"            # plain SGD, as in the paper
    lambda0: float = 1.0              # weight of the retain cross-entropy
    lambda1: float = 10.0             # weight of the reciprocal forget loss (paper: 100 for ViTs)
    lambda2: float = 1.0              # weight of R(alpha)
    chi: int = 3                      # label expansion: copies of the retain half, 1 to 64
    alpha_init: float = 3.0           # sigmoid(3) = 0.95
    forget_term: str = "class_mean_reciprocal_capped"  # see wfnet.methods.loss.FORGET_TERMS
    ce_floor: float = 1e-4            # CE below this counts as this in 1/CE (no division by ~0)
    ce_cap: float = 4.0               # capped forget term: CE above this earns nothing (chance: ln N_c)
    regularizer: str = "l1_closed"    # see wfnet.methods.loss.REGULARIZERS
    clip_grad_norm: float | None = 0.1  # max L2 norm of each class row's alpha gradient per step
                                        # (x lr 100: a row moves at most 10 per step); None = off
    clip_scope: str = "per_row"       # "per_row": one norm per class row; "global": one over all
    alpha_bound: float | None = 6.0   # clamp alpha to [-b, b] after each step: a closed gate can reopen
    patience: int = 10                # early stopping, in validation evaluations (1 to 10,000)
    evals_per_epoch: int = 5          # validation-loss evaluations per epoch (1 to 1,000)
    val_fraction: float = 0.1         # share of the training set held out for early stopping
    max_val_batches: int = 4          # validation loss is estimated on this many batches (1 to 10,000)
    set_prob: float = 0.0             # beyond the paper: share of samples that see a random class set
                                      # (product of its rows' gates) instead of one row; 0 = the paper
    set_max_size: int = 3             # the largest such set (2 to 64)
    precision: str = "auto"           # "auto" (bf16 where the hardware has it), "fp32" or "bf16"
    seed: int = 0

    def __post_init__(self) -> None:
        c = Checker("untrain")
        c.integer("epochs", self.epochs, 1, MAX_EPOCHS)
        c.integer("batch_size", self.batch_size, 2, MAX_BATCH)  # half forgets, half retains
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.choice("optimizer", self.optimizer, ("sgd", "adam"))
        for name in ("lambda0", "lambda1", "lambda2"):
            c.number(name, getattr(self, name), low=0.0)
        c.integer("chi", self.chi, 1, MAX_CHI)
        c.number("alpha_init", self.alpha_init)
        c.number("ce_floor", self.ce_floor, low=0.0, low_open=True)
        c.number("ce_cap", self.ce_cap, low=0.0, low_open=True)
        if self.ce_cap <= self.ce_floor:
            raise WFNetError(f"untrain ce_cap ({self.ce_cap!r}) must be above ce_floor ({self.ce_floor!r})")
        c.number("clip_grad_norm", self.clip_grad_norm, low=0.0, low_open=True, optional=True)
        c.number("alpha_bound", self.alpha_bound, low=0.0, low_open=True, optional=True)
        c.integer("patience", self.patience, 1, 10_000)
        c.integer("evals_per_epoch", self.evals_per_epoch, 1, 1_000)
        c.number("val_fraction", self.val_fraction, low=0.0, low_open=True, high=0.5)
        c.integer("max_val_batches", self.max_val_batches, 1, 10_000)
        c.number("set_prob", self.set_prob, low=0.0, high=1.0)
        c.integer("set_max_size", self.set_max_size, 2, 64)
        c.choice("precision", self.precision, PRECISIONS)
        c.seed(self.seed)
        c.text("forget_term", self.forget_term)
        c.text("regularizer", self.regularizer)
        c.text("clip_scope", self.clip_scope)
        FORGET_TERMS.get(self.forget_term)
        REGULARIZERS.get(self.regularizer)
        check_clip_scope(self.clip_scope)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def untrain_defaults(backbone: str) -> UntrainConfig:
    """The paper's lambda1 per family: 100 for the ViTs, whose gates need a stronger push."""
    return UntrainConfig(lambda1=100.0) if backbone.startswith("vit") else UntrainConfig()


@dataclass
class UntrainResult:
    model: WFModel
    best_val_loss: float
    steps: int
    epochs_run: float
    stopped: str  # "early_stopping", "max_epochs" or "non_finite"
    wall_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def make_alpha_optimizer(model: WFModel, cfg: UntrainConfig) -> torch.optim.Optimizer:
    params = model.alphas()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    raise WFNetError(f"unknown untraining optimizer {cfg.optimizer!r}; expected sgd or adam")


@torch.no_grad()
def validation_loss(model: WFModel, batches: BatchIterator, cfg: UntrainConfig, device: torch.device) -> float:
    """The same objective on held-out batches, with a fixed draw of expansion rows."""
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    total, n = 0.0, 0
    for i, (x, y) in enumerate(batches):
        if i >= cfg.max_val_batches:
            break
        with autocast(device, cfg.precision):
            total += float(wf_loss(model, x, y, cfg, gen).total)
        n += 1
    return total / max(n, 1)


def clip_alpha_grads(alphas: list[Tensor], max_norm: float, scope: str) -> None:
    """Clip the alpha gradient in place.

    ``per_row`` clips each class row (across all layers) on its own: the rows are separate
    unlearning problems sharing a batch, and one global norm hands the whole step to the row whose
    1/CE gradient is largest (the class the model fits best), which then overshoots.
    """
    if check_clip_scope(scope) == "global":
        torch.nn.utils.clip_grad_norm_(alphas, max_norm)
        return
    grads = [a.grad for a in alphas if a.grad is not None]
    if not grads:
        return
    row_norms = torch.stack([g.float().pow(2).sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (row_norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.to(g.dtype).unsqueeze(1))


def _finite(model: WFModel) -> bool:
    return all(bool(torch.isfinite(a).all()) for a in model.alphas())


def check_untrainable(model: WFModel, data: ImageDataset, cfg: UntrainConfig, labels: Tensor) -> None:
    """What must hold before the first step (names, batch, every row has samples to forget)."""
    if cfg.batch_size < 2:
        raise WFNetError("untraining needs batch_size >= 2 (half forgets, half retains)")
    FORGET_TERMS.get(cfg.forget_term)  # a bad name fails before any step
    REGULARIZERS.get(cfg.regularizer)
    check_clip_scope(cfg.clip_scope)
    if model.num_classes != data.num_classes:
        raise WFNetError(f"the WF model has {model.num_classes} rows but {data.name} has {data.num_classes} classes")
    counts = torch.bincount(labels.cpu(), minlength=data.num_classes)
    if (counts < 2).any():
        empty = [data.classes[c] for c in torch.nonzero(counts < 2).flatten().tolist()]
        raise WFNetError(f"classes {empty} have fewer than 2 training samples: every row needs samples to forget")


def split_batches(data: ImageDataset, cfg: UntrainConfig, device: torch.device, gen: torch.Generator,
                  train_index: Tensor | None) -> tuple[BatchIterator, BatchIterator]:
    """(training, validation) batches: ``val_fraction`` of every class held out for early stopping."""
    labels = data.train.labels if train_index is None else data.train.labels[train_index]
    fit_local, val_local = stratified_split(labels.cpu(), cfg.val_fraction, cfg.seed)
    base = torch.arange(len(data.train)) if train_index is None else train_index.cpu()
    train = BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device, shuffle=True, augment=data.augment,
                          drop_last=True, generator=gen, index=base[fit_local])
    return train, BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device, index=base[val_local])


@dataclass
class EarlyStopping:
    """Keeps the alpha of the best validation loss; says when to stop (patience, non-finite)."""

    best: float
    best_alpha: dict[str, Tensor]
    patience: int
    stale: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def update(self, model: WFModel, step: int, val: float, parts: LossParts, train_loss: float) -> str | None:
        """Record one evaluation; the reason to stop now, or None."""
        self.history.append({"step": step, "val_loss": val, "train_loss": train_loss, "retain": float(parts.retain),
                             "forget": float(parts.forget), "reg": float(parts.reg)})
        if math.isfinite(val) and val < self.best:
            self.best, self.best_alpha, self.stale = val, model.alpha_state_dict(), 0
            return None
        self.stale += 1
        return "early_stopping" if self.stale >= self.patience else None


def step_alpha(model: WFModel, opt: torch.optim.Optimizer, x: Tensor, y: Tensor, cfg: UntrainConfig,
               gen: torch.Generator, device: torch.device) -> LossParts:
    """One step of Eq. 3 on alpha: loss, clipped gradient, SGD, then the bound."""
    with autocast(device, cfg.precision):
        parts = wf_loss(model, x, y, cfg, gen)
    opt.zero_grad(set_to_none=True)
    parts.total.backward()
    if cfg.clip_grad_norm is not None:
        clip_alpha_grads(model.alphas(), cfg.clip_grad_norm, cfg.clip_scope)
    opt.step()
    if cfg.alpha_bound is not None:
        with torch.no_grad():
            for a in model.alphas():
                a.clamp_(-cfg.alpha_bound, cfg.alpha_bound)
    return parts


def untrain(
    model: WFModel, data: ImageDataset, cfg: UntrainConfig, device: torch.device,
    train_index: Tensor | None = None, progress: bool = True,
) -> UntrainResult:
    """Train the alpha matrices of ``model`` so that row c forgets class c, for every c.

    Only alpha trains, by SGD on a gradient clipped per class row (``clip_alpha_grads``). The
    validation loss is evaluated ``evals_per_epoch`` times per epoch; the best alpha is kept, and
    training stops after ``patience`` evaluations without improvement, or at once (keeping the
    best alpha) if the loss or any gate becomes non-finite."""
    check_untrainable(model, data, cfg, data.train.labels if train_index is None else data.train.labels[train_index])
    gen = seed_everything(cfg.seed)
    model.to(device).to(memory_format=torch.channels_last)
    with torch.no_grad():
        for a in model.alphas():
            a.fill_(cfg.alpha_init)
    train_batches, val_batches = split_batches(data, cfg, device, gen, train_index)
    steps_per_epoch = max(1, len(train_batches))
    eval_every = max(1, steps_per_epoch // cfg.evals_per_epoch)
    opt = make_alpha_optimizer(model, cfg)
    first = validation_loss(model, val_batches, cfg, device)
    stopper = EarlyStopping(first, model.alpha_state_dict(), cfg.patience, history=[{"step": 0, "val_loss": first}])
    step, stopped = 0, None
    start = time.perf_counter()
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc="untrain", disable=not progress, leave=False)
    model.train()
    for _ in range(cfg.epochs):
        for x, y in train_batches:
            parts = step_alpha(model, opt, x, y, cfg, gen, device)
            step += 1
            bar.update(1)
            if step % eval_every:
                continue
            train_loss = float(parts.total.detach())  # a host sync, only at evaluations
            if not (math.isfinite(train_loss) and _finite(model)):
                stopped = "non_finite"
                break
            stopped = stopper.update(model, step, validation_loss(model, val_batches, cfg, device), parts, train_loss)
            bar.set_postfix(val=f"{stopper.history[-1]['val_loss']:.3f}", best=f"{stopper.best:.3f}")
            if stopped:
                break
        if stopped:
            break
    bar.close()
    model.load_alpha_state_dict(stopper.best_alpha)
    model.eval()
    return UntrainResult(model, stopper.best, step, step / steps_per_epoch, stopped or "max_epochs",
                         time.perf_counter() - start, stopper.history)


register(Method("wfnet", "WF-Net", "one_round", in_paper=True, order=40,
                config=lambda p, dataset, backbone, seed: p.untrain_config(backbone, seed), key_field=None,
                cite="Poppi et al., IEEE Intelligent Systems 2024"))

"""Training an original model (and each retrained one): its config and one loop for every
backbone, CPU or GPU."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .config import MAX_BATCH, MAX_EPOCHS, Checker
from .data import BatchIterator, ImageDataset
from .errors import WFNetError
from .runtime import PRECISIONS, accuracy, autocast, seed_everything, use_fast_kernels


@dataclass(frozen=True)
class TrainConfig:
    """Training an original model from scratch (and the retrained baseline)."""

    epochs: int = 30                  # passes over the training set, 1 to 10,000
    batch_size: int = 128             # images per step, 2 to 65,536 (and at most the training set)
    optimizer: str = "sgd"            # "sgd" (conv nets) or "adamw" (ViTs)
    lr: float = 0.05                  # peak learning rate, reached after warmup
    momentum: float = 0.9             # SGD only (Nesterov)
    weight_decay: float = 5e-4        # decoupled for AdamW, L2 for SGD
    warmup_epochs: float = 0.5        # linear warmup, then cosine to zero (0 to 10,000)
    label_smoothing: float = 0.0      # cross-entropy smoothing
    seed: int = 0                     # init, shuffling, augmentation
    precision: str = "auto"           # "auto" (bf16 where the hardware has it), "fp32" or "bf16"
    compile: bool = False             # torch.compile the model (CUDA only)

    def __post_init__(self) -> None:
        c = Checker("train")
        c.integer("epochs", self.epochs, 1, MAX_EPOCHS)
        c.integer("batch_size", self.batch_size, 2, MAX_BATCH)  # BatchNorm needs 2 samples per step
        c.choice("optimizer", self.optimizer, ("sgd", "adamw"))
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        c.number("weight_decay", self.weight_decay, low=0.0)
        c.number("warmup_epochs", self.warmup_epochs, low=0.0, high=MAX_EPOCHS)
        c.number("label_smoothing", self.label_smoothing, low=0.0, high=1.0, high_open=True)
        c.seed(self.seed)
        c.choice("precision", self.precision, PRECISIONS)
        c.boolean("compile", self.compile)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_defaults(backbone: str) -> TrainConfig:
    """SGD for the conv nets, AdamW for the ViTs (which SGD trains poorly from scratch)."""
    if backbone.startswith("vit"):
        return TrainConfig(optimizer="adamw", lr=1e-3, weight_decay=0.05, warmup_epochs=1.0)
    return TrainConfig()


def scaled_batch(cfg: TrainConfig, batch_size: int | None) -> TrainConfig:
    """A larger (or smaller) batch with the learning rate scaled linearly (Goyal et al., 2017),
    the warmup kept in epochs: what makes a big-batch GPU recipe train like the default."""
    if batch_size is None or batch_size == cfg.batch_size:
        return cfg
    return replace(cfg, batch_size=batch_size, lr=cfg.lr * batch_size / cfg.batch_size)


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device | None = None) -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW; on a GPU the fused kernels (one launch for every parameter)."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if device is not None and device.type == "cuda" else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                               weight_decay=cfg.weight_decay, **fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
    raise WFNetError(f"unknown optimizer {cfg.optimizer!r}; expected sgd or adamw")


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    model: nn.Module
    test_acc: float  # percent
    wall_seconds: float
    images_per_second: float


def train_model(
    model: nn.Module, data: ImageDataset, cfg: TrainConfig, device: torch.device,
    train_index: Tensor | None = None, progress: bool = True, desc: str = "train",
) -> TrainResult:
    """Train ``model`` on ``data.train`` (optionally a subset), report test accuracy.

    The step loop never waits on the GPU: batches are drawn without host round trips
    (``BatchIterator``) and the loss is read back once per epoch, for the progress bar."""
    gen = seed_everything(cfg.seed)
    use_fast_kernels(device)
    model.to(device).to(memory_format=torch.channels_last)
    batches = BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device, shuffle=True,
                            augment=data.augment, drop_last=True, generator=gen, index=train_index)
    if len(batches) == 0:
        batches.drop_last = False
    step_model = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    opt = make_optimizer(model, cfg, device)
    total = cfg.epochs * len(batches)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, total, int(cfg.warmup_epochs * len(batches))))
    start, seen = time.perf_counter(), 0
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    for _ in range(cfg.epochs):
        model.train()
        for x, y in batches:
            with autocast(device, cfg.precision):
                loss = F.cross_entropy(step_model(x), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += x.shape[0]
            bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    wall = time.perf_counter() - start
    model.eval()
    acc = accuracy(model, data.test, data, device, cfg.precision)
    return TrainResult(model, acc, wall, seen / max(wall, 1e-9))

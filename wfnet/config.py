"""Every hyper-parameter in one place, with units. Experiments override fields, never globals.

A config is checked when it is made (``__post_init__``, which ``dataclasses.replace`` and
``override`` run too): a value of the wrong type or out of range (a NaN learning rate, zero
epochs, a validation share of 99%) is a ``WFNetError`` naming the field and the value, raised
before any data is loaded or any model trained, never a traceback or a meaningless run later.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterable, Sequence

from .errors import WFNetError


@dataclass(frozen=True)
class TrainConfig:
    """Training an original model from scratch (and the retrained baseline)."""

    epochs: int = 30                  # passes over the training set
    batch_size: int = 128             # images per step
    optimizer: str = "sgd"            # "sgd" (conv nets) or "adamw" (ViTs)
    lr: float = 0.05                  # peak learning rate, reached after warmup
    momentum: float = 0.9             # SGD only (Nesterov)
    weight_decay: float = 5e-4        # decoupled for AdamW, L2 for SGD
    warmup_epochs: float = 0.5        # linear warmup, then cosine to zero
    label_smoothing: float = 0.0      # cross-entropy smoothing
    seed: int = 0                     # init, shuffling, augmentation
    amp: bool = True                  # bf16 autocast on CUDA (ignored on CPU)
    compile: bool = False             # torch.compile the model (CUDA only)

    def __post_init__(self) -> None:
        c = _Checker("train")
        c.integer("epochs", self.epochs, 1)
        c.integer("batch_size", self.batch_size, 2)  # BatchNorm needs 2 samples per step
        c.choice("optimizer", self.optimizer, ("sgd", "adamw"))
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        c.number("weight_decay", self.weight_decay, low=0.0)
        c.number("warmup_epochs", self.warmup_epochs, low=0.0)
        c.number("label_smoothing", self.label_smoothing, low=0.0, high=1.0, high_open=True)
        c.seed(self.seed)
        c.boolean("amp", self.amp)
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


@dataclass(frozen=True)
class UntrainConfig:
    """WF-Net untraining (paper, "Training" and "Implementation and Training Details")."""

    epochs: int = 20                  # upper bound; early stopping usually ends sooner
    batch_size: int = 128             # B: half forgets, half retains (paper: 128)
    lr: float = 100.0                 # the paper's fixed (un)learning rate
    optimizer: str = "sgd"            # plain SGD, as in the paper
    lambda0: float = 1.0              # weight of the retain cross-entropy
    lambda1: float = 10.0             # weight of the reciprocal forget loss (paper: 100 for ViTs)
    lambda2: float = 1.0              # weight of R(alpha)
    chi: int = 3                      # label expansion: copies of the retain half
    alpha_init: float = 3.0           # sigmoid(3) = 0.95
    forget_term: str = "class_mean_reciprocal_capped"  # see wfnet.methods.loss.FORGET_TERMS
    ce_floor: float = 1e-4            # CE below this counts as this in 1/CE (no division by ~0)
    ce_cap: float = 4.0               # capped forget term: CE above this earns nothing (chance: ln N_c)
    regularizer: str = "l1_closed"    # see wfnet.methods.loss.REGULARIZERS
    clip_grad_norm: float | None = 0.1  # max L2 norm of each class row's alpha gradient per step
                                        # (x lr 100: a row moves at most 10 per step); None = off
    clip_scope: str = "per_row"       # "per_row": one norm per class row; "global": one over all
    alpha_bound: float | None = 6.0   # clamp alpha to [-b, b] after each step: a closed gate can reopen
    patience: int = 10                # early stopping, in validation evaluations
    evals_per_epoch: int = 5          # validation-loss evaluations per epoch
    val_fraction: float = 0.1         # share of the training set held out for early stopping
    max_val_batches: int = 4          # validation loss is estimated on this many batches
    seed: int = 0

    def __post_init__(self) -> None:
        c = _Checker("untrain")
        c.integer("epochs", self.epochs, 1)
        c.integer("batch_size", self.batch_size, 2)  # half forgets, half retains
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.choice("optimizer", self.optimizer, ("sgd", "adam"))
        for name in ("lambda0", "lambda1", "lambda2"):
            c.number(name, getattr(self, name), low=0.0)
        c.integer("chi", self.chi, 1)
        c.number("alpha_init", self.alpha_init)
        c.number("ce_floor", self.ce_floor, low=0.0, low_open=True)
        c.number("ce_cap", self.ce_cap, low=0.0, low_open=True)
        if self.ce_cap <= self.ce_floor:
            raise WFNetError(f"untrain ce_cap ({self.ce_cap!r}) must be above ce_floor ({self.ce_floor!r})")
        c.number("clip_grad_norm", self.clip_grad_norm, low=0.0, low_open=True, optional=True)
        c.number("alpha_bound", self.alpha_bound, low=0.0, low_open=True, optional=True)
        c.integer("patience", self.patience, 1)
        c.integer("evals_per_epoch", self.evals_per_epoch, 1)
        c.number("val_fraction", self.val_fraction, low=0.0, low_open=True, high=0.5)
        c.integer("max_val_batches", self.max_val_batches, 1)
        c.seed(self.seed)
        c.text("forget_term", self.forget_term)
        c.text("regularizer", self.regularizer)
        c.text("clip_scope", self.clip_scope)
        from .methods.loss import FORGET_TERMS, REGULARIZERS  # here: loss imports this module
        from .methods.untrain import check_clip_scope

        FORGET_TERMS.get(self.forget_term)
        REGULARIZERS.get(self.regularizer)
        check_clip_scope(self.clip_scope)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Checker:
    """Type and range checks of one config's fields, each failure one line naming field and value."""

    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, name: str, expected: str, value: Any) -> None:
        raise WFNetError(f"{self.what} {name} must be {expected}, got {value!r}")

    def integer(self, name: str, value: Any, low: int) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            self.fail(name, f"an integer >= {low}", value)

    def seed(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**63:
            self.fail("seed", "an integer in [0, 2**63)", value)

    def boolean(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.fail(name, "true or false", value)

    def text(self, name: str, value: Any) -> None:
        if not isinstance(value, str):
            self.fail(name, "a name", value)

    def choice(self, name: str, value: Any, choices: Iterable[str]) -> None:
        choices = tuple(choices)
        if value not in choices:
            self.fail(name, f"one of {list(choices)}", value)

    def number(self, name: str, value: Any, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, optional: bool = False) -> None:
        if value is None and optional:
            return
        ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
              and (low is None or (value > low if low_open else value >= low))
              and (high is None or (value < high if high_open else value <= high)))
        if ok:
            return
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        rng = (" " + " and ".join(parts)) if parts else ""
        self.fail(name, f"a finite number{rng}" + (" or none" if optional else ""), value)


def untrain_defaults(backbone: str) -> UntrainConfig:
    return UntrainConfig(lambda1=100.0) if backbone.startswith("vit") else UntrainConfig()


def parse_assignments(cfg: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """``["clip_grad_norm=0.1", "alpha_bound=none"]`` -> typed changes for ``override``.

    Each value takes the type of the field's default (``none`` clears an optional field), so a
    command line can set any field of a config without one flag per field.
    """
    fields_by_name = {f.name: f for f in fields(cfg)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields_by_name:
            raise WFNetError(f"cannot set {pair!r}: expected KEY=VALUE with KEY one of {sorted(fields_by_name)}")
        changes[key] = _typed(key, text.strip(), getattr(cfg, key), fields_by_name[key].type)
    return changes


def _typed(key: str, text: str, default: Any, annotation: Any) -> Any:
    optional = "None" in str(annotation)
    if text.lower() == "none":
        if optional:
            return None
        raise WFNetError(f"{key} cannot be none")
    kind = type(default) if default is not None else float
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        raise WFNetError(f"{key} expects a {kind.__name__}, got {text!r}") from None


def override(cfg: Any, **changes: Any) -> Any:
    """A copy of a frozen config with the non-None changes applied."""
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})


__all__ = ["TrainConfig", "UntrainConfig", "override", "parse_assignments", "scaled_batch", "train_defaults",
           "untrain_defaults"]

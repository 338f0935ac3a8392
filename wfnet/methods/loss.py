"""The untraining objective: paper Eq. 3 with label expansion and a regulariser R(alpha), with the
forget terms and regularisers as named choices (the paper leaves R undefined)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from ..registry import Registry
from ..wrap import WFModel

# Reading guide (paper section "Training"):
# - ``split_batch``: a mini-batch of B is split in halves, the first forgets, the second retains.
# - ``expand_labels``: the retain half is replicated chi times, each copy paired with random rows
#   that differ from its labels (label expansion).
# - ``FORGET_TERMS``: lambda1 / L_f. Eq. 3 as printed (the mean of per-sample reciprocals 1 / CE_i,
#   offset by a floor so that no sample loses its gradient) and the reciprocal of the mean CE are
#   kept as options, but their gradient explodes on a well-fit model (CE ~ 1e-3); the default averages
#   lambda1 / clip(CE_c, floor, cap) over the classes present in the batch, so a class stops
#   pushing its gates once forgotten (see the README's ablation and the deviations page).
# - ``REGULARIZERS``: R(alpha), which the paper leaves undefined. Default "l1_closed": the mean of
#   1 - sigmoid(alpha), an L1 pull of every gate towards open, which keeps most gates open and lets
#   few close (sparsity), as the paper asks.


class LossConfig(Protocol):
    """What the objective reads from a config (``wfnet.methods.untrain.UntrainConfig`` has it all)."""

    lambda0: float
    lambda1: float
    lambda2: float
    chi: int
    forget_term: str
    ce_floor: float
    ce_cap: float
    regularizer: str
    set_prob: float
    set_max_size: int


ForgetTerm = Callable[[Tensor, Tensor, int, LossConfig], Tensor]
Regularizer = Callable[[list[Tensor]], Tensor]
FORGET_TERMS: Registry[ForgetTerm] = Registry("forget term")
REGULARIZERS: Registry[Regularizer] = Registry("regularizer")


@FORGET_TERMS.register("reciprocal_per_sample")
def reciprocal_per_sample(ce: Tensor, labels: Tensor, num_classes: int, cfg: LossConfig) -> Tensor:
    """The mean over the forget half of 1 / max(CE_i, floor): a sample below the floor gets no
    gradient (Eq. 3 as printed is ``reciprocal_per_sample_offset``)."""
    return (1.0 / ce.clamp_min(cfg.ce_floor)).mean()


@FORGET_TERMS.register("reciprocal_per_sample_offset")
def reciprocal_per_sample_offset(ce: Tensor, labels: Tensor, num_classes: int, cfg: LossConfig) -> Tensor:
    """Eq. 3 as written with a floor that keeps the gradient: the mean over the forget half of
    1 / (CE_i + floor). A clamp (``reciprocal_per_sample``) gives the samples the model fits best
    (CE_i below the floor) no gradient at all; with the offset their gradient is the largest,
    -1 / (CE_i + floor)^2, as Eq. 3 pushes them hardest."""
    return (1.0 / (ce + cfg.ce_floor)).mean()


@FORGET_TERMS.register("reciprocal_mean")
def reciprocal_mean(ce: Tensor, labels: Tensor, num_classes: int, cfg: LossConfig) -> Tensor:
    """1 / (mean CE of the forget half), floored: a smoother reading of Eq. 3 (one reciprocal)."""
    return 1.0 / ce.mean().clamp_min(cfg.ce_floor)


def _class_mean_ce(ce: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Mean CE of each class present in the batch."""
    sums = torch.zeros(num_classes, device=ce.device, dtype=ce.dtype).index_add_(0, labels, ce)
    counts = torch.bincount(labels, minlength=num_classes).to(ce.dtype)
    present = counts > 0
    return sums[present] / counts[present]


@FORGET_TERMS.register("class_mean_reciprocal")
def class_mean_reciprocal(ce: Tensor, labels: Tensor, num_classes: int, cfg: LossConfig) -> Tensor:
    """Mean over the classes present of 1 / max(CE_c, floor): each row is pushed on its own, so
    classes already forgotten (large CE_c, small 1/CE_c) stop dominating the gradient."""
    return (1.0 / _class_mean_ce(ce, labels, num_classes).clamp_min(cfg.ce_floor)).mean()


@FORGET_TERMS.register("class_mean_reciprocal_capped")
def class_mean_reciprocal_capped(ce: Tensor, labels: Tensor, num_classes: int, cfg: LossConfig) -> Tensor:
    """As ``class_mean_reciprocal``, but a class whose CE exceeds ``ce_cap`` (already forgotten:
    chance is ln N_c) earns nothing more, so its gates stop closing and retain can recover."""
    per_class = _class_mean_ce(ce, labels, num_classes).clamp(min=cfg.ce_floor, max=cfg.ce_cap)
    return (1.0 / per_class).mean()


@REGULARIZERS.register("l1_closed")
def l1_closed(alphas: list[Tensor]) -> Tensor:
    """Mean over layers of mean(1 - sigmoid(alpha)): open gates cost nothing, few close."""
    return torch.stack([(1.0 - torch.sigmoid(a)).mean() for a in alphas]).mean()


@REGULARIZERS.register("l2_closed")
def l2_closed(alphas: list[Tensor]) -> Tensor:
    """Mean over layers of mean((1 - sigmoid(alpha))^2): tolerates many half-closed gates."""
    return torch.stack([((1.0 - torch.sigmoid(a)) ** 2).mean() for a in alphas]).mean()


@REGULARIZERS.register("none")
def no_regularizer(alphas: list[Tensor]) -> Tensor:
    return alphas[0].new_zeros(())


def split_batch(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_forget, y_forget, x_retain, y_retain): first half forgets, second half retains."""
    half = x.shape[0] // 2
    return x[:half], y[:half], x[half:], y[half:]


def expand_labels(y: Tensor, num_classes: int, chi: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Rows for chi copies of the retain half: uniform over the classes other than each label.

    Returns (rows, targets), both of shape (chi * len(y),); rows[i] != targets[i] always.
    """
    if num_classes < 2:
        raise ValueError("label expansion needs at least two classes")
    targets = y.repeat(chi)
    shift = torch.randint(1, num_classes, (targets.shape[0],), generator=generator).to(y.device, non_blocking=True)
    return (targets + shift) % num_classes, targets


def widen_to_sets(rows: Tensor, labels: Tensor, num_classes: int, prob: float, max_size: int,
                  generator: torch.Generator | None = None) -> Tensor:
    """(B, N_c) 0/1 masks: each sample's row, and, with probability ``prob``, 1 to ``max_size - 1``
    more classes drawn uniformly from those that are neither its row nor its label.

    Set-aware untraining (beyond the paper): a forget sample (row = label) then learns to be
    forgotten by a random set that contains its class, a retain sample (row != label) to be kept
    by a random set that does not; the rows of a set combine as at inference (product of gates)."""
    b = rows.shape[0]
    mask = torch.zeros(b, num_classes)
    cpu_rows, cpu_labels = rows.cpu(), labels.cpu()
    mask[torch.arange(b), cpu_rows] = 1.0
    widen = torch.rand(b, generator=generator) < prob
    extra = torch.randint(1, max_size, (b,), generator=generator)  # 1 .. max_size - 1 more classes
    scores = torch.rand(b, num_classes, generator=generator)
    scores[torch.arange(b), cpu_rows] = -1.0
    scores[torch.arange(b), cpu_labels] = -1.0
    order = scores.argsort(1, descending=True)  # the excluded classes come last
    room = num_classes - 1 - (cpu_rows != cpu_labels).long()  # classes that may join the set
    take = torch.arange(num_classes)[None, :] < torch.minimum(extra, room)[:, None]
    mask.scatter_add_(1, order, (take & widen[:, None]).float())
    return mask.clamp_(max=1.0).to(rows.device, non_blocking=True)


@dataclass
class LossParts:
    total: Tensor
    retain: Tensor
    forget: Tensor
    reg: Tensor


def wf_loss(model: WFModel, x: Tensor, y: Tensor, cfg: LossConfig,
            generator: torch.Generator | None = None) -> LossParts:
    """lambda0 * L_r + lambda1 * forget_term(L_f) + lambda2 * R(alpha), one forward for all."""
    nc = model.num_classes
    xf, yf, xr, yr = split_batch(x, y)
    rows_r, targets_r = expand_labels(yr, nc, cfg.chi, generator)
    xs = torch.cat([xf, xr.repeat(cfg.chi, *([1] * (xr.ndim - 1)))])
    rows = torch.cat([yf, rows_r])
    if cfg.set_prob > 0:  # beyond the paper: some samples see a class set (``widen_to_sets``)
        rows = widen_to_sets(rows, torch.cat([yf, targets_r]), nc, cfg.set_prob, cfg.set_max_size, generator)
    logits = model.forward_rows(xs, rows).float()
    ce = F.cross_entropy(logits, torch.cat([yf, targets_r]), reduction="none")
    ce_f, ce_r = ce[: yf.shape[0]], ce[yf.shape[0]:]
    retain = ce_r.mean()
    forget = FORGET_TERMS.get(cfg.forget_term)(ce_f, yf, nc, cfg)
    reg = REGULARIZERS.get(cfg.regularizer)(model.alphas())
    total = cfg.lambda0 * retain + cfg.lambda1 * forget + cfg.lambda2 * reg
    return LossParts(total, retain.detach(), forget.detach(), reg.detach())

"""Membership inference "MIA-efficacy", the privacy metric of SalUn (Fan et al., ICLR 2024), and
SalUn's scorecard accuracies: how much a forget class still looks trained on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Checker
from ..data import ImageDataset
from ..io import finite_or_none
from ..runtime import predict

# Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
# Image Classification and Generation", ICLR 2024 (after Jia et al., NeurIPS 2023, and the
# confidence/entropy features of Song & Mittal, USENIX Security 2021):
#
# 1. members = retain-class TRAIN samples, non-members = TEST samples, balanced by subsampling;
# 2. a simple classifier learns member vs non-member from one output feature of the UNLEARNED
#    model (default: the softmax confidence of the true label);
# 3. applied to the forget-class TRAIN samples, MIA-efficacy is the fraction judged non-members:
#    1 = the forget samples look as if they were never trained on, 0 = clearly still members.
#
# Differences from SalUn's code, on purpose: the classifier is a logistic regression in torch (no
# scikit-learn dependency; SalUn uses an RBF SVC, which on one feature also learns a threshold
# region), and the non-members are the test samples of the *retained* classes only, so the attack
# is calibrated on classes the model still knows instead of learning "unknown class = non-member"
# from the forget class itself. A tie (probability exactly 0.5, e.g. a constant feature) counts
# as half a non-member. For class removal, MIA-efficacy mostly follows Acc_f: a forget sample the
# model misclassifies has a low true-label confidence, hence looks like a non-member.
#
# The attack is only meaningful when members and non-members differ, i.e. when the model overfits
# its training set (SalUn's models reach 100 % train accuracy). When its held-out accuracy is at
# chance, its weight is near zero and its sign, not the model, decides whether every forget
# sample is a "member" (0) or a "non-member" (1). Each result therefore carries the attack's
# accuracy and whether it beats chance (``MIAResult.informative``); summaries also give the mean
# over the classes where it does.

FEATURES = ("confidence", "entropy", "m_entropy")  # the attack features this module knows


@dataclass(frozen=True)
class MIAConfig:
    """The attack: which output features, how the classifier is fit."""

    features: tuple[str, ...] = FEATURES   # one attack per feature; the first is the headline
    holdout: float = 0.2                   # fraction of the balanced attack set kept to score the attack
    l2: float = 1e-3                       # ridge penalty on the logistic-regression weight
    max_iter: int = 100                    # LBFGS iterations (one feature: converges in a few); 1 to 100,000
    seed: int = 0                          # balanced subsampling and hold-out split
    min_z: float = 2.0                     # an attack counts as informative when its held-out
    #   accuracy exceeds 0.5 by min_z standard errors (binomial, sqrt(0.25 / held-out samples))

    def __post_init__(self) -> None:
        c = Checker("mia")
        if not self.features or any(f not in FEATURES for f in self.features):
            c.fail("features", f"some of {list(FEATURES)}", self.features)
        c.number("holdout", self.holdout, low=0.0, low_open=True, high=1.0, high_open=True)
        c.number("l2", self.l2, low=0.0)
        c.integer("max_iter", self.max_iter, 1, 100_000)
        c.seed(self.seed)
        c.number("min_z", self.min_z, low=0.0)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class MIAResult:
    efficacy: float          # fraction of forget samples judged non-members (higher = better forgotten)
    attack_accuracy: float   # balanced accuracy of the attack on held-out members / non-members
    n_attack: int            # members used to fit the attack (= non-members)
    n_target: int            # forget samples scored
    n_holdout: int = 0       # members held out to score the attack (= non-members)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def informative(self, min_z: float) -> bool:
        """Does the attack tell members from non-members better than chance? When it does not
        (a model that barely overfits), the sign of its near-zero weight decides on which side
        every forget sample falls, and efficacy flips between 0 and 1 at random."""
        if self.n_holdout < 1 or math.isnan(self.attack_accuracy):
            return False
        return self.attack_accuracy - 0.5 > min_z * math.sqrt(0.25 / (2 * self.n_holdout))


def mia_features(logits: Tensor, labels: Tensor) -> dict[str, Tensor]:
    """Per-sample confidence p_y, entropy, and Song & Mittal's modified entropy (float64)."""
    p = F.softmax(logits.double(), -1)
    logp = F.log_softmax(logits.double(), -1)
    y = labels.long().view(-1, 1)
    p_y = p.gather(1, y).squeeze(1)
    entropy = -(p * logp).sum(-1)
    # M-entropy: -(1 - p_y) log p_y - sum_{j != y} p_j log(1 - p_j); low for confident correct
    log1m = torch.log1p(-p.clamp(max=1 - 1e-12))
    others = (p * log1m).scatter(1, y, 0.0).sum(-1)
    m_entropy = -(1 - p_y) * logp.gather(1, y).squeeze(1) - others
    return {"confidence": p_y, "entropy": entropy, "m_entropy": m_entropy}


def _logistic(x: Tensor, y: Tensor, l2: float, max_iter: int) -> Callable[[Tensor], Tensor]:
    """Fit P(member | x) on standardised features; returns the probability function."""
    mean, std = x.mean(0), x.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant feature stays 0
    z = (x - mean) / std
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_, b_ = w.detach(), b.detach()
    return lambda q: torch.sigmoid(((q - mean) / std) @ w_ + b_)


def _non_member_rate(p_member: Tensor) -> float:
    """Hard decisions at 0.5, a tie counting half."""
    votes = torch.where(p_member < 0.5, 1.0, torch.where(p_member > 0.5, 0.0, 0.5))
    return float(votes.mean()) if votes.numel() else float("nan")


def mia_efficacy(members: Tensor, non_members: Tensor, targets: Tensor, cfg: MIAConfig) -> MIAResult:
    """The attack on precomputed features, shape (N,) or (N, F): balance, fit, score the targets."""
    as2d = lambda t: t.double().reshape(len(t), -1)  # noqa: E731
    members, non_members, targets = as2d(members), as2d(non_members), as2d(targets)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = min(len(members), len(non_members))
    if n < 2:
        return MIAResult(float("nan"), float("nan"), n, len(targets), 0)
    members = members[torch.randperm(len(members), generator=gen)[:n]]
    non_members = non_members[torch.randperm(len(non_members), generator=gen)[:n]]
    n_test = min(n - 1, int(math.floor(cfg.holdout * n)))
    fit_x = torch.cat([members[n_test:], non_members[n_test:]])
    fit_y = torch.cat([torch.ones(n - n_test), torch.zeros(n - n_test)]).double()
    prob = _logistic(fit_x, fit_y, cfg.l2, cfg.max_iter)
    if n_test:
        acc = 0.5 * ((1 - _non_member_rate(prob(members[:n_test]))) + _non_member_rate(prob(non_members[:n_test])))
    else:
        acc = float("nan")
    return MIAResult(_non_member_rate(prob(targets)), acc, n - n_test, len(targets), n_test)


def class_mia(train_logits: Tensor, test_logits: Tensor, data: ImageDataset, cls: int,
              cfg: MIAConfig) -> dict[str, MIAResult]:
    """MIA-efficacy of the model that forgot ``cls``, one attack per feature, from its logits on
    the whole train and test splits (members: train of other classes; non-members: test of other
    classes; targets: train of ``cls``)."""
    train_y, test_y = data.train.labels.cpu(), data.test.labels.cpu()
    f_train, f_test = mia_features(train_logits, train_y), mia_features(test_logits, test_y)
    forget, keep_test = train_y == cls, test_y != cls
    return {name: mia_efficacy(f_train[name][~forget], f_test[name][keep_test], f_train[name][forget], cfg)
            for name in cfg.features}


SCORECARD = ("ua", "ra", "ta", "mia")  # SalUn's metrics, each compared with the retrained model


def class_accuracies(train_logits: Tensor, test_logits: Tensor, data: ImageDataset, cls: int) -> dict[str, float]:
    """The accuracies of SalUn's scorecard (%) for the model that forgot ``cls``: UA, unlearning
    accuracy = 100 - accuracy on the forget class's *training* images; RA on the other classes'
    training images; TA on the other classes' test images (our Acc_r)."""
    train_y, test_y = data.train.labels.cpu(), data.test.labels.cpu()

    def acc(logits: Tensor, y: Tensor, mask: Tensor) -> float:
        return 100.0 * float((logits[mask].argmax(1) == y[mask]).float().mean()) if mask.any() else float("nan")

    return {"ua": 100.0 - acc(train_logits, train_y, train_y == cls), "ra": acc(train_logits, train_y, train_y != cls),
            "ta": acc(test_logits, test_y, test_y != cls)}


def model_scorecard(model: nn.Module, data: ImageDataset, cls: int, device: torch.device, cfg: MIAConfig,
                    **forward_kwargs: object) -> tuple[dict[str, "MIAResult"], dict[str, float]]:
    """MIA-efficacy and the scorecard accuracies of one unlearned model, from one pass of logits."""
    train_logits, test_logits = split_logits(model, data, device, **forward_kwargs)
    return (class_mia(train_logits, test_logits, data, cls, cfg),
            class_accuracies(train_logits, test_logits, data, cls))


def split_logits(model: nn.Module, data: ImageDataset, device: torch.device,
                 **forward_kwargs: object) -> tuple[Tensor, Tensor]:
    """A model's logits on the train and the test split (CPU)."""
    return (predict(model, data.train, data, device, **forward_kwargs),
            predict(model, data.test, data, device, **forward_kwargs))


def model_mia(model: nn.Module, data: ImageDataset, cls: int, device: torch.device, cfg: MIAConfig,
              **forward_kwargs: object) -> dict[str, MIAResult]:
    """MIA-efficacy of one model unlearned on ``cls`` (forward_kwargs: e.g. forget=cls)."""
    return class_mia(*split_logits(model, data, device, **forward_kwargs), data, cls, cfg)


def wf_mia(model: nn.Module, data: ImageDataset, device: torch.device, cfg: MIAConfig) -> list[dict[str, MIAResult]]:
    """WF-Net: one checkpoint, row c selected to forget class c."""
    return [model_mia(model, data, c, device, cfg, forget=c) for c in range(data.num_classes)]


def per_class_mia(models: Callable[[int], nn.Module], data: ImageDataset, device: torch.device,
                  cfg: MIAConfig) -> list[dict[str, MIAResult]]:
    """Single-class methods: ``models(c)`` is the model unlearned on class c (built on demand)."""
    return [model_mia(models(c), data, c, device, cfg) for c in range(data.num_classes)]


def summarize(per_class: list[dict[str, MIAResult]], cfg: MIAConfig) -> dict[str, object]:
    """Means over classes (headline feature first) plus the per-class rows, JSON-ready."""
    def mean(xs: list[float]) -> float | None:
        v = float(torch.tensor(xs, dtype=torch.float64).nanmean()) if xs else float("nan")
        return None if math.isnan(v) else v
    def stats(f: str) -> dict[str, object]:
        ok = [r[f] for r in per_class if r[f].informative(cfg.min_z)]
        return {"mia_efficacy": mean([r[f].efficacy for r in per_class]),
                "attack_accuracy": mean([r[f].attack_accuracy for r in per_class]),
                "informative_classes": len(ok),
                "mia_efficacy_informative": mean([r.efficacy for r in ok])}

    head = cfg.features[0]
    return {
        "feature": head, **stats(head),
        "by_feature": {f: stats(f) for f in cfg.features},
        "per_class": finite_or_none([{"cls": c, **{f: {**r[f].as_dict(), "informative": r[f].informative(cfg.min_z)}
                                                   for f in cfg.features}} for c, r in enumerate(per_class)]),
    }

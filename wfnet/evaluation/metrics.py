"""The paper's unlearning metrics (section "Evaluation Metrics"): Acc_r, Acc_f and ZRF, with
MIA-efficacy re-exported, so that every unlearning metric is found in one module."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import ImageDataset
from ..runtime import predict
from .mia import MIAConfig, MIAResult, class_mia, mia_efficacy, mia_features, model_mia, per_class_mia, wf_mia

# - Acc_r / Acc_f: for each class c, the model that forgot c is scored on the test samples of c
#   (forget accuracy) and on all other test samples (retain accuracy); means over classes.
# - ZRF (Eq. 4): 1 - mean Jensen-Shannon divergence between the unlearned model and a randomly
#   initialised copy on the forget samples. Natural-log JS, not divided by ln 2: that is what puts
#   an original MNIST model near the paper's 0.47-0.48. ZRF mostly tracks confidence against a
#   near-uniform random model; membership inference complements it.
# - MIA-efficacy (beyond the paper, SalUn's privacy metric): implemented in ``wfnet.evaluation.mia`` and
#   re-exported here, so that every unlearning metric is found in one module.

__all__ = [
    "ClassScores", "MIAConfig", "MIAResult", "UnlearningScores", "aggregate", "class_mia", "class_scores",
    "evaluate_original", "evaluate_wf", "js_divergence", "mia_efficacy",
    "mia_features", "model_mia", "per_class_mia", "percent", "random_reference", "scores_from_logits",
    "wf_mia", "zrf_score",
]


def js_divergence(p: Tensor, q: Tensor, eps: float = 1e-12) -> Tensor:
    """Per-row Jensen-Shannon divergence (natural log) between probability rows of p and q."""
    m = 0.5 * (p + q)
    kl_pm = (p * (torch.log(p + eps) - torch.log(m + eps))).sum(-1)
    kl_qm = (q * (torch.log(q + eps) - torch.log(m + eps))).sum(-1)
    return 0.5 * (kl_pm + kl_qm)


def zrf_score(logits: Tensor, random_logits: Tensor) -> float:
    """Eq. 4 on precomputed logits of the forget samples."""
    if logits.shape[0] == 0:
        return float("nan")
    js = js_divergence(F.softmax(logits.float(), -1), F.softmax(random_logits.float(), -1))
    return float(1.0 - js.mean())


@dataclass
class ClassScores:
    cls: int
    name: str
    acc_r: float  # percent
    acc_f: float  # percent
    zrf: float    # in [0, 1]


@dataclass
class UnlearningScores:
    acc_r: float
    acc_f: float
    zrf: float
    per_class: list[ClassScores]

    def as_dict(self) -> dict[str, object]:
        return {"acc_r": self.acc_r, "acc_f": self.acc_f, "zrf": self.zrf,
                "per_class": [asdict(c) for c in self.per_class]}


def percent(mask: Tensor) -> float:
    """Share of True in a boolean tensor, in percent; NaN when empty (no sample to score)."""
    return 100.0 * mask.float().mean().item() if mask.numel() else float("nan")


def class_scores(logits: Tensor, labels: Tensor, random_logits: Tensor, cls: int, name: str) -> ClassScores:
    """Scores of the model that forgot ``cls``, from its logits on the whole test set."""
    correct = logits.argmax(1) == labels
    is_c = labels == cls
    return ClassScores(cls, name, percent(correct[~is_c]), percent(correct[is_c]),
                       zrf_score(logits[is_c], random_logits[is_c]))


def aggregate(rows: list[ClassScores]) -> UnlearningScores:
    """Means over classes, as the paper reports them."""
    def mean(xs: list[float | None]) -> float:  # a class whose metric is undefined is skipped
        return float(torch.tensor([float("nan") if x is None else x for x in xs], dtype=torch.float64).nanmean())
    return UnlearningScores(mean([r.acc_r for r in rows]), mean([r.acc_f for r in rows]),
                            mean([r.zrf for r in rows]), rows)


def scores_from_logits(per_class_logits: Callable[[int], Tensor], labels: Tensor,
                       random_logits: Tensor, classes: tuple[str, ...]) -> UnlearningScores:
    """Acc_r, Acc_f, ZRF given, for each class c, the test logits of the model that forgot c."""
    return aggregate([class_scores(per_class_logits(c), labels, random_logits, c, name)
                      for c, name in enumerate(classes)])


def random_reference(model_factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """M*: the same architecture, randomly initialised with a fixed seed."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return model_factory().eval()


def evaluate_wf(model: nn.Module, data: ImageDataset, device: torch.device,
                random_model: nn.Module) -> UnlearningScores:
    """Scores of a WF model: row c is selected to forget class c."""
    labels = data.test.labels.cpu()
    rand = predict(random_model.to(device), data.test, data, device)
    return scores_from_logits(lambda c: predict(model, data.test, data, device, forget=c),
                              labels, rand, data.classes)


def evaluate_original(model: nn.Module, data: ImageDataset, device: torch.device,
                      random_model: nn.Module) -> UnlearningScores:
    """The original model forgets nothing: the same logits are scored for every class."""
    logits = predict(model, data.test, data, device)
    rand = predict(random_model.to(device), data.test, data, device)
    return scores_from_logits(lambda c: logits, data.test.labels.cpu(), rand, data.classes)

"""Forgetting a SET of classes with one WF checkpoint and no retraining (beyond the paper), measured
against the single-class numbers of the same checkpoint."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..data import ImageDataset
from ..io import content_key
from ..layers import COMBINES, check_combine
from ..runtime import predict
from ..wrap import WFModel

# The paper untrains every class in one round but only ever selects one row of alpha. A deletion
# request can name several classes at once; a WF model answers it by combining the rows of the
# classes in S into one gate per filter:
#
# - ``product``: prod_{c in S} sigmoid(alpha_c), what ``model(x, forget=S)`` does (a filter is
#   as closed as all rows together close it; gates only shrink as S grows);
# - ``min``: min_{c in S} sigmoid(alpha_c) = sigmoid(min_c alpha_c) (the sigmoid is monotone),
#   the most closed single row per filter: ``model(x, forget=S, combine="min")``.
#
# Nothing trained these combinations: each row was untrained to forget its class while the others
# are retained, so closing the union of filters may also hurt retained classes that share them.
# ``evaluate_multiforget`` measures that against the single-class numbers of the same checkpoint.


@dataclass(frozen=True)
class MultiForgetConfig:
    """Which sets are evaluated."""

    pairs: bool = True               # every pair of classes (45 for a 10-class dataset)
    n_triples: int = 100             # random triples, sampled without replacement (0: none)
    seed: int = 0                    # sampling of the triples
    combines: tuple[str, ...] = COMBINES
    forgotten_acc_f: float = 5.0     # a set counts as forgotten at Acc_f <= this (%) ...
    kept_acc_r: float = 85.0         # ... with Acc_r >= this (%) on the classes outside it

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def key(self) -> str:
        return content_key(self.as_dict())


def set_logits(model: WFModel, data: ImageDataset, classes: Sequence[int], combine: str,
               device: torch.device) -> Tensor:
    """Test logits of the model told to forget every class in ``classes`` at once."""
    return predict(model, data.test, data, device, forget=set(classes), combine=check_combine(combine))


def sample_sets(num_classes: int, size: int, n: int | None, seed: int) -> list[tuple[int, ...]]:
    """All ``size``-subsets when n is None or covers them, else a fixed-seed sample, sorted."""
    every = list(itertools.combinations(range(num_classes), size))
    if n is None or n >= len(every):
        return every
    gen = torch.Generator().manual_seed(seed)
    return sorted(every[i] for i in torch.randperm(len(every), generator=gen)[:n].tolist())


def _acc(logits: Tensor, labels: Tensor, mask: Tensor) -> float | None:
    return 100.0 * float((logits[mask].argmax(1) == labels[mask]).float().mean()) if mask.any() else None


def set_scores(logits: Tensor, labels: Tensor, classes: Sequence[int]) -> dict[str, Any]:
    """Accuracy (%) on the test samples of the forgotten set, on the rest, and per forgotten class."""
    in_s = torch.isin(labels, torch.tensor(list(classes)))
    return {"acc_f": _acc(logits, labels, in_s), "acc_r": _acc(logits, labels, ~in_s),
            "acc_f_per_class": {str(c): _acc(logits, labels, labels == c) for c in classes}}


def single_reference(single: Sequence[Tensor], labels: Tensor, classes: Sequence[int]) -> dict[str, Any]:
    """What the single-class rows achieve on the same samples: row c on class c (acc_f), and
    row c on the classes outside the set (acc_r), means over c in the set."""
    in_s = torch.isin(labels, torch.tensor(list(classes)))
    f = [_acc(single[c], labels, labels == c) for c in classes]
    r = [_acc(single[c], labels, ~in_s) for c in classes]
    mean = lambda xs: None if any(x is None for x in xs) else sum(xs) / len(xs)  # noqa: E731
    return {"acc_f": mean(f), "acc_r": mean(r)}


def forgotten(scores: dict[str, Any], cfg: MultiForgetConfig) -> bool:
    """Is a set forgotten while the rest is kept (``cfg``'s two thresholds)?"""
    return (scores["acc_f"] is not None and scores["acc_r"] is not None
            and scores["acc_f"] <= cfg.forgotten_acc_f and scores["acc_r"] >= cfg.kept_acc_r)


def _summary(sets: list[dict[str, Any]], cfg: MultiForgetConfig) -> dict[str, Any]:
    """Per set size and combination: means, where retained accuracy drops most, and how many sets
    are forgotten while the rest is kept (the others listed: the sets a page must flag)."""
    combines = cfg.combines
    out: dict[str, Any] = {}
    for size in sorted({s["size"] for s in sets}):
        group = [s for s in sets if s["size"] == size]
        row: dict[str, Any] = {"n_sets": len(group),
                               "single_acc_f": _mean([s["single"]["acc_f"] for s in group]),
                               "single_acc_r": _mean([s["single"]["acc_r"] for s in group]),
                               "original_acc_r": _mean([s["original_acc_r"] for s in group])}
        for comb in combines:
            drops = [(s["single"]["acc_r"] - s[comb]["acc_r"], s["classes"]) for s in group
                     if s["single"]["acc_r"] is not None and s[comb]["acc_r"] is not None]
            worst = max(drops, default=None)
            row[comb] = {"acc_f": _mean([s[comb]["acc_f"] for s in group]),
                         "acc_r": _mean([s[comb]["acc_r"] for s in group]),
                         "acc_r_drop_vs_single": _mean([d for d, _ in drops]),
                         "worst_acc_r_drop": None if worst is None else worst[0],
                         "worst_set": None if worst is None else worst[1],
                         "sets_acc_f_above_single": sum(
                             1 for s in group if s[comb]["acc_f"] is not None and s["single"]["acc_f"] is not None
                             and s[comb]["acc_f"] > s["single"]["acc_f"] + 1e-9),
                         "n_forgotten": sum(1 for s in group if forgotten(s[comb], cfg)),
                         "failing_sets": [s["classes"] for s in group if not forgotten(s[comb], cfg)]}
        out[str(size)] = row
    return out


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def evaluate_multiforget(model: WFModel, data: ImageDataset, device: torch.device, cfg: MultiForgetConfig,
                         progress: bool = False) -> dict[str, Any]:
    """Every pair and the sampled triples, both combinations, next to the single-class rows."""
    labels = data.test.labels.cpu()
    nc = data.num_classes
    original = predict(model, data.test, data, device)
    single = [predict(model, data.test, data, device, forget=c) for c in range(nc)]
    singles = [{"cls": c, "name": data.classes[c], **set_scores(single[c], labels, [c]),
                "original_acc_f": _acc(original, labels, labels == c)} for c in range(nc)]
    for s in singles:
        s.pop("acc_f_per_class")
    chosen = (sample_sets(nc, 2, None, cfg.seed) if cfg.pairs else []) + \
        (sample_sets(nc, 3, cfg.n_triples, cfg.seed) if cfg.n_triples > 0 else [])
    sets = []
    for classes in tqdm(chosen, desc="class sets", disable=not progress, leave=False):
        in_s = torch.isin(labels, torch.tensor(classes))
        entry: dict[str, Any] = {"classes": list(classes), "size": len(classes),
                                 "single": single_reference(single, labels, classes),
                                 "original_acc_r": _acc(original, labels, ~in_s)}
        for comb in cfg.combines:
            entry[comb] = set_scores(set_logits(model, data, classes, comb, device), labels, classes)
        sets.append(entry)
    return {"classes": list(data.classes), "single": singles, "sets": sets,
            "summary": _summary(sets, cfg), "config": cfg.as_dict()}

"""What the memory matrices reveal (paper, "Insertion score", "Deletion score", Figures 3-4):
insertion and deletion curves, and which filters each class closes."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor

from ..data import ImageDataset
from ..runtime import predict
from ..wrap import WFModel

# Relevance of gate j of a layer for class c is how closed it is: 1 - sigmoid(alpha[c, j]).
# - Insertion: from the unlearned model (row c), reopen the most relevant fraction f of every
#   layer's gates; confidence on class c recovers. Deletion: from the non-unlearned WF model (all
#   gates open), close the most relevant fraction f; confidence falls. Each point is the mean
#   softmax probability of class c on its test samples, divided by the original model's; the
#   score is the area under the curve over f in [0, 1].

OPEN, CLOSED = 60.0, -60.0  # alpha values whose sigmoid is 1 and 0 in float32


def relevance(alpha: Tensor) -> Tensor:
    """(N_c, C) relevance of each gate for each class: how far it was closed."""
    return 1.0 - torch.sigmoid(alpha.detach().float())


def top_gates(alpha_row: Tensor, fraction: float) -> Tensor:
    """Indices of the most relevant ``fraction`` of one row's gates (ties by index)."""
    k = int(round(fraction * alpha_row.numel()))
    order = torch.argsort(relevance(alpha_row[None])[0], descending=True, stable=True)
    return order[:k]


@contextmanager
def edited_row(model: WFModel, cls: int, start: str, fraction: float) -> Iterator[None]:
    """Temporarily set row ``cls``: "unlearned" + reopen top fraction (insertion), or
    "open" + close top fraction (deletion). The learned alpha is restored afterwards."""
    saved = {name: (l.alpha_weight.data[cls].clone(),
                    None if l.alpha_bias is None else l.alpha_bias.data[cls].clone())
             for name, l in model.wf_layers().items()}
    try:
        for name, layer in model.wf_layers().items():
            idx = top_gates(saved[name][0], fraction)
            for alpha in layer.alphas():
                if start == "open":
                    alpha.data[cls] = OPEN
                    alpha.data[cls, idx] = CLOSED
                else:
                    alpha.data[cls, idx] = OPEN
        yield
    finally:
        for name, layer in model.wf_layers().items():
            w, b = saved[name]
            layer.alpha_weight.data[cls] = w
            if b is not None:
                layer.alpha_bias.data[cls] = b


def class_confidence(model: torch.nn.Module, data: ImageDataset, cls: int, device: torch.device,
                     **forward_kwargs: object) -> float:
    index = torch.nonzero(data.test.labels.cpu() == cls).flatten()
    probs = predict(model, data.test, data, device, index=index, **forward_kwargs).softmax(-1)
    return float(probs[:, cls].mean())


def auc(xs: list[float], ys: list[float]) -> float:
    """Trapezoidal area under a curve sampled at increasing xs."""
    return float(sum((x1 - x0) * (y0 + y1) / 2 for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:])))


@dataclass
class GateCurves:
    fractions: list[float]
    insertion: list[float]        # mean over classes of normalised confidence
    deletion: list[float]
    insertion_auc: float
    deletion_auc: float
    per_class_insertion: list[list[float]]
    per_class_deletion: list[list[float]]


def gate_curves(model: WFModel, data: ImageDataset, device: torch.device, steps: int = 10) -> GateCurves:
    """Insertion and deletion curves over ``steps`` + 1 equally spaced fractions, all classes."""
    fractions = [i / steps for i in range(steps + 1)]
    ins_all, del_all = [], []
    model.to(device)
    for c in range(model.num_classes):
        base = class_confidence(model, data, c, device)  # forget=None: the original model
        ins, dele = [], []
        for f in fractions:
            with torch.no_grad(), edited_row(model, c, "unlearned", f):
                ins.append(class_confidence(model, data, c, device, forget=c) / base)
            with torch.no_grad(), edited_row(model, c, "open", f):
                dele.append(class_confidence(model, data, c, device, forget=c) / base)
        ins_all.append(ins)
        del_all.append(dele)
    mean = lambda rows: [float(sum(col) / len(col)) for col in zip(*rows)]  # noqa: E731
    ins_m, del_m = mean(ins_all), mean(del_all)
    return GateCurves(fractions, ins_m, del_m, auc(fractions, ins_m), auc(fractions, del_m),
                      ins_all, del_all)


def relationships(model: WFModel, top_k: int = 10, min_classes: int = 2,
                  layers: list[str] | None = None, classes: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """Figures 3-4: per layer, the top-k most closed gates of every class, keeping only the
    filters that are in the top-k of at least ``min_classes`` classes. Tidy rows."""
    rows: list[dict[str, object]] = []
    for name, layer in model.wf_layers().items():
        if layers is not None and name not in layers:
            continue
        rel = relevance(layer.alpha_weight)
        k = min(top_k, rel.shape[1])
        top = torch.topk(rel, k, dim=1).indices  # (N_c, k)
        counts = torch.bincount(top.flatten(), minlength=rel.shape[1])
        for c in range(rel.shape[0]):
            for j in top[c].tolist():
                if counts[j] >= min_classes:
                    rows.append({"layer": name, "filter": j,
                                 "class": classes[c] if classes else c,
                                 "relevance": round(float(rel[c, j]), 6)})
    return rows

"""Result files keyed by their parameters: ``results/<preset>/<dataset>/<backbone>/<method>.json``.

Experiments write these (atomically); tables, figures and the book read only these. A cell whose
file is missing is "not run".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

from .io import atomic_write_json

METHODS = ("original", "retrained", "random_labels", "negative_gradients", "wfnet")
METHOD_LABELS = {
    "original": "Original Model",
    "retrained": "Retrained Model",
    "random_labels": "Random Labels †",
    "negative_gradients": "Negative Gradients †",
    "wfnet": "WF-Net",
    "salun": "SalUn †",
    "multiforget": "WF-Net class sets",
    "mia": "MIA (all methods)",
}
RELATIONSHIPS = "relationships.csv"  # tidy table: layer, filter, class, relevance (Figures 3-4)


def result_path(root: Path, preset: str, dataset: str, backbone: str, method: str) -> Path:
    return Path(root) / preset / dataset / backbone / f"{method}.json"


def retrained_class_path(root: Path, preset: str, dataset: str, backbone: str, cls: int) -> Path:
    """One class of the retrained baseline (a full training each): kept beside the results, so a
    column is filled over several GPU calls; ``retrained.json`` is written once all are there."""
    return Path(root) / preset / dataset / backbone / "retrained" / f"class_{cls}.json"


def finite_or_none(obj: Any) -> Any:
    """JSON has no NaN: a metric that could not be computed (e.g. a diverged model) is null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def write_result(root: Path, preset: str, dataset: str, backbone: str, method: str,
                 payload: dict[str, Any]) -> Path:
    path = result_path(root, preset, dataset, backbone, method)
    atomic_write_json(path, finite_or_none({"method": method, "preset": preset, "dataset": dataset,
                                            "backbone": backbone, **payload}))
    return path


def read_result(root: Path, preset: str, dataset: str, backbone: str, method: str) -> dict[str, Any] | None:
    path = result_path(root, preset, dataset, backbone, method)
    return json.loads(path.read_text()) if path.is_file() else None


def iter_results(root: Path) -> Iterator[dict[str, Any]]:
    """Every result file under ``root``, in a stable order."""
    for path in sorted(Path(root).glob("*/*/*/*.json")):
        yield json.loads(path.read_text())

"""Which result files a table reads and where each came from: our sources (preset, dataset), the
methods and backbones they cover, the README's measured runs, and one provenance row per file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from .. import paper_values as pv
from ..experiments.results import RELATIONSHIPS, iter_results, result_path
from ..methods import METHODS, label, method_names
from .format import NOT_RUN, Source, backbone_label, short_commit


def discover_sources(results_dir: Path | str, paper_dataset: str | None = None,
                     dataset: str | None = None) -> list[Source]:
    """(preset, dataset) pairs with at least one result file, for one paper dataset or one of ours."""
    found: set[Source] = set()
    for res in method_results(results_dir):
        d = res.get("dataset", "")
        if dataset is not None and d != dataset:
            continue
        if paper_dataset is not None and pv.paper_dataset_for(d) != paper_dataset:
            continue
        found.add((res["preset"], d))
    return sorted(found)


def is_method_result(res: dict[str, Any]) -> bool:
    """A Table 1 result file (``results/<preset>/<dataset>/<backbone>/<method>.json``), not an
    ablation variant, a baseline search or a file of the beyond-the-paper chapter."""
    return (res.get("method") in METHODS and all(isinstance(res.get(k), str) and res.get(k)
                                                  for k in ("preset", "dataset", "backbone")))


FILE_LABELS = {"multiforget": "WF-Net class sets", "mia": "MIA (all methods)"}  # result files that are not methods


def table_methods(results_dir: Path | str) -> tuple[str, ...]:
    """The rows of Table 1: the paper's methods, then every other registered method (SalUn, SSD,
    a user's own) that has a result of ours; in the registry's order."""
    found = {r["method"] for r in method_results(results_dir)}
    return tuple(m for m in method_names() if m in method_names(in_paper=True) or m in found)


def method_results(results_dir: Path | str) -> list[dict[str, Any]]:
    return [r for r in iter_results(Path(results_dir)) if is_method_result(r)]


def default_sources(results_dir: Path | str, paper_dataset: str, preset: str = "smoke") -> list[Source]:
    """What a table shows by default: every run we have, else an all-"not run" column."""
    found = discover_sources(results_dir, paper_dataset)
    return found or [(preset, pv.OUR_DATASETS[paper_dataset][0])]


def table_backbones(results_dir: Path, sources: Sequence[Source], backbones: Sequence[str] | None) -> list[str]:
    if backbones is not None:
        return list(backbones)
    ours = {r["backbone"] for r in method_results(results_dir)
            if (r.get("preset"), r.get("dataset")) in set(sources)}
    return list(pv.PAPER_BACKBONES) + sorted(ours - set(pv.PAPER_BACKBONES))


# -- the README's full-width CPU runs (results/measured/<dataset>/<backbone>/<step>/metrics.json) -

MEASURED = "measured"  # pseudo-preset of the README's full-width CPU runs (results/measured/)


def measured_runs(results_dir: Path | str) -> list[dict[str, Any]]:
    """Every committed CLI run under ``results/measured``: its step folder, dataset, backbone and
    what its metrics.json holds (train, evaluate or untrain), in folder order."""
    out = []
    for path in sorted(Path(results_dir).glob(f"{MEASURED}/*/*/*/metrics.json")):
        blob = json.loads(path.read_text())
        kind = blob.get("kind") or ("untrain" if "untrain" in blob else "train" if "test_acc" in blob else "?")
        out.append({"step": path.parent.name, "dataset": path.parts[-4], "backbone": path.parts[-3],
                    "kind": kind, "blob": blob, "path": path})
    return out


# -- other files of a run --------------------------------------------------------------------------

def relationships_path(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Path:
    return result_path(Path(results_dir), preset, dataset, backbone, "wfnet").parent / RELATIONSHIPS


# -- provenance ---------------------------------------------------------------------------------

def _cost(prov: dict[str, Any]) -> str:
    """Per-method cost fields other than the common ones, as 'key=value' pairs."""
    skip = {"git_commit", "device", "torch", "date", "wall_seconds", "dataset", "train_size",
            "test_size", "backbone", "width", "seed", "preset", "data_source", "train_config",
            "untrain_config", "checkpoint", "key", "run_key", "data_fingerprint", "config_key", "config_source"}
    parts = []
    for k, v in sorted(prov.items()):
        if k in skip or isinstance(v, dict):
            continue
        if isinstance(v, list):  # e.g. seconds per class: show the mean
            nums = [float(x) for x in v if isinstance(x, (int, float))]
            if nums:
                parts.append(f"{k} (mean of {len(nums)})={sum(nums) / len(nums):.3g}")
            continue
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


def runs_table(results_dir: Path | str, sources: Iterable[Source] | None = None,
               backbone: str | None = None) -> pd.DataFrame:
    """One row per result file: where, when, on what device and in how much wall time."""
    keep = None if sources is None else set(sources)
    rows = []
    for res in iter_results(Path(results_dir)):
        if not all(isinstance(res.get(k), str) for k in ("preset", "dataset", "backbone")):
            continue  # e.g. an ablation variant (its own page) or a baseline search
        if keep is not None and (res.get("preset"), res.get("dataset")) not in keep:
            continue
        if backbone is not None and res.get("backbone") != backbone:
            continue
        prov = res.get("provenance") or {}
        wall = prov.get("wall_seconds")
        rows.append({
            "preset": res.get("preset"), "dataset": res.get("dataset"),
            "backbone": backbone_label(res.get("backbone", "?")),
            "method": FILE_LABELS.get(res.get("method", "")) or label(str(res.get("method"))),
            "device": prov.get("device", NOT_RUN if not prov else "unknown"),
            "wall time (s)": NOT_RUN if wall is None else f"{float(wall):.1f}",
            "train / test images": f"{prov.get('train_size', '?')} / {prov.get('test_size', '?')}",
            "width": prov.get("width", "?"), "seed": prov.get("seed", "?"),
            "date": prov.get("date", "?"), "git commit": short_commit(str(prov.get("git_commit", "?"))),
            "torch": prov.get("torch", "?"), "cost": _cost(prov),
        })
    cols = ["preset", "dataset", "backbone", "method", "device", "wall time (s)", "train / test images",
            "width", "seed", "date", "git commit", "torch", "cost"]
    return pd.DataFrame(rows, columns=cols)

"""Which configuration each single-class baseline ran with, and where it was chosen (the cell's
baseline search on a validation split, or the defaults): Table 1's and the ablation page's notes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import paper_values as pv
from ..experiments.results import iter_results
from ..methods import METHODS, label, methods

# Every result file of a single-class method records the config it ran with
# (``provenance.method_config``) and where that config came from (``provenance.config_source``:
# "search:<key of the search file>", or the method's defaults when no current search of its cell
# existed; ``wfnet.experiments.baseline_search.resolve_preset``). Files written before issue 27 have
# no source: they read "not recorded".

NOT_RECORDED = "not recorded"


def _g(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) and math.isfinite(v) else str(v)


def _finetune_text(cfg: dict[str, Any], retain: bool) -> str:
    epochs = cfg.get("epochs")
    parts = [f"lr {_g(cfg.get('lr'))}", f"{epochs} epoch{'s' if epochs != 1 else ''}"]
    if retain:
        parts.append(f"retain ratio {_g(cfg.get('retain_ratio'))}")
    parts.append(f"clip {_g(cfg.get('clip_grad_norm')) if cfg.get('clip_grad_norm') is not None else 'none'}")
    return ", ".join(parts)


def config_text(method: str, cfg: dict[str, Any] | None) -> str:
    """A baseline's config in a few words: the fields its search varies first."""
    if not isinstance(cfg, dict) or not cfg:
        return NOT_RECORDED
    if method == "ssd":
        return f"alpha {_g(cfg.get('alpha'))}, lambda {_g(cfg.get('dampening'))}, batch {cfg.get('batch_size')}"
    if method == "salun":
        ft = cfg.get("finetune") or {}
        return f"sparsity {_g(cfg.get('saliency_fraction'))}, " + _finetune_text(ft, retain=True)
    if {"lr", "epochs"} <= set(cfg):
        return _finetune_text(cfg, retain=method == "random_labels")
    return ", ".join(f"{k} {_g(v)}" for k, v in cfg.items() if not isinstance(v, dict))


def source_text(source: str | None) -> str:
    """Where a baseline's config came from, in words."""
    if not source:
        return NOT_RECORDED
    if source.startswith("search:"):
        return f"chosen by the cell's baseline search on a validation split (search {source.split(':', 1)[1]})"
    return f"{source} (no search of this cell)"


def tuned_methods() -> list[str]:
    """Single-class methods whose config a preset (or a search) gives (the retrained model's is
    the original's recipe)."""
    return [m.name for m in methods(kind="single_class") if m.key_field is not None]


def baseline_configs(results_dir: Path | str, paper_dataset: str | None = None,
                     sources: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """One row per baseline result of ours (seed 0): the run, the method, the config it ran with
    and where that config was chosen. ``paper_dataset`` keeps the runs standing in for it."""
    tuned = set(tuned_methods())
    keep = None if sources is None else set(sources)
    rows = []
    for res in iter_results(Path(results_dir)):
        method, dataset = res.get("method"), str(res.get("dataset"))
        if method not in tuned or not all(isinstance(res.get(k), str) for k in ("preset", "dataset", "backbone")):
            continue
        if paper_dataset is not None and pv.paper_dataset_for(dataset) != paper_dataset:
            continue
        if keep is not None and (res.get("preset"), dataset) not in keep:
            continue
        prov = res.get("provenance") or {}
        rows.append({"run": f"{res['preset']} · {dataset} · {pv.BACKBONE_LABELS.get(res['backbone'], res['backbone'])}",
                     "method": label(method).replace(" †", ""),
                     "configuration": config_text(method, prov.get("method_config")),
                     "chosen by": source_text(prov.get("config_source")),
                     "_order": METHODS.get(method).order})
    cols = ["run", "method", "configuration", "chosen by"]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(rows).sort_values(["run", "_order"], kind="stable")[cols].reset_index(drop=True)


__all__ = ["NOT_RECORDED", "baseline_configs", "config_text", "source_text", "tuned_methods"]

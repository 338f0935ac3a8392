"""Beyond the paper, for one run: class sets, the registered methods the paper does not have, and
the field's scorecard for every method, from the cached models of ``wfnet reproduce``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..evaluation.mia import (
    SCORECARD,
    MIAConfig,
    MIAResult,
    class_accuracies,
    class_mia,
    model_scorecard,
    split_logits,
    summarize,
)
from ..evaluation.multiforget import MultiForgetConfig, evaluate_multiforget
from ..io import content_key
from ..methods import METHODS, method_names
from .presets import Preset
from .reproduce import Run, prepared_run, run_methods, wf_model
from .results import read_result, write_result

# ``run_beyond`` reuses the cached original and WF checkpoints of ``wfnet reproduce`` (same ``Run``,
# same ``runs/<preset>/<dataset>/<backbone>/`` cache) and writes, next to the Table-1 files:
#
# - ``multiforget.json``: every pair and sampled triples of classes forgotten at once
#   (``wfnet.evaluation.multiforget``);
# - ``<method>.json`` for every registered single-class method beyond the paper (SalUn, SSD), in the
#   schema of the paper's baselines;
# - ``mia.json``: MIA-efficacy and SalUn's scorecard (UA, RA, TA) of every method with a result. A
#   single-class method's were measured on each unlearned model as it was made (its per-class
#   entries), so nothing is unlearned again here; the original and WF-Net are measured here.
#
# The chapter's tables are drawn from these files by ``wfnet.report.beyond``.

SCORECARD_VERSION = 3  # 3: single-class methods' MIA and accuracies are read from their per-class entries

MIAScores = list[tuple[dict[str, MIAResult], dict[str, float]]]  # per class: (attack per feature, accuracies)


def _mia_back(blob: dict[str, Any]) -> dict[str, MIAResult]:
    nan = lambda v: float("nan") if v is None else v  # noqa: E731
    return {f: MIAResult(nan(d["efficacy"]), nan(d["attack_accuracy"]), d["n_attack"], d["n_target"], d["n_holdout"])
            for f, d in blob.items()}


def summary_with_scorecard(per_class: MIAScores, cfg: MIAConfig) -> dict[str, Any]:
    """MIA's summary (``wfnet.evaluation.mia.summarize``) plus the scorecard: mean UA, RA, TA and
    MIA-efficacy (%) over the classes."""
    out = summarize([m for m, _ in per_class], cfg)
    mean = lambda xs: None if not xs else sum(xs) / len(xs)  # noqa: E731
    card = {k: mean([a[k] for _, a in per_class if a.get(k) is not None]) for k in SCORECARD if k != "mia"}
    card["mia"] = None if out.get("mia_efficacy") is None else 100.0 * out["mia_efficacy"]
    return {**out, "scorecard": card}


def measured_scores(run: Run, method: str) -> tuple[MIAScores, float]:
    """Per-class (MIA, accuracies) of one method and the seconds measuring them took here."""
    start = time.perf_counter()
    nc = run.data.num_classes
    kind = METHODS.get(method).kind
    if kind == "reference":  # forgets nothing: one pair of predictions serves every class
        original = run.original_model()
        with run.autocast():
            train_logits, test_logits = split_logits(original, run.data, run.device)
        scores = [(class_mia(train_logits, test_logits, run.data, c, run.mia),
                   class_accuracies(train_logits, test_logits, run.data, c)) for c in range(nc)]
    elif kind == "one_round":
        model, _ = wf_model(run)
        with run.autocast():
            scores = [model_scorecard(model, run.data, c, run.device, run.mia, forget=c) for c in range(nc)]
    else:
        res = read_result(run.results_dir, run.preset.name, run.data.name, run.backbone, method, run.seed) or {}
        scores = [(_mia_back(p["mia"]), p["accuracy"]) for p in res.get("per_class", [])]
        return scores, 0.0
    return scores, time.perf_counter() - start


def run_mia(run: Run, methods: list[str]) -> dict[str, Any]:
    """mia.json's payload for ``methods`` (reused when its key matches)."""
    keys = {m: run.method_key(m) for m in methods}
    key = content_key([run.key, run.mia.as_dict(), keys, SCORECARD_VERSION])
    root = run.results_dir
    old = read_result(root, run.preset.name, run.data.name, run.backbone, "mia", run.seed, recover=True)
    if old is not None and (old.get("provenance") or {}).get("key") == key:
        return old
    start = time.perf_counter()
    out: dict[str, Any] = {}
    for m in methods:
        scores, seconds = measured_scores(run, m)
        if scores:
            out[m] = {**summary_with_scorecard(scores, run.mia), "wall_seconds": seconds or None}
    prov = run.base_provenance(time.perf_counter() - start, mia_config=run.mia.as_dict(), method_keys=keys)
    prov.update(key=key, run_key=run.key)
    write_result(root, run.preset.name, run.data.name, run.backbone, "mia", {"methods": out, "provenance": prov},
                 run.seed)
    return read_result(root, run.preset.name, run.data.name, run.backbone, "mia", run.seed) or {}


def run_multiforget(run: Run, cfg: MultiForgetConfig | None = None) -> dict[str, Any]:
    """multiforget.json, from the run's cached WF checkpoint; reused when the file's key (the WF
    model's key + this config) matches."""
    cfg = cfg or MultiForgetConfig()
    key = content_key([run.method_key("wfnet"), cfg.key()])
    where = (run.results_dir, run.preset.name, run.data.name, run.backbone, "multiforget")
    existing = read_result(*where, run.seed, recover=True)
    if existing is not None and existing.get("provenance", {}).get("key") == key:
        return existing
    start = time.perf_counter()
    model, _ = wf_model(run)
    with run.autocast():
        payload = evaluate_multiforget(model.eval(), run.data, run.device, cfg, run.progress)
    prov = run.base_provenance(time.perf_counter() - start, multiforget_config=cfg.as_dict(),
                               forward_passes=len(payload["sets"]) * len(cfg.combines) + run.data.num_classes + 1)
    payload["provenance"] = {**prov, "key": key, "run_key": run.key}
    write_result(*where, payload, run.seed)
    return read_result(*where, run.seed) or payload


def run_beyond(dataset: str, backbone: str, preset: str | Preset = "smoke", results_dir: str | Path = "results",
               runs_dir: str | Path = "runs", device: str = "auto", seed: int = 0, progress: bool = True,
               multiforget: MultiForgetConfig | None = None,
               data_root: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """multiforget.json, the beyond-the-paper methods' files and mia.json for one dataset x
    backbone (every result reused when its key matches)."""
    run = prepared_run(dataset, backbone, preset, results_dir, runs_dir, device, data_root, seed, progress)
    out: dict[str, dict[str, Any]] = {"multiforget": run_multiforget(run, multiforget)}
    out.update(run_methods(run, list(method_names(in_paper=False))))
    with_results = [m for m in method_names()
                    if read_result(Path(results_dir), run.preset.name, dataset, backbone, m, seed) is not None]
    out["mia"] = run_mia(run, with_results)
    return out

"""Beyond the paper (issue 10): class sets, membership inference, and SalUn, for one run.

``run_beyond`` reuses the cached original and WF checkpoints of ``wfnet.reproduce`` (same
``Run``, same ``runs/<preset>/<dataset>/<backbone>/`` cache) and writes three result files next
to the Table-1 ones:

- ``multiforget.json``: every pair and sampled triples of classes forgotten at once (see
  ``wfnet.multiforget``);
- ``salun.json``: SalUn (Fan et al., ICLR 2024) in the schema of the other single-class methods
  (acc_r, acc_f, zrf, rt, rt_failed, per_class, provenance with unlearn_wall_seconds_per_class);
- ``mia.json``: MIA-efficacy (``wfnet.mia``) of every method. The per-class models of the
  single-class baselines are not cached by ``reproduce``, so they are unlearned again here
  (deterministic: same seeds); that cost is recorded per method.

Every per-class piece is cached under ``runs/.../beyond/`` with the run's content key, so a
killed run resumes. The ``*_frame`` functions turn the result files into the book's tables.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from .data import load_dataset
from .metrics import aggregate
from .mia import (SCORECARD, MIAConfig, MIAResult, class_accuracies, class_mia, model_scorecard, split_logits,
                  summarize)
from .multiforget import MultiForgetConfig, run_multiforget
from .presets import PRESETS, Preset
from .provenance import resolve_device
from .reproduce import SINGLE_CLASS, Run, rt_summary, scores_row, single_class_piece, wf_model
from .reproduce import unlearn_class as reproduce_unlearn_class
from .results import METHOD_LABELS, METHODS, finite_or_none, read_result, write_result
from .salun import SalunConfig, salun

NEW_METHODS = ("salun",)
LABELS = {**METHOD_LABELS, "salun": "SalUn †"}
ALL_METHODS = (*METHODS, *NEW_METHODS)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _mia_dict(res: dict[str, MIAResult]) -> dict[str, Any]:
    return finite_or_none({f: r.as_dict() for f, r in res.items()})


def _mia_back(blob: dict[str, Any]) -> dict[str, MIAResult]:
    nan = lambda v: float("nan") if v is None else v  # noqa: E731
    return {f: MIAResult(nan(d["efficacy"]), nan(d["attack_accuracy"]), d["n_attack"], d["n_target"], d["n_holdout"])
            for f, d in blob.items()}


# -- single-class methods: the unlearning step of each, by name ---------------------------------

def unlearn_class(run: Run, method: str, c: int, salun_cfg: SalunConfig) -> nn.Module:
    """The model unlearned on class c by a single-class method: the paper's three, or SalUn."""
    if method == "salun":
        return salun(run.original, run.data, c, salun_cfg, run.device)
    return reproduce_unlearn_class(run, method, c)


def run_salun(run: Run, cfg: SalunConfig, mia_cfg: MIAConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """salun.json's payload (the schema of ``reproduce.run_single_class``) and SalUn's per-class
    MIA, measured on each unlearned model before its relearn-time fine-tuning."""
    folder = f"beyond/salun-{_key(cfg.as_dict(), mia_cfg.as_dict(), SCORECARD_VERSION)}"
    per_class = []
    for c in tqdm(range(run.data.num_classes), desc="salun", disable=not run.progress, leave=False):
        per_class.append(run.cached_json(f"{folder}/class_{c}.json", lambda: single_class_piece(
            run, c, lambda: salun(run.original, run.data, c, cfg, run.device),
            lambda model: _scored(model_scorecard(model, run.data, c, run.device, mia_cfg)))))
    scores = aggregate([scores_row(p) for p in per_class]).as_dict()
    rt, failed = rt_summary(per_class)
    unlearn = [p["unlearn_wall_seconds"] for p in per_class]
    mia = [(_mia_back(p["mia"]), p["accuracy"]) for p in per_class]
    prov = run.base_provenance(
        sum(p["wall_seconds"] for p in per_class), method_config=cfg.as_dict(),
        relearn_config=run.preset.relearn_config(run.backbone, run.seed).as_dict(),
        unlearn_wall_seconds_total=sum(unlearn), unlearn_wall_seconds_per_class=unlearn)
    prov.update(key=_key(run.key, cfg.as_dict()), run_key=run.key)
    payload = {**scores, "per_class": [{k: v for k, v in p.items() if k not in ("key", "mia", "accuracy")}
                                       for p in per_class],
               "rt": rt, "rt_failed": failed, "provenance": prov}
    return payload, mia


# -- MIA of every method --------------------------------------------------------------------------

SCORECARD_VERSION = 2  # 2: per-class MIA pieces also hold the scorecard's accuracies (UA, RA, TA)


def _scored(result: tuple[dict[str, MIAResult], dict[str, float]]) -> dict[str, Any]:
    mia, accuracy = result
    return {"mia": _mia_dict(mia), "accuracy": finite_or_none(accuracy)}


def mia_of_method(run: Run, method: str, mia_cfg: MIAConfig, salun_cfg: SalunConfig) -> dict[str, Any]:
    """MIA-efficacy and the scorecard accuracies per class of one Table-1 method, with the seconds
    it took (and whether the unlearning itself had to be run again)."""
    start = time.perf_counter()
    nc = run.data.num_classes
    if method == "original":  # forgets nothing: one pair of predictions serves every class
        train_logits, test_logits = split_logits(run.original, run.data, run.device)
        per_class = [(class_mia(train_logits, test_logits, run.data, c, mia_cfg),
                      class_accuracies(train_logits, test_logits, run.data, c)) for c in range(nc)]
        rerun = 0.0
    elif method == "wfnet":
        model, _ = wf_model(run)
        per_class = [model_scorecard(model, run.data, c, run.device, mia_cfg, forget=c) for c in range(nc)]
        rerun = 0.0
    elif method in SINGLE_CLASS:
        folder = f"beyond/mia-{_key(mia_cfg.as_dict(), SCORECARD_VERSION)}/{method}"

        def piece(c: int) -> dict[str, Any]:
            t = time.perf_counter()
            model = unlearn_class(run, method, c, salun_cfg)
            t_unlearn = time.perf_counter() - t
            return {**_scored(model_scorecard(model, run.data, c, run.device, mia_cfg)), "unlearn_wall_seconds": t_unlearn}

        blobs = [run.cached_json(f"{folder}/class_{c}.json", lambda: piece(c))
                 for c in tqdm(range(nc), desc=f"mia {method}", disable=not run.progress, leave=False)]
        per_class = [(_mia_back(b["mia"]), b["accuracy"]) for b in blobs]
        rerun = sum(b["unlearn_wall_seconds"] for b in blobs)
    else:
        raise ValueError(f"no MIA for method {method!r} here (SalUn's comes with run_salun)")
    return {**summary_with_scorecard(per_class, mia_cfg), "wall_seconds": time.perf_counter() - start,
            "unlearning_rerun_seconds": rerun}


def summary_with_scorecard(per_class: list[tuple[dict[str, MIAResult], dict[str, float]]], cfg: MIAConfig) -> dict[str, Any]:
    """MIA's summary (``wfnet.mia.summarize``) plus the scorecard: mean UA, RA, TA and
    MIA-efficacy (%) over the classes."""
    mia = [m for m, _ in per_class]
    out = summarize(mia, cfg)
    mean = lambda xs: None if not xs else sum(xs) / len(xs)  # noqa: E731
    card = {k: mean([a[k] for _, a in per_class if a.get(k) is not None]) for k in SCORECARD if k != "mia"}
    card["mia"] = None if out.get("mia_efficacy") is None else 100.0 * out["mia_efficacy"]
    return {**out, "scorecard": card}


def run_beyond(dataset: str, backbone: str, preset: str | Preset = "smoke", results_dir: str | Path = "results",
               runs_dir: str | Path = "runs", device: str = "auto", seed: int = 0, progress: bool = True,
               mia_methods: tuple[str, ...] = ALL_METHODS, multiforget: MultiForgetConfig | None = None,
               mia: MIAConfig | None = None, salun_config: SalunConfig | None = None,
               data_root: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """multiforget.json, salun.json and mia.json for one dataset x backbone (results reused when
    their key matches). ``mia_methods`` may leave out costly re-runs (e.g. "retrained")."""
    p = preset if isinstance(preset, Preset) else PRESETS.get(preset)
    mia_cfg, salun_cfg = mia or MIAConfig(), salun_config or SalunConfig.for_preset(p)
    data = load_dataset(dataset, data_root)
    run = Run(data, backbone, p, Path(runs_dir), resolve_device(device), seed, progress)
    root = Path(results_dir)
    out = {"multiforget": run_multiforget(run, root, multiforget)}

    salun_key = _key(run.key, salun_cfg.as_dict())
    mia_key = _key(run.key, mia_cfg.as_dict(), salun_cfg.as_dict(), sorted(mia_methods), SCORECARD_VERSION)
    old_salun = read_result(root, p.name, dataset, backbone, "salun", seed, recover=True)
    old_mia = read_result(root, p.name, dataset, backbone, "mia", seed, recover=True)
    fresh = lambda r, k: r is not None and r.get("provenance", {}).get("key") == k  # noqa: E731
    if fresh(old_salun, salun_key) and fresh(old_mia, mia_key):
        return {**out, "salun": old_salun, "mia": old_mia}

    start = time.perf_counter()
    salun_payload, salun_mia = run_salun(run, salun_cfg, mia_cfg)
    write_result(root, p.name, dataset, backbone, "salun", salun_payload, seed)
    methods: dict[str, Any] = {}
    for m in mia_methods:
        if m == "salun":
            methods[m] = {**summary_with_scorecard(salun_mia, mia_cfg), "wall_seconds": None,
                          "unlearning_rerun_seconds": 0.0, "note": "measured inside the SalUn run"}
        else:
            methods[m] = mia_of_method(run, m, mia_cfg, salun_cfg)
    prov = run.base_provenance(time.perf_counter() - start, mia_config=mia_cfg.as_dict(),
                               mia_methods=list(mia_methods),
                               unlearning_rerun_seconds=sum(v["unlearning_rerun_seconds"] for v in methods.values()))
    prov.update(key=mia_key, run_key=run.key)
    write_result(root, p.name, dataset, backbone, "mia", {"methods": methods, "provenance": prov}, seed)
    return {**out, "salun": read_result(root, p.name, dataset, backbone, "salun", seed) or salun_payload,
            "mia": read_result(root, p.name, dataset, backbone, "mia", seed) or {}}


# -- the book's tables, from result files only ----------------------------------------------------

BEYOND_FILES = ("multiforget", "mia", "salun")


def beyond_runs(results_dir: Path | str) -> list[tuple[str, str, str]]:
    """(preset, dataset, backbone) with at least one beyond-the-paper result, paper preset first."""
    found = {p.parts[-4:-1] for name in BEYOND_FILES for p in Path(results_dir).glob(f"*/*/*/{name}.json")}
    return sorted(found, key=lambda r: (r[0] != "paper", r))


def _fmt(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    from .report import NOT_RUN

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_RUN
    return f"{float(value) * scale:.{digits}f}"


def pair_matrix(mf: dict[str, Any], metric: str, combine: str) -> Any:
    """classes x classes (%): cell (a, b) = ``metric`` when forgetting {a, b}; the diagonal is the
    single-class row (forget {a})."""
    import pandas as pd

    names = mf["classes"]
    mat = pd.DataFrame(float("nan"), index=names, columns=names)
    for s in mf["single"]:
        mat.iloc[s["cls"], s["cls"]] = s[metric]
    for s in mf["sets"]:
        if s["size"] == 2 and s.get(combine, {}).get(metric) is not None:
            a, b = s["classes"]
            mat.iloc[a, b] = mat.iloc[b, a] = s[combine][metric]
    return mat


def plot_pair_heatmaps(mf: dict[str, Any], combine: str, title: str = "") -> Any:
    """Two seaborn heatmaps: forget and retain accuracy of every pair (diagonal: single class)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for ax, metric, label, cmap in ((axes[0], "acc_f", "Acc_f ↓ (%) on the forgotten pair", "rocket"),
                                    (axes[1], "acc_r", "Acc_r ↑ (%) on the other classes", "mako")):
        sns.heatmap(pair_matrix(mf, metric, combine), ax=ax, annot=True, fmt=".0f", cmap=cmap, vmin=0, vmax=100,
                    square=True, cbar_kws={"label": "%"}, annot_kws={"fontsize": 7})
        ax.set_title(f"{label} · {combine}", fontsize=10)
        ax.set_xlabel("forgotten class b")
        ax.set_ylabel("forgotten class a")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def multiforget_frame(mf: dict[str, Any] | None) -> Any:
    """Per set size and combination: mean Acc_f / Acc_r next to the single-class rows."""
    import pandas as pd

    if not mf:
        return None
    rows = []
    for size, s in sorted(mf["summary"].items()):
        for comb in mf["config"]["combines"]:
            c = s[comb]
            rows.append({"classes forgotten": int(size), "combination": comb, "sets": s["n_sets"],
                         "Acc_f ↓ (%)": _fmt(c["acc_f"]), "single-row Acc_f (%)": _fmt(s["single_acc_f"]),
                         "Acc_r ↑ (%)": _fmt(c["acc_r"]), "single-row Acc_r (%)": _fmt(s["single_acc_r"]),
                         "original Acc_r (%)": _fmt(s["original_acc_r"]),
                         "Acc_r drop vs single (pts)": _fmt(c["acc_r_drop_vs_single"]),
                         "worst set (drop, pts)": ("–" if c["worst_set"] is None else
                                                   f"{{{', '.join(mf['classes'][i] for i in c['worst_set'])}}} "
                                                   f"({c['worst_acc_r_drop']:.1f})"),
                         "sets with Acc_f above single": c["sets_acc_f_above_single"]})
    return pd.DataFrame(rows).set_index(["classes forgotten", "combination"])


def methods_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """Table 1 extended: Acc_r, Acc_f, ZRF, RT and MIA-efficacy of every method incl. SalUn."""
    import pandas as pd

    from .report import NOT_REPORTED, NOT_RUN, format_rt

    root = Path(results_dir)
    mia = (read_result(root, preset, dataset, backbone, "mia") or {}).get("methods", {})
    rows = []
    for m in ALL_METHODS:
        res = read_result(root, preset, dataset, backbone, m)
        mi = mia.get(m) or {}
        rows.append({
            "method": LABELS[m],
            "Acc_r ↑ (%)": _fmt(res and res.get("acc_r")), "Acc_f ↓ (%)": _fmt(res and res.get("acc_f")),
            "ZRF ↑": _fmt(res and res.get("zrf"), 3),
            "RT ↑ (epochs)": (NOT_RUN if res is None else NOT_REPORTED if m == "original"
                              else format_rt(res.get("rt"), res.get("rt_failed"))),
            "MIA-efficacy ↑ (%)": _fmt(mi.get("mia_efficacy"), 1, 100.0),
            "attack accuracy (%)": _fmt(mi.get("attack_accuracy"), 1, 100.0),
            "classes where the attack beats chance": (NOT_RUN if "informative_classes" not in mi
                                                      else f"{mi['informative_classes']} / {len(mi.get('per_class', []))}"),
            "MIA-efficacy on those (%)": _fmt(mi.get("mia_efficacy_informative"), 1, 100.0),
            **{f"MIA ({f}) (%)": _fmt(v.get("mia_efficacy"), 1, 100.0)
               for f, v in (mi.get("by_feature") or {}).items() if f != mi.get("feature")},
            "configuration key": _run_key(res) or NOT_RUN,
        })
    return pd.DataFrame(rows).set_index("method").fillna(NOT_RUN)


SCORECARD_LABELS = {"ua": "UA", "ra": "RA", "ta": "TA", "mia": "MIA-efficacy"}


def gap_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """The field's scorecard (SalUn, ICLR 2024): UA, RA, TA, MIA-efficacy (%) of every method, each
    with its absolute gap to the retrained model in parentheses, their average gap (lower = closer
    to retraining) and the unlearning seconds. Gaps need the retrained model's MIA."""
    import pandas as pd

    from .report import NOT_REPORTED, NOT_RUN

    root = Path(results_dir)
    mia = (read_result(root, preset, dataset, backbone, "mia") or {}).get("methods", {})
    ref = (mia.get("retrained") or {}).get("scorecard") or {}
    rows = []
    for m in ALL_METHODS:
        card = (mia.get(m) or {}).get("scorecard") or {}
        gaps = [abs(card[k] - ref[k]) for k in SCORECARD if card.get(k) is not None and ref.get(k) is not None]
        row: dict[str, str] = {"method": LABELS[m]}
        for k in SCORECARD:
            value = card.get(k)
            gap = (f" ({abs(value - ref[k]):.1f})" if value is not None and ref.get(k) is not None and m != "retrained"
                   else "")
            row[f"{SCORECARD_LABELS[k]} (%)"] = NOT_RUN if value is None else f"{value:.1f}{gap}"
        row["Avg. gap ↓"] = (NOT_REPORTED if m == "retrained" else
                             f"{sum(gaps) / len(gaps):.2f}" if len(gaps) == len(SCORECARD) else NOT_RUN)
        prov = (read_result(root, preset, dataset, backbone, m) or {}).get("provenance") or {}
        seconds = prov.get("unlearn_wall_seconds_total", prov.get("train_wall_seconds") if m == "original" else None)
        row["unlearning (s)"] = NOT_REPORTED if m == "original" else _fmt(seconds)
        row["device"] = prov.get("device", NOT_RUN)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def cost_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """Wall seconds of every method (unlearning, total with scoring and relearn time), plus the
    extra seconds this chapter's measurements took."""
    import pandas as pd

    from .report import NOT_REPORTED

    root = Path(results_dir)
    mia = (read_result(root, preset, dataset, backbone, "mia") or {}).get("methods", {})
    rows = []
    for m in ALL_METHODS:
        prov = (read_result(root, preset, dataset, backbone, m) or {}).get("provenance") or {}
        per = prov.get("unlearn_wall_seconds_per_class")
        unlearn = prov.get("unlearn_wall_seconds_total", prov.get("train_wall_seconds") if m == "original" else None)
        mi = mia.get(m) or {}
        rows.append({"method": LABELS[m],
                     "unlearning (s)": _fmt(unlearn) if m != "original" else NOT_REPORTED,
                     "per class (s)": _fmt(sum(per) / len(per)) if per else NOT_REPORTED if m in ("original", "wfnet") else _fmt(None),
                     "result total (s)": _fmt(prov.get("wall_seconds")),
                     "MIA measurement (s)": _fmt(mi.get("wall_seconds")) if mi.get("wall_seconds") is not None
                     else ("in SalUn run" if mi else _fmt(None)),
                     "of which re-unlearning (s)": _fmt(mi.get("unlearning_rerun_seconds")) if mi else _fmt(None),
                     "device": prov.get("device", _fmt(None))})
    mf = read_result(root, preset, dataset, backbone, "multiforget")
    if mf:
        prov = mf.get("provenance") or {}
        rows.append({"method": "WF-Net class sets (all pairs + triples, both combinations)",
                     "unlearning (s)": "0 (no training)", "per class (s)": NOT_REPORTED,
                     "result total (s)": _fmt(prov.get("wall_seconds")), "MIA measurement (s)": NOT_REPORTED,
                     "of which re-unlearning (s)": NOT_REPORTED, "device": prov.get("device", "?")})
    return pd.DataFrame(rows).set_index("method")


def multiforget_findings(mf: dict[str, Any] | None) -> str:
    """Plain-language summary of where combining rows degrades, computed from the file."""
    from .report import NOT_RUN

    if not mf:
        return f"_{NOT_RUN}._"
    names = mf["classes"]
    lines = []
    for size, s in sorted(mf["summary"].items()):
        for comb in mf["config"]["combines"]:
            c = s[comb]
            if c["acc_r"] is None:
                continue
            worst = ("" if c["worst_set"] is None else
                     f"; worst set {{{', '.join(names[i] for i in c['worst_set'])}}} loses {c['worst_acc_r_drop']:.1f} points")
            lines.append(
                f"- **{size} classes, {comb}** ({s['n_sets']} sets): Acc_f {_fmt(c['acc_f'])} % "
                f"(single rows {_fmt(s['single_acc_f'])} %, {c['sets_acc_f_above_single']} sets forget worse than "
                f"their single rows), Acc_r {_fmt(c['acc_r'])} % against {_fmt(s['single_acc_r'])} % for the single "
                f"rows and {_fmt(s['original_acc_r'])} % for the original: a mean drop of "
                f"{_fmt(c['acc_r_drop_vs_single'])} points{worst}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m wfnet.beyond --dataset mnist-5k --backbone resnet18 --preset smoke``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m wfnet.beyond", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--preset", default="smoke")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="cache shared with wfnet reproduce")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mia-methods", nargs="+", default=list(ALL_METHODS), choices=list(ALL_METHODS))
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    start = time.perf_counter()
    out = run_beyond(args.dataset, args.backbone, args.preset, args.out, args.runs, args.device, args.seed,
                     not args.no_progress, mia_methods=tuple(args.mia_methods))
    s = out["salun"]
    print(f"salun: Acc_r {s['acc_r']:.2f} Acc_f {s['acc_f']:.2f} ZRF {s['zrf']:.3f}")
    for m, v in out["mia"].get("methods", {}).items():
        print(f"MIA-efficacy {m:20s} {_fmt(v.get('mia_efficacy'), 3)}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def mia_caveat(mia: dict[str, Any] | None) -> str:
    """Which methods' MIA numbers rest on an attack that is at chance for most classes."""
    from .report import NOT_RUN

    if not mia:
        return f"_MIA: {NOT_RUN}._"
    known = {m: v for m, v in mia.get("methods", {}).items() if v.get("informative_classes") is not None}
    if not known:
        return "_Whether the attack beats chance was not recorded in this result file._"
    weak = [LABELS.get(m, m) for m, v in known.items() if 2 * v["informative_classes"] < len(v.get("per_class", []))]
    if not weak:
        return "The attack beats chance for most classes of every method shown."
    return (f"**The attack is at chance for most classes of: {', '.join(weak)}.** For these, members and "
            "non-members are indistinguishable (the model barely overfits), and MIA-efficacy says more about "
            "the sign of a near-zero attack weight than about forgetting: read the 'on those' column, or not at all.")


def _run_key(res: dict[str, Any] | None) -> str | None:
    """The ``reproduce`` configuration key a result was computed under."""
    prov = (res or {}).get("provenance") or {}
    return prov.get("run_key", prov.get("key"))


def key_caveat(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> str:
    """Warn when the files of one run come from different configurations (e.g. a preset or
    untraining default changed between ``wfnet reproduce`` and ``run_beyond``)."""
    root = Path(results_dir)
    keys: dict[str, list[str]] = {}
    for name in (*ALL_METHODS, *BEYOND_FILES[:2]):
        k = _run_key(read_result(root, preset, dataset, backbone, name))
        if k:
            keys.setdefault(k, []).append(name)
    if len(keys) <= 1:
        return ""
    parts = "; ".join(f"`{k}`: {', '.join(v)}" for k, v in keys.items())
    return (f"**Mixed configurations:** these files were computed under different configuration keys ({parts}), "
            "so their rows are not directly comparable until `wfnet reproduce` and `run_beyond` are rerun.")

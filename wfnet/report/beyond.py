"""The beyond-the-paper chapter (notebooks/beyond.py), from result files only: class sets, every
method's scores with MIA-efficacy, the scorecard (gap to the retrained model) and each method's cost."""

# Read from ``multiforget.json``, ``mia.json`` and the method files, written by ``wfnet beyond``.

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..evaluation.mia import SCORECARD
from ..experiments.results import read_result
from ..methods import label, method_names
from .format import NOT_REPORTED, NOT_RUN, num, result_rt, zrf_header, zrf_num

BEYOND_FILES = ("multiforget", "mia", "salun", "ssd")


def beyond_runs(results_dir: Path | str) -> list[tuple[str, str, str]]:
    """(preset, dataset, backbone) with at least one beyond-the-paper result, paper preset first."""
    found = {p.parts[-4:-1] for name in BEYOND_FILES for p in Path(results_dir).glob(f"*/*/*/{name}.json")}
    return sorted(found, key=lambda r: (r[0] != "paper", r))


def pair_matrix(mf: dict[str, Any], metric: str, combine: str) -> Any:
    """classes x classes (%): cell (a, b) = ``metric`` when forgetting {a, b}; the diagonal is the
    single-class row (forget {a})."""
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
    for ax, metric, panel, cmap in ((axes[0], "acc_f", "Acc_f ↓ (%) on the forgotten pair", "rocket"),
                                    (axes[1], "acc_r", "Acc_r ↑ (%) on the other classes", "mako")):
        sns.heatmap(pair_matrix(mf, metric, combine), ax=ax, annot=True, fmt=".0f", cmap=cmap, vmin=0, vmax=100,
                    square=True, cbar_kws={"label": "%"}, annot_kws={"fontsize": 7})
        ax.set_title(f"{panel} · {combine}", fontsize=10)
        ax.set_xlabel("forgotten class b")
        ax.set_ylabel("forgotten class a")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def multiforget_frame(mf: dict[str, Any] | None) -> Any:
    """Per set size and combination: mean Acc_f / Acc_r next to the single-class rows."""
    if not mf:
        return None
    rows = []
    for size, s in sorted(mf["summary"].items()):
        for comb in mf["config"]["combines"]:
            c = s[comb]
            rows.append({"classes forgotten": int(size), "combination": comb, "sets": s["n_sets"],
                         "Acc_f ↓ (%)": num(c["acc_f"]), "single-row Acc_f (%)": num(s["single_acc_f"]),
                         "Acc_r ↑ (%)": num(c["acc_r"]), "single-row Acc_r (%)": num(s["single_acc_r"]),
                         "original Acc_r (%)": num(s["original_acc_r"]),
                         "Acc_r drop vs single (pts)": num(c["acc_r_drop_vs_single"]),
                         "worst set (drop, pts)": ("–" if c["worst_set"] is None else
                                                   f"{{{', '.join(mf['classes'][i] for i in c['worst_set'])}}} "
                                                   f"({c['worst_acc_r_drop']:.1f})"),
                         "sets with Acc_f above single": c["sets_acc_f_above_single"]})
    return pd.DataFrame(rows).set_index(["classes forgotten", "combination"])


def methods_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """Table 1 extended: Acc_r, Acc_f, ZRF, RT and MIA-efficacy of every method incl. SalUn."""
    root = Path(results_dir)
    mia = mia_methods(root, preset, dataset, backbone)
    rows = []
    for m in method_names():
        res = read_result(root, preset, dataset, backbone, m)
        mi = mia.get(m) or {}
        rows.append({
            "method": label(m),
            "Acc_r ↑ (%)": num(res and res.get("acc_r")), "Acc_f ↓ (%)": num(res and res.get("acc_f")),
            zrf_header(dataset, "ZRF ↑"): zrf_num(res and res.get("zrf"), dataset),
            "RT ↑ (epochs)": NOT_RUN if res is None else NOT_REPORTED if m == "original" else result_rt(res),
            "MIA-efficacy ↑ (%)": num(mi.get("mia_efficacy"), 1, 100.0),
            "attack accuracy (%)": num(mi.get("attack_accuracy"), 1, 100.0),
            "classes where the attack beats chance": (NOT_RUN if "informative_classes" not in mi
                                                      else f"{mi['informative_classes']} / {len(mi.get('per_class', []))}"),
            "MIA-efficacy on those (%)": _informative_efficacy(mi),
            **{f"MIA ({f}) (%)": num(v.get("mia_efficacy"), 1, 100.0)
               for f, v in (mi.get("by_feature") or {}).items() if f != mi.get("feature")},
            "configuration key": _run_key(res) or NOT_RUN,
        })
    return pd.DataFrame(rows).set_index("method").fillna(NOT_RUN)


def _informative_efficacy(mi: dict[str, Any]) -> str:
    """MIA-efficacy over the classes where the attack beats chance; where it beats chance in
    none, the mean is undefined, and the cell says so (it did run)."""
    if mi.get("informative_classes") == 0:
        return f"undefined: the attack beats chance in 0 of {len(mi.get('per_class', []))} classes"
    return num(mi.get("mia_efficacy_informative"), 1, 100.0)


def methods_views(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """``methods_frame`` as two tables that fit the text column: the scores, then the attack."""
    attack = [c for c in frame.columns
              if c.startswith(("attack", "classes where", "MIA-efficacy on", "MIA (", "configuration"))]
    return [frame.drop(columns=attack), frame[attack]]


SCORECARD_LABELS = {"ua": "UA", "ra": "RA", "ta": "TA", "mia": "MIA-efficacy"}


def mia_methods(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> dict[str, Any]:
    """``mia.json``'s per-method entries (scorecards included); empty when it is not run."""
    return (read_result(Path(results_dir), preset, dataset, backbone, "mia") or {}).get("methods", {})


def average_gaps(mia: dict[str, Any]) -> dict[str, float | None]:
    """Each method's mean absolute gap to the retrained model over the scorecard's metrics (%
    points), from ``mia_methods``; None where the method or the retrained model lacks one."""
    ref = (mia.get("retrained") or {}).get("scorecard") or {}
    out: dict[str, float | None] = {}
    for m in method_names():
        if m == "retrained":
            continue
        card = (mia.get(m) or {}).get("scorecard") or {}
        gaps = [abs(card[k] - ref[k]) for k in SCORECARD if card.get(k) is not None and ref.get(k) is not None]
        out[m] = sum(gaps) / len(gaps) if len(gaps) == len(SCORECARD) else None
    return out


def gap_findings(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> str:
    """One sentence under the gap table, read off its numbers: which unlearning method comes
    closest to retraining and where WF-Net stands."""
    gaps = average_gaps(mia_methods(results_dir, preset, dataset, backbone))
    average = {m: g for m, g in gaps.items() if g is not None and m != "original"}
    if not average:
        return "_No gap can be formed yet: the retrained model's or the methods' scorecards are not run._"
    ranked = sorted(average, key=lambda m: average[m])
    best = ranked[0]
    text = f"Closest to the retrained model here: **{label(best)}** (average gap {average[best]:.2f} points)"
    if "wfnet" in average and best != "wfnet":
        text += f"; WF-Net ranks {ranked.index('wfnet') + 1} of {len(ranked)} ({average['wfnet']:.2f})"
    if gaps.get("original") is not None:
        text += f"; the original model, which forgot nothing, is {gaps['original']:.2f} away"
    return text + "."


def gap_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """The field's scorecard (SalUn, ICLR 2024): UA, RA, TA, MIA-efficacy (%) of every method, each
    with its absolute gap to the retrained model in parentheses, their average gap (lower = closer
    to retraining) and the unlearning seconds. Gaps need the retrained model's MIA."""
    root = Path(results_dir)
    mia = mia_methods(root, preset, dataset, backbone)
    ref = (mia.get("retrained") or {}).get("scorecard") or {}
    average = average_gaps(mia)
    rows = []
    for m in method_names():
        card = (mia.get(m) or {}).get("scorecard") or {}
        row: dict[str, str] = {"method": label(m)}
        for k in SCORECARD:
            value = card.get(k)
            gap = (f" ({abs(value - ref[k]):.1f})" if value is not None and ref.get(k) is not None and m != "retrained"
                   else "")
            row[f"{SCORECARD_LABELS[k]} (%)"] = NOT_RUN if value is None else f"{value:.1f}{gap}"
        row["Avg. gap ↓"] = (NOT_REPORTED if m == "retrained" else
                             NOT_RUN if average.get(m) is None else f"{average[m]:.2f}")
        prov = (read_result(root, preset, dataset, backbone, m) or {}).get("provenance") or {}
        seconds = prov.get("unlearn_wall_seconds_total", prov.get("train_wall_seconds") if m == "original" else None)
        row["unlearning (s)"] = NOT_REPORTED if m == "original" else num(seconds)
        row["device"] = prov.get("device", NOT_RUN)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def cost_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Any:
    """Wall seconds of every method (unlearning, total with scoring and relearn time), and what
    measuring MIA took where it was not measured on each model as it was made (original, WF-Net)."""
    root = Path(results_dir)
    mia = mia_methods(root, preset, dataset, backbone)
    rows = []
    for m in method_names():
        prov = (read_result(root, preset, dataset, backbone, m) or {}).get("provenance") or {}
        per = prov.get("unlearn_wall_seconds_per_class")
        unlearn = prov.get("unlearn_wall_seconds_total", prov.get("train_wall_seconds") if m == "original" else None)
        mi = mia.get(m) or {}
        rows.append({"method": label(m),
                     "unlearning (s)": num(unlearn) if m != "original" else NOT_REPORTED,
                     "per class (s)": num(sum(per) / len(per)) if per else NOT_REPORTED if m in ("original", "wfnet") else num(None),
                     "result total (s)": num(prov.get("wall_seconds")),
                     "MIA measurement (s)": (num(mi.get("wall_seconds")) if mi.get("wall_seconds") is not None
                                             else "with each model" if mi else num(None)),
                     "device": prov.get("device", num(None))})
    mf = read_result(root, preset, dataset, backbone, "multiforget")
    if mf:
        prov = mf.get("provenance") or {}
        rows.append({"method": "WF-Net class sets (all pairs + triples, both combinations)",
                     "unlearning (s)": "0 (no training)", "per class (s)": NOT_REPORTED,
                     "result total (s)": num(prov.get("wall_seconds")), "MIA measurement (s)": NOT_REPORTED,
                     "device": prov.get("device", "?")})
    return pd.DataFrame(rows).set_index("method")


def multiforget_findings(mf: dict[str, Any] | None) -> str:
    """Plain-language summary of where combining rows degrades, computed from the file."""
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
                f"- **{size} classes, {comb}** ({s['n_sets']} sets): Acc_f {num(c['acc_f'])} % "
                f"(single rows {num(s['single_acc_f'])} %, {c['sets_acc_f_above_single']} sets forget worse than "
                f"their single rows), Acc_r {num(c['acc_r'])} % against {num(s['single_acc_r'])} % for the single "
                f"rows and {num(s['original_acc_r'])} % for the original: a mean drop of "
                f"{num(c['acc_r_drop_vs_single'])} points{worst}.")
    return "\n".join(lines)


def mia_caveat(mia: dict[str, Any] | None) -> str:
    """Which methods' MIA numbers rest on an attack that is at chance for most classes."""
    if not mia:
        return f"_MIA: {NOT_RUN}._"
    known = {m: v for m, v in mia.get("methods", {}).items() if v.get("informative_classes") is not None}
    if not known:
        return "_Whether the attack beats chance was not recorded in this result file._"
    weak = [label(m) for m, v in known.items() if 2 * v["informative_classes"] < len(v.get("per_class", []))]
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
    for name in (*method_names(), "multiforget", "mia"):
        k = _run_key(read_result(root, preset, dataset, backbone, name))
        if k:
            keys.setdefault(k, []).append(name)
    if len(keys) <= 1:
        return ""
    parts = "; ".join(f"`{k}`: {', '.join(v)}" for k, v in keys.items())
    return (f"**Mixed configurations:** these files were computed under different configuration keys ({parts}), "
            "so their rows are not directly comparable until `wfnet reproduce` and `run_beyond` are rerun.")

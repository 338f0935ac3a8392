"""The Table 1 page (notebooks/table1.py): the paper's Table 1 beside our runs, the long view the
book shows, and the README's full-width CPU runs (results/measured/) that feed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import paper_values as pv
from ..experiments.results import read_result, result_seed, retrained_class_path, seed_results
from ..methods import METHODS, label
from ..methods.untrain import untrain_defaults
from .format import (
    NOT_REPORTED,
    NOT_RUN,
    PAPER,
    Source,
    backbone_label,
    forget_short,
    mean_std,
    num,
    paper_num,
    result_rt,
    seeds_label,
    short_commit,
    source_label,
    span,
    untrain_choice,
    zrf_digits,
    zrf_header,
    zrf_num,
)
from .sources import default_sources, discover_sources, measured_runs, table_backbones, table_methods


def table1_metrics(paper_dataset: str | None) -> list[str]:
    scale, _ = zrf_digits(paper_dataset)
    zrf = "ZRF ↑ (×100)" if scale == 100.0 else "ZRF ↑"
    return ["Acc_r ↑ (%)", "Acc_f ↓ (%)", zrf, "RT ↑ (epochs)"]


def table1(results_dir: Path | str, paper_dataset: str | None, sources: Sequence[Source] | None = None,
           backbones: Sequence[str] | None = None, preset: str = "smoke") -> pd.DataFrame:
    """Table 1 for one of the paper's datasets: rows (backbone, method), columns (metric, source).

    Source ``paper`` holds the paper's printed values; every other source is one of our
    (preset, dataset) runs. ZRF uses the paper's printed scale for that dataset.
    """
    results_dir = Path(results_dir)
    if sources is None:
        sources = (default_sources(results_dir, paper_dataset, preset) if paper_dataset
                   else [(preset, "?")])
    metrics = table1_metrics(paper_dataset)
    scale, zd = zrf_digits(paper_dataset)
    cols = ([PAPER] if paper_dataset else []) + [source_label(s) for s in sources]
    rows, index = [], []
    for backbone in table_backbones(results_dir, sources, backbones):
        for method in table_methods(results_dir):
            row: dict[tuple[str, str], str] = {}
            if paper_dataset:
                cell = pv.table1_cell(backbone, method, paper_dataset)
                values = ([NOT_REPORTED] * 4 if cell is None else
                          [paper_num(cell.acc_r, 2 if _two(cell.acc_r) else 1),
                           paper_num(cell.acc_f, 2 if _two(cell.acc_f) else 1),
                           paper_num(cell.zrf, zd), cell.rt or NOT_REPORTED])
                row.update({(m, PAPER): v for m, v in zip(metrics, values)})
            for src in sources:
                runs = seed_results(results_dir, src[0], src[1], backbone, method)
                partial = partial_retrained(results_dir, src[0], src[1], backbone) if method == "retrained" else 0
                values = _our_row(runs, method, partial, scale, zd, count=True)
                row.update({(m, source_label(src)): v for m, v in zip(metrics, values)})
            rows.append(row)
            index.append((backbone_label(backbone), label(method)))
    columns = pd.MultiIndex.from_tuples([(m, c) for m in metrics for c in cols], names=["metric", "source"])
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["backbone", "method"]),
                        columns=columns)


def partial_retrained(results_dir: Path, preset: str, dataset: str, backbone: str) -> int:
    """How many classes of the retrained baseline are done while its result file is not."""
    folder = retrained_class_path(results_dir, preset, dataset, backbone, 0).parent
    return len(list(folder.glob("class_*.json"))) if folder.is_dir() else 0


def _two(v: float | None) -> bool:
    """The paper prints a few small accuracies with two decimals (9.68, 1.89): keep them so."""
    return v is not None and round(v, 1) != v


# -- Table 1 as the book shows it: long, narrow, rows of ours only where we ran something ---------

TABLE1_VIEW_COLUMNS = ("Acc_r ↑", "Acc_f ↓", "ZRF ↑", "RT ↑")


def _our_row(runs: Sequence[dict[str, Any]], method: str, partial: int, scale: float, zd: int,
             count: bool = False) -> list[str]:
    """Acc_r, Acc_f, ZRF, RT of one result, or mean ± std over the results of several seeds
    (``count``: with their number after each mean)."""
    if not runs and partial:
        return [f"{partial} of 10 classes", "(partial)", "(partial)", "(partial)"]  # never a mean of fewer
    if not runs:
        return [NOT_RUN] * 4
    if method == "original":
        rt = NOT_REPORTED
    elif len(runs) > 1 and not any(r.get("rt_failed") for r in runs):
        rt = mean_std([r.get("rt") for r in runs], 1, count=count)
    else:  # a failed class makes RT a bound, not a number to average: seed 0's, as printed
        res = next((r for r in runs if result_seed(r) == 0), runs[0])  # the lowest seed when 0 has none
        rt = NOT_RUN if res.get("rt") is None and res.get("rt_failed") is None else result_rt(res)
        rt = rt if len(runs) == 1 else f"{rt} (seed {result_seed(res)})"
    return [mean_std([r.get("acc_r") for r in runs], 1, count=count),
            mean_std([r.get("acc_f") for r in runs], 2, count=count),
            mean_std([r.get("zrf") for r in runs], zd, scale, count=count), rt]


def table1_view(results_dir: Path | str, paper_dataset: str, preset: str = "smoke") -> tuple[pd.DataFrame, list[str]]:
    """Table 1 of one paper dataset as the book shows it: rows (backbone, method, source), columns
    Acc_r, Acc_f, ZRF, RT. For every backbone the paper's row comes first, then one row per run of
    ours that has a result for that backbone (the presets found in ``results/``, and the README's
    full-width CPU runs from ``results/measured/``); a backbone none of ours ran keeps its paper
    rows only. Returns the frame and the notes that say what was left out.
    """
    results_dir = Path(results_dir)
    scale, zd = zrf_digits(paper_dataset)
    sources = discover_sources(results_dir, paper_dataset)
    measured = measured_table1(results_dir, paper_dataset)
    rows, index, without, left_out = [], [], [], []
    shown = table_methods(results_dir)
    for backbone in table_backbones(results_dir, sources, None):
        ours = [s for s in sources if any(read_result(results_dir, s[0], s[1], backbone, m) is not None
                                          or (m == "retrained" and partial_retrained(results_dir, s[0], s[1], backbone))
                                          for m in shown)]
        mine = {d: runs for (d, b), runs in measured.items() if b == backbone}
        if not ours and not mine:
            without.append(backbone_label(backbone))
        for method in shown:
            cell = pv.table1_cell(backbone, method, paper_dataset)
            if METHODS.get(method).in_paper and (cell is not None or ours or mine):
                rows.append([NOT_REPORTED] * 4 if cell is None else
                            [paper_num(cell.acc_r, 2 if _two(cell.acc_r) else 1),
                             paper_num(cell.acc_f, 2 if _two(cell.acc_f) else 1),
                             paper_num(cell.zrf, zd), cell.rt or NOT_REPORTED])
                index.append((backbone_label(backbone), label(method), PAPER))
            for src in ours:
                runs = seed_results(results_dir, src[0], src[1], backbone, method, left_out)
                partial = partial_retrained(results_dir, src[0], src[1], backbone) if method == "retrained" else 0
                rows.append(_our_row(runs, method, partial, scale, zd))
                index.append((backbone_label(backbone), label(method), seeds_label(source_label(src), len(runs))))
            for dataset, by_method in mine.items():  # the README's runs: original and WF-Net only
                if method in by_method:
                    rows.append(_our_row([by_method[method]], method, 0, scale, zd))
                    index.append((backbone_label(backbone), label(method), measured_label(dataset)))
    notes = []
    if without:
        notes.append(f"No run of ours for {', '.join(without)} on {paper_dataset}: paper rows only.")
    if not sources and not measured:
        notes.append(f"No result of ours for {paper_dataset} yet: every row is the paper's.")
    notes += left_out
    idx = pd.MultiIndex.from_tuples(index, names=["backbone", "method", "source"])
    return pd.DataFrame(rows, index=idx, columns=list(TABLE1_VIEW_COLUMNS)), notes


def table1_caption(paper_dataset: str) -> str:
    scale, _ = zrf_digits(paper_dataset)
    zrf = "ZRF ×100, as the paper prints it for this dataset" if scale == 100.0 else "ZRF in [0, 1]"
    return (f"Table 1, {paper_dataset}. Acc_r and Acc_f in %, {zrf}, RT in epochs with the number of classes "
            "not relearned within the cap in parentheses. † single-class method (one run per class).")


def view_styled(df: pd.DataFrame, caption: str | None = None) -> Any:
    """A long table (index = row labels) for the book: the paper's rows greyed, 'not run' dimmed,
    no index names, headers and labels allowed to wrap so it fits the text column."""
    sty = df.style
    if caption:
        sty = sty.set_caption(caption)
    if isinstance(df.index, pd.MultiIndex) and "source" in (df.index.names or []):
        paper = [i for i in df.index if i[-1] == PAPER]
        sty = sty.set_properties(subset=pd.IndexSlice[paper, :], **{"background-color": "#f0f0f0", "color": "#444"})
    sty = sty.map(lambda v: "color: #999; font-style: italic" if v == NOT_RUN else "")
    sty = sty.set_table_styles([
        {"selector": "td", "props": "white-space: nowrap; padding: 2px 6px; text-align: right;"},
        {"selector": "th", "props": "padding: 2px 6px; white-space: normal; text-align: left; vertical-align: top;"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 90%;"},
    ], overwrite=False)
    return sty.hide(axis="index", names=True).set_table_attributes('class="wf-table wf-view"')


# -- the README's full-width CPU runs --------------------------------------------------------------

def measured_label(dataset: str) -> str:
    return f"ours · full width, CPU · {dataset}"


def _untrain_of(runs: list[dict[str, Any]], evaluate: dict[str, Any]) -> dict[str, Any] | None:
    """The untraining run whose WF checkpoint an evaluate step scored (``<step>-evaluate``)."""
    name = evaluate["step"].removesuffix("-evaluate")
    return next((r for r in runs if r["step"] == name and r["kind"] == "untrain"), None)


def _config_is_default(ucfg: dict[str, Any], backbone: str) -> bool:
    want = untrain_defaults(backbone).as_dict()
    skip = {"epochs", "seed"}
    return bool(ucfg) and all(ucfg.get(k) == v for k, v in want.items() if k not in skip)


def measured_table1(results_dir: Path | str, paper_dataset: str) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """{(dataset, backbone): {"original": scores, "wfnet": scores}} from the measured runs: the
    evaluation of an original model, and the last evaluated untraining of that same original with
    the current default configuration. Scores carry acc_r, acc_f, zrf (RT was not measured)."""
    runs = measured_runs(results_dir)
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for ev in runs:
        if ev["kind"] != "original" or pv.paper_dataset_for(ev["dataset"]) != paper_dataset:
            continue
        ckpt = (ev["blob"].get("provenance") or {}).get("checkpoint")
        wf = None
        for r in runs:
            un = _untrain_of(runs, r) if r["kind"] == "wf" else None
            prov = (un or {}).get("blob", {}).get("provenance") or {}
            if un and prov.get("checkpoint") == ckpt and _config_is_default(prov.get("untrain_config") or {}, r["backbone"]):
                wf = r
        key = (ev["dataset"], ev["backbone"])
        out[key] = {"original": _scores(ev["blob"])}
        if wf is not None:
            out[key]["wfnet"] = _scores(wf["blob"])
    return out


def _scores(blob: dict[str, Any]) -> dict[str, Any]:
    return {k: blob.get(k) for k in ("acc_r", "acc_f", "zrf", "per_class")} | {"rt": None, "rt_failed": None}


def measured_table(results_dir: Path | str) -> pd.DataFrame:
    """The README's "Measured here" runs, one row per step, rendered from their metrics.json."""
    runs = measured_runs(results_dir)
    rows = []
    for r in runs:
        blob, prov = r["blob"], r["blob"].get("provenance") or {}
        if r["kind"] == "untrain":
            continue  # shown with its evaluation
        un = _untrain_of(runs, r) if r["kind"] == "wf" else None
        uprov = (un or {}).get("blob", {}).get("provenance") or {}
        ucfg = uprov.get("untrain_config") or {}
        per = [p["acc_r"] for p in blob.get("per_class") or [] if p.get("acc_r") is not None]
        if r["kind"] == "train":
            what = f"train ({(prov.get('train_config') or {}).get('epochs', '?')} epochs)"
        elif r["kind"] == "original":
            what = "evaluate the original"
        else:
            what = (f"untrain {ucfg.get('epochs', '?')} ep, {forget_short(ucfg)}, clip {untrain_choice(ucfg, 'clip_grad_norm')}"
                    f" {ucfg.get('clip_scope', 'global').replace('_', ' ')}")
        wall = float(prov.get("wall_seconds") or 0) + float(uprov.get("wall_seconds") or 0)
        rows.append({
            "step": r["step"].split("-", 1)[0], "what": what,
            "Acc_r": num(blob.get("acc_r"), 2) if r["kind"] != "train" else f"test {num(blob.get('test_acc'), 2)}",
            "Acc_f": num(blob.get("acc_f"), 2) if r["kind"] != "train" else NOT_REPORTED,
            zrf_header(prov.get("dataset")): (zrf_num(blob.get("zrf"), prov.get("dataset")) if r["kind"] != "train"
                                              else NOT_REPORTED),
            "Acc_r per class": span(per) if per and r["kind"] == "wf" else NOT_REPORTED,
            "wall (s)": f"{wall:.0f}",
            "commit": short_commit(str(uprov.get("git_commit") or prov.get("git_commit", "?")))[:9],
        })
    return pd.DataFrame(rows)

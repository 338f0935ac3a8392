"""Result files -> the book's tables and figures, with the paper's numbers beside ours.

The book's report notebooks are thin callers of this module, so what a page shows can be tested
without building the book. Rules that keep the numbers honest:

- the paper's values (``wfnet.paper_values``) only ever appear in columns labelled ``paper``;
- our values come only from result files under ``results/`` and sit in columns labelled with the
  preset and dataset that produced them (e.g. ``ours · smoke · mnist-5k``);
- a cell whose result file (or field) is missing reads ``not run``, never a blank or a guess;
- every table comes with the wall time and device of each result behind it (``runs_table``).
"""

from __future__ import annotations

import base64
import html as _html
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from .. import paper_values as pv
from ..experiments.results import (
    RELATIONSHIPS,
    iter_results,
    read_result,
    result_path,
    result_seed,
    retrained_class_path,
    seed_results,
)
from ..methods import METHODS, label, method_names
from .tuning import config_text as _baseline_config_text

NOT_RUN = "not run"
NOT_REPORTED = "–"  # the paper prints "-": no value exists (e.g. RT of the original model)
PAPER = "paper"

Source = tuple[str, str]  # (preset, dataset) that produced a column of ours


# -- paths ------------------------------------------------------------------------------------

def project_root(start: Path | str | None = None) -> Path:
    """The book's root (holds _config.yml and pyproject.toml), from wherever a notebook runs."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "_config.yml").is_file() and (d / "pyproject.toml").is_file():
            return d
    return here


def resolve(path: Path | str, start: Path | str | None = None) -> Path:
    """A notebook parameter path: absolute as given, relative to the project root otherwise."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root(start) / p


# -- formatting ---------------------------------------------------------------------------------

def _num(value: Any, digits: int, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_RUN
    return f"{float(value) * scale:.{digits}f}"


def _mean_std(values: Sequence[Any], digits: int, scale: float = 1.0, count: bool = False) -> str:
    """Mean ± sample std over seeds; ``not run`` unless every seed has the value, so a
    mean is never taken over fewer seeds than the row says. ``count``: the number of seeds
    follows a mean (for tables whose row labels do not say it)."""
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return NOT_RUN
    if len(values) == 1:
        return _num(values[0], digits, scale)
    xs = [float(v) * scale for v in values]
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}" + (f" ({len(xs)} seeds)" if count else "")


def seeds_label(label_: str, n: int) -> str:
    """A source label with the number of seeds its cells average (nothing for one seed)."""
    return label_ if n <= 1 else f"{label_} · mean ± std of {n} seeds"


def _paper_num(value: float | None, digits: int) -> str:
    return NOT_REPORTED if value is None else f"{value:.{digits}f}"


def format_rt(rt: float | None, failed: int | None, n_classes: int | None = None) -> str:
    """RT as the paper prints it: mean relearn epochs, classes not relearned in parentheses;
    "> cap (n)" when no class relearned within the cap (the mean is then the cap itself)."""
    if rt is None and failed is None:
        return NOT_RUN
    if rt is not None and failed and n_classes and failed >= n_classes:
        return f"> {rt:g} ({failed})"
    mean = NOT_REPORTED if rt is None else f"{rt:.1f}"
    return mean if failed is None else f"{mean} ({failed})"


def result_rt(res: dict[str, Any]) -> str:
    """``format_rt`` of a result file (the number of classes read from its per-class rows)."""
    rows = [p for p in res.get("per_class") or [] if p.get("rt") is not None]
    return format_rt(res.get("rt"), res.get("rt_failed"), len(rows) or None)


def source_label(source: Source) -> str:
    preset, dataset = source
    return f"ours · {preset} · {dataset}"  # "ours" first: a preset may itself be named "paper"


def zrf_digits(paper_dataset: str | None) -> tuple[float, int]:
    """Scale and decimals of the ZRF column, matching how the paper prints that dataset."""
    scale = pv.ZRF_SCALE.get(paper_dataset or "", 1.0)
    return scale, (1 if scale == 100.0 else 2)


# -- which of our runs feed a table -------------------------------------------------------------

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


def _backbones(results_dir: Path, sources: Sequence[Source], backbones: Sequence[str] | None) -> list[str]:
    if backbones is not None:
        return list(backbones)
    ours = {r["backbone"] for r in method_results(results_dir)
            if (r.get("preset"), r.get("dataset")) in set(sources)}
    return list(pv.PAPER_BACKBONES) + sorted(ours - set(pv.PAPER_BACKBONES))


def _label(backbone: str) -> str:
    return pv.BACKBONE_LABELS.get(backbone, backbone)


# -- Table 1 ------------------------------------------------------------------------------------

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
    for backbone in _backbones(results_dir, sources, backbones):
        for method in table_methods(results_dir):
            row: dict[tuple[str, str], str] = {}
            if paper_dataset:
                cell = pv.table1_cell(backbone, method, paper_dataset)
                values = ([NOT_REPORTED] * 4 if cell is None else
                          [_paper_num(cell.acc_r, 2 if _two(cell.acc_r) else 1),
                           _paper_num(cell.acc_f, 2 if _two(cell.acc_f) else 1),
                           _paper_num(cell.zrf, zd), cell.rt or NOT_REPORTED])
                row.update({(m, PAPER): v for m, v in zip(metrics, values)})
            for src in sources:
                runs = seed_results(results_dir, src[0], src[1], backbone, method)
                partial = partial_retrained(results_dir, src[0], src[1], backbone) if method == "retrained" else 0
                values = _our_row(runs, method, partial, scale, zd, count=True)
                row.update({(m, source_label(src)): v for m, v in zip(metrics, values)})
            rows.append(row)
            index.append((_label(backbone), label(method)))
    columns = pd.MultiIndex.from_tuples([(m, c) for m in metrics for c in cols], names=["metric", "source"])
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["backbone", "method"]),
                        columns=columns)


# -- Table 1 as the book shows it: long, narrow, rows of ours only where we ran something ---------

TABLE1_VIEW_COLUMNS = ("Acc_r ↑", "Acc_f ↓", "ZRF ↑", "RT ↑")
MEASURED = "measured"  # pseudo-preset of the README's full-width CPU runs (results/measured/)


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
        rt = _mean_std([r.get("rt") for r in runs], 1, count=count)
    else:  # a failed class makes RT a bound, not a number to average: seed 0's, as printed
        res = next((r for r in runs if result_seed(r) == 0), runs[0])  # the lowest seed when 0 has none
        rt = NOT_RUN if res.get("rt") is None and res.get("rt_failed") is None else result_rt(res)
        rt = rt if len(runs) == 1 else f"{rt} (seed {result_seed(res)})"
    return [_mean_std([r.get("acc_r") for r in runs], 1, count=count),
            _mean_std([r.get("acc_f") for r in runs], 2, count=count),
            _mean_std([r.get("zrf") for r in runs], zd, scale, count=count), rt]


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
    for backbone in _backbones(results_dir, sources, None):
        ours = [s for s in sources if any(read_result(results_dir, s[0], s[1], backbone, m) is not None
                                          or (m == "retrained" and partial_retrained(results_dir, s[0], s[1], backbone))
                                          for m in shown)]
        mine = {d: runs for (d, b), runs in measured.items() if b == backbone}
        if not ours and not mine:
            without.append(_label(backbone))
        for method in shown:
            cell = pv.table1_cell(backbone, method, paper_dataset)
            if METHODS.get(method).in_paper and (cell is not None or ours or mine):
                rows.append([NOT_REPORTED] * 4 if cell is None else
                            [_paper_num(cell.acc_r, 2 if _two(cell.acc_r) else 1),
                             _paper_num(cell.acc_f, 2 if _two(cell.acc_f) else 1),
                             _paper_num(cell.zrf, zd), cell.rt or NOT_REPORTED])
                index.append((_label(backbone), label(method), PAPER))
            for src in ours:
                runs = seed_results(results_dir, src[0], src[1], backbone, method, left_out)
                partial = partial_retrained(results_dir, src[0], src[1], backbone) if method == "retrained" else 0
                rows.append(_our_row(runs, method, partial, scale, zd))
                index.append((_label(backbone), label(method), seeds_label(source_label(src), len(runs))))
            for dataset, by_method in mine.items():  # the README's runs: original and WF-Net only
                if method in by_method:
                    rows.append(_our_row([by_method[method]], method, 0, scale, zd))
                    index.append((_label(backbone), label(method), measured_label(dataset)))
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


# -- the README's full-width CPU runs (results/measured/<dataset>/<backbone>/<step>/metrics.json) -

def measured_label(dataset: str) -> str:
    return f"ours · full width, CPU · {dataset}"


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


def _untrain_of(runs: list[dict[str, Any]], evaluate: dict[str, Any]) -> dict[str, Any] | None:
    """The untraining run whose WF checkpoint an evaluate step scored (``<step>-evaluate``)."""
    name = evaluate["step"].removesuffix("-evaluate")
    return next((r for r in runs if r["step"] == name and r["kind"] == "untrain"), None)


def _config_is_default(ucfg: dict[str, Any], backbone: str) -> bool:
    from ..methods.untrain import untrain_defaults

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
            what = (f"untrain {ucfg.get('epochs', '?')} ep, {_forget_short(ucfg)}, clip {_choice(ucfg, 'clip_grad_norm')}"
                    f" {ucfg.get('clip_scope', 'global').replace('_', ' ')}")
        wall = float(prov.get("wall_seconds") or 0) + float(uprov.get("wall_seconds") or 0)
        rows.append({
            "step": r["step"].split("-", 1)[0], "what": what,
            "Acc_r": _num(blob.get("acc_r"), 2) if r["kind"] != "train" else f"test {_num(blob.get('test_acc'), 2)}",
            "Acc_f": _num(blob.get("acc_f"), 2) if r["kind"] != "train" else NOT_REPORTED,
            "ZRF": _num(blob.get("zrf"), 3) if r["kind"] != "train" else NOT_REPORTED,
            "Acc_r per class": f"{min(per):.1f}–{max(per):.1f}" if per and r["kind"] == "wf" else NOT_REPORTED,
            "wall (s)": f"{wall:.0f}",
            "commit": _short_commit(str(uprov.get("git_commit") or prov.get("git_commit", "?")))[:9],
        })
    return pd.DataFrame(rows)


# -- what scale each number comes from ------------------------------------------------------------

PAPER_SCALE_DATASETS = {"MNIST": "mnist", "CIFAR-10": "cifar10"}  # our datasets of the paper preset


def paper_cells(results_dir: Path | str, preset: str = "paper") -> dict[str, tuple[int, int]]:
    """Table 1 cells (backbone x method) of the paper preset measured per paper dataset: (k, n)."""
    out = {}
    for paper_dataset, dataset in PAPER_SCALE_DATASETS.items():
        n = len(pv.PAPER_BACKBONES) * len(method_names(in_paper=True))
        k = sum(read_result(Path(results_dir), preset, dataset, b, m) is not None
                for b in pv.PAPER_BACKBONES for m in method_names(in_paper=True))
        out[paper_dataset] = (k, n)
    return out


def _describe_preset(results_dir: Path, preset: str) -> str:
    """'ResNet-18 at width 1/8, 2 training epochs, 4,000 training images, cpu (x86_64, 2 threads)'
    for every (dataset, backbone) the preset ran, read from the original model's provenance."""
    parts = []
    for res in method_results(results_dir):
        if res["preset"] != preset or res["method"] != "original":
            continue
        prov = res.get("provenance") or {}
        width = prov.get("width")
        w = "full width" if width == 1.0 else f"width {_fraction(width)}" if width else "width ?"
        epochs = (prov.get("train_config") or {}).get("epochs", "?")
        parts.append(f"{_label(res['backbone'])} on {res['dataset']} at {w}, {epochs} training epochs, "
                     f"{int(prov.get('train_size', 0)):,} training images, on {prov.get('device', '?')}")
    return "; ".join(parts)


def _fraction(w: float) -> str:
    for d in (2, 4, 8, 16):
        if abs(w * d - 1) < 1e-9:
            return f"1/{d}"
    return f"{w:g}"


INTERACTIVE_EVAL = "runs/book-interactive/mnist-5k/resnet18/evaluate/metrics.json"  # `make book` writes it


def interactive_summary(evaluation: Path) -> str:
    """One sentence on the interactive page's model, from its `wfnet evaluate` metrics.json."""
    if not evaluation.is_file():
        return ""
    blob = json.loads(evaluation.read_text())
    prov = blob.get("provenance") or {}
    per = blob.get("per_class") or []
    acc_r = [p["acc_r"] for p in per if p.get("acc_r") is not None]
    if not acc_r or blob.get("acc_r") is None or blob.get("acc_f") is None:
        return ""
    width = prov.get("width")
    w = f"width {_fraction(width)}" if isinstance(width, (int, float)) and width != 1.0 else "full width"
    return (f"its own {_label(str(prov.get('backbone', '?')))} at {w} on {_html.escape(str(prov.get('dataset', '?')))}, "
            f"trained by <code>make book</code>; <code>wfnet evaluate</code>: Acc_r {blob['acc_r']:.2f}, "
            f"Acc_f {blob['acc_f']:.2f}, every class's retain accuracy {min(acc_r):.1f}–{max(acc_r):.1f}%.")


def status_html(results_dir: Path | str, page: str = "intro") -> str:
    """The box at the top of a results page: which scale each of its numbers comes from, and how
    many of the paper's cells are measured at paper scale, all read from ``results/``."""
    results_dir = Path(results_dir)
    presets = sorted({r["preset"] for r in method_results(results_dir)})
    cells = paper_cells(results_dir)
    k = sum(c[0] for c in cells.values())
    n = sum(c[1] for c in cells.values())
    items = []
    for preset in presets:
        what = _describe_preset(results_dir, preset)
        note = (" Shows that the pipeline runs end to end; its numbers are not the paper's claims."
                if preset == "smoke" else "")
        items.append(f"<li><code>ours · {_html.escape(preset)} · …</code>: {_html.escape(what) or 'no original model'}."
                     f"{note}</li>")
    measured = measured_runs(results_dir)
    if measured:
        ds = sorted({(r["dataset"], r["backbone"]) for r in measured})
        items.append("<li><code>ours · full width, CPU · …</code>: the README's command-line runs ("
                     + ", ".join(f"full-width {_label(b)} on {d}" for d, b in ds)
                     + f", {len(measured)} result files under <code>results/measured/</code>): original and WF-Net"
                     " only, no relearn time.</li>")
    per = ", ".join(f"{d}: {c[0]} of {c[1]}" for d, c in cells.items())
    items.append(f"<li><b>Paper scale</b> (preset <code>paper</code>: full-width models, the paper's protocol, "
                 f"on a GPU): <b>{k} of {n}</b> Table 1 cells measured for MNIST and CIFAR-10 ({per}); "
                 + ("no number of ours on these pages is at paper scale yet." if k == 0 else
                    "the other cells read “not run”.") + "</li>")
    if page == "intro":
        card = interactive_summary(project_root(results_dir) / INTERACTIVE_EVAL)
        if card:
            items.append(f"<li>The interactive page: {card}</li>")
    if page == "table2":
        t2 = sum(read_result(results_dir, "paper", d, b, "wfnet") is not None
                 for d in PAPER_SCALE_DATASETS.values() for b in pv.PAPER_BACKBONES)
        items.append(f"<li>Table 2 at paper scale: {t2} of {len(PAPER_SCALE_DATASETS) * len(pv.PAPER_BACKBONES)} "
                     "WF-Net runs (MNIST and CIFAR-10).</li>")
    if page == "figures":
        f = sum(relationships_path(results_dir, "paper", "cifar10", b).is_file() for b in ("vgg16", "resnet18", "vit_tiny"))
        items.append(f"<li>Figures 3 and 4 need paper-scale CIFAR-10 runs of VGG-16, ResNet-18 and ViT-T: {f} of 3 "
                     "measured.</li>")
    title = {"intro": "What this build shows", "table1": "Where the numbers of this table come from",
             "table2": "Where the numbers of this table come from",
             "figures": "Where these figures come from"}.get(page, "What this page shows")
    body = "<ul>" + "".join(items) + "</ul>"
    return (f'<div class="admonition note wf-status"><p class="admonition-title">{title}</p>'
            f'<p><code>paper</code> rows and columns: the values printed in Poppi et al. (2024). Ours:</p>{body}</div>')


def partial_retrained(results_dir: Path, preset: str, dataset: str, backbone: str) -> int:
    """How many classes of the retrained baseline are done while its result file is not."""
    folder = retrained_class_path(results_dir, preset, dataset, backbone, 0).parent
    return len(list(folder.glob("class_*.json"))) if folder.is_dir() else 0


def _two(v: float | None) -> bool:
    """The paper prints a few small accuracies with two decimals (9.68, 1.89): keep them so."""
    return v is not None and round(v, 1) != v


# -- Table 2 ------------------------------------------------------------------------------------

def table2(results_dir: Path | str, paper_dataset: str | None, sources: Sequence[Source] | None = None,
           backbones: Sequence[str] | None = None, preset: str = "smoke") -> pd.DataFrame:
    """Table 2 (WF-Net insertion / deletion AUC): rows backbone, columns (metric, source)."""
    results_dir = Path(results_dir)
    if sources is None:
        sources = (default_sources(results_dir, paper_dataset, preset) if paper_dataset
                   else [(preset, "?")])
    metrics = ["Ins ↑", "Del ↓"]
    cols = ([PAPER] if paper_dataset else []) + [source_label(s) for s in sources]
    rows, index = [], []
    for backbone in _backbones(results_dir, sources, backbones):
        row: dict[tuple[str, str], str] = {}
        if paper_dataset:
            cell = pv.table2_cell(backbone, paper_dataset)
            row[(metrics[0], PAPER)] = NOT_REPORTED if cell is None else f"{cell[0]:.2f}"
            row[(metrics[1], PAPER)] = NOT_REPORTED if cell is None else f"{cell[1]:.2f}"
        for src in sources:
            runs = seed_results(results_dir, src[0], src[1], backbone, "wfnet")
            row[(metrics[0], source_label(src))] = _mean_std([r.get("insertion") for r in runs], 2, count=True)
            row[(metrics[1], source_label(src))] = _mean_std([r.get("deletion") for r in runs], 2, count=True)
        rows.append(row)
        index.append(_label(backbone))
    columns = pd.MultiIndex.from_tuples([(m, c) for m in metrics for c in cols], names=["metric", "source"])
    return pd.DataFrame(rows, index=pd.Index(index, name="backbone"), columns=columns)


def curves_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Insertion and deletion curves of a WF-Net result, long form (curve, fraction, value)."""
    res = read_result(Path(results_dir), preset, dataset, backbone, "wfnet")
    if not res or not res.get("insertion_curve") or not res.get("deletion_curve"):
        return None
    parts = []
    for curve in ("insertion", "deletion"):
        pts = res[f"{curve}_curve"]
        parts.append(pd.DataFrame({"curve": curve, "fraction": [float(p[0]) for p in pts],
                                   "value": [float(p[1]) for p in pts]}))
    return pd.concat(parts, ignore_index=True)


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


def _short_commit(commit: str) -> str:
    head, dirty, _ = commit.partition("+")
    return head[:12] + ("+" + _ if dirty else "")


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
            "backbone": _label(res.get("backbone", "?")),
            "method": FILE_LABELS.get(res.get("method", "")) or label(str(res.get("method"))),
            "device": prov.get("device", NOT_RUN if not prov else "unknown"),
            "wall time (s)": NOT_RUN if wall is None else f"{float(wall):.1f}",
            "train / test images": f"{prov.get('train_size', '?')} / {prov.get('test_size', '?')}",
            "width": prov.get("width", "?"), "seed": prov.get("seed", "?"),
            "date": prov.get("date", "?"), "git commit": _short_commit(str(prov.get("git_commit", "?"))),
            "torch": prov.get("torch", "?"), "cost": _cost(prov),
        })
    cols = ["preset", "dataset", "backbone", "method", "device", "wall time (s)", "train / test images",
            "width", "seed", "date", "git commit", "torch", "cost"]
    return pd.DataFrame(rows, columns=cols)


def per_class_table(results_dir: Path | str, preset: str, dataset: str, backbone: str,
                    method: str = "wfnet") -> pd.DataFrame | None:
    """Per-class Acc_r, Acc_f, ZRF (and RT when measured) of one result; None if not run."""
    res = read_result(Path(results_dir), preset, dataset, backbone, method)
    if not res or not res.get("per_class"):
        return None
    rows = []
    for p in res["per_class"]:
        row = {"class": p.get("cls"), "name": p.get("name", p.get("cls")),
               "Acc_r (%)": _num(p.get("acc_r"), 1), "Acc_f (%)": _num(p.get("acc_f"), 2),
               "ZRF": _num(p.get("zrf"), 3)}
        if method != "original" and "rt" in p:
            row["RT (epochs)"] = (NOT_RUN if p.get("rt") is None else
                                  f"{p['rt']:g}" + ("" if p.get("relearned", True) else " (not relearned)"))
        rows.append(row)
    return pd.DataFrame(rows)


# -- what an experiment notebook shows --------------------------------------------------------

def method_summary(results: dict[str, dict[str, Any]], paper_dataset: str | None = None) -> pd.DataFrame:
    """One row per method of a ``reproduce`` call: our scores, wall time and device."""
    scale, zd = zrf_digits(paper_dataset)
    rows = []
    for method, res in results.items():
        prov = res.get("provenance") or {}
        rows.append({
            "method": FILE_LABELS.get(method) or label(method),
            "Acc_r (%)": _num(res.get("acc_r"), 1), "Acc_f (%)": _num(res.get("acc_f"), 2),
            "ZRF" + (" (×100)" if scale == 100.0 else ""): _num(res.get("zrf"), zd, scale),
            "RT (epochs)": NOT_REPORTED if method == "original" else result_rt(res),
            "wall time (s)": _num(prov.get("wall_seconds"), 1), "device": prov.get("device", NOT_RUN),
        })
    return pd.DataFrame(rows)


def untrain_history(runs_dir: Path | str, preset: str, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Validation (and training) loss of WF-Net's untraining, from the cached WF checkpoint."""
    from ..checkpoint import load

    path = Path(runs_dir) / preset / dataset / backbone / "wfnet" / "wf.pt"
    if not path.is_file():
        return None
    history = load(path).meta.get("history") or []
    return pd.DataFrame(history) if history else None


# -- Figures 3 and 4: filter/class relationships --------------------------------------------------

def relationships_path(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> Path:
    return result_path(Path(results_dir), preset, dataset, backbone, "wfnet").parent / RELATIONSHIPS


def relationships_frame(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> pd.DataFrame | None:
    """relationships.csv (layer, filter, class, relevance) of a run, class names filled in."""
    path = relationships_path(results_dir, preset, dataset, backbone)
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    missing = {"layer", "filter", "class", "relevance"} - set(df.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    res = read_result(Path(results_dir), preset, dataset, backbone, "wfnet") or {}
    names = {int(p["cls"]): str(p.get("name", p["cls"])) for p in res.get("per_class", [])}
    if pd.api.types.is_integer_dtype(df["class"]) and names:
        df["class_name"] = df["class"].map(lambda c: names.get(int(c), str(c)))
    else:
        df["class_name"] = df["class"].astype(str)
    return df


def pick_layers(rel: pd.DataFrame, n: int) -> list[str]:
    """n layers spread evenly from first to last in network order (the paper picks at random)."""
    layers = list(dict.fromkeys(rel["layer"]))  # file order = network order
    if len(layers) <= n:
        return layers
    step = (len(layers) - 1) / max(1, n - 1)
    return [layers[round(i * step)] for i in range(n)]


def relationship_matrix(rel: pd.DataFrame, layer: str) -> pd.DataFrame:
    """classes x shared filters of one layer: relevance where the filter is in the class's top-k."""
    sub = rel[rel["layer"] == layer]
    order = list(dict.fromkeys(sub.sort_values("class")["class_name"]))
    mat = sub.pivot_table(index="class_name", columns="filter", values="relevance", aggfunc="max")
    mat = mat.reindex(order)
    mat.columns = [f"#{int(f)}" if str(f).isdigit() else str(f) for f in mat.columns]
    return mat


def plot_relationships(rel: pd.DataFrame, layer: str, ax: Any, title: str | None = None) -> Any:
    """One panel of Figure 3/4: which shared filters each class closes (blank = not in its top-k)."""
    import seaborn as sns

    mat = relationship_matrix(rel, layer)
    sns.heatmap(mat, ax=ax, cmap="rocket_r", vmin=0.0, vmax=1.0, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "relevance 1 − σ(α)", "shrink": 0.9})
    ax.set_xlabel(f"filter of {layer} in the top-10 of ≥ 2 classes", fontsize=10)
    ax.set_ylabel("forgotten class", fontsize=10)
    ax.set_title(title or layer, fontsize=11)
    ax.tick_params(axis="x", labelrotation=90, labelsize=9 if mat.shape[1] <= 40 else 7)
    ax.tick_params(axis="y", labelrotation=0, labelsize=10)
    return ax


def relationship_runs(results_dir: Path | str, dataset: str | None = None,
                      backbone: str | None = None) -> list[tuple[str, str, str]]:
    """(preset, dataset, backbone) of every run with a relationships.csv, paper preset first."""
    found = []
    for path in sorted(Path(results_dir).glob(f"*/*/*/{RELATIONSHIPS}")):
        preset, d, b = path.parts[-4:-1]
        if (dataset is None or d == dataset) and (backbone is None or b == backbone):
            found.append((preset, d, b))
    return sorted(found, key=lambda r: (r[0] != "paper", r))


def figure_relationships(panels: Sequence[tuple[str, pd.DataFrame | None]], n_layers: int,
                         layers: Sequence[str] | None = None) -> Any:
    """Figures 3/4: one panel per (run, layer), stacked vertically so each is as wide as the text
    column and its labels stay readable; a run that is None gets one 'not run' line."""
    import matplotlib.pyplot as plt

    chosen_by_panel = []
    for _, rel in panels:
        chosen = list(layers or []) if rel is not None else []
        if rel is not None and not chosen:
            chosen = pick_layers(rel, n_layers)
        chosen_by_panel.append(chosen)
    heights = [max(1, len(c)) for c in chosen_by_panel]
    fig, axes = plt.subplots(sum(heights), 1, figsize=(7.6, 3.1 * sum(heights)), squeeze=False,
                             layout="constrained")
    axes = list(axes[:, 0])
    for (name, rel), chosen in zip(panels, chosen_by_panel):
        if rel is None:
            ax = axes.pop(0)
            ax.set_axis_off()
            ax.text(0.0, 0.5, f"{name}: {NOT_RUN}", fontsize=12, transform=ax.transAxes, va="center")
            continue
        for layer in chosen:
            plot_relationships(rel, layer, axes.pop(0), title=f"{name} · layer {layer}")
    return fig


def figure_html(fig: Any, number: str | None, caption: str, alt: str | None = None, dpi: int = 96) -> str:
    """A matplotlib figure as a numbered HTML figure (inline PNG and a caption); closes it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    label = f"<b>Figure {_html.escape(number)}.</b> " if number else ""
    return (f'<figure class="wf-figure" style="margin: 1em 0"><img src="data:image/png;base64,{data}" '
            f'alt="{_html.escape(alt or caption)}" style="max-width: 100%; height: auto"/>'
            f'<figcaption style="font-size: 90%">{label}{caption}</figcaption></figure>')


# -- ablation -----------------------------------------------------------------------------------

ABLATION_CHOICES = ("forget_term", "ce_cap", "clip_grad_norm", "clip_scope", "alpha_bound",
                    "regularizer", "optimizer", "lr")


def _worst_rows(per_class: Sequence[dict[str, Any]], n: int = 2) -> str:
    """The ``n`` rows whose forgetting hurts the other classes most: 'class (Acc_r)'."""
    rows = sorted((r for r in per_class if r.get("acc_r") is not None), key=lambda r: r["acc_r"])[:n]
    return ", ".join(f"{r.get('name', r.get('cls', '?'))} ({r['acc_r']:.1f})" for r in rows) or NOT_RUN


def _choice(ucfg: dict[str, Any], key: str) -> str:
    """One untraining choice as the run's config recorded it: "none" for None, "–" when the
    config had no such field yet (an older run) or the forget term does not use it."""
    if key not in ucfg:
        return NOT_REPORTED
    if key == "ce_cap" and not str(ucfg.get("forget_term", "")).endswith("_capped"):
        return NOT_REPORTED
    value = ucfg[key]
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


FORGET_TERMS_SHORT = {
    # what each forget term computes, in words: the names are the registry's (wfnet.methods.loss)
    "reciprocal_mean": "1 / mean CE of the forget half",
    "reciprocal_per_sample": "mean of 1 / max(CE, floor) per sample (no gradient below the floor)",
    "reciprocal_per_sample_offset": "mean of 1 / (CE + floor) per sample (Eq. 3 as written)",
    "class_mean_reciprocal": "mean over classes of 1 / CE_c",
    "class_mean_reciprocal_capped": "mean over classes of 1 / min(CE_c, cap)",
}


def _forget_short(ucfg: dict[str, Any]) -> str:
    term = str(ucfg.get("forget_term", "?"))
    return {"reciprocal_mean": "1/mean CE", "reciprocal_per_sample": "mean 1/max(CE, floor)",
            "reciprocal_per_sample_offset": "mean 1/(CE + floor)",
            "class_mean_reciprocal": "per class", "class_mean_reciprocal_capped": "per class, capped"}.get(term, term)


def _breakable(name: str) -> str:
    """A long identifier that may wrap after its underscores (HTML: <wbr>)."""
    return "_<wbr>".join(_html.escape(part) for part in str(name).split("_"))


def ablation_rows(results_dir: Path | str) -> list[dict[str, Any]]:
    """One dict per file under ``results/ablation``: what it started from, its scores, the
    untraining choices it made (from the config it ran with, not from its name), its cost."""
    rows = []
    for path in sorted((Path(results_dir) / "ablation").rglob("*.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance") or {}
        ucfg = prov.get("untrain_config") or {}
        rows.append({"path": path, "res": res, "prov": prov, "ucfg": ucfg,
                     "original": f"{_label(str(prov.get('backbone', '?')))} at width {_fraction(prov['width']) if isinstance(prov.get('width'), (int, float)) else '?'}"
                                 f" on {prov.get('dataset', '?')}, original test accuracy {_num(res.get('original_test_acc'), 1)}%",
                     "variant": res.get("variant", path.stem),
                     "_sort": -float(res["acc_r"]) if res.get("acc_r") is not None else math.inf})
    return sorted(rows, key=lambda r: (r["original"], r["_sort"]))


def ablation_table(results_dir: Path | str) -> pd.DataFrame:
    """Every ablation file, best retain accuracy first within each original model, all columns
    (scores, choices, cost); the book shows it as ``ablation_views``."""
    rows = []
    for r in ablation_rows(results_dir):
        res, prov, ucfg = r["res"], r["prov"], r["ucfg"]
        rows.append({
            "original": r["original"], "variant": r["variant"],
            "Acc_r": _num(res.get("acc_r"), 2), "Acc_f": _num(res.get("acc_f"), 2),
            "ZRF": _num(res.get("zrf"), 3), "worst rows (Acc_r)": _worst_rows(res.get("per_class") or []),
            **{k: _choice(ucfg, k) for k in ABLATION_CHOICES},
            "epochs (max)": ucfg.get("epochs", NOT_REPORTED), "steps": res.get("steps", NOT_REPORTED),
            "wall time (s)": _num(prov.get("wall_seconds"), 0), "device": prov.get("device", "?"),
            "git commit": _short_commit(str(prov.get("git_commit", "?"))),
        })
    return pd.DataFrame(rows)


def ablation_views(results_dir: Path | str) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Per original model: (heading, scores-and-choices table, cost table), each narrow enough for
    the book's text column. Variant names may wrap after underscores."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in ablation_rows(results_dir):
        groups.setdefault(r["original"], []).append(r)
    out = []
    for original, rows in groups.items():
        main, cost = [], []
        for r in rows:
            res, prov, ucfg = r["res"], r["prov"], r["ucfg"]
            clip = _choice(ucfg, "clip_grad_norm")
            scope = _choice(ucfg, "clip_scope")
            main.append({
                "variant": _breakable(r["variant"]),
                "Acc_r": _num(res.get("acc_r"), 2), "Acc_f": _num(res.get("acc_f"), 2), "ZRF": _num(res.get("zrf"), 3),
                "forget term": _html.escape(_forget_short(ucfg)) if ucfg else NOT_REPORTED,
                "cap": _choice(ucfg, "ce_cap"),
                "clip": clip if clip in ("none", NOT_REPORTED) else f"{clip} {scope.replace('_', ' ') if scope != NOT_REPORTED else ''}".strip(),
                "bound": _choice(ucfg, "alpha_bound"), "R(α)": _html.escape(_choice(ucfg, "regularizer")),
            })
            cost.append({
                "variant": _breakable(r["variant"]), "worst rows (Acc_r)": _worst_rows(res.get("per_class") or []),
                "epochs (max)": ucfg.get("epochs", NOT_REPORTED), "steps": res.get("steps", NOT_REPORTED),
                "wall (s)": _num(prov.get("wall_seconds"), 0),
                "commit": _short_commit(str(prov.get("git_commit", "?")))[:9],
            })
        out.append((original, pd.DataFrame(main), pd.DataFrame(cost)))
    return out


def baseline_search_table(results_dir: Path | str) -> pd.DataFrame:
    """Every candidate of every baseline search (``wfnet search-baselines``), its validation
    scores, and which one the rule chose; read from ``results/*/*/*/baseline_search.json``."""
    rows = []
    for path in sorted(Path(results_dir).glob("*/*/*/baseline_search.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance") or {}
        for method, t in (res.get("methods") or {}).items():
            for cand in t.get("candidates", []):
                rows.append({
                    "run": f"{res.get('preset')} · {res.get('dataset')} · {_label(str(res.get('backbone')))}",
                    "method": label(method), "candidate": _baseline_config_text(method, cand["config"]),
                    "val Acc_r": _num(cand.get("acc_r"), 1), "val Acc_f": _num(cand.get("acc_f"), 1),
                    "chosen": "✓" if cand["config"] == t.get("chosen") else "",
                    "paper Acc_r / Acc_f": f"{_paper_num(t.get('paper_acc_r'), 1)} / {_paper_num(t.get('paper_acc_f'), 1)}",
                    "bar (val Acc_f ≤)": _num(t.get("bar_acc_f"), 1),
                    "images fit / val": f"{prov.get('fit_size', '?')} / {prov.get('val_size', '?')}",
                    "device": prov.get("device", "?"), "git commit": _short_commit(str(prov.get("git_commit", "?"))),
                    "search key": res.get("key", "?"), "wall (s)": _num(prov.get("wall_seconds"), 0),
                })
    return pd.DataFrame(rows)


def baseline_search_views(results_dir: Path | str) -> list[tuple[str, pd.DataFrame, str]]:
    """Per search run: (heading, a narrow table of candidates, a sentence with where it ran)."""
    table = baseline_search_table(results_dir)
    out = []
    if table.empty:
        return out
    for run, rows in table.groupby("run", sort=False):
        first = rows.iloc[0]
        view = rows[["method", "candidate", "val Acc_r", "val Acc_f", "chosen", "bar (val Acc_f ≤)"]].copy()
        view["method"] = view["method"].map(lambda m: str(m).replace(" †", ""))
        paper = "; ".join(f"{m.replace(' †', '')} {v}" for m, v in
                          rows.drop_duplicates("method")[["method", "paper Acc_r / Acc_f"]].itertuples(index=False)
                          if v != f"{NOT_REPORTED} / {NOT_REPORTED}")
        note = (f"Search {first['search key']}: fit / validation images {first['images fit / val']}; device "
                f"{first['device']}; {first['wall (s)']} s; commit {first['git commit']}. The bar is the paper's "
                f"Acc_f for the cell + 1 point (paper Acc_r / Acc_f: {paper or 'none'}), and the retrained model's "
                "0 + 1 for SSD and SalUn, which the paper does not have.")
        out.append((str(run), view.reset_index(drop=True), note))
    return out


def about_views(results_dir: Path | str) -> list[tuple[str, pd.DataFrame]]:
    """The provenance page: per (preset, dataset, backbone) a sentence of what is common to its
    result files and a narrow table, one row per file (no index, unique rows)."""
    runs = runs_table(results_dir)
    out = []
    if runs.empty:
        return out
    for (preset, dataset, backbone), rows in runs.groupby(["preset", "dataset", "backbone"], sort=False, dropna=False):
        common = []
        for col in ("width", "seed", "train / test images", "torch"):
            values = sorted({str(v) for v in rows[col]})
            common.append(f"{col} {' / '.join(values) if len(values) > 1 else values[0]}")
        head = f"{preset} · {dataset} · {backbone}: " + ", ".join(common)
        view = rows[["method", "device", "wall time (s)", "date", "git commit", "cost"]].copy()
        view["date"] = view["date"].map(lambda d: str(d)[:10])
        view["git commit"] = view["git commit"].map(lambda c: str(c)[:9] + ("+dirty" if "+" in str(c) else ""))
        view["cost"] = view["cost"].map(lambda c: _breakable(_html.unescape(str(c))) if c else NOT_REPORTED)
        view["device"] = view["device"].map(lambda d: _html.escape(str(d)))
        out.append((head, view.reset_index(drop=True)))
    return out


def show(obj: Any) -> None:
    """display() that never prints an object repr: empty text and None show nothing, a
    DataFrame is shown without its index, a string is Markdown."""
    from IPython.display import HTML, Markdown, display

    if obj is None:
        return
    if isinstance(obj, str):
        if obj.strip():
            display(Markdown(obj))
        return
    if isinstance(obj, pd.DataFrame):
        if obj.empty:
            return
        obj = plain(obj)
    if hasattr(obj, "to_html") and not isinstance(obj, pd.DataFrame):
        display(HTML(obj.to_html()))
        return
    display(obj)


def config_text(cfg: Any, name: str | None = None) -> str:
    """A config dataclass as one Markdown sentence ('`epochs` 2, `lr` 0.05, ...'), not its repr."""
    items = cfg.as_dict() if hasattr(cfg, "as_dict") else dict(cfg)
    head = f"{name or type(cfg).__name__}: " if (name or hasattr(cfg, "as_dict")) else ""
    return head + ", ".join(f"`{k}` {v:g}" if isinstance(v, float) else f"`{k}` {v}" for k, v in items.items()) + "."


def wrapped(df: pd.DataFrame, caption: str | None = None) -> Any:
    """``styled`` with every cell allowed to wrap: for tables of many columns of short text."""
    return styled(df, caption).set_table_styles([{"selector": "td", "props": "white-space: normal;"},
                                                 {"selector": "th", "props": "font-size: 90%;"}], overwrite=False)


def show_html(text: str) -> None:
    from IPython.display import HTML, display

    if text and text.strip():
        display(HTML(text))


def plain(df: pd.DataFrame | None, caption: str | None = None, wrap: Sequence[str] = ()) -> Any:
    """A flat table for the book: no index column, 'not run' dimmed, ``wrap`` columns may wrap.
    None (nothing to show) stays None, which a notebook displays as nothing."""
    if df is None:
        return None
    sty = styled(df.reset_index(drop=True), caption).hide(axis="index")
    cols = [c for c in wrap if c in df.columns]
    if cols:  # per column "td.colN" rules: more specific than the table-wide "td" nowrap
        sty = sty.set_table_styles({c: [{"selector": "td", "props": "white-space: normal; min-width: 8em;"}]
                                    for c in cols}, overwrite=False)
    return sty


def styled(df: pd.DataFrame, caption: str | None = None) -> Any:
    """A pandas Styler that greys the paper's columns and dims 'not run' cells, for the book."""
    sty = df.style
    if caption:
        sty = sty.set_caption(caption)
    if isinstance(df.columns, pd.MultiIndex) and PAPER in df.columns.get_level_values(-1):
        paper_cols = [c for c in df.columns if c[-1] == PAPER]
        sty = sty.set_properties(subset=paper_cols, **{"background-color": "#f0f0f0", "color": "#444"})
    sty = sty.map(lambda v: "color: #999; font-style: italic" if v == NOT_RUN else "")
    sty = sty.set_table_styles([{"selector": "td", "props": "white-space: nowrap; padding: 2px 8px;"},
                                {"selector": "th", "props": "padding: 2px 8px; white-space: normal;"}],
                               overwrite=False)
    return sty.set_table_attributes('class="wf-table"')


__all__ = [
    "FILE_LABELS",
    "table_methods",
    "ABLATION_CHOICES",
    "FORGET_TERMS_SHORT",
    "INTERACTIVE_EVAL",
    "MEASURED",
    "NOT_REPORTED",
    "NOT_RUN",
    "PAPER",
    "PAPER_SCALE_DATASETS",
    "TABLE1_VIEW_COLUMNS",
    "ablation_rows",
    "ablation_table",
    "ablation_views",
    "about_views",
    "baseline_search_table",
    "baseline_search_views",
    "config_text",
    "curves_frame",
    "default_sources",
    "discover_sources",
    "figure_html",
    "figure_relationships",
    "format_rt",
    "interactive_summary",
    "is_method_result",
    "measured_label",
    "measured_runs",
    "measured_table",
    "measured_table1",
    "method_results",
    "method_summary",
    "paper_cells",
    "partial_retrained",
    "per_class_table",
    "pick_layers",
    "plain",
    "plot_relationships",
    "project_root",
    "relationship_matrix",
    "relationship_runs",
    "relationships_frame",
    "relationships_path",
    "resolve",
    "result_rt",
    "runs_table",
    "show",
    "show_html",
    "source_label",
    "status_html",
    "styled",
    "table1",
    "table1_caption",
    "table1_metrics",
    "table1_view",
    "table2",
    "untrain_history",
    "view_styled",
    "wrapped",
    "zrf_digits",
]

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

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from . import paper_values as pv
from .results import (METHOD_LABELS, METHODS, RELATIONSHIPS, iter_results, read_result, result_path,
                      retrained_class_path)

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


def _paper_num(value: float | None, digits: int) -> str:
    return NOT_REPORTED if value is None else f"{value:.{digits}f}"


def format_rt(rt: float | None, failed: int | None) -> str:
    """RT as the paper prints it: mean relearn epochs, classes not relearned in parentheses."""
    if rt is None and failed is None:
        return NOT_RUN
    mean = NOT_REPORTED if rt is None else f"{rt:.1f}"
    return mean if failed is None else f"{mean} ({failed})"


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
    for res in iter_results(Path(results_dir)):
        d = res.get("dataset", "")
        if dataset is not None and d != dataset:
            continue
        if paper_dataset is not None and pv.paper_dataset_for(d) != paper_dataset:
            continue
        found.add((res.get("preset", "?"), d))
    return sorted(found)


def default_sources(results_dir: Path | str, paper_dataset: str, preset: str = "smoke") -> list[Source]:
    """What a table shows by default: every run we have, else an all-"not run" column."""
    found = discover_sources(results_dir, paper_dataset)
    return found or [(preset, pv.OUR_DATASETS[paper_dataset][0])]


def _backbones(results_dir: Path, sources: Sequence[Source], backbones: Sequence[str] | None) -> list[str]:
    if backbones is not None:
        return list(backbones)
    ours = {r["backbone"] for r in iter_results(results_dir)
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
        for method in METHODS:
            row: dict[tuple[str, str], str] = {}
            if paper_dataset:
                cell = pv.table1_cell(backbone, method, paper_dataset)
                values = ([NOT_REPORTED] * 4 if cell is None else
                          [_paper_num(cell.acc_r, 2 if _two(cell.acc_r) else 1),
                           _paper_num(cell.acc_f, 2 if _two(cell.acc_f) else 1),
                           _paper_num(cell.zrf, zd), cell.rt or NOT_REPORTED])
                row.update({(m, PAPER): v for m, v in zip(metrics, values)})
            for src in sources:
                res = read_result(results_dir, src[0], src[1], backbone, method)
                partial = partial_retrained(results_dir, src[0], src[1], backbone) if method == "retrained" else 0
                if res is None and partial:
                    values = [f"{partial} of 10 classes"] * 4  # never a mean over fewer classes
                elif res is None:
                    values = [NOT_RUN] * 4
                else:
                    rt = NOT_REPORTED if method == "original" else format_rt(res.get("rt"), res.get("rt_failed"))
                    values = [_num(res.get("acc_r"), 1), _num(res.get("acc_f"), 1),
                              _num(res.get("zrf"), zd, scale), rt]
                row.update({(m, source_label(src)): v for m, v in zip(metrics, values)})
            rows.append(row)
            index.append((_label(backbone), METHOD_LABELS[method]))
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
            res = read_result(results_dir, src[0], src[1], backbone, "wfnet") or {}
            row[(metrics[0], source_label(src))] = _num(res.get("insertion"), 2)
            row[(metrics[1], source_label(src))] = _num(res.get("deletion"), 2)
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
            "untrain_config", "checkpoint", "key"}
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
        if keep is not None and (res.get("preset"), res.get("dataset")) not in keep:
            continue
        if backbone is not None and res.get("backbone") != backbone:
            continue
        prov = res.get("provenance") or {}
        wall = prov.get("wall_seconds")
        rows.append({
            "preset": res.get("preset"), "dataset": res.get("dataset"),
            "backbone": _label(res.get("backbone", "?")),
            "method": METHOD_LABELS.get(res.get("method", ""), res.get("method")),
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
    df = pd.DataFrame(res["per_class"])
    return df.set_index("cls")


# -- what an experiment notebook shows --------------------------------------------------------

def method_summary(results: dict[str, dict[str, Any]], paper_dataset: str | None = None) -> pd.DataFrame:
    """One row per method of a ``reproduce`` call: our scores, wall time and device."""
    scale, zd = zrf_digits(paper_dataset)
    rows = []
    for method, res in results.items():
        prov = res.get("provenance") or {}
        rows.append({
            "method": METHOD_LABELS.get(method, method),
            "Acc_r (%)": _num(res.get("acc_r"), 1), "Acc_f (%)": _num(res.get("acc_f"), 1),
            "ZRF" + (" (×100)" if scale == 100.0 else ""): _num(res.get("zrf"), zd, scale),
            "RT (epochs)": NOT_REPORTED if method == "original" else format_rt(res.get("rt"), res.get("rt_failed")),
            "wall time (s)": _num(prov.get("wall_seconds"), 1), "device": prov.get("device", NOT_RUN),
        })
    return pd.DataFrame(rows).set_index("method")


def untrain_history(runs_dir: Path | str, preset: str, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Validation (and training) loss of WF-Net's untraining, from the cached WF checkpoint."""
    from .checkpoint import load

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
    sns.heatmap(mat, ax=ax, cmap="rocket_r", cbar_kws={"label": "relevance"}, linewidths=0.5,
                linecolor="white", square=False)
    ax.set_xlabel("filter shared by ≥ 2 classes")
    ax.set_ylabel("class")
    ax.set_title(title or layer, fontsize=10)
    ax.tick_params(axis="x", labelrotation=90, labelsize=7)
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
    """Figures 3/4: one row per (label, relationships) with n_layers panels; None -> 'not run'."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), n_layers, figsize=(4.6 * n_layers, 3.2 * len(panels)),
                             squeeze=False, layout="constrained")
    for row, (label, rel) in zip(axes, panels):
        chosen = list(layers or []) if rel is not None else []
        if rel is not None and not chosen:
            chosen = pick_layers(rel, n_layers)
        for i, ax in enumerate(row):
            if rel is None or i >= len(chosen):
                ax.set_axis_off()
                if i == 0:
                    ax.text(0.0, 0.5, f"{label}: {NOT_RUN}" if rel is None else "", fontsize=11,
                            transform=ax.transAxes, va="center")
                continue
            plot_relationships(rel, chosen[i], ax, title=f"{label} · {chosen[i]}")
    return fig


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


def ablation_table(results_dir: Path | str) -> pd.DataFrame:
    """One row per file under ``results/ablation``, best retain accuracy first: the original model
    it started from, its scores, and the untraining choices it made (from the config it ran
    with, not from its name)."""
    rows = []
    for path in sorted((Path(results_dir) / "ablation").rglob("*.json")):
        res = json.loads(path.read_text())
        prov = res.get("provenance") or {}
        ucfg = prov.get("untrain_config") or {}
        rows.append({
            "original": f"{prov.get('backbone', '?')} x{prov.get('width', '?')} · {prov.get('dataset', '?')}"
                        f" ({_num(res.get('original_test_acc'), 1)}%)",
            "variant": res.get("variant", path.stem),
            "Acc_r": _num(res.get("acc_r"), 2), "Acc_f": _num(res.get("acc_f"), 2),
            "ZRF": _num(res.get("zrf"), 3), "worst rows (Acc_r)": _worst_rows(res.get("per_class") or []),
            **{k: _choice(ucfg, k) for k in ABLATION_CHOICES},
            "epochs (max)": ucfg.get("epochs", NOT_REPORTED), "steps": res.get("steps", NOT_REPORTED),
            "wall time (s)": _num(prov.get("wall_seconds"), 0), "device": prov.get("device", "?"),
            "git commit": _short_commit(str(prov.get("git_commit", "?"))),
            "_sort": -float(res["acc_r"]) if res.get("acc_r") is not None else math.inf,
        })
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values(["original", "_sort"], kind="stable")
    return table.drop(columns="_sort").reset_index(drop=True)


def _config_text(cfg: dict[str, Any], fields: Sequence[str] = ("lr", "epochs", "retain_ratio", "clip_grad_norm")) -> str:
    return ", ".join(f"{f} {cfg[f]:g}" if isinstance(cfg.get(f), float) else f"{f} {cfg.get(f)}" for f in fields)


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
                    "method": METHOD_LABELS.get(method, method), "candidate": _config_text(cand["config"]),
                    "val Acc_r": _num(cand.get("acc_r"), 1), "val Acc_f": _num(cand.get("acc_f"), 1),
                    "chosen": "✓" if cand["config"] == t.get("chosen") else "",
                    "paper Acc_r / Acc_f": f"{_paper_num(t.get('paper_acc_r'), 1)} / {_paper_num(t.get('paper_acc_f'), 1)}",
                    "images fit / val": f"{prov.get('fit_size', '?')} / {prov.get('val_size', '?')}",
                    "device": prov.get("device", "?"), "git commit": _short_commit(str(prov.get("git_commit", "?"))),
                })
    return pd.DataFrame(rows)


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
                                {"selector": "th", "props": "padding: 2px 8px;"}],
                               overwrite=False)
    return sty.set_table_attributes('class="wf-table"')

"""Shared formatters of the report pages: numbers as the paper prints them, "not run", the labels of
sources and seeds, and the book's display helpers (show, plain, styled), so that every page reads alike."""

from __future__ import annotations

import html as _html
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import paper_values as pv

# Rules that keep the numbers honest, on every page:
# - the paper's values (``paper_values``) only ever appear in columns or rows labelled ``paper``;
# - our values come only from result files under ``results/`` and sit in columns or rows labelled
#   with the preset and dataset that produced them (e.g. ``ours · smoke · mnist-5k``);
# - a cell whose result file (or field) is missing reads ``not run``, never a blank or a guess;
# - every table comes with the wall time and device of each result behind it (``runs_table``).

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


def relative(path: Path | str, start: Path | str | None = None) -> str:
    """A path as a page prints it: relative to the project root when inside it, never a local
    absolute path such as /work/... or /tmp/... (outside the root: its name only)."""
    p = Path(path)
    root = project_root(start)
    try:
        return p.resolve().relative_to(root).as_posix() or "."
    except ValueError:
        return p.as_posix() if not p.is_absolute() else f"…/{p.name}"


# -- numbers and labels ---------------------------------------------------------------------------

def num(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_RUN
    return f"{float(value) * scale:.{digits}f}"


def mean_std(values: Sequence[Any], digits: int, scale: float = 1.0, count: bool = False) -> str:
    """Mean ± sample std over seeds; ``not run`` unless every seed has the value, so a
    mean is never taken over fewer seeds than the row says. ``count``: the number of seeds
    follows a mean (for tables whose row labels do not say it)."""
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return NOT_RUN
    if len(values) == 1:
        return num(values[0], digits, scale)
    xs = [float(v) * scale for v in values]
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}" + (f" ({len(xs)} seeds)" if count else "")


def seeds_label(label_: str, n: int) -> str:
    """A source label with the number of seeds its cells average (nothing for one seed)."""
    return label_ if n <= 1 else f"{label_} · mean ± std of {n} seeds"


def paper_num(value: float | None, digits: int) -> str:
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


def span(values: Sequence[float], digits: int = 1, unit: str = "") -> str:
    """The range of some values as printed: "lo–hi", or one value when both read the same
    (never "0.0–0.0 %")."""
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return (lo if lo == hi else f"{lo}–{hi}") + unit


def source_label(source: Source) -> str:
    preset, dataset = source
    return f"ours · {preset} · {dataset}"  # "ours" first: a preset may itself be named "paper"


def zrf_digits(paper_dataset: str | None) -> tuple[float, int]:
    """Scale and decimals of the ZRF column, matching how the paper prints that dataset."""
    scale = pv.ZRF_SCALE.get(paper_dataset or "", 1.0)
    return scale, (1 if scale == 100.0 else 2)


def zrf_scale(dataset: str | None) -> tuple[float, int]:
    """``zrf_digits`` for one of our datasets (mnist-5k stands in for MNIST: ×100, one decimal)."""
    return zrf_digits(pv.paper_dataset_for(dataset) if dataset else None)


def zrf_header(dataset: str | None, name: str = "ZRF") -> str:
    """The ZRF column's name on every page: "ZRF ×100" where the paper prints it ×100."""
    return name + (" ×100" if zrf_scale(dataset)[0] == 100.0 else "")


def zrf_num(value: Any, dataset: str | None) -> str:
    """A ZRF value of ours on the scale the paper prints for the dataset (Table 1's)."""
    scale, digits = zrf_scale(dataset)
    return num(value, digits, scale)


def class_rt(rt: float | None, relearned: bool = True) -> str:
    """One class's relearn time in ``format_rt``'s notation: "> cap" when it did not relearn."""
    if rt is None:
        return NOT_RUN
    return f"{rt:.1f}" if relearned else f"> {rt:g}"


LEGEND_DAGGER = "† single-class method: one model per forgotten class, each run from the original model."
LEGEND_RT = ("RT “m (n)”: mean epochs to relearn the forgotten class, n = classes not relearned within the "
             "cap; “> m (n)”: none of the n classes relearned within m epochs.")


def legend(table: Any) -> str:
    """One line under a table that explains its "†" and RT "(n)" marks ('' when it has none);
    marks a caption already explains are left out."""
    df = getattr(table, "data", table)
    caption = str(getattr(table, "caption", None) or "")
    if not isinstance(df, pd.DataFrame):
        return ""
    cells = [str(v) for v in df.astype(str).to_numpy().ravel()]
    labels = [str(v) for v in (*df.index.to_flat_index(), *df.columns.to_flat_index())]
    parts = []
    if "†" not in caption and any("†" in v for v in cells + labels):
        parts.append(LEGEND_DAGGER)
    rt_cols = [c for c in df.columns if "RT" in str(c)]
    if "parenthes" not in caption and any("(" in str(v) for c in rt_cols for v in df[c].astype(str)):
        parts.append(LEGEND_RT)
    return " ".join(parts)


def backbone_label(backbone: str) -> str:
    return pv.BACKBONE_LABELS.get(backbone, backbone)


def fraction(w: float) -> str:
    for d in (2, 4, 8, 16):
        if abs(w * d - 1) < 1e-9:
            return f"1/{d}"
    return f"{w:g}"


def short_commit(commit: str) -> str:
    head, dirty, _ = commit.partition("+")
    return head[:12] + ("+" + _ if dirty else "")


def breakable(name: str) -> str:
    """A long identifier that may wrap after its underscores (HTML: <wbr>)."""
    return "_<wbr>".join(_html.escape(part) for part in str(name).split("_"))


# -- an untraining configuration in a few words ------------------------------------------------------

def untrain_choice(ucfg: dict[str, Any], key: str) -> str:
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


def forget_short(ucfg: dict[str, Any]) -> str:
    term = str(ucfg.get("forget_term", "?"))
    return {"reciprocal_mean": "1/mean CE", "reciprocal_per_sample": "mean 1/max(CE, floor)",
            "reciprocal_per_sample_offset": "mean 1/(CE + floor)",
            "class_mean_reciprocal": "per class", "class_mean_reciprocal_capped": "per class, capped"}.get(term, term)


# -- display in the book ---------------------------------------------------------------------------

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
        note = legend(obj)
        display(HTML(obj.to_html() + (f'<p class="wf-legend"><small>{_html.escape(note)}</small></p>' if note else "")))
        return
    display(obj)


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


def wrapped(df: pd.DataFrame, caption: str | None = None) -> Any:
    """``styled`` with every cell allowed to wrap: for tables of many columns of short text."""
    return styled(df, caption).set_table_styles([{"selector": "td", "props": "white-space: normal; padding: 2px 4px;"},
                                                 {"selector": "th", "props": "font-size: 90%; padding: 2px 4px;"}],
                                                overwrite=False)

"""The about page (notebooks/about.py): the provenance of every result file, grouped per run, in
tables narrow enough for the book's text column."""

from __future__ import annotations

import html as _html
from pathlib import Path

import pandas as pd

from .format import NOT_REPORTED, breakable
from .sources import runs_table


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
        view["cost"] = view["cost"].map(lambda c: breakable(_html.unescape(str(c))) if c else NOT_REPORTED)
        view["device"] = view["device"].map(lambda d: _html.escape(str(d)))
        out.append((head, view.reset_index(drop=True)))
    return out

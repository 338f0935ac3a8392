"""The Table 2 page (notebooks/table2.py): WF-Net's insertion / deletion AUC beside the paper's,
and the curves behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from .. import paper_values as pv
from ..experiments.results import read_result, seed_results
from .format import NOT_REPORTED, PAPER, Source, backbone_label, mean_std, source_label
from .sources import default_sources, table_backbones


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
    for backbone in table_backbones(results_dir, sources, backbones):
        row: dict[tuple[str, str], str] = {}
        if paper_dataset:
            cell = pv.table2_cell(backbone, paper_dataset)
            row[(metrics[0], PAPER)] = NOT_REPORTED if cell is None else f"{cell[0]:.2f}"
            row[(metrics[1], PAPER)] = NOT_REPORTED if cell is None else f"{cell[1]:.2f}"
        for src in sources:
            runs = seed_results(results_dir, src[0], src[1], backbone, "wfnet")
            row[(metrics[0], source_label(src))] = mean_std([r.get("insertion") for r in runs], 2, count=True)
            row[(metrics[1], source_label(src))] = mean_std([r.get("deletion") for r in runs], 2, count=True)
        rows.append(row)
        index.append(backbone_label(backbone))
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

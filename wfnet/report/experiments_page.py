"""The experiment pages (notebooks/01_train_original, 02_untrain_wfnet, 03_baselines): a preset's
configuration, each method's scores and cost, per-class rows and WF-Net's untraining history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..checkpoint import load
from ..experiments.results import read_result
from ..methods import label
from .format import NOT_REPORTED, NOT_RUN, class_rt, num, result_rt, zrf_digits, zrf_header, zrf_num
from .sources import FILE_LABELS
from .status import status_html


def scale_box(results_dir: Path | str) -> Any:
    """The notebook's scale box (``status.status_html``, as atop Table 1), shown first; the
    notebook refreshes it (``refresh_box``) once its results exist."""
    from IPython.display import HTML, display

    return display(HTML(status_html(Path(results_dir), "experiment")), display_id=True)


def refresh_box(box: Any, results_dir: Path | str) -> None:
    """Redraw the scale box in place with the results the notebook has just written."""
    from IPython.display import HTML

    if box is not None:
        box.update(HTML(status_html(Path(results_dir), "experiment")))


def config_text(cfg: Any, name: str | None = None) -> str:
    """A config dataclass as one Markdown sentence ('`epochs` 2, `lr` 0.05, ...'), not its repr."""
    items = cfg.as_dict() if hasattr(cfg, "as_dict") else dict(cfg)
    head = f"{name or type(cfg).__name__}: " if (name or hasattr(cfg, "as_dict")) else ""
    return head + ", ".join(f"`{k}` {v:g}" if isinstance(v, float) else f"`{k}` {v}" for k, v in items.items()) + "."


def method_summary(results: dict[str, dict[str, Any]], paper_dataset: str | None = None) -> pd.DataFrame:
    """One row per method of a ``reproduce`` call: our scores, wall time and device."""
    scale, zd = zrf_digits(paper_dataset)
    rows = []
    for method, res in results.items():
        prov = res.get("provenance") or {}
        rows.append({
            "method": FILE_LABELS.get(method) or label(method),
            "Acc_r (%)": num(res.get("acc_r"), 1), "Acc_f (%)": num(res.get("acc_f"), 2),
            "ZRF" + (" (×100)" if scale == 100.0 else ""): num(res.get("zrf"), zd, scale),
            "RT (epochs)": NOT_REPORTED if method == "original" else result_rt(res),
            "wall time (s)": num(prov.get("wall_seconds"), 1), "device": prov.get("device", NOT_RUN),
        })
    return pd.DataFrame(rows)


def per_class_table(results_dir: Path | str, preset: str, dataset: str, backbone: str,
                    method: str = "wfnet") -> pd.DataFrame | None:
    """Per-class Acc_r, Acc_f, ZRF (and RT when measured) of one result; None if not run."""
    res = read_result(Path(results_dir), preset, dataset, backbone, method)
    if not res or not res.get("per_class"):
        return None
    rows = []
    for p in res["per_class"]:
        row = {"class": p.get("cls"), "name": p.get("name", p.get("cls")),
               "Acc_r (%)": num(p.get("acc_r"), 1), "Acc_f (%)": num(p.get("acc_f"), 2),
               zrf_header(dataset): zrf_num(p.get("zrf"), dataset)}
        if method != "original" and "rt" in p:
            row["RT (epochs)"] = class_rt(p.get("rt"), p.get("relearned", True))
        rows.append(row)
    return pd.DataFrame(rows)


def untrain_history(runs_dir: Path | str, preset: str, dataset: str, backbone: str) -> pd.DataFrame | None:
    """Validation (and training) loss of WF-Net's untraining, from the cached WF checkpoint."""
    path = Path(runs_dir) / preset / dataset / backbone / "wfnet" / "wf.pt"
    if not path.is_file():
        return None
    history = load(path).meta.get("history") or []
    return pd.DataFrame(history) if history else None

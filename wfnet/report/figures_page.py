"""The figures page (notebooks/figures.py): Figures 3 and 4, the shared filters each class closes,
drawn from a run's relationships.csv as numbered HTML figures."""

from __future__ import annotations

import base64
import html as _html
import io
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..experiments.results import RELATIONSHIPS, read_result
from .format import NOT_RUN
from .sources import relationships_path


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

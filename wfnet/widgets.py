"""Forget a class on demand: the logic behind the interactive notebook and the book's page.

A WF model holds one row of gates per class, so "the model that forgot class c" exists for every
c at once and there are only N_c + 1 states to show (none + one per class). ``ForgettingCore``
computes them with the same ``predict`` call as ``wfnet.metrics.evaluate_wf``, so the forget
accuracy shown for c is *the* Acc_f of c, not an approximation. Two front ends share it:

- ``ForgettingExplorer``: live ipywidgets with Python callbacks (a running kernel);
- ``static_page``: a Dropdown ``jslink``ed to a Stack of precomputed panels, which keeps working
  in the static book with no kernel (the switching happens in the browser).

Figures are PNG ``ipywidgets.Image`` values rather than ``Output`` captures so that callbacks
work, and can be tested, without a kernel.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .data import ImageDataset
from .metrics import percent  # the formula of evaluate_wf: shown values are bit-identical
from .train import predict
from .wrap import WFModel

NONE = -1  # the selector value of "forget nothing" (the original model)
FORGOTTEN_COLOR = "#d62728"
KEPT_COLOR = "#4c72b0"


@dataclass(frozen=True)
class ForgetState:
    """What the page shows for one selection: forgetting ``forget`` (None = original model)."""

    forget: int | None
    per_class_acc: tuple[float, ...]  # percent, test accuracy on each true class
    acc_f: float | None               # percent, on the forgotten class's test images
    acc_r: float | None               # percent, on every other test image
    acc: float                        # percent, whole test split
    grid_pred: tuple[int, ...]        # predicted class of each grid image
    grid_conf: tuple[float, ...]      # softmax confidence of that prediction


class ForgettingCore:
    """The N_c + 1 states of a WF model on a dataset's test split, computed once and cached."""

    def __init__(self, model: WFModel, data: ImageDataset, device: torch.device | str = "cpu",
                 per_class: int = 2) -> None:
        self.model = model.eval()
        self.data = data
        self.device = torch.device(device)
        self.model.to(self.device)
        self.labels = data.test.labels.cpu()
        self.grid_index = self._grid_index(per_class)
        self._logits: dict[int | None, torch.Tensor] = {}
        self._states: dict[int | None, ForgetState] = {}

    @property
    def classes(self) -> tuple[str, ...]:
        return self.data.classes

    @property
    def layer_names(self) -> list[str]:
        return list(self.model.layer_names)

    def _grid_index(self, per_class: int) -> torch.Tensor:
        """The first ``per_class`` test images of every class, class by class."""
        picks = [torch.nonzero(self.labels == c).flatten()[:per_class] for c in range(len(self.classes))]
        return torch.cat(picks)

    def grid_images(self) -> np.ndarray:
        """uint8 (G, H, W, C) images of the grid, for display."""
        return self.data.test.gather(self.grid_index).permute(0, 2, 3, 1).cpu().numpy()

    def logits(self, forget: int | None) -> torch.Tensor:
        if forget not in self._logits:
            self._logits[forget] = predict(self.model, self.data.test, self.data, self.device, forget=forget)
        return self._logits[forget]

    def state(self, forget: int | None) -> ForgetState:
        """Accuracies and grid predictions of the model that forgot ``forget``."""
        if forget == NONE:
            forget = None
        if forget not in self._states:
            logits = self.logits(forget)
            correct = logits.argmax(1) == self.labels
            per_class = tuple(percent(correct[self.labels == c]) for c in range(len(self.classes)))
            is_f = self.labels == forget if forget is not None else None
            probs = torch.softmax(logits[self.grid_index], 1)
            conf, pred = probs.max(1)
            self._states[forget] = ForgetState(
                forget, per_class,
                None if is_f is None else percent(correct[is_f]),
                None if is_f is None else percent(correct[~is_f]),
                percent(correct), tuple(int(p) for p in pred), tuple(float(c) for c in conf))
        return self._states[forget]

    def states(self) -> list[ForgetState]:
        """All N_c + 1 states: the original model first, then one per forgotten class."""
        return [self.state(None)] + [self.state(c) for c in range(len(self.classes))]

    def gates(self, layer: str, forget: int | None) -> np.ndarray:
        """sigmoid(alpha) of one layer: (C,) for a class, (N_c, C) for every class when None."""
        alpha = self.model.wf_layers()[layer].alpha_weight.detach().float().cpu()
        g = torch.sigmoid(alpha)
        return (g if forget is None or forget == NONE else g[forget]).numpy()

    def top_filters(self, layer: str, forget: int, k: int) -> list[tuple[int, float]]:
        """The k most closed gates (lowest sigmoid(alpha)) of a class: its most relevant filters."""
        g = self.gates(layer, forget)
        order = np.argsort(g, kind="stable")[:k]
        return [(int(i), float(g[i])) for i in order]


def load_core(checkpoint: Path | str, data_root: Path | str | None = None, device: str = "cpu",
              per_class: int = 2) -> ForgettingCore:
    """A core for a WF checkpoint on the dataset its metadata names."""
    from .checkpoint import load
    from .data import load_dataset
    from .errors import WFNetError

    loaded = load(checkpoint)
    if loaded.kind != "wf":
        raise WFNetError(f"{checkpoint} is an original model; the explorer needs a WF checkpoint (wf.pt)")
    name = loaded.meta.get("provenance", {}).get("dataset")
    if not name:
        raise WFNetError(f"{checkpoint} does not say which dataset it was trained on")
    data = load_dataset(name, Path(data_root) if data_root else None)
    return ForgettingCore(loaded.model, data, device, per_class)  # type: ignore[arg-type]


# -- rendering ----------------------------------------------------------------------------------

def _png(fig: Any, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, **({"bbox_inches": "tight"} if tight else {}))
    return buf.getvalue()


def _figure(w: float, h: float, layout: str | None = "constrained") -> Any:
    from matplotlib.figure import Figure  # no pyplot: nothing is shown twice in a notebook

    return Figure(figsize=(w, h), layout=layout)


def grid_png(core: ForgettingCore, state: ForgetState, cols: int = 10) -> bytes:
    """Test images with predicted label and confidence; red = wrong, red frame = forgotten class.

    Drawn as one mosaic in one axes (not a subplot per image): 5x faster, so callbacks stay
    well under a second on a CPU.
    """
    images = core.grid_images().astype(np.float32) / 255.0
    n, h, wd, ch = images.shape
    rows = -(-n // cols)
    pad = max(4, int(0.45 * h))  # room above each image for its label
    mosaic = np.ones((rows * (h + pad), cols * (wd + pad // 3), 3), dtype=np.float32)
    fig = _figure(cols * 0.85, rows * 1.2, layout=None)
    fig.subplots_adjust(0, 0, 1, 1)
    ax = fig.add_subplot()
    labels = core.labels[core.grid_index].tolist()
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + pad) + pad, c * (wd + pad // 3) + pad // 6
        forgotten = state.forget is not None and labels[i] == state.forget
        if forgotten:  # a red frame around the images of the forgotten class
            mosaic[y - 1:y + h + 1, max(0, x - 1):x + wd + 1] = (0.84, 0.15, 0.16)
        mosaic[y:y + h, x:x + wd] = images[i] if ch == 3 else images[i].repeat(3, axis=-1)
        pred = state.grid_pred[i]
        ax.text(x + wd / 2, y - 0.5, f"{core.classes[pred]} {100 * state.grid_conf[i]:.0f}%",
                ha="center", va="bottom", fontsize=8,
                color=KEPT_COLOR if pred == labels[i] else FORGOTTEN_COLOR)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    return _png(fig, tight=False)


def accuracy_png(core: ForgettingCore, state: ForgetState) -> bytes:
    """Per-class test accuracy; the forgotten class in red, the original model's as ticks."""
    original = core.state(None).per_class_acc
    fig = _figure(4.3, 2.4)  # two of these side by side fit the book's text column
    ax = fig.add_subplot()
    x = np.arange(len(core.classes))
    colors = [FORGOTTEN_COLOR if c == state.forget else KEPT_COLOR for c in x]
    ax.bar(x, state.per_class_acc, color=colors)
    ax.scatter(x, original, marker="_", s=200, color="black", label="original model", zorder=3)
    ax.set_xticks(x, [str(c) for c in core.classes], fontsize=8, rotation=0 if len(x) <= 10 else 90)
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="lower right", fontsize=7)
    return _png(fig)


def gates_png(core: ForgettingCore, layer: str, forget: int | None, k: int) -> bytes:
    """Histogram of sigmoid(alpha) in one layer; the class's top-k closed gates marked."""
    fig = _figure(4.3, 2.4)
    ax = fig.add_subplot()
    g = core.gates(layer, forget)
    ax.hist(np.ravel(g), bins=40, range=(0, 1), color="#999999" if forget is None else KEPT_COLOR)
    if forget is not None and forget != NONE:
        for _, v in core.top_filters(layer, forget, k):
            ax.axvline(v, color=FORGOTTEN_COLOR, lw=1)
        ax.set_title(f"{layer}, class {core.classes[forget]} (red: top {k} closed)", fontsize=8)
    else:
        ax.set_title(f"{layer}, every class (original model: no gates)", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("gate σ(α)  (0 = filter off)", fontsize=8)
    ax.set_ylabel("filters")
    return _png(fig)


def summary_html(core: ForgettingCore, state: ForgetState, layer: str, k: int) -> str:
    """Headline numbers, per-class accuracies and top filters as text (machine-readable too)."""
    esc = html.escape
    if state.forget is None:
        head = (f"<b>No class forgotten</b> (original model): test accuracy "
                f"<span class='wf-acc'>{state.acc:.2f}</span>%")
        attrs = 'data-forget="none"'
        tops = ""
    else:
        name = esc(core.classes[state.forget])
        head = (f"<b>Forgetting class {name}</b>: forget accuracy "
                f"<span class='wf-acc-f'>{state.acc_f:.2f}</span>% on its test images, "
                f"retain accuracy <span class='wf-acc-r'>{state.acc_r:.2f}</span>% on all others")
        attrs = f'data-forget="{state.forget}" data-acc-f="{state.acc_f:.2f}" data-acc-r="{state.acc_r:.2f}"'
        tops = ", ".join(f"#{i} ({v:.3f})" for i, v in core.top_filters(layer, state.forget, k))
        tops = f"<div class='wf-top'>Top {k} filters of {name} in <code>{esc(layer)}</code>: {tops}</div>"
    pad = "style='padding: 1px 6px; text-align: right'"
    cells = "".join(
        f"<td data-cls='{c}' {pad[:-1]}{'; color: ' + FORGOTTEN_COLOR if c == state.forget else ''}'>{a:.1f}</td>"
        for c, a in enumerate(state.per_class_acc))
    names = "".join(f"<th {pad}>{esc(str(n))}</th>" for n in core.classes)
    table = (f"<table class='wf-per-class' style='margin: 4px 0'><tr><th {pad}>class</th>{names}</tr>"
             f"<tr><th {pad}>test acc (%)</th>{cells}</tr></table>")
    return f"<div class='wf-state' {attrs}><p>{head}</p>{table}{tops}</div>"


def class_options(classes: Sequence[str]) -> list[tuple[str, int]]:
    return [("none (original model)", NONE)] + [(f"{c}: {n}", c) for c, n in enumerate(classes)]


# -- live widgets (kernel) ----------------------------------------------------------------------

class ForgettingExplorer:
    """ipywidgets with Python callbacks: pick a class, a layer and k; everything updates.

    ``shown`` mirrors the numbers currently on screen, so tests can check them without a
    browser. Call ``core.states()`` first (the notebook does) so each change is a cache hit.
    """

    def __init__(self, core: ForgettingCore, layer: str | None = None, k: int = 5) -> None:
        import ipywidgets as w

        self.core = core
        self.class_select = w.Dropdown(options=class_options(core.classes), value=NONE, description="forget")
        self.layer_select = w.Dropdown(options=core.layer_names, value=layer or core.layer_names[-1],
                                       description="layer")
        self.k_select = w.IntSlider(value=k, min=1, max=20, description="top k")
        self.summary = w.HTML()
        self.grid = w.Image(format="png")
        self.bars = w.Image(format="png")
        self.hist = w.Image(format="png")
        self.shown: dict[str, Any] = {}
        self._png: dict[tuple[Any, ...], bytes] = {}  # rendered figures: revisiting a class is instant
        self.class_select.observe(self._on_class, names="value")
        self.layer_select.observe(self._on_gates, names="value")
        self.k_select.observe(self._on_gates, names="value")
        self.widget = w.VBox([w.HBox([self.class_select, self.layer_select, self.k_select]), self.summary,
                              self.grid, w.HBox([self.bars, self.hist])])
        self._on_class()

    def select(self, cls: int | None) -> None:
        """Programmatic selection (same path as a click): None or -1 = original model."""
        self.class_select.value = NONE if cls is None else cls

    def _forget(self) -> int | None:
        v = self.class_select.value
        return None if v == NONE else int(v)

    def _cached(self, key: tuple[Any, ...], render: Any) -> bytes:
        if key not in self._png:
            self._png[key] = render()
        return self._png[key]

    def _on_class(self, change: Any = None) -> None:
        forget = self._forget()
        state = self.core.state(forget)
        self.grid.value = self._cached(("grid", forget), lambda: grid_png(self.core, state))
        self.bars.value = self._cached(("bars", forget), lambda: accuracy_png(self.core, state))
        self._on_gates()

    def _on_gates(self, change: Any = None) -> None:
        forget, layer, k = self._forget(), self.layer_select.value, self.k_select.value
        state = self.core.state(forget)
        self.hist.value = self._cached(("hist", layer, forget, k),
                                       lambda: gates_png(self.core, layer, forget, k))
        self.summary.value = summary_html(self.core, state, layer, k)
        self.shown = {"forget": forget, "acc_f": state.acc_f, "acc_r": state.acc_r,
                      "per_class_acc": state.per_class_acc,
                      "top_filters": None if forget is None else self.core.top_filters(layer, forget, k)}


# -- static page (no kernel) --------------------------------------------------------------------

def static_page(core: ForgettingCore, layer: str | None = None, k: int = 5) -> Any:
    """Dropdown jslinked to a Stack of the N_c + 1 precomputed panels: works in a static page."""
    import ipywidgets as w

    layer = layer or core.layer_names[-1]
    panels = []
    for state in core.states():
        panels.append(w.VBox([
            w.HTML(summary_html(core, state, layer, k)),
            w.Image(value=grid_png(core, state), format="png"),
            w.HBox([w.Image(value=accuracy_png(core, state), format="png"),
                    w.Image(value=gates_png(core, layer, state.forget, k), format="png")]),
        ]))
    select = w.Dropdown(options=[label for label, _ in class_options(core.classes)], index=0,
                        description="forget", layout=w.Layout(width="22em"))
    stack = w.Stack(panels, selected_index=0)
    w.jslink((select, "index"), (stack, "selected_index"))
    return w.VBox([select, stack])

"""The interactive page (notebooks/interactive_forgetting.py): forget any class or set of classes on
demand, live with a kernel (``ForgettingExplorer``) or switched in the static book (``static_page``)."""

# A WF model holds one row of gates per class, so "the model that forgot class c" exists for every
# c at once, and so does the model that forgot a set S (the rows of S combined, product or min: see
# ``wfnet.layers.gates``). ``ForgettingCore`` computes a state with the same ``predict`` call as
# ``wfnet.evaluation.metrics.evaluate_wf`` (one class) and ``wfnet.evaluation.multiforget.set_logits``
# (a set), so the forget accuracy shown is *the* Acc_f of the result files, not an approximation.
# ``ForgettingExplorer``: live ipywidgets with Python callbacks, any set of classes, either combination.
# ``static_page``: two Dropdowns ("forget", "and") ``jslink``ed to nested Stacks of precomputed panels,
# switched in the browser with no kernel: the original model, every class and every pair (product of
# the gates; a pair cannot be derived from the single-class states, the network is not linear in its
# gates, so every pair is computed when the book is built). Pair panels hold numbers and an inline
# SVG chart, not PNGs, to keep the page small. Figures are PNG ``ipywidgets.Image`` values rather than
# ``Output`` captures so that callbacks work, and can be tested, without a kernel.

from __future__ import annotations

import html
import io
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

import numpy as np
import torch

from ..checkpoint import load
from ..data import ImageDataset
from ..errors import WFNetError
from ..evaluation.metrics import percent  # the formula of evaluate_wf: shown values are bit-identical
from ..evaluation.multiforget import MultiForgetConfig, forgotten
from ..layers import COMBINES, check_combine, select_gates
from ..runtime import predict, resolve_precision
from ..wrap import WFModel
from .format import span

NONE = -1  # the selector value of "forget nothing" (the original model)
CLOSED_BELOW = 0.5  # a gate sigma(alpha) under this counts as "closed" (the filter's output at most halved)
FORGOTTEN_COLOR = "#d62728"
KEPT_COLOR = "#4c72b0"
PAIR_LIMIT = 20  # the static page offers every pair up to this many classes (190 pairs)
STATIC_COLORS = 64  # palette size of the static page's PNGs (the live widgets keep full colour)

Forget = Union[None, int, Iterable[int]]  # None / NONE: nothing; a class; a set of classes
StateKey = tuple[tuple[int, ...], str]


def as_classes(forget: Forget) -> tuple[int, ...]:
    """The sorted distinct classes a selection names; () for None or NONE (the original model)."""
    if forget is None:
        return ()
    if isinstance(forget, (int, np.integer)):
        return () if int(forget) == NONE else (int(forget),)
    return tuple(sorted({int(c) for c in forget} - {NONE}))


def state_key(forget: Forget, combine: str = "product") -> StateKey:
    """(classes, combine), a cache key; the combination only tells sets of two or more classes
    apart (it is still checked for one class, so a typo never passes silently)."""
    classes, combine = as_classes(forget), check_combine(combine)
    return classes, combine if len(classes) > 1 else "product"


@dataclass(frozen=True)
class ForgetState:
    """What the page shows for one selection: forgetting ``classes`` (() = original model)."""

    classes: tuple[int, ...]          # the forgotten classes, sorted
    combine: str                      # how their rows combine ("product" for fewer than two)
    per_class_acc: tuple[float, ...]  # percent, test accuracy on each true class
    acc_f: float | None               # percent, on the forgotten classes' test images
    acc_r: float | None               # percent, on every other test image
    acc: float                        # percent, whole test split
    grid_pred: tuple[int, ...]        # predicted class of each grid image
    grid_conf: tuple[float, ...]      # softmax confidence of that prediction

    @property
    def forget(self) -> int | tuple[int, ...] | None:
        """None (original model), the class (one), or the classes (a set)."""
        if not self.classes:
            return None
        return self.classes[0] if len(self.classes) == 1 else self.classes


class ForgettingCore:
    """States of a WF model on a dataset's test split (original, a class, a set), cached."""

    def __init__(self, model: WFModel, data: ImageDataset, device: torch.device | str = "cpu",
                 per_class: int = 2, precision: str = "fp32") -> None:
        self.model = model.eval()
        self.data = data
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)  # "auto": what `wfnet evaluate` resolves here
        self.model.to(self.device)
        self.labels = data.test.labels.cpu()
        self.grid_index = self._grid_index(per_class)
        self._logits: dict[StateKey, torch.Tensor] = {}
        self._states: dict[StateKey, ForgetState] = {}

    @property
    def classes(self) -> tuple[str, ...]:
        return self.data.classes

    @property
    def layer_names(self) -> list[str]:
        return list(self.model.layer_names)

    def most_closed_layer(self) -> str:
        """The wrapped layer where forgetting shows most: the largest share of gates closed
        (sigmoid(alpha) < CLOSED_BELOW) over all class rows; ties go to the later layer. The
        pages show it by default (the last layer often keeps every gate open)."""
        best, score = self.layer_names[-1], -1.0
        for name, layer in self.model.wf_layers().items():
            share = float((torch.sigmoid(layer.alpha_weight.detach().float()) < CLOSED_BELOW).float().mean())
            if share >= score:
                best, score = name, share
        return best

    def _grid_index(self, per_class: int) -> torch.Tensor:
        """The first ``per_class`` test images of every class, class by class."""
        picks = [torch.nonzero(self.labels == c).flatten()[:per_class] for c in range(len(self.classes))]
        return torch.cat(picks)

    def grid_images(self) -> np.ndarray:
        """uint8 (G, H, W, C) images of the grid, for display."""
        return self.data.test.gather(self.grid_index).permute(0, 2, 3, 1).cpu().numpy()

    def logits(self, forget: Forget, combine: str = "product") -> torch.Tensor:
        """Test logits of the model that forgot ``forget`` (one class: ``evaluate_wf``'s call)."""
        key = state_key(forget, combine)
        if key not in self._logits:
            classes, comb = key
            arg = None if not classes else classes[0] if len(classes) == 1 else set(classes)
            self._logits[key] = predict(self.model, self.data.test, self.data, self.device, forget=arg, combine=comb,
                                        precision=self.precision)
        return self._logits[key]

    def state(self, forget: Forget, combine: str = "product") -> ForgetState:
        """Accuracies and grid predictions of the model that forgot ``forget``."""
        key = state_key(forget, combine)
        if key not in self._states:
            classes, comb = key
            logits = self.logits(classes, comb)
            correct = logits.argmax(1) == self.labels
            per_class = tuple(percent(correct[self.labels == c]) for c in range(len(self.classes)))
            is_f = torch.isin(self.labels, torch.tensor(classes, dtype=self.labels.dtype)) if classes else None
            probs = torch.softmax(logits[self.grid_index], 1)
            conf, pred = probs.max(1)
            self._states[key] = ForgetState(
                classes, comb, per_class,
                None if is_f is None else percent(correct[is_f]),
                None if is_f is None else percent(correct[~is_f]),
                percent(correct), tuple(int(p) for p in pred), tuple(float(c) for c in conf))
        return self._states[key]

    def states(self) -> list[ForgetState]:
        """All N_c + 1 single states: the original model first, then one per forgotten class."""
        return [self.state(None)] + [self.state(c) for c in range(len(self.classes))]

    def pair_states(self, combine: str = "product") -> list[ForgetState]:
        """Every pair of classes forgotten at once, in ``itertools.combinations`` order."""
        return [self.state(pair, combine) for pair in itertools.combinations(range(len(self.classes)), 2)]

    def gates(self, layer: str, forget: Forget, combine: str = "product") -> np.ndarray:
        """sigmoid(alpha) of one layer: (C,) for a class or a set (its rows combined), (N_c, C)
        for every class when nothing is forgotten."""
        alpha = self.model.wf_layers()[layer].alpha_weight.detach().float().cpu()
        classes, comb = state_key(forget, combine)
        if len(classes) <= 1:
            g = torch.sigmoid(alpha)
            return (g[classes[0]] if classes else g).numpy()
        mask = torch.zeros(1, alpha.shape[0])
        mask[0, list(classes)] = 1.0
        return select_gates(alpha, mask, comb)[0].numpy()

    def top_filters(self, layer: str, forget: Forget, k: int, combine: str = "product") -> list[tuple[int, float]]:
        """The k most closed gates (lowest sigmoid(alpha)) of a class or set: its most relevant filters."""
        g = self.gates(layer, forget, combine)
        order = np.argsort(g, kind="stable")[:k]
        return [(int(i), float(g[i])) for i in order]

    def label(self, forget: Forget, combine: str = "product") -> str:
        """'cat', 'digit 3', 'cat + dog (min)': how the page names a selection."""
        classes, comb = state_key(forget, combine)
        names = " + ".join(class_name(self.classes[c]) for c in classes)
        return names if len(classes) <= 1 else f"{names} ({comb})"


def load_core(checkpoint: Path | str, data_root: Path | str | None = None, device: str = "cpu",
              per_class: int = 2, precision: str = "fp32") -> ForgettingCore:
    """A core for a WF checkpoint on the dataset its metadata names, computing at ``precision``."""
    from ..data import load_dataset  # looked up when called: tests replace wfnet.data.load_dataset

    loaded = load(checkpoint)
    if loaded.kind != "wf":
        raise WFNetError(f"{checkpoint} is an original model; the explorer needs a WF checkpoint (wf.pt)")
    data = load_dataset(loaded.dataset, Path(data_root) if data_root else None)
    return ForgettingCore(loaded.model, data, device, per_class, precision)  # type: ignore[arg-type]


def model_card(core: ForgettingCore, checkpoint: Path | str, evaluation: Path | str | None = None) -> str:
    """The box at the top of the interactive page: which model it shows (backbone, width, data,
    training and untraining, device, commit, wall time, all from the checkpoint's metadata), and
    what ``wfnet evaluate`` measured on it (``evaluation``: its metrics.json), class by class."""
    esc = html.escape
    meta = load(checkpoint).meta
    prov = meta.get("provenance") or {}
    orig = meta.get("original") or {}
    oprov = orig.get("provenance") or {}
    ucfg = prov.get("untrain_config") or {}
    un = meta.get("untrain") or {}
    width = prov.get("width")
    frac = next((f"1/{d}" for d in (2, 4, 8, 16) if isinstance(width, (int, float)) and abs(width * d - 1) < 1e-9),
                "full" if width == 1.0 else f"{width}")
    backbone = {"resnet18": "ResNet-18", "vgg16": "VGG-16", "vit_tiny": "ViT-T"}.get(str(prov.get("backbone")),
                                                                                     str(prov.get("backbone")))
    epochs = (oprov.get("train_config") or {}).get("epochs", "?")
    test_acc = orig.get("test_acc")
    acc = f" (test accuracy {test_acc:.2f}%)" if isinstance(test_acc, (int, float)) else ""

    def num(v: Any) -> str:
        return f"{v:g}" if isinstance(v, (int, float)) else esc(str(v))

    bound = num(ucfg.get("alpha_bound", "?"))
    text = (f"{esc(backbone)} at width {esc(frac)} on {esc(str(prov.get('dataset', '?')))} "
            f"({_count(prov.get('train_size'))} training / {_count(prov.get('test_size'))} test images), trained for "
            f"{epochs} epochs{acc}, then untrained for {num(un.get('epochs_run', ucfg.get('epochs', '?')))} epochs "
            f"({un.get('steps', '?')} steps, stopped: {esc(str(un.get('stopped', '?')))}) with the default "
            f"configuration (learning rate {num(ucfg.get('lr', '?'))}, gradient clip "
            f"{num(ucfg.get('clip_grad_norm', '?'))} {esc(str(ucfg.get('clip_scope', '')).replace('_', ' '))}, "
            f"cross-entropy cap {num(ucfg.get('ce_cap', '?'))}, α within [−{bound}, {bound}]); on "
            f"{esc(str(prov.get('device', '?')))}, {float(oprov.get('wall_seconds') or 0):.0f} s of training and "
            f"{float(prov.get('wall_seconds') or 0):.0f} s of untraining, commit "
            f"<code>{esc(str(prov.get('git_commit', '?'))[:9])}</code>.")
    body = f"<p>This page shows a model trained for it by <code>make book</code>: {text}</p>"
    body += (f"<p>Commands: <code>wfnet train --dataset {esc(str(prov.get('dataset', '?')))} --backbone "
             f"{esc(str(prov.get('backbone', '?')))} --width {num(width)} --epochs {epochs}</code>, "
             f"<code>wfnet untrain --epochs {num(ucfg.get('epochs', '?'))}</code>, <code>wfnet evaluate</code>.</p>")
    ev = Path(evaluation) if evaluation else None
    if ev is not None and ev.is_file():
        blob = json.loads(ev.read_text())
        per = blob.get("per_class") or []
        acc_r = [p["acc_r"] for p in per if p.get("acc_r") is not None]
        acc_f = [p["acc_f"] for p in per if p.get("acc_f") is not None]
        if acc_r and acc_f:
            body += (f"<p><code>wfnet evaluate</code> on it: Acc_r <b>{blob['acc_r']:.2f}%</b> and Acc_f "
                     f"<b>{blob['acc_f']:.2f}%</b> (means over the {len(per)} forgotten classes); class by class, "
                     f"retain accuracy {span(acc_r, 1, ' %')} and forget accuracy "
                     f"{span(acc_f, 1, ' %')}. The original model (no class forgotten) scores "
                     f"{core.state(None).acc:.2f}% on the same test images.</p>")
    else:
        body += f"<p>No <code>wfnet evaluate</code> result beside it ({esc(str(ev))}): {NOT_RUN_TEXT}.</p>"
    return (f'<div class="admonition note wf-status"><p class="admonition-title">What this page shows</p>'
            f"{body}</div>")


NOT_RUN_TEXT = "not run"


def _count(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


# -- rendering ----------------------------------------------------------------------------------

def _png(fig: Any, tight: bool = True, colors: int = 0) -> bytes:
    """PNG bytes of a figure; with ``colors``, reduced to a palette of that many entries (several
    times smaller for these flat charts and digit grids: the static page embeds 33 of them and
    must stay under 1 MB)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, **({"bbox_inches": "tight"} if tight else {}))
    if not colors:
        return buf.getvalue()
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _figure(w: float, h: float, layout: str | None = "constrained") -> Any:
    from matplotlib.figure import Figure  # no pyplot: nothing is shown twice in a notebook

    return Figure(figsize=(w, h), layout=layout)


def grid_png(core: ForgettingCore, state: ForgetState, cols: int = 10, colors: int = 0) -> bytes:
    """Test images with predicted label and confidence; red = wrong, red frame = forgotten class.

    Drawn as one mosaic in one axes (not a subplot per image): 5x faster, so callbacks stay
    well under a second on a CPU.
    """
    images = core.grid_images().astype(np.float32) / 255.0
    n, h, wd, ch = images.shape
    rows = -(-n // cols)
    pad = max(6, int(0.6 * h))  # room above each image for its label (10 pt: readable at 80 dpi)
    mosaic = np.ones((rows * (h + pad), cols * (wd + pad // 3), 3), dtype=np.float32)
    fig = _figure(cols * 0.85, rows * 1.35, layout=None)
    fig.subplots_adjust(0, 0, 1, 1)
    ax = fig.add_subplot()
    labels = core.labels[core.grid_index].tolist()
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + pad) + pad, c * (wd + pad // 3) + pad // 6
        if labels[i] in state.classes:  # a red frame around the images of a forgotten class
            mosaic[y - 1:y + h + 1, max(0, x - 1):x + wd + 1] = (0.84, 0.15, 0.16)
        mosaic[y:y + h, x:x + wd] = images[i] if ch == 3 else images[i].repeat(3, axis=-1)
        pred = state.grid_pred[i]
        ax.text(x + wd / 2, y - 0.5, f"{core.classes[pred]} {100 * state.grid_conf[i]:.0f}%",
                ha="center", va="bottom", fontsize=10,
                color=KEPT_COLOR if pred == labels[i] else FORGOTTEN_COLOR)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    return _png(fig, tight=False, colors=colors)


def accuracy_png(core: ForgettingCore, state: ForgetState, colors: int = 0) -> bytes:
    """Per-class test accuracy; the forgotten classes in red, the original model's as ticks."""
    original = core.state(None).per_class_acc
    fig = _figure(4.3, 2.4)  # two of these side by side fit the book's text column
    ax = fig.add_subplot()
    x = np.arange(len(core.classes))
    bar_colors = [FORGOTTEN_COLOR if c in state.classes else KEPT_COLOR for c in x]
    ax.bar(x, state.per_class_acc, color=bar_colors)
    ax.scatter(x, original, marker="_", s=200, color="black", label="original model", zorder=3)
    ax.set_xticks(x, [str(c) for c in core.classes], fontsize=8, rotation=0 if len(x) <= 10 else 90)
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="lower right", fontsize=7)
    return _png(fig, colors=colors)


def accuracy_svg(core: ForgettingCore, state: ForgetState, width: int = 430, height: int = 170) -> str:
    """``accuracy_png`` as inline SVG (about 2 kB instead of 12): the chart of the pair panels."""
    original = core.state(None).per_class_acc
    n, left, top, bottom = len(core.classes), 34, 6, 20
    plot_h, step = height - top - bottom, (width - left - 4) / len(core.classes)

    def y(acc: float) -> float:  # the PNG's 0-105 axis, top down; NaN (a class with no test image) at 0
        return top + plot_h * (1 - (acc if math.isfinite(acc) else 0.0) / 105)

    parts = [(f'<svg class="wf-acc-chart" width="{width}" height="{height}" role="img" '
              f'aria-label="test accuracy per class" style="font: 9px sans-serif">')]
    for tick in (0, 50, 100):
        parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 3}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick}</text>')
    for c in range(n):
        x0, acc = left + c * step, state.per_class_acc[c]
        name = html.escape(str(core.classes[c]))
        color = FORGOTTEN_COLOR if c in state.classes else KEPT_COLOR
        parts.append(f'<rect x="{x0 + 0.1 * step:.1f}" y="{y(acc):.1f}" width="{0.8 * step:.1f}" '
                     f'height="{y(0) - y(acc):.1f}" fill="{color}"><title>{name}: {acc:.1f} % '
                     f'(original {original[c]:.1f} %)</title></rect>'
                     f'<line x1="{x0 + 0.05 * step:.1f}" x2="{x0 + 0.95 * step:.1f}" y1="{y(original[c]):.1f}" '
                     f'y2="{y(original[c]):.1f}" stroke="black" stroke-width="2"/>')
        if n <= 10:
            parts.append(f'<text x="{x0 + step / 2:.1f}" y="{height - 6}" text-anchor="middle">{name}</text>')
    parts.append(f'<text x="10" y="{top + plot_h / 2:.1f}" transform="rotate(-90 10 {top + plot_h / 2:.1f})" '
                 'text-anchor="middle">test acc (%)</text></svg>')
    legend = "<div style='font-size: 80%'>bars: test accuracy per class (red: forgotten); black: original model</div>"
    return "".join(parts) + legend


def gates_png(core: ForgettingCore, layer: str, forget: Forget, k: int, combine: str = "product",
              colors: int = 0) -> bytes:
    """Histogram of sigmoid(alpha) in one layer; the selection's top-k closed gates marked."""
    fig = _figure(4.3, 2.4)
    ax = fig.add_subplot()
    classes, comb = state_key(forget, combine)
    g = core.gates(layer, classes, comb)
    ax.hist(np.ravel(g), bins=40, range=(0, 1), color="#999999" if not classes else KEPT_COLOR)
    if classes:
        for _, v in core.top_filters(layer, classes, k, comb):
            ax.axvline(v, color=FORGOTTEN_COLOR, lw=1)
        ax.set_title(f"{layer}, {core.label(classes, comb)} (red: top {k} closed)", fontsize=8)
    else:
        ax.set_title(f"{layer}: the gates of all {len(core.classes)} class rows (none applied: original model)",
                     fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("gate σ(α)  (0 = filter off)", fontsize=8)
    ax.set_ylabel("filters")
    return _png(fig, colors=colors)


def set_flag(acc_f: float, acc_r: float, cfg: MultiForgetConfig = MultiForgetConfig()) -> str:
    """Whether the forgotten set meets the bar every set is measured against (``wfnet evaluate
    --sets``): a set the model does not forget is flagged where it is picked."""
    ok = forgotten({"acc_f": acc_f, "acc_r": acc_r}, cfg)
    bar = f"Acc_f ≤ {cfg.forgotten_acc_f:g} %, Acc_r ≥ {cfg.kept_acc_r:g} %"
    text = (f"✓ forgotten ({bar})" if ok else
            f"<b style='color: {FORGOTTEN_COLOR}'>⚠ not forgotten</b>: this model misses the bar ({bar}) for this set")
    return f"<br><span class='wf-set-flag' data-forgotten='{str(ok).lower()}'>{text}</span>"


def summary_html(core: ForgettingCore, state: ForgetState, layer: str, k: int) -> str:
    """Headline numbers, per-class accuracies and top filters as text (machine-readable too).

    ``data-forget`` is "none", the class ("3") or the classes ("3,7"); a set also carries
    ``data-combine``."""
    esc = html.escape
    if not state.classes:
        head = (f"<b>No class forgotten</b> (original model): test accuracy "
                f"<span class='wf-acc'>{state.acc:.2f}</span>%")
        attrs = 'data-forget="none"'
        tops = ""
    else:
        name = esc(core.label(state.classes, state.combine))
        images = "its test images" if len(state.classes) == 1 else "their test images"
        head = (f"<b>Forgetting {name}</b>: forget accuracy "
                f"<span class='wf-acc-f'>{state.acc_f:.2f}</span>% on {images}, "
                f"retain accuracy <span class='wf-acc-r'>{state.acc_r:.2f}</span>% on all others")
        forget = ",".join(str(c) for c in state.classes)
        combine = f' data-combine="{state.combine}"' if len(state.classes) > 1 else ""
        attrs = f'data-forget="{forget}"{combine} data-acc-f="{state.acc_f:.2f}" data-acc-r="{state.acc_r:.2f}"'
        g = core.gates(layer, state.classes, state.combine)
        closed = int((g < CLOSED_BELOW).sum())
        tops = ", ".join(f"#{i} ({v:.3f})" for i, v in core.top_filters(layer, state.classes, k, state.combine))
        tops = (f"<div class='wf-top'>Layer <code>{esc(layer)}</code>: {closed} of {g.size} gates closed "
                f"(σ(α) &lt; {CLOSED_BELOW:g}); the {k} most closed (filter, gate): {tops}</div>")
        head += set_flag(state.acc_f, state.acc_r)
    pad = "style='padding: 1px 6px; text-align: right'"
    cells = "".join(
        f"<td data-cls='{c}' {pad[:-1]}{'; color: ' + FORGOTTEN_COLOR if c in state.classes else ''}'>{a:.1f}</td>"
        for c, a in enumerate(state.per_class_acc))
    names = "".join(f"<th {pad}>{esc(str(n))}</th>" for n in core.classes)
    table = (f"<table class='wf-per-class' style='margin: 4px 0'><tr><th {pad}>class</th>{names}</tr>"
             f"<tr><th {pad}>test acc (%)</th>{cells}</tr></table>")
    return f"<div class='wf-state' {attrs}><p>{head}</p>{table}{tops}</div>"


def class_name(name: str) -> str:
    """How a control names a class: 'digit 3' for the digit datasets (whose names are the
    digits), the dataset's own name otherwise ('cat', 'T-shirt/top')."""
    return f"digit {name}" if str(name).isdigit() else str(name)


def class_options(classes: Sequence[str]) -> list[tuple[str, int]]:
    names = [class_name(n) for n in classes]
    if len(set(names)) < len(names):  # ambiguous names: number them
        names = [f"{c}: {n}" for c, n in enumerate(names)]
    return [("none (original model)", NONE)] + [(n, c) for c, n in enumerate(names)]


# -- live widgets (kernel) ----------------------------------------------------------------------

class ForgettingExplorer:
    """ipywidgets with Python callbacks: pick any set of classes (none = the original model), how
    their gates combine, a layer and k; everything updates.

    ``shown`` mirrors the numbers currently on screen, so tests can check them without a
    browser. Call ``core.states()`` first (the notebook does) so each single class is a cache
    hit; a new set costs one pass over the test split.
    """

    def __init__(self, core: ForgettingCore, layer: str | None = None, k: int = 5) -> None:
        import ipywidgets as w

        self.core = core
        self.class_select = w.SelectMultiple(
            options=[(label, c) for label, c in class_options(core.classes) if c != NONE], value=(),
            rows=min(10, len(core.classes)), description="forget",
            tooltip="ctrl/⌘-click or shift-click to pick several classes; none = the original model")
        self.combine_select = w.ToggleButtons(
            options=list(COMBINES), value="product", description="combine",
            tooltips=["product of the rows' gates (model(x, forget=S))",
                      "most closed single row per filter (combine='min')"])
        self.layer_select = w.Dropdown(options=core.layer_names, value=layer or core.most_closed_layer(),
                                       description="layer")
        self.k_select = w.IntSlider(value=k, min=1, max=20, description="top k")
        self.summary = w.HTML()
        self.grid = w.Image(format="png")
        self.bars = w.Image(format="png")
        self.hist = w.Image(format="png")
        self.shown: dict[str, Any] = {}
        self._png: dict[tuple[Any, ...], bytes] = {}  # rendered figures: revisiting a selection is instant
        self.class_select.observe(self._on_class, names="value")
        self.combine_select.observe(self._on_class, names="value")
        self.layer_select.observe(self._on_gates, names="value")
        self.k_select.observe(self._on_gates, names="value")
        hint = w.HTML("<small>ctrl/⌘-click to forget several classes at once; "
                      "nothing selected = the original model</small>")
        self.widget = w.VBox([w.HBox([self.class_select, w.VBox([self.combine_select, self.layer_select,
                                                                 self.k_select, hint])]),
                              self.summary, self.grid, w.HBox([self.bars, self.hist])])
        self._on_class()

    def select(self, forget: Forget, combine: str | None = None) -> None:
        """Programmatic selection (same path as a click): None or -1 = original model, a class,
        or a set of classes; ``combine`` ("product" | "min") if given."""
        if combine is not None:
            self.combine_select.value = check_combine(combine)
        self.class_select.value = as_classes(forget)

    def _key(self) -> StateKey:
        return state_key(self.class_select.value, self.combine_select.value)

    def _cached(self, key: tuple[Any, ...], render: Any) -> bytes:
        if key not in self._png:
            self._png[key] = render()
        return self._png[key]

    def _on_class(self, change: Any = None) -> None:
        key = self._key()
        state = self.core.state(*key)
        self.grid.value = self._cached(("grid", key), lambda: grid_png(self.core, state))
        self.bars.value = self._cached(("bars", key), lambda: accuracy_png(self.core, state))
        self._on_gates()

    def _on_gates(self, change: Any = None) -> None:
        (classes, combine), layer, k = self._key(), self.layer_select.value, self.k_select.value
        state = self.core.state(classes, combine)
        self.hist.value = self._cached(("hist", layer, classes, combine, k),
                                       lambda: gates_png(self.core, layer, classes, k, combine))
        self.summary.value = summary_html(self.core, state, layer, k)
        self.shown = {"forget": state.forget, "classes": state.classes, "combine": state.combine,
                      "acc_f": state.acc_f, "acc_r": state.acc_r, "per_class_acc": state.per_class_acc,
                      "top_filters": self.core.top_filters(layer, classes, k, combine) if classes else None}


# -- static page (no kernel) --------------------------------------------------------------------

def _single_panel(core: ForgettingCore, state: ForgetState, layer: str, k: int) -> Any:
    """Numbers, image grid, accuracy chart and gate histogram of the original model or one class."""
    import ipywidgets as w

    return w.VBox([
        w.HTML(summary_html(core, state, layer, k)),
        w.Image(value=grid_png(core, state, colors=STATIC_COLORS), format="png"),
        w.HBox([w.Image(value=accuracy_png(core, state, colors=STATIC_COLORS), format="png"),
                w.Image(value=gates_png(core, layer, state.classes, k, colors=STATIC_COLORS), format="png")]),
    ])


def _pair_panel(core: ForgettingCore, state: ForgetState, layer: str, k: int, layout: Any, style: Any) -> Any:
    """One HTML widget (numbers and SVG chart); layout and style models are shared by all pairs."""
    import ipywidgets as w

    return w.HTML(summary_html(core, state, layer, k) + accuracy_svg(core, state), layout=layout, style=style)


def static_page(core: ForgettingCore, layer: str | None = None, k: int = 5, pairs: bool = True) -> Any:
    """Two Dropdowns, "forget" and "and", jslinked to nested Stacks of precomputed panels: the
    original model, every class and (``pairs``, up to ``PAIR_LIMIT`` classes) every pair, with no
    kernel. The outer Stack follows "forget", every inner Stack follows "and"; a panel widget
    appears in several Stacks but is stored once in the page."""
    import ipywidgets as w

    layer = layer or core.most_closed_layer()
    n = len(core.classes)
    singles = [_single_panel(core, state, layer, k) for state in core.states()]  # [0]: none, [c + 1]: c
    labels = [label for label, _ in class_options(core.classes)]
    first = w.Dropdown(options=labels, index=0, description="forget", layout=w.Layout(width="22em"))
    if not pairs or n > PAIR_LIMIT:
        stack = w.Stack(singles, selected_index=0)
        w.jslink((first, "index"), (stack, "selected_index"))
        return w.VBox([first, stack])
    from ipywidgets.widgets.widget_string import HTMLStyle

    layout, style = w.Layout(), HTMLStyle()
    duo = {state.classes: _pair_panel(core, state, layer, k, layout, style) for state in core.pair_states()}

    def panel(i: int, j: int) -> Any:  # dropdown indices: 0 = nothing, c + 1 = class c
        classes = as_classes({i - 1, j - 1})
        return duo[classes] if len(classes) == 2 else singles[classes[0] + 1 if classes else 0]

    second = w.Dropdown(options=["nothing else"] + labels[1:], index=0, description="and",
                        layout=w.Layout(width="22em"))
    inner = [w.Stack([panel(i, j) for j in range(n + 1)], selected_index=0) for i in range(n + 1)]
    outer = w.Stack(inner, selected_index=0)
    w.jslink((first, "index"), (outer, "selected_index"))
    for stack in inner:
        w.jslink((second, "index"), (stack, "selected_index"))
    return w.VBox([w.HBox([first, second]), outer])

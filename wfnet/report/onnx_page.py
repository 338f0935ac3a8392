"""The draw-and-forget page (notebooks/draw_and_forget.py, issue 21): the interactive page's WF model as
one ONNX file with the forget set as an input, run by the reader's browser on any digit they draw."""

# Why: the paper's point is that one checkpoint forgets any class chosen at run time; the static
# interactive page can only switch among states computed when the book was built. This page needs no
# kernel and no server (onnxruntime-web, WebAssembly, vendored by ``book/vendor.sh``).
#
# The graph: ``image`` (1, C, H, W) raw pixels in [0, 1], normalised inside with the dataset's
# mean and std; ``mask`` (1, N_c) a 0/1 float per class to forget, the gates of the ticked rows
# combined by their product inside the graph (``wfnet.layers.gates.select_gates``, what
# ``model(x, forget={a, b})`` does; all zeros = open gates = the original model); ``probs``
# (1, N_c) softmax probabilities.
#
# Exactness is checked, not assumed: ``write_test_vectors`` records what the PyTorch model (its
# public ``model(x, forget=...)``, fused path) gives on fixed test images and masks, ``check_onnx``
# runs them through onnxruntime (build time, Python) and the page runs them through
# onnxruntime-web (load time, browser); both must agree to ``TOLERANCE``.
#
# Build: ``python -m wfnet.report.onnx_page --checkpoint WF.pt --out DIR`` (``make book`` does it).

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import load
from ..data import ImageDataset, load_dataset
from ..errors import WFNetError
from ..io import atomic_write_text, sha256_file
from ..wrap import WFModel
from .sets import bar_text, measured_sets, read_sets
from .widgets import class_name

OPSET = 18                 # onnxruntime-web 1.30 runs it; the exporter's default may be newer
TOLERANCE = 1e-4           # max |p_onnx - p_torch| over every test vector, Python and browser
FORMAT = "wfnet-onnx-page/1"
MODEL_FILE = "model.onnx"
VECTORS_FILE = "vectors.json"
INPUT_NAMES = ("image", "mask")
OUTPUT_NAME = "probs"
ASSETS = "../_static/"     # the book's static folder, seen from a page under notebooks/
ORT_DIR = "onnxruntime/"   # where book/vendor.sh puts onnxruntime-web, under ASSETS
MODEL_DIR = "onnx/"        # where `make book` puts MODEL_FILE and VECTORS_FILE, under ASSETS


class PageModel(nn.Module):
    """(raw image in [0, 1], forget mask) -> probabilities: what the page runs, in one module.

    Normalisation and softmax live in the graph so the browser feeds pixels and reads
    probabilities, with no preprocessing of its own that could drift from Python's."""

    def __init__(self, model: WFModel, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        x = (image - self.mean) / self.std
        return torch.softmax(self.model.forward_rows(x, mask, "product"), dim=1)


def export_onnx(model: WFModel, mean: Sequence[float], std: Sequence[float], image_size: int,
                path: Path | str, opset: int = OPSET) -> Path:
    """Write ``model`` as one self-contained ONNX file (weights inside, no external data).

    Exported with the elementwise reference path (``model.fuse = False``, restored after):
    the fused path keys a cache on tensor storage (``data_ptr``), which tracing cannot see,
    and writes into preallocated outputs, which the TorchScript exporter cannot translate.
    Both paths are the same model (``tests/test_fusion.py``); ``check_onnx`` compares the
    file against the fused path the package runs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = PageModel(model, mean, std).eval()
    image = torch.full((1, len(mean), image_size, image_size), 0.5)
    mask = torch.zeros(1, model.num_classes)
    mask[0, 0] = 1.0
    fuse, model.fuse = model.fuse, False
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(page, (image, mask), tmp_name, input_names=list(INPUT_NAMES),
                              output_names=[OUTPUT_NAME], opset_version=opset, dynamo=True,
                              external_data=False, verbose=False)
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; the book serves this file
        os.replace(tmp_name, path)
    finally:
        model.fuse = fuse
        Path(tmp_name).unlink(missing_ok=True)
    return path


def masks_for(num_classes: int, seed: int = 0) -> list[list[int]]:
    """The forget sets the test vectors cover: none, every class alone, four random sets of
    2..N_c-1 classes (seeded) and all classes: empty, single, several and full masks."""
    sets: list[list[int]] = [[]] + [[c] for c in range(num_classes)]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(4):
        k = int(torch.randint(2, max(3, num_classes), (1,), generator=gen))
        sets.append(sorted(torch.randperm(num_classes, generator=gen)[:k].tolist()))
    sets.append(list(range(num_classes)))
    return sets


def mask_tensor(classes: Sequence[int], num_classes: int) -> Tensor:
    mask = torch.zeros(1, num_classes)
    mask[0, list(classes)] = 1.0
    return mask


def picker_index(data: ImageDataset, per_class: int = 1) -> Tensor:
    """The first ``per_class`` test images of every class: the page's picker and test vectors."""
    labels = data.test.labels.cpu()
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(data.num_classes)])


@torch.no_grad()
def reference_probs(model: WFModel, mean: Sequence[float], std: Sequence[float], images: Tensor,
                    forget: Sequence[int]) -> Tensor:
    """(B, N_c) float32 probabilities of the PyTorch model as the package runs it: the public
    ``model(x, forget=...)`` (None for no class: the original model, bit for bit; a set of
    classes: their rows' product), on raw images in [0, 1] normalised like every loop does."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    model.eval()
    logits = model((images.float() - m) / s, forget=set(forget) if forget else None, combine="product")
    return torch.softmax(logits.float(), dim=1)


def test_vectors(model: WFModel, data: ImageDataset, per_class: int = 1, seed: int = 0) -> dict[str, Any]:
    """Fixed test images (uint8, as stored) and forget masks -> the PyTorch model's probabilities.

    The browser feeds an image as ``uint8 / 255`` in float32, the value ``normalize`` divides
    out too, so the page and Python run the model on the same numbers."""
    index = picker_index(data, per_class)
    images = data.test.gather(index).cpu()  # uint8 (I, C, H, W)
    raw = images.float().div_(255.0)
    sets = masks_for(data.num_classes, seed)
    probs = torch.stack([reference_probs(model, data.mean, data.std, raw, s) for s in sets], dim=1)
    return {
        "format": FORMAT,
        "tolerance": TOLERANCE,
        "classes": list(data.classes),
        "class_names": [class_name(c) for c in data.classes],
        "image_shape": list(images.shape[1:]),
        "mean": list(data.mean),
        "std": list(data.std),
        "test_index": index.tolist(),
        "labels": data.test.labels.cpu()[index].tolist(),
        "images": images.reshape(len(index), -1).tolist(),
        "forget_sets": sets,
        "probs": probs.tolist(),  # (images, masks, N_c)
    }


def write_test_vectors(model: WFModel, data: ImageDataset, path: Path | str, per_class: int = 1,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``test_vectors`` (plus ``extra``: what the page says about the model) as compact JSON."""
    vectors = {**test_vectors(model, data, per_class), **(extra or {})}
    atomic_write_text(Path(path), json.dumps(vectors, separators=(",", ":"), allow_nan=False) + "\n")
    return vectors


def read_vectors(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        vectors = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise WFNetError(f"cannot read test vectors {path}: {err}") from None
    if not isinstance(vectors, dict) or vectors.get("format") != FORMAT:
        raise WFNetError(f"{path} is not a {FORMAT} file")
    return vectors


def onnx_probs(session: Any, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One forward of the exported file: (1, C, H, W) pixels in [0, 1], (1, N_c) mask."""
    feed = {INPUT_NAMES[0]: image.astype(np.float32), INPUT_NAMES[1]: mask.astype(np.float32)}
    return session.run([OUTPUT_NAME], feed)[0]


def session(path: Path | str) -> Any:
    """An onnxruntime CPU session on one thread (what the page runs: WebAssembly, one thread)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def check_onnx(onnx_path: Path | str, vectors: dict[str, Any], tolerance: float = TOLERANCE) -> float:
    """Max |p_onnx - p_torch| over every (image, mask) of ``vectors``; a WFNetError above
    ``tolerance`` (the file would show the reader another model than the one Python runs)."""
    sess = session(onnx_path)
    shape = [1, *vectors["image_shape"]]
    n = len(vectors["classes"])
    worst = 0.0
    for img, per_mask in zip(vectors["images"], vectors["probs"]):
        x = (np.asarray(img, dtype=np.float32) / np.float32(255.0)).reshape(shape)
        for classes, want in zip(vectors["forget_sets"], per_mask):
            got = onnx_probs(sess, x, mask_tensor(classes, n).numpy())[0]
            worst = max(worst, float(np.abs(got - np.asarray(want, dtype=np.float32)).max()))
    if not worst <= tolerance:
        raise WFNetError(f"{onnx_path}: onnxruntime differs from PyTorch by {worst:.3g} (> {tolerance:g})")
    return worst


def page_sets(measured: dict[str, Any]) -> dict[str, Any]:
    """What the page's script needs to flag a ticked set: every measured set (product, as the
    graph combines gates), its accuracies, whether it is forgotten, and the bar."""
    return {"bar": bar_text(measured), "n_triples": measured["config"].get("n_triples"),
            "precision": (measured.get("provenance") or {}).get("precision") or "fp32",
            "measured": [{k: r[k] for k in ("classes", "acc_f", "acc_r", "forgotten")}
                         for r in measured_sets(measured, "product")]}


def export_page(checkpoint: Path | str, out: Path | str, data_root: Path | str | None = None,
                sets: Path | str | None = None) -> dict[str, Any]:
    """The page's assets from a WF checkpoint: ``out/model.onnx`` and ``out/vectors.json`` (the
    test vectors, what the page says about the model, the Python check's result and, from
    ``sets`` (``wfnet evaluate --sets pairs`` of this checkpoint), which sets it forgets)."""
    start = time.perf_counter()
    loaded = load(checkpoint)
    if loaded.kind != "wf" or not isinstance(loaded.model, WFModel):
        raise WFNetError(f"{checkpoint} is an original model; the page needs a WF checkpoint (wf.pt)")
    model, spec = loaded.model.eval(), loaded.spec
    data = load_dataset(loaded.dataset, Path(data_root) if data_root else None)
    if spec.num_classes != data.num_classes or spec.in_chans != data.in_chans:
        raise WFNetError(f"{checkpoint} does not fit {data.name} ({data.num_classes} classes, {data.in_chans} channels)")
    out = Path(out)
    onnx_path = export_onnx(model, data.mean, data.std, spec.image_size, out / MODEL_FILE)
    prov = loaded.meta.get("provenance") or {}
    import onnxruntime

    about = {"model": {
        "checkpoint": str(checkpoint), "checkpoint_sha256": sha256_file(Path(checkpoint)),
        "backbone": spec.name, "width": spec.width, "dataset": data.name, "image_size": spec.image_size,
        "test_size": len(data.test.labels), "git_commit": prov.get("git_commit"),
        "onnx_bytes": onnx_path.stat().st_size, "opset": OPSET, "export_path": "elementwise (fuse=False)",
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
    }}
    measured = None if sets is None else read_sets(sets)
    if sets is not None and measured is None:
        raise WFNetError(f"{sets} not found (run `wfnet evaluate --sets pairs` on {checkpoint} first)")
    if measured is not None:
        about["sets"] = page_sets(measured)
    vectors = write_test_vectors(model, data, out / VECTORS_FILE, extra=about)
    worst = check_onnx(onnx_path, vectors)
    vectors["python_check"] = {"max_abs_diff": worst, "cases": len(vectors["images"]) * len(vectors["forget_sets"]),
                               "seconds": round(time.perf_counter() - start, 1)}
    atomic_write_text(out / VECTORS_FILE, json.dumps(vectors, separators=(",", ":"), allow_nan=False) + "\n")
    return vectors


# -- the page -----------------------------------------------------------------------------------

def model_card(vectors: dict[str, Any]) -> str:
    """The box at the top of the page: which model runs, how exact the export is, where it runs."""
    m, chk = vectors.get("model", {}), vectors.get("python_check", {})
    esc = html.escape
    width = m.get("width")
    frac = next((f"1/{d}" for d in (2, 4, 8, 16) if isinstance(width, (int, float)) and abs(width * d - 1) < 1e-9),
                "full" if width == 1.0 else str(width))
    backbone = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}.get(str(m.get("backbone")), str(m.get("backbone")))
    cases = chk.get("cases", "?")
    return (
        '<div class="admonition note wf-status"><p class="admonition-title">What this page runs</p>'
        f"<p>The WF model of the <a href=\"interactive_forgetting.html\">interactive page</a>: {esc(backbone)} at "
        f"width {esc(frac)} on {esc(str(m.get('dataset', '?')))}, one checkpoint "
        f"(<code>{esc(Path(str(m.get('checkpoint', '?'))).name)}</code>, sha256 "
        f"<code>{esc(str(m.get('checkpoint_sha256', '?'))[:12])}</code>, commit "
        f"<code>{esc(str(m.get('git_commit', '?'))[:9])}</code>) exported to ONNX "
        f"({float(m.get('onnx_bytes', 0)) / 1e6:.1f} MB, opset {m.get('opset', '?')}). The forget set is an "
        "input of the graph: one 0/1 entry per class, the gates of the ticked rows multiplied "
        "(<code>model(x, forget={a, b})</code>, <code>combine=\"product\"</code>); no class ticked = every "
        "gate open = the original model, shown on the right.</p>"
        "<p><b>Nothing runs on a server</b>: your browser runs the model with onnxruntime-web "
        "(WebAssembly, one thread), served by this book like every other script; what you draw never "
        "leaves the page.</p>"
        f"<p>Exactness: on {cases} fixed pairs of a test image and a forget set, onnxruntime in Python "
        f"reproduces the PyTorch model to <b>{float(chk.get('max_abs_diff', float('nan'))):.1e}</b> "
        f"(tolerance {vectors.get('tolerance', TOLERANCE):g}) when the book is built; your browser repeats "
        "the check when the page loads (result below the charts).</p></div>")


def page_html(vectors: dict[str, Any], assets: str = ASSETS) -> str:
    """Canvas, test-image picker, one checkbox per class, two bar charts (with the forget set,
    original model) and the self-test line; the script that drives them (``PAGE_JS``)."""
    esc = html.escape
    names = vectors["class_names"]
    boxes = "".join(
        f'<label class="wf-forget-label"><input type="checkbox" class="wf-forget" value="{c}"> {esc(n)}</label>'
        for c, n in enumerate(names))
    config = {"ort": assets + ORT_DIR, "model": assets + MODEL_DIR + MODEL_FILE,
              "vectors": assets + MODEL_DIR + VECTORS_FILE, "mb": round(vectors.get("model", {}).get("onnx_bytes", 0) / 1e6, 1)}
    return f"""<div id="wf-draw" class="wf-draw">
<style>
#wf-draw {{ font-size: 0.9rem; }}
#wf-draw .wf-row {{ display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }}
#wf-draw canvas.wf-pad {{ background: #000; touch-action: none; cursor: crosshair; border: 1px solid #888;
  width: 280px; height: 280px; display: block; }}
#wf-draw .wf-small {{ width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #888;
  vertical-align: middle; background: #000; }}
#wf-draw .wf-picker canvas {{ width: 42px; height: 42px; image-rendering: pixelated; cursor: pointer; margin: 1px;
  border: 2px solid transparent; }}
#wf-draw .wf-picker canvas.wf-on {{ border-color: #d62728; }}
#wf-draw .wf-forget-label {{ display: inline-block; min-width: 6.5em; margin-right: 4px; }}
#wf-draw .wf-chart {{ width: 220px; }}
#wf-draw .wf-bar-row {{ display: flex; align-items: center; height: 19px; }}
#wf-draw .wf-bar-name {{ width: 5.2em; }}
#wf-draw .wf-bar-name.wf-gone {{ color: #d62728; text-decoration: line-through; }}
#wf-draw .wf-bar-track {{ flex: 1; background: #eee; height: 13px; position: relative; }}
#wf-draw .wf-bar {{ height: 13px; background: #4c72b0; }}
#wf-draw .wf-bar.wf-top {{ background: #2ca02c; }}
#wf-draw .wf-bar-val {{ width: 3.6em; text-align: right; font-variant-numeric: tabular-nums; }}
#wf-draw button {{ font-size: 0.85rem; margin-right: 6px; }}
</style>
<div class="wf-row">
  <div>
    <canvas class="wf-pad" id="wf-pad" width="280" height="280" aria-label="draw a digit here"></canvas>
    <div style="margin-top:6px"><button type="button" id="wf-clear">clear</button>
      the 28&times;28 input the model sees: <canvas class="wf-small" id="wf-input" width="28" height="28"></canvas></div>
    <div style="margin-top:6px">or pick a test image of {esc(str(vectors.get("model", {}).get("dataset", "the test set")))}:</div>
    <div class="wf-picker" id="wf-picker"></div>
  </div>
  <div>
    <div><b>Forget</b> (tick any set of classes): <button type="button" id="wf-none">none</button></div>
    <div id="wf-classes" style="max-width:470px">{boxes}</div>
    <div class="wf-row" style="margin-top:8px">
      <div class="wf-chart"><b id="wf-forget-title">with the ticked classes forgotten</b>
        <div id="wf-chart-forget" data-chart="forget"></div></div>
      <div class="wf-chart"><b>original model</b> (nothing forgotten)
        <div id="wf-chart-original" data-chart="original"></div></div>
    </div>
  </div>
</div>
<p id="wf-set-flag" data-forgotten=""></p>
<p id="wf-status">Loading the model ({config["mb"]} MB) and onnxruntime-web&hellip; (needs JavaScript)</p>
<p id="wf-selftest"></p>
</div>
<script src="{esc(assets + ORT_DIR)}ort.wasm.min.js"></script>
<script>
window.wfnetConfig = {json.dumps(config)};
{PAGE_JS}
</script>"""


# The page's script. Kept free of remote URLs (tests/test_book_html.py reads inline scripts).
PAGE_JS = r"""
(function () {
  "use strict";
  const cfg = window.wfnetConfig;
  const $ = (id) => document.getElementById(id);
  const pad = $("wf-pad"), pctx = pad.getContext("2d", {willReadFrequently: true});
  let session = null, vectors = null, N = 0, H = 28, W = 28;
  let input = new Float32Array(28 * 28), inputVersion = 0, originalFor = -1, original = null;
  let picked = false, drawing = false, last = null, busy = false, pending = false;
  window.wfnetUpdates = 0;
  window.wfnetReady = false;

  function clearPad() { pctx.fillStyle = "#000"; pctx.fillRect(0, 0, pad.width, pad.height); }
  clearPad();

  // --- the drawing, as MNIST digits are made: fit in 20x20, centre of mass at the centre -----
  function preprocess() {
    const S = pad.width, d = pctx.getImageData(0, 0, S, S).data;
    let x0 = S, y0 = S, x1 = -1, y1 = -1;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      if (d[(y * S + x) * 4] > 20) { if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y; }
    }
    const out = new Float32Array(H * W);
    if (x1 < 0) return out;
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1, k = (S * 20 / 28) / Math.max(bw, bh);
    const a = document.createElement("canvas"); a.width = a.height = S;
    const actx = a.getContext("2d", {willReadFrequently: true});
    actx.fillStyle = "#000"; actx.fillRect(0, 0, S, S);
    actx.imageSmoothingEnabled = true; actx.imageSmoothingQuality = "high";
    actx.drawImage(pad, x0, y0, bw, bh, (S - bw * k) / 2, (S - bh * k) / 2, bw * k, bh * k);
    const e = actx.getImageData(0, 0, S, S).data;
    let m = 0, cx = 0, cy = 0;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) { const v = e[(y * S + x) * 4]; m += v; cx += v * x; cy += v * y; }
    const cell = S / W, dx = Math.round((S / 2 - cx / m) / cell), dy = Math.round((S / 2 - cy / m) / cell);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      const si = i - dy, sj = j - dx;
      if (si < 0 || sj < 0 || si >= H || sj >= W) continue;
      let s = 0;
      for (let y = si * cell; y < (si + 1) * cell; y++) for (let x = sj * cell; x < (sj + 1) * cell; x++) s += e[(y * S + x) * 4];
      out[i * W + j] = Math.min(1, s / (cell * cell * 255));
    }
    return out;
  }

  function showInput() {
    const c = $("wf-input"), cx = c.getContext("2d"), img = cx.createImageData(W, H);
    for (let i = 0; i < H * W; i++) { const v = Math.round(input[i] * 255); img.data.set([v, v, v, 255], i * 4); }
    cx.putImageData(img, 0, 0);
  }

  // --- drawing with mouse, pen or touch (pointer events) ---------------------------------------
  function at(ev) { const r = pad.getBoundingClientRect(); return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height]; }
  function stroke(p) {
    pctx.strokeStyle = "#fff"; pctx.fillStyle = "#fff"; pctx.lineWidth = 20; pctx.lineCap = "round"; pctx.lineJoin = "round";
    pctx.beginPath(); pctx.moveTo(last[0], last[1]); pctx.lineTo(p[0], p[1]); pctx.stroke(); last = p;
  }
  pad.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    if (picked) { clearPad(); picked = false; markPicked(-1); }
    drawing = true; last = at(ev); stroke(last);
    try { pad.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic events have no capture */ }
    fromPad();
  });
  pad.addEventListener("pointermove", (ev) => { if (drawing) { ev.preventDefault(); stroke(at(ev)); fromPad(); } });
  for (const t of ["pointerup", "pointercancel", "pointerleave"]) {
    pad.addEventListener(t, () => { if (drawing) { drawing = false; fromPad(); } });
  }
  $("wf-clear").addEventListener("click", () => { clearPad(); picked = false; markPicked(-1); fromPad(); });
  $("wf-none").addEventListener("click", () => { for (const b of boxes()) b.checked = false; schedule(); });

  function fromPad() { input = preprocess(); inputVersion++; showInput(); schedule(); }

  // --- the picker: exact test images of the dataset -------------------------------------------
  function markPicked(k) { document.querySelectorAll("#wf-picker canvas").forEach((c, i) => c.classList.toggle("wf-on", i === k)); }
  function pick(k) {
    const px = vectors.images[k];
    input = new Float32Array(px.length);
    for (let i = 0; i < px.length; i++) input[i] = px[i] / 255;
    inputVersion++; picked = true; markPicked(k);
    const small = document.createElement("canvas"); small.width = W; small.height = H;
    const sctx = small.getContext("2d"), img = sctx.createImageData(W, H);
    for (let i = 0; i < H * W; i++) img.data.set([px[i], px[i], px[i], 255], i * 4);
    sctx.putImageData(img, 0, 0);
    clearPad(); pctx.imageSmoothingEnabled = false; pctx.drawImage(small, 0, 0, pad.width, pad.height); pctx.imageSmoothingEnabled = true;
    showInput(); schedule();
  }
  function buildPicker() {
    const box = $("wf-picker");
    vectors.images.forEach((px, k) => {
      const c = document.createElement("canvas"); c.width = W; c.height = H;
      c.title = "test image #" + vectors.test_index[k] + " (" + vectors.class_names[vectors.labels[k]] + ")";
      const cx = c.getContext("2d"), img = cx.createImageData(W, H);
      for (let i = 0; i < H * W; i++) img.data.set([px[i], px[i], px[i], 255], i * 4);
      cx.putImageData(img, 0, 0);
      c.addEventListener("click", () => pick(k));
      box.appendChild(c);
    });
  }

  // --- the model ------------------------------------------------------------------------------
  function boxes() { return Array.from(document.querySelectorAll("#wf-classes input.wf-forget")); }
  function currentMask() { const m = new Float32Array(N); for (const b of boxes()) if (b.checked) m[+b.value] = 1; return m; }
  async function run(image, mask) {
    const feeds = {image: new ort.Tensor("float32", image, [1, 1, H, W]), mask: new ort.Tensor("float32", mask, [1, N])};
    const out = await session.run(feeds);
    return Float32Array.from(out.probs.data);
  }

  function chart(el, probs, gone) {
    let top = 0; for (let c = 1; c < N; c++) if (probs[c] > probs[top]) top = c;
    if (!el.children.length) {
      for (let c = 0; c < N; c++) {
        const row = document.createElement("div"); row.className = "wf-bar-row";
        row.innerHTML = '<span class="wf-bar-name"></span><span class="wf-bar-track"><div class="wf-bar"></div></span><span class="wf-bar-val"></span>';
        row.querySelector(".wf-bar-name").textContent = vectors.class_names[c];
        el.appendChild(row);
      }
    }
    Array.from(el.children).forEach((row, c) => {
      const bar = row.querySelector(".wf-bar");
      bar.style.width = (100 * probs[c]).toFixed(2) + "%";
      bar.classList.toggle("wf-top", c === top);
      bar.dataset.class = String(c); bar.dataset.prob = probs[c].toPrecision(9);
      row.querySelector(".wf-bar-val").textContent = (100 * probs[c]).toFixed(1) + "%";
      row.querySelector(".wf-bar-name").classList.toggle("wf-gone", !!(gone && gone[c]));
    });
  }

  async function update() {
    const mask = currentMask(), version = inputVersion, image = input;
    if (originalFor !== version) { original = await run(image, new Float32Array(N)); originalFor = version; }
    const probs = await run(image, mask);
    chart($("wf-chart-forget"), probs, mask);
    chart($("wf-chart-original"), original, null);
    const ticked = boxes().filter((b) => b.checked).map((b) => vectors.class_names[+b.value]);
    $("wf-forget-title").textContent = ticked.length ? "forgetting " + ticked.join(" + ") : "nothing ticked (= original)";
    setFlag(boxes().filter((b) => b.checked).map((b) => +b.value));
    window.wfnetLastInput = Array.from(image);
    window.wfnetLastMask = Array.from(mask);
    window.wfnetLastProbs = Array.from(probs);
    window.wfnetLastOriginal = Array.from(original);
    window.wfnetUpdates += 1;
  }
  // a ticked set as measured on the test set when the book was built (vectors.sets, product)
  function setFlag(idx) {
    const el = $("wf-set-flag"), m = vectors.sets, key = idx.join(",");
    const hit = m && idx.length ? m.measured.find((s) => s.classes.join(",") === key) : null;
    const pc = (v) => (v === null ? "–" : v.toFixed(1) + " %");
    el.dataset.forgotten = hit ? String(hit.forgotten) : "";
    el.innerHTML = !m || !idx.length ? "" : !hit
      ? "This set was not measured (every class, every pair and " + m.n_triples + " sampled triples were)."
      : (hit.forgotten ? "✓ Measured on the test set: forgotten" : "<b style='color:#d62728'>⚠ Not forgotten</b> "
        + "on the test set: this model misses the bar") + " (Acc_f " + pc(hit.acc_f) + ", Acc_r " + pc(hit.acc_r)
        + "; bar: " + m.bar + "; measured in " + m.precision + ", the page runs fp32).";
  }
  function schedule() {
    if (!session) return;
    if (busy) { pending = true; return; }
    busy = true;
    update().catch((err) => { $("wf-status").textContent = "The model failed to run: " + err; console.error(err); })
      .finally(() => { busy = false; if (pending) { pending = false; schedule(); } });
  }
  window.wfnetIdle = () => !busy && !pending;

  // --- exactness: the build-time test vectors, run here ---------------------------------------
  window.wfnetSelfTest = async function () {
    while (busy) await new Promise((r) => setTimeout(r, 20));
    busy = true;
    try {
      let worst = 0, cases = 0;
      const t0 = performance.now();
      for (let k = 0; k < vectors.images.length; k++) {
        const img = Float32Array.from(vectors.images[k], (v) => v / 255);
        for (let s = 0; s < vectors.forget_sets.length; s++) {
          const mask = new Float32Array(N); for (const c of vectors.forget_sets[s]) mask[c] = 1;
          const got = await run(img, mask), want = vectors.probs[k][s];
          for (let c = 0; c < N; c++) worst = Math.max(worst, Math.abs(got[c] - want[c]));
          cases++;
        }
      }
      const res = {maxAbsDiff: worst, cases: cases, tolerance: vectors.tolerance, ms: Math.round(performance.now() - t0)};
      window.wfnetSelfTestResult = res;
      $("wf-selftest").innerHTML = "Checked in your browser when the page loaded: the " + cases +
        " build-time test vectors (test images &times; forget sets) give probabilities within <b>" +
        worst.toExponential(1) + "</b> of PyTorch's (tolerance " + vectors.tolerance + "; " + res.ms + " ms)" +
        (worst <= vectors.tolerance ? "." : ": <b>too far, this is not the model Python runs</b>.");
      return res;
    } finally { busy = false; if (pending) { pending = false; schedule(); } }
  };

  async function start() {
    if (typeof ort === "undefined") throw new Error("onnxruntime-web did not load");
    ort.env.wasm.wasmPaths = new URL(cfg.ort, document.baseURI).href;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const t0 = performance.now();
    const [vec, sess] = await Promise.all([
      fetch(cfg.vectors).then((r) => { if (!r.ok) throw new Error("test vectors: HTTP " + r.status); return r.json(); }),
      ort.InferenceSession.create(cfg.model, {executionProviders: ["wasm"], graphOptimizationLevel: "all"})]);
    vectors = vec; session = sess; N = vectors.classes.length; H = vectors.image_shape[1]; W = vectors.image_shape[2];
    buildPicker();
    for (const b of boxes()) b.addEventListener("change", schedule);
    $("wf-status").textContent = "Model loaded in " + Math.round(performance.now() - t0) +
      " ms. Draw a digit in the black square (mouse, pen or finger), or pick a test image; tick classes to forget.";
    await window.wfnetSelfTest();
    window.wfnetReady = true;
    pick(0);
  }
  start().catch((err) => { $("wf-status").textContent = "Could not start the model: " + err; console.error(err); });
})();
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wfnet.report.onnx_page --checkpoint WF.pt --out DIR``: export, test vectors,
    Python check; a bad input or a failed check is one line and exit 2."""
    p = argparse.ArgumentParser(prog="python -m wfnet.report.onnx_page", description=main.__doc__)
    p.add_argument("--checkpoint", required=True, help="a WF checkpoint (wf.pt)")
    p.add_argument("--out", required=True, help="folder for model.onnx and vectors.json")
    p.add_argument("--data-root", default=None)
    p.add_argument("--sets", default=None, help="this checkpoint's sets.json (wfnet evaluate --sets pairs)")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        vectors = export_page(args.checkpoint, args.out, args.data_root, args.sets)
    except WFNetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    chk, m = vectors["python_check"], vectors["model"]
    print(f"{args.out}/{MODEL_FILE}: {m['onnx_bytes'] / 1e6:.1f} MB; onnxruntime vs PyTorch on {chk['cases']} "
          f"test vectors: max |diff| {chk['max_abs_diff']:.2e} (<= {TOLERANCE:g}); {chk['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

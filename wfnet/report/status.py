"""The status box atop the intro and the results pages: which scale each number comes from and how
many of the paper's Table 1 cells are measured at paper scale, all read from ``results/``."""

from __future__ import annotations

import html as _html
import json
from pathlib import Path

from .. import paper_values as pv
from ..experiments.results import read_result
from ..methods import method_names
from .ablation_page import ablation_rows
from .format import backbone_label, fraction, project_root, span
from .sources import measured_runs, method_results, relationships_path

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
        w = "full width" if width == 1.0 else f"width {fraction(width)}" if width else "width ?"
        epochs = (prov.get("train_config") or {}).get("epochs", "?")
        parts.append(f"{backbone_label(res['backbone'])} on {res['dataset']} at {w}, {epochs} training epochs, "
                     f"{int(prov.get('train_size', 0)):,} training images, on {prov.get('device', '?')}")
    return "; ".join(parts)


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
    w = f"width {fraction(width)}" if isinstance(width, (int, float)) and width != 1.0 else "full width"
    return (f"its own {backbone_label(str(prov.get('backbone', '?')))} at {w} on {_html.escape(str(prov.get('dataset', '?')))}, "
            f"trained by <code>make book</code>; <code>wfnet evaluate</code>: Acc_r {blob['acc_r']:.2f}, "
            f"Acc_f {blob['acc_f']:.2f}, every class's retain accuracy {span(acc_r, 1, ' %')}.")


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
                     + ", ".join(f"full-width {backbone_label(b)} on {d}" for d, b in ds)
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
    if page == "ablation":
        rows = ablation_rows(results_dir)
        originals = sorted({r["original"] for r in rows})
        items.append(f"<li>The untraining ablation below: {len(rows)} result files under <code>results/ablation/</code>, "
                     f"each table for one original model ({_html.escape('; '.join(originals)) or 'none yet'}).</li>")
    title = {"intro": "What this build shows", "experiment": "The scale of this notebook's numbers", "table1": "Where the numbers of this table come from",
             "table2": "Where the numbers of this table come from",
             "figures": "Where these figures come from"}.get(page, "What this page shows")
    body = "<ul>" + "".join(items) + "</ul>"
    return (f'<div class="admonition note wf-status"><p class="admonition-title">{title}</p>'
            f'<p><code>paper</code> rows and columns: the values printed in Poppi et al. (2024). Ours:</p>{body}</div>')

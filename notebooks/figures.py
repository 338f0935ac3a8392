# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Figures 3 and 4: which filters each class switches off
#
# After untraining, row c of a layer's $\alpha$ says which filters (or attention projections) the
# model closes to forget class c. The paper selects, for randomly chosen layers, the **top-10**
# most closed gates of every class and **keeps only the filters that appear for at least two
# classes**, to show features that classes share: in its Figure 3 (one VGG-16 layer, CIFAR-10)
# filter #332 serves both *dog* and *horse*, and filter #3 serves *cat*, *deer* and *dog*; its
# Figure 4 repeats the view for several layers of VGG-16 (first row), ResNet-18 (second row) and
# ViT-T (third row), all on CIFAR-10. The paper draws these links between classes and filters as a
# graph; we draw the same selection as a matrix: one row per class, one column per shared filter,
# a coloured cell where the filter is among that class's top-10, its colour the relevance
# $1 - \sigma(\alpha)$ (1 = fully closed). Each panel is read from
# `results/<preset>/<dataset>/<backbone>/relationships.csv`, written by `wfnet reproduce`. The
# paper picks layers at random; we show layers spread evenly from the first to the last wrapped
# layer, so the choice is the same on every build.

# %% tags=["parameters", "remove-cell"]
results_dir = "results"
n_layers = 3

# %% tags=["remove-input"]
from wfnet.report import figures_page as page
from wfnet.report import format as fmt
from wfnet.report import paper_values, status

results = fmt.resolve(results_dir)
fmt.show_html(status.status_html(results, "figures"))


def panel(dataset: str, backbone: str) -> tuple[str, object, tuple | None]:
    runs = page.relationship_runs(results, dataset, backbone)
    label = f"{paper_values.BACKBONE_LABELS.get(backbone, backbone)} ({dataset}"
    if not runs:
        return label + ")", None, None
    preset, dataset, backbone = runs[0]
    return f"{label}, {preset})", page.relationships_frame(results, preset, dataset, backbone), runs[0]


# %% [markdown]
# ## Figure 3: a VGG-16 layer and the CIFAR-10 classes

# %% tags=["remove-input"]
label, rel, run = panel("cifar10", "vgg16")
if rel is None:
    # HTML, not Markdown: a link in a cell's output is not resolved by Sphinx, so it names the built page
    fmt.show_html(f"<p><b>Figure 3: {fmt.NOT_RUN}.</b> It needs a WF-Net run of VGG-16 on CIFAR-10 "
                  "(<code>wfnet reproduce --dataset cifar10 --backbone vgg16 --preset paper</code>, a GPU piece "
                  'of the queue on the <a href="../book/reproduce.html">reproduce page</a>); none is in '
                  "<code>results/</code> yet.</p>")
else:
    layer = page.pick_layers(rel, 3)[1:2]
    fig = page.figure_relationships([(label, rel)], 1, layers=layer)
    fmt.show_html(page.figure_html(
        fig, "3", f"Relationships found by WF-Net between the filters of one VGG-16 layer ({layer[0]}) and the "
        f"CIFAR-10 classes ({run[0]} preset): for each class its top-10 most closed gates, keeping the filters "
        "that are in the top-10 of at least two classes. Colour: relevance 1 − σ(α)."))

# %% [markdown]
# ## Figure 4: VGG-16, ResNet-18 and ViT-T layers on CIFAR-10

# %% tags=["remove-input"]
rows = [panel("cifar10", b)[:2] for b in ("vgg16", "resnet18", "vit_tiny")]
if all(rel is None for _, rel in rows):
    fmt.show(f"**Figure 4: {fmt.NOT_RUN}.** It needs WF-Net runs of VGG-16, ResNet-18 and ViT-T on "
             "CIFAR-10; none is in `results/` yet.")
else:
    fig = page.figure_relationships(rows, n_layers)
    fmt.show_html(page.figure_html(
        fig, "4", f"Filter–class relationships on CIFAR-10 in {n_layers} layers (first to last) of VGG-16, "
        "ResNet-18 and ViT-T (top-10 gates per class, filters shared by at least two classes; for a ViT a "
        "“filter” is an output feature of a q/k/v projection)."))

# %% [markdown]
# ## The same view for the runs this build has
#
# The runs of other datasets (e.g. the `smoke` run on mnist-5k that `make book` makes), drawn with
# the same code and the same selection, so the figure code runs even where the paper's
# configuration has not. The smoke model is ResNet-18 at 1/8 width (8 to 64 filters per layer),
# so few filters are shared and the matrix is small; at full width the paper's layers have 64 to
# 512 filters.

# %% tags=["remove-input"]
others = [r for r in page.relationship_runs(results) if r[1] != "cifar10"]
if not others:
    fmt.show(f"_{fmt.NOT_RUN}: no relationships.csv in `results/`._")
for i, (preset_, dataset_, backbone_) in enumerate(others, 1):
    rel = page.relationships_frame(results, preset_, dataset_, backbone_)
    name = paper_values.BACKBONE_LABELS.get(backbone_, backbone_)
    layers = page.pick_layers(rel, n_layers)
    fig = page.figure_relationships([(f"{name} ({dataset_}, {preset_})", rel)], n_layers)
    fmt.show_html(page.figure_html(
        fig, f"S{i}", f"As Figures 3 and 4, for {name} on {dataset_} ({preset_} preset), layers "
        f"{', '.join(layers)}: per class its top-10 most closed gates, filters in the top-10 of at least two "
        "classes. Rows: the class forgotten; columns: filter index; colour: relevance 1 − σ(α)."))

# %% [markdown]
# The same selection on the model of the {doc}`interactive page <interactive_forgetting>` (ResNet-18
# at width 1/2, untrained until every class is forgotten while the others are kept), read from its
# checkpoint's $\alpha$: with more filters per layer and a model on which the method works, the
# shared filters are sparser and more clearly closed.

# %% tags=["remove-input"]
import pandas as pd

from wfnet.checkpoint import load
from wfnet.evaluation import explain

ia = fmt.resolve("runs/book-interactive/mnist-5k/resnet18/wf/wf.pt")
if not ia.is_file():
    fmt.show(f"_{fmt.NOT_RUN}: no interactive model at `{ia}` (`make book` trains it)._")
else:
    loaded = load(ia)
    model = loaded.model
    rel = pd.DataFrame(explain.relationships(model, top_k=10, min_classes=2))
    rel["class_name"] = rel["class"].astype(str)
    layers = page.pick_layers(rel, n_layers)
    fig = page.figure_relationships([("ResNet-18 ×1/2 (mnist-5k, interactive page)", rel)], n_layers)
    fmt.show_html(page.figure_html(
        fig, f"S{len(others) + 1}", f"As Figures 3 and 4, for the interactive page's ResNet-18 at width 1/2 on "
        f"mnist-5k, layers {', '.join(layers)}: per class its top-10 most closed gates, filters in the top-10 of at "
        "least two classes; colour: relevance 1 − σ(α)."))

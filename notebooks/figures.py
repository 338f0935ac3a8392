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
# model closes to forget class c. As in the paper, for each class we take the top-10 most closed
# gates of a layer and keep only the filters that appear for at least two classes: a filter shared
# by several classes hints at features those classes have in common. Each panel is drawn from
# `results/<preset>/<dataset>/<backbone>/relationships.csv`; a coloured cell means "this filter is
# among the class's top-k", its colour the relevance $1 - \sigma(\alpha)$. The paper picks layers
# at random; we show layers spread evenly from the first to the last wrapped layer.

# %% tags=["parameters"]
results_dir = "results"
n_layers = 3

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wfnet import paper_values, report

results = report.resolve(results_dir)


def panel(dataset: str, backbone: str) -> tuple[str, object]:
    runs = report.relationship_runs(results, dataset, backbone)
    label = f"{paper_values.BACKBONE_LABELS.get(backbone, backbone)} ({dataset}"
    if not runs:
        return label + ")", None
    preset, dataset, backbone = runs[0]
    return f"{label}, {preset})", report.relationships_frame(results, preset, dataset, backbone)


# %% [markdown]
# ## Figure 3: a VGG-16 layer and the CIFAR-10 classes

# %% tags=["hide-input"]
label, rel = panel("cifar10", "vgg16")
if rel is None:
    display(Markdown(f"**Figure 3: {report.NOT_RUN}** (no VGG-16 / CIFAR-10 WF-Net run in `results/`)."))
else:
    fig = report.figure_relationships([(label, rel)], 1, layers=report.pick_layers(rel, 3)[1:2])
    plt.show()

# %% [markdown]
# ## Figure 4: VGG-16, ResNet-18 and ViT-T layers on CIFAR-10

# %% tags=["hide-input"]
rows = [panel("cifar10", b) for b in ("vgg16", "resnet18", "vit_tiny")]
if all(rel is None for _, rel in rows):
    display(Markdown(f"**Figure 4: {report.NOT_RUN}** (no CIFAR-10 WF-Net run in `results/`)."))
else:
    report.figure_relationships(rows, n_layers)
    plt.show()

# %% [markdown]
# ## The same view for every other run we have
#
# Runs on other datasets (e.g. the `smoke` run on mnist-5k that `make book` makes), drawn the
# same way, so the figure code is exercised even where the paper's configuration has not run.

# %% tags=["hide-input"]
others = [r for r in report.relationship_runs(results) if r[1] != "cifar10"]
if not others:
    display(Markdown(f"_{report.NOT_RUN}: no relationships.csv in `results/`._"))
for preset_, dataset_, backbone_ in others:
    rel = report.relationships_frame(results, preset_, dataset_, backbone_)
    label = f"{paper_values.BACKBONE_LABELS.get(backbone_, backbone_)} ({dataset_}, {preset_})"
    report.figure_relationships([(label, rel)], n_layers)
    plt.show()

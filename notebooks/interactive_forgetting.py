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
# # Forget classes, interactively
#
# One WF checkpoint holds every unlearned model at once: choose a class, or two, and the same
# weights behave as if they had never seen them, while the other classes are kept. Below: the
# headline forget / retain accuracy and the test accuracy of each class (forgotten ones in red,
# black ticks = original model); for a single class also a grid of test images with the
# predicted label and confidence (red = wrong; a red frame marks the images of the forgotten
# class) and the gates $\sigma(\alpha)$ of one layer with the class's most closed filters (its
# most relevant ones) marked.
#
# In the book this page needs no kernel: every state is computed when the book is built, and the
# two selectors ("forget" and "and") switch among them in your browser. The static page offers the
# original model, every single class and, up to 20 classes, every pair ($1 + N_c + N_c(N_c-1)/2$
# states, 56 for ten classes), a pair's gates combined by their product (`model(x, forget={a, b})`,
# the numbers of the pair heatmaps in the "Beyond the paper" chapter). A
# pair's accuracies cannot be derived from the two single-class states (the network is not linear
# in its gates), so each pair is a forward pass of its own; to keep the page small, pair panels
# show numbers and a chart but no image grid or gate histogram. Opened in Jupyter, the notebook
# also shows live controls whose Python callbacks recompute every view for **any set** of classes
# (ctrl/⌘-click several), with either combination of their gates (product, or the most closed
# single row per filter, `combine="min"`; see the "Beyond the paper" chapter), a layer and top-k.

# %% tags=["parameters"]
checkpoint = None          # a wf.pt; None = the run below, as cached by `wfnet reproduce`
dataset = "mnist-5k"
backbone = "resnet18"
preset = "smoke"
runs_dir = "runs"
data_root = None
device = "cpu"
layer = None               # None = the last wrapped layer
top_k = 5

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from wfnet import report, widgets

path = report.resolve(checkpoint or f"{runs_dir}/{preset}/{dataset}/{backbone}/wfnet/wf.pt")
core = None
if path.is_file():
    core = widgets.load_core(path, data_root, device)
    core.states()  # all N_c + 1 single states up front: every later change is a cache hit
    print(f"{path.relative_to(report.project_root()) if path.is_relative_to(report.project_root()) else path}: "
          f"{len(core.classes)} classes, {len(core.layer_names)} WF layers, {len(core.labels)} test images")
else:
    display(Markdown(f"**{report.NOT_RUN}**: no WF checkpoint at `{path}`. Run `make book` "
                     f"or `wfnet reproduce --dataset {dataset} --backbone {backbone} --preset {preset}`."))

# %% [markdown]
# ## Choose a class, or a pair of classes, to forget

# %% tags=["hide-input"]
if core is not None:
    display(widgets.static_page(core, layer, top_k))  # + every pair: N_c (N_c - 1) / 2 forward passes

# %% tags=["remove-cell"]
# Live controls with Python callbacks: any set of classes, product or min; shown in Jupyter,
# removed from the static book (no kernel).
if core is not None:
    explorer = widgets.ForgettingExplorer(core, layer, top_k)
    display(explorer.widget)

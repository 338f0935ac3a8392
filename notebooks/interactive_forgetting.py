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
# # Forget a class, interactively
#
# One WF checkpoint holds every unlearned model at once: choose a class and the same weights
# behave as if they had never seen it, while the other classes are kept. Below: a grid of test
# images with the predicted label and confidence (red = wrong; a red frame marks the images of
# the forgotten class), the test accuracy of each class (the forgotten one in red, black ticks =
# original model), and the gates $\sigma(\alpha)$ of one layer for the chosen class with its
# most closed filters (its most relevant ones) marked.
#
# In the book this page needs no kernel: the N_c + 1 possible states (nothing forgotten + one per
# class) are computed when the book is built, and the selector switches among them in your
# browser. Opened in Jupyter, the notebook also shows live controls (class, layer, top-k) whose
# Python callbacks recompute the views.

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
    core.states()  # all N_c + 1 states up front: every later change is a cache hit
    print(f"{path.relative_to(report.project_root()) if path.is_relative_to(report.project_root()) else path}: "
          f"{len(core.classes)} classes, {len(core.layer_names)} WF layers, {len(core.labels)} test images")
else:
    display(Markdown(f"**{report.NOT_RUN}**: no WF checkpoint at `{path}`. Run `make book` "
                     f"or `wfnet reproduce --dataset {dataset} --backbone {backbone} --preset {preset}`."))

# %% [markdown]
# ## Choose a class to forget

# %% tags=["hide-input"]
if core is not None:
    display(widgets.static_page(core, layer, top_k))

# %% tags=["remove-cell"]
# Live controls with Python callbacks: shown in Jupyter, removed from the static book (no kernel).
if core is not None:
    explorer = widgets.ForgettingExplorer(core, layer, top_k)
    display(explorer.widget)

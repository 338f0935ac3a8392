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
# class) and the gates of one layer with the class's most closed filters marked.
#
# **What the gate values mean.** Every filter of a wrapped layer is multiplied, for the class being
# forgotten, by a gate $\sigma(\alpha) \in (0, 1)$: **1 = open** (the filter works as in the
# original model), **0 = closed** (the filter is switched off). Untraining starts every gate at
# $\sigma(3) = 0.95$ and keeps $\alpha$ within $[-6, 6]$, so a gate can close down to
# $\sigma(-6) \approx 0.0025$ and reopen fully to $\sigma(6) \approx 0.9975$. The page counts a gate
# as *closed* below 0.5 (the filter's output at least halved) and lists the most closed ones with
# their value, in the wrapped layer with the largest share of closed gates (forgetting a class
# closes only a few filters, and often none in the last layer).

# %% tags=["parameters", "remove-cell"]
model_dir = "runs/book-interactive/mnist-5k/resnet18"  # written by `make book` (see below)
checkpoint = None          # a wf.pt; None = <model_dir>/wf/wf.pt
data_root = None
device = "cpu"
layer = None               # None = the layer with the largest share of closed gates
precision = "auto"         # as `wfnet evaluate` resolves it here (bf16 on a CPU with AMX, else fp32)
top_k = 5

# %% tags=["remove-input"]
from IPython.display import display

from wfnet.report import format as fmt
from wfnet.report import sets, widgets

root = fmt.resolve(model_dir)
path = fmt.resolve(checkpoint) if checkpoint else root / "wf" / "wf.pt"
core = None
if path.is_file():
    core = widgets.load_core(path, data_root, device, precision=precision)
    core.states()  # all N_c + 1 single states up front: every later change is a cache hit
    fmt.show_html(widgets.model_card(core, path, root / "evaluate" / "metrics.json"))
    fmt.show(f"Every state below is computed in {core.precision}, the precision `wfnet evaluate` ran at.")
    measured = sets.read_sets(root / "evaluate" / "sets.json")
    if measured is not None:  # `wfnet evaluate --sets pairs`: what the selectors below will show
        rows = sets.measured_sets(measured, "product")
        fmt.show("**Which sets this model forgets**, measured on the test set: "
                 + sets.count_line(rows, sets.bar_text(measured)) + " " + sets.failing_line(rows, measured["classes"])
                 + " A set below the bar is flagged ⚠ in its panel.")
else:
    fmt.show(f"**{fmt.NOT_RUN}**: no WF checkpoint at `{path}`. `make book` trains it "
             "(`wfnet train`, `wfnet untrain`, `wfnet evaluate` into `runs/book-interactive/`).")

# %% [markdown]
# This model is **not** the 1/8-width smoke model of Table 1: that one is too small and too
# briefly untrained to show the method working (forgetting one digit costs the others several
# points). `make book` trains this one for the page alone, with the package's default untraining
# configuration, from the command line (the commands are in the box above), and scores it with
# `wfnet evaluate`; the page's numbers are computed with the same forward pass and match that
# evaluation.
#
# ## Choose a class, or a pair of classes, to forget
#
# In the book this page needs no kernel: every state is computed when the book is built, and the
# two selectors ("forget" and "and") switch among them in your browser. The static page offers the
# original model, every single class and, up to 20 classes, every pair ($1 + N_c + N_c(N_c-1)/2$
# states, 56 for ten classes), a pair's gates combined by their product (`model(x, forget={a, b})`).
# A pair's accuracies cannot be derived from the two single-class states (the network is not
# linear in its gates), so each pair is a forward pass of its own; to keep the page small, pair
# panels show numbers and a chart but no image grid or gate histogram. Opened in Jupyter, the
# notebook also shows live controls whose Python callbacks recompute every view for **any set** of
# classes (ctrl/⌘-click several), with either combination of their gates (product, or the most
# closed single row per filter, `combine="min"`; see the "Beyond the paper" chapter), a layer and
# top-k.

# %% tags=["remove-input"]
if core is not None:
    display(widgets.static_page(core, layer, top_k))  # + every pair: N_c (N_c - 1) / 2 forward passes

# %% tags=["remove-cell"]
# Live controls with Python callbacks: any set of classes, product or min; shown in Jupyter,
# removed from the static book (no kernel).
if core is not None:
    explorer = widgets.ForgettingExplorer(core, layer, top_k)
    display(explorer.widget)

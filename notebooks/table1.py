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
# # Table 1: unlearning performance
#
# Acc_r (accuracy on the retained classes, higher is better), Acc_f (accuracy on the forgotten
# class, lower is better), ZRF (Eq. 4, higher = closer to a random model on the forgotten class)
# and RT (mean epochs to relearn the forgotten class; in parentheses the classes not relearned
# within the cap, "> 100 (10)" when none was). Means over the N_c forgotten classes.

# %% tags=["parameters", "remove-cell"]
results_dir = "results"
preset = "smoke"

# %% tags=["remove-input"]
from wfnet.methods import label
from wfnet.report import format as fmt
from wfnet.report import paper_values, sources, status, tuning
from wfnet.report import table1_page as page

results = fmt.resolve(results_dir)
fmt.show_html(status.status_html(results, "table1"))

# %% [markdown]
# **Reading the rows.** For each backbone and method, the `paper` row (grey) holds the values
# printed in Poppi et al. (2024), Table 1, copied verbatim. Every other row is ours, read from
# `results/` and labelled `ours · <scale> · <dataset>`; a backbone that none of our runs covers
# keeps its paper rows only. `not run` = no result file for that cell; `–` = no value exists (the
# paper prints "-", e.g. RT of the original model). ZRF is on the paper's scale for each dataset
# (×100 for MNIST and CIFAR-10). Our MNIST runs use subsets of MNIST: see
# [Deviations](../book/deviations.md). Below each table, every baseline row of ours (†) says which
# configuration ran and where it was chosen: by the baseline search of its dataset x backbone on a
# validation split (the {doc}`ablation page <ablation>` shows every candidate), or the defaults
# when no search had run.

# %% tags=["remove-input"]
for paper_dataset in paper_values.PAPER_DATASETS:
    view, notes = page.table1_view(results, paper_dataset, preset)
    fmt.show(f"## {paper_dataset}")
    fmt.show(" ".join(notes))
    fmt.show(page.view_styled(view, caption=page.table1_caption(paper_dataset)))
    configs = tuning.baseline_configs(results, paper_dataset)
    if len(configs):
        fmt.show("The baselines' configurations (seed 0's result files) and where each was chosen:")
        fmt.show(fmt.plain(configs, wrap=["configuration", "chosen by"]))
    ours = sources.discover_sources(results, paper_dataset)
    runs = sources.runs_table(results, ours)
    runs = runs[runs["method"].isin([label(m) for m in sources.table_methods(results)])]
    if len(runs):
        fmt.show("Runs behind our rows (wall time and device of every result file):")
        runs = runs.assign(date=runs["date"].map(lambda d: str(d)[:10]))
        fmt.show(fmt.plain(runs[["preset", "backbone", "method", "device", "wall time (s)", "date"]]))

# %% [markdown]
# ## The full-width runs on CPU (README, "Measured here")
#
# The rows `ours · full width, CPU · mnist-5k` above come from the command-line runs the README
# reports: a full-width ResNet-18 trained for 3 epochs on mnist-5k (`wfnet train`), evaluated
# (`wfnet evaluate`), and untrained for 4-6 epochs (`wfnet untrain`) while the untraining defaults
# were being chosen. Each row below is rendered from its committed `metrics.json` under
# `results/measured/mnist-5k/resnet18/`; Table 1 takes the original model's evaluation and the
# last evaluated untraining of that same model with today's default configuration. RT was not
# measured for these runs.

# %% tags=["remove-input"]
measured = page.measured_table(results)
if measured.empty:
    fmt.show(f"_{fmt.NOT_RUN}: no `results/measured/*/*/*/metrics.json`._")
else:
    fmt.show(fmt.plain(measured, caption="Full-width ResNet-18 on mnist-5k, 2 CPU cores (results/measured/)",
                       wrap=["what"]))

# %% [markdown]
# ## Datasets of ours that the paper did not use (no paper rows)

# %% tags=["remove-input"]
others = sorted({s for s in sources.discover_sources(results) if paper_values.paper_dataset_for(s[1]) is None})
if not others:
    fmt.show("None run yet.")
for source in others:
    fmt.show(f"### {source[1]}")
    fmt.show(fmt.styled(page.table1(results, None, [source])))

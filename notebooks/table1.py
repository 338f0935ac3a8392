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
# within the cap). Means over the N_c forgotten classes.
#
# **Reading the columns.** `paper` columns (grey) are the values printed in Poppi et al. (2024),
# Table 1, copied verbatim. Every other column is ours, read from `results/` and labelled
# `ours · <preset> · <dataset>`: `smoke` runs are 1/8-width models trained for a few epochs on 2 CPU
# cores (they show that the pipeline works, not the paper's claims), `paper` preset runs follow
# the paper's protocol. `not run` = no result file for that cell; `–` = no value exists (the paper
# prints "-", e.g. RT of the original model). ZRF is shown on the paper's scale for each dataset
# (x100 for MNIST and CIFAR-10). Our MNIST runs use subsets of MNIST: see
# [Deviations](../book/deviations.md). † = single-class methods (one run per class).

# %% tags=["parameters"]
results_dir = "results"
preset = "smoke"

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from wfnet import paper_values, report

results = report.resolve(results_dir)
for paper_dataset in paper_values.PAPER_DATASETS:
    sources = report.default_sources(results, paper_dataset, preset)
    display(Markdown(f"## {paper_dataset}"))
    display(report.styled(report.table1(results, paper_dataset, sources),
                          caption=f"Table 1, {paper_dataset}: paper vs. ours ({', '.join(map(report.source_label, sources))})"))
    runs = report.runs_table(results, sources)
    display(Markdown("Runs behind our columns (wall time and device of every result):"
                     if len(runs) else "_No run of ours for this dataset yet: every cell of ours is `not run`._"))
    if len(runs):
        display(runs[["preset", "dataset", "backbone", "method", "device", "wall time (s)", "date"]])

# %% [markdown]
# Datasets of ours that the paper did not use (no paper columns):

# %% tags=["hide-input"]
others = sorted({s for s in report.discover_sources(results) if paper_values.paper_dataset_for(s[1]) is None})
if not others:
    print("none run")
for source in others:
    display(Markdown(f"## {source[1]} (not in the paper)"))
    display(report.styled(report.table1(results, None, [source])))
    display(report.runs_table(results, [source])[["backbone", "method", "device", "wall time (s)", "date"]])

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
# # About this run
#
# Where every number of this book came from: one row per result file under `results/`, with the
# device it ran on, its wall time, the code version (git commit; `+dirty` = uncommitted changes),
# the data actually used (train / test images), the backbone width and the seed. `cost` lists the
# method-specific costs the run recorded (e.g. seconds of unlearning per class).

# %% tags=["parameters"]
results_dir = "results"

# %% tags=["hide-input"]
import platform

import torch
from IPython.display import Markdown, display

import wfnet
from wfnet import report

results = report.resolve(results_dir)
runs = report.runs_table(results)
if runs.empty:
    display(Markdown(f"_{report.NOT_RUN}: no result file under `{results_dir}/` yet._"))
else:
    display(report.styled(runs.set_index(["preset", "dataset", "backbone", "method"])))
    total = runs["wall time (s)"].map(lambda v: float(v) if v != report.NOT_RUN else 0.0).sum()
    display(Markdown(f"{len(runs)} result files; {total / 60:.1f} min of recorded wall time in total."))

# %% [markdown]
# The machine that built this page (not necessarily the one that ran the experiments):

# %% tags=["hide-input"]
print(f"wfnet {wfnet.__version__}, torch {torch.__version__}, Python {platform.python_version()}, "
      f"{platform.machine()}, {torch.get_num_threads()} threads, CUDA available: {torch.cuda.is_available()}")

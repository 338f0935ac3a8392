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

# %% tags=["remove-input"]
from wfnet.report import format as fmt
from wfnet.report import status

fmt.show_html(status.status_html(fmt.resolve("results"), "about"))

# %% [markdown]
# Where every number of this book came from: one row per result file under `results/`, with the
# device it ran on, its wall time, the code version (git commit; `+dirty` = uncommitted changes),
# the data actually used (train / test images), the backbone width and the seed. `cost` lists the
# method-specific costs the run recorded (e.g. seconds of unlearning per class).

# %% tags=["parameters", "remove-cell"]
results_dir = "results"

# %% tags=["remove-input"]
import platform

import torch

import wfnet
from wfnet.report import about_page as page
from wfnet.report import format as fmt

results = fmt.resolve(results_dir)
views = page.about_views(results)
if not views:
    fmt.show(f"_{fmt.NOT_RUN}: no result file under `{results_dir}/` yet._")
total, files = 0.0, 0
for head, rows in views:
    fmt.show(f"**{head}**")
    fmt.show(fmt.plain(rows, wrap=["method", "device", "cost"]))
    total += rows["wall time (s)"].map(lambda v: float(v) if v != fmt.NOT_RUN else 0.0).sum()
    files += len(rows)
if views:
    fmt.show(f"{files} result files; {total / 60:.1f} min of recorded wall time in total. The ablation "
             "variants are listed with their own provenance on the ablation page, the README's full-width CPU "
             "runs on the Table 1 page.")

# %% [markdown]
# The machine that built this page (not necessarily the one that ran the experiments):

# %% tags=["remove-input"]
print(f"wfnet {wfnet.__version__}, torch {torch.__version__}, Python {platform.python_version()}, "
      f"{platform.machine()}, {torch.get_num_threads()} threads, CUDA available: {torch.cuda.is_available()}")

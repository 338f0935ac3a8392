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
# # 3. Baselines: retrained, random labels, negative gradients

# %% tags=["parameters", "remove-cell"]
# the defaults (the book shows the values papermill ran with, in the cell below)
dataset = "mnist-5k"
backbone = "resnet18"
preset = "smoke"
device = "auto"
data_root = None
results_dir = "results"
runs_dir = "runs"
seed = 0
progress = True

# %% tags=["remove-input"]
from wfnet.report import experiments_page as page
from wfnet.report import format as fmt

box = page.scale_box(fmt.resolve(results_dir))

# %% [markdown]
# The single-class methods of Table 1 run once *per class* (the cost WF-Net avoids): a model
# retrained without class c, and the original model fine-tuned on class c with random labels or
# with gradient ascent. Parameters as in notebook 1.

# %%
from wfnet.experiments.reproduce import reproduce
from wfnet.report import paper_values, sources

results, runs = fmt.resolve(results_dir), fmt.resolve(runs_dir)
out = reproduce(dataset, backbone, preset, results, runs, device, data_root, seed,
                methods=["retrained", "random_labels", "negative_gradients"],
                progress=progress)
page.refresh_box(box, results)
paper_dataset = paper_values.paper_dataset_for(dataset)
fmt.show(fmt.plain(page.method_summary(out, paper_dataset)))

# %% [markdown]
# Every method of this dataset and backbone side by side, with its wall time and device:

# %%
runs_ = sources.runs_table(results, sources=[(preset, dataset)],
                           backbone=backbone)
runs_ = runs_.assign(date=runs_["date"].map(lambda d: str(d)[:10]),
                     commit=runs_["git commit"].map(lambda c: str(c)[:9]))
columns = ["method", "device", "wall time (s)", "train / test images",
           "date", "commit"]
fmt.show(fmt.plain(runs_[columns], wrap=["method"]))

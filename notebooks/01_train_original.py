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
# # 1. Training the original model
#
# The box below says at which scale this build ran (the parameters papermill passed are in the
# first code cell).

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
# The model every method starts from: the backbone trained from scratch on the full training set
# ("Original Model" in Table 1). `make book` runs this notebook with papermill; to run another
# configuration:
#
# ```bash
# jupytext --to ipynb -o - notebooks/01_train_original.py | \
#   papermill - out.ipynb -p backbone vgg16 -p preset smoke
# ```
#
# The result lands in `results/<preset>/<dataset>/<backbone>/original.json` and the checkpoint in
# `runs/`; a result that already exists for the same configuration is reused, not recomputed.

# %%
from wfnet.experiments.presets import PRESETS
from wfnet.experiments.reproduce import reproduce
from wfnet.report import paper_values

results, runs = fmt.resolve(results_dir), fmt.resolve(runs_dir)
print(f"{dataset} / {backbone} / preset {preset!r}")
print(f"results -> {fmt.relative(results)}")
print(f"checkpoints -> {fmt.relative(runs)}")
cfg = PRESETS.get(preset).train_config(dataset, backbone, seed)
fmt.show(page.config_text(cfg, "Training configuration of this preset"))

# %%
out = reproduce(dataset, backbone, preset, results, runs, device, data_root, seed,
                methods=["original"], progress=progress)
page.refresh_box(box, results)
paper_dataset = paper_values.paper_dataset_for(dataset)
fmt.show(fmt.plain(page.method_summary(out, paper_dataset)))

# %% [markdown]
# Per-class test accuracy of the original model (its "forget accuracy" for class c is simply its
# accuracy on class c: it forgets nothing).

# %%
table = page.per_class_table(results, preset, dataset, backbone, "original")
fmt.show(fmt.plain(table))

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
# # 2. WF-Net: unlearning every class in one round

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
# The original model is wrapped (every convolution, or every q/k/v projection of a ViT, gets an
# $N_c \times C$ memory matrix $\alpha$), its weights are frozen, and only $\alpha$ is trained with
# the loss of Eq. 3 plus $R(\alpha)$. Afterwards, one checkpoint forgets any class on request.
# This notebook also measures the relearn time (RT), the insertion/deletion curves (Table 2)
# and the filter/class relationships (Figures 3-4). Parameters as in notebook 1.

# %%
import matplotlib.pyplot as plt
import seaborn as sns

from wfnet.experiments.presets import PRESETS
from wfnet.experiments.reproduce import reproduce
from wfnet.report import paper_values

results, runs = fmt.resolve(results_dir), fmt.resolve(runs_dir)
cfg = PRESETS.get(preset).untrain_config(backbone, seed)
fmt.show(page.config_text(cfg, "Untraining configuration of this preset"))

# %%
out = reproduce(dataset, backbone, preset, results, runs, device, data_root, seed,
                methods=["original", "wfnet"], progress=progress)
page.refresh_box(box, results)
paper_dataset = paper_values.paper_dataset_for(dataset)
fmt.show(fmt.plain(page.method_summary(out, paper_dataset)))

# %% [markdown]
# Untraining: validation loss at each evaluation (early stopping watches it).

# %%
history = page.untrain_history(runs, preset, dataset, backbone)
if history is None:
    print("not run: no WF checkpoint with a history under", fmt.relative(runs))
else:
    fig, ax = plt.subplots(figsize=(6, 3))
    losses = [c for c in ("val_loss", "train_loss") if c in history]
    sns.lineplot(history.melt("step", losses), x="step", y="value",
                 hue="variable", ax=ax)
    ax.set_ylabel("loss (Eq. 3 + R)")
    plt.show()

# %% [markdown]
# Per class: the model asked to forget class c, scored on class c (Acc_f) and on the rest (Acc_r).

# %%
table = page.per_class_table(results, preset, dataset, backbone, "wfnet")
fmt.show(fmt.plain(table))

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
# # Ablation: the untraining choices the paper leaves open
#
# Every variant untrains the same original model; only the choices in its row differ. Each row is
# read from a file under `results/ablation/`, written by `wfnet ablate` with the configuration it
# ran with (the columns come from that configuration, not from the variant's name), so a row
# cannot describe a run that did not happen. The [deviations page](../book/deviations.md) explains
# why each choice exists; the README's "Measured here" section holds the full-length runs.
#
# Reading guide: `forget_term` is the form of $\lambda_1 / L_f$ (Eq. 3); `ce_cap` the
# cross-entropy past which a class earns nothing more; `clip_grad_norm` the largest norm of the
# alpha gradient per step (times the learning rate 100: how far alpha may move per step);
# `clip_scope` whether that norm is taken over all rows at once or per class row; `alpha_bound`
# the clamp on alpha; `regularizer` R(alpha); "–" = a choice the run's configuration did not have
# yet (an older run), or that its forget term does not use. "worst rows" are the classes whose
# forgetting costs the other classes most. Rows are sorted by retain accuracy.

# %% tags=["parameters"]
results_dir = "results"

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from wfnet import report

table = report.ablation_table(report.resolve(results_dir))
if table.empty:
    display(Markdown("No ablation results yet: run `wfnet ablate` (see the README)."))
for original, rows in table.groupby("original", sort=False):
    display(Markdown(f"## {original}"))
    display(report.styled(rows.drop(columns="original").reset_index(drop=True)).hide(axis="index"))

# %% [markdown]
# ## The baselines' hyper-parameters, chosen on a validation split
#
# The paper does not say how random labels and negative gradients were tuned, and a weak baseline
# flatters WF-Net. `wfnet search-baselines` holds out 10% of every class of the *training* set,
# trains an original on the rest, unlearns a few classes with every candidate and scores them on
# the held-out images (never the test set). Rule: among candidates whose validation Acc_f is at
# most the paper's Acc_f for that cell + 1 point, the best validation Acc_r; if none forgets that
# well, the one that forgets best. The chosen values then go into the preset by hand, which changes
# only those baselines' result keys (`wfnet.baseline_search`).

# %% tags=["hide-input"]
search = report.baseline_search_table(report.resolve(results_dir))
if search.empty:
    display(Markdown("No baseline search has run yet: `wfnet search-baselines --dataset D --backbone B --preset P`."))
for run, rows in (search.groupby("run", sort=False) if not search.empty else []):
    display(Markdown(f"### {run}"))
    display(report.styled(rows.drop(columns="run").reset_index(drop=True)).hide(axis="index"))

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

# %% tags=["remove-input"]
from wfnet.report import format as fmt
from wfnet.report import status

fmt.show_html(status.status_html(fmt.resolve("results"), "ablation"))

# %% [markdown]
# Every variant untrains the same original model; only the choices in its row differ. Each row is
# read from a file under `results/ablation/`, written by `wfnet ablate` with the configuration it
# ran with (the columns come from that configuration, not from the variant's name), so a row
# cannot describe a run that did not happen. The [deviations page](../book/deviations.md) explains
# why each choice exists; the README's "Measured here" section holds the full-length runs.
#
# Reading guide: *forget term* is the form of $\lambda_1 / L_f$ in Eq. 3 (`1/mean CE`: the
# reciprocal of the forget half's mean cross-entropy; `mean 1/CE`: the mean of per-sample
# reciprocals, Eq. 3 as written; `per class`: the mean over the classes in the batch of
# $1/\mathrm{CE}_c$; `per class, capped`: the same with $\mathrm{CE}_c$ capped at *cap*). *clip*:
# the largest norm of the alpha gradient per step (times the learning rate 100: how far alpha may
# move per step), taken over all rows at once (`global`) or per class row (`per row`). *bound*:
# the clamp on alpha. *R(α)*: the regulariser. "–" = a choice the run's configuration did not
# have yet (an older run), or that its forget term does not use. Rows are sorted by retain
# accuracy. A second table per model gives the classes whose forgetting costs the other classes
# most ("worst rows"), the steps run and the cost of each variant.
#
# **`literal_eq3`.** Eq. 3 as printed: the mean over the forget half of the per-sample reciprocal
# $1/\mathrm{CE}_i$, offset by the floor $10^{-4}$ (`mean 1/(CE + floor)`, so a sample the model
# fits best keeps the largest gradient instead of none), plain SGD at the paper's learning rate of
# 100, no clip and no bound on $\alpha$. `literal_eq3_clamped_bound6` is what that row ran until
# issue 27: the CE clamped at the floor (`mean 1/max(CE, floor)`: no gradient below it) and
# $\alpha$ bounded to $[-6, 6]$, neither of which Eq. 3 has. An older `literal_eq3` row whose
# *forget term* reads `1/mean CE` ran the reciprocal of the mean, an earlier reading (see the
# [deviations page](../book/deviations.md)).

# %% tags=["parameters", "remove-cell"]
results_dir = "results"

# %% tags=["remove-input"]
from wfnet.report import ablation_page as page
from wfnet.report import format as fmt
from wfnet.report import tuning

views = page.ablation_views(fmt.resolve(results_dir))
if not views:
    fmt.show("No ablation results yet: run `wfnet ablate` (see the README).")
for original, main, cost in views:
    fmt.show(f"## {original}")
    fmt.show(fmt.plain(main, caption="Scores (test split) and untraining choices, best Acc_r first",
                       wrap=["variant", "forget term"]))
    fmt.show(fmt.plain(cost, caption="Worst rows, length and cost of each variant",
                       wrap=["variant", "worst rows (Acc_r)"]))

# %% [markdown]
# ## The baselines' hyper-parameters, chosen on a validation split
#
# The paper does not say how random labels and negative gradients were tuned, and a weak baseline
# flatters WF-Net. `wfnet search-baselines` holds out 10% of every class of the *training* set,
# trains an original on the rest, unlearns a few classes with every candidate of every
# single-class baseline (random labels, negative gradients, SSD's $\alpha$ and $\lambda$,
# SalUn's sparsity and learning rate) and scores them on the held-out images (never the test
# set). Rule: among candidates whose validation Acc_f is at most the bar (the paper's Acc_f for
# that cell + 1 point; the retrained model's 0 + 1 for SSD and SalUn, which the paper does not
# have), the best validation Acc_r; if none forgets that well, the one that forgets best. The
# choice is used as it stands: every run of that dataset x backbone reads it from this file (only
# while its key is current) and records it (`wfnet.experiments.baseline_search.resolve_preset`).

# %% tags=["remove-input"]
searches = page.baseline_search_views(fmt.resolve(results_dir))
if not searches:
    fmt.show("No baseline search has run yet: `wfnet search-baselines --dataset D --backbone B --preset P`.")
for run, rows, note in searches:
    fmt.show(f"### {run}")
    fmt.show(fmt.plain(rows, caption="Candidates on the validation split; ✓ = chosen", wrap=["candidate"]))
    fmt.show(note)

# %% [markdown]
# ### What ran
#
# Every baseline result of ours (seed 0), the configuration it ran with and where that was chosen,
# from its own provenance: the rows of Table 1 and of the beyond chapter.

# %% tags=["remove-input"]
configs = tuning.baseline_configs(fmt.resolve(results_dir))
if configs.empty:
    fmt.show("No baseline result yet.")
else:
    fmt.show(fmt.plain(configs, wrap=["configuration", "chosen by"]))

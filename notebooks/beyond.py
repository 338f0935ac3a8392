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
# # Beyond the paper: class sets, membership inference, modern baselines, the gap to retraining

# %% tags=["remove-input"]
from wfnet.report import format as fmt
from wfnet.report import status

fmt.show_html(status.status_html(fmt.resolve("results"), "beyond"))

# %% [markdown]
# Four questions the paper does not ask, answered from result files only
# (`results/<preset>/<dataset>/<backbone>/{multiforget,mia,salun,ssd}.json`; `wfnet reproduce` writes
# each method's file with its per-class scorecard, `wfnet beyond` the class sets and `mia.json` from them).
#
# 1. **Several classes at once.** A WF model untrains every class in one round, one row of
#    $\alpha$ per class. A deletion request that names a set $S$ is answered with no retraining by
#    combining the rows of $S$: the *product* $\prod_{c\in S}\sigma(\alpha_c)$ (what
#    `model(x, forget=S)` does) or the *minimum* $\min_{c\in S}\sigma(\alpha_c) =
#    \sigma(\min_{c\in S}\alpha_c)$ (`model(x, forget=S, combine="min")`), both applied in the
#    model's forward like a single row, at the same cost. No row was trained for this: each row
#    forgets its class *while retaining the others*, so closing the union of filters can also hurt
#    classes that share them. We score every pair of classes and a fixed-seed sample of triples: accuracy on
#    the test samples of the forgotten set (Acc_f, lower is better) and on the rest (Acc_r),
#    beside what the single rows achieve on the same samples. Every pair can also be picked on the
#    {doc}`interactive page <interactive_forgetting>` (product), and any set, with either
#    combination, in its live notebook.
# 2. **Membership inference.** MIA-efficacy as in SalUn (Fan et al., ICLR 2024): an attack fit on
#    the unlearned model's true-label confidence for retain-train samples (members) against test
#    samples of the retained classes (non-members), balanced; the score is the fraction of the
#    forget-class *training* samples it judges non-members (higher = forgotten). For removing a
#    whole class this mostly follows Acc_f: a sample the model misclassifies has a low
#    confidence, so it looks unseen. The attack needs members and non-members to differ to begin
#    with, i.e. a model that overfits (SalUn's reach 100 % train accuracy). Where its held-out
#    accuracy is at chance, its near-zero weight's *sign* puts every forget sample on one side,
#    and the per-class score flips between 0 and 100 % at random; we therefore show the attack's
#    accuracy, the classes where it beats chance (by 2 standard errors), and the mean over those.
# 3. **Two modern baselines.** SalUn (Fan et al., ICLR 2024): a gradient-saliency mask (the half of
#    all weights with the largest forget-loss gradient) and the Random Labels fine-tuning
#    restricted to it, run once per class from the original, with the same fine-tuning budget as
#    our Random Labels row. SSD (Foster, Schoepf, Brintrup, AAAI 2024): no training at all;
#    diagonal Fisher importances on the training data and on the forget class, and every
#    parameter whose forget importance exceeds α times its training importance is dampened
#    (`wfnet.methods.ssd`, its α and λ in the preset, one model per class).
# 4. **The field's scorecard.** Recent papers rank methods by how close they come to the model
#    retrained without the forget class: unlearning accuracy UA (100 − accuracy on the forget
#    class's training samples), retain accuracy RA (training samples of the other classes), test
#    accuracy TA (test samples of the other classes), MIA-efficacy, and the average of their
#    absolute gaps to the retrained model (lower = closer to retraining), beside the seconds
#    the unlearning took. The retrained model's own MIA is measured the same way, so every gap is
#    taken between two measured numbers.
#
# `not run` = no result file (or field) for that cell. Smoke runs are 1/8-width models trained
# for a few epochs on CPU: they show that the pipeline works, not what a full model would do.

# %% tags=["parameters", "remove-cell"]
results_dir = "results"
preset = "smoke"
dataset = "mnist-5k"
backbone = "resnet18"
interactive_dir = "runs/book-interactive/mnist-5k/resnet18"  # the interactive page's model (`make book`)

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from wfnet.experiments.results import read_result
from wfnet.report import beyond, sets
from wfnet.report import format as fmt

results = fmt.resolve(results_dir)
runs = beyond.beyond_runs(results) or [(preset, dataset, backbone)]
display(Markdown("Runs shown: " + ", ".join(f"`{p} · {d} · {b}`" for p, d, b in runs)))

# %% [markdown]
# ## 1. Forgetting a set of classes with one checkpoint
#
# Means over the sets of each size. "single-row" columns: row $c$ alone, scored on class $c$
# (Acc_f) and on the classes outside the set (Acc_r), averaged over $c \in S$. "Acc_r drop" is
# single-row minus combined Acc_r (positive = combining costs retained accuracy); the worst set is
# where that drop is largest.

# %% tags=["remove-input"]
for p, d, b in runs:
    mf = read_result(results, p, d, b, "multiforget")
    display(Markdown(f"### {fmt.source_label((p, d))} · {b}"))
    if mf is None:
        display(Markdown(f"_{fmt.NOT_RUN}: no `multiforget.json` for this run._"))
        continue
    fmt.show(fmt.wrapped(beyond.multiforget_frame(mf)))
    fmt.show(beyond.multiforget_findings(mf))
    for combine in mf["config"]["combines"]:
        fmt.show(sets.count_line(sets.measured_sets(mf, combine), sets.bar_text(mf), combine))

# %% [markdown]
# Every pair: cell $(a, b)$ is the accuracy when forgetting $\{a, b\}$, the two rows combined by
# their product (first figure) or their minimum (second); the diagonal is the single row $a$.
# Left: accuracy on the two forgotten classes; right: on the other eight.

# %% tags=["remove-input"]
for p, d, b in runs:
    mf = read_result(results, p, d, b, "multiforget")
    if mf is None:
        display(Markdown(f"**Pair heatmaps · {p} · {d} · {b}: {fmt.NOT_RUN}**"))
        continue
    for combine in mf["config"]["combines"]:
        beyond.plot_pair_heatmaps(mf, combine, title=f"{fmt.source_label((p, d))} · {b}")
        plt.show()

# %% [markdown]
# ### The interactive page's model, and set-aware untraining
#
# The smoke model above is small and briefly untrained. The model of the
# {doc}`interactive <interactive_forgetting>` and {doc}`draw <draw_and_forget>` pages (ResNet-18 at
# half width, 6 untraining epochs) is measured the same way by `wfnet evaluate --sets pairs`, in
# fp32 as those pages compute. No row of $\alpha$ is trained for a set in the paper's untraining.
# **Set-aware untraining** (beyond the paper, `UntrainConfig.set_prob`, off by default) trains
# them: with probability $p$ a sample of the forget half sees a random set containing its class,
# and a sample of the retain half a random set without its label, the set's gates multiplied as at
# inference. The ablation untrains the page's original with $p$ = 0, 0.25 and 0.5; the pages use the
# variant that forgets the most pairs while its single-class Acc_r and Acc_f stay within 1 point of
# $p = 0$ (Makefile `IA_SET_PROB`).

# %% tags=["remove-input"]
ablation = sets.set_ablation_frame(results)
if ablation.empty:
    fmt.show(f"_Set-aware untraining ablation: {fmt.NOT_RUN} (`wfnet ablate --variants sets_p0 sets_p0.25 "
             "sets_p0.5 --checkpoint <the page's original>`)._")
for original, rows in ablation.groupby("original", sort=False):
    fmt.show(f"Original: {original}. Chosen by the rule: `{sets.best_variant(rows)}`.")
    fmt.show(fmt.wrapped(rows.drop(columns="original").set_index("variant")))
payload = sets.read_sets(fmt.resolve(interactive_dir) / "evaluate" / "sets.json")
if payload is None:
    fmt.show(f"_The interactive model's sets: {fmt.NOT_RUN} (no `evaluate/sets.json` in `{interactive_dir}`)._")
else:
    p_used = sets.set_prob_of(fmt.resolve(interactive_dir))
    fmt.show(f"**The pages' model**, untrained with set p = {fmt.NOT_RUN if p_used is None else f'{p_used:g}'}:")
    for combine in payload["config"]["combines"]:
        fmt.show(sets.count_line(sets.measured_sets(payload, combine), sets.bar_text(payload), combine))
    fmt.show(sets.failing_line(sets.measured_sets(payload, "product"), payload["classes"]))
    fmt.show(fmt.plain(sets.summary_frame(payload), wrap=["single rows' Acc_f (%)"]))
    for combine in payload["config"]["combines"]:
        beyond.plot_pair_heatmaps(payload, combine, title="the interactive page's model")
        plt.show()

# %% [markdown]
# ## 2. Table 1 extended: membership inference, SalUn and SSD
#
# Acc_r, Acc_f, ZRF and RT as in Table 1 (our runs only; ZRF ×100 as Table 1 prints it for MNIST),
# SalUn's and SSD's rows added, and MIA-efficacy of every method (confidence feature, the one SalUn
# reports); the second table: the attack itself and the entropy-based attacks. † = single-class
# methods (one run per class).

# %% tags=["remove-input"]
for p, d, b in runs:
    display(Markdown(f"### {fmt.source_label((p, d))} · {b}"))
    for part in beyond.methods_views(beyond.methods_frame(results, p, d, b)):
        fmt.show(fmt.wrapped(part))
    fmt.show(beyond.mia_caveat(read_result(results, p, d, b, "mia")))
    fmt.show(beyond.key_caveat(results, p, d, b))

# %% [markdown]
# ## 3. The gap to the retrained model
#
# Each method's UA, RA, TA and MIA-efficacy (%), averaged over the forgotten classes (one model
# per class for † methods, one WF checkpoint for WF-Net), with the absolute gap to the retrained
# model in parentheses; *Avg. gap* is the mean of the four gaps (lower = closer to retraining;
# the retrained row is the reference). *unlearning (s)* is the wall time of the unlearning alone,
# summed over classes, on the device in the last column.

# %% tags=["remove-input"]
for p, d, b in runs:
    display(Markdown(f"### {fmt.source_label((p, d))} · {b}"))
    fmt.show(fmt.wrapped(beyond.gap_frame(results, p, d, b)))
    fmt.show(beyond.gap_findings(results, p, d, b))

# %% [markdown]
# ## 4. Cost
#
# Wall seconds of each method on the device of its run: the unlearning itself, and the whole
# result (scoring and relearn time included). The single-class methods measure each per-class
# model's MIA as they make it, so `mia.json` only gathers them ("with each model"). WF-Net
# answers any class *set* from the same checkpoint with forward passes only.

# %% tags=["remove-input"]
for p, d, b in runs:
    display(Markdown(f"### {fmt.source_label((p, d))} · {b}"))
    fmt.show(fmt.wrapped(beyond.cost_frame(results, p, d, b)))
    prov = [(name, (read_result(results, p, d, b, name) or {}).get("provenance") or {})
            for name in beyond.BEYOND_FILES]
    lines = [f"- `{name}.json`: {pr.get('wall_seconds', fmt.NOT_RUN)} s on {pr.get('device', '?')}, "
             f"{pr.get('date', '?')}" if pr else f"- `{name}.json`: {fmt.NOT_RUN}" for name, pr in prov]
    fmt.show("\n".join(lines))

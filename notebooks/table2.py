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
# # Table 2: insertion and deletion scores
#
# How much of the forgotten class's confidence the gates explain. Deletion: starting from the
# original model, close the most relevant gates of class c first (relevance from $\alpha$) and
# record the model's confidence on class c, normalised by the original model's; insertion: starting
# from the fully unlearned row, re-open gates from most to least relevant. Scores are the areas
# under these curves (Ins: higher is better, Del: lower is better), averaged over classes.
#
# `paper` columns are the paper's Table 2, verbatim; the others are ours, labelled
# `ours · <preset> · <dataset>`; `not run` = no result file. A dataset none of our runs covers
# shows the paper's columns only.

# %% tags=["parameters", "remove-cell"]
results_dir = "results"
preset = "smoke"

# %% tags=["remove-input"]

import plotly.graph_objects as go
from IPython.display import HTML, display

from wfnet.experiments.results import iter_results
from wfnet.report import format as fmt
from wfnet.report import paper_values, sources, status
from wfnet.report import table2_page as page

results = fmt.resolve(results_dir)
fmt.show_html(status.status_html(results, "table2"))
for paper_dataset in paper_values.PAPER_DATASETS:
    ours = sources.discover_sources(results, paper_dataset)
    fmt.show(f"## {paper_dataset}")
    if not ours:
        fmt.show(f"No run of ours on {paper_dataset} yet: the paper's values only.")
    fmt.show(fmt.styled(page.table2(results, paper_dataset, ours),
                        caption=f"Table 2, {paper_dataset}: insertion (Ins) and deletion (Del) AUC of WF-Net"))
    runs = sources.runs_table(results, ours)
    runs = runs[runs["method"] == "WF-Net"]
    if len(runs):
        runs = runs.assign(date=runs["date"].map(lambda d: str(d)[:10]))
        fmt.show(fmt.plain(runs[["preset", "dataset", "backbone", "device", "wall time (s)", "date"]]))

# %% [markdown]
# ## Insertion and deletion curves
#
# Mean over classes, for every WF-Net result we have (hover for values). plotly.js is served by
# the book itself (`_static/plotly/plotly.min.js`).
#
# **Why the deletion curve can rise.** Closing a gate switches its filter off for every class, and
# the confidence plotted is a softmax share: when the filters just closed also fed the competing
# classes, their logits fall more than class c's, so class c's share (and the normalised value)
# goes up before further closures bring it down. The score is the area under the whole curve, so a
# rise counts against it (Del: lower is better).

# %% tags=["remove-input"]
PLOTLY_JS = "../_static/plotly/plotly.min.js"  # this page is _build/html/notebooks/table2.html
wf_runs = sorted((r["preset"], r["dataset"], r["backbone"]) for r in iter_results(results)
                 if r.get("method") == "wfnet")
if not wf_runs:
    fmt.show("_not run: no WF-Net result in `results/` yet._")
first = True
for preset_, dataset_, backbone_ in wf_runs:
    curves = page.curves_frame(results, preset_, dataset_, backbone_)
    if curves is None:
        fmt.show(f"_{preset_} · {dataset_} · {backbone_}: curves not run._")
        continue
    fig = go.Figure()
    for name, part in curves.groupby("curve"):
        fig.add_trace(go.Scatter(x=part["fraction"], y=part["value"], mode="lines+markers", name=name))
    fig.update_layout(title=f"{paper_values.BACKBONE_LABELS.get(backbone_, backbone_)} on {dataset_} ({preset_})",
                      xaxis_title="fraction of gates re-opened (insertion) / closed (deletion)",
                      yaxis_title="normalised confidence on the forgotten class", height=360,
                      margin=dict(l=60, r=20, t=50, b=50))
    display(HTML(fig.to_html(full_html=False, include_plotlyjs=PLOTLY_JS if first else False)))
    first = False

"""The baselines' hyper-parameter search: the selection rule on hand-made rows, and a smoke run
that scores on held-out training images only."""

from __future__ import annotations

import json

import pytest

from wfnet.experiments.baseline_search import SEARCH_FILE, choose, grid, run_search
from wfnet.experiments.results import result_path
from wfnet.methods.baselines import FinetuneConfig

ROWS = [{"config": "a", "acc_r": 95.0, "acc_f": 4.0}, {"config": "b", "acc_r": 91.0, "acc_f": 0.5},
        {"config": "c", "acc_r": 88.0, "acc_f": 0.0}, {"config": "d", "acc_r": 90.0, "acc_f": 1.0}]


def test_choose_takes_the_best_retain_among_those_that_forget_enough():
    assert choose(ROWS, paper_acc_f=0.0, slack=1.0)["config"] == "b"   # a forgets too little
    assert choose(ROWS, paper_acc_f=0.0, slack=0.0)["config"] == "c"   # only c reaches 0.0
    assert choose(ROWS, paper_acc_f=5.0, slack=0.0)["config"] == "a"
    assert choose(ROWS[:1], paper_acc_f=0.0, slack=1.0)["config"] == "a"  # none forgets: the best forgetter


def test_grid_is_every_combination():
    g = grid(FinetuneConfig(), lr=[0.1, 0.2], epochs=[1, 2, 3])
    assert len(g) == 6 and {(c.lr, c.epochs) for c in g} == {(a, b) for a in (0.1, 0.2) for b in (1, 2, 3)}


@pytest.mark.slow
def test_smoke_search_scores_on_the_validation_split(tmp_path):
    blob = run_search("mnist-5k", "resnet18", "smoke", tmp_path, "cpu", progress=False)
    on_disk = json.loads(result_path(tmp_path, "smoke", "mnist-5k", "resnet18", SEARCH_FILE).read_text())
    assert on_disk["key"] == blob["key"]
    prov = blob["provenance"]
    assert prov["val_size"] == 400 and prov["fit_size"] == 3600  # 10% of 4,000 held out, no test image used
    for t in blob["methods"].values():
        assert t["chosen"] in [r["config"] for r in t["candidates"]]
        assert all(0 <= r["acc_r"] <= 100 and 0 <= r["acc_f"] <= 100 for r in t["candidates"])

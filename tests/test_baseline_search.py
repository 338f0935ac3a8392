"""The baselines' hyper-parameter search: the selection rule on hand-made rows, and a smoke run
that scores on held-out training images only."""

from __future__ import annotations

import json

import pytest

from wfnet.errors import WFNetError
from wfnet.experiments.baseline_search import SEARCH_FILE, SPACES, choose, grid, resolve_preset, run_search, search_key
from wfnet.experiments.presets import PRESETS, with_precision
from wfnet.experiments.results import result_path
from wfnet.methods.baselines import FinetuneConfig
from wfnet.methods.salun import SalunConfig
from wfnet.methods.ssd import SSDConfig

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
    assert set(blob["methods"]) == {"random_labels", "negative_gradients", "ssd", "salun"}
    assert blob["methods"]["ssd"]["paper_acc_f"] is None and blob["methods"]["ssd"]["bar_acc_f"] == 1.0
    assert resolve_preset(PRESETS.get("smoke"), "mnist-5k", "resnet18", tmp_path).searched  # the cell uses it
    for t in blob["methods"].values():
        assert t["chosen"] in [r["config"] for r in t["candidates"]]
        assert all(0 <= r["acc_r"] <= 100 and 0 <= r["acc_f"] <= 100 for r in t["candidates"])


# -- the preset as used for one cell: the search's choice, checked, everywhere a key is computed -----

def _search_file(root, key, chosen):
    """A search file as ``run_search`` writes it (only the fields the preset reads)."""
    from wfnet.io import atomic_write_json

    path = result_path(root, "smoke", "mnist-5k", "resnet18", SEARCH_FILE)
    atomic_write_json(path, {"method": SEARCH_FILE, "preset": "smoke", "dataset": "mnist-5k", "backbone": "resnet18",
                             "key": key, "methods": {m: {"chosen": c.as_dict()} for m, c in chosen.items()},
                             "provenance": {"key": key}})
    return path


CHOSEN = {"random_labels": FinetuneConfig(epochs=1, lr=0.003), "negative_gradients": FinetuneConfig(epochs=1, lr=3e-4),
          "ssd": SSDConfig(alpha=3.0), "salun": SalunConfig(FinetuneConfig(epochs=1, lr=0.003), saliency_fraction=0.3)}


def test_every_single_class_baseline_is_searched_for_every_cell():
    for space in SPACES.values():
        assert set(space.candidates) == {"random_labels", "negative_gradients", "ssd", "salun"}
    smoke = SPACES["smoke"].candidates
    assert SSDConfig() in smoke["ssd"]  # the authors' alpha 10, lambda 1 among the candidates
    assert any(c.saliency_fraction == 0.5 for c in smoke["salun"])  # SalUn's own sparsity too


def test_a_current_search_sets_each_baselines_config_and_its_source(tmp_path):
    smoke = PRESETS.get("smoke")
    key = search_key(smoke, SPACES["smoke"], "mnist-5k", "resnet18")
    _search_file(tmp_path, key, CHOSEN)
    used = resolve_preset(smoke, "mnist-5k", "resnet18", tmp_path)
    for method, cfg in CHOSEN.items():
        assert used.method_config(method, "mnist-5k", "resnet18", 0) == with_precision(cfg, smoke.resolved_precision)
        assert used.config_source(method) == f"search:{key}"
        assert used.key("mnist-5k", "resnet18", 0, method) != smoke.key("mnist-5k", "resnet18", 0, method)
    for method in ("original", "wfnet", "retrained"):  # untouched by the baselines' search
        assert used.key("mnist-5k", "resnet18", 0, method) == smoke.key("mnist-5k", "resnet18", 0, method)
    assert resolve_preset(smoke, "mnist-5k", "vgg16", tmp_path).searched == {}  # per cell: not another backbone's
    default = resolve_preset(smoke, "mnist-5k", "resnet18", tmp_path / "none")
    assert default.config_source("ssd") == "authors' defaults" and default.config_source("random_labels") == "preset default"
    assert default.method_config("ssd", "mnist-5k", "resnet18", 0) == SSDConfig()


def test_a_search_of_another_key_is_ignored_and_said_so(tmp_path, capsys):
    smoke = PRESETS.get("smoke")
    _search_file(tmp_path, "0" * 16, CHOSEN)  # e.g. searched with another original
    used = resolve_preset(smoke, "mnist-5k", "resnet18", tmp_path)
    assert used.searched == {} and used.config_source("random_labels") == "preset default"
    assert used.key("mnist-5k", "resnet18", 0, "random_labels") == smoke.key("mnist-5k", "resnet18", 0, "random_labels")
    assert "0000000000000000" in capsys.readouterr().err


def test_runs_plan_and_bundles_compute_the_same_searched_keys(tmp_path):
    """Reproduce, the plan's state and a bundle's check resolve the cell the same way, and a bundle
    that carries the search is checked against it."""
    import json

    from wfnet.experiments.bundle import check_file
    from wfnet.experiments.plan import Piece
    from wfnet.experiments.reproduce import prepared_run

    smoke = PRESETS.get("smoke")
    key = search_key(smoke, SPACES["smoke"], "mnist-5k", "resnet18")
    search = json.loads(_search_file(tmp_path, key, CHOSEN).read_text())
    want = resolve_preset(smoke, "mnist-5k", "resnet18", tmp_path).key("mnist-5k", "resnet18", 0, "random_labels")
    run = prepared_run("mnist-5k", "resnet18", "smoke", tmp_path, tmp_path / "runs", "cpu", None, 0, False)
    assert run.method_key("random_labels") == want
    piece = Piece("smoke", "mnist-5k", "resnet18", "core", ("random_labels",), None, 1.0)
    assert piece.outputs(tmp_path) == [(result_path(tmp_path, "smoke", "mnist-5k", "resnet18", "random_labels"), want)]

    from .test_bundle import result

    blob = json.dumps(result("smoke", "mnist-5k", "resnet18", "random_labels", key=want)).encode()
    rel = "smoke/mnist-5k/resnet18/random_labels.json"
    check_file(rel, blob, tmp_path / "empty", {("smoke", "mnist-5k", "resnet18"): search})  # the bundle's search
    check_file(rel, blob, tmp_path)  # the one in results/
    with pytest.raises(WFNetError, match="does not match"):
        check_file(rel, blob, tmp_path / "empty")  # no search anywhere: the defaults' key is expected

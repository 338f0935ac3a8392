"""``wfnet reproduce`` end to end on the embedded default: resumable, atomic, deterministic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wfnet.evaluation.relearn import RelearnConfig
from wfnet.experiments.presets import PRESETS, RECIPE_GROUPS, Recipe
from wfnet.experiments.reproduce import reproduce
from wfnet.experiments.results import RELATIONSHIPS, result_path
from wfnet.methods import method_names

METHODS = method_names(in_paper=True)  # the paper's Table 1 rows

# a preset small enough for the kill-and-resume test: every method, every metric, minutes on CPU
MICRO = replace(PRESETS.get("smoke"), name="micro", recipes={g: Recipe(epochs=1) for g in RECIPE_GROUPS},
                untrain_epochs=1,
                relearn=RelearnConfig(max_epochs=1, samples_per_epoch=128), insdel_steps=2)

NUMBERS = ("acc_r", "acc_f", "zrf", "rt", "rt_failed")


def _numbers(results_dir: Path) -> dict[str, dict[str, object]]:
    out = {}
    for m in METHODS:
        blob = json.loads(result_path(results_dir, "micro", "mnist-5k", "resnet18", m).read_text())
        out[m] = {k: blob[k] for k in NUMBERS} | {"per_class": [
            {k: v for k, v in c.items() if "wall" not in k} for c in blob.get("per_class", [])]}
        if m == "wfnet":
            out[m] |= {k: blob[k] for k in ("insertion", "deletion", "insertion_curve", "deletion_curve")}
    return out


def _run_cli(results: Path, runs: Path, log: Path) -> subprocess.Popen[bytes]:
    code = ("import torch; torch.set_num_threads(1); "  # bit for bit needs one thread (README, Reliability)
            "from tests.test_reproduce import MICRO; from wfnet.experiments.reproduce import reproduce; "
            f"reproduce('mnist-5k', 'resnet18', MICRO, {str(results)!r}, {str(runs)!r}, 'cpu', progress=False)")
    with open(log, "ab") as fh:  # a file, not a pipe: a chatty child can never block on it
        return subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                                stdout=fh, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, float]:
    """One uninterrupted run, on one thread like the killed ones: with two, untraining at lr 100
    can turn a last-bit difference between runs into a different result (README, Reliability)."""
    root = tmp_path_factory.mktemp("clean")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        reproduce("mnist-5k", "resnet18", MICRO, root / "results", root / "runs", "cpu", progress=False)
        return root, time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_reproduce_writes_every_method_and_reuses_them(uninterrupted):
    root, _ = uninterrupted
    results = root / "results"
    for m in METHODS:
        blob = json.loads(result_path(results, "micro", "mnist-5k", "resnet18", m).read_text())
        assert {"acc_r", "acc_f", "zrf", "rt", "rt_failed", "provenance"} <= set(blob)
        prov = blob["provenance"]
        assert prov["dataset"] == "mnist-5k" and prov["train_size"] == 4000 and prov["width"] == MICRO.width
        assert prov["wall_seconds"] > 0 and prov["git_commit"]
    wf = json.loads(result_path(results, "micro", "mnist-5k", "resnet18", "wfnet").read_text())
    assert 0 <= wf["insertion"] <= 2 and 0 <= wf["deletion"] <= 2 and len(wf["insertion_curve"]) == 3
    assert (result_path(results, "micro", "mnist-5k", "resnet18", "wfnet").with_name(RELATIONSHIPS)).is_file()
    single = json.loads(result_path(results, "micro", "mnist-5k", "resnet18", "retrained").read_text())
    assert len(single["provenance"]["unlearn_wall_seconds_per_class"]) == 10
    before = {m: result_path(results, "micro", "mnist-5k", "resnet18", m).stat().st_mtime_ns for m in METHODS}
    start = time.perf_counter()
    reproduce("mnist-5k", "resnet18", MICRO, results, root / "runs", "cpu", progress=False)
    assert time.perf_counter() - start < 30  # reused, not recomputed
    assert before == {m: result_path(results, "micro", "mnist-5k", "resnet18", m).stat().st_mtime_ns for m in METHODS}


def _complete_files(root: Path) -> None:
    """Every JSON under root parses: a kill never leaves half a file."""
    for p in root.rglob("*.json"):
        json.loads(p.read_text())
    assert not list(root.rglob("*.tmp")), "temporary files left behind"


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(uninterrupted, tmp_path):
    clean_root, clean_wall = uninterrupted
    results, runs = tmp_path / "results", tmp_path / "runs"
    log = tmp_path / "log.txt"
    for fraction in (0.15, 0.4, 0.7):
        proc = _run_cli(results, runs, log)
        try:
            proc.wait(timeout=clean_wall * fraction)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        _complete_files(tmp_path)
    proc = _run_cli(results, runs, log)
    assert proc.wait(timeout=1800) == 0, log.read_text()[-3000:]
    _complete_files(tmp_path)
    assert _numbers(results) == _numbers(clean_root / "results")


def test_cache_key_follows_derived_configs(monkeypatch):
    """A changed default of a config must invalidate cached runs, not be served stale."""
    import wfnet.experiments.presets as presets
    from wfnet.methods.untrain import UntrainConfig

    smoke = PRESETS.get("smoke")
    before = smoke.key("mnist-5k", "resnet18", 0)
    assert smoke.key("mnist-5k", "resnet18", 0) == before
    assert smoke.key("mnist-5k", "resnet18", 1) != before
    monkeypatch.setattr(presets, "untrain_defaults", lambda backbone: UntrainConfig(lr=1.0))
    assert smoke.key("mnist-5k", "resnet18", 0) != before


def test_random_reference_does_not_depend_on_what_was_loaded_first(tmp_path):
    """M* of ZRF must be the same model whether or not the original was loaded before it: a
    resumed run reaches it in another order (this once shifted M*'s initialisation)."""
    import torch

    from wfnet.experiments.reproduce import Run

    from .conftest import synthetic_dataset

    data = synthetic_dataset()
    first = Run(data, "resnet18", MICRO, tmp_path, torch.device("cpu"), 0, False)
    first.original_model()  # trains and caches the original, then M*
    uninterrupted = first.random_logits
    resumed = Run(data, "resnet18", MICRO, tmp_path, torch.device("cpu"), 0, False)
    assert torch.equal(resumed.random_logits, uninterrupted)  # original not loaded beforehand

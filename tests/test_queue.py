"""The GPU queue's code path, on the CPU: pieces run, bundled, collected; the retrained baseline
built a few classes at a time; provenance that names only this project's commits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from wfnet.experiments.bundle import read_bundle
from wfnet.provenance import REPO_ROOT

from .test_reproduce import MICRO

SCRIPTS = REPO_ROOT / "scripts"


def test_commit_of_a_foreign_checkout_is_never_recorded(tmp_path):
    """The package exported into another git checkout records no commit of that checkout."""
    outer = tmp_path / "other-project"
    shutil.copytree(REPO_ROOT / "wfnet", outer / "vendor" / "wfnet", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    subprocess.run(["git", "-C", str(outer), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    code = "from wfnet.provenance import git_commit; print(git_commit())"
    env = {k: v for k, v in os.environ.items() if k != "WFNET_GIT_COMMIT"}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], cwd=outer, capture_output=True, text=True,  # noqa: E731
                                       env={**env, "PYTHONPATH": str(outer / "vendor"), **extra}, check=True).stdout.strip()
    assert run({}).startswith("unknown (wfnet ")
    assert run({"WFNET_GIT_COMMIT": "a" * 40}) == "a" * 40  # declared by our own GPU script


@pytest.mark.slow
def test_retrained_baseline_is_built_a_few_classes_at_a_time(tmp_path):
    from wfnet.experiments.reproduce import reproduce
    from wfnet.experiments.results import read_result, retrained_class_path
    from wfnet.report import table1

    res, runs = tmp_path / "results", tmp_path / "runs"
    reproduce("mnist-5k", "resnet18", MICRO, res, runs, "cpu", methods=["original"], progress=False)
    out = reproduce("mnist-5k", "resnet18", MICRO, res, runs, "cpu", methods=["retrained"], classes=[0, 1, 2],
                    progress=False)
    assert out == {} and read_result(res, "micro", "mnist-5k", "resnet18", "retrained") is None
    cell = table1(res, "MNIST", [("micro", "mnist-5k")]).loc[("ResNet-18", "Retrained Model")]
    assert "3 of 10 classes" in set(cell) and "not run" not in {v for k, v in cell.items() if k[1] != "paper"}
    shutil.rmtree(runs)  # a later GPU call starts bare: the original's targets come from original.json
    out = reproduce("mnist-5k", "resnet18", MICRO, res, runs, "cpu", methods=["retrained"],
                    classes=list(range(3, 10)), progress=False)
    blob = out["retrained"]
    assert len(blob["per_class"]) == 10 and blob["provenance"]["key"] == MICRO.key("mnist-5k", "resnet18", 0, "retrained")
    assert not (runs / "micro" / "mnist-5k" / "resnet18" / "original").exists()  # never trained the original
    piece = json.loads(retrained_class_path(res, "micro", "mnist-5k", "resnet18", 4).read_text())
    assert piece["provenance"]["cls"] == 4 and piece["provenance"]["device"].startswith("cpu")


@pytest.mark.slow
def test_next_then_collect_puts_valid_smoke_results_in_place(tmp_path):
    """CI's version of a GPU call: `gpu_run.sh next` on the CPU, then `gpu_collect.sh`."""
    out, fresh = tmp_path / "out", tmp_path / "fresh-results"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "RUNS": str(tmp_path / "runs")}
    work = tmp_path / "checkout"  # its own results/: the repository's stay untouched
    shutil.copytree(REPO_ROOT, work, ignore=shutil.ignore_patterns(".venv", "_build", "runs", "results", ".data",
                                                                  "notebooks", "book", "__pycache__"))
    proc = subprocess.run(["bash", str(work / "scripts" / "gpu_run.sh"), "next", "--preset", "smoke", "--device", "cpu",
                           "--budget", "300"], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert "[piece] smoke/mnist-5k/resnet18/core" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    bundles = sorted(out.glob("results-*.tar.gz"))
    assert len(bundles) == 1
    files = [c.rel for c in read_bundle(bundles[0])]  # a piece cut off by the budget keeps what it finished
    assert "smoke/mnist-5k/resnet18/original.json" in files, files
    got = subprocess.run(["bash", str(SCRIPTS / "gpu_collect.sh"), str(bundles[0]), "--results", str(fresh)],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    for rel in files:
        assert (fresh / rel).read_bytes() == (work / "results" / rel).read_bytes()


@pytest.mark.slow
def test_gpu_smoke_check_runs_on_the_cpu(tmp_path):
    """`scripts/gpu_run.sh smoke` is the first command of every GPU call; its plumbing (every
    step of the smoke pipeline, both benchmarks) is checked here on the CPU."""
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    # CI runs this after `make book`: its checkpoints seed the scratch cache, so on 2 cores the check
    # costs minutes (a GPU starts bare and computes everything in under two)
    reuse = ["--reuse", str(REPO_ROOT / "runs")] if (REPO_ROOT / "runs" / "smoke").is_dir() else []
    proc = subprocess.run(["bash", str(SCRIPTS / "gpu_run.sh"), "smoke", "--device", "cpu", *reuse], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for line in ("== smoke passed", "interactive page: 56 states precomputed", "| resnet18 |"):
        assert line in proc.stdout, line

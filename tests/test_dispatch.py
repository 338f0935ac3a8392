"""`wfnet run-plan` on the CPU: a local pool of 2 over cheap pieces (one failing on purpose) against
`wfnet next`, the SLURM array as the sbatch text it submits, bad input, and the final retrained pass."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from wfnet.cli import main
from wfnet.experiments import dispatch
from wfnet.experiments.plan import Piece, plan
from wfnet.experiments.presets import PRESETS
from wfnet.experiments.results import result_path, retrained_class_path

needs_submitit = pytest.mark.skipif(importlib.util.find_spec("submitit") is None,
                                    reason="submitit is not installed (pip install 'wfnet[cluster]')")


def _cheap(backbone: str, seed: int = 0, estimate: float = 10.0) -> Piece:
    """A real piece made cheap: only the original model of the smoke preset (seconds on a CPU)."""
    return Piece("smoke", "mnist-5k", backbone, "core", ("original",), None, estimate, seed)


GOOD = (_cheap("vgg16"), _cheap("vgg16", seed=1))
BAD = _cheap("vit_small", estimate=5.0)  # made to fail: its --runs folder is a file (tests below)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["run-plan", *argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _comparable(blob: dict) -> dict:
    """A result without what differs between two runs of the same numbers: provenance, wall times."""
    return {k: v for k, v in blob.items() if k != "provenance" and "wall" not in k and "per_second" not in k}


def _intervals(jobs: Path) -> list[tuple[float, float]]:
    out = []
    for stamps in jobs.glob("*/stamps.jsonl"):
        events = [json.loads(line) for line in stamps.read_text().splitlines()]
        starts = [e["time"] for e in events if e["event"] == "start"]
        stops = [e["time"] for e in events if e["event"] == "stop"]
        out += list(zip(starts, stops))
    return out


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    return max(sum(1 for a, b in intervals if a <= t < b) for t, _ in intervals)


@pytest.mark.slow
@needs_submitit
def test_local_pool_runs_two_at_a_time_matches_next_and_resumes(tmp_path, monkeypatch, capsys):
    from wfnet.experiments import queue

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # bit for bit on a CPU needs one thread (README, Reliability)
    results, runs = tmp_path / "results", tmp_path / "runs"
    bad_runs = runs / "jobs" / dispatch.job_slug(BAD) / "runs"
    bad_runs.parent.mkdir(parents=True)
    bad_runs.write_text("not a folder")  # the failing piece's child refuses its --runs at once
    monkeypatch.setattr("wfnet.experiments.plan.plan", lambda *a, **k: [BAD, *GOOD])
    argv = ("--preset", "smoke", "--executor", "local", "--device", "cpu", "--max-parallel", "2",
            "--results", str(results), "--runs", str(runs), "--time-min", "6")
    code, out, err = _run(capsys, *argv)
    assert code == 1, out + err
    bad_log = runs / "jobs" / dispatch.job_slug(BAD) / "piece.log"
    assert f"[failed] {BAD.id}: exit 2" in out and f"log {bad_log}" in out and "is an existing file" in out, out
    assert "2 done, 0 running, 1 failed, 0 left" in out and f"1 of 3 pieces failed: {BAD.id}" in out, out
    assert _most_at_once(_intervals(runs / "jobs")) == 2  # never more than --max-parallel, and it did run two
    assert {json.loads(x)["cuda_visible_devices"] for f in (runs / "jobs").glob("*/stamps.jsonl")
            for x in f.read_text().splitlines()} == {""}  # a CPU run hides every GPU from its pieces
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[start]")] == [BAD.id, *(p.id for p in GOOD)]
    for piece in GOOD:
        assert piece.state(results) == "done"
        job = runs / "jobs" / dispatch.job_slug(piece)
        assert f"--runs {job / 'runs'}" in (job / "piece.log").read_text()  # its own scratch...
        assert not (job / "runs").exists()  # ...removed once its results are in place

    # the same pieces, one after another, as `wfnet next` runs them
    monkeypatch.setattr(queue, "plan", lambda *a, **k: list(GOOD))
    ran, _ = queue.run_next(900, "smoke", "cpu", tmp_path / "next-results", tmp_path / "next-runs",
                            tmp_path / "bundles", log=lambda line: None)
    assert [r.returncode for r in ran] == [0, 0]
    for piece in GOOD:
        (mine, key), = piece.outputs(results)
        (theirs, _), = piece.outputs(tmp_path / "next-results")
        a, b = json.loads(mine.read_text()), json.loads(theirs.read_text())
        assert a["provenance"]["key"] == b["provenance"]["key"] == key
        assert _comparable(a) == _comparable(b), piece.id

    # a rerun: the failed piece (once fixed) is all that is left; without it nothing is submitted
    code, out, _ = _run(capsys, *argv, "--dry-run")
    assert code == 0 and "1 of 3 pieces to submit" in out and BAD.id in out and GOOD[0].id not in out
    monkeypatch.setattr("wfnet.experiments.plan.plan", lambda *a, **k: list(GOOD))
    stamps = sorted(p.read_text() for p in (runs / "jobs").glob("*/stamps.jsonl"))
    code, out, _ = _run(capsys, *argv)
    assert code == 0 and "nothing to submit: all 2 pieces are done" in out, out
    assert sorted(p.read_text() for p in (runs / "jobs").glob("*/stamps.jsonl")) == stamps


@needs_submitit
def test_debug_executor_runs_in_process_and_reports_a_failure(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    bad_runs = runs / "jobs" / dispatch.job_slug(BAD) / "runs"
    bad_runs.parent.mkdir(parents=True)
    bad_runs.write_text("not a folder")
    monkeypatch.setattr("wfnet.experiments.plan.plan", lambda *a, **k: [BAD])
    code, out, _ = _run(capsys, "--preset", "smoke", "--executor", "debug", "--device", "cpu",
                        "--results", str(tmp_path / "results"), "--runs", str(runs))
    assert code == 1 and f"[failed] {BAD.id}: exit 2" in out and "0 done, 0 running, 1 failed, 0 left" in out
    stamps = [json.loads(x) for x in (bad_runs.parent / "stamps.jsonl").read_text().splitlines()]
    assert [s["event"] for s in stamps] == ["start", "stop"] and stamps[0]["pid"] == os.getpid()  # in-process


def _fake_slurm(tmp_path: Path, monkeypatch) -> Path:
    """`srun` and `sbatch` on PATH: sbatch keeps the script it is given and answers as SLURM does."""
    bin_dir, record = tmp_path / "bin", tmp_path / "submitted.sh"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {record}\necho 'Submitted batch job 4242'\n")
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


@needs_submitit
def test_slurm_array_is_the_sbatch_text_of_the_dry_run(tmp_path, monkeypatch, capsys):
    record = _fake_slurm(tmp_path, monkeypatch)
    argv = ("--preset", "smoke", "--only", "smoke/mnist-5k/*/core", "--seeds", "0", "--executor", "slurm",
            "--partition", "gpu", "--max-parallel", "2", "--time-min", "15", "--account", "lab", "--qos", "normal",
            "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"))
    code, dry, _ = _run(capsys, *argv, "--dry-run")
    assert code == 0 and "4 of 4 pieces to submit" in dry
    script = dry.split("sbatch script (one array of 4 jobs):\n\n", 1)[1].rstrip("\n")
    for line in ("#SBATCH --array=0-3%2", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=15", "#SBATCH --account=lab", "#SBATCH --qos=normal", "#SBATCH --job-name=wfnet-smoke"):
        assert line in script.splitlines(), line
    assert not record.exists() and not (tmp_path / "runs").exists()  # a dry run submits and writes nothing
    code, out, err = _run(capsys, *argv, "--no-wait")
    assert code == 0, err
    assert "submitted SLURM array 4242: 4 pieces" in out
    assert record.read_text().rstrip("\n") == script  # what sbatch got is what the dry run showed


@needs_submitit
def test_paper_plan_dry_run_for_slurm_prints_the_whole_submission(tmp_path, capsys):
    code, out, _ = _run(capsys, "--dry-run", "--executor", "slurm", "--partition", "gpu",
                        "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"))
    assert code == 0
    pieces = plan("paper")  # the baselines wait for their cell's search, the retrained ones for original.json
    first = [p for p in pieces if not dispatch.blockers(p, pieces, tmp_path / "results")]
    assert "search" in {p.part for p in first} and not any("random_labels" in p.methods for p in first
                                                          if p.part != "search")
    assert f"{len(first)} of 147 pieces to submit" in out and all(p.id in out for p in first)
    assert f"#SBATCH --array=0-{len(first) - 1}%{len(first)}" in out and "#SBATCH --partition=gpu" in out
    assert "147 pieces, 15.2 GPU-hours estimated" in out and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv, message", [
    (["--executor", "pbs"], "invalid choice: 'pbs'"),
    (["--max-parallel", "0", "--device", "cpu"], "--max-parallel must be at least 1"),
    (["--gpus", "7"], "--gpus names GPU 7, but this machine sees"),
    (["--gpus", "0", "--device", "cpu"], "contradict"),
    (["--partition", "gpu"], "--partition is for --executor slurm"),
    (["--time-min", "1", "--device", "cpu"], "--time-min must be at least"),
    (["--only", "smoke/nothing/*", "--device", "cpu"], "matches no piece"),
])
def test_bad_input_is_one_line_and_submits_nothing(argv, message, tmp_path, capsys):
    import torch

    if argv[:2] == ["--gpus", "7"] and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a GPU 7")
    code, _, err = _run(capsys, "--preset", "smoke", "--runs", str(tmp_path / "runs"), *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


def test_without_submitit_it_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    code, _, err = _run(capsys, "--preset", "smoke", "--device", "cpu", "--runs", str(tmp_path / "runs"))
    assert code == 2 and err.count("\n") == 1 and "pip install 'wfnet[cluster]'" in err
    assert not (tmp_path / "runs").exists()


@needs_submitit
def test_paper_on_a_cpu_is_refused_unless_allowed(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    code, _, err = _run(capsys, "--preset", "paper", "--dry-run", "--runs", str(tmp_path / "runs"))
    assert code == 2 and "--allow-slow" in err and "GPU-hours on an H200" in err
    code, out, _ = _run(capsys, "--preset", "paper", "--dry-run", "--allow-slow", "--seeds", "0",
                        "--runs", str(tmp_path / "runs"))
    assert code == 0 and "57 pieces, 5.6 GPU-hours" in out


def test_a_retrained_piece_waits_for_its_cells_original(tmp_path):
    search, core, retrained = plan("smoke", ["mnist-5k"], ["resnet18"], seeds=(0,))
    assert (search.part, core.part, retrained.classes is not None) == ("search", "core", True)
    assert dispatch.blockers(retrained, [core, search, retrained], tmp_path) == [core]
    assert dispatch.blockers(retrained, [search, retrained], tmp_path) == []  # nobody writes it: it trains its own
    path, key = next(o for o in core.outputs(tmp_path) if o[0].name == "original.json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"provenance": {"key": key}}))
    assert dispatch.blockers(retrained, [core, search, retrained], tmp_path) == []


def test_a_piece_of_baselines_waits_for_its_cells_search(tmp_path):
    """Issue 27: the core piece's baselines run with what the search chose, so it waits for the
    search of its cell (seed 0's, for every seed), and nothing else does."""
    search, core, retrained = plan("smoke", ["mnist-5k"], ["resnet18"], seeds=(0,))
    extra = next(p for p in plan("smoke", ["mnist-5k"], ["resnet18"], seeds=(0, 1)) if p.seed == 1 and p.part == "core")
    other = next(p for p in plan("paper", ["mnist"], ["resnet18"], seeds=(0,)) if p.part == "search")
    assert dispatch.blockers(core, [search, core, retrained, other], tmp_path) == [search]
    assert dispatch.blockers(extra, [search, extra], tmp_path) == [search]
    assert dispatch.blockers(search, [search, core, retrained], tmp_path) == []
    assert dispatch.blockers(core, [core, retrained], tmp_path) == []  # searched already (or never)


def _class_file(results: Path, cls: int, key: str) -> None:
    path = retrained_class_path(results, "smoke", "mnist-5k", "resnet18", cls)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "key": key, "cls": cls, "name": str(cls), "acc_r": 90.0, "acc_f": 0.0, "zrf": 0.6, "rt": 2.0,
        "relearned": True, "rt_final_acc": 95.0, "unlearn_wall_seconds": 1.0, "wall_seconds": 2.0, "mia": {},
        "accuracy": {}, "provenance": {"key": key, "cls": cls, "device": "NVIDIA H200", "git_commit": "f" * 40}}))


def test_final_pass_writes_retrained_json_once_from_the_class_files(tmp_path):
    """Two retrained pieces that finished together and both saw the other's classes missing: the
    final pass aggregates retrained.json, computing nothing, with the pieces' device."""
    results = tmp_path / "results"
    halves = [Piece("smoke", "mnist-5k", "resnet18", f"retrained-{a}-{a + 4}", ("retrained",),
                    tuple(range(a, a + 5)), 1.0) for a in (0, 5)]
    key = PRESETS.get("smoke").key("mnist-5k", "resnet18", 0, "retrained")
    opts = dispatch.Options(results_dir=results, runs_dir=tmp_path / "runs")
    for c in range(9):
        _class_file(results, c, key)
    assert dispatch.finish_retrained(halves, opts, log=lambda line: None) == []  # class 9 is missing
    _class_file(results, 9, key)
    lines: list[str] = []
    written = dispatch.finish_retrained(halves, opts, log=lines.append)
    target = result_path(results, "smoke", "mnist-5k", "resnet18", "retrained")
    assert written == [str(target)] and "from its ten class files" in lines[0]
    blob = json.loads(target.read_text())
    assert len(blob["per_class"]) == 10 and blob["acc_r"] == pytest.approx(90.0)
    assert blob["provenance"]["key"] == key and blob["provenance"]["device"] == "NVIDIA H200"
    assert dispatch.finish_retrained(halves, opts, log=lines.append) == []  # current: left alone


def test_each_local_job_sees_only_its_gpu_through_this_process_mask(tmp_path, monkeypatch):
    """torch's GPU 1 under CUDA_VISIBLE_DEVICES=2,3 is the machine's GPU 3 (or a UUID): the child
    must be given that, not 1."""
    opts = dispatch.Options(executor="local", gpus=(0, 1), runs_dir=tmp_path / "runs")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert dict(dispatch.make_job(GOOD[0], opts, 1).env)["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-5f1c")
    job = dispatch.make_job(GOOD[0], opts, 1)
    assert dict(job.env)["CUDA_VISIBLE_DEVICES"] == "GPU-5f1c" and job.device == "cuda"
    cpu = dispatch.make_job(GOOD[0], dispatch.Options(executor="local", device="cpu"), None)
    assert dict(cpu.env)["CUDA_VISIBLE_DEVICES"] == "" and cpu.device == "cpu"
    slurm = dispatch.make_job(GOOD[0], dispatch.Options(executor="slurm"), None)
    assert "CUDA_VISIBLE_DEVICES" not in dict(slurm.env) and slurm.device == "cuda"  # SLURM sets it


def test_cpu_pieces_at_once_share_the_cores_and_a_child_honours_omp_num_threads(tmp_path, monkeypatch):
    """Two CPU pieces with every core each ran 30x slower in CI (threads spinning on each other):
    k pieces at once get cores // k threads each, through OMP_NUM_THREADS, which a child obeys
    when --threads is not given; a value the user set is left alone."""
    import argparse

    import torch

    from wfnet.cli.checks import device_of

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    opts = dispatch.Options(executor="local", device="cpu", max_parallel=3, runs_dir=tmp_path / "runs")
    assert dict(dispatch.make_job(GOOD[0], opts, None).env)["OMP_NUM_THREADS"] == "2"
    assert dispatch.cpu_share(16) == 1
    gpu = dispatch.make_job(GOOD[0], dispatch.Options(executor="local", gpus=(0,)), 0)
    assert "OMP_NUM_THREADS" not in dict(gpu.env)  # a GPU piece keeps torch's own default
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert "OMP_NUM_THREADS" not in dict(dispatch.make_job(GOOD[0], opts, None).env)  # inherited as set
    before = torch.get_num_threads()
    try:
        device_of(argparse.Namespace(device="cpu", threads=None))
        assert torch.get_num_threads() == 5
        device_of(argparse.Namespace(device="cpu", threads=3))
        assert torch.get_num_threads() == 3  # --threads wins
        monkeypatch.setenv("OMP_NUM_THREADS", "many")
        device_of(argparse.Namespace(device="cpu", threads=None))
        assert torch.get_num_threads() == 8  # not a number: every usable core
    finally:
        torch.set_num_threads(before)

"""``wfnet run-plan``: the plan's unfinished pieces as submitit jobs (this machine's GPUs, a SLURM
array, or in-process), resumable from ``results/`` alone, with one final pass for ``retrained.json``."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import WFNetError
from .baseline_search import SPACES, SearchSpace
from .plan import PIECE_LIMIT_S, Piece

EXECUTORS = ("local", "slurm", "debug")
JOB_MARGIN_S = 120  # between a piece's own deadline and the job's: longer than submitit's timeout signal (90 s)
DEFAULT_TIME_MIN = math.ceil((2 * PIECE_LIMIT_S + JOB_MARGIN_S) / 60)  # room for a GPU half an H200's speed
POLL_S = {"local": 1.0, "debug": 0.0, "slurm": 30.0}
ARRAY_LIMIT = 1000  # SLURM's default MaxArraySize is 1001: indices 0..1000
TAIL_LINES = 8  # of a failed piece's log, printed with its path


# -- the job submitit runs --------------------------------------------------------------------------

def job_slug(piece: Piece) -> str:
    """A piece's id as one folder name: ``paper/mnist/vgg16/seed-1/core`` -> ``paper--mnist--vgg16--seed-1--core``."""
    return piece.id.replace("/", "--")


@dataclass(frozen=True)
class PieceJob:
    """One piece as submitit runs it (picklable): ``wfnet reproduce|search-baselines`` in a child
    process with a deadline, its own ``--runs`` folder, its output in ``piece.log``, its start and
    stop in ``stamps.jsonl``. A crash, CUDA's included, ends that child only."""

    piece: Piece
    device: str
    results_dir: str
    job_dir: str
    timeout_s: float
    env: tuple[tuple[str, str], ...] = ()
    keep_runs: bool = False

    @property
    def log_path(self) -> Path:
        return Path(self.job_dir) / "piece.log"

    def stamp(self, event: str, **extra: object) -> None:
        """One line of ``stamps.jsonl`` (appended): when the piece started and stopped, where, on which GPU."""
        gpu = dict(self.env).get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
        line = {"event": event, "time": time.time(), "host": platform.node(), "pid": os.getpid(),
                "cuda_visible_devices": gpu, **extra}
        with open(Path(self.job_dir) / "stamps.jsonl", "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def __call__(self) -> dict[str, Any]:
        from .queue import run_piece

        job_dir, runs = Path(self.job_dir), Path(self.job_dir) / "runs"
        job_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **dict(self.env), "PYTHONUNBUFFERED": "1"}
        self.stamp("start")
        with open(self.log_path, "a") as fh:
            def log(line: str) -> None:
                fh.write(line + "\n")
                fh.flush()

            log(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()}, "
                f"CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(unset)')}")
            log("$ wfnet " + shlex.join(self.piece.command(self.device, self.results_dir, str(runs))))
            code, seconds = run_piece(self.piece, self.device, Path(self.results_dir), runs, self.timeout_s, log,
                                      stdout=fh, stderr=subprocess.STDOUT, env=env)
            state = self.piece.state(Path(self.results_dir))
            log(f"[piece] {self.piece.id}: exit {code} in {seconds:.0f} s, now {state}")
        if code == 0 and state == "done" and not self.keep_runs:
            shutil.rmtree(runs, ignore_errors=True)  # its results are in results/; a failed one keeps its cache
        self.stamp("stop", returncode=code, seconds=seconds)
        return {"piece": self.piece.id, "returncode": code, "seconds": seconds, "state": state,
                "log": str(self.log_path)}


# -- options, checked before anything is submitted ---------------------------------------------------

@dataclass
class Options:
    """What one ``wfnet run-plan`` call does, every value checked by ``check``."""

    executor: str = "local"
    device: str = "auto"                 # auto, cpu or cuda (local: one GPU per piece via CUDA_VISIBLE_DEVICES)
    results_dir: Path = Path("results")
    runs_dir: Path = Path("runs")
    data_root: Path | None = None
    gpus: tuple[int, ...] = ()           # local: the pool (default: every visible GPU)
    max_parallel: int | None = None      # local: at most this many at once; slurm: the array's %k
    time_min: int = DEFAULT_TIME_MIN     # a job's time limit; its piece is stopped JOB_MARGIN_S before
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_job: int = 1
    cpus_per_job: int | None = None
    wait: bool = True                    # slurm: wait for the array (progress, final pass) or submit and exit
    allow_slow: bool = False
    keep_runs: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def piece_timeout_s(self) -> float:
        return self.time_min * 60.0 - JOB_MARGIN_S

    @property
    def jobs_dir(self) -> Path:
        return self.runs_dir.absolute() / "jobs"

    @property
    def slots(self) -> int:
        """How many pieces run at once (slurm: the array's %k, or all)."""
        if self.executor == "debug":
            return 1
        if self.executor == "slurm":
            return self.max_parallel or 0
        cap = len(self.gpus) if self.gpus else 1
        return min(self.max_parallel or cap, cap) if self.gpus else (self.max_parallel or 1)

    def piece_device(self) -> str:
        """What each child gets as ``--device``: it sees only its own GPU, as ``cuda``."""
        if self.executor == "local":
            return "cuda" if self.gpus else "cpu"
        if self.executor == "slurm":
            return self.device if self.device != "auto" else ("cuda" if self.gpus_per_job else "cpu")
        return self.device


def parse_gpus(spec: str | None, device: str, executor: str) -> tuple[int, ...]:
    """``--gpus 0,2`` as a tuple of visible GPU indices (default: all that torch sees; none for
    ``--device cpu``); one that does not exist is an error."""
    if spec is not None and executor != "local":
        raise WFNetError(f"--gpus picks this machine's GPUs for --executor local, not {executor}")
    if device == "cpu":
        if spec is not None:
            raise WFNetError("--gpus and --device cpu contradict each other: give one")
        return ()
    if executor != "local":
        return ()
    import torch

    count = torch.cuda.device_count()
    if spec is None:
        gpus = tuple(range(count))
    else:
        try:
            gpus = tuple(int(x) for x in spec.split(",") if x.strip())
        except ValueError:
            raise WFNetError(f"--gpus {spec!r} is not a comma-separated list of GPU indices, e.g. 0,1") from None
        if not gpus or len(set(gpus)) != len(gpus):
            raise WFNetError(f"--gpus {spec!r} must name distinct GPU indices, e.g. 0,1")
        missing = [g for g in gpus if not 0 <= g < count]
        if missing:
            raise WFNetError(f"--gpus names GPU {missing[0]}, but this machine sees {count} GPU(s)"
                             + (f" (0..{count - 1})" if count else "") + "; see nvidia-smi or CUDA_VISIBLE_DEVICES")
    if device == "cuda" and not gpus:
        raise WFNetError("--device cuda, but torch sees no GPU here; use --device cpu (with --allow-slow for a "
                         "GPU preset)")
    return gpus


def check(opts: Options) -> None:
    """Every value of a call, before any work: one ``WFNetError`` for the first bad one."""
    if opts.executor not in EXECUTORS:
        raise WFNetError(f"unknown executor {opts.executor!r}; expected one of {', '.join(EXECUTORS)}")
    if opts.device not in ("auto", "cpu", "cuda"):
        raise WFNetError(f"--device {opts.device!r}: run-plan takes auto, cpu or cuda (pick GPUs with --gpus)")
    if opts.max_parallel is not None and opts.max_parallel < 1:
        raise WFNetError(f"--max-parallel must be at least 1, got {opts.max_parallel}")
    low = math.ceil(JOB_MARGIN_S / 60) + 1
    if opts.time_min < low:
        raise WFNetError(f"--time-min must be at least {low} (a piece stops {JOB_MARGIN_S} s before its job), "
                         f"got {opts.time_min}")
    slurm_only = {"--partition": opts.partition, "--account": opts.account, "--qos": opts.qos,
                  "--cpus-per-job": opts.cpus_per_job, "--no-wait": None if opts.wait else True,
                  "--gpus-per-job": None if opts.gpus_per_job == 1 else opts.gpus_per_job}
    given = [flag for flag, value in slurm_only.items() if value is not None]
    if given and opts.executor != "slurm":
        raise WFNetError(f"{given[0]} is for --executor slurm, not {opts.executor}")
    if opts.gpus_per_job < 0:
        raise WFNetError(f"--gpus-per-job must be 0 or more, got {opts.gpus_per_job}")
    if opts.cpus_per_job is not None and opts.cpus_per_job < 1:
        raise WFNetError(f"--cpus-per-job must be at least 1, got {opts.cpus_per_job}")
    if opts.executor == "slurm" and opts.device == "cuda" and opts.gpus_per_job == 0:
        raise WFNetError("--device cuda with --gpus-per-job 0: a job would have no GPU")


def require_submitit() -> Any:
    """submitit, or one line saying how to install it (the optional extra ``wfnet[cluster]``)."""
    try:
        import submitit
    except ImportError:
        raise WFNetError("run-plan needs submitit, which is not installed: pip install 'wfnet[cluster]' "
                         "(or pip install 'submitit>=1.5,<2')") from None
    return submitit


# -- which pieces ------------------------------------------------------------------------------------

def select(pieces: Sequence[Piece], patterns: Sequence[str] | None) -> list[Piece]:
    """The pieces whose id matches one of ``patterns`` (shell-style, e.g. ``paper/mnist/*``); all without."""
    if not patterns:
        return list(pieces)
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(p.id, pattern) for p in pieces):
            raise WFNetError(f"--only {pattern!r} matches no piece of the plan (ids look like {pieces[0].id})"
                             if pieces else f"--only {pattern!r}: the plan is empty")
    return [p for p in pieces if any(fnmatch.fnmatchcase(p.id, pattern) for pattern in patterns)]


def pending(pieces: Sequence[Piece], results_dir: Path) -> list[tuple[Piece, str]]:
    """Pieces whose results are missing, partial or stale (the key decides), in queue order, with
    that state; submitit's own records are never read."""
    out = [(p, p.state(results_dir)) for p in pieces]
    return [(p, s) for p, s in out if s != "done"]


def _reference(piece: Piece, method: str) -> Piece:
    """A stand-in piece for one result file of ``piece``'s cell (its state is that file's)."""
    return Piece(piece.preset, piece.dataset, piece.backbone, method, (method,), None, 0.0, piece.seed)


def blockers(piece: Piece, unfinished: Sequence[Piece], results_dir: Path) -> list[Piece]:
    """The unfinished pieces ``piece`` waits for. A retrained piece: those writing its cell's
    original.json (its relearn targets), unless that file is current; without it the piece would
    train an original model of its own just for the targets. A piece running a baseline the search
    tunes: its cell's search (any seed's pieces wait for seed 0's), whose choice it runs with; run
    before it, its baselines would be stale once the search lands."""
    cell = (piece.preset, piece.dataset, piece.backbone)
    if piece.classes is None:
        if piece.part == "search" or not set(piece.methods) & set(SPACES.get(piece.preset, SearchSpace({})).candidates):
            return []
        return [u for u in unfinished if u.part == "search" and (u.preset, u.dataset, u.backbone) == cell
                and u is not piece]
    if _reference(piece, "original").state(results_dir) == "done":
        return []
    return [u for u in unfinished if "original" in u.methods
            and (u.preset, u.dataset, u.backbone, u.seed) == (*cell, piece.seed) and u is not piece]


# -- estimates and the dry run -------------------------------------------------------------------------

def wall_estimate(pieces: Sequence[Piece], parallel: int) -> float:
    """Seconds on ``parallel`` GPUs: at least the longest piece and the sum over the GPUs (a lower
    bound: both from the plan's estimates)."""
    if not pieces:
        return 0.0
    return max(max(p.estimate_s for p in pieces), sum(p.estimate_s for p in pieces) / max(1, parallel))


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def estimate_lines(pieces: Sequence[Piece], parallel: Sequence[int], gpu: bool = True) -> list[str]:
    """Sum of the estimates, the longest piece, and the wall time on each count of GPUs (or of
    pieces at once, on a CPU: there the H200 estimates say little)."""
    if not pieces:
        return ["nothing to run"]
    total = sum(p.estimate_s for p in pieces)
    longest = max(pieces, key=lambda p: p.estimate_s)
    name = (lambda k: f"{k} GPU{'s' if k > 1 else ''}") if gpu else (lambda k: f"{k} at once")
    walls = ", ".join(f"{name(k)}: about {_hours(wall_estimate(pieces, k))}" for k in dict.fromkeys(parallel))
    return [f"{len(pieces)} pieces, {total / 3600:.1f} GPU-hours estimated (sum; H200 throughput, "
            f"wfnet.experiments.plan), longest piece {longest.estimate_s:.0f} s ({longest.id})",
            f"wall time (max of sum / {'GPUs' if gpu else 'parallel pieces'} and the longest piece): {walls}"]


def slurm_parameters(opts: Options, preset: str) -> dict[str, Any]:
    """The array's SLURM parameters, in submitit's SlurmExecutor names (what ``sbatch`` gets)."""
    params: dict[str, Any] = {"job_name": f"wfnet-{preset}", "time": opts.time_min, "nodes": 1, "ntasks_per_node": 1,
                              "partition": opts.partition, "account": opts.account, "qos": opts.qos,
                              "gpus_per_node": opts.gpus_per_job or None, "cpus_per_task": opts.cpus_per_job}
    if opts.max_parallel:
        params["array_parallelism"] = opts.max_parallel
    return {k: v for k, v in params.items() if v is not None}


def sbatch_text(opts: Options, preset: str, n: int) -> str:
    """The sbatch script submitit writes for an array of ``n`` jobs (its own formatter, so a dry
    run shows what a real call submits)."""
    from submitit.slurm.slurm import _make_sbatch_string

    folder = submitit_folder(opts)
    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(folder))])
    return _make_sbatch_string(command=command, folder=folder, map_count=n if n > 1 else None,
                               **slurm_parameters(opts, preset))


def submitit_folder(opts: Options) -> Path:
    """submitit's own files (pickled jobs, its logs); on a cluster it must be on a shared filesystem."""
    return opts.jobs_dir / "submitit"


def describe(todo: Sequence[tuple[Piece, str]], held: Sequence[Piece], opts: Options, preset: str,
             total: int) -> str:
    """What a call would submit: each piece, the estimates, and for slurm the sbatch script."""
    lines = [f"[dry-run] {len(todo)} of {total} pieces to submit ({opts.executor} executor); "
             "state in results/ and estimate (GPU s):"]
    lines += [f"  {p.id:48s} {s:8s} {p.estimate_s:5.0f}" for p, s in todo]
    if held:
        lines.append(f"then, once the array has finished, further arrays (the next calls with --no-wait): {len(held)} "
                     f"pieces waiting for their cell's baseline search or original.json (written by a piece above) "
                     f"or over the array limit: {', '.join(p.id for p in held[:3])}" + (", ..." if len(held) > 3 else ""))
    pieces = [p for p, _ in todo]
    counts = [opts.slots] if opts.executor != "slurm" else [1, 4, 8] + ([opts.slots] if opts.slots else [])
    lines += estimate_lines([*pieces, *held], counts, gpu=opts.piece_device() != "cpu")
    lines.append(f"each piece: {opts.piece_timeout_s:.0f} s at most (--time-min {opts.time_min}), its own "
                 f"runs folder under {opts.jobs_dir}/<piece>/")
    if opts.executor == "slurm" and pieces:
        n = min(len(pieces), ARRAY_LIMIT)
        lines += [f"sbatch script ({'one array of ' + str(n) + ' jobs' if n > 1 else 'one job'}):", "",
                  sbatch_text(opts, preset, n)]
    return "\n".join(lines)


# -- running ---------------------------------------------------------------------------------------------

def job_env(opts: Options) -> dict[str, str]:
    """What every child is given: where the data and the warmed decode cache are (absolute, so a
    node or a job anywhere finds the same)."""
    from ..data import default_cache_dir

    env = {"WFNET_CACHE": str(default_cache_dir().expanduser().absolute()), **opts.env}
    if opts.data_root is not None:
        env["WFNET_DATA_ROOT"] = str(Path(opts.data_root).absolute())
    return env


def warm_cache(pieces: Sequence[Piece], opts: Options, log: Callable[[str], None]) -> None:
    """Decode each dataset of the pending pieces once, here, so that parallel jobs only read the
    cache (two processes decoding the same dataset at once are not safe yet)."""
    from ..data import load_dataset

    for name in dict.fromkeys(p.dataset for p in pieces):
        start = time.perf_counter()
        load_dataset(name, opts.data_root)
        log(f"[run-plan] data {name}: decoded cache ready ({time.perf_counter() - start:.0f} s)")


def physical_gpu(index: int) -> str:
    """What ``CUDA_VISIBLE_DEVICES`` must say for torch's GPU ``index`` here: this process's own
    mask may renumber them (``2,3`` -> 0, 1) or name them by UUID."""
    mask = [x.strip() for x in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if x.strip()]
    return mask[index] if index < len(mask) else str(index)


def cpu_share(slots: int) -> int:
    """Threads for each of ``slots`` CPU pieces running at once: more threads than cores in all
    makes every piece many times slower (OpenMP's threads spin waiting for each other)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, slots))


def make_job(piece: Piece, opts: Options, gpu: int | None = None) -> PieceJob:
    """The job of one piece; local: the child sees only GPU ``gpu`` of the pool (none on a CPU run)."""
    env = job_env(opts)
    if opts.executor == "local":
        env["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else physical_gpu(gpu)
        if gpu is None and "OMP_NUM_THREADS" not in {**os.environ, **env}:
            env["OMP_NUM_THREADS"] = str(cpu_share(opts.slots))  # k CPU pieces at once share the cores
    return PieceJob(piece, opts.piece_device(), str(opts.results_dir.absolute()),
                    str(opts.jobs_dir / job_slug(piece)), opts.piece_timeout_s, tuple(sorted(env.items())),
                    opts.keep_runs)


@dataclass
class Tally:
    """Pieces done / running / failed / left, and seconds spent against the estimates."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    spent_s: float = 0.0
    estimated_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    def line(self, unit: str) -> str:
        left = self.total - self.done - self.failed - self.running
        return (f"[run-plan] {self.done} done, {self.running} running, {self.failed} failed, {left} left; "
                f"{self.spent_s:.0f} {unit} spent on finished pieces (estimated {self.estimated_s:.0f})")


def _tail(path: Path, n: int = TAIL_LINES) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return ["(no log)"]


def finish(job: Any, pjob: PieceJob, tally: Tally, log: Callable[[str], None], unit: str) -> None:
    """Record one finished job: its outcome, or its failure with the log path and last lines."""
    piece = pjob.piece
    tally.running -= 1
    try:
        out = job.result()
    except Exception as err:  # the job itself died (not the piece): submitit has its traceback
        stderr = Path(job.paths.stderr)
        tally.failed += 1
        tally.failures.append(piece.id)
        log(f"[failed] {piece.id}: the job ended without a result ({type(err).__name__}); "
            f"log {pjob.log_path}, submitit's {stderr}")
        for line in _tail(stderr) or _tail(pjob.log_path):
            log(f"    {line}")
        log(tally.line(unit))
        return
    tally.spent_s += out["seconds"]
    tally.estimated_s += piece.estimate_s
    if out["returncode"] == 0 and out["state"] == "done":
        tally.done += 1
        log(f"[done] {piece.id} in {out['seconds']:.0f} s (estimate {piece.estimate_s:.0f} s)")
    else:
        tally.failed += 1
        tally.failures.append(piece.id)
        why = ("stopped at its time limit" if out["returncode"] == 124 else f"exit {out['returncode']}")
        log(f"[failed] {piece.id}: {why} after {out['seconds']:.0f} s, results {out['state']}; log {out['log']}")
        for line in _tail(Path(out["log"])):
            log(f"    {line}")
    log(tally.line(unit))


def run_pool(todo: Sequence[Piece], opts: Options, tally: Tally, log: Callable[[str], None]) -> None:
    """local and debug: at most ``opts.slots`` jobs at once, each on a free GPU of the pool
    (``CUDA_VISIBLE_DEVICES``), started in queue order as slots free up; a retrained piece waits
    for the pieces it waits for (``blockers``: its cell's search, or the piece writing its cell's
    original.json). (submitit's local executor would start all at once.)"""
    submitit = require_submitit()
    folder = submitit_folder(opts)
    if opts.executor == "debug":
        executor = submitit.DebugExecutor(folder)
    else:  # the job's own process needs no GPU: its child gets one through CUDA_VISIBLE_DEVICES (make_job)
        executor = submitit.LocalExecutor(folder)
        executor.update_parameters(timeout_min=opts.time_min, gpus_per_node=0)
    free = (list(opts.gpus) if opts.gpus else [None] * opts.slots)[:opts.slots]
    queue, running = list(todo), []  # running: (job, PieceJob, gpu)
    unit = "s" if opts.piece_device() == "cpu" else "GPU-s"
    while queue or running:
        for entry in [r for r in running if r[0].done()]:
            running.remove(entry)
            free.append(entry[2])
            finish(entry[0], entry[1], tally, log, unit)
        while free and queue:
            unfinished = queue + [r[1].piece for r in running]
            ready = next((p for p in queue if not blockers(p, unfinished, opts.results_dir)), None)
            if ready is None:
                break
            queue.remove(ready)
            gpu = free.pop(0)
            pjob = make_job(ready, opts, gpu)
            Path(pjob.job_dir).mkdir(parents=True, exist_ok=True)
            running.append((executor.submit(pjob), pjob, gpu))
            tally.running += 1
            log(f"[start] {ready.id}" + (f" on GPU {gpu}" if gpu is not None else "") +
                f" (estimate {ready.estimate_s:.0f} s); log {pjob.log_path}")
        if running and not any(r[0].done() for r in running):
            time.sleep(POLL_S[opts.executor])


def submit_array(todo: Sequence[Piece], opts: Options, preset: str, log: Callable[[str], None]) -> list[Any]:
    """slurm: one ``sbatch --array`` of ``todo`` through submitit's AutoExecutor; its jobs."""
    submitit = require_submitit()
    executor = submitit.AutoExecutor(folder=submitit_folder(opts), cluster="slurm")
    executor.update_parameters(**{f"slurm_{k}": v for k, v in slurm_parameters(opts, preset).items()})
    pjobs = [make_job(p, opts) for p in todo]
    for pjob in pjobs:
        Path(pjob.job_dir).mkdir(parents=True, exist_ok=True)
    with executor.batch():
        jobs = [executor.submit(pjob) for pjob in pjobs]
    log(f"[run-plan] submitted SLURM {'array' if len(jobs) > 1 else 'job'} {jobs[0].job_id.split('_')[0]}: "
        f"{len(jobs)} pieces; submitit's files in {submitit_folder(opts)}, each piece's log in "
        f"{opts.jobs_dir}/<piece>/piece.log")
    return list(zip(jobs, pjobs))


def slurm_round(pieces: Sequence[Piece], tried: set[str], results_dir: Path) -> tuple[list[Piece], list[Piece]]:
    """(what one array submits, what waits for a later one): unfinished pieces not yet tried in this
    call, less those waiting for a piece of this array (``blockers``: a cell's search, or the piece
    writing a cell's original.json; an array has no order), at most ``ARRAY_LIMIT``."""
    todo = [p for p, _ in pending(pieces, results_dir) if p.id not in tried]
    ready = [p for p in todo if not blockers(p, todo, results_dir)]
    return ready[:ARRAY_LIMIT], [p for p in todo if p not in ready[:ARRAY_LIMIT]]


def run_slurm(pieces: Sequence[Piece], opts: Options, preset: str, tally: Tally,
              log: Callable[[str], None]) -> bool:
    """slurm: an array of what is ready; unless ``--no-wait``, the progress as its jobs finish,
    then the next array for what waited (the core pieces once their cell's search is there, the
    retrained pieces once original.json is).
    False when it submitted and did not wait."""
    tried: set[str] = set()
    while True:
        batch, later = slurm_round(pieces, tried, opts.results_dir)
        if not batch:
            return True
        open_ = submit_array(batch, opts, preset, log)
        tried |= {p.id for p in batch}
        tally.running += len(open_)
        if not opts.wait:
            log("[run-plan] not waiting (--no-wait): run the same command again once the array has finished; it "
                "submits only what is still unfinished" + (f" ({len(later)} pieces wait for it)" if later else ""))
            return False
        while open_:
            time.sleep(POLL_S["slurm"])
            for entry in [e for e in open_ if e[0].done()]:
                open_.remove(entry)
                finish(entry[0], entry[1], tally, log, "GPU-s")


def finish_retrained(pieces: Sequence[Piece], opts: Options, log: Callable[[str], None]) -> list[str]:
    """The final pass: for each cell whose retrained classes are all current but whose
    ``retrained.json`` is missing or stale, aggregate it once, here (two retrained pieces finishing
    together may both have seen the other's classes missing). Nothing is computed: the class
    files are read; the file's ``device`` is the pieces' (the parent may have no GPU)."""
    from .reproduce import prepared_run, run_single_class
    from .results import retrained_class_path, write_result

    cells = dict.fromkeys((p.preset, p.dataset, p.backbone, p.seed) for p in pieces if p.classes is not None)
    written = []
    for preset, dataset, backbone, seed in cells:
        mine = [p for p in pieces if p.classes is not None and (p.preset, p.dataset, p.backbone, p.seed)
                == (preset, dataset, backbone, seed)]
        if any(p.state(opts.results_dir) != "done" for p in mine):
            continue
        if _reference(mine[0], "retrained").state(opts.results_dir) == "done":
            continue
        run = prepared_run(dataset, backbone, preset, opts.results_dir, opts.jobs_dir / "final-pass", "cpu",
                           opts.data_root, seed, progress=False, allow_slow=True)
        payload = run_single_class(run, "retrained", [])  # no class to compute: reads all ten
        if payload is None:
            log(f"[run-plan] {preset}/{dataset}/{backbone} seed {seed}: retrained classes present but not all "
                "computed on this data; retrained.json not written")
            continue
        devices = sorted({json.loads(retrained_class_path(opts.results_dir, preset, dataset, backbone, c, seed)
                                     .read_text())["provenance"]["device"] for c in range(run.data.num_classes)})
        payload["provenance"] |= {"device": devices[0] if len(devices) == 1 else " + ".join(devices),
                                  "aggregated_by": "wfnet run-plan (final pass; nothing recomputed)"}
        path = write_result(opts.results_dir, preset, dataset, backbone, "retrained", payload, seed)
        written.append(str(path))
        log(f"[run-plan] final pass: {path} from its ten class files")
    return written


def run_plan(pieces: Sequence[Piece], opts: Options, preset: str, dry_run: bool = False,
             log: Callable[[str], None] = print) -> int:
    """Submit what ``results/`` says is unfinished, follow it, then the final retrained pass;
    0 when every piece submitted finished with its results current, 1 otherwise."""
    todo_states = pending(pieces, opts.results_dir)
    if dry_run:
        first, later = (slurm_round(pieces, set(), opts.results_dir) if opts.executor == "slurm"
                        else ([p for p, _ in todo_states], []))
        log(describe([(p, s) for p, s in todo_states if p in first], later, opts, preset, len(pieces)))
        return 0
    finish_retrained(pieces, opts, log)  # cells an earlier call completed (e.g. an array submitted with --no-wait)
    if not todo_states:
        log(f"[run-plan] nothing to submit: all {len(pieces)} pieces are done in {opts.results_dir}")
        return 0
    todo = [p for p, _ in todo_states]
    for line in estimate_lines(todo, [opts.slots or len(todo)], gpu=opts.piece_device() != "cpu"):
        log(f"[run-plan] {line}")
    warm_cache(todo, opts, log)
    tally = Tally(total=len(todo))
    if opts.executor == "slurm":
        if not run_slurm(pieces, opts, preset, tally, log):
            return 0
    else:
        run_pool(todo, opts, tally, log)
    finish_retrained(pieces, opts, log)
    if tally.failures:
        log(f"[run-plan] {len(tally.failures)} of {tally.total} pieces failed: {', '.join(tally.failures)}; "
            "run the same command again to retry only the unfinished ones")
        return 1
    log(f"[run-plan] all {tally.total} pieces done")
    return 0

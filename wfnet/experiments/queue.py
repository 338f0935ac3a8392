"""Working the plan down inside one GPU call: the next pieces that fit, each its own process with a
deadline, then one bundle rewritten after every piece so a call cut off still hands back its files."""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .bundle import changed_since, pack, snapshot
from .plan import Piece, plan

# Each piece runs as its own ``wfnet reproduce`` process (a crash or a CUDA error in one never
# takes the others down) with a deadline; after every piece the bundle in the output folder is
# rewritten, so a call cut off at its time limit still hands back every finished file.

MARGIN_S = 20.0  # kept free at the end of a budget: packing, and the estimate's error
MIN_FILL_S = 60.0  # ``fill``: the least time worth starting a piece that may not finish


@dataclass
class PieceRun:
    piece: Piece
    returncode: int
    seconds: float
    state: str  # the piece's state afterwards


def run_piece(piece: Piece, device: str, results_dir: Path, runs_dir: Path, timeout_s: float,
              log: Callable[[str], None], **popen: Any) -> tuple[int, float]:
    """One piece in a child process; (exit status, seconds). A piece over its time is stopped
    (its finished result files stay: every write is atomic). ``popen``: for ``subprocess.run``
    (``wfnet run-plan``: the job's log file and environment)."""
    cmd = [sys.executable, "-m", "wfnet.cli", *piece.command(device, str(results_dir), str(runs_dir))]
    log(f"[piece] {piece.id}: estimate {piece.estimate_s:.0f} s, limit {timeout_s:.0f} s")
    start = time.perf_counter()
    try:
        code = subprocess.run(cmd, timeout=timeout_s, **popen).returncode
    except subprocess.TimeoutExpired:
        code = 124
    return code, time.perf_counter() - start


def run_next(budget_s: float, preset: str, device: str, results_dir: Path, runs_dir: Path, out: Path,
             datasets: Sequence[str] | None = None, backbones: Sequence[str] | None = None,
             log: Callable[[str], None] = print, fill: bool = False,
             seeds: Sequence[int] | None = None) -> tuple[list[PieceRun], Path | None]:
    """Run the next pieces of the plan whose estimates fit in what is left of ``budget_s``,
    repacking the bundle ``out/results-<date>.tar.gz`` after each; returns what ran.

    ``fill``: when no estimate fits any more, start the next piece anyway with the time left
    (estimates are cautious; what it finishes in time is kept, file by file)."""
    results_dir, runs_dir = Path(results_dir), Path(runs_dir)
    deadline = time.monotonic() + budget_s
    before = snapshot(results_dir)
    bundle = Path(out) / f"results-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%SZ}.tar.gz"
    ran: list[PieceRun] = []
    tried: set[str] = set()
    while True:
        left = deadline - time.monotonic() - MARGIN_S
        queue = plan(preset, datasets, backbones, **({} if seeds is None else {"seeds": tuple(seeds)}))
        open_ = [p for p in queue if p.id not in tried and p.state(results_dir) != "done"]
        todo = [p for p in open_ if p.estimate_s <= left] or (open_[:1] if fill and left >= MIN_FILL_S else [])
        if not todo:
            break
        piece = todo[0]
        tried.add(piece.id)
        code, seconds = run_piece(piece, device, results_dir, runs_dir, left, log)
        ran.append(PieceRun(piece, code, seconds, piece.state(results_dir)))
        log(f"[piece] {piece.id}: exit {code} in {seconds:.0f} s (estimate {piece.estimate_s:.0f} s), "
            f"now {ran[-1].state}")
        files = changed_since(results_dir, before)
        if files:
            pack(results_dir, files, bundle, device)
            log(f"[bundle] {bundle} ({len(files)} files)")
    if not ran:
        log(f"[queue] nothing left that fits in {budget_s:.0f} s")
    return ran, (bundle if bundle.is_file() else None)

"""Does the same untraining, run twice in fresh processes, give the same alpha? Per thread count
and precision.

Why: untraining at lr 100 turns a last-bit difference into tenths of a point of Acc_r, so whether
CPU runs repeat bit for bit decides how a changed smoke number must be read (README,
"Reliability"). Each run is its own process (as two `wfnet` commands would be), from the same
original checkpoint, with the smoke preset's untraining config.
Usage: python benchmarks/determinism.py [--checkpoint runs/smoke/mnist-5k/resnet18/original/model.pt]
[--threads 1 2] [--precision fp32 bf16] [--repeat 2]"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

CHILD = """
import sys, torch
from dataclasses import replace
from wfnet.checkpoint import load
from wfnet.data import load_dataset
from wfnet.experiments.presets import PRESETS
from wfnet.methods.untrain import untrain
from wfnet.wrap import wrap
checkpoint, threads, out, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
torch.set_num_threads(threads)
loaded = load(checkpoint)
data = load_dataset(loaded.dataset)
cfg = replace(PRESETS.get("smoke").untrain_config(loaded.spec.name, 0), precision=precision)
res = untrain(wrap(loaded.model.eval(), data.num_classes, init=cfg.alpha_init), data, cfg, torch.device("cpu"),
              progress=False)
torch.save({"alpha": res.model.alpha_state_dict(), "best_val_loss": res.best_val_loss}, out)
"""


def main() -> None:
    from wfnet.provenance import git_commit

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", default="runs/smoke/mnist-5k/resnet18/original/model.pt")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16"))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"# untraining determinism, {args.checkpoint}, smoke untrain config, cpu, torch {torch.__version__}, "
          f"commit {git_commit()[:12]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| precision | threads | best validation loss of each run | max abs alpha difference to run 1 | seconds per run |")
    print("|---|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precision:
            for threads in args.threads:
                runs, seconds = [], []
                for i in range(args.repeat):
                    out = Path(tmp) / f"{precision}-t{threads}-{i}.pt"
                    start = time.perf_counter()
                    subprocess.run([sys.executable, "-c", CHILD, args.checkpoint, str(threads), str(out), precision],
                                   check=True)
                    seconds.append(time.perf_counter() - start)
                    runs.append(torch.load(out))
                diff = max(float((run["alpha"][k] - runs[0]["alpha"][k]).abs().max()) for run in runs[1:]
                           for k in run["alpha"]) if len(runs) > 1 else 0.0
                losses = ", ".join(f"{r['best_val_loss']:.5f}" for r in runs)
                print(f"| {precision} | {threads} | {losses} | {diff:.3g} | {json.dumps([round(s) for s in seconds])} |",
                      flush=True)

if __name__ == "__main__":
    main()

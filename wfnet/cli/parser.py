"""The command line's arguments, one sub-parser per command; a usage error is one line (exit 2), the
same shape as every other error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

DESCRIPTION = ("Multi-class unlearning by Weight Filtering (Poppi et al., IEEE Intelligent Systems 2024): train a "
               "model, untrain every class in one round, evaluate it, and run the paper's tables. Bad input exits 2 "
               "with one line, before any work.")


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (the same shape as every other error)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def common_args(p: argparse.ArgumentParser, precision: bool = True) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder with the datasets (default $WFNET_DATA_ROOT or ./data)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: every core this process may use); one thread repeats bit for bit")
    if precision:
        p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                       help="auto (default): bf16 on CUDA or a CPU with AMX / AVX512-BF16, else fp32")


def force_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="replace what --out holds even when it records another configuration")


def unverified_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-unverified", action="store_true",
                   help="load a checkpoint without a sha256 checksum (saved before checksums existed)")


def cell_args(p: argparse.ArgumentParser) -> None:
    """The arguments of every command that works on one dataset x backbone of a preset."""
    p.add_argument("--dataset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--preset", default="smoke", help="smoke (CPU, minutes) or paper (GPU, hours)")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-slow", action="store_true", help="run a GPU-only preset (paper) on a CPU anyway")
    common_args(p)


def build_parser() -> argparse.ArgumentParser:
    from ..backbones import BACKBONES
    from ..data import DATASETS

    parser = Parser(prog="wfnet", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train an original model from scratch")
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS.names())}")
    p.add_argument("--backbone", required=True, help=f"one of {', '.join(BACKBONES.names())}")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="the learning rate scales with it unless --lr is given")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier (1 = paper size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--download", action="store_true", help="let torchvision download the data")
    force_arg(p)
    common_args(p)

    p = sub.add_parser("untrain", help="WF-Net: untrain every class in one round")
    p.add_argument("--checkpoint", type=Path, required=True, help="an original model.pt")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+", default=[],
                   help="any UntrainConfig field, e.g. --set clip_grad_norm=0.1 alpha_bound=none")
    force_arg(p)
    unverified_arg(p)
    common_args(p)

    p = sub.add_parser("evaluate", help="Acc_r, Acc_f and ZRF of a checkpoint")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sets", choices=("pairs",), default=None,
                   help="a WF checkpoint: also forget every pair and 100 random triples of classes at once "
                        "(product and min), written to OUT/sets.json")
    force_arg(p)
    unverified_arg(p)
    common_args(p)

    p = sub.add_parser("reproduce", help="every method and metric of Tables 1-2 for one dataset x backbone")
    cell_args(p)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="cache of checkpoints and partial runs")
    p.add_argument("--methods", nargs="+", default=None,
                   help="registered methods to run (default: the paper's five; see wfnet.methods)")
    p.add_argument("--classes", type=int, nargs="+", default=None,
                   help="with --methods retrained: build only these classes (retrained.json once all are done)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="run several seeds in turn (instead of --seed); the tables show mean ± std over them")
    p.add_argument("--force", action="store_true",
                   help="recompute and replace result files that record another configuration (data, seed, cell)")

    p = sub.add_parser("beyond", help="beyond the paper: class sets, SalUn and SSD, the scorecard (MIA, gap to "
                                      "the retrained model) from the cached models of reproduce")
    cell_args(p)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="cache shared with wfnet reproduce")

    p = sub.add_parser("search-baselines", help="choose the single-class baselines' hyper-parameters (random labels, "
                                                "negative gradients, SSD, SalUn) on a validation split of the "
                                                "training set; the cell's runs then use them")
    cell_args(p)

    p = sub.add_parser("plan", help="the paper-scale queue: every piece of GPU work, its estimate and state")
    p.add_argument("--preset", default="paper")
    p.add_argument("--dataset", nargs="+", default=None, help="default: mnist cifar10 fashion-mnist")
    p.add_argument("--backbone", nargs="+", default=None, help="default: resnet18 vgg16 vit_tiny vit_small")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0, then 1 2 as optional pieces")
    p.add_argument("--results", type=Path, default=Path("results"))

    p = sub.add_parser("next", help="run the next pieces of the plan that fit in a budget; bundle their results")
    p.add_argument("--budget", type=float, required=True, help="seconds this call may spend on pieces")
    p.add_argument("--preset", default="paper")
    p.add_argument("--dataset", nargs="+", default=None)
    p.add_argument("--backbone", nargs="+", default=None)
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs"))
    p.add_argument("--bundle-dir", type=Path, default=Path("out"), help="where results-<date>.tar.gz is written")
    p.add_argument("--fill", action="store_true",
                   help="when no estimate fits any more, start the next piece anyway with the time left")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0, then 1 2 once seed 0 is done")
    common_args(p, precision=False)  # each piece runs at its preset's precision (the key the plan expects)

    p = sub.add_parser("run-plan", help="the whole plan on this machine's GPUs (local), a SLURM cluster (slurm) or "
                                        "in-process (debug) through submitit; resumable from results/ alone")
    p.add_argument("--preset", default="paper")
    p.add_argument("--dataset", nargs="+", default=None)
    p.add_argument("--backbone", nargs="+", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the plan's (0, then 1 2)")
    p.add_argument("--only", nargs="+", metavar="PATTERN", default=None,
                   help="pieces whose id matches a shell pattern, e.g. 'paper/mnist/*/core*'")
    p.add_argument("--executor", choices=("local", "slurm", "debug"), default="local",
                   help="local: a pool of this machine's GPUs; slurm: one sbatch --array; debug: in-process, in turn")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs"), help="each job's scratch: RUNS/jobs/<piece>/")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (local: one GPU per piece)")
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--gpus", default=None, help="local: the GPUs to use, e.g. 0,1,2,3 (default: every visible one)")
    p.add_argument("--max-parallel", type=int, default=None,
                   help="local: pieces at once (at most one per GPU); slurm: the array's %%k")
    p.add_argument("--time-min", type=int, default=None,
                   help="a job's time limit in minutes; its piece stops 2 minutes before (default: twice the plan's "
                        "piece limit plus that margin)")
    p.add_argument("--partition", default=None, help="slurm")
    p.add_argument("--account", default=None, help="slurm")
    p.add_argument("--qos", default=None, help="slurm")
    p.add_argument("--gpus-per-job", type=int, default=1, help="slurm (default 1; a piece uses one)")
    p.add_argument("--cpus-per-job", type=int, default=None, help="slurm")
    p.add_argument("--no-wait", action="store_true", help="slurm: submit the array and exit")
    p.add_argument("--dry-run", action="store_true", help="print what would be submitted, submit nothing")
    p.add_argument("--allow-slow", action="store_true", help="run a GPU-only preset (paper) on a CPU anyway")
    p.add_argument("--keep-runs", action="store_true", help="keep a finished piece's checkpoints (default: removed)")

    p = sub.add_parser("collect", help="check a results bundle from a GPU call and unpack it into results/")
    p.add_argument("bundle", type=Path)
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--replace", action="store_true",
                   help="land a result that conflicts with one collected before (same key, other numbers); "
                        "the old file is kept beside it as <name>.replaced-<UTC time>")

    p = sub.add_parser("ablate", help="compare untraining variants (forget term, R(alpha), optimiser)")
    p.add_argument("--dataset", default="mnist-5k")
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--train-epochs", type=int, default=3)
    p.add_argument("--untrain-epochs", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=None)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="an original model.pt to start from (default: train a quick one, --width, --train-epochs)")
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs"))
    p.add_argument("--seed", type=int, default=0)
    force_arg(p)
    unverified_arg(p)
    common_args(p)

    p = sub.add_parser("datasets", help="list the datasets and where they are found")
    p.add_argument("--data-root", type=Path, default=None)
    return parser

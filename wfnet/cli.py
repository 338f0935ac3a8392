"""The ``wfnet`` command line, one small function per command (``COMMANDS``); bad input exits 2
with one line, before any data is loaded or any model trained."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Sequence

from .errors import WFNetError

# Every value of every command (and of ``--set``) is checked first, and every output folder is
# checked writable and not holding another kind of run.

if TYPE_CHECKING:
    import torch


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (the same shape as every other error)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _common(p: argparse.ArgumentParser, precision: bool = True) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder with the datasets (default $WFNET_DATA_ROOT or ./data)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: every core this process may use); one thread repeats bit for bit")
    if precision:
        p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                       help="auto (default): bf16 on CUDA or a CPU with AMX / AVX512-BF16, else fp32")


def _force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="replace what --out holds even when it records another configuration")


def _unverified(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-unverified", action="store_true",
                   help="load a checkpoint without a sha256 checksum (saved before checksums existed)")


def _cell(p: argparse.ArgumentParser) -> None:
    """The arguments of every command that works on one dataset x backbone of a preset."""
    p.add_argument("--dataset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--preset", default="smoke", help="smoke (CPU, minutes) or paper (GPU, hours)")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-slow", action="store_true", help="run a GPU-only preset (paper) on a CPU anyway")
    _common(p)


def build_parser() -> argparse.ArgumentParser:
    from .backbones import BACKBONES
    from .data import DATASETS

    parser = _Parser(prog="wfnet", description=__doc__)
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
    _force(p)
    _common(p)

    p = sub.add_parser("untrain", help="WF-Net: untrain every class in one round")
    p.add_argument("--checkpoint", type=Path, required=True, help="an original model.pt")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+", default=[],
                   help="any UntrainConfig field, e.g. --set clip_grad_norm=0.1 alpha_bound=none")
    _force(p)
    _unverified(p)
    _common(p)

    p = sub.add_parser("evaluate", help="Acc_r, Acc_f and ZRF of a checkpoint")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sets", choices=("pairs",), default=None,
                   help="a WF checkpoint: also forget every pair and 100 random triples of classes at once "
                        "(product and min), written to OUT/sets.json")
    _force(p)
    _unverified(p)
    _common(p)

    p = sub.add_parser("reproduce", help="every method and metric of Tables 1-2 for one dataset x backbone")
    _cell(p)
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
    _cell(p)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="cache shared with wfnet reproduce")

    p = sub.add_parser("search-baselines", help="choose random labels' / negative gradients' hyper-parameters "
                                                "on a validation split of the training set")
    _cell(p)

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
    _common(p, precision=False)  # each piece runs at its preset's precision (the key the plan expects)

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
    _force(p)
    _unverified(p)
    _common(p)

    p = sub.add_parser("datasets", help="list the datasets and where they are found")
    p.add_argument("--data-root", type=Path, default=None)
    return parser


# -- checks of every value, before any data is loaded or any model trained -------------------------

# Training images/s of each backbone on this project's 2-core CPU (README "Speed", batch 128,
# 1x28x28): with wfnet.experiments.plan's GPU throughput, the rough factor a CPU run of a GPU preset takes.
CPU_TRAIN_IMAGES_PER_S = {"resnet18": 60.0, "vgg16": 79.0, "vit_tiny": 63.0, "vit_small": 19.0}


def _seeds(seeds: list[int] | None) -> dict[str, tuple[int, ...]]:
    """``--seeds`` as ``plan``'s keyword (absent: the plan's default)."""
    return {} if seeds is None else {"seeds": tuple(seeds)}


def _positive(flag: str, value: float | None) -> None:
    """A finite number > 0 (None: not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise WFNetError(f"--{flag} must be positive and finite, got {value}")


def _at_least(flag: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise WFNetError(f"--{flag} must be {'positive' if low == 1 else f'at least {low}'}, got {value}")


def _width(value: float) -> None:
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise WFNetError(f"--width must be in (0, 1] (a channel multiplier; 1 = paper size), got {value}")


def _seed(value: int) -> None:
    if not 0 <= value < 2**63:
        raise WFNetError(f"--seed must be an integer in [0, 2**63), got {value}")


def _names(dataset: str | None = None, backbone: str | None = None, preset: str | None = None) -> None:
    from .backbones import BACKBONES
    from .data import DATASETS
    from .experiments.presets import PRESETS

    if preset is not None:
        PRESETS.get(preset)
    if dataset is not None:
        DATASETS.get(dataset)
    if backbone is not None:
        BACKBONES.get(backbone)


def _outputs(*pairs: tuple[str, Path]) -> None:
    from .io import check_writable_dir

    for flag, path in pairs:
        check_writable_dir(path, flag)


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"


def slow_estimate(preset: str, dataset: str, backbone: str, methods: Sequence[str] | None = None,
                  search: bool = False) -> str:
    """'about N on an H200 ..., so roughly M on a 2-core CPU', or '' when there is no estimate
    (a dataset or backbone without measurements in wfnet.experiments.plan). A rough, labelled estimate."""
    from .experiments.plan import THROUGHPUT, pieces_for
    from .experiments.presets import PRESETS

    try:
        pieces = [x for x in pieces_for(PRESETS.get(preset), dataset, backbone) if (x.part == "search") == search
                  and (methods is None or set(x.methods) & set(methods))]
        gpu = sum(x.estimate_s for x in pieces)
        factor = THROUGHPUT[backbone][0] / CPU_TRAIN_IMAGES_PER_S[backbone]
    except (WFNetError, KeyError):
        return ""
    return (f"estimated at about {_duration(gpu)} on an H200 (wfnet plan), so roughly {_duration(gpu * factor)} "
            "on a 2-core CPU")


def _refuse_slow(preset: str, device: torch.device, allow_slow: bool, estimate: str) -> None:
    from .experiments.presets import PRESETS

    if PRESETS.get(preset).gpu_only and device.type != "cuda" and not allow_slow:
        raise WFNetError(f"the {preset!r} preset is sized for a GPU ({estimate or 'GPU-hours; days on a CPU'}); "
                         "run it on a GPU (scripts/gpu_run.sh), or pass --allow-slow to run it on the CPU anyway")


def _fmt(value: object, spec: str) -> str:
    """A number formatted, or '-' for a metric written as null (not computable)."""
    return "-" if value is None else format(value, spec)


def _device(args: argparse.Namespace) -> torch.device:
    """The device, with this process's CPU threads set (``--threads``, default every usable core)."""
    import torch

    from .provenance import resolve_device

    device = resolve_device(args.device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = getattr(args, "threads", None)
    if threads is not None and not 1 <= threads <= 4 * cores:
        raise WFNetError(f"--threads must be between 1 and {4 * cores} (this machine has {cores} cores), got {threads}")
    torch.set_num_threads(threads or cores)
    return device


def _preset(args: argparse.Namespace) -> object:
    """The ``--preset`` by name, at ``--precision`` when one is given (else the preset's own)."""
    from dataclasses import replace

    from .experiments.presets import PRESETS

    preset = PRESETS.get(args.preset)
    return preset if args.precision is None else replace(preset, precision=args.precision)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_available

    for name, where in list_available(args.data_root):
        print(f"{name:14s} {where}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .experiments.plan import plan, plan_table

    print(plan_table(plan(args.preset, args.dataset, args.backbone, **_seeds(args.seeds)), args.results))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from .experiments.bundle import collect

    _outputs(("--results", args.results))
    landed = collect(args.bundle, args.results, replace=args.replace)
    print(f"collected {len(landed)} files into {args.results}:")
    for rel in landed:
        print(f"  {rel}")
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    from .experiments.plan import plan
    from .experiments.queue import run_next

    _positive("budget", args.budget)
    plan(args.preset, args.dataset, args.backbone, **_seeds(args.seeds))  # bad names fail before any work
    _outputs(("--results", args.results), ("--runs", args.runs), ("--bundle-dir", args.bundle_dir))
    ran, bundle = run_next(budget_s=args.budget, preset=args.preset, device=str(_device(args)),
                           results_dir=args.results, runs_dir=args.runs, out=args.bundle_dir,
                           datasets=args.dataset, backbones=args.backbone, fill=args.fill,
                           log=lambda line: print(line, flush=True), **_seeds(args.seeds))
    failed = [r.piece.id for r in ran if r.returncode != 0]
    print(f"ran {len(ran)} pieces ({len(failed)} failed: {failed}); bundle: {bundle}")
    return 1 if failed else 0


def cmd_run_plan(args: argparse.Namespace) -> int:
    from .experiments import dispatch
    from .experiments.plan import plan

    pieces = dispatch.select(plan(args.preset, args.dataset, args.backbone, **_seeds(args.seeds)), args.only)
    opts = dispatch.Options(
        executor=args.executor, device=args.device, results_dir=args.results, runs_dir=args.runs,
        data_root=args.data_root, max_parallel=args.max_parallel, partition=args.partition, account=args.account,
        qos=args.qos, gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, wait=not args.no_wait,
        allow_slow=args.allow_slow, keep_runs=args.keep_runs,
        **({} if args.time_min is None else {"time_min": args.time_min}))
    dispatch.check(opts)
    opts.gpus = dispatch.parse_gpus(args.gpus, args.device, args.executor)
    dispatch.require_submitit()
    _outputs(("--results", args.results), ("--runs", args.runs))
    if opts.executor != "slurm" or opts.gpus_per_job == 0:  # the pieces run here, or on CPU-only jobs
        import torch

        device = opts.piece_device()
        device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        _refuse_slow(args.preset, torch.device(device), args.allow_slow,
                     f"{len(pieces)} pieces, {sum(p.estimate_s for p in pieces) / 3600:.1f} GPU-hours on an H200 "
                     "by wfnet plan's estimates")
    return dispatch.run_plan(pieces, opts, args.preset, dry_run=args.dry_run, log=lambda line: print(line, flush=True))


def cmd_train(args: argparse.Namespace) -> int:
    from .config import override
    from .data import load_dataset
    from .experiments.pipeline import check_output_folder, check_same_run, train_identity, train_original
    from .train import scaled_batch, train_defaults

    _names(dataset=args.dataset, backbone=args.backbone)  # bad names fail before any data loads
    _at_least("epochs", args.epochs, 1)
    _at_least("batch-size", args.batch_size, 2)
    _positive("lr", args.lr)
    _width(args.width)
    _seed(args.seed)
    cfg = scaled_batch(train_defaults(args.backbone), args.batch_size)
    cfg = override(cfg, epochs=args.epochs, lr=args.lr, seed=args.seed, precision=args.precision)  # checked
    _outputs(("--out", args.out))
    check_output_folder(args.out, "train")
    check_same_run(args.out, "train", train_identity(args.dataset, args.backbone, args.width, cfg), args.force)
    device = _device(args)
    data = load_dataset(args.dataset, args.data_root, download=args.download)
    m = train_original(data=data, backbone=args.backbone, out=args.out, cfg=cfg, device=device, width=args.width,
                       progress=not args.no_progress, force=args.force)
    print(f"test accuracy {_fmt(m.get('test_acc'), '.2f')}% ({data.name}, {args.backbone}, "
          f"{m['provenance']['wall_seconds']:.0f} s on {m['provenance']['device']}) -> {args.out}")
    return 0


def cmd_untrain(args: argparse.Namespace) -> int:
    from .checkpoint import load
    from .config import override, parse_assignments
    from .experiments.pipeline import check_output_folder, untrain_checkpoint
    from .methods.untrain import untrain_defaults

    _at_least("epochs", args.epochs, 1)
    _positive("lr", args.lr)
    _seed(args.seed)
    loaded = load(args.checkpoint, allow_unverified=args.allow_unverified)
    if loaded.kind != "original":
        raise WFNetError(f"{args.checkpoint} is already a WF model; untrain an original model")
    cfg = override(untrain_defaults(loaded.spec.name), epochs=args.epochs, lr=args.lr, seed=args.seed,
                   precision=args.precision)
    cfg = override(cfg, **parse_assignments(cfg, args.assignments))  # every field checked here
    _outputs(("--out", args.out))
    check_output_folder(args.out, "untrain")
    m = untrain_checkpoint(checkpoint=args.checkpoint, out=args.out, cfg=cfg, device=_device(args),
                           data_root=args.data_root, progress=not args.no_progress, force=args.force,
                           loaded=loaded)
    u = m["untrain"]
    print(f"untrained in {u['steps']} steps ({u['stopped']}), best val loss {_fmt(u['best_val_loss'], '.4f')} "
          f"-> {args.out}/wf.pt")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .experiments.pipeline import check_output_folder, evaluate_checkpoint

    _outputs(("--out", args.out))
    check_output_folder(args.out, "evaluate")
    m = evaluate_checkpoint(checkpoint=args.checkpoint, out=args.out, device=_device(args), data_root=args.data_root,
                            sets=args.sets, precision=args.precision or "auto",
                            force=args.force, allow_unverified=args.allow_unverified)
    print(json.dumps({k: m.get(k) for k in ("kind", "acc_r", "acc_f", "zrf")}))
    for size, row in (m.get("sets") or {}).items():
        print(f"sets of {size}: " + "; ".join(f"{c}: {row[c]['n_forgotten']} of {row['n_sets']} forgotten"
                                              for c in ("product", "min") if c in row))
    return 0


def _print_methods(results: dict[str, dict[str, object]]) -> None:
    print(f"{'method':20s} {'Acc_r':>7s} {'Acc_f':>7s} {'ZRF':>6s} {'RT':>12s}")
    for method, r in results.items():
        rt = "-" if r.get("rt") is None else f"{r['rt']:.1f} ({r['rt_failed']})"
        print(f"{method:20s} {_fmt(r.get('acc_r'), '7.2f'):>7s} {_fmt(r.get('acc_f'), '7.2f'):>7s} "
              f"{_fmt(r.get('zrf'), '6.3f'):>6s} {rt:>12s}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments.reproduce import reproduce
    from .methods import METHODS, method_names

    _names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
    seeds = _reproduce_seeds(args.seed, args.seeds)
    bad = [m for m in args.methods or [] if m not in METHODS]
    if bad:
        raise WFNetError(f"unknown method(s) {bad}; expected some of {list(method_names())}")
    if args.classes is not None:
        if args.methods != ["retrained"]:
            raise WFNetError("--classes selects classes of the retrained baseline: use it with --methods retrained")
        negative = [c for c in args.classes if c < 0]
        if negative:
            raise WFNetError(f"--classes {negative} out of range: classes are numbered from 0")
    _outputs(("--out", args.out), ("--runs", args.runs))
    device = _device(args)
    _refuse_slow(args.preset, device, args.allow_slow, slow_estimate(args.preset, args.dataset, args.backbone,
                                                                     args.methods))
    _cell_outputs(args, seeds)
    for seed in seeds:
        if len(seeds) > 1:
            print(f"== seed {seed} ==", flush=True)
        _print_methods(reproduce(dataset=args.dataset, backbone=args.backbone, preset=_preset(args),
                                 results_dir=args.out, runs_dir=args.runs, device=args.device,
                                 data_root=args.data_root, seed=seed, methods=args.methods,
                                 progress=not args.no_progress, classes=args.classes, allow_slow=args.allow_slow,
                                 force=args.force))
    return 0


def _cell_outputs(args: argparse.Namespace, seeds: list[int]) -> None:
    """Every folder a reproduce run writes into, results and caches, probed before the work: a
    read-only subfolder is one line now, not an OSError after hours of training."""
    from .experiments.results import result_dir
    from .io import probe_tree

    for seed in seeds:
        for flag, root in (("--out", args.out), ("--runs", args.runs)):
            probe_tree(result_dir(root, args.preset, args.dataset, args.backbone, seed), f"{flag} {root}")


def _reproduce_seeds(seed: int, seeds: list[int] | None) -> list[int]:
    """``--seeds`` (distinct, each checked) or the single ``--seed``; both at once is ambiguous."""
    if seeds is None:
        _seed(seed)
        return [seed]
    if seed != 0:
        raise WFNetError("give either --seed or --seeds, not both")
    for s in seeds:
        _seed(s)
    if len(set(seeds)) != len(seeds):
        raise WFNetError(f"--seeds {seeds} repeats a seed")
    return list(seeds)


def cmd_beyond(args: argparse.Namespace) -> int:
    from .experiments.beyond import run_beyond

    _names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
    _seed(args.seed)
    _outputs(("--out", args.out), ("--runs", args.runs))
    _refuse_slow(args.preset, _device(args), args.allow_slow, "")
    out = run_beyond(dataset=args.dataset, backbone=args.backbone, preset=_preset(args), results_dir=args.out,
                     runs_dir=args.runs, device=args.device, seed=args.seed, progress=not args.no_progress,
                     data_root=args.data_root)
    _print_methods({m: r for m, r in out.items() if m not in ("multiforget", "mia")})
    for m, v in (out.get("mia") or {}).get("methods", {}).items():
        card = v.get("scorecard") or {}
        print(f"scorecard {m:20s} " + "  ".join(f"{k.upper()} {_fmt(card.get(k), '6.2f')}" for k in card))
    return 0


def cmd_search_baselines(args: argparse.Namespace) -> int:
    from .experiments.baseline_search import SEARCH_FILE, run_search
    from .experiments.results import read_result_file, result_path

    _names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
    _seed(args.seed)
    _outputs(("--out", args.out))
    device = _device(args)
    _refuse_slow(args.preset, device, args.allow_slow,
                 slow_estimate(args.preset, args.dataset, args.backbone, search=True))
    target = result_path(args.out, args.preset, args.dataset, args.backbone, SEARCH_FILE, args.seed)
    read_result_file(target, recover=True)  # a corrupt one is moved aside; the search rewrites it
    blob = run_search(dataset=args.dataset, backbone=args.backbone, preset=_preset(args), results_dir=args.out,
                      device=args.device, seed=args.seed, progress=not args.no_progress, allow_slow=args.allow_slow,
                      data_root=args.data_root)
    for method, t in blob["methods"].items():
        print(f"{method:20s} chosen {t['chosen']}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from .experiments.ablation import VARIANTS, run_ablation

    bad = [v for v in args.variants or [] if v not in VARIANTS]
    if bad:
        raise WFNetError(f"unknown variant(s) {bad}; expected some of {list(VARIANTS)}")
    _names(dataset=args.dataset, backbone=args.backbone)
    _width(args.width)
    _at_least("train-epochs", args.train_epochs, 1)
    _at_least("untrain-epochs", args.untrain_epochs, 1)
    _seed(args.seed)
    _outputs(("--out", args.out), ("--runs", args.runs))
    _device(args)
    res = run_ablation(dataset=args.dataset, backbone=args.backbone, out=args.out, runs=args.runs, width=args.width,
                       train_epochs=args.train_epochs, untrain_epochs=args.untrain_epochs, device=args.device,
                       seed=args.seed, variants=args.variants, progress=not args.no_progress,
                       checkpoint=args.checkpoint, data_root=args.data_root, force=args.force,
                       allow_unverified=args.allow_unverified, precision=args.precision or "auto")
    for name, r in res.items():
        print(f"{name:24s} Acc_r {_fmt(r.get('acc_r'), '6.2f')}  Acc_f {_fmt(r.get('acc_f'), '6.2f')}  "
              f"ZRF {_fmt(r.get('zrf'), '.3f')}  ({r.get('stopped')})")
    return 0


COMMANDS = {"datasets": cmd_datasets, "plan": cmd_plan, "collect": cmd_collect, "next": cmd_next,
            "run-plan": cmd_run_plan,
            "train": cmd_train, "untrain": cmd_untrain, "evaluate": cmd_evaluate, "reproduce": cmd_reproduce,
            "beyond": cmd_beyond, "search-baselines": cmd_search_baselines, "ablate": cmd_ablate}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .provenance import git_commit

    git_commit()  # pin the code version this run starts with
    try:
        return COMMANDS[args.command](args)
    except WFNetError as err:
        print(f"wfnet: error: {' '.join(str(err).split())}", file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        print("wfnet: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # a failure of the machine that no check before the work could foresee
        from .io import describe_os_error

        print(f"wfnet: error: {' '.join(describe_os_error(err).split())}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        if not _out_of_memory(err):
            raise
        print(f"wfnet: error: out of memory ({type(err).__name__}: {' '.join(str(err).split())[:200]}); "
              "choose smaller sizes (batch, width, chi)", file=sys.stderr)
        return 2


def _out_of_memory(err: BaseException) -> bool:
    """A failed allocation, as Python or torch (CPU or CUDA) reports it."""
    text = str(err).lower()
    return (isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in text or "out of memory" in text)


if __name__ == "__main__":
    sys.exit(main())

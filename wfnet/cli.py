"""``wfnet`` command line: train, untrain, evaluate, reproduce, ablate, plan, next, collect, datasets.

Bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import WFNetError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder with the datasets (default $WFNET_DATA_ROOT or ./data)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_parser() -> argparse.ArgumentParser:
    from .backbones import BACKBONES
    from .data import DATASETS

    parser = argparse.ArgumentParser(prog="wfnet", description=__doc__)
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
    _common(p)

    p = sub.add_parser("untrain", help="WF-Net: untrain every class in one round")
    p.add_argument("--checkpoint", type=Path, required=True, help="an original model.pt")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="assignments", metavar="KEY=VALUE", nargs="+", default=[],
                   help="any UntrainConfig field, e.g. --set clip_grad_norm=0.1 alpha_bound=none")
    _common(p)

    p = sub.add_parser("evaluate", help="Acc_r, Acc_f and ZRF of a checkpoint")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    _common(p)

    p = sub.add_parser("reproduce", help="every method and metric of Tables 1-2 for one dataset x backbone")
    p.add_argument("--dataset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--preset", default="smoke", help="smoke (CPU, minutes) or paper (GPU, hours)")
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="cache of checkpoints and partial runs")
    p.add_argument("--methods", nargs="+", default=None, help="subset of methods (default: all)")
    p.add_argument("--classes", type=int, nargs="+", default=None,
                   help="with --methods retrained: build only these classes (retrained.json once all are done)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-slow", action="store_true", help="run a GPU-only preset (paper) on a CPU anyway")
    _common(p)

    p = sub.add_parser("search-baselines", help="choose random labels' / negative gradients' hyper-parameters "
                                                "on a validation split of the training set")
    p.add_argument("--dataset", required=True)
    p.add_argument("--backbone", required=True)
    p.add_argument("--preset", default="smoke")
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-slow", action="store_true")
    _common(p)

    p = sub.add_parser("plan", help="the paper-scale queue: every piece of GPU work, its estimate and state")
    p.add_argument("--preset", default="paper")
    p.add_argument("--dataset", nargs="+", default=None, help="default: mnist cifar10 fashion-mnist")
    p.add_argument("--backbone", nargs="+", default=None, help="default: resnet18 vgg16 vit_tiny vit_small")
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
    _common(p)

    p = sub.add_parser("collect", help="check a results bundle from a GPU call and unpack it into results/")
    p.add_argument("bundle", type=Path)
    p.add_argument("--results", type=Path, default=Path("results"))

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
    _common(p)

    p = sub.add_parser("datasets", help="list the datasets and where they are found")
    p.add_argument("--data-root", type=Path, default=None)
    return parser


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise WFNetError(f"--{name} must be positive, got {value}")


def run(args: argparse.Namespace) -> int:
    import torch

    from .config import override, parse_assignments, scaled_batch, train_defaults, untrain_defaults
    from .data import list_available, load_dataset
    from .pipeline import evaluate_checkpoint, train_original, untrain_checkpoint
    from .provenance import resolve_device

    if args.command == "datasets":
        for name, where in list_available(args.data_root):
            print(f"{name:14s} {where}")
        return 0
    if args.command == "plan":
        from .plan import plan, plan_table

        print(plan_table(plan(args.preset, args.dataset, args.backbone), args.results))
        return 0
    if args.command == "collect":
        from .bundle import collect

        landed = collect(args.bundle, args.results)
        print(f"collected {len(landed)} files into {args.results}:")
        for rel in landed:
            print(f"  {rel}")
        return 0
    device = resolve_device(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    progress = not args.no_progress
    if args.command == "next":
        from .plan import plan
        from .queue import run_next

        _positive("budget", args.budget)
        plan(args.preset, args.dataset, args.backbone)  # bad names fail before any work
        ran, bundle = run_next(args.budget, args.preset, str(device), args.results, args.runs, args.bundle_dir,
                               args.dataset, args.backbone, log=lambda line: print(line, flush=True),
                               fill=args.fill)
        failed = [r.piece.id for r in ran if r.returncode != 0]
        print(f"ran {len(ran)} pieces ({len(failed)} failed: {failed}); bundle: {bundle}")
        return 1 if failed else 0
    if args.command == "train":
        from .backbones import BACKBONES

        BACKBONES.get(args.backbone)  # fail on a bad name before loading any data
        for name in ("epochs", "batch_size", "lr", "width"):
            _positive(name.replace("_", "-"), getattr(args, name))
        data = load_dataset(args.dataset, args.data_root, download=args.download)
        cfg = scaled_batch(train_defaults(args.backbone), args.batch_size)
        cfg = override(cfg, epochs=args.epochs, lr=args.lr, seed=args.seed)
        m = train_original(data, args.backbone, args.out, cfg, device, args.width, progress)
        print(f"test accuracy {m['test_acc']:.2f}% ({data.name}, {args.backbone}, "
              f"{m['provenance']['wall_seconds']:.0f} s on {m['provenance']['device']}) -> {args.out}")
        return 0
    if args.command == "untrain":
        from .checkpoint import load

        _positive("epochs", args.epochs)
        _positive("lr", args.lr)
        backbone = load(args.checkpoint).spec.name
        cfg = override(untrain_defaults(backbone), epochs=args.epochs, lr=args.lr, seed=args.seed)
        cfg = override(cfg, **parse_assignments(cfg, args.assignments))
        m = untrain_checkpoint(args.checkpoint, args.out, cfg, device, args.data_root, progress)
        u = m["untrain"]
        print(f"untrained in {u['steps']} steps ({u['stopped']}), best val loss {u['best_val_loss']:.4f} -> {args.out}/wf.pt")
        return 0
    if args.command == "reproduce":
        from .reproduce import reproduce

        results = reproduce(args.dataset, args.backbone, args.preset, args.out, args.runs, args.device,
                            args.data_root, args.seed, args.methods, progress, args.classes, args.allow_slow)
        print(f"{'method':20s} {'Acc_r':>7s} {'Acc_f':>7s} {'ZRF':>6s} {'RT':>12s}")
        for method, r in results.items():
            rt = "-" if r.get("rt") is None else f"{r['rt']:.1f} ({r['rt_failed']})"
            print(f"{method:20s} {r['acc_r']:7.2f} {r['acc_f']:7.2f} {r['zrf']:6.3f} {rt:>12s}")
        return 0
    if args.command == "search-baselines":
        from .baseline_search import run_search

        blob = run_search(args.dataset, args.backbone, args.preset, args.out, args.device, args.seed, progress,
                          args.allow_slow, args.data_root)
        for method, t in blob["methods"].items():
            print(f"{method:20s} chosen {t['chosen']}")
        return 0
    if args.command == "ablate":
        from .ablation import VARIANTS, run_ablation

        bad = [v for v in args.variants or [] if v not in VARIANTS]
        if bad:
            raise WFNetError(f"unknown variant(s) {bad}; expected some of {list(VARIANTS)}")
        res = run_ablation(args.dataset, args.backbone, args.out, args.runs, args.width, args.train_epochs,
                           args.untrain_epochs, args.device, args.seed, args.variants, progress,
                           args.checkpoint)
        for name, r in res.items():
            print(f"{name:24s} Acc_r {r['acc_r']:6.2f}  Acc_f {r['acc_f']:6.2f}  ZRF {r['zrf']:.3f}  ({r['stopped']})")
        return 0
    if args.command == "evaluate":
        m = evaluate_checkpoint(args.checkpoint, args.out, device, args.data_root)
        print(json.dumps({k: m[k] for k in ("kind", "acc_r", "acc_f", "zrf")}))
        return 0
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .provenance import git_commit

    git_commit()  # pin the code version this run starts with
    try:
        return run(args)
    except WFNetError as err:
        print(f"wfnet: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wfnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

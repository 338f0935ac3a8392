"""One small function per ``wfnet`` command (``COMMANDS``): check every value, then call the
package; heavy modules are imported inside each, so ``--help`` and a bad value answer at once."""

from __future__ import annotations

import argparse
import json

from ..errors import WFNetError
from .checks import (
    check_at_least,
    check_names,
    check_outputs,
    check_positive,
    check_seed,
    check_width,
    device_of,
    fmt,
    preset_of,
    refuse_slow,
    seeds_kw,
    slow_estimate,
)


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import list_available

    for name, where in list_available(args.data_root):
        print(f"{name:14s} {where}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from ..experiments.plan import plan, plan_table

    print(plan_table(plan(args.preset, args.dataset, args.backbone, **seeds_kw(args.seeds)), args.results))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from ..experiments.bundle import collect

    check_outputs(("--results", args.results))
    landed = collect(args.bundle, args.results, replace=args.replace)
    print(f"collected {len(landed)} files into {args.results}:")
    for rel in landed:
        print(f"  {rel}")
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    from ..experiments.plan import plan
    from ..experiments.queue import run_next

    check_positive("budget", args.budget)
    plan(args.preset, args.dataset, args.backbone, **seeds_kw(args.seeds))  # bad names fail before any work
    check_outputs(("--results", args.results), ("--runs", args.runs), ("--bundle-dir", args.bundle_dir))
    ran, bundle = run_next(budget_s=args.budget, preset=args.preset, device=str(device_of(args)),
                           results_dir=args.results, runs_dir=args.runs, out=args.bundle_dir,
                           datasets=args.dataset, backbones=args.backbone, fill=args.fill,
                           log=lambda line: print(line, flush=True), **seeds_kw(args.seeds))
    failed = [r.piece.id for r in ran if r.returncode != 0]
    print(f"ran {len(ran)} pieces ({len(failed)} failed: {failed}); bundle: {bundle}")
    return 1 if failed else 0


def cmd_run_plan(args: argparse.Namespace) -> int:
    from ..experiments import dispatch
    from ..experiments.plan import plan

    pieces = dispatch.select(plan(args.preset, args.dataset, args.backbone, **seeds_kw(args.seeds)), args.only)
    opts = dispatch.Options(
        executor=args.executor, device=args.device, results_dir=args.results, runs_dir=args.runs,
        data_root=args.data_root, max_parallel=args.max_parallel, partition=args.partition, account=args.account,
        qos=args.qos, gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, wait=not args.no_wait,
        allow_slow=args.allow_slow, keep_runs=args.keep_runs,
        **({} if args.time_min is None else {"time_min": args.time_min}))
    dispatch.check(opts)
    opts.gpus = dispatch.parse_gpus(args.gpus, args.device, args.executor)
    dispatch.require_submitit()
    check_outputs(("--results", args.results), ("--runs", args.runs))
    if opts.executor != "slurm" or opts.gpus_per_job == 0:  # the pieces run here, or on CPU-only jobs
        import torch

        device = opts.piece_device()
        device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        refuse_slow(args.preset, torch.device(device), args.allow_slow,
                     f"{len(pieces)} pieces, {sum(p.estimate_s for p in pieces) / 3600:.1f} GPU-hours on an H200 "
                     "by wfnet plan's estimates")
    return dispatch.run_plan(pieces, opts, args.preset, dry_run=args.dry_run, log=lambda line: print(line, flush=True))


def cmd_train(args: argparse.Namespace) -> int:
    from ..config import override
    from ..data import load_dataset
    from ..experiments.pipeline import check_output_folder, check_same_run, train_identity, train_original
    from ..train import scaled_batch, train_defaults

    check_names(dataset=args.dataset, backbone=args.backbone)  # bad names fail before any data loads
    check_at_least("epochs", args.epochs, 1)
    check_at_least("batch-size", args.batch_size, 2)
    check_positive("lr", args.lr)
    check_width(args.width)
    check_seed(args.seed)
    cfg = scaled_batch(train_defaults(args.backbone), args.batch_size)
    cfg = override(cfg, epochs=args.epochs, lr=args.lr, seed=args.seed, precision=args.precision)  # checked
    check_outputs(("--out", args.out))
    check_output_folder(args.out, "train")
    check_same_run(args.out, "train", train_identity(args.dataset, args.backbone, args.width, cfg), args.force)
    device = device_of(args)
    data = load_dataset(args.dataset, args.data_root, download=args.download)
    m = train_original(data=data, backbone=args.backbone, out=args.out, cfg=cfg, device=device, width=args.width,
                       progress=not args.no_progress, force=args.force)
    print(f"test accuracy {fmt(m.get('test_acc'), '.2f')}% ({data.name}, {args.backbone}, "
          f"{m['provenance']['wall_seconds']:.0f} s on {m['provenance']['device']}) -> {args.out}")
    return 0


def cmd_untrain(args: argparse.Namespace) -> int:
    from ..checkpoint import load
    from ..config import override, parse_assignments
    from ..experiments.pipeline import check_output_folder, untrain_checkpoint
    from ..methods.untrain import untrain_defaults

    check_at_least("epochs", args.epochs, 1)
    check_positive("lr", args.lr)
    check_seed(args.seed)
    loaded = load(args.checkpoint, allow_unverified=args.allow_unverified)
    if loaded.kind != "original":
        raise WFNetError(f"{args.checkpoint} is already a WF model; untrain an original model")
    cfg = override(untrain_defaults(loaded.spec.name), epochs=args.epochs, lr=args.lr, seed=args.seed,
                   precision=args.precision)
    cfg = override(cfg, **parse_assignments(cfg, args.assignments))  # every field checked here
    check_outputs(("--out", args.out))
    check_output_folder(args.out, "untrain")
    m = untrain_checkpoint(checkpoint=args.checkpoint, out=args.out, cfg=cfg, device=device_of(args),
                           data_root=args.data_root, progress=not args.no_progress, force=args.force,
                           loaded=loaded)
    u = m["untrain"]
    print(f"untrained in {u['steps']} steps ({u['stopped']}), best val loss {fmt(u['best_val_loss'], '.4f')} "
          f"-> {args.out}/wf.pt")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..experiments.pipeline import check_output_folder, evaluate_checkpoint

    check_outputs(("--out", args.out))
    check_output_folder(args.out, "evaluate")
    m = evaluate_checkpoint(checkpoint=args.checkpoint, out=args.out, device=device_of(args), data_root=args.data_root,
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
        print(f"{method:20s} {fmt(r.get('acc_r'), '7.2f'):>7s} {fmt(r.get('acc_f'), '7.2f'):>7s} "
              f"{fmt(r.get('zrf'), '6.3f'):>6s} {rt:>12s}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..experiments.reproduce import reproduce
    from ..methods import METHODS, method_names

    check_names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
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
    check_outputs(("--out", args.out), ("--runs", args.runs))
    device = device_of(args)
    refuse_slow(args.preset, device, args.allow_slow, slow_estimate(args.preset, args.dataset, args.backbone,
                                                                     args.methods))
    _cell_outputs(args, seeds)
    for seed in seeds:
        if len(seeds) > 1:
            print(f"== seed {seed} ==", flush=True)
        _print_methods(reproduce(dataset=args.dataset, backbone=args.backbone, preset=preset_of(args),
                                 results_dir=args.out, runs_dir=args.runs, device=args.device,
                                 data_root=args.data_root, seed=seed, methods=args.methods,
                                 progress=not args.no_progress, classes=args.classes, allow_slow=args.allow_slow,
                                 force=args.force))
    return 0


def _cell_outputs(args: argparse.Namespace, seeds: list[int]) -> None:
    """Every folder a reproduce run writes into, results and caches, probed before the work: a
    read-only subfolder is one line now, not an OSError after hours of training."""
    from ..experiments.results import result_dir
    from ..io import probe_tree

    for seed in seeds:
        for flag, root in (("--out", args.out), ("--runs", args.runs)):
            probe_tree(result_dir(root, args.preset, args.dataset, args.backbone, seed), f"{flag} {root}")


def _reproduce_seeds(seed: int, seeds: list[int] | None) -> list[int]:
    """``--seeds`` (distinct, each checked) or the single ``--seed``; both at once is ambiguous."""
    if seeds is None:
        check_seed(seed)
        return [seed]
    if seed != 0:
        raise WFNetError("give either --seed or --seeds, not both")
    for s in seeds:
        check_seed(s)
    if len(set(seeds)) != len(seeds):
        raise WFNetError(f"--seeds {seeds} repeats a seed")
    return list(seeds)


def cmd_beyond(args: argparse.Namespace) -> int:
    from ..experiments.beyond import run_beyond

    check_names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
    check_seed(args.seed)
    check_outputs(("--out", args.out), ("--runs", args.runs))
    refuse_slow(args.preset, device_of(args), args.allow_slow, "")
    out = run_beyond(dataset=args.dataset, backbone=args.backbone, preset=preset_of(args), results_dir=args.out,
                     runs_dir=args.runs, device=args.device, seed=args.seed, progress=not args.no_progress,
                     data_root=args.data_root)
    _print_methods({m: r for m, r in out.items() if m not in ("multiforget", "mia")})
    for m, v in (out.get("mia") or {}).get("methods", {}).items():
        card = v.get("scorecard") or {}
        print(f"scorecard {m:20s} " + "  ".join(f"{k.upper()} {fmt(card.get(k), '6.2f')}" for k in card))
    return 0


def cmd_search_baselines(args: argparse.Namespace) -> int:
    from ..experiments.baseline_search import SEARCH_FILE, run_search
    from ..experiments.results import read_result_file, result_path

    check_names(dataset=args.dataset, backbone=args.backbone, preset=args.preset)
    check_seed(args.seed)
    check_outputs(("--out", args.out))
    device = device_of(args)
    refuse_slow(args.preset, device, args.allow_slow,
                 slow_estimate(args.preset, args.dataset, args.backbone, search=True))
    target = result_path(args.out, args.preset, args.dataset, args.backbone, SEARCH_FILE, args.seed)
    read_result_file(target, recover=True)  # a corrupt one is moved aside; the search rewrites it
    blob = run_search(dataset=args.dataset, backbone=args.backbone, preset=preset_of(args), results_dir=args.out,
                      device=args.device, seed=args.seed, progress=not args.no_progress, allow_slow=args.allow_slow,
                      data_root=args.data_root)
    for method, t in blob["methods"].items():
        print(f"{method:20s} chosen {t['chosen']}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from ..experiments.ablation import VARIANTS, run_ablation

    bad = [v for v in args.variants or [] if v not in VARIANTS]
    if bad:
        raise WFNetError(f"unknown variant(s) {bad}; expected some of {list(VARIANTS)}")
    check_names(dataset=args.dataset, backbone=args.backbone)
    check_width(args.width)
    check_at_least("train-epochs", args.train_epochs, 1)
    check_at_least("untrain-epochs", args.untrain_epochs, 1)
    check_seed(args.seed)
    check_outputs(("--out", args.out), ("--runs", args.runs))
    device_of(args)
    res = run_ablation(dataset=args.dataset, backbone=args.backbone, out=args.out, runs=args.runs, width=args.width,
                       train_epochs=args.train_epochs, untrain_epochs=args.untrain_epochs, device=args.device,
                       seed=args.seed, variants=args.variants, progress=not args.no_progress,
                       checkpoint=args.checkpoint, data_root=args.data_root, force=args.force,
                       allow_unverified=args.allow_unverified, precision=args.precision or "auto")
    for name, r in res.items():
        print(f"{name:24s} Acc_r {fmt(r.get('acc_r'), '6.2f')}  Acc_f {fmt(r.get('acc_f'), '6.2f')}  "
              f"ZRF {fmt(r.get('zrf'), '.3f')}  ({r.get('stopped')})")
    return 0


COMMANDS = {"datasets": cmd_datasets, "plan": cmd_plan, "collect": cmd_collect, "next": cmd_next,
            "run-plan": cmd_run_plan,
            "train": cmd_train, "untrain": cmd_untrain, "evaluate": cmd_evaluate, "reproduce": cmd_reproduce,
            "beyond": cmd_beyond, "search-baselines": cmd_search_baselines, "ablate": cmd_ablate}

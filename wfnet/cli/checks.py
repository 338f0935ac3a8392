"""Checks of every command's values, made before any data is loaded or any model trained, and the
few helpers every command shares (device and threads, the preset at a precision, number format)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import WFNetError

if TYPE_CHECKING:
    import torch

# Training images/s of each backbone on this project's 2-core CPU (README "Speed", batch 128,
# 1x28x28): with wfnet.experiments.plan's GPU throughput, the rough factor a CPU run of a GPU preset takes.
CPU_TRAIN_IMAGES_PER_S = {"resnet18": 60.0, "vgg16": 79.0, "vit_tiny": 63.0, "vit_small": 19.0}


def seeds_kw(seeds: list[int] | None) -> dict[str, tuple[int, ...]]:
    """``--seeds`` as ``plan``'s keyword (absent: the plan's default)."""
    return {} if seeds is None else {"seeds": tuple(seeds)}


def check_positive(flag: str, value: float | None) -> None:
    """A finite number > 0 (None: not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise WFNetError(f"--{flag} must be positive and finite, got {value}")


def check_at_least(flag: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise WFNetError(f"--{flag} must be {'positive' if low == 1 else f'at least {low}'}, got {value}")


def check_width(value: float) -> None:
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise WFNetError(f"--width must be in (0, 1] (a channel multiplier; 1 = paper size), got {value}")


def check_seed(value: int) -> None:
    if not 0 <= value < 2**63:
        raise WFNetError(f"--seed must be an integer in [0, 2**63), got {value}")


def check_names(dataset: str | None = None, backbone: str | None = None, preset: str | None = None) -> None:
    from ..backbones import BACKBONES
    from ..data import DATASETS
    from ..experiments.presets import PRESETS

    if preset is not None:
        PRESETS.get(preset)
    if dataset is not None:
        DATASETS.get(dataset)
    if backbone is not None:
        BACKBONES.get(backbone)


def check_outputs(*pairs: tuple[str, Path]) -> None:
    from ..io import check_writable_dir

    for flag, path in pairs:
        check_writable_dir(path, flag)


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"


def slow_estimate(preset: str, dataset: str, backbone: str, methods: Sequence[str] | None = None,
                  search: bool = False) -> str:
    """'about N on an H200 ..., so roughly M on a 2-core CPU', or '' when there is no estimate
    (a dataset or backbone without measurements in wfnet.experiments.plan). A rough, labelled estimate."""
    from ..experiments.plan import THROUGHPUT, pieces_for
    from ..experiments.presets import PRESETS

    try:
        pieces = [x for x in pieces_for(PRESETS.get(preset), dataset, backbone) if (x.part == "search") == search
                  and (methods is None or set(x.methods) & set(methods))]
        gpu = sum(x.estimate_s for x in pieces)
        factor = THROUGHPUT[backbone][0] / CPU_TRAIN_IMAGES_PER_S[backbone]
    except (WFNetError, KeyError):
        return ""
    return (f"estimated at about {duration(gpu)} on an H200 (wfnet plan), so roughly {duration(gpu * factor)} "
            "on a 2-core CPU")


def refuse_slow(preset: str, device: torch.device, allow_slow: bool, estimate: str) -> None:
    from ..experiments.presets import PRESETS

    if PRESETS.get(preset).gpu_only and device.type != "cuda" and not allow_slow:
        raise WFNetError(f"the {preset!r} preset is sized for a GPU ({estimate or 'GPU-hours; days on a CPU'}); "
                         "run it on a GPU (scripts/gpu_run.sh), or pass --allow-slow to run it on the CPU anyway")


def fmt(value: object, spec: str) -> str:
    """A number formatted, or '-' for a metric written as null (not computable)."""
    return "-" if value is None else format(value, spec)


def env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as a positive count, or None where it is unset or not a number."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def device_of(args: argparse.Namespace) -> torch.device:
    """The device, with this process's CPU threads set (``--threads``; else ``OMP_NUM_THREADS``
    when set, as parallel jobs sharing a machine set it; else every usable core)."""
    import torch

    from ..provenance import resolve_device

    device = resolve_device(args.device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = getattr(args, "threads", None)
    if threads is not None and not 1 <= threads <= 4 * cores:
        raise WFNetError(f"--threads must be between 1 and {4 * cores} (this machine has {cores} cores), got {threads}")
    torch.set_num_threads(threads or env_threads() or cores)
    return device


def preset_of(args: argparse.Namespace) -> object:
    """The ``--preset`` by name, at ``--precision`` when one is given (else the preset's own)."""
    from dataclasses import replace

    from ..experiments.presets import PRESETS

    preset = PRESETS.get(args.preset)
    return preset if args.precision is None else replace(preset, precision=args.precision)

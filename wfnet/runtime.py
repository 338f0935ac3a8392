"""What every loop needs (seeding, mixed precision, fast kernels, predictions on any device), in a
neutral home so that evaluation and unlearning code never import the training loop for them."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .data import BatchIterator, ImageDataset, ImageSplit
from .errors import WFNetError

PRECISIONS = ("auto", "fp32", "bf16")  # "auto": bf16 on CUDA or a CPU with native bf16, else fp32
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # x86 CPU flags of bf16 arithmetic in hardware


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def use_fast_kernels(device: torch.device) -> None:
    """cuDNN picks the fastest convolution for each (fixed) shape: the loops here keep shapes
    fixed (drop_last), so the one-off search pays back within an epoch. No effect on a CPU."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere, where "auto" means fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matrix arithmetic in hardware, which oneDNN uses for convolutions
    and matmuls (elsewhere bf16 is emulated and slower than fp32)."""
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def check_precision(precision: object, what: str = "precision") -> str:
    if precision not in PRECISIONS:
        raise WFNetError(f"{what} must be one of {list(PRECISIONS)}, got {precision!r}")
    return str(precision)


def resolve_precision(precision: str, device: torch.device) -> str:
    """"fp32" or "bf16" for a run on ``device``: "auto" is bf16 where the hardware has it (CUDA,
    a CPU with AMX or AVX512-BF16), fp32 elsewhere."""
    if check_precision(precision) != "auto":
        return precision
    if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
        return "bf16"
    return "fp32"


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast for ``precision`` (resolved on ``device``), else a disabled context: the
    forward of every loop runs inside one, so a run's precision is set where its config is.

    On a CPU, bf16 attention that will be differentiated takes the math kernel: the fused (flash)
    kernel's bf16 backward costs 14x its forward there (ViT-T's training step: 1.3x fp32's speed
    with it, 1.9x with the math kernel); inference keeps the fused one, faster forward
    (``benchmarks/backbone_speed.py``, README "Speed")."""
    bf16 = resolve_precision(precision, device) == "bf16"
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        if bf16 and device.type == "cpu" and torch.is_grad_enabled():
            with sdpa_kernel([SDPBackend.MATH]):
                yield
        else:
            yield


@torch.no_grad()
def predict(model: nn.Module, split: ImageSplit, data: ImageDataset, device: torch.device,
            batch_size: int = 512, index: Tensor | None = None, precision: str | None = None,
            **forward_kwargs: object) -> Tensor:
    """Logits (float32, on CPU) for every sample of ``split`` (or ``index``), in order.

    ``model`` is moved to ``device`` first: a caller never has to know where it was built.
    ``precision`` None runs in the caller's autocast context (fp32 outside any), so that an
    evaluation inherits its run's precision."""
    model.to(device).eval()
    out = []
    for x, _ in BatchIterator(split, batch_size, data.mean, data.std, device, index=index):
        with contextlib.nullcontext() if precision is None else autocast(device, precision):
            out.append(model(x, **forward_kwargs).float())
    return torch.cat(out).cpu() if out else torch.empty(0, data.num_classes)  # one device sync


def accuracy(model: nn.Module, split: ImageSplit, data: ImageDataset, device: torch.device,
             precision: str | None = None) -> float:
    logits = predict(model, split, data, device, precision=precision)
    return 100.0 * (logits.argmax(1) == split.labels.cpu()).float().mean().item()

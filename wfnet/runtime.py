"""What every loop needs (seeding, mixed precision, fast kernels, predictions on any device), in a
neutral home so that evaluation and unlearning code never import the training loop for them."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .data import BatchIterator, ImageDataset, ImageSplit


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def use_fast_kernels(device: torch.device) -> None:
    """cuDNN picks the fastest convolution for each (fixed) shape: the loops here keep shapes
    fixed (drop_last), so the one-off search pays back within an epoch. No effect on a CPU."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


@torch.no_grad()
def predict(model: nn.Module, split: ImageSplit, data: ImageDataset, device: torch.device,
            batch_size: int = 512, index: Tensor | None = None, **forward_kwargs: object) -> Tensor:
    """Logits (float32, on CPU) for every sample of ``split`` (or ``index``), in order.

    ``model`` is moved to ``device`` first: a caller never has to know where it was built."""
    model.to(device).eval()
    out = []
    for x, _ in BatchIterator(split, batch_size, data.mean, data.std, device, index=index):
        with autocast(device, True):
            out.append(model(x, **forward_kwargs).float())
    return torch.cat(out).cpu() if out else torch.empty(0, data.num_classes)  # one device sync


def accuracy(model: nn.Module, split: ImageSplit, data: ImageDataset, device: torch.device) -> float:
    logits = predict(model, split, data, device)
    return 100.0 * (logits.argmax(1) == split.labels.cpu()).float().mean().item()

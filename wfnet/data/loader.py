"""Batches straight from uint8 tensors (shuffle, augment and normalise on the device), airbench-style:
no DataLoader workers, no per-sample Python, one gather per batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor

from .tensors import ImageSplit, ImageTensors, normalize

# airbench-style: no DataLoader workers, no per-sample Python; one gather per batch. On a GPU the
# whole split is moved once and every later step stays on the device.


def augment_batch(images: Tensor, generator: torch.Generator, pad: int = 4) -> Tensor:
    """Random crop with zero padding and random horizontal flip, for a whole batch at once."""
    b, c, h, w = images.shape
    dev = images.device
    # drawn on the CPU (the same stream on every device); a non-blocking copy never waits on the GPU
    shifts = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(dev, non_blocking=True)
    flips = (torch.rand(b, generator=generator) < 0.5).to(dev, non_blocking=True)
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    rows = torch.arange(h, device=dev)[None, :] + shifts[0][:, None]  # (B, H)
    cols = torch.arange(w, device=dev)[None, :] + shifts[1][:, None]  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(-1), cols)
    bi = torch.arange(b, device=dev)[:, None, None, None]
    ci = torch.arange(c, device=dev)[None, :, None, None]
    return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


@dataclass
class BatchIterator:
    """One pass (an epoch) over a split; re-iterable, each pass reshuffled from ``generator``."""

    split: ImageSplit
    batch_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device
    shuffle: bool = False
    augment: bool = False
    drop_last: bool = False
    generator: torch.Generator | None = None
    index: Tensor | None = None  # restrict to these samples (e.g. one class), in this order

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(0)
        if isinstance(self.split, ImageTensors) and self.device.type != "cpu":
            self.split = self.split.to(self.device)

    def _order(self) -> Tensor:
        """This pass's sample order, drawn on the CPU (the same stream on every device) and sent
        to the split's device once, so that no batch of the pass waits on the host."""
        base = self.index.cpu() if self.index is not None else torch.arange(len(self.split))
        if self.shuffle:
            base = base[torch.randperm(len(base), generator=self.generator)]
        return base.to(self.split.labels.device, non_blocking=True)

    def __len__(self) -> int:
        n = len(self.index) if self.index is not None else len(self.split)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._order()
        labels = self.split.labels
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            images = self.split.gather(idx).to(self.device, non_blocking=True)
            if self.augment:
                images = augment_batch(images, self.generator)
            x = normalize(images, self.mean, self.std)
            yield x.contiguous(memory_format=torch.channels_last), labels[idx].to(self.device, non_blocking=True)

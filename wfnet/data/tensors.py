"""Datasets held as uint8 tensors, decoded once, normalised per batch on the device."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import torch
from torch import Tensor

from ..errors import WFNetError


class ImageSplit(Protocol):
    """What a training or evaluation loop needs from a split: labels and a batch gather."""

    labels: Tensor

    def __len__(self) -> int: ...

    def gather(self, index: Tensor) -> Tensor:
        """uint8 images (len(index), C, H, W) for the given sample indices."""
        ...


@dataclass(frozen=True)
class ImageTensors:
    """A whole split in memory: small datasets fit (CIFAR-10 train is 150 MB as uint8).

    ``to(device)`` is memoised: every loop over a split (relearn time makes thousands) reuses the
    one copy on the device instead of sending 150 MB again."""

    images: Tensor  # uint8, (N, C, H, W)
    labels: Tensor  # int64, (N,)
    _copies: dict[str, "ImageTensors"] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise WFNetError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise WFNetError(
                f"{self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def gather(self, index: Tensor) -> Tensor:
        return self.images[index.to(self.images.device)]

    def subset(self, index: Tensor) -> "ImageTensors":
        return ImageTensors(self.images[index], self.labels[index])

    def to(self, device: torch.device | str) -> "ImageTensors":
        device = torch.device(device)
        if self.images.device == device or (device.index is None and self.images.device.type == device.type):
            return self
        key = str(device)
        if key not in self._copies:
            self._copies[key] = ImageTensors(self.images.to(device), self.labels.to(device))
        return self._copies[key]


@dataclass(frozen=True)
class ImageDataset:
    """Train and test splits plus what is needed to feed and describe them."""

    name: str
    train: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str  # where the files were read from, for provenance
    augment: bool = False  # random crop + flip during training (CIFAR-style)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_chans(self) -> int:
        return len(self.mean)

    @property
    def image_size(self) -> int:
        return int(self.train.gather(torch.tensor([0])).shape[-1])



def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """uint8 -> float32 standardised; done per batch so the cache stays 4x smaller."""
    m = torch.tensor(mean, device=images.device, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device, dtype=torch.float32).view(1, -1, 1, 1)
    return (images.float().div_(255.0) - m) / s


def stratified_split(
    labels: Tensor, fraction: float, seed: int
) -> tuple[Tensor, Tensor]:
    """Indices (kept, held_out) with ``fraction`` of every class held out, reproducibly."""
    if not 0.0 < fraction < 1.0:
        raise WFNetError(f"split fraction must be in (0, 1), got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = max(1, round(len(idx) * fraction))
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


def save_tensors(path: Path, split: ImageTensors) -> None:
    from ..io import atomic_torch_save

    atomic_torch_save({"images": split.images, "labels": split.labels}, path)


def load_tensors(path: Path) -> ImageTensors:
    """A split saved by ``save_tensors``; anything else (truncated, not a tensor file, of another
    layout) is a ``CorruptFileError`` naming the file, never a raw torch traceback."""
    from ..errors import CorruptFileError
    from ..io import first_line

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a tensor file: torch raises many kinds
        raise CorruptFileError(path, f"not a readable tensor file: {first_line(err)}") from None
    if not (isinstance(blob, dict) and isinstance(blob.get("images"), Tensor)
            and isinstance(blob.get("labels"), Tensor)):
        raise CorruptFileError(path, "not a decoded split (expected 'images' and 'labels' tensors)")
    try:
        return ImageTensors(blob["images"], blob["labels"])
    except WFNetError as err:
        raise CorruptFileError(path, str(err)) from None


def load_cached_tensors(path: Path) -> ImageTensors | None:
    """A decoded-split cache: the split, or None when missing or corrupt (then moved aside, so
    the caller decodes the sources again)."""
    from ..errors import CorruptFileError
    from ..io import move_aside

    if not Path(path).is_file():
        return None
    try:
        return load_tensors(path)
    except CorruptFileError as err:
        move_aside(path, err.reason)
        return None

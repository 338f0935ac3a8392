"""Shared fixtures: tiny models and synthetic data so unit tests run in seconds on 2 cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from wfnet.data import ImageDataset, ImageTensors

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

torch.set_num_threads(2)


def synthetic_dataset(n_per_class: int = 24, num_classes: int = 4, size: int = 8, chans: int = 1,
                      seed: int = 0) -> ImageDataset:
    """Classes that a small CNN separates easily: each class lights up its own quadrant."""
    gen = torch.Generator().manual_seed(seed)
    def split(n: int) -> ImageTensors:
        labels = torch.arange(num_classes).repeat_interleave(n)
        images = torch.randint(0, 60, (len(labels), chans, size, size), generator=gen, dtype=torch.uint8)
        half = size // 2
        for c in range(num_classes):
            r, q = divmod(c % 4, 2)
            images[labels == c, :, r * half:(r + 1) * half, q * half:(q + 1) * half] += 150
        return ImageTensors(images, labels)
    return ImageDataset("synthetic", split(n_per_class), split(n_per_class // 2),
                        tuple(f"c{i}" for i in range(num_classes)), (0.3,) * chans, (0.3,) * chans,
                        source="synthetic (tests/conftest.py)")


class TinyCNN(torch.nn.Module):
    """Two convs with biases, BN, and a linear head: every WF code path in a few thousand params."""

    def __init__(self, num_classes: int = 4, chans: int = 1, width: int = 8) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(chans, width, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.head = torch.nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.head(x.mean((2, 3)))


@pytest.fixture
def toy_data() -> ImageDataset:
    return synthetic_dataset()


@pytest.fixture
def tiny_cnn() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()


@pytest.fixture(scope="session")
def trained_toy() -> tuple[TinyCNN, ImageDataset]:
    """A TinyCNN that classifies the synthetic data well (trained once per session)."""
    from wfnet.train import TrainConfig, train_model

    data = synthetic_dataset(n_per_class=48)
    torch.manual_seed(0)
    res = train_model(TinyCNN(), data, TrainConfig(epochs=15, batch_size=16, lr=0.05, warmup_epochs=0),
                      torch.device("cpu"), progress=False)
    assert res.test_acc > 90, res.test_acc
    return res.model.eval(), data

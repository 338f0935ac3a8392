"""The training loop's GPU options, checked where a CPU can check them: recipes resolve, a
larger batch scales the learning rate, the loop's batches never depend on the device."""

from __future__ import annotations

import pytest
import torch

from wfnet.data import BatchIterator, ImageTensors
from wfnet.experiments.presets import PRESETS, RECIPE_GROUPS, recipe_group
from wfnet.train import TrainConfig, make_optimizer, scaled_batch, train_defaults


def test_scaled_batch_scales_the_learning_rate_linearly():
    cfg = TrainConfig(batch_size=128, lr=0.05)
    big = scaled_batch(cfg, 512)
    assert big.batch_size == 512 and big.lr == pytest.approx(0.2) and big.warmup_epochs == cfg.warmup_epochs
    assert scaled_batch(cfg, None) is cfg


@pytest.mark.parametrize("dataset,backbone,group", [("cifar10", "resnet18", "cifar/conv"), ("cifar10", "vit_small", "cifar/vit"),
                                                   ("mnist", "vgg16", "small/conv"), ("fashion-mnist", "vit_tiny", "small/vit")])
def test_paper_recipes_resolve_per_dataset_and_backbone(dataset, backbone, group):
    assert recipe_group(dataset, backbone) == group
    cfg = PRESETS.get("paper").train_config(dataset, backbone, seed=3)
    recipe = PRESETS.get("paper").recipes[group]
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed) == (recipe.epochs, recipe.batch_size, recipe.lr, 3)
    assert cfg.optimizer == train_defaults(backbone).optimizer  # the family's optimiser is kept


def test_smoke_recipes_keep_the_backbone_defaults():
    smoke = PRESETS.get("smoke")
    assert set(smoke.recipes) == set(RECIPE_GROUPS)
    cfg = smoke.train_config("mnist-5k", "resnet18", 0)
    assert cfg == TrainConfig(epochs=2, precision=smoke.resolved_precision)  # "auto", resolved for this machine


def test_fused_optimisers_only_on_a_gpu():
    model = torch.nn.Linear(3, 2)
    opt = make_optimizer(model, TrainConfig(), torch.device("cpu"))
    assert not opt.defaults.get("fused")


def test_a_pass_follows_the_seeded_cpu_stream():
    """The order of a pass is drawn on the CPU from the seeded generator (the same stream on any
    device), then sent to the device once."""
    split = ImageTensors(torch.zeros(20, 1, 2, 2, dtype=torch.uint8), torch.arange(20))
    index = torch.arange(0, 20, 2)
    it = BatchIterator(split, 3, (0.0,), (1.0,), torch.device("cpu"), shuffle=True,
                       generator=torch.Generator().manual_seed(1), index=index)
    expected = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(1))]
    assert torch.equal(torch.cat([y for _, y in it]), expected)


def test_device_copies_of_a_split_are_made_once():
    split = ImageTensors(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))
    assert split.to("cpu") is split
    assert split.to(torch.device("cpu")) is split

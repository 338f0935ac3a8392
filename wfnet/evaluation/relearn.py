"""Relearn time (paper, "Relearn Time"): epochs of fine-tuning on 500 random training samples per
epoch until the forget class is recognised as well as by the original model, capped."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import MAX_BATCH, MAX_EPOCHS, MAX_SAMPLES, Checker
from ..data import BatchIterator, ImageDataset
from ..runtime import autocast, predict, seed_everything
from ..wrap import WFModel

# For WF-Net the backbone is fine-tuned under the selected row with alpha frozen: the unlearned
# model *is* the backbone seen through row c, so that is what must relearn.


@dataclass(frozen=True)
class RelearnConfig:
    samples_per_epoch: int = 500    # random training samples per epoch (paper: 500); 1 to 10**7
    max_epochs: int = 100           # cap (1 to 10,000); a class not relearned by then counts as failed
    batch_size: int = 64            # images per step, 1 to 65,536
    lr: float = 0.01                # SGD learning rate, momentum 0.9 (AdamW lr/10 for ViTs)
    optimizer: str = "sgd"          # "sgd" or "adamw"
    precision: str = "auto"         # "auto" (bf16 where the hardware has it), "fp32" or "bf16"
    seed: int = 0

    def __post_init__(self) -> None:
        c = Checker("relearn")
        c.integer("samples_per_epoch", self.samples_per_epoch, 1, MAX_SAMPLES)
        c.integer("max_epochs", self.max_epochs, 1, MAX_EPOCHS)
        c.integer("batch_size", self.batch_size, 1, MAX_BATCH)
        c.number("lr", self.lr, low=0.0, low_open=True)
        c.choice("optimizer", self.optimizer, ("sgd", "adamw"))
        c.seed(self.seed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class RelearnResult:
    epochs: int
    relearned: bool
    target: float      # the original model's accuracy on the class (percent)
    final: float       # the class accuracy reached (percent)


class RowView(nn.Module):
    """A WF model fixed to one row: an ordinary classifier whose backbone can be fine-tuned."""

    def __init__(self, model: WFModel, row: int) -> None:
        super().__init__()
        self.model, self.row = model, row

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, forget=self.row)


def trainable_copy(model: nn.Module, row: int | None = None) -> nn.Module:
    """A copy to fine-tune: every weight trainable, except alpha for a WF model (frozen)."""
    model = copy.deepcopy(model)
    for name, p in model.named_parameters():
        p.requires_grad_(".alpha_" not in name)
    if isinstance(model, WFModel):
        assert row is not None, "a WF model relearns under a selected row"
        return RowView(model, row)
    return model


def class_accuracy(model: nn.Module, data: ImageDataset, cls: int, device: torch.device,
                   precision: str | None = None) -> float:
    index = torch.nonzero(data.test.labels.cpu() == cls).flatten()
    logits = predict(model, data.test, data, device, index=index, precision=precision)
    return 100.0 * (logits.argmax(1) == cls).float().mean().item()


def relearn_time(model: nn.Module, data: ImageDataset, cls: int, target: float,
                 cfg: RelearnConfig, device: torch.device) -> RelearnResult:
    """Epochs until accuracy on class ``cls`` reaches ``target``; 0 if it already does.

    Batch norm stays in eval mode (fine-tuning on 500 samples must not rewrite its statistics);
    ``model`` is fine-tuned in place, so pass a ``trainable_copy``.
    """
    gen = seed_everything(cfg.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.AdamW(params, lr=cfg.lr) if cfg.optimizer == "adamw"
           else torch.optim.SGD(params, lr=cfg.lr, momentum=0.9))
    acc = class_accuracy(model, data, cls, device, cfg.precision)
    epoch = 0
    while acc < target and epoch < cfg.max_epochs:
        sample = torch.randperm(len(data.train), generator=gen)[: cfg.samples_per_epoch]
        model.eval()
        for x, y in BatchIterator(data.train, cfg.batch_size, data.mean, data.std, device,
                                  shuffle=True, augment=data.augment, generator=gen, index=sample):
            with autocast(device, cfg.precision):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        epoch += 1
        acc = class_accuracy(model, data, cls, device, cfg.precision)
    return RelearnResult(epoch, acc >= target, target, acc)

"""SalUn (Fan et al., ICLR 2024), a modern single-class baseline beyond the paper's three: random
labels restricted to the weights most salient for the forget class."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..config import MAX_BATCH, Checker
from ..data import BatchIterator, ImageDataset
from .baselines import FinetuneConfig, class_index, random_labels
from .registry import PresetView, UnlearnRun, register_method

# Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
# Image Classification and Generation", ICLR 2024, as the paper describes it for classification:
#
# 1. Weight saliency (Eq. 5): the gradient of the forgetting loss on the forget set D_f, taken at
#    the original weights theta_o; m_S = 1(|grad| >= gamma), gamma chosen so that a fraction
#    (SalUn: half, the median) of all weights is salient, one threshold over the whole network.
# 2. Saliency-restricted unlearning (Eq. 6): theta_u = m_S * (theta_o + delta) + (1 - m_S) * theta_o,
#    trained with Random Labeling, i.e. cross-entropy on D_f with random wrong labels plus
#    cross-entropy on retain samples with their true labels.
#
# Step 2 is exactly this repository's ``random_labels`` baseline run on a copy of the original
# whose weights are reparametrised by the mask (``torch.nn.utils.parametrize``): a non-salient
# entry receives no gradient, so it never moves. The masks are removed afterwards, leaving an
# ordinary module of the original class. Like the other single-class methods it runs once per
# class, starting from the original each time.


@dataclass(frozen=True)
class SalunConfig:
    """SalUn = a saliency mask + the Random Labels fine-tuning restricted to it."""

    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)  # step 2: epochs over the
    #   forget samples, batch size (images), SGD lr, retain samples per forget sample, seed
    saliency_fraction: float = 0.5   # fraction of all weights updated (SalUn: 0.5, the median |grad|)
    saliency_batch_size: int = 256   # images per step of the single gradient pass of step 1 (1 to 65,536)

    def __post_init__(self) -> None:
        c = Checker("salun")
        c.number("saliency_fraction", self.saliency_fraction, low=0.0, low_open=True, high=1.0)
        c.integer("saliency_batch_size", self.saliency_batch_size, 1, MAX_BATCH)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def for_preset(cls, preset: PresetView) -> "SalunConfig":
        """The preset's Random Labels budget: SalUn then differs from it only by the mask."""
        return cls(finetune=preset.random_labels)


def saliency_mask(model: nn.Module, data: ImageDataset, cls: int, fraction: float, batch_size: int,
                  device: torch.device, within: Tensor | None = None) -> dict[str, Tensor]:
    """Boolean mask per parameter name: the ``fraction`` of weights with the largest |gradient|
    of the forget-set cross-entropy at the current weights (ties broken by position); forget
    samples only from ``within`` when given."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"saliency_fraction must be in (0, 1], got {fraction}")
    model = copy.deepcopy(model).to(device).eval()  # eval: batch-norm statistics stay as trained
    params = {n: p for n, p in model.named_parameters()}
    for p in params.values():
        p.requires_grad_(True)
        p.grad = None
    forget = class_index(data.train.labels, cls, keep=True, within=within)
    for x, y in BatchIterator(data.train, batch_size, data.mean, data.std, device, index=forget):
        F.cross_entropy(model(x), y, reduction="sum").backward()  # |grad| of -CE is the same
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().abs().flatten()
             for n, p in params.items()}
    flat = torch.cat(list(grads.values()))
    k = int(round(fraction * flat.numel()))
    chosen = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    chosen[torch.topk(flat, k, sorted=False).indices] = True
    masks, start = {}, 0
    for n, g in grads.items():
        masks[n] = chosen[start:start + g.numel()].view(params[n].shape).cpu()
        start += g.numel()
    return masks


class _Salient(nn.Module):
    """theta = where(mask, x, theta_o): only salient entries of x reach the forward (Eq. 6)."""

    def __init__(self, mask: Tensor, theta_o: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.register_buffer("theta_o", theta_o.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(self.mask, x, self.theta_o)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent, _, leaf = name.rpartition(".")
    return (model.get_submodule(parent) if parent else model), leaf


def salun(original: nn.Module, data: ImageDataset, cls: int, cfg: SalunConfig,
          device: torch.device, within: Tensor | None = None) -> nn.Module:
    """Unlearn ``cls`` from a copy of ``original`` by SalUn (training samples only from ``within``
    when given); ``original`` is left untouched."""
    masks = saliency_mask(original, data, cls, cfg.saliency_fraction, cfg.saliency_batch_size, device, within)
    masked = copy.deepcopy(original).to(device)
    for name, p in list(masked.named_parameters()):
        module, leaf = _owner(masked, name)
        parametrize.register_parametrization(module, leaf, _Salient(masks[name].to(p.device), p))
    model = random_labels(masked, data, cls, cfg.finetune, device, within=within)
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for leaf in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, leaf, leave_parametrized=True)
    return model.eval()


@register_method("salun", label="SalUn †", kind="single_class", in_paper=False, order=50,
                 config=lambda p, dataset, backbone, seed: SalunConfig.for_preset(p),
                 cite="Fan et al., ICLR 2024")
def _salun(run: UnlearnRun, cls: int, cfg: SalunConfig) -> nn.Module:
    return salun(run.original_model(), run.data, cls, cfg, run.device)

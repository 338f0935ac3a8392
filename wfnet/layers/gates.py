"""Selecting a class's gates from a memory matrix alpha, sigmoid(alpha[row]), one row per sample or
several rows combined per filter (``product`` or ``min``) to forget a set of classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import WFNetError

# A selector is either a LongTensor of rows, shape (B,) or (1,) (one class per sample, the
# paper's Algorithm 1), or a float mask of shape (B, N_c) choosing several rows per sample
# (forgetting a set of classes at once). The selected rows' gates are combined per filter:
#
# - ``product``: prod_k sigmoid(alpha_k)^m_k (a soft mask m weighs each row);
# - ``min``: min over the rows with m_k != 0 of sigmoid(alpha_k) = sigmoid(min_k alpha_k), since
#   the sigmoid is monotone: the most closed single row per filter.
#
# A sample whose mask selects no row gets open gates (1) with either combination.

COMBINES = ("product", "min")


def check_combine(combine: str) -> str:
    """``combine`` itself when it is a known combination, else a WFNetError naming the choices."""
    if combine not in COMBINES:
        raise WFNetError(f"unknown combine {combine!r}: expected one of {list(COMBINES)}")
    return combine


class LayerGates(NamedTuple):
    """What one WF layer applies in the current forward, already in the activation dtype.

    ``scale`` (S, C) multiplies output channel c: S = 1 when the whole batch shares one selection
    (the layer folds it into its weights), else S = B (one row per sample). ``shift`` (S or 1, C)
    is added after it: the gated bias, plus the shift of a folded batch norm; None when neither.
    ``bn_folded``: the batch norm right after the layer is inside scale/shift and passes through."""

    scale: Tensor
    shift: Tensor | None
    bn_folded: bool = False


@dataclass
class GateSelection:
    """The rows every WF layer of one model applies in the current forward; None = original.

    ``combine`` says how a mask's rows make one gate (see ``select_gates``). ``fuse``: apply the
    gates inside the computation the layer does anyway (False: the elementwise reference path).
    ``computed``: every layer's gates for this forward, indexed by the layers' ``slot``, when the
    model computed them in one go (see ``GateBank``); None lets each layer select its own."""

    rows: Tensor | None = None
    combine: str = "product"
    fuse: bool = True
    computed: list[LayerGates] | None = None


def activation_dtype(x: Tensor) -> torch.dtype:
    """The dtype a conv or linear layer produces from ``x``: autocast's where it is on, else x's."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


def select_gates(alpha: Tensor, selector: Tensor, combine: str = "product") -> Tensor:
    """(B, C) gates in [0, 1] for the selected rows of ``alpha`` (N_c, C).

    ``combine`` only matters for a mask: a LongTensor selects one row per sample."""
    check_combine(combine)
    if selector.dtype == torch.long:
        return torch.sigmoid(alpha[selector])
    if combine == "min":
        return torch.sigmoid(_masked_min(alpha, selector))
    # product over the selected rows, in log space: exp(sum_k m_k log sigmoid(alpha_k))
    return torch.exp(selector.to(alpha.dtype) @ F.logsigmoid(alpha))


def _masked_min(alpha: Tensor, mask: Tensor) -> Tensor:
    """(B, C): per mask row, the elementwise min of the alpha rows it selects (+inf if none).

    Computed once per distinct mask row, so no (B, N_c, C) tensor is built for a large batch."""
    inf = torch.tensor(float("inf"), dtype=alpha.dtype, device=alpha.device)
    if mask.shape[0] == 1:  # one set for the whole batch: no unique (a host sync on a GPU)
        return torch.where(mask[0, :, None] != 0, alpha, inf).amin(0, keepdim=True)
    unique, inverse = torch.unique((mask != 0).to(torch.uint8), dim=0, return_inverse=True)
    return torch.where(unique[:, :, None].bool(), alpha[None], inf).amin(1)[inverse]

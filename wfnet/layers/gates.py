"""Selecting a class's gates from a memory matrix alpha: sigmoid(alpha[row]).

A selector is either a LongTensor of rows, shape (B,) or (1,) (one class per sample, the
paper's Algorithm 1), or a float mask of shape (B, N_c) choosing several rows per sample, whose
gates are combined by product (forgetting a set of classes at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class GateSelection:
    """The rows every WF layer of one model applies in the current forward; None = original."""

    rows: Tensor | None = None


def select_gates(alpha: Tensor, selector: Tensor) -> Tensor:
    """(B, C) gates in [0, 1] for the selected rows of ``alpha`` (N_c, C)."""
    if selector.dtype == torch.long:
        return torch.sigmoid(alpha[selector])
    # product over the selected rows, in log space: exp(sum_k m_k log sigmoid(alpha_k))
    return torch.exp(selector.to(alpha.dtype) @ F.logsigmoid(alpha))

"""Folding an eval-mode batch norm into the WF convolution that feeds it, so that a gated conv -> BN
runs no more passes over the activations than the plain one."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import torch
import torch.fx
from torch import Tensor, nn

from .gates import GateSelection

# In eval mode BN is the per-channel affine map bn(y) = y * k + c0 (k = gamma / sqrt(var + eps),
# c0 = beta - mean * k), and a WF gate is a per-channel scale too, so the two compose into one
# scale and shift that the conv applies itself: folded into its weights when the whole batch
# forgets the same rows, or in its single per-sample addcmul. The BN then passes its input
# through, so a gated conv -> BN runs no more passes over the activations than the plain one.


def conv_bn_pairs(model: nn.Module, convs: Iterable[str]) -> dict[str, str]:
    """{conv name: BN name} for each of ``convs`` whose output goes only into a BatchNorm2d.

    Found by tracing ``model`` with torch.fx, so the backbone's forward stays as written. Each
    module of a pair must run once per forward (a shared BN would also see other inputs). A
    model without BatchNorm2d is not traced; one that cannot be traced gets no pairs."""
    wanted = set(convs)
    modules = dict(model.named_modules())
    if not any(isinstance(m, nn.BatchNorm2d) for m in modules.values()):
        return {}
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # data-dependent control flow and the like: no BN folding
        return {}
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    pairs = {}
    for node in graph.nodes:
        if node.op != "call_module" or node.target not in wanted or calls[node.target] != 1:
            continue
        if not isinstance(modules[node.target], nn.Conv2d) or len(node.users) != 1:
            continue
        (user,) = node.users
        if (user.op == "call_module" and isinstance(modules.get(user.target), nn.BatchNorm2d)
                and calls[user.target] == 1 and user.args == (node,) and not user.kwargs):
            pairs[str(node.target)] = str(user.target)
    return pairs


def can_fold(bn: nn.BatchNorm2d) -> bool:
    """Eval mode with running statistics: only then is BN a fixed affine map."""
    return not bn.training and bn._buffers.get("running_var") is not None


def bn_tensors(bn: nn.BatchNorm2d) -> list[Tensor]:
    """The tensors ``bn_affine`` reads, taken from the module's dicts: this runs for each folded
    BN in every forward, where ``nn.Module.__getattr__`` would cost more than the whole check."""
    found = (bn._parameters.get(n, bn._buffers.get(n)) for n in ("weight", "bias", "running_mean", "running_var"))
    return [t for t in found if t is not None]


def bn_affine(bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """(k, c0), each (C,), with bn(y) = y * k + c0 in eval mode, from BN's current tensors."""
    assert bn.running_mean is not None and bn.running_var is not None
    k = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        k = k * bn.weight
    c0 = -bn.running_mean * k
    return k, (c0 + bn.bias if bn.bias is not None else c0)


class FoldableBatchNorm(nn.Module):
    """A BatchNorm2d that the WF conv before it (``slot``) may fold into its own computation.

    In a forward where the gates say so it returns its input untouched; otherwise (original
    model, fusion off, train mode) it is the original BN, held as ``inner``."""

    inner: nn.BatchNorm2d

    def __init__(self, bn: nn.BatchNorm2d, selection: GateSelection, slot: int) -> None:
        super().__init__()
        self.inner, self.selection, self.slot = bn, selection, slot

    def forward(self, x: Tensor) -> Tensor:
        computed = self.selection.computed
        if computed is not None and computed[self.slot].bn_folded:
            return x
        return self.inner(x)

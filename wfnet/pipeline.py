"""The three steps of the paper's pipeline as functions of files: train, untrain, evaluate.

Each reads its inputs from disk, writes a checkpoint and/or ``metrics.json`` atomically with
provenance, and returns the metrics. The CLI and the notebooks are thin callers of these.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from .backbones import build, create_backbone
from .checkpoint import load, save_original, save_wf
from .config import TrainConfig, UntrainConfig
from .data import ImageDataset, load_dataset
from .errors import WFNetError
from .io import atomic_write_json
from .metrics import evaluate_original, evaluate_wf, random_reference
from .provenance import provenance
from .train import train_model
from .untrain import untrain
from .wrap import wrap

RANDOM_REFERENCE_SEED = 12345  # M* in ZRF: fixed so every method is compared to the same model


def dataset_fields(data: ImageDataset) -> dict[str, Any]:
    """The dataset part of every provenance record."""
    return {"dataset": data.name, "train_size": len(data.train), "test_size": len(data.test),
            "data_source": data.source}


def train_original(data: ImageDataset, backbone: str, out: Path, cfg: TrainConfig,
                   device: torch.device, width: float = 1.0, progress: bool = True) -> dict[str, Any]:
    """Train from scratch; write ``out/model.pt`` and ``out/metrics.json``."""
    torch.manual_seed(cfg.seed)  # the initialisation is part of the seeded run
    model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, width)
    start = time.perf_counter()
    result = train_model(model, data, cfg, device, progress=progress, desc=f"train {backbone}")
    wall = time.perf_counter() - start
    metrics = {
        "test_acc": result.test_acc,
        "train_images_per_second": result.images_per_second,
        "provenance": provenance(device, wall, backbone=backbone, width=width, seed=cfg.seed,
                                 train_config=cfg.as_dict(), **dataset_fields(data)),
    }
    save_original(out / "model.pt", result.model, model.wfnet_spec, metrics)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def _dataset_for(meta: dict[str, Any], data_root: Path | None) -> ImageDataset:
    name = meta.get("provenance", meta).get("dataset")
    if not name:
        raise WFNetError("the checkpoint does not say which dataset it was trained on")
    return load_dataset(name, data_root)


def untrain_checkpoint(checkpoint: Path, out: Path, cfg: UntrainConfig, device: torch.device,
                       data_root: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Wrap an original model, untrain every class in one round, write ``out/wf.pt``."""
    loaded = load(checkpoint)
    if loaded.kind != "original":
        raise WFNetError(f"{checkpoint} is already a WF model; untrain an original model")
    data = _dataset_for(loaded.meta, data_root)
    model = wrap(loaded.model, data.num_classes, init=cfg.alpha_init)
    result = untrain(model, data, cfg, device, progress=progress)
    metrics = {
        "untrain": {"best_val_loss": result.best_val_loss, "steps": result.steps,
                    "epochs_run": result.epochs_run, "stopped": result.stopped,
                    "history": result.history},
        "original": loaded.meta,
        "provenance": provenance(device, result.wall_seconds, backbone=loaded.spec.name,
                                 width=loaded.spec.width, seed=cfg.seed, checkpoint=str(checkpoint),
                                 untrain_config=cfg.as_dict(), **dataset_fields(data)),
    }
    save_wf(out / "wf.pt", result.model, loaded.spec, metrics)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def evaluate_checkpoint(checkpoint: Path, out: Path, device: torch.device,
                        data_root: Path | None = None) -> dict[str, Any]:
    """Acc_r, Acc_f, ZRF (mean and per class) of an original or WF checkpoint."""
    loaded = load(checkpoint)
    data = _dataset_for(loaded.meta, data_root)
    start = time.perf_counter()
    random_model = random_reference(lambda: build(loaded.spec), RANDOM_REFERENCE_SEED)
    model = loaded.model.to(device)
    if loaded.kind == "wf":
        scores = evaluate_wf(model, data, device, random_model)
    else:
        scores = evaluate_original(model, data, device, random_model)
    metrics = {
        "kind": loaded.kind, **scores.as_dict(),
        "provenance": provenance(device, time.perf_counter() - start, backbone=loaded.spec.name,
                                 width=loaded.spec.width, checkpoint=str(checkpoint),
                                 **dataset_fields(data)),
    }
    atomic_write_json(out / "metrics.json", metrics)
    return metrics

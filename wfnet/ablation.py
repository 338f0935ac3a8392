"""Untraining variants compared on one original model: the choices the paper leaves open.

Each variant is a named set of ``UntrainConfig`` overrides; results go to
``results/ablation/<dataset>/<backbone>/<variant>.json`` (or, for ``--checkpoint``, to
``.../<backbone>/checkpoint-<hash>/``) and are reused when their key matches.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .backbones import build, create_backbone
from .checkpoint import Loaded, load, save_original
from .config import TrainConfig, train_defaults, untrain_defaults
from .data import load_dataset
from .errors import WFNetError
from .io import atomic_write_json, sha256_file
from .metrics import evaluate_wf, random_reference
from .pipeline import RANDOM_REFERENCE_SEED
from .provenance import provenance, resolve_device
from .train import train_model
from .untrain import untrain
from .wrap import wrap

# Each variant states every choice it is about, so its meaning does not move with the defaults.
_CAPPED = {"forget_term": "class_mean_reciprocal_capped", "clip_scope": "global"}
VARIANTS: dict[str, dict[str, Any]] = {
    # Eq. 3 as printed: 1 / mean CE of the forget half, no clipping
    "literal_eq3": {"forget_term": "reciprocal_mean", "clip_grad_norm": None},
    "literal_eq3_clipped": {"forget_term": "reciprocal_mean", "clip_grad_norm": 1.0, "clip_scope": "global"},
    # per-class reciprocal (the starting point measured before this project)
    "class_mean": {"forget_term": "class_mean_reciprocal", "clip_grad_norm": 1.0, "clip_scope": "global"},
    "class_mean_noclip": {"forget_term": "class_mean_reciprocal", "clip_grad_norm": None},
    # per-class reciprocal, capped once a class is forgotten
    "capped": {**_CAPPED, "clip_grad_norm": 1.0},
    "capped_bound6": {**_CAPPED, "clip_grad_norm": 1.0, "alpha_bound": 6.0},
    "capped_reg_l2": {**_CAPPED, "clip_grad_norm": 1.0, "regularizer": "l2_closed"},
    "capped_reg_none": {**_CAPPED, "clip_grad_norm": 1.0, "regularizer": "none"},
    "capped_adam_lr0.1": {**_CAPPED, "optimizer": "adam", "lr": 0.1, "clip_grad_norm": None},
    # the size of a step: lr 100 x clip norm bounds how far alpha moves per step
    "capped_clip0.3": {**_CAPPED, "clip_grad_norm": 0.3},
    "capped_clip0.1": {**_CAPPED, "clip_grad_norm": 0.1},
    "capped_clip0.1_per_row": {**_CAPPED, "clip_grad_norm": 0.1, "clip_scope": "per_row"},
    "capped_clip0.03_per_row": {**_CAPPED, "clip_grad_norm": 0.03, "clip_scope": "per_row"},
    "capped_clip0.01_per_row": {**_CAPPED, "clip_grad_norm": 0.01, "clip_scope": "per_row"},
    "capped_clip0.3_per_row": {**_CAPPED, "clip_grad_norm": 0.3, "clip_scope": "per_row"},
    # a lower cap: a class counts as forgotten sooner (chance is ln 10 = 2.3 on 10 classes)
    "capped_cap3_clip0.1_per_row": {**_CAPPED, "ce_cap": 3.0, "clip_grad_norm": 0.1, "clip_scope": "per_row"},
    "capped_cap3_clip0.03_per_row": {**_CAPPED, "ce_cap": 3.0, "clip_grad_norm": 0.03, "clip_scope": "per_row"},
    "capped_cap2.5_clip0.03_per_row": {**_CAPPED, "ce_cap": 2.5, "clip_grad_norm": 0.03, "clip_scope": "per_row"},
}


@dataclass(frozen=True)
class Base:
    """The original model every variant starts from, and where its results go."""

    checkpoint: Path
    key: str                      # identifies the original: config hash, or file hash
    dataset: str
    train_config: dict[str, Any]
    out_dir: Path


def trained_base(dataset: str, backbone: str, width: float, tcfg: TrainConfig, out: Path, runs: Path,
                 dev: torch.device, progress: bool) -> Base:
    """Train (once, cached under ``runs/ablation``) a quick original model."""
    data = load_dataset(dataset)
    key = hashlib.sha256(json.dumps([dataset, backbone, width, tcfg.as_dict()], sort_keys=True).encode()).hexdigest()[:16]
    ckpt = Path(runs) / "ablation" / dataset / backbone / key / "model.pt"
    if not ckpt.is_file():
        model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, width)
        res = train_model(model, data, tcfg, dev, progress=progress)
        save_original(ckpt, res.model, model.wfnet_spec, {"test_acc": res.test_acc, "key": key})
    return Base(ckpt, key, dataset, tcfg.as_dict(), Path(out) / "ablation" / dataset / backbone)


def checkpoint_base(checkpoint: Path, loaded: Loaded, out: Path) -> Base:
    """A given original ``model.pt`` (e.g. from ``wfnet train``), keyed by its content."""
    prov = loaded.meta.get("provenance", {})
    if not prov.get("dataset"):
        raise WFNetError(f"{checkpoint} does not say which dataset it was trained on")
    key = sha256_file(checkpoint)[:16]
    out_dir = Path(out) / "ablation" / prov["dataset"] / loaded.spec.name / f"checkpoint-{key}"
    return Base(Path(checkpoint), key, prov["dataset"], prov.get("train_config", {}), out_dir)


def run_ablation(dataset: str, backbone: str, out: Path, runs: Path, width: float = 0.25,
                 train_epochs: int = 3, untrain_epochs: int = 2, device: str = "auto",
                 seed: int = 0, variants: list[str] | None = None, progress: bool = True,
                 checkpoint: Path | None = None) -> dict[str, dict[str, Any]]:
    """Untrain one original model with every variant; ``checkpoint`` replaces the quick model
    trained here (then ``dataset``, ``backbone`` and ``width`` are the checkpoint's)."""
    dev = resolve_device(device)
    if checkpoint is None:
        tcfg = replace(train_defaults(backbone), epochs=train_epochs, seed=seed)
        base = trained_base(dataset, backbone, width, tcfg, out, runs, dev, progress)
        original = load(base.checkpoint)
    else:
        original = load(checkpoint)
        base = checkpoint_base(checkpoint, original, out)
    if original.kind != "original":
        raise WFNetError(f"{base.checkpoint} is a WF model; ablate an original model")
    data = load_dataset(base.dataset)
    spec = original.spec
    rnd = random_reference(lambda: build(spec), RANDOM_REFERENCE_SEED)
    results = {}
    for name in variants or list(VARIANTS):
        cfg = replace(untrain_defaults(spec.name), epochs=untrain_epochs, seed=seed, **VARIANTS[name])
        path = base.out_dir / f"{name}.json"
        vkey = hashlib.sha256(json.dumps([base.key, cfg.as_dict()], sort_keys=True).encode()).hexdigest()[:16]
        if path.is_file() and json.loads(path.read_text()).get("key") == vkey:
            results[name] = json.loads(path.read_text())
            continue
        start = time.perf_counter()
        wf = untrain(wrap(original.model, data.num_classes, init=cfg.alpha_init), data, cfg, dev, progress=progress)
        scores = evaluate_wf(wf.model, data, dev, rnd)
        results[name] = {
            "key": vkey, "variant": name, "overrides": VARIANTS[name], "acc_r": scores.acc_r,
            "acc_f": scores.acc_f, "zrf": scores.zrf, "original_test_acc": original.meta["test_acc"],
            "stopped": wf.stopped, "steps": wf.steps,
            "per_class": [c.__dict__ for c in scores.per_class],
            "provenance": provenance(dev, time.perf_counter() - start, dataset=base.dataset,
                                     train_size=len(data.train), test_size=len(data.test),
                                     backbone=spec.name, width=spec.width, seed=seed,
                                     train_config=base.train_config, untrain_config=cfg.as_dict(),
                                     checkpoint=str(base.checkpoint), original_key=base.key),
        }
        atomic_write_json(path, results[name])
    return results

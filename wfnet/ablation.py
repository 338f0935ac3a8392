"""Untraining variants compared on one original model: the choices the paper leaves open.

Each variant is a named set of ``UntrainConfig`` overrides; results go to
``results/ablation/<dataset>/<backbone>/<variant>.json`` and are reused when their key matches.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


from .backbones import build, create_backbone
from .checkpoint import load, save_original
from .config import train_defaults, untrain_defaults
from .data import load_dataset
from .io import atomic_write_json
from .metrics import evaluate_wf, random_reference
from .pipeline import RANDOM_REFERENCE_SEED
from .provenance import provenance, resolve_device
from .train import train_model
from .untrain import untrain
from .wrap import wrap

VARIANTS: dict[str, dict[str, Any]] = {
    # Eq. 3 as printed: 1 / mean CE of the forget half, no clipping
    "literal_eq3": {"forget_term": "reciprocal_mean", "clip_grad_norm": None},
    "literal_eq3_clipped": {"forget_term": "reciprocal_mean", "clip_grad_norm": 1.0},
    # per-class reciprocal (the starting point measured before this project)
    "class_mean": {"forget_term": "class_mean_reciprocal", "clip_grad_norm": 1.0},
    "class_mean_noclip": {"forget_term": "class_mean_reciprocal", "clip_grad_norm": None},
    # per-class reciprocal, capped once a class is forgotten
    "capped": {"forget_term": "class_mean_reciprocal_capped", "clip_grad_norm": 1.0},
    "capped_bound6": {"forget_term": "class_mean_reciprocal_capped", "alpha_bound": 6.0},
    "capped_reg_l2": {"forget_term": "class_mean_reciprocal_capped", "regularizer": "l2_closed"},
    "capped_reg_none": {"forget_term": "class_mean_reciprocal_capped", "regularizer": "none"},
    "capped_adam_lr0.1": {"forget_term": "class_mean_reciprocal_capped", "optimizer": "adam", "lr": 0.1},
}


def run_ablation(dataset: str, backbone: str, out: Path, runs: Path, width: float = 0.25,
                 train_epochs: int = 3, untrain_epochs: int = 2, device: str = "auto",
                 seed: int = 0, variants: list[str] | None = None, progress: bool = True) -> dict[str, dict[str, Any]]:
    dev = resolve_device(device)
    data = load_dataset(dataset)
    tcfg = replace(train_defaults(backbone), epochs=train_epochs, seed=seed)
    key = hashlib.sha256(json.dumps([dataset, backbone, width, tcfg.as_dict()], sort_keys=True).encode()).hexdigest()[:16]
    ckpt = Path(runs) / "ablation" / dataset / backbone / key / "model.pt"
    if not ckpt.is_file():
        model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, width)
        res = train_model(model, data, tcfg, dev, progress=progress)
        save_original(ckpt, res.model, model.wfnet_spec, {"test_acc": res.test_acc, "key": key})
    original = load(ckpt)
    rnd = random_reference(lambda: build(original.spec), RANDOM_REFERENCE_SEED)
    out_dir = Path(out) / "ablation" / dataset / backbone
    results = {}
    for name in variants or list(VARIANTS):
        cfg = replace(untrain_defaults(backbone), epochs=untrain_epochs, seed=seed, **VARIANTS[name])
        path = out_dir / f"{name}.json"
        vkey = hashlib.sha256(json.dumps([key, cfg.as_dict()], sort_keys=True).encode()).hexdigest()[:16]
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
            "provenance": provenance(dev, time.perf_counter() - start, dataset=dataset,
                                     train_size=len(data.train), test_size=len(data.test),
                                     backbone=backbone, width=width, seed=seed,
                                     train_config=tcfg.as_dict(), untrain_config=cfg.as_dict()),
        }
        atomic_write_json(path, results[name])
    return results

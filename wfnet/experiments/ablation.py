"""Untraining variants compared on one original model: the choices the paper leaves open, each a
named set of ``UntrainConfig`` overrides whose result never overwrites another configuration's."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..backbones import build, create_backbone
from ..checkpoint import Loaded, load, load_cached, save_original
from ..data import ImageDataset, load_dataset
from ..errors import WFNetError
from ..evaluation.metrics import evaluate_wf, random_reference
from ..evaluation.multiforget import MultiForgetConfig, evaluate_multiforget
from ..io import atomic_write_json, read_cached_json, sha256_file
from ..methods.untrain import untrain, untrain_defaults
from ..provenance import provenance, resolve_device
from ..runtime import autocast, resolve_precision
from ..train import TrainConfig, train_defaults, train_model
from ..wrap import wrap
from .pipeline import FORCE_FLAG, RANDOM_REFERENCE_SEED, check_checkpoint_fits, check_untrain_fits, data_fingerprint
from .presets import METHOD_VERSION, content_key
from .results import with_null_reasons

# Each variant is a named set of ``UntrainConfig`` overrides. Results go to
# ``results/ablation/<dataset>/<backbone>/[<config>/]<variant>.json`` (or, for ``--checkpoint``, to
# ``.../<backbone>/checkpoint-<hash>/[<config>/]``), where ``<config>`` names the parameters of the
# run (width, training and untraining epochs, seed), so that two runs that differ in any of them
# never write the same file. The configurations committed before paths named them (quarter width,
# 3 + 2 epochs, seed 0; for a checkpoint, 6 untraining epochs, seed 0) keep the folder itself.
# A file is reused when its key (the original model, the full untraining config, the data, the
# code version) matches; a file at the path that records another configuration (or data of another
# fingerprint) is never overwritten, unless ``force``.

# Each variant states every choice it is about, so its meaning does not move with the defaults.
_CAPPED = {"forget_term": "class_mean_reciprocal_capped", "clip_scope": "global"}
_DEFAULT = {"forget_term": "class_mean_reciprocal_capped", "clip_grad_norm": 0.1, "clip_scope": "per_row"}  # today's
VARIANTS: dict[str, dict[str, Any]] = {
    # Eq. 3 as printed: the mean over the forget half of 1 / CE_i (offset by the floor 1e-4, which
    # keeps every sample's gradient), plain SGD at lr 100, no clipping, no bound on alpha
    "literal_eq3": {"forget_term": "reciprocal_per_sample_offset", "clip_grad_norm": None, "alpha_bound": None},
    "literal_eq3_clipped": {"forget_term": "reciprocal_per_sample_offset", "clip_grad_norm": 1.0,
                            "clip_scope": "global", "alpha_bound": None},
    # what "literal_eq3" ran until issue 27: CE clamped at the floor (no gradient below it) and
    # alpha bounded to [-6, 6], neither of which Eq. 3 has
    "literal_eq3_clamped_bound6": {"forget_term": "reciprocal_per_sample", "clip_grad_norm": None, "alpha_bound": 6.0},
    # one reciprocal of the forget half's mean CE (what "literal_eq3" ran before it was Eq. 3 as printed)
    "reciprocal_of_mean": {"forget_term": "reciprocal_mean", "clip_grad_norm": None},
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
    # beyond the paper: set-aware untraining, a share p of the samples trained on random class sets;
    # these variants also forget every pair and 100 random triples (``wfnet.evaluation.multiforget``)
    "sets_p0": {**_DEFAULT, "set_prob": 0.0},
    "sets_p0.25": {**_DEFAULT, "set_prob": 0.25},
    "sets_p0.5": {**_DEFAULT, "set_prob": 0.5},
}
MEASURES_SETS = frozenset(name for name, changes in VARIANTS.items() if "set_prob" in changes)


# The configurations of the files committed before paths named their configuration: those keep
# their folder; every other configuration gets a subfolder (``config_tag``).
COMMITTED_QUICK = {"width": 0.25, "train_epochs": 3, "untrain_epochs": 2, "seed": 0}
COMMITTED_CHECKPOINT = {"untrain_epochs": 6, "seed": 0}


def config_tag(params: dict[str, Any]) -> str:
    """A folder name for a run's parameters, e.g. ``width0.125-train3-untrain2-seed0``."""
    return "-".join(f"{k.replace('_epochs', '')}{v:g}" if isinstance(v, float) else f"{k.replace('_epochs', '')}{v}"
                    for k, v in params.items())


def _folder(base_dir: Path, params: dict[str, Any], committed: dict[str, Any]) -> Path:
    same = all(params[k] == v for k, v in committed.items())
    return base_dir if same else base_dir / config_tag(params)


@dataclass(frozen=True)
class Base:
    """The original model every variant starts from, and where its results go."""

    checkpoint: Path
    key: str                      # identifies the original: config hash, or file hash
    dataset: str
    train_config: dict[str, Any]
    out_dir: Path
    params: dict[str, Any]        # the run's parameters, as its folder names them


def trained_base(data: ImageDataset, backbone: str, width: float, tcfg: TrainConfig, untrain_epochs: int,
                 out: Path, runs: Path) -> Base:
    """Where the quick original model is cached (``runs/ablation/.../<key>/``, the key covering
    data, backbone, width and training config) and where its variants' results go."""
    key = content_key([data.name, backbone, width, tcfg.as_dict(), data_fingerprint(data)])
    ckpt = Path(runs) / "ablation" / data.name / backbone / key / "model.pt"
    params = {"width": width, "train_epochs": tcfg.epochs, "untrain_epochs": untrain_epochs, "seed": tcfg.seed}
    out_dir = _folder(Path(out) / "ablation" / data.name / backbone, params, COMMITTED_QUICK)
    return Base(ckpt, key, data.name, tcfg.as_dict(), out_dir, params)


def train_base(base: Base, data: ImageDataset, backbone: str, width: float, tcfg: TrainConfig,
               dev: torch.device, progress: bool) -> Loaded:
    """The quick original model: trained once; a cached checkpoint that does not load is moved
    aside and trained again."""
    loaded = load_cached(base.checkpoint, base.key, kind="original")
    if loaded is None:
        torch.manual_seed(tcfg.seed)
        model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, width)
        res = train_model(model, data, tcfg, dev, progress=progress)
        save_original(base.checkpoint, res.model, model.wfnet_spec, {"test_acc": res.test_acc, "key": base.key})
        loaded = load(base.checkpoint)
    return loaded


def checkpoint_base(checkpoint: Path, loaded: Loaded, out: Path, untrain_epochs: int = 6, seed: int = 0) -> Base:
    """A given original ``model.pt`` (e.g. from ``wfnet train``), keyed by its content."""
    dataset = loaded.dataset
    key = sha256_file(checkpoint)[:16]
    params = {"untrain_epochs": untrain_epochs, "seed": seed}
    out_dir = _folder(Path(out) / "ablation" / dataset / loaded.spec.name / f"checkpoint-{key}", params,
                      COMMITTED_CHECKPOINT)
    tcfg = loaded.meta.get("provenance", {}).get("train_config", {})
    return Base(Path(checkpoint), key, dataset, tcfg if isinstance(tcfg, dict) else {}, out_dir, params)


def _records(blob: dict[str, Any]) -> dict[str, Any]:
    """The parameters a result file records (what its folder would name)."""
    prov = blob.get("provenance") or {}
    ucfg, tcfg = prov.get("untrain_config") or {}, prov.get("train_config") or {}
    return {"width": prov.get("width"), "train_epochs": tcfg.get("epochs"),
            "untrain_epochs": ucfg.get("epochs"), "seed": prov.get("seed"),
            "data_fingerprint": prov.get("data_fingerprint")}


def _check_variant(blob: dict[str, Any]) -> None:
    for field in ("key", "variant", "acc_r", "acc_f", "zrf", "provenance"):
        if field not in blob:
            raise ValueError(f"no {field!r} field")
    if not isinstance(blob["provenance"], dict):
        raise ValueError("provenance is not an object")


def _guard_other_configuration(path: Path, blob: dict[str, Any] | None, base: Base, width: float,
                               fingerprint: str | None = None, force: bool = False) -> None:
    """Never replace a result of another configuration (one written by older code to a path
    that did not yet name its configuration, or computed on other data) unless ``force``."""
    if blob is None or force:
        return
    want = {"width": width, "train_epochs": base.train_config.get("epochs"), **base.params,
            "data_fingerprint": fingerprint}
    found = _records(blob)
    differ = {k: (found[k], v) for k, v in want.items()
              if v is not None and found.get(k) is not None and found[k] != v}
    if differ:
        what = ", ".join(f"{k} {a} (this run: {b})" for k, (a, b) in differ.items())
        raise WFNetError(f"{path} holds a result of another configuration ({what}); not overwriting it: "
                         f"pass another --out, move that file, or pass {FORCE_FLAG} to replace it")


def run_ablation(dataset: str, backbone: str, out: Path, runs: Path, width: float = 0.25,
                 train_epochs: int = 3, untrain_epochs: int = 2, device: str = "auto",
                 seed: int = 0, variants: list[str] | None = None, progress: bool = True,
                 checkpoint: Path | None = None, data_root: Path | None = None, force: bool = False,
                 allow_unverified: bool = False, precision: str = "auto") -> dict[str, dict[str, Any]]:
    """Untrain one original model with every variant; ``checkpoint`` replaces the quick model
    trained here (then ``dataset``, ``backbone`` and ``width`` are the checkpoint's). ``force``
    replaces result files that record another configuration."""
    names = list(variants or VARIANTS)
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        raise WFNetError(f"unknown variant(s) {bad}; expected some of {list(VARIANTS)}")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    # every config is made (and so checked) before any data is loaded
    cfgs = {name: replace(untrain_defaults(backbone), epochs=untrain_epochs, seed=seed, precision=precision,
                          **VARIANTS[name]) for name in names}
    if checkpoint is None:
        tcfg = replace(train_defaults(backbone), epochs=train_epochs, seed=seed, precision=precision)
        create_backbone(backbone, 2, width=width)  # a bad backbone or width fails before the data loads
        data = load_dataset(dataset, data_root)
        base = trained_base(data, backbone, width, tcfg, untrain_epochs, out, runs)
        model_width = width
    else:
        original = load(checkpoint, allow_unverified=allow_unverified)
        if original.kind != "original":
            raise WFNetError(f"{checkpoint} is a WF model; ablate an original model")
        base = checkpoint_base(checkpoint, original, out, untrain_epochs, seed)
        cfgs = {name: replace(untrain_defaults(original.spec.name), epochs=untrain_epochs, seed=seed,
                              precision=precision, **VARIANTS[name]) for name in names}
        data = load_dataset(base.dataset, data_root)
        check_checkpoint_fits(original, data, checkpoint)
        model_width = original.spec.width
    fingerprint = data_fingerprint(data)
    for cfg in cfgs.values():
        check_untrain_fits(data, cfg)
    # what is there already, read (a corrupt file moved aside) and checked before any training
    existing = {name: read_cached_json(base.out_dir / f"{name}.json", _check_variant) for name in names}
    for name, blob in existing.items():
        _guard_other_configuration(base.out_dir / f"{name}.json", blob, base, model_width, fingerprint, force)
    if checkpoint is None:
        original = train_base(base, data, backbone, width, tcfg, dev, progress)
    spec = original.spec
    rnd = random_reference(lambda: build(spec), RANDOM_REFERENCE_SEED)
    results = {}
    for name in names:
        cfg = cfgs[name]
        path = base.out_dir / f"{name}.json"
        sets_cfg = MultiForgetConfig() if name in MEASURES_SETS else None
        vkey = content_key({"original": base.key, "untrain": cfg.as_dict(), "data": fingerprint,
                            "method_version": METHOD_VERSION,
                            **({"sets": sets_cfg.as_dict()} if sets_cfg else {})})
        if existing[name] is not None and existing[name].get("key") == vkey:  # type: ignore[union-attr]
            results[name] = existing[name]  # type: ignore[assignment]
            continue
        start = time.perf_counter()
        wf = untrain(wrap(original.model, data.num_classes, init=cfg.alpha_init), data, cfg, dev, progress=progress)
        with autocast(dev, precision):
            scores = evaluate_wf(wf.model, data, dev, rnd)
            sets = evaluate_multiforget(wf.model, data, dev, sets_cfg) if sets_cfg else None
        results[name] = with_null_reasons({
            "key": vkey, "variant": name, "overrides": VARIANTS[name], "acc_r": scores.acc_r,
            "acc_f": scores.acc_f, "zrf": scores.zrf, "original_test_acc": original.meta.get("test_acc"),
            "stopped": wf.stopped, "steps": wf.steps,
            "per_class": [c.__dict__ for c in scores.per_class],
            **({"sets": sets} if sets else {}),
            "provenance": provenance(dev, time.perf_counter() - start, dataset=base.dataset,
                                     train_size=len(data.train), test_size=len(data.test),
                                     data_source=data.source, data_fingerprint=fingerprint,
                                     backbone=spec.name, width=spec.width, seed=seed,
                                     train_config=base.train_config, untrain_config=cfg.as_dict(),
                                     checkpoint=str(base.checkpoint), original_key=base.key),
        })
        atomic_write_json(path, results[name])
    return results

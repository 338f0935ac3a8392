"""Precision: "auto" means bf16 only where the hardware has it, fp32 is today's path bit for bit,
no key mixes a bf16 result with its fp32 twin, and bad values are one line."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
import torch

from wfnet import create_backbone, runtime, wrap
from wfnet.cli import main
from wfnet.experiments.presets import PRESETS
from wfnet.methods import method_names
from wfnet.methods.untrain import UntrainConfig, untrain
from wfnet.train import TrainConfig, train_model

from .conftest import synthetic_dataset

CPU = torch.device("cpu")
# sha256 of the weights and alphas after the run in ``_fp32_run``, computed with the code before
# precision existed (commit 9f925a0, where the CPU path was always fp32) on this project's machine
# kind (x86_64, AVX512, torch 2.14.1, one thread): fp32 must stay that path, bit for bit.
GOLDEN_FP32 = "cd7a584860c0346d79dfc2e473a925651319e7c05a6a7cb445a29bc7336a23a8"


@pytest.fixture
def flags(monkeypatch):
    """Pretend the CPU reports these feature flags."""
    def set_flags(*names: str) -> None:
        monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset(names))
    return set_flags


@pytest.mark.parametrize("cpu_flags, expected", [
    (("avx2", "avx512f", "amx_bf16", "amx_tile"), "bf16"),
    (("avx2", "avx512f", "avx512_bf16"), "bf16"),
    (("avx2", "avx512f", "avx512_vnni"), "fp32"),   # AVX512 without bf16 arithmetic: emulated, slower
    ((), "fp32"),                                   # no flags known (not Linux, or an ARM CPU)
])
def test_auto_is_bf16_only_where_the_cpu_has_native_bf16(flags, cpu_flags, expected):
    flags(*cpu_flags)
    assert runtime.cpu_has_native_bf16() == (expected == "bf16")
    assert runtime.resolve_precision("auto", CPU) == expected
    assert runtime.resolve_precision("fp32", CPU) == "fp32" and runtime.resolve_precision("bf16", CPU) == "bf16"
    assert runtime.resolve_precision("auto", torch.device("cuda")) == "bf16"
    with runtime.autocast(CPU, "auto"):
        assert torch.is_autocast_enabled("cpu") == (expected == "bf16")
    assert PRESETS.get("smoke").on(CPU).precision == expected


def _fp32_run() -> str:
    """A short training then untraining of a 1/8-width ResNet-18, one thread, fp32."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = synthetic_dataset(n_per_class=32, num_classes=4, size=16)
        torch.manual_seed(0)
        model = create_backbone("resnet18", 4, 1, 16, width=0.125)
        res = train_model(model, data, TrainConfig(epochs=2, batch_size=16, warmup_epochs=0, precision="fp32"), CPU,
                          progress=False)
        ucfg = UntrainConfig(epochs=2, batch_size=16, evals_per_epoch=2, precision="fp32")
        wf = untrain(wrap(res.model, 4), data, ucfg, CPU, progress=False).model
    finally:
        torch.set_num_threads(threads)
    h = hashlib.sha256()
    for t in [*res.model.state_dict().values(), *wf.alphas()]:
        h.update(t.detach().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@pytest.mark.skipif(not (torch.__version__.startswith("2.14.1") and torch.backends.cpu.get_cpu_capability()
                         in ("AVX512", "AMX")), reason="the golden value was taken with torch 2.14.1 on AVX512")
def test_fp32_is_the_cpu_path_before_precision_existed_bit_for_bit():
    assert _fp32_run() == GOLDEN_FP32


def test_a_bf16_result_never_shares_a_key_with_its_fp32_twin():
    smoke = PRESETS.get("smoke")
    fp32, bf16 = replace(smoke, precision="fp32"), replace(smoke, precision="bf16")
    for method in (*method_names(), None):
        assert fp32.key("mnist-5k", "resnet18", 0, method) != bf16.key("mnist-5k", "resnet18", 0, method), method
    assert smoke.on(CPU).key("mnist-5k", "resnet18", 0, "wfnet") in {fp32.key("mnist-5k", "resnet18", 0, "wfnet"),
                                                                     bf16.key("mnist-5k", "resnet18", 0, "wfnet")}
    cfg = fp32.method_config("salun", "mnist-5k", "resnet18", 0)  # nested configs follow the preset too
    assert cfg.finetune.precision == "fp32" and bf16.method_config("salun", "mnist-5k", "resnet18", 0).finetune.precision == "bf16"


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--out", "o", "--precision", "fp16"], "--precision"),
    (["evaluate", "--checkpoint", "c.pt", "--out", "o", "--precision", "half"], "--precision"),
    (["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--precision", "bf32"], "--precision"),
    (["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--out", "o", "--threads", "0"], "--threads"),
    (["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--threads", "-2"], "--threads"),
    (["ablate", "--threads", "100000"], "--threads"),
])
def test_bad_precision_or_threads_is_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's choices: the same one-line shape, exit 2
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written

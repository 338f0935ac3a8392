"""Issue 29: a hostile probe's cases, each a test. No run replaces another's files, a checkpoint
fits what it is used with, ``collect`` is all or nothing and trusts nothing, every config value is
bounded, and every failure of the machine is one line.

Every command-line case checks the exit status, that stderr is one line without a traceback, and
that the files are as they were (or, where the command may run, what it wrote)."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import os
import pathlib
import re
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest
import torch

from wfnet import create_backbone
from wfnet.checkpoint import load, save_original, save_wf
from wfnet.cli import main
from wfnet.errors import WFNetError
from wfnet.methods.untrain import UntrainConfig
from wfnet.train import TrainConfig
from wfnet.wrap import wrap

from .conftest import synthetic_dataset
from .test_bundle import GPU, make_bundle, result
from .test_inputs import _snapshot

# -- a workspace: checkpoints of every shape, runs of one configuration, data that may be loaded ------


def _save(path: Path, num_classes: int = 10, chans: int = 1, size: int = 28, seed: int = 0, wf: bool = False) -> None:
    torch.manual_seed(seed)
    model = create_backbone("resnet18", num_classes, chans, size, width=0.125)
    meta = {"test_acc": 50.0, "provenance": {"dataset": "mnist-5k", "seed": seed}}
    if wf:
        save_wf(path, wrap(model, num_classes), model.wfnet_spec, meta)
    else:
        save_original(path, model, model.wfnet_spec, meta)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile-ckpts")
    _save(d / "a.pt")
    _save(d / "b.pt", seed=1)
    _save(d / "wf.pt", wf=True)
    _save(d / "five.pt", num_classes=5)
    _save(d / "twenty.pt", num_classes=20)
    _save(d / "rgb.pt", chans=3)
    _save(d / "small.pt", size=16)
    blob = torch.load(d / "a.pt", weights_only=True)
    first = next(k for k, v in blob["state_dict"].items() if v.is_floating_point())
    blob["state_dict"][first].view(-1)[0] += 1.0  # weights changed ...
    del blob["sha256"]                              # ... and the checksum deleted
    torch.save(blob, d / "nosum.pt")
    return d


@pytest.fixture
def data():
    """The 10-class, 1-channel, 28 px data every loader returns (named like the checkpoints' own)."""
    return dataclasses.replace(synthetic_dataset(n_per_class=8, num_classes=10, size=28), name="mnist-5k")


def _no_work(*args, **kwargs):
    raise AssertionError("work started before every check had passed")


@pytest.fixture
def ws(tmp_path, monkeypatch, ckpts, data) -> Path:
    """cwd = a training run (D), an evaluation (E, and E_old written by older code), an untraining
    run (W), all of checkpoint ck/a.pt, seed 0; every loader returns ``data``; training,
    untraining and evaluating fail the test if they start."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ck").mkdir()
    for p in ckpts.glob("*.pt"):
        (tmp_path / "ck" / p.name).write_bytes(p.read_bytes())
    sha_a = _sha(tmp_path / "ck" / "a.pt")
    runs = {
        "D/metrics.json": {"test_acc": 50.0, "provenance": {
            "dataset": "mnist-5k", "backbone": "resnet18", "width": 0.125, "seed": 0,
            "train_config": TrainConfig().as_dict(), "data_fingerprint": "0123456789abcdef"}},
        "E/metrics.json": {"kind": "original", "acc_r": 50.0, "acc_f": 50.0, "zrf": 0.5,
                           "provenance": {"checkpoint": "ck/a.pt", "checkpoint_sha256": sha_a}},
        "E_old/metrics.json": {"kind": "original", "acc_r": 50.0, "acc_f": 50.0, "zrf": 0.5,
                               "provenance": {"checkpoint": "ck/a.pt"}},
        "W/metrics.json": {"untrain": {}, "provenance": {"checkpoint": "ck/a.pt", "checkpoint_sha256": sha_a,
                                                         "untrain_config": UntrainConfig().as_dict()}},
    }
    for rel, blob in runs.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(blob))
    (tmp_path / "D" / "model.pt").write_bytes((tmp_path / "ck" / "a.pt").read_bytes())
    (tmp_path / "W" / "wf.pt").write_bytes((tmp_path / "ck" / "wf.pt").read_bytes())
    (tmp_path / "afile").write_text("not a folder\n")
    from wfnet.data import DATASETS

    for name in DATASETS.names():
        monkeypatch.setitem(DATASETS._items, name, lambda request: data)
    for target in ("wfnet.experiments.pipeline.train_model", "wfnet.experiments.pipeline.untrain",
                   "wfnet.experiments.pipeline.evaluate_original", "wfnet.experiments.pipeline.evaluate_wf",
                   "wfnet.experiments.ablation.untrain", "wfnet.experiments.ablation.train_model",
                   "wfnet.experiments.reproduce.train_model"):
        monkeypatch.setattr(target, _no_work)
    return tmp_path


def _run(args: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def _one_line(err: str) -> None:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


T = ["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--device", "cpu", "--width", "0.125"]
U = ["untrain", "--device", "cpu", "--checkpoint"]
E = ["evaluate", "--device", "cpu", "--checkpoint"]
A = ["ablate", "--device", "cpu", "--variants", "capped", "--checkpoint"]

REFUSED = [
    # no run replaces another's files: the folder's record names the difference and --force
    ("train over another seed", T + ["--out", "D", "--seed", "1"],
     "--out D holds a training run of another configuration (seed 0 (this run: 1)"),
    ("train over another recipe", T + ["--out", "D", "--epochs", "5"], "train_config.epochs 30 (this run: 5)"),
    ("train over another width", T + ["--out", "D", "--width", "0.25"], "width 0.125 (this run: 0.25)"),
    ("train over other data", T + ["--out", "D"], "data_fingerprint '0123456789abcdef' (this run: "),
    ("the refusal names --force", T + ["--out", "D", "--seed", "1"], "or pass --force to replace them"),
    ("evaluate over another checkpoint", E + ["ck/b.pt", "--out", "E"],
     "--out E holds an evaluation of another configuration (checkpoint_sha256"),
    ("evaluate over an old record of another path", E + ["ck/b.pt", "--out", "E_old"],
     "checkpoint 'ck/a.pt' (this run: 'ck/b.pt')"),
    ("untrain over another checkpoint", U + ["ck/b.pt", "--out", "W"],
     "--out W holds an untraining run of another configuration (checkpoint_sha256"),
    ("untrain over another config", U + ["ck/a.pt", "--out", "W", "--set", "chi=2"], "untrain_config.chi 3 (this run: 2)"),
    # a checkpoint fits what it is used with, in every command
    ("evaluate 5 classes on 10", E + ["ck/five.pt", "--out", "new"], "its model takes 5 classes where mnist-5k has 10"),
    ("evaluate 20 classes on 10", E + ["ck/twenty.pt", "--out", "new"], "20 classes where mnist-5k has 10"),
    ("evaluate RGB on grey", E + ["ck/rgb.pt", "--out", "new"], "3-channel images where mnist-5k's have 1"),
    ("evaluate 16 px on 28 px", E + ["ck/small.pt", "--out", "new"], "16 px images where mnist-5k's are 28 px"),
    ("untrain 5 classes on 10", U + ["ck/five.pt", "--out", "new"], "5 classes where mnist-5k has 10"),
    ("ablate 5 classes on 10", A + ["ck/five.pt", "--out", "res", "--runs", "runs"], "5 classes where mnist-5k has 10"),
    # a checkpoint without its checksum loads only when asked
    ("evaluate without checksum", E + ["ck/nosum.pt", "--out", "new"], "has no sha256 checksum"),
    ("untrain without checksum", U + ["ck/nosum.pt", "--out", "new"], "pass --allow-unverified to load it anyway"),
    ("ablate without checksum", A + ["ck/nosum.pt", "--out", "res", "--runs", "runs"], "has no sha256 checksum"),
    # a batch larger than the data; every size bounded
    ("train batch above the bound", T + ["--out", "new", "--batch-size", "100000"],
     "train batch_size must be an integer in [2, 65536], got 100000"),
    ("train batch above the data", T + ["--out", "new", "--batch-size", "1000"],
     "train batch_size 1000 is larger than the 80 training images of mnist-5k"),
    ("train epochs above the bound", T + ["--out", "new", "--epochs", "1000000"],
     "train epochs must be an integer in [1, 10000], got 1000000"),
    ("chi of 200 GB", U + ["ck/a.pt", "--out", "new", "--set", "chi=1000000"],
     "untrain chi must be an integer in [1, 64], got 1000000"),
    ("untrain batch above the bound", U + ["ck/a.pt", "--out", "new", "--set", "batch_size=1000000"],
     "untrain batch_size must be an integer in [2, 65536]"),
    ("untrain epochs above the bound", U + ["ck/a.pt", "--out", "new", "--epochs", "100000"],
     "untrain epochs must be an integer in [1, 10000]"),
    ("untrain patience above the bound", U + ["ck/a.pt", "--out", "new", "--set", "patience=100000"],
     "untrain patience must be an integer in [1, 10000]"),
    ("ablate epochs above the bound", ["ablate", "--device", "cpu", "--train-epochs", "100000", "--out", "res"],
     "train epochs must be an integer in [1, 10000]"),
]


@pytest.mark.parametrize("what, args, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_before_any_work_in_one_line_and_nothing_changes(what, args, message, ws, capsys):
    before = _snapshot(ws)
    code, err = _run(args, capsys)
    assert code == 2, err
    assert message in err, err
    _one_line(err)
    assert _snapshot(ws) == before


def test_the_same_configuration_is_rewritten_and_force_replaces_another(tmp_path, monkeypatch, data, capsys):
    """Refusing another configuration keeps today's behaviour for the same one (rewritten) and
    gives way to --force."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("wfnet.data.load_dataset", lambda name, root=None, **kw: data)
    torch.set_num_threads(1)
    run = T + ["--out", "D", "--epochs", "1", "--batch-size", "16", "--no-progress"]
    assert main(run) == 0
    assert main(run) == 0  # the same configuration: rewritten
    before = _snapshot(tmp_path)
    capsys.readouterr()
    code, err = _run(run + ["--seed", "1"], capsys)
    assert code == 2 and "seed 0 (this run: 1)" in err and _snapshot(tmp_path) == before
    assert main(run + ["--seed", "1", "--force"]) == 0
    assert json.loads((tmp_path / "D" / "metrics.json").read_text())["provenance"]["seed"] == 1
    assert load(tmp_path / "D" / "model.pt").meta["provenance"]["seed"] == 1


def test_a_checkpoint_without_checksum_loads_with_the_flag_and_a_warning(ws, monkeypatch, capsys):
    from wfnet.evaluation.metrics import evaluate_original

    monkeypatch.setattr("wfnet.experiments.pipeline.evaluate_original", evaluate_original)
    code, err = _run(E + ["ck/nosum.pt", "--out", "new", "--allow-unverified"], capsys)
    assert code == 0, err
    assert "ck/nosum.pt has no sha256 checksum: loaded unverified (--allow-unverified)" in err
    assert json.loads((ws / "new" / "metrics.json").read_text())["provenance"]["checkpoint_sha256"] == _sha(
        ws / "ck" / "nosum.pt")


def test_configs_are_bounded_as_their_docs_say():
    from wfnet.evaluation.mia import MIAConfig
    from wfnet.evaluation.relearn import RelearnConfig
    from wfnet.experiments.presets import PRESETS
    from wfnet.methods.baselines import FinetuneConfig
    from wfnet.methods.salun import SalunConfig
    from wfnet.methods.ssd import SSDConfig

    for cls, changes, message in [
        (UntrainConfig, {"chi": 65}, "untrain chi must be an integer in [1, 64], got 65"),
        (UntrainConfig, {"evals_per_epoch": 1001}, "untrain evals_per_epoch must be an integer in [1, 1000]"),
        (TrainConfig, {"batch_size": 65537}, "train batch_size must be an integer in [2, 65536]"),
        (FinetuneConfig, {"epochs": 10001}, "finetune epochs must be an integer in [1, 10000]"),
        (FinetuneConfig, {"lr": float("nan")}, "finetune lr must be a finite number > 0"),
        (FinetuneConfig, {"retain_ratio": 1e6}, "finetune retain_ratio must be a finite number >= 0 and <= 64"),
        (RelearnConfig, {"samples_per_epoch": 10**9}, "relearn samples_per_epoch must be an integer in [1, 10000000]"),
        (RelearnConfig, {"max_epochs": 0}, "relearn max_epochs must be an integer >= 1"),
        (RelearnConfig, {"optimizer": "lion"}, "relearn optimizer must be one of ['sgd', 'adamw']"),
        (SSDConfig, {"batch_size": 10**6}, "ssd batch_size must be an integer in [1, 65536]"),
        (SalunConfig, {"saliency_fraction": 2.0}, "salun saliency_fraction must be a finite number > 0 and <= 1"),
        (MIAConfig, {"max_iter": 10**7}, "mia max_iter must be an integer in [1, 100000]"),
        (MIAConfig, {"features": ("loss",)}, "mia features must be some of"),
    ]:
        with pytest.raises(WFNetError, match=re.escape(message)):
            cls(**changes)
    for preset in PRESETS.names():  # every preset's configs stay inside the bounds
        p = PRESETS.get(preset)
        for backbone in ("resnet18", "vit_small"):
            p.train_config("cifar10", backbone, 0), p.untrain_config(backbone, 0), p.relearn_config(backbone, 0)


# -- the machine: a cache path that is a file, a full disk, a read-only subfolder --------------------


def test_a_cache_path_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    from .test_reliability import _idx_folder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    root = _idx_folder(tmp_path / "data", truncate=False)
    (tmp_path / "cachefile").write_text("x")
    monkeypatch.setenv("WFNET_CACHE", str(tmp_path / "cachefile"))
    monkeypatch.setattr("wfnet.experiments.pipeline.train_model", _no_work)
    before = _snapshot(tmp_path)
    code, err = _run(["train", "--dataset", "mnist", "--backbone", "resnet18", "--out", "new", "--device", "cpu",
                      "--data-root", str(root)], capsys)
    assert code == 2 and f"the cache folder {tmp_path / 'cachefile'} (WFNET_CACHE) is a file, not a folder" in err
    _one_line(err)
    assert _snapshot(tmp_path) == before


def _mount(*args: str) -> bool:
    return os.geteuid() == 0 and subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB file system (tmpfs): a real ENOSPC. Needs root; skipped elsewhere (the in-process
    test below simulates it)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` read-only: chmod for a user, a read-only bind mount for root (whom permission
    bits do not stop)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if not (_mount("--bind", str(folder), str(folder)) and _mount("-o", "remount,ro,bind", str(folder))):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        pytest.skip("cannot make a read-only bind mount here")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_disk_that_fills_during_the_run_is_one_line_and_leaves_no_half_pair(small_disk, tmp_path, monkeypatch,
                                                                                data, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("wfnet.data.load_dataset", lambda name, root=None, **kw: data)
    torch.set_num_threads(1)
    code, err = _run(T + ["--out", str(small_disk / "run"), "--epochs", "1", "--batch-size", "16", "--no-progress"],
                     capsys)
    assert code == 2 and "No space left on device" in err, err
    _one_line(err)
    assert _files(small_disk) == {}  # neither model.pt nor metrics.json, no temporary file


def test_a_full_disk_is_refused_before_the_work(small_disk, ws, capsys):
    with contextlib.suppress(OSError), open(small_disk / "filler", "wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    before = _files(small_disk)
    code, err = _run(T + ["--out", str(small_disk / "run")], capsys)  # training would fail the test
    assert code == 2 and f"--out {small_disk / 'run'} cannot be written: No space left on device" in err, err
    _one_line(err)
    assert _files(small_disk) == before


def test_metrics_that_cannot_be_written_take_the_checkpoint_with_them(tmp_path, monkeypatch, data, capsys):
    """ENOSPC simulated in-process (any machine): the disk fills between model.pt and metrics.json."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("wfnet.data.load_dataset", lambda name, root=None, **kw: data)
    torch.set_num_threads(1)
    real = pathlib.Path.write_text

    def full(self, *args, **kwargs):
        if "metrics.json" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    code, err = _run(T + ["--out", "run", "--epochs", "1", "--batch-size", "16", "--no-progress"], capsys)
    assert code == 2 and "cannot write run/metrics.json: No space left on device" in err, err
    _one_line(err)
    assert _files(tmp_path / "run") == {}  # no model.pt without its metrics.json


def test_a_read_only_results_subfolder_is_refused_before_the_work(ws, capsys):
    cell = ws / "results" / "smoke" / "mnist-5k" / "resnet18"
    cell.mkdir(parents=True)
    (cell / "original.json").write_text("{}")
    with read_only(cell):
        before = _snapshot(ws)
        code, err = _run(["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--device", "cpu",
                          "--out", "results", "--runs", "runs"], capsys)  # loading data would train
        assert code == 2 and "--out results cannot be written" in err and str(cell.relative_to(ws)) in err, err
        _one_line(err)
        assert _snapshot(ws) == before


def test_an_unforeseen_failure_of_the_machine_is_one_line(ws, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "/dev/sda")

    monkeypatch.setattr("wfnet.experiments.pipeline.load_dataset", broken)
    code, err = _run(E + ["ck/a.pt", "--out", "new"], capsys)
    assert code == 2 and "Input/output error: /dev/sda" in err
    _one_line(err)


# -- results of another configuration at reproduce's paths -----------------------------------------


@pytest.fixture
def nano_results(tmp_path, monkeypatch):
    from .test_inputs import _nano

    data = synthetic_dataset(num_classes=2)
    monkeypatch.setattr("wfnet.experiments.reproduce.load_dataset", lambda name, root=None, **kw: data)
    from wfnet.experiments.pipeline import data_fingerprint
    from wfnet.experiments.reproduce import reproduce

    path = tmp_path / "results" / "nano" / "synthetic" / "resnet18" / "original.json"
    path.parent.mkdir(parents=True)

    def run(**kw):
        return reproduce("synthetic", "resnet18", _nano(), tmp_path / "results", tmp_path / "runs", "cpu",
                         methods=["original"], progress=False, **kw)
    return path, run, data_fingerprint(data)


@pytest.mark.parametrize("prov, message", [
    ({"seed": 0, "data_fingerprint": "0000000000000000"}, "data_fingerprint '0000000000000000' (this run: "),
    ({"seed": 2}, "seed 2 (this run: 0)"),
])
def test_a_result_of_another_configuration_is_not_replaced_by_reproduce(nano_results, monkeypatch, prov, message):
    path, run, _ = nano_results
    path.write_text(json.dumps({"method": "original", "preset": "nano", "dataset": "synthetic",
                                "backbone": "resnet18", "acc_r": 1.0, "provenance": {"key": "old", **prov}}))
    before = path.read_bytes()
    monkeypatch.setattr("wfnet.experiments.reproduce.train_model", _no_work)
    with pytest.raises(WFNetError, match=re.escape(f"original.json holds a result of another configuration ({message}")):
        run()
    assert path.read_bytes() == before


def test_force_recomputes_a_result_of_another_configuration(nano_results):
    path, run, fingerprint = nano_results
    path.write_text(json.dumps({"method": "original", "preset": "nano", "dataset": "synthetic", "backbone": "resnet18",
                                "provenance": {"seed": 0, "data_fingerprint": "0000000000000000"}}))
    torch.set_num_threads(1)
    run(force=True)
    assert json.loads(path.read_text())["provenance"]["data_fingerprint"] == fingerprint


def test_ablate_force_lets_another_configuration_be_replaced(tmp_path):
    from wfnet.experiments.ablation import Base, _guard_other_configuration

    base = Base(tmp_path / "m.pt", "k", "synthetic", {"epochs": 3}, tmp_path, {"untrain_epochs": 2, "seed": 0})
    blob = {"provenance": {"width": 0.5, "seed": 0, "data_fingerprint": "aaaa"}}
    with pytest.raises(WFNetError, match=r"width 0.5 \(this run: 0.25\), data_fingerprint aaaa .* or pass --force"):
        _guard_other_configuration(tmp_path / "x.json", blob, base, 0.25, "bbbb")
    _guard_other_configuration(tmp_path / "x.json", blob, base, 0.25, "bbbb", force=True)


# -- plan and next read result files that are not results ------------------------------------------


@pytest.mark.parametrize("args", [
    ["plan", "--preset", "smoke", "--dataset", "mnist-5k", "--backbone", "resnet18", "--results", "results"],
    ["next", "--budget", "1", "--preset", "smoke", "--dataset", "mnist-5k", "--backbone", "resnet18",
     "--results", "results", "--runs", "runs", "--bundle-dir", "out", "--device", "cpu"],
], ids=["plan", "next"])
def test_plan_and_next_read_a_list_or_a_bad_provenance_as_stale(tmp_path, monkeypatch, args, capsys):
    monkeypatch.chdir(tmp_path)
    cell = tmp_path / "results" / "smoke" / "mnist-5k" / "resnet18"
    cell.mkdir(parents=True)
    (cell / "original.json").write_text("[]")
    (cell / "wfnet.json").write_text(json.dumps({"key": None, "provenance": ["not", "an", "object"]}))
    before = _snapshot(tmp_path)
    code, err = _run(args, capsys)
    assert code == 0 and "Traceback" not in err, err
    assert _snapshot(tmp_path) == before


# -- collect: all or nothing, trusting nothing -----------------------------------------------------

CELL = "paper/cifar10/resnet18"


def _rows(n: int = 10, **changes) -> list[dict]:
    return [{"cls": c, "name": str(c), "acc_r": 90.0, "acc_f": 0.0, "zrf": 0.5, **changes} for c in range(n)]


def _retrained_piece(cls: int, **changes) -> dict:
    from wfnet.experiments.presets import PRESETS

    key = PRESETS.get("paper").key("cifar10", "resnet18", 0, "retrained")
    blob = result(method="retrained", key=key)
    return {"key": key, "cls": cls, "name": str(cls), "acc_r": 90.0, "acc_f": 0.0, "zrf": 0.5, "rt": 3,
            "provenance": {**blob["provenance"], "cls": cls}, **changes}


def _with(**changes) -> dict:
    blob = result()
    prov = changes.pop("provenance", {})
    return {**blob, **changes, "provenance": {**blob["provenance"], **prov}}


def _cell(path: str, **kw) -> dict:
    preset, dataset, backbone = path.split("/")
    return result(preset=preset, dataset=dataset, backbone=backbone, **kw)


UNTRUSTED = [
    ("device CPU", _with(provenance={"device": "CPU"}), "must come from a GPU"),
    ("device mps", _with(provenance={"device": "mps"}), "but its device is 'mps'"),
    ("device meta", _with(provenance={"device": "meta"}), "but its device is 'meta'"),
    ("device potato", _with(provenance={"device": "potato"}), "but its device is 'potato'"),
    ("a piece on a CPU", _with(provenance={"piece_devices": [GPU, "cpu (x86_64, 2 threads)"]}),
     "but its device is 'cpu (x86_64, 2 threads)'"),
    ("acc_r a string", _with(acc_r="NaN"), "acc_r is 'NaN', not a number"),
    ("per_class a string", _with(per_class="lots"), "per_class is not a list of objects"),
    ("acc_r above 100", _with(acc_r=150.0), "acc_r is 150.0, outside [0, 100]"),
    ("acc_f below 0", _with(acc_f=-1.0), "acc_f is -1.0, outside [0, 100]"),
    ("zrf above 1", _with(zrf=2.0), "zrf is 2.0, outside [0, 1]"),
    ("rt above 100", _with(rt=1000), "rt is 1000, outside [0, 100]"),
    ("null without a reason", _with(acc_r=None), "acc_r is null without a reason in null_reasons"),
    ("per_class too short", _with(per_class=_rows(9)), "per_class is a list of 9, expected a list of 10 classes"),
    ("per_class out of order", _with(per_class=_rows()[::-1]), "per_class.0.cls is 9, expected 0"),
    ("per_class score a string", _with(per_class=_rows(zrf="x")), "per_class.0.zrf is 'x', not a number"),
    ("rt_failed above the classes", _with(rt_failed=11), "rt_failed is 11, not a count of classes in [0, 10]"),
]
UNREGISTERED = [
    ("paper/svhn/resnet18/original.json", _cell("paper/svhn/resnet18"), "'svhn' is not a registered dataset"),
    ("paper/cifar10/resnet19/original.json", _cell("paper/cifar10/resnet19"), "'resnet19' is not a registered backbone"),
    (f"{CELL}/retrained/class_10.json", _retrained_piece(10), "class 10 out of range (cifar10 has classes 0..9)"),
    (f"{CELL}/retrained/class_3.json", _retrained_piece(3, acc_f=101.0), "acc_f is 101.0, outside [0, 100]"),
    (f"{CELL}/relationships.csv", "layer,filter,class,relevance\nconv1,zero,cat,NaN\n", "line 2 is not layer,filter"),
]


def _collect(bundle: Path, results: Path, capsys, *flags: str) -> tuple[int, str]:
    return _run(["collect", str(bundle), "--results", str(results), *flags], capsys)


@pytest.fixture
def results(tmp_path) -> Path:
    root = tmp_path / "results"
    (root / "paper").mkdir(parents=True)
    (root / "paper" / "keep.txt").write_text("untouched")
    return root


@pytest.mark.parametrize("rel, blob, message", [(f"{CELL}/original.json", b, m) for _, b, m in UNTRUSTED] + UNREGISTERED,
                         ids=[u[0] for u in UNTRUSTED] + [u[0].split("/", 1)[1] for u in UNREGISTERED])
def test_collect_refuses_what_this_code_would_not_write(tmp_path, results, rel, blob, message, capsys):
    bundle = make_bundle(tmp_path, {f"{CELL}/wfnet.json": result(method="wfnet"), rel: blob})
    before = _snapshot(results)
    code, err = _collect(bundle, results, capsys)
    assert code == 2 and message in err, err
    _one_line(err)
    assert _snapshot(results) == before


def test_collect_lands_a_null_that_says_why(tmp_path, results, capsys):
    blob = _with(acc_f=None, null_reasons={"acc_f": "nan (not a finite number: could not be computed)"})
    code, err = _collect(make_bundle(tmp_path, {f"{CELL}/original.json": blob}), results, capsys)
    assert code == 0, err


def _gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _corrupt_stream(good: bytes) -> bytes:
    """``good`` with 4 bytes flipped where the plain tarfile reader dies of a raw ``zlib.error``."""
    for pos in range(len(good) // 3, len(good) - 16, 7):
        bad = bytearray(good)
        for k in range(4):
            bad[pos + k] ^= 0x5A
        try:
            with tarfile.open(fileobj=io.BytesIO(bytes(bad)), mode="r:gz") as tar:
                for m in tar.getmembers():
                    tar.extractfile(m).read()  # type: ignore[union-attr]
        except zlib.error:
            return bytes(bad)
        except (tarfile.TarError, OSError, EOFError):
            continue
    pytest.skip("no corruption of this stream reaches zlib")


def test_collect_of_a_corrupt_gzip_stream_is_one_line(tmp_path, results, capsys):
    curve = [[i / 3000, i % 97] for i in range(3000)]  # members large enough for the deflate stream to break inside
    good = make_bundle(tmp_path, {f"{CELL}/{m}.json": {**result(method=m), "insertion_curve": curve}
                                  for m in ("original", "wfnet", "retrained")})
    bad = tmp_path / "corrupt.tar.gz"
    bad.write_bytes(_corrupt_stream(good.read_bytes()))
    before = _snapshot(results)
    code, err = _collect(bad, results, capsys)
    assert code == 2 and "is not a readable .tar.gz" in err, err
    _one_line(err)
    assert _snapshot(results) == before


@pytest.mark.parametrize("cap, value, message", [
    ("MAX_MEMBER_BYTES", 1000, "above the 1000 a file may be"),  # a member's header says more than a file may be
    ("MAX_BUNDLE_BYTES", 10_000, "decompressed"),            # the gzip trailer (or the members) say more
    ("MAX_MEMBERS", 1, "has more than 1 members"),
])
def test_collect_caps_a_bundle_from_its_headers(tmp_path, results, monkeypatch, cap, value, message, capsys):
    import wfnet.experiments.bundle as bundle_mod

    bundle = make_bundle(tmp_path, {f"{CELL}/original.json": json.dumps(result()) + " " * 4000})
    monkeypatch.setattr(bundle_mod, cap, value)
    read: list[str] = []
    real = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: read.append(str(m)) or real(self, m))
    before = _snapshot(results)
    code, err = _collect(bundle, results, capsys)
    assert code == 2 and message in err, err
    _one_line(err)
    assert _snapshot(results) == before
    assert not any("original.json" in r for r in read)  # refused before its data was decompressed


def test_a_conflicting_result_is_refused_unless_replace_which_keeps_the_old_one(tmp_path, results, capsys):
    rel = f"{CELL}/original.json"
    first = make_bundle(tmp_path / "1", {rel: result()})
    assert _collect(first, results, capsys)[0] == 0
    rerun = make_bundle(tmp_path / "2", {rel: _with(provenance={"wall_seconds": 99.0})})  # same numbers
    assert _collect(rerun, results, capsys)[0] == 0
    other = make_bundle(tmp_path / "3", {f"{CELL}/wfnet.json": result(method="wfnet"), rel: _with(acc_r=91.0)})
    before = _snapshot(results)
    code, err = _collect(other, results, capsys)
    assert code == 2 and f"{rel} conflicts with the result collected before (same key" in err and "--replace" in err
    _one_line(err)
    assert _snapshot(results) == before
    old = (results / rel).read_bytes()
    code, err = _collect(other, results, capsys, "--replace")
    assert code == 0, err
    assert json.loads((results / rel).read_text())["acc_r"] == 91.0
    kept = list((results / CELL).glob("original.json.replaced-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == old  # nothing lost
    assert (results / CELL / "wfnet.json").is_file()


def test_a_failed_rename_midway_puts_back_what_was_moved(tmp_path, results, monkeypatch, capsys):
    stale = results / CELL / "original.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps(result(key="0" * 16)))  # a stale file (older code): it would be replaced
    bundle = make_bundle(tmp_path, {f"{CELL}/{m}.json": result(method=m) for m in ("original", "retrained", "wfnet")})
    before = _snapshot(results)
    real, calls = os.replace, []

    def flaky(src, dst, *args, **kwargs):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", flaky)
    code, err = _collect(bundle, results, capsys)
    assert code == 2 and "Input/output error" in err, err
    _one_line(err)
    assert _snapshot(results) == before  # the first file put back; nothing half-collected
    assert not [p for p in results.rglob("*") if p.name.startswith(".")]  # no staging or backup left


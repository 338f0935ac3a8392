"""Issue 20: nothing lost, nothing silently wrong.

A table of bad inputs through the command line: each exits 2 with one line naming the value or
the file, without a traceback, before any data is loaded, and leaves every file as it was. Then
what used to lose work: a seed-1 run beside seed-0 results, corrupt results and caches, a
tampered checkpoint, metrics that are not numbers, an ablation of another width.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wfnet import create_backbone
from wfnet.checkpoint import load, load_cached, save_original, save_wf
from wfnet.cli import main
from wfnet.errors import CheckpointError, CorruptFileError, DatasetNotFoundError, WFNetError
from wfnet.wrap import wrap

from .conftest import synthetic_dataset

# -- a workspace of the kind a user has: a training run, an untraining run, results ----------------


def _tiny(num_classes: int = 10, size: int = 28):
    torch.manual_seed(0)
    return create_backbone("resnet18", num_classes, 1, size, width=0.125)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Good and broken checkpoints, made once (read-only for the tests)."""
    d = tmp_path_factory.mktemp("ckpts")
    model = _tiny()
    meta = {"test_acc": 50.0, "provenance": {"dataset": "mnist-5k"}}
    save_original(d / "model.pt", model, model.wfnet_spec, meta)
    save_wf(d / "wf.pt", wrap(model, 10), model.wfnet_spec, meta)
    blob = torch.load(d / "model.pt", weights_only=True)

    def variant(name: str, **changes: object) -> None:
        b = {**blob, **changes}
        for k in [k for k, v in changes.items() if v is None]:
            del b[k]
        torch.save(b, d / name)

    tampered = {k: v.clone() for k, v in blob["state_dict"].items()}
    first = next(k for k, v in tampered.items() if v.is_floating_point())
    tampered[first].view(-1)[0] += 1.0  # one weight changed, everything else (and the checksum) kept
    variant("tampered.pt", state_dict=tampered)
    variant("nospec.pt", spec=None)
    variant("listmeta.pt", meta="[1, 2]")
    variant("badjson.pt", meta="{not json")
    variant("statelist.pt", state_dict=[1, 2, 3])
    spec = json.loads(blob["spec"])
    variant("unknownbackbone.pt", spec=json.dumps({**spec, "name": "resnet19"}))
    variant("textclasses.pt", spec=json.dumps({**spec, "num_classes": "ten"}))
    variant("extraspec.pt", spec=json.dumps({**spec, "depth": 18}))
    variant("oldformat.pt", sha256=None)  # saved before checksums existed: loads only when asked
    (d / "truncated.pt").write_bytes((d / "model.pt").read_bytes()[:2000])
    return {p.stem: p for p in d.glob("*.pt")}


@pytest.fixture
def workspace(tmp_path, monkeypatch, checkpoints) -> Path:
    """cwd = a folder with a training run, an untraining run, a results tree and a file; every
    dataset loader replaced by one that fails the test if it is ever reached."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orig").mkdir()
    shutil.copy(checkpoints["model"], tmp_path / "orig" / "model.pt")
    (tmp_path / "orig" / "metrics.json").write_text(json.dumps({"test_acc": 50.0, "provenance": {}}))
    (tmp_path / "wf").mkdir()
    shutil.copy(checkpoints["wf"], tmp_path / "wf" / "wf.pt")
    (tmp_path / "wf" / "metrics.json").write_text(json.dumps({"untrain": {}, "provenance": {}}))
    search = tmp_path / "results" / "smoke" / "mnist-5k" / "resnet18" / "baseline_search.json"
    search.parent.mkdir(parents=True)
    search.write_text(json.dumps({"key": "k", "methods": {}, "provenance": {"seed": 0}}))
    (tmp_path / "afile").write_text("not a folder\n")
    from wfnet.data import DATASETS

    def never(request):
        raise AssertionError("data loaded before every value was checked")

    for name in DATASETS.names():
        monkeypatch.setitem(DATASETS._items, name, never)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(root.rglob("*"))}


T = ["train", "--dataset", "mnist-5k", "--backbone", "resnet18", "--device", "cpu"]
U = ["untrain", "--checkpoint", "orig/model.pt", "--out", "new", "--device", "cpu"]
E = ["evaluate", "--out", "new", "--device", "cpu", "--checkpoint"]
R = ["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--device", "cpu"]
A = ["ablate", "--device", "cpu", "--variants", "capped"]

BAD_INPUTS = [
    # values of train
    (T + ["--out", "new", "--lr", "nan"], "--lr must be positive and finite, got nan"),
    (T + ["--out", "new", "--lr", "inf"], "--lr must be positive and finite, got inf"),
    (T + ["--out", "new", "--lr", "-1"], "--lr must be positive and finite, got -1.0"),
    (T + ["--out", "new", "--epochs", "0"], "--epochs must be positive, got 0"),
    (T + ["--out", "new", "--batch-size", "1"], "--batch-size must be at least 2, got 1"),
    (T + ["--out", "new", "--width", "0"], "--width must be in (0, 1]"),
    (T + ["--out", "new", "--width", "1.5"], "--width must be in (0, 1]"),
    (T + ["--out", "new", "--seed", "-1"], "--seed must be an integer in [0, 2**63), got -1"),
    (T + ["--out", "new", "--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
    # outputs of train
    (T + ["--out", "afile"], "--out afile is an existing file, not a folder"),
    (T + ["--out", "afile/run"], "--out afile/run cannot be created: afile is a file"),
    (T + ["--out", "wf"], "--out wf holds an untraining run; train would replace its metrics.json"),
    # every --set of untrain, checked before any data
    (U + ["--set", "evals_per_epoch=0"], "untrain evals_per_epoch must be an integer >= 1, got 0"),
    (U + ["--set", "chi=-1"], "untrain chi must be an integer >= 1, got -1"),
    (U + ["--set", "lr=-100"], "untrain lr must be a finite number > 0, got -100.0"),
    (U + ["--set", "lr=nan"], "untrain lr must be a finite number > 0, got nan"),
    (U + ["--set", "alpha_bound=-1"], "untrain alpha_bound must be a finite number > 0 or none, got -1.0"),
    (U + ["--set", "epochs=0"], "untrain epochs must be an integer >= 1, got 0"),
    (U + ["--set", "val_fraction=0.99"], "untrain val_fraction must be a finite number > 0 and <= 0.5, got 0.99"),
    (U + ["--set", "val_fraction=0"], "untrain val_fraction must be a finite number > 0 and <= 0.5, got 0.0"),
    (U + ["--set", "batch_size=1"], "untrain batch_size must be an integer >= 2, got 1"),
    (U + ["--set", "patience=0"], "untrain patience must be an integer >= 1, got 0"),
    (U + ["--set", "max_val_batches=0"], "untrain max_val_batches must be an integer >= 1, got 0"),
    (U + ["--set", "clip_grad_norm=nan"], "untrain clip_grad_norm must be a finite number > 0 or none, got nan"),
    (U + ["--set", "lambda1=inf"], "untrain lambda1 must be a finite number >= 0, got inf"),
    (U + ["--set", "ce_cap=0.00001"], "untrain ce_cap (1e-05) must be above ce_floor"),
    (U + ["--set", "optimizer=rmsprop"], "untrain optimizer must be one of ['sgd', 'adam'], got 'rmsprop'"),
    (U + ["--set", "seed=-3"], "untrain seed must be an integer in [0, 2**63), got -3"),
    (U + ["--epochs", "0"], "--epochs must be positive, got 0"),
    (U + ["--lr", "nan"], "--lr must be positive and finite, got nan"),
    (["untrain", "--checkpoint", "wf/wf.pt", "--out", "new", "--device", "cpu"], "wf/wf.pt is already a WF model"),
    (["untrain", "--checkpoint", "orig/model.pt", "--out", "orig", "--device", "cpu"],
     "--out orig holds a training run; untrain would replace its metrics.json"),
    # evaluate: its output folder, and every way a checkpoint can be broken
    (["evaluate", "--checkpoint", "orig/model.pt", "--out", "orig", "--device", "cpu"],
     "--out orig holds a training run; evaluate would replace its metrics.json"),
    (["evaluate", "--checkpoint", "wf/wf.pt", "--out", "wf", "--device", "cpu"],
     "--out wf holds an untraining run; evaluate would replace its metrics.json"),
    (E + ["{tampered}"], "was altered or damaged after it was saved"),
    (E + ["{truncated}"], "cannot load checkpoint"),
    (E + ["{nospec}"], "is not a valid wfnet checkpoint: no 'spec' field"),
    (E + ["{listmeta}"], "'meta' holds a JSON list, expected dict"),
    (E + ["{badjson}"], "'meta' is not valid JSON"),
    (E + ["{statelist}"], "'state_dict' is list, expected a dict of tensors"),
    (E + ["{unknownbackbone}"], "unknown backbone 'resnet19'"),
    (E + ["{textclasses}"], "spec num_classes 'ten' is not a positive integer"),
    (E + ["{extraspec}"], "spec has unknown fields ['depth']"),
    # reproduce
    (R + ["--preset", "paper"], "pass --allow-slow to run it on the CPU anyway"),
    (R + ["--preset", "paper"], "so roughly"),
    (R + ["--methods", "wfnet", "foo"], "unknown method(s) ['foo']"),
    (R + ["--methods", "retrained", "--classes", "-1"], "--classes [-1] out of range"),
    (R + ["--classes", "3"], "use it with --methods retrained"),
    (R + ["--seed", "-1"], "--seed must be"),
    (R + ["--seeds", "0", "-2"], "--seed must be an integer in [0, 2**63), got -2"),
    (R + ["--seeds", "0", "1", "0"], "--seeds [0, 1, 0] repeats a seed"),
    (R + ["--seed", "3", "--seeds", "0", "1"], "give either --seed or --seeds, not both"),
    (R + ["--out", "afile"], "--out afile is an existing file"),
    (R + ["--runs", "afile"], "--runs afile is an existing file"),
    (R + ["--dataset", "svhn"], "unknown dataset 'svhn'"),
    # ablate
    (A + ["--untrain-epochs", "-3"], "--untrain-epochs must be positive, got -3"),
    (A + ["--train-epochs", "0"], "--train-epochs must be positive, got 0"),
    (A + ["--width", "0"], "--width must be in (0, 1]"),
    (A + ["--width", "2"], "--width must be in (0, 1]"),
    (A + ["--variants", "bogus"], "unknown variant(s) ['bogus']"),
    (A + ["--out", "afile"], "--out afile is an existing file"),
    (A + ["--checkpoint", "wf/wf.pt"], "is a WF model; ablate an original model"),
    # the queue and the baseline search
    (["next", "--budget", "nan", "--device", "cpu"], "--budget must be positive and finite, got nan"),
    (["next", "--budget", "-5", "--device", "cpu"], "--budget must be positive and finite, got -5.0"),
    (["search-baselines", "--dataset", "mnist-5k", "--backbone", "resnet18", "--preset", "paper", "--device", "cpu"],
     "--allow-slow"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[f"{i}-{a[0]}" for i, (a, _) in enumerate(BAD_INPUTS)])
def test_bad_input_is_one_line_before_any_work_and_changes_nothing(args, message, workspace, checkpoints, capsys):
    args = [a.format(**{k: str(v) for k, v in checkpoints.items()}) for a in args]
    before = _snapshot(workspace)
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own checks (a value of the wrong type)
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(workspace) == before  # nothing written, nothing created, nothing changed


def test_an_unwritable_output_folder_is_refused_before_any_work(workspace, capsys):
    if os.geteuid() == 0:  # root writes anywhere a permission bit forbids: use a folder no one may write
        target = Path("/proc/1/wfnet-out")
        if os.access("/proc/1", os.W_OK):
            pytest.skip("no folder here is unwritable for this user")
    else:
        (workspace / "ro").mkdir(mode=0o555)
        target = workspace / "ro" / "run"
    assert main(T + ["--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"--out {target} is not writable" in err and len(err.strip().splitlines()) == 1


def test_wfnet_error_is_a_value_error():
    assert issubclass(WFNetError, ValueError) and issubclass(CheckpointError, ValueError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError) and issubclass(CorruptFileError, WFNetError)


# -- checkpoints -------------------------------------------------------------------------------------


def test_tampered_weights_are_refused_and_old_checkpoints_load_only_when_asked(checkpoints, capfd):
    with pytest.raises(CheckpointError, match="altered or damaged after it was saved"):
        load(checkpoints["tampered"])
    with pytest.raises(CheckpointError, match="has no sha256 checksum .* pass --allow-unverified"):
        load(checkpoints["oldformat"])  # no checksum: cannot be verified
    capfd.readouterr()
    old = load(checkpoints["oldformat"], allow_unverified=True)  # asked for: loads, with a warning
    assert old.kind == "original"
    assert "has no sha256 checksum: loaded unverified" in capfd.readouterr().err
    blob = torch.load(checkpoints["model"], weights_only=True)
    assert len(blob["sha256"]) == 64


def test_a_corrupt_cached_checkpoint_is_moved_aside(tmp_path, checkpoints, capfd):
    cache = tmp_path / "model.pt"
    shutil.copy(checkpoints["truncated"], cache)
    assert load_cached(cache, "anykey") is None
    aside = list(tmp_path.glob("model.pt.corrupt-*"))
    assert not cache.exists() and len(aside) == 1 and aside[0].read_bytes() == checkpoints["truncated"].read_bytes()
    assert f"{cache} is unreadable" in capfd.readouterr().err


# -- values checked where only the data can settle them, metrics that are not numbers ---------------


@pytest.fixture
def ten_class_data(monkeypatch):
    data = synthetic_dataset(num_classes=10, size=28)
    monkeypatch.setattr("wfnet.experiments.pipeline.load_dataset", lambda name, root=None, **kw: data)
    return data


def test_a_batch_larger_than_the_data_is_refused_before_untraining(workspace, ten_class_data, capsys):
    assert main(U + ["--set", "batch_size=4096"]) == 2
    assert "larger than the 216 training images left" in capsys.readouterr().err
    assert not (workspace / "new").exists()


def test_non_finite_metrics_are_written_as_null_with_the_reason(workspace, ten_class_data, monkeypatch, capsys):
    """The CLI pipeline keeps its promise: a loss that is NaN is null in metrics.json, and the
    run still writes both files (it used to die at the very end, leaving wf.pt alone)."""
    import wfnet.experiments.pipeline as pipeline
    from wfnet.methods.untrain import UntrainResult

    def diverged(model, data, cfg, device, progress=True):
        return UntrainResult(model, float("nan"), 3, 0.1, "non_finite", 0.5,
                             [{"step": 0, "val_loss": float("inf")}])

    monkeypatch.setattr(pipeline, "untrain", diverged)
    assert main(U + ["--no-progress"]) == 0
    assert "best val loss - " in capsys.readouterr().out
    metrics = json.loads((workspace / "new" / "metrics.json").read_text())
    assert metrics["untrain"]["best_val_loss"] is None and metrics["untrain"]["history"][0]["val_loss"] is None
    assert metrics["null_reasons"] == {"untrain.best_val_loss": "nan (not a finite number: could not be computed)",
                                       "untrain.history.0.val_loss": "inf (not a finite number: could not be computed)"}
    assert load(workspace / "new" / "wf.pt").meta["untrain"]["best_val_loss"] is None


# -- results and caches: seeds side by side, corrupt files recovered ---------------------------------


def _nano():
    from wfnet.evaluation.relearn import RelearnConfig
    from wfnet.experiments.presets import PRESETS, RECIPE_GROUPS, Recipe
    from wfnet.methods.baselines import FinetuneConfig

    return replace(PRESETS.get("smoke"), name="nano", width=0.0625, recipes={g: Recipe(epochs=1, batch_size=32) for g in RECIPE_GROUPS},
                   untrain_epochs=1, random_labels=FinetuneConfig(epochs=1, lr=0.01, batch_size=16),
                   relearn=RelearnConfig(max_epochs=1, samples_per_epoch=32), insdel_steps=1)


@pytest.fixture
def one_thread():
    """Tiny models run several times faster on one thread than on two when other jobs share the
    cores (thread contention); same results within a run, which is all these tests compare."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def synthetic_runs(tmp_path, monkeypatch, one_thread):
    data = synthetic_dataset(num_classes=2)
    monkeypatch.setattr("wfnet.experiments.reproduce.load_dataset", lambda name, root=None, **kw: data)
    from wfnet.experiments.reproduce import reproduce

    def run(seed: int = 0, methods=("original", "random_labels")):
        return reproduce("synthetic", "resnet18", _nano(), tmp_path / "results", tmp_path / "runs", "cpu",
                         seed=seed, methods=list(methods), progress=False)
    return tmp_path, run


def _scores(blob: dict) -> dict:
    return {k: blob[k] for k in ("acc_r", "acc_f", "zrf")} | {
        "per_class": [{k: v for k, v in c.items() if "wall" not in k} for c in blob.get("per_class", [])]}


def test_a_seed_1_run_beside_seed_0_results_keeps_both(synthetic_runs):
    from wfnet.experiments.results import result_path

    root, run = synthetic_runs
    first = run(0, ["original"])
    seed0 = result_path(root / "results", "nano", "synthetic", "resnet18", "original")
    seed0_bytes, seed0_model = seed0.read_bytes(), (root / "runs/nano/synthetic/resnet18/original/model.pt").read_bytes()
    second = run(1, ["original"])
    seed1 = result_path(root / "results", "nano", "synthetic", "resnet18", "original", seed=1)
    assert seed1 == root / "results/nano/synthetic/resnet18/seed-1/original.json"
    assert seed0.read_bytes() == seed0_bytes  # untouched
    assert (root / "runs/nano/synthetic/resnet18/original/model.pt").read_bytes() == seed0_model
    assert (root / "runs/nano/synthetic/resnet18/seed-1/original/model.pt").is_file()
    assert json.loads(seed1.read_text())["provenance"]["seed"] == 1
    assert first["original"]["provenance"]["key"] != second["original"]["provenance"]["key"]
    mtime = seed0.stat().st_mtime_ns
    run(0, ["original"])  # seed 0 again: reused, not recomputed
    assert seed0.stat().st_mtime_ns == mtime


def test_corrupt_results_and_caches_are_named_moved_aside_and_recomputed(synthetic_runs, capfd):
    root, run = synthetic_runs
    clean = run()
    capfd.readouterr()
    results = root / "results/nano/synthetic/resnet18"
    cache = root / "runs/nano/synthetic/resnet18"
    (results / "original.json").write_text("")                                    # zero bytes
    (results / "random_labels.json").write_text('{"provenance": [1, 2]}')           # valid JSON, wrong shape
    (cache / "random_labels" / "class_1.json").write_text('{"key": "x", "per_class": 5')  # truncated
    model = cache / "original" / "model.pt"
    model.write_bytes(model.read_bytes()[:4096])                                     # truncated checkpoint
    again = run()
    err = capfd.readouterr().err
    for path in (results / "original.json", results / "random_labels.json", cache / "random_labels" / "class_1.json",
                 model):
        assert f"{path} is unreadable" in err, err
        assert len(list(path.parent.glob(f"{path.name}.corrupt-*"))) == 1  # kept, not deleted
    assert "Traceback" not in err
    for m in ("original", "random_labels"):
        assert _scores(again[m]) == _scores(clean[m])  # recomputed to the same numbers
        assert json.loads((results / f"{m}.json").read_text())["provenance"]["key"] == clean[m]["provenance"]["key"]


def test_a_corrupt_result_is_an_error_that_says_what_to_do_where_it_is_not_recomputed(tmp_path):
    from wfnet.experiments.results import iter_results, read_result, result_path

    path = result_path(tmp_path, "smoke", "mnist-5k", "resnet18", "wfnet")
    path.parent.mkdir(parents=True)
    path.write_text("[]")
    with pytest.raises(CorruptFileError, match=r"wfnet.json is unreadable \(a JSON list, not an object\); rerun "
                                               r"`wfnet reproduce --dataset mnist-5k --backbone resnet18 --preset smoke`"):
        read_result(tmp_path, "smoke", "mnist-5k", "resnet18", "wfnet")
    with pytest.raises(CorruptFileError, match="wfnet.json is unreadable"):
        list(iter_results(tmp_path))
    assert path.read_text() == "[]"  # a reader that does not recompute moves nothing


def test_a_truncated_decoded_cache_is_rebuilt_not_blamed_on_the_sources(tmp_path, monkeypatch, capfd):
    from wfnet.data import load_dataset

    from .test_reliability import _idx_folder

    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    root = _idx_folder(tmp_path / "data", truncate=False)
    first = load_dataset("mnist", data_root=root, cache_dir=tmp_path / "cache")
    raw = next((tmp_path / "cache").glob("mnist-*/MNIST/raw"))
    (raw / "train-images-idx3-ubyte").write_bytes((raw / "train-images-idx3-ubyte").read_bytes()[:100])
    again = load_dataset("mnist", data_root=root, cache_dir=tmp_path / "cache")
    assert torch.equal(again.train.images, first.train.images)
    assert "does not read" in capfd.readouterr().err
    assert len(list(raw.parent.glob("raw.corrupt-*"))) == 1


def test_a_truncated_tensor_cache_is_moved_aside(tmp_path, capfd):
    from wfnet.data.tensors import load_cached_tensors, load_tensors, save_tensors

    split = synthetic_dataset().train
    path = tmp_path / "cifar10-v1-x-train.pt"
    save_tensors(path, split)
    assert torch.equal(load_tensors(path).images, split.images)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="not a readable tensor file"):
        load_tensors(path)
    assert load_cached_tensors(path) is None and not path.exists()
    assert len(list(tmp_path.glob("cifar10-v1-x-train.pt.corrupt-*"))) == 1
    assert "is unreadable" in capfd.readouterr().err


# -- ablation: another configuration never overwrites a committed one -------------------------------


def test_ablation_of_another_width_never_overwrites_a_committed_result(tmp_path, monkeypatch, one_thread):
    from wfnet.experiments.ablation import run_ablation

    data = synthetic_dataset(n_per_class=48, size=16)
    monkeypatch.setattr("wfnet.experiments.ablation.load_dataset", lambda name, root=None, **kw: data)
    folder = tmp_path / "results" / "ablation" / "synthetic" / "resnet18"
    folder.mkdir(parents=True)
    committed = {"key": "old", "variant": "capped", "acc_r": 60.46, "acc_f": 0.0, "zrf": 0.8,
                 "provenance": {"width": 0.25, "seed": 0, "train_config": {"epochs": 3},
                                "untrain_config": {"epochs": 2}}}
    (folder / "capped.json").write_text(json.dumps(committed))
    before = (folder / "capped.json").read_bytes()
    args = dict(dataset="synthetic", backbone="resnet18", out=tmp_path / "results", runs=tmp_path / "runs",
                train_epochs=1, untrain_epochs=1, device="cpu", variants=["capped"], progress=False)
    res = run_ablation(width=0.125, **args)
    assert (folder / "capped.json").read_bytes() == before
    new = folder / "width0.125-train1-untrain1-seed0" / "capped.json"
    assert json.loads(new.read_text())["key"] == res["capped"]["key"]
    # the committed folder's configuration, but the file there records another: refused, kept
    (folder / "capped.json").write_text(json.dumps({**committed, "provenance": {**committed["provenance"],
                                                                               "width": 0.5}}))
    with pytest.raises(WFNetError, match="holds a result of another configuration"):
        run_ablation(width=0.25, **{**args, "train_epochs": 3, "untrain_epochs": 2})

"""Results bundles: what a GPU call packs is unpacked only when every file is one this code
writes, from a commit of this repository, with the key the current code computes."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from wfnet.cli import main
from wfnet.errors import WFNetError
from wfnet.experiments.bundle import MANIFEST, collect, pack, snapshot
from wfnet.experiments.presets import PRESETS
from wfnet.experiments.results import result_path
from wfnet.provenance import REPO_ROOT

HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
GPU = "NVIDIA H100 80GB HBM3"


def result(preset: str = "paper", dataset: str = "cifar10", backbone: str = "resnet18", method: str = "original",
           device: str = GPU, commit: str = HEAD, key: str | None = None, seed: int = 0) -> dict:
    key = key or PRESETS.get(preset).key(dataset, backbone, seed, method)
    return {"method": method, "preset": preset, "dataset": dataset, "backbone": backbone,
            "acc_r": 90.0, "acc_f": 90.0, "zrf": 0.5,
            "per_class": [{"cls": c, "name": str(c), "acc_r": 90.0, "acc_f": 90.0, "zrf": 0.5} for c in range(10)],
            "provenance": {"git_commit": commit, "device": device, "key": key, "seed": seed, "preset": preset,
                           "dataset": dataset, "backbone": backbone, "wall_seconds": 1.0}}


def make_bundle(tmp_path: Path, files: dict[str, object]) -> Path:
    src = tmp_path / "src"
    for rel, blob in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(blob if isinstance(blob, str) else json.dumps(blob))
    return pack(src, list(files), tmp_path / "out" / "results-test.tar.gz", GPU)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    (root / "paper").mkdir(parents=True)
    (root / "paper" / "keep.txt").write_text("untouched")
    return root


def test_a_valid_bundle_lands_whole(tmp_path, results):
    files = {"paper/cifar10/resnet18/original.json": result(),
             "paper/cifar10/resnet18/seed-1/original.json": result(seed=1),
             "paper/cifar10/resnet18/wfnet.json": result(method="wfnet"),
             "paper/cifar10/resnet18/relationships.csv": "layer,filter,class,relevance\nconv1,0,cat,0.5\n"}
    landed = collect(make_bundle(tmp_path, files), results)
    assert sorted(landed) == sorted(files)
    assert json.loads(result_path(results, "paper", "cifar10", "resnet18", "original").read_text()) == files[
        "paper/cifar10/resnet18/original.json"]


def _raw_bundle(tmp_path: Path, members: dict[str, bytes], manifest: dict | None = None) -> Path:
    """A bundle written by hand, to forge what ``pack`` never would."""
    import hashlib

    manifest = manifest or {"format": "wfnet-results/1", "files": [
        {"path": n, "sha256": hashlib.sha256(d).hexdigest()} for n, d in members.items()]}
    path = tmp_path / "forged.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {MANIFEST: json.dumps(manifest).encode(), **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


TAMPERED = [
    ("bad JSON", {"paper/cifar10/resnet18/original.json": "{not json"}, "not valid JSON"),
    ("wrong key", {"paper/cifar10/resnet18/original.json": result(key="0123456789abcdef")},
     "does not match the current code's"),
    ("CPU claimed as paper", {"paper/cifar10/resnet18/original.json": result(device="cpu (x86_64, 2 threads)")},
     "must come from a GPU"),
    ("unknown commit", {"paper/cifar10/resnet18/original.json": result(commit="f" * 40)}, "not a commit of this repository"),
    ("uncommitted code", {"paper/cifar10/resnet18/original.json": result(commit=HEAD + "+dirty")}, "uncommitted code"),
    ("file of another cell", {"paper/cifar10/vgg16/original.json": result()}, "its path says"),
    ("not a result file", {"paper/cifar10/resnet18/model.pt": "weights"}, "not a result file"),
    ("seed of another path", {"paper/cifar10/resnet18/seed-2/original.json": result()}, "not the seed of its path"),
]


@pytest.mark.parametrize("what,files,message", TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_bundle_is_refused_and_nothing_lands(tmp_path, results, what, files, message, capsys):
    good = {"paper/cifar10/resnet18/wfnet.json": result(method="wfnet")}  # valid, listed first or not
    bundle = make_bundle(tmp_path, {**good, **files})
    before = snapshot(results)
    assert main(["collect", str(bundle), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert snapshot(results) == before  # nothing half-unpacked


@pytest.mark.parametrize("name", ["../escape.json", "/etc/passwd", "paper/../../x.json"])
def test_paths_escaping_results_are_refused(tmp_path, results, name):
    bundle = _raw_bundle(tmp_path, {name: json.dumps(result()).encode()})
    before = snapshot(results)
    with pytest.raises(WFNetError, match="refusing|not a result file"):
        collect(bundle, results)
    assert snapshot(results) == before and not (tmp_path / "escape.json").exists()


def test_a_file_altered_after_packing_is_refused(tmp_path, results):
    rel = "paper/cifar10/resnet18/original.json"
    manifest = {"format": "wfnet-results/1", "files": [{"path": rel, "sha256": "0" * 64}]}
    bundle = _raw_bundle(tmp_path, {rel: json.dumps(result()).encode()}, manifest)
    with pytest.raises(WFNetError, match="altered after packing"):
        collect(bundle, results)


def test_not_a_bundle_is_one_line(tmp_path, results, capsys):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x00" * 100)
    assert main(["collect", str(junk), "--results", str(results)]) == 2
    assert "not a readable .tar.gz" in capsys.readouterr().err

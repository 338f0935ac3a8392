"""Issue 29: shared caches and results folders under concurrency. Processes released together by a
barrier: two decoding the same MNIST into a fresh cache, two collecting conflicting bundles into
one results folder. Nothing is lost, and exactly one result is kept unless ``--replace``."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SHARED_DATA
from .test_bundle import make_bundle, result

ROOT = Path(__file__).resolve().parents[1]

# Each child imports everything first, says it is ready, and waits for the others: the work itself
# starts within a millisecond in every process, whatever their import times.
BARRIER = """
import sys, time
from pathlib import Path
sync, me, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
{imports}
(sync / f"ready-{{me}}").touch()
while len(list(sync.glob("ready-*"))) < n:
    time.sleep(0.0005)
{work}
"""


def run_together(tmp_path: Path, imports: str, work: str, args: list[list[str]]) -> list[subprocess.CompletedProcess]:
    sync = tmp_path / "sync"
    sync.mkdir()
    code = BARRIER.format(imports=imports, work=work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(sync), str(i), str(len(args)), *a], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, a in enumerate(args)]
    out = []
    for p, a in zip(procs, args):
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(a, p.returncode, stdout, stderr))
    return out


def _mnist_root(tmp_path: Path) -> Path:
    """The offline MNIST when this checkout has it (``../shared/data``), else idx files of the same
    layout and size made here."""
    if (SHARED_DATA / "MNIST" / "raw").is_dir():
        return SHARED_DATA
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 20_000), ("t10k", 5_000)):
        images = (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        labels = (2049).to_bytes(4, "big") + n.to_bytes(4, "big")
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images + os.urandom(n * 784), 1))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels + bytes(i % 10 for i in range(n)), 1))
    return tmp_path / "data"


def test_two_processes_building_the_same_mnist_cache_both_get_it(tmp_path):
    root, cache = _mnist_root(tmp_path), tmp_path / "cache"
    done = run_together(
        tmp_path, "from wfnet.data import load_dataset",
        "d = load_dataset('mnist', data_root=sys.argv[4], cache_dir=sys.argv[5])\n"
        "print(len(d.train), len(d.test), int(d.train.images.sum()), int(d.test.labels.sum()))",
        [[str(root), str(cache)]] * 2)
    for p in done:
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert done[0].stdout == done[1].stdout and done[0].stdout.strip()
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1
    raw = entries[0] / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
    assert not list(cache.rglob("*.corrupt-*")) and not list(cache.rglob(".*.tmp"))
    assert (cache / f"{entries[0].name}.lock").is_file()  # the lock the two took turns on


@pytest.mark.parametrize("replace", [False, True], ids=["refused", "replace"])
def test_two_collects_of_conflicting_bundles_keep_exactly_one_result(tmp_path, replace):
    rel = "paper/cifar10/resnet18/original.json"
    bundles = [make_bundle(tmp_path / f"b{i}", {rel: {**result(), "acc_r": acc}}) for i, acc in enumerate((90.0, 91.0))]
    wanted = {b: _members(b)[0] for b in bundles}
    results = tmp_path / "results"
    flags = ["--replace"] if replace else []
    done = run_together(tmp_path, "from wfnet.cli import main", "sys.exit(main(['collect', *sys.argv[4:]]))",
                        [[str(b), "--results", str(results), *flags] for b in bundles])
    codes = sorted(p.returncode for p in done)
    landed = (results / rel).read_bytes()
    kept = sorted((results / rel).parent.glob("original.json.replaced-*"))
    assert landed in wanted.values()
    if replace:
        assert codes == [0, 0], [p.stderr for p in done]
        assert len(kept) == 1 and {landed, kept[0].read_bytes()} == set(wanted.values())  # nothing lost
    else:
        assert codes == [0, 2], [p.stderr for p in done]
        loser = next(p for p in done if p.returncode == 2)
        assert "conflicts with the result collected before" in loser.stderr
        assert "Traceback" not in loser.stderr and len(loser.stderr.strip().splitlines()) == 1
        assert kept == []
    assert not [p for p in results.rglob("*") if p.name.startswith(".")]  # no staging, backup or probe left


def _members(bundle: Path) -> list[bytes]:
    import tarfile

    with tarfile.open(bundle) as tar:
        return [tar.extractfile(m).read() for m in tar.getmembers() if m.name != "manifest.json"]  # type: ignore[union-attr]


"""Dataset loaders on the shared offline copies, safe extraction, batch iteration."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import torch

from wfnet.data import BatchIterator, ImageTensors, augment_batch, load_dataset, safe_extract, stratified_split
from wfnet.errors import DatasetNotFoundError, WFNetError

from .conftest import SHARED_DATA

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "MNIST").is_dir(),
                                  reason=f"offline data copies not found at {SHARED_DATA}")


def test_mnist5k_embedded_default(tmp_path):
    d = load_dataset("mnist-5k", cache_dir=tmp_path)
    assert (len(d.train), len(d.test)) == (4000, 1000)
    assert d.train.images.shape[1:] == (1, 28, 28) and d.train.images.dtype == torch.uint8
    assert torch.bincount(d.test.labels).tolist() == [100] * 10  # stratified
    assert set(d.train.labels.unique().tolist()) == set(range(10))


@needs_shared
def test_mnist_from_shared_copy(tmp_path):
    d = load_dataset("mnist", data_root=tmp_path / "none", cache_dir=tmp_path)
    assert (len(d.train), len(d.test)) == (17435, 10000)
    assert torch.bincount(d.train.labels).tolist() == [1732, 1981, 1693, 1821, 1678, 1539, 1727, 1844, 1676, 1744]
    assert d.image_size == 28 and d.in_chans == 1


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package(tmp_path):
    d = load_dataset("fashion-mnist", data_root=tmp_path / "none", cache_dir=tmp_path)
    assert (len(d.train), len(d.test)) == (60000, 10000)
    assert d.classes[9] == "Ankle boot"


@needs_shared
@pytest.mark.slow
def test_cifar10_from_jpeg_archive(tmp_path):
    d = load_dataset("cifar10", data_root=tmp_path / "none", cache_dir=tmp_path)
    assert (len(d.train), len(d.test)) == (50000, 10000)
    assert d.train.images.shape[1:] == (3, 32, 32)
    assert torch.bincount(d.test.labels).tolist() == [1000] * 10
    assert d.classes[0] == "airplane" and d.augment
    again = load_dataset("cifar10", data_root=tmp_path / "none", cache_dir=tmp_path)  # from the cache
    assert torch.equal(again.test.images, d.test.images)


def test_missing_dataset_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr("wfnet.data.sources.shared_data_dirs", lambda: [])
    with pytest.raises(DatasetNotFoundError, match=r"Looked in: .*MNIST/raw.*--download"):
        load_dataset("mnist", data_root=tmp_path, cache_dir=tmp_path)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(WFNetError, match="unknown dataset 'svhn'; expected one of: cifar10, fashion-mnist"):
        load_dataset("svhn")


def _tar_with(tmp_path: Path, name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        data = b"x" if kind == tarfile.REGTYPE else b""
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)
    return path


@pytest.mark.parametrize("name, kind, link, message", [
    ("../escape.txt", tarfile.REGTYPE, "", "climbs out"),
    ("a/../../escape.txt", tarfile.REGTYPE, "", "climbs out"),
    ("/etc/passwd-copy", tarfile.REGTYPE, "", "absolute path"),
    ("link", tarfile.SYMTYPE, "/etc/passwd", "is a link"),
    ("hard", tarfile.LNKTYPE, "other", "is a link"),
    ("dev", tarfile.CHRTYPE, "", "device or special"),
])
def test_extraction_refuses_escaping_members(tmp_path, name, kind, link, message):
    archive = _tar_with(tmp_path, name, kind, link)
    with pytest.raises(WFNetError, match=message):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


def test_extraction_of_a_clean_archive(tmp_path):
    archive = _tar_with(tmp_path, "train/a/1.txt")
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "train" / "a" / "1.txt").read_bytes() == b"x"


def test_stratified_split_is_reproducible_and_disjoint():
    labels = torch.arange(5).repeat(20)
    a1, b1 = stratified_split(labels, 0.2, seed=3)
    a2, b2 = stratified_split(labels, 0.2, seed=3)
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert len(set(a1.tolist()) & set(b1.tolist())) == 0 and len(a1) + len(b1) == 100
    assert torch.bincount(labels[b1]).tolist() == [4] * 5


def test_batches_cover_every_sample_once():
    split = ImageTensors(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous(),
                         torch.arange(10))
    it = BatchIterator(split, 4, (0.0,), (1 / 255,), torch.device("cpu"), shuffle=True)
    seen = torch.cat([y for _, y in it])
    assert sorted(seen.tolist()) == list(range(10)) and len(it) == 3
    for x, y in it:  # normalisation: (v/255 - 0) / (1/255) = v
        torch.testing.assert_close(x[:, 0, 0, 0], y.float())


def test_augment_batch_is_a_shifted_or_flipped_copy():
    img = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).repeat(16, 1, 1, 1)
    out = augment_batch(img, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == img.shape
    padded = torch.nn.functional.pad(img[0], (2, 2, 2, 2))
    for o in out:
        ok = any(torch.equal(o, padded[:, r:r + 8, c:c + 8]) or torch.equal(o, padded[:, r:r + 8, c:c + 8].flip(-1))
                 for r in range(5) for c in range(5))
        assert ok


def test_imagenet_evaluation_subset_is_five_per_class_from_val(tmp_path):
    """The paper evaluates ImageNet on 5 randomly chosen validation images per class: the test
    split is that subset, drawn reproducibly, and training images stay whole."""
    from PIL import Image

    from wfnet.data import load_dataset

    root = tmp_path / "imagenet"
    for split, n in (("train", 3), ("val", 8)):
        for wnid in ("n01", "n02", "n03"):
            (root / split / wnid).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40, 30), (i * 20, 0, 0)).save(root / split / wnid / f"{i:03d}.JPEG")
    data = load_dataset("imagenet", tmp_path)
    assert len(data.train) == 9 and len(data.test) == 15
    assert torch.bincount(data.test.labels).tolist() == [5, 5, 5]
    again = load_dataset("imagenet", tmp_path)
    assert torch.equal(data.test.keep, again.test.keep)  # the same files every time
    assert data.test.gather(torch.tensor([0, 14])).shape == (2, 3, 224, 224)
    assert "5 validation images per class" in data.extra["test_split"]

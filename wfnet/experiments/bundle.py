"""Result files across machines: packed where they were computed, checked before they land, so that
only files this code would write, from committed code, reach ``results/``."""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.archive import check_member
from ..errors import WFNetError
from ..methods import method_names
from ..provenance import REPO_ROOT, git_commit
from .baseline_search import SEARCH_FILE, SPACES, resolve_preset, search_key
from .presets import PRESETS
from .results import RELATIONSHIPS

# A GPU call leaves one ``results-<date>.tar.gz`` (the result files it wrote, and a manifest of
# their sha256). ``collect`` refuses a bundle unless every file in it is one this project writes
# (path, schema, provenance naming a commit of this repository and, for a GPU-only preset, a GPU,
# a key equal to what the current code computes), and only then moves the files into ``results/``:
# one clear line for the first problem, nothing half-unpacked. A baseline's key depends on the
# cell's baseline search (``resolve_preset``): the search file the bundle carries for that cell
# when it has one (the call that searched also ran the baselines with its choice), else the one
# already in ``results/``.

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
    device = str(prov.get("device", ""))
    if preset.gpu_only and (not device or device.startswith("cpu")):
        raise WFNetError(f"{rel}: the {preset.name!r} preset must come from a GPU, but its device is {device!r}")
    for field in ("dataset", "backbone", "preset"):
        if prov.get(field) != where[field]:
            raise WFNetError(f"{rel}: provenance says {field} {prov.get(field)!r}, its path says {where[field]!r}")
    if prov.get("key") != key:
        raise WFNetError(f"{rel}: key {prov.get('key')!r} does not match the current code's {key!r} "
                         "(the code or preset changed since it was computed)")


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
    preset = PRESETS.get(where["preset"])
    if rel.endswith(RELATIONSHIPS):
        if not data.decode("utf-8", "replace").startswith(RELATIONSHIPS_HEADER):
            raise WFNetError(f"{rel}: not a relationships table (header {RELATIONSHIPS_HEADER!r})")
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
        if blob.get("key") != key or "methods" not in blob:
            raise WFNetError(f"{rel}: a baseline search of another configuration (key {blob.get('key')!r})")
    elif where.get("method"):
        for field in ("method", "preset", "dataset", "backbone"):
            if blob.get(field) != where[field]:
                raise WFNetError(f"{rel}: says {field} {blob.get(field)!r}, its path says {where[field]!r}")
        missing = [f for f in ("acc_r", "acc_f", "zrf", "per_class") if f not in blob]
        if missing:
            raise WFNetError(f"{rel}: missing fields {missing}")
    elif blob.get("key") != key or prov.get("cls") != int(where["cls"]):
        raise WFNetError(f"{rel}: per-class piece of another configuration or class")
    _check_provenance(rel, prov, where, key)
    return Checked(rel, data)


def read_bundle(path: Path, results_dir: Path | None = None) -> list[Checked]:
    """Every file of a bundle, checked (paths, manifest, schema, provenance, keys; a baseline's key
    against the bundle's search of its cell, else the one in ``results_dir``)."""
    path = Path(path)
    if not path.is_file():
        raise WFNetError(f"bundle {path} not found")
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            with tempfile.TemporaryDirectory() as tmp:
                for m in members:
                    check_member(m, Path(tmp))
            files = {m.name: tar.extractfile(m).read() for m in members if m.isfile()}  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as err:
        raise WFNetError(f"bundle {path} is not a readable .tar.gz: {err}") from None
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


def collect(path: Path, results_dir: Path) -> list[str]:
    """Check a whole bundle, then move its files into ``results_dir``; returns what landed."""
    checked = read_bundle(path, results_dir)
    root = Path(results_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".collect.", dir=root))  # same file system: renames are atomic
    try:
        for c in checked:  # everything written beside its target first, then renamed into place
            tmp = staging / c.rel
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(c.data)
        for c in checked:
            (root / c.rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / c.rel, root / c.rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [c.rel for c in checked]

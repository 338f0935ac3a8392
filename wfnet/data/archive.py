"""Safe extraction of dataset archives: no member may escape the target folder."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ..errors import WFNetError


def check_member(member: tarfile.TarInfo, root: Path) -> None:
    """Refuse absolute paths, ``..``, links and device files before anything is written."""
    name = member.name
    if name.startswith(("/", "\\")) or os.path.isabs(name):
        raise WFNetError(f"archive member {name!r} has an absolute path; refusing to extract")
    if ".." in Path(name).parts:
        raise WFNetError(f"archive member {name!r} climbs out of the target with '..'; refusing")
    if member.issym() or member.islnk():
        raise WFNetError(f"archive member {name!r} is a link; refusing to extract")
    if not (member.isfile() or member.isdir()):
        raise WFNetError(f"archive member {name!r} is a device or special file; refusing")
    target = (root / name).resolve()
    if root.resolve() not in (target, *target.parents):
        raise WFNetError(f"archive member {name!r} would land outside {root}; refusing")


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest`` atomically: a killed extraction leaves no half folder."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, tmp)
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest

"""Where a number came from: code version, data, model, seed, device, date, wall time."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


PROJECT_ROOT_COMMIT = "4c341e70290abca7dce97405df19ec007e968c24"  # this repository's first commit
COMMIT_ENV = "WFNET_GIT_COMMIT"  # set by scripts/gpu_run.sh where the checkout travels without .git


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                          check=True).stdout.strip()


def _own_repository() -> bool:
    """Is the git repository around the package this project's own? An export or a wheel
    unpacked inside some other checkout must not record that checkout's commit."""
    try:
        top = Path(_git("rev-parse", "--show-toplevel")).resolve()
        if top != REPO_ROOT.resolve():
            return False
        if _git("rev-parse", "--is-shallow-repository") == "true":  # a shallow clone lacks the root
            return True
        return PROJECT_ROOT_COMMIT in _git("rev-list", "--max-parents=0", "HEAD").split()
    except (OSError, subprocess.SubprocessError):
        return False


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wfnet")
    except PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """This project's HEAD, with '+dirty' when tracked files differ from it.

    Read from git only when the repository found is this project's own; else from
    ``$WFNET_GIT_COMMIT`` (written by our own GPU script from the checkout it was sent from);
    else ``unknown (wfnet <version>)``. Cached: the first call pins it, so a long run records
    the code it started with even if commits land while it runs."""
    if _own_repository():
        try:
            head = _git("rev-parse", "HEAD")
            dirty = _git("status", "--porcelain", "--untracked-files=no")
            return head + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
    declared = os.environ.get(COMMIT_ENV, "").strip()
    if declared:
        return declared
    return f"unknown (wfnet {package_version()})"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def resolve_device(name: str | torch.device) -> torch.device:
    from .errors import WFNetError

    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise WFNetError(f"unknown device {name!r}; expected auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise WFNetError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return device


def provenance(device: torch.device, wall_seconds: float, **fields: object) -> dict[str, object]:
    return {
        "git_commit": git_commit(),
        "device": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 2),
        **fields,
    }

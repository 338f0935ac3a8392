"""Files in and out, at the boundary: writes that are all or nothing (temp file + rename), reads
that never trust (a file that does not validate is named and moved aside, never deleted)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import CorruptFileError, WFNetError

# Writes go to a temporary file that is renamed into place, so a killed run never leaves a
# half-written file behind. Reads validate what they get; a file that does not parse or validate
# is named in one line and moved aside (``<name>.corrupt-<UTC time>``, never deleted), so that a
# cache is recomputed and a result is never read as something it is not.


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON has no NaN or infinity: callers null them first (``null_non_finite`` below);
    one that slips through is an error here, before anything is written."""
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda p: p.write_text(text))


def atomic_torch_save(obj: Any, path: Path) -> None:
    _atomic_write(path, lambda p: torch.save(obj, p))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# -- defensive reading ----------------------------------------------------------------------------

def warn(message: str) -> None:
    """One line on stderr, the way the CLI reports what it did on its own (e.g. recovered a file)."""
    print(f"wfnet: warning: {message}", file=sys.stderr, flush=True)


def move_aside(path: Path, reason: str) -> Path:
    """Rename a file (or folder) that failed to parse or validate to ``<name>.corrupt-<UTC time>``
    beside it, say so in one line, and return the new path. Nothing is deleted: the bytes stay
    for whoever wants to look at them. The new name never ends in ``.json`` or ``.pt``, so no
    reader picks it up again."""
    path = Path(path)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    warn(f"{path} is unreadable ({reason}); moved it aside to {target.name}")
    return target


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (or its type): enough to say what went wrong."""
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; anything else (empty, truncated, not JSON, not an object,
    not UTF-8) is a ``CorruptFileError`` naming the file."""
    path = Path(path)
    try:
        blob = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CorruptFileError(path, f"not valid JSON: {first_line(err)}") from None
    if not isinstance(blob, dict):
        raise CorruptFileError(path, f"a JSON {type(blob).__name__}, not an object")
    return blob


def read_cached_json(path: Path, validate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any] | None:
    """A cache file: its object, or None when it is missing or was corrupt (then moved aside, so
    the caller recomputes it). ``validate`` raises ``CorruptFileError`` (or ``ValueError``,
    ``KeyError``, ``TypeError``) for an object of the wrong shape."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        blob = read_json_object(path)
        if validate is not None:
            validate(blob)
    except CorruptFileError as err:
        move_aside(path, err.reason)
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        move_aside(path, f"not of the expected form: {first_line(err)}")
        return None
    return blob


# -- outputs ----------------------------------------------------------------------------------------

def check_writable_dir(path: Path | str, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be written: an existing file, a path
    through a file, or a folder (or its nearest existing parent) this user cannot write into.
    Nothing is created here."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise WFNetError(f"{flag} {p} is an existing file, not a folder")
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise WFNetError(f"{flag} {p} cannot be created: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise WFNetError(f"{flag} {p} is not writable: this user cannot write into {probe}")


def content_key(obj: object) -> str:
    """16 hex digits of the sha256 of a JSON-able object (sorted keys): equal configs, equal keys.
    The one way this package names a configuration in a file or a path."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finite_or_none(obj: Any) -> Any:
    """JSON has no NaN: a metric that could not be computed (e.g. a diverged model) is null."""
    return null_non_finite(obj)[0]


def null_non_finite(obj: Any) -> tuple[Any, dict[str, str]]:
    """``obj`` with every NaN or infinity replaced by None, and ``{where: what it was}`` for each
    (``where`` a dotted path such as ``untrain.history.3.val_loss``)."""
    reasons: dict[str, str] = {}

    def walk(o: Any, where: str) -> Any:
        if isinstance(o, float):
            if math.isfinite(o):
                return o
            reasons[where or "."] = f"{o} (not a finite number: could not be computed)"
            return None
        if isinstance(o, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(o)]
        return o

    return walk(obj, ""), reasons

"""Files in and out, at the boundary: writes that are all or nothing (temp file + rename), reads
that never trust (a file that does not validate is named and moved aside, never deleted)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from .errors import CorruptFileError, MachineError, WFNetError

# Writes go to a temporary file that is renamed into place, so a killed run never leaves a
# half-written file behind. Reads validate what they get; a file that does not parse or validate
# is named in one line and moved aside (``<name>.corrupt-<UTC time>``, never deleted), so that a
# cache is recomputed and a result is never read as something it is not.
#
# A failure of the machine (a full disk, a read-only folder, a path that is a file) is a
# ``MachineError``: one line naming the path, with no temporary file left behind. Files that belong
# together (a checkpoint and its ``metrics.json``) are renamed into place together, or not at all
# (``atomic_write_files``).


def describe_os_error(err: OSError, path: Path | str | None = None) -> str:
    """One line for a failure of the machine: what happened, where, and what to do."""
    where = path if path is not None else err.filename
    what = err.strerror or first_line(err)
    hint = _HINTS.get(err.errno or 0, "")
    return what + (f": {where}" if where else "") + (f" ({hint})" if hint else "")


_HINTS = {errno.ENOSPC: "free some space, or choose a folder on another disk, and rerun",
          errno.EDQUOT: "disk quota exceeded: free some space and rerun",
          errno.EROFS: "the file system is read-only: choose a writable folder",
          errno.EACCES: "this user may not write there: choose another folder",
          errno.EPERM: "this user may not write there: choose another folder",
          errno.ENOTDIR: "a part of this path is a file, not a folder",
          errno.EEXIST: "a file is in the way of a folder"}


def _machine(err: OSError, path: Path | str) -> MachineError:
    return MachineError(f"cannot write {path}: {describe_os_error(err, '')}")


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    tmp = _write_temp(path, write)
    try:
        os.replace(tmp, path)
    except OSError as err:
        raise _machine(err, path) from None
    finally:
        tmp.unlink(missing_ok=True)


def _write_temp(path: Path, write: Callable[[Path], None]) -> Path:
    """A complete, synced temporary file beside ``path`` (a unique name: concurrent writers never
    share one), for the caller to rename; nothing is left behind when it fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise _machine(err, path) from None
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        share(tmp)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _machine(err, path) from None
    except MachineError as err:  # from a writer that itself writes atomically: name the file meant
        tmp.unlink(missing_ok=True)
        raise MachineError(str(err).replace(str(tmp), str(path))) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_files(writes: Sequence[tuple[Path, Callable[[Path], None]]]) -> None:
    """Several files that belong together (a checkpoint and its metrics): every one written to a
    temporary file first, then all renamed into place; if any write or rename fails, the files
    already renamed are put back as they were, so the pair is never half new."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, write in writes:
            temps.append((_write_temp(Path(path), write), Path(path)))
        replace_files(temps)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def replace_files(moves: Sequence[tuple[Path, Path]], keep: Callable[[Path], Path | None] | None = None) -> None:
    """Rename each ``(source, target)`` (same file system), all or nothing: a target that existed
    is linked to a backup first, and when a rename fails the targets already renamed are restored
    from their backups (new ones removed, and the folders made for them) before the error is
    raised. ``keep(target)`` may name where an existing target's old content is kept afterwards."""
    done: list[list[Any]] = []  # [target, backup, kept, renamed]
    made: list[Path] = []
    dst = Path()
    try:
        for src, dst in moves:
            for parent in reversed([dst.parent, *dst.parent.parents]):
                if not parent.exists():
                    parent.mkdir()
                    made.append(parent)
            entry: list[Any] = [dst, None, None, False]
            done.append(entry)
            if dst.exists():
                entry[1] = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:12]}.backup")
                _copy_of(dst, entry[1])
                entry[2] = keep(dst) if keep is not None else None
                if entry[2] is not None:
                    _copy_of(dst, entry[2])
            os.replace(src, dst)
            entry[3] = True
    except OSError as err:
        _roll_back(done, made)
        raise _machine(err, dst) from None
    except BaseException:
        _roll_back(done, made)
        raise
    for _, backup, _, _ in done:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _copy_of(src: Path, dst: Path) -> None:
    """``dst`` with the content of ``src``: a hard link (instant, no space), or a copy on a file
    system without them. Never replaces an existing ``dst``."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        with open(src, "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout)


def _roll_back(done: list[list[Any]], made: list[Path]) -> None:
    """Undo ``replace_files``: every target as it was, no backup, kept copy or new folder left."""
    for dst, backup, kept, renamed in reversed(done):
        with contextlib.suppress(OSError):
            if kept is not None:
                kept.unlink(missing_ok=True)
            if renamed and backup is not None:
                os.replace(backup, dst)
            elif renamed:
                dst.unlink(missing_ok=True)
            elif backup is not None:
                backup.unlink(missing_ok=True)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive lock (``flock``) on ``path`` while the block runs: a folder is locked
    as it is, any other path is a lock file created there (and left, empty, for the next one).
    Two processes that would build the same cache entry take turns; on a system without
    ``fcntl`` the block simply runs."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    path = Path(path)
    try:
        if path.is_dir():
            fd = os.open(path, os.O_RDONLY)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise _machine(err, path) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def share(path: Path | str) -> None:
    """Give a file made by ``mkstemp`` (0600) the permissions of any other file (0666 less the
    umask): results and caches are meant to be shared."""
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON has no NaN or infinity: callers null them first (``null_non_finite`` below);
    one that slips through is an error here, before anything is written."""
    atomic_write_text(path, json_text(obj))


def json_text(obj: Any) -> str:
    """How every JSON file of this package is written (sorted keys, no NaN: an error here)."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda p: p.write_text(text))


def atomic_torch_save(obj: Any, path: Path) -> None:
    _atomic_write(path, lambda p: p.write_bytes(torch_bytes(obj)))


def torch_bytes(obj: Any) -> bytes:
    """What ``torch.save`` writes, in memory: written to disk by plain file IO, a full disk is
    an ``OSError`` naming the problem (``torch.save`` to a file reports it as an internal
    RuntimeError)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


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
    probe_write(probe, f"{flag} {p}")


PROBE_BYTES = 4096  # what the probe writes: a folder without room for it fails before the work


def probe_write(folder: Path | str, what: str) -> None:
    """Write (and sync, and remove) a small probe file in an existing ``folder``: a read-only
    file system, a full disk or a permission that only root was granted fails here, before the
    work, as one ``MachineError`` naming ``what``. Nothing is left behind."""
    try:
        fd, name = tempfile.mkstemp(prefix=".wfnet-probe-", dir=folder)
    except OSError as err:
        raise MachineError(f"{what} cannot be written: {describe_os_error(err, folder)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        raise MachineError(f"{what} cannot be written: {describe_os_error(err, folder)}") from None
    finally:
        Path(name).unlink(missing_ok=True)


def probe_tree(root: Path | str, what: str) -> None:
    """``probe_write`` in ``root`` (or its nearest existing parent) and in every folder below it:
    a run that writes into a subfolder learns before the work that it is read-only."""
    root = Path(root)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.is_dir():
        probe_write(probe, what)
    if root.is_dir():
        for folder, subdirs, _ in os.walk(root):
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            if Path(folder) != root:
                probe_write(folder, f"{what} (its folder {folder})")


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

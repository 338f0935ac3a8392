"""Errors a user can cause and fix. The CLI prints these as one line and exits 2."""

from __future__ import annotations

from pathlib import Path


class WFNetError(ValueError):
    """Bad input: an unknown name, a missing file, a checkpoint that does not fit, a value out of
    range.

    Raised (never a bare ``ValueError`` deep in torch) so that the command line can tell a
    user's mistake from a bug and answer it with one clear line instead of a traceback. It is a
    ``ValueError`` too, so that callers who catch the standard exception for bad values (as most
    Python code does) catch this one as well.
    """


class DatasetNotFoundError(WFNetError, FileNotFoundError):
    """A dataset is not where it was looked for."""


class CheckpointError(WFNetError):
    """A checkpoint is unreadable, unsafe, altered since it was saved, or of another model."""


class CorruptFileError(WFNetError):
    """A file that exists but does not parse or validate (``wfnet.io.move_aside`` recovers a cache)."""

    def __init__(self, path: Path | str, reason: str, advice: str = "") -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is unreadable ({reason})" + (f"; {advice}" if advice else ""))


class MachineError(WFNetError):
    """The machine, not the input: a full disk, a read-only folder, a path that is a file where a
    folder must be. One line naming the path and what to do, never a raw ``OSError``."""

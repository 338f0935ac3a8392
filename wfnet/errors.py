"""Errors a user can cause and fix. The CLI prints these as one line and exits 2."""

from __future__ import annotations


class WFNetError(Exception):
    """Bad input: an unknown name, a missing file, a checkpoint that does not fit.

    Raised (never a bare ``ValueError`` deep in torch) so that the command line can tell a
    user's mistake from a bug and answer it with one clear line instead of a traceback.
    """


class DatasetNotFoundError(WFNetError, FileNotFoundError):
    """A dataset is not where it was looked for."""


class CheckpointError(WFNetError):
    """A checkpoint is unreadable, unsafe, or of another model."""

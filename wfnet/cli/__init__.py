"""The ``wfnet`` command line (``python -m wfnet.cli``): bad input exits 2 with one line, before any
data is loaded or any model trained; every failure of the machine is one line too."""

from __future__ import annotations

import sys
from typing import Sequence

from ..errors import WFNetError
from .commands import COMMANDS
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..provenance import git_commit

    git_commit()  # pin the code version this run starts with
    try:
        return COMMANDS[args.command](args)
    except WFNetError as err:
        print(f"wfnet: error: {' '.join(str(err).split())}", file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        print("wfnet: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # a failure of the machine that no check before the work could foresee
        from ..io import describe_os_error

        print(f"wfnet: error: {' '.join(describe_os_error(err).split())}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        if not _out_of_memory(err):
            raise
        print(f"wfnet: error: out of memory ({type(err).__name__}: {' '.join(str(err).split())[:200]}); "
              "choose smaller sizes (batch, width, chi)", file=sys.stderr)
        return 2


def _out_of_memory(err: BaseException) -> bool:
    """A failed allocation, as Python or torch (CPU or CUDA) reports it."""
    text = str(err).lower()
    return (isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in text or "out of memory" in text)


__all__ = ["COMMANDS", "build_parser", "main"]

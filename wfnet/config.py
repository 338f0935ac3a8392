"""Shared checks of every config: each field's type and range, and ``KEY=VALUE`` overrides.
Each config lives beside what it configures; this module only holds what they share."""

from __future__ import annotations

import math
import numbers
from dataclasses import fields, replace
from typing import Any, Iterable, Sequence

from .errors import WFNetError

# Upper bounds shared by the configs, generous but finite: beyond them a value only wastes the
# machine (or asks it for memory it does not have). Every preset and test stays well inside.
MAX_EPOCHS = 10_000        # passes over a training set
MAX_BATCH = 65_536         # images per step
MAX_CHI = 64               # label expansion: copies of the retain half per step
MAX_SAMPLES = 10_000_000   # images drawn per epoch


class Checker:
    """Type and range checks of one config's fields, each failure one line naming field and value."""

    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, name: str, expected: str, value: Any) -> None:
        raise WFNetError(f"{self.what} {name} must be {expected}, got {value!r}")

    def integer(self, name: str, value: Any, low: int, high: int | None = None) -> None:
        """An integer >= ``low`` and, when given, <= ``high``: a bound where a huge value would only
        tie up the machine (an epoch count, a batch size), stated in the field's comment."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            self.fail(name, f"an integer >= {low}", value)
        if high is not None and value > high:
            self.fail(name, f"an integer in [{low}, {high}]", value)

    def seed(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**63:
            self.fail("seed", "an integer in [0, 2**63)", value)

    def boolean(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.fail(name, "true or false", value)

    def text(self, name: str, value: Any) -> None:
        if not isinstance(value, str):
            self.fail(name, "a name", value)

    def choice(self, name: str, value: Any, choices: Iterable[str]) -> None:
        choices = tuple(choices)
        if value not in choices:
            self.fail(name, f"one of {list(choices)}", value)

    def number(self, name: str, value: Any, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, optional: bool = False) -> None:
        if value is None and optional:
            return
        ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
              and (low is None or (value > low if low_open else value >= low))
              and (high is None or (value < high if high_open else value <= high)))
        if ok:
            return
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        rng = (" " + " and ".join(parts)) if parts else ""
        self.fail(name, f"a finite number{rng}" + (" or none" if optional else ""), value)


def parse_assignments(cfg: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """``["clip_grad_norm=0.1", "alpha_bound=none"]`` -> typed changes for ``override``.

    Each value takes the type of the field's default (``none`` clears an optional field), so a
    command line can set any field of a config without one flag per field.
    """
    fields_by_name = {f.name: f for f in fields(cfg)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields_by_name:
            raise WFNetError(f"cannot set {pair!r}: expected KEY=VALUE with KEY one of {sorted(fields_by_name)}")
        changes[key] = _typed(key, text.strip(), getattr(cfg, key), fields_by_name[key].type)
    return changes


def _typed(key: str, text: str, default: Any, annotation: Any) -> Any:
    optional = "None" in str(annotation)
    if text.lower() == "none":
        if optional:
            return None
        raise WFNetError(f"{key} cannot be none")
    kind = type(default) if default is not None else float
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        raise WFNetError(f"{key} expects a {kind.__name__}, got {text!r}") from None


def override(cfg: Any, **changes: Any) -> Any:
    """A copy of a frozen config with the non-None changes applied."""
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})


__all__ = ["MAX_BATCH", "MAX_CHI", "MAX_EPOCHS", "MAX_SAMPLES", "Checker", "override", "parse_assignments"]

"""Every unlearning method in one table (as timm's ``@register_model``), which experiments, the
GPU plan, bundles and the book's tables read: adding a method is one module that registers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping, Protocol, TypeVar

import torch
from torch import nn

from ..data import ImageDataset
from ..registry import Registry

T = TypeVar("T")


class PresetView(Protocol):
    """What a method's ``config`` reads from an experiment preset (``wfnet.experiments.presets.Preset``
    has it all): methods state what they need, experiments provide it, and nothing here imports them."""

    random_labels: Any
    negative_gradients: Any
    searched: Mapping[str, Any]  # per cell: method -> the config a baseline search chose for it

    def train_config(self, dataset: str, backbone: str, seed: int) -> Any: ...

    def untrain_config(self, backbone: str, seed: int) -> Any: ...


class UnlearnRun(Protocol):
    """What an ``unlearn`` function may use of the run it is called in (``wfnet.experiments.reproduce.Run``)."""

    data: ImageDataset
    device: torch.device

    def original_model(self) -> nn.Module: ...

    def factory(self) -> nn.Module: ...

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T: ...


KINDS = ("reference", "one_round", "single_class")
ConfigFor = Callable[[PresetView, str, str, int], Any]  # (preset, dataset, backbone, seed) -> config
Unlearn = Callable[[UnlearnRun, int, Any], nn.Module]    # (run, class, config) -> the model that forgot it


@dataclass(frozen=True)
class Method:
    name: str
    label: str                        # its rows' label in the tables ("†": single-class)
    kind: str                         # "reference" (the original), "one_round" (WF-Net: every class at once),
    #                                   "single_class" (one model per forgotten class)
    in_paper: bool                    # a row of the paper's Table 1 (else: beyond the paper)
    order: int                        # row order in the tables
    config: ConfigFor | None = None   # what the preset gives it (its provenance, and its key below)
    key_field: str | None = "config"  # the name of that config inside its result key (None: not in it)
    unlearn: Unlearn | None = None    # single-class methods only
    cite: str = ""                    # where the method comes from
    version: int = 1                  # its own code version, in its key: bumped when its semantics
    #                                   change, so that its results (only) are recomputed
    defaults: str = "preset default"  # where ``config`` comes from when no search chose one

    def config_for(self, preset: PresetView, dataset: str, backbone: str, seed: int) -> Any:
        """The config this method runs with: the one a baseline search chose for the cell when the
        preset holds one (``wfnet.experiments.tuned.resolve_preset``), else its ``config``."""
        if self.config is None:
            return None
        chosen = preset.searched.get(self.name)
        return chosen if chosen is not None else self.config(preset, dataset, backbone, seed)


METHODS: Registry[Method] = Registry("method")


def register_method(name: str, *, label: str, kind: str, in_paper: bool, order: int, config: ConfigFor | None = None,
                    key_field: str | None = "config", cite: str = "", version: int = 1,
                    defaults: str = "preset default") -> Callable[[Unlearn], Unlearn]:
    """Register a single-class method: decorates its ``unlearn(run, cls, config)``."""
    def add(unlearn: Unlearn) -> Unlearn:
        register(Method(name, label, kind, in_paper, order, config, key_field, unlearn, cite, version, defaults))
        return unlearn
    return add


def register(method: Method) -> Method:
    """Register a method that is not a single-class function (the original, WF-Net)."""
    if method.kind not in KINDS:
        raise ValueError(f"method kind {method.kind!r} is not one of {KINDS}")
    if (method.kind == "single_class") != (method.unlearn is not None):
        raise ValueError(f"method {method.name!r}: single-class methods, and only they, have an unlearn function")
    return METHODS.register(method.name)(method)


def methods(in_paper: bool | None = None, kind: str | None = None) -> list[Method]:
    """Registered methods in table order, optionally only the paper's (or the others) or one kind."""
    found = [METHODS.get(n) for n in METHODS]
    found = [m for m in found if (in_paper is None or m.in_paper == in_paper) and (kind is None or m.kind == kind)]
    return sorted(found, key=lambda m: (m.order, m.name))


def method_names(in_paper: bool | None = None, kind: str | None = None) -> tuple[str, ...]:
    return tuple(m.name for m in methods(in_paper, kind))


def label(name: str) -> str:
    """A method's table label (an unregistered name is shown as it is)."""
    return METHODS.get(name).label if name in METHODS else name


register(Method("original", "Original Model", "reference", in_paper=True, order=0, key_field=None))

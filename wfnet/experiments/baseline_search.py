"""Choosing the single-class baselines' hyper-parameters on a validation split, never the test set:
weak baselines flatter WF-Net, so each gets a small documented search per dataset x backbone."""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import paper_values as pv
from ..backbones import create_backbone
from ..data import ImageDataset, load_dataset, stratified_split
from ..errors import WFNetError
from ..io import atomic_write_json, finite_or_none
from ..methods import METHODS
from ..methods.baselines import FinetuneConfig, negative_gradients, random_labels
from ..methods.salun import SalunConfig, salun
from ..methods.ssd import SSDConfig, class_importances, ssd
from ..provenance import git_commit, provenance, resolve_device
from ..runtime import predict
from ..train import train_model
from .pipeline import dataset_fields
from .presets import PRESETS, Preset, content_key, with_precision
from .results import read_result_file, result_path

# The paper compares WF-Net with random labels and negative gradients but does not say how they
# were tuned; weak baselines flatter WF-Net, so every single-class baseline (the paper's two, SSD
# and SalUn) gets a small documented search per dataset x backbone: hold out ``val_fraction`` of
# every class of the training set, train an original on the rest, unlearn a few classes with every
# candidate, and score retain / forget accuracy on the held-out images. The rule (``choose``):
# among candidates whose validation Acc_f is at most the bar (the paper's Acc_f for that cell, or
# the retrained model's 0 for a method the paper does not have, + ``acc_f_slack``), the one with
# the best Acc_r; if none forgets that well, the one that forgets best.
#
# The choice is used, not copied by hand: ``resolve_preset`` gives "the preset as used for one
# cell", a copy whose ``searched`` holds the chosen configs and whose ``sources`` says where each
# baseline's config came from ("search:<key of the search file>", or the method's defaults). Every
# place that computes a cell's result key calls it (``reproduce.prepared_run``, ``plan.Piece``,
# ``bundle.check_file``), and only a search file whose key is the current ``search_key`` counts: one
# of another key (another original or search space) is ignored, and said so. One search per cell,
# seed 0's, serves every seed of that cell.

SEARCH_FILE = "baseline_search"  # results/<preset>/<dataset>/<backbone>/baseline_search.json
SEARCH_VERSION = 2  # in the search key; 2: SSD and SalUn searched, the bar recorded per method
Unlearn = Callable[[nn.Module, ImageDataset, int, Any, torch.device, Tensor, dict[Any, Any]], nn.Module]


def _finetuned(fn: Callable[..., nn.Module]) -> Unlearn:
    return lambda original, data, cls, cfg, device, fit, memo: fn(original, data, cls, cfg, device, within=fit)


def _ssd(original: nn.Module, data: ImageDataset, cls: int, cfg: SSDConfig, device: torch.device, fit: Tensor,
         memo: dict[Any, Any]) -> nn.Module:
    """SSD's importances depend on the class and the batch size only: computed once per class and
    shared by every (alpha, lambda) candidate."""
    key = ("ssd", cls, cfg.batch_size)
    if key not in memo:
        memo[key] = class_importances(original, data, cls, cfg.batch_size, device, fit)
    return ssd(original, data, cls, cfg, device, within=fit, computed=memo[key])


SEARCHED: dict[str, Unlearn] = {"random_labels": _finetuned(random_labels),
                                "negative_gradients": _finetuned(negative_gradients),
                                "ssd": _ssd, "salun": _finetuned(salun)}


def grid(base: Any, **axes: list[Any]) -> tuple[Any, ...]:
    """Every combination of the given field values, on top of ``base`` (a config dataclass)."""
    names = sorted(axes)
    return tuple(replace(base, **dict(zip(names, values))) for values in itertools.product(*(axes[n] for n in names)))


def salun_grid(base: FinetuneConfig, saliency_fraction: list[float], lr: list[float]) -> tuple[SalunConfig, ...]:
    """SalUn's two knobs: how many weights may move (its sparsity) and the learning rate of the
    random-labels fine-tuning restricted to them."""
    return tuple(SalunConfig(finetune=replace(base, lr=r), saliency_fraction=f) for f in saliency_fraction for r in lr)


@dataclass(frozen=True)
class SearchSpace:
    """Candidates per method, which classes each is scored on, and the validation split."""

    candidates: dict[str, tuple[Any, ...]]
    classes: tuple[int, ...] = (0, 3, 7)   # unlearned per candidate (a search over all 10 costs 3x more)
    val_fraction: float = 0.1             # of every class of the training set, held out
    acc_f_slack: float = 1.0              # points of validation Acc_f tolerated above the bar
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# SSD's authors use alpha 10 (ViTs 5) and lambda 1 for full-class forgetting; SalUn's update half
# of the weights (sparsity 0.5; their code also writes masks of 0.1 to 0.5). Both grids hold those.
SPACES = {
    "paper": SearchSpace({
        "random_labels": grid(FinetuneConfig(), lr=[0.003, 0.01], epochs=[2, 5], retain_ratio=[1.0, 3.0]),
        "negative_gradients": grid(FinetuneConfig(epochs=1), lr=[1e-4, 3e-4, 1e-3], clip_grad_norm=[1.0, 5.0]),
        "ssd": grid(SSDConfig(), alpha=[1.0, 3.0, 5.0, 10.0], dampening=[0.1, 1.0]),
        "salun": salun_grid(FinetuneConfig(), saliency_fraction=[0.3, 0.5], lr=[0.003, 0.01]),
    }),
    "smoke": SearchSpace({
        "random_labels": grid(FinetuneConfig(epochs=1), lr=[0.003, 0.01]),
        "negative_gradients": grid(FinetuneConfig(epochs=1), lr=[3e-4, 1e-3]),
        "ssd": grid(SSDConfig(), alpha=[1.0, 3.0, 10.0], dampening=[1.0]),
        "salun": salun_grid(FinetuneConfig(epochs=1), saliency_fraction=[0.3, 0.5], lr=[0.003, 0.01]),
    }, classes=(0, 1)),
}


def _acc(logits: Tensor, labels: Tensor, mask: Tensor) -> float:
    return 100.0 * float((logits[mask].argmax(1) == labels[mask]).float().mean()) if mask.any() else float("nan")


def score(model: nn.Module, data: ImageDataset, cls: int, val: Tensor, device: torch.device,
          precision: str | None = None) -> dict[str, float]:
    """Acc_r / Acc_f (%) of a model that forgot ``cls``, on the held-out training images."""
    logits = predict(model, data.train, data, device, index=val, precision=precision)
    labels = data.train.labels.cpu()[val]
    return {"acc_r": _acc(logits, labels, labels != cls), "acc_f": _acc(logits, labels, labels == cls)}


def bar(paper_acc_f: float | None, slack: float) -> float:
    """The validation Acc_f a candidate must reach: the paper's Acc_f for the cell, or the
    retrained model's 0 for a method the paper does not have, plus ``slack``."""
    return (paper_acc_f if paper_acc_f is not None else 0.0) + slack


def choose(rows: list[dict[str, Any]], paper_acc_f: float | None, slack: float) -> dict[str, Any]:
    """The candidate the rule picks (see the comment at the top)."""
    ok = [r for r in rows if r["acc_f"] <= bar(paper_acc_f, slack)]
    if ok:
        return max(ok, key=lambda r: (r["acc_r"], -r["acc_f"]))
    return min(rows, key=lambda r: (r["acc_f"], -r["acc_r"]))


def search_key(p: Preset, space: SearchSpace, dataset: str, backbone: str, seed: int = 0) -> str:
    return content_key({"original": p.key(dataset, backbone, seed, "original"), "space": space.as_dict(),
                        "version": SEARCH_VERSION})


def _seeded(cfg: Any, seed: int) -> Any:
    """A candidate with the run's seed (SalUn's sits in its fine-tuning; SSD draws nothing)."""
    if hasattr(cfg, "seed"):
        return replace(cfg, seed=seed)
    if isinstance(getattr(cfg, "finetune", None), FinetuneConfig):
        return replace(cfg, finetune=replace(cfg.finetune, seed=seed))
    return cfg


def run_search(dataset: str, backbone: str, preset: str | Preset = "smoke", results_dir: Path | str = "results",
               device: str = "auto", seed: int = 0, progress: bool = True, allow_slow: bool = False,
               data_root: Path | str | None = None) -> dict[str, Any]:
    """Train an original on the fit split, try every candidate of every baseline, write the table."""
    git_commit()
    p = preset if isinstance(preset, Preset) else PRESETS.get(preset)
    preset = p.name
    space = SPACES.get(preset)
    if space is None:
        raise WFNetError(f"no baseline search space for preset {preset!r}; expected one of {sorted(SPACES)}")
    dev = resolve_device(device)
    if p.gpu_only and dev.type != "cuda" and not allow_slow:
        raise WFNetError(f"the {preset!r} search trains a full original: run it on a GPU or pass --allow-slow")
    p = p.on(dev)
    create_backbone(backbone, 2)
    data = load_dataset(dataset, data_root)
    path = result_path(Path(results_dir), preset, dataset, backbone, SEARCH_FILE, seed)
    key = search_key(p, space, dataset, backbone, seed)
    start = time.perf_counter()
    fit, val = stratified_split(data.train.labels.cpu(), space.val_fraction, space.seed)
    torch.manual_seed(seed)
    model = create_backbone(backbone, data.num_classes, data.in_chans, data.image_size, p.width)
    trained = train_model(model, data, p.train_config(dataset, backbone, seed), dev, train_index=fit,
                          progress=progress, desc=f"search original {backbone}")
    original = trained.model.eval()
    paper_name = pv.paper_dataset_for(dataset)
    tables: dict[str, Any] = {}
    memo: dict[Any, Any] = {}
    for method, candidates in space.candidates.items():
        unlearn, rows, begun = SEARCHED[method], [], time.perf_counter()
        for cfg in tqdm(candidates, desc=f"search {method}", disable=not progress, leave=False):
            cfg = with_precision(_seeded(cfg, seed), p.precision)
            per_class = [score(unlearn(original, data, c, cfg, dev, fit, memo), data, c, val, dev, p.precision)
                         for c in space.classes]
            rows.append({"config": cfg.as_dict(), "acc_r": sum(r["acc_r"] for r in per_class) / len(per_class),
                         "acc_f": sum(r["acc_f"] for r in per_class) / len(per_class), "per_class": per_class})
        cell = pv.table1_cell(backbone, method, paper_name) if paper_name else None
        paper_f = None if cell is None else cell.acc_f
        tables[method] = {"candidates": rows, "paper_acc_f": paper_f,
                          "paper_acc_r": None if cell is None else cell.acc_r,
                          "bar_acc_f": bar(paper_f, space.acc_f_slack),
                          "chosen": choose(rows, paper_f, space.acc_f_slack)["config"],
                          "wall_seconds": round(time.perf_counter() - begun, 2)}
    blob = finite_or_none({
        "method": SEARCH_FILE, "preset": preset, "dataset": dataset, "backbone": backbone, "key": key,
        "original_val_acc": score(original, data, -1, val, dev, p.precision)["acc_r"], "space": space.as_dict(), "methods": tables,
        "provenance": provenance(dev, time.perf_counter() - start, **dataset_fields(data), backbone=backbone,
                                 width=p.width, seed=seed, preset=preset, key=key, fit_size=len(fit), val_size=len(val),
                                 train_config=p.train_config(dataset, backbone, seed).as_dict(),
                                 original_train_wall_seconds=round(trained.wall_seconds, 2))})
    atomic_write_json(path, blob)
    return blob


# -- the preset as used for one cell ----------------------------------------------------------------

_SAID: set[str] = set()


def _say(note: str) -> None:
    """A note on stderr, once per process (every key computation of a cell resolves its preset)."""
    if note not in _SAID:
        _SAID.add(note)
        print(f"wfnet: note: {note}", file=sys.stderr, flush=True)


def config_like(template: Any, values: dict[str, Any]) -> Any:
    """``values`` (a config as a search file stores it) as a config of ``template``'s class, nested
    configs included; every field present, no other (else ValueError)."""
    names = {f.name for f in fields(template)}
    if not isinstance(values, dict) or set(values) != names:
        raise ValueError(f"fields {sorted(values) if isinstance(values, dict) else values!r}, expected {sorted(names)}")
    return replace(template, **{n: config_like(getattr(template, n), v) if is_dataclass(getattr(template, n)) else v
                                for n, v in values.items()})


def read_search(results_dir: Path | str, preset: str, dataset: str, backbone: str) -> dict[str, Any] | None:
    """The cell's search file (seed 0's: one search per cell serves every seed), or None; a file
    that does not parse is ignored, and said so."""
    path = result_path(Path(results_dir), preset, dataset, backbone, SEARCH_FILE)
    try:
        return read_result_file(path)
    except WFNetError as err:
        _say(f"{path} ignored: {err}")
        return None


def resolve_preset(p: Preset, dataset: str, backbone: str, results_dir: Path | str | None,
                   search: dict[str, Any] | None = None) -> Preset:
    """The preset as used for one dataset x backbone: a copy whose ``searched`` holds the config
    the cell's baseline search chose for each baseline and whose ``sources`` says where each
    baseline's config comes from ("search:<search key>", or the method's ``defaults`` when there is
    no current search). ``search``: a search file's object to use instead of the one under
    ``results_dir`` (a bundle that carries both). A search of another key is ignored, and said so.
    A preset without a search space, or already resolved, is returned as it is."""
    space = SPACES.get(p.name)
    if space is None or p.sources:
        return p
    key = search_key(p, space, dataset, backbone)
    blob = search if search is not None else None if results_dir is None else read_search(
        results_dir, p.name, dataset, backbone)
    if blob is not None and blob.get("key") != key:
        _say(f"the baseline search of {p.name}/{dataset}/{backbone} has key {blob.get('key')!r}, not the current "
             f"{key!r} (the original's configuration or the search space changed): ignored, the baselines run "
             f"with their defaults until `wfnet search-baselines --dataset {dataset} --backbone {backbone} "
             f"--preset {p.name}` runs again")
        blob = None
    searched: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for method in space.candidates:
        chosen = ((blob or {}).get("methods") or {}).get(method, {}).get("chosen")
        if chosen is not None:
            try:
                searched[method] = config_like(METHODS.get(method).config_for(p, dataset, backbone, 0), chosen)
                sources[method] = f"search:{key}"
                continue
            except (TypeError, ValueError) as err:
                _say(f"the baseline search of {p.name}/{dataset}/{backbone} chose an unreadable {method} config "
                     f"({err}): ignored")
        sources[method] = METHODS.get(method).defaults
    return replace(p, searched=searched, sources=sources)

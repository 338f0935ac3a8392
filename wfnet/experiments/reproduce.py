"""One command for one dataset x backbone: every method of Tables 1-2 and the data of Figs 3-4,
resumable at the finest useful grain (every piece cached under the key of its configuration)."""

from __future__ import annotations

import contextlib
import csv
import io
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from tqdm.auto import tqdm

from ..backbones import BackboneSpec, build, create_backbone
from ..checkpoint import load, load_cached, save_original, save_wf
from ..data import ImageDataset, load_dataset
from ..errors import CorruptFileError, WFNetError
from ..evaluation.explain import gate_curves, relationships
from ..evaluation.metrics import ClassScores, aggregate, class_scores, random_reference
from ..evaluation.mia import model_scorecard
from ..evaluation.relearn import relearn_time, trainable_copy
from ..io import atomic_write_json, atomic_write_text, finite_or_none, read_cached_json, read_json_object
from ..methods import METHODS, method_names
from ..methods.untrain import untrain
from ..provenance import git_commit, provenance, resolve_device
from ..runtime import autocast, predict
from ..train import train_model
from ..wrap import wrap
from .baseline_search import resolve_preset
from .pipeline import RANDOM_REFERENCE_SEED, data_fingerprint, dataset_fields
from .presets import PRESETS, Preset
from .results import (
    RELATIONSHIPS,
    read_result,
    result_dir,
    result_path,
    retrained_class_path,
    write_result,
)

# Resumable at the finest useful grain: the original model, the WF model and every single-class
# run are cached under ``runs/<preset>/<dataset>/<backbone>/[seed-<n>/]`` with the content key of
# their configuration; a killed run restarts at the next missing piece. Every file is written
# atomically, so a kill never leaves half a file, and a rerun gives the same numbers. Seeds other
# than 0 have their own folders (results and caches), so they never replace seed 0's files. A
# cached file or result that does not parse or validate is named, moved aside and recomputed; a
# cache computed on other data (``provenance.data_fingerprint``) is recomputed too. A result file
# (under ``results/``) that records another configuration than its path's run (another cell or
# seed, or other data) is never replaced unless ``force``: ``guard_results``, before any work.

PIECE_FIELDS = ("cls", "name", "acc_r", "acc_f", "zrf", "rt", "relearned", "unlearn_wall_seconds", "wall_seconds",
                "mia", "accuracy", "provenance")  # what a per-class piece must hold to be used
RELEARN_FIELDS = ("rt", "relearned", "rt_final_acc")


def _has(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def check(blob: dict[str, Any]) -> None:
        missing = [f for f in fields if f not in blob]
        if missing:
            raise ValueError(f"lacks {missing}")
        if "provenance" in blob and not isinstance(blob["provenance"], dict):
            raise ValueError("its provenance is not an object")
    return check


class Run:
    """Shared state of one reproduce call: data, preset, device, cache folder, reference models."""

    def __init__(self, data: ImageDataset, backbone: str, preset: Preset, runs_dir: Path,
                 device: torch.device, seed: int, progress: bool, results_dir: Path | None = None) -> None:
        self.data, self.backbone, self.preset = data, backbone, preset.on(device)  # precision resolved here
        self.device, self.seed, self.progress = device, seed, progress
        self.key = self.preset.key(data.name, backbone, seed)
        self.dir = result_dir(Path(runs_dir), preset.name, data.name, backbone, seed)  # seed n: .../seed-<n>
        self.fingerprint = data_fingerprint(data)
        self.results_dir = None if results_dir is None else Path(results_dir)
        self.labels = data.test.labels.cpu()
        self.spec = BackboneSpec(backbone, data.num_classes, data.in_chans, data.image_size, preset.width)
        self.precision = self.preset.precision  # "fp32" or "bf16": every loop's and every evaluation's
        self.mia = preset.mia  # the scorecard's attack, measured on every unlearned model (in the keys)
        self._original: torch.nn.Module | None = None
        self._original_logits: torch.Tensor | None = None
        self._random_logits: torch.Tensor | None = None
        self._targets: list[float] | None = None
        self._memo: dict[object, Any] = {}

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """The run's precision for evaluations (loops set theirs from their configs, the same)."""
        return autocast(self.device, self.precision)

    def memo(self, key: object, compute: Callable[[], Any]) -> Any:
        """A value computed once per run and shared by every class (e.g. SSD's importances on D)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def method_key(self, method: str) -> str:
        return self.preset.key(self.data.name, self.backbone, self.seed, method)

    def config_key(self, method: str) -> str:
        """The key of this method's configuration at seed 0: equal for every seed of one
        configuration (``results.seed_results`` averages only those)."""
        return self.preset.key(self.data.name, self.backbone, 0, method)

    def factory(self) -> torch.nn.Module:
        torch.manual_seed(self.seed)  # the initialisation is part of the seeded run
        return create_backbone(self.backbone, self.data.num_classes, self.data.in_chans,
                               self.data.image_size, self.preset.width)

    def current(self, blob: dict[str, Any] | None, key: str) -> bool:
        """Is a stored result or piece this run's: its key, and (when it records one) the
        fingerprint of the data it was computed on?"""
        if blob is None:
            return False
        prov = blob.get("provenance")
        prov = prov if isinstance(prov, dict) else {}
        found = blob.get("key", prov.get("key"))
        return found == key and prov.get("data_fingerprint", self.fingerprint) == self.fingerprint

    def cached_json(self, name: str, compute: Callable[[], dict[str, Any]], key: str | None = None,
                    root: Path | None = None, fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """A JSON piece of work under ``root`` (default: the run's cache folder), reused only
        when its key matches (default: the run's whole-preset key) and it holds ``fields``; one
        that does not parse or validate is moved aside and recomputed."""
        key = key or self.key
        path = (root or self.dir) / name
        blob = read_cached_json(path, _has(fields))
        if blob is not None and self.current(blob, key):
            return blob
        blob = finite_or_none({"key": key, **compute()})
        atomic_write_json(path, blob)
        return blob

    # -- shared references ----------------------------------------------------------------------

    def original_model(self) -> torch.nn.Module:
        """The original model: loaded from the run's cache when its key matches, else trained
        (minutes to hours) and cached first. A method, not an attribute: it may train."""
        if self._original is None:
            path = self.dir / "original" / "model.pt"
            key = self.method_key("original")
            cached = load_cached(path, key, kind="original")  # a corrupt one is moved aside
            if cached is None or cached.meta.get("data_fingerprint", self.fingerprint) != self.fingerprint:
                cfg = self.preset.train_config(self.data.name, self.backbone, self.seed)
                res = train_model(self.factory(), self.data, cfg, self.device, progress=self.progress,
                                  desc=f"original {self.backbone}")
                meta = {"key": key, "test_acc": res.test_acc, "wall_seconds": res.wall_seconds,
                        "train_images_per_second": res.images_per_second, "data_fingerprint": self.fingerprint,
                        "provenance": {"dataset": self.data.name}}
                save_original(path, res.model, res.model.wfnet_spec, meta)
            self._original = load(path).model.to(self.device).eval()
        return self._original

    @property
    def original_logits(self) -> torch.Tensor:
        """The original model's test logits: its scores and the relearn targets come from these."""
        if self._original_logits is None:
            model = self.original_model()
            with self.autocast():
                self._original_logits = predict(model, self.data.test, self.data, self.device)
        return self._original_logits

    @property
    def random_logits(self) -> torch.Tensor:
        """M* of ZRF: built from the spec alone (never from a loaded model, whose lazy loading
        inside the seeded block would shift M*'s initialisation), run on the run's device."""
        if self._random_logits is None:
            rnd = random_reference(lambda: build(self.spec), RANDOM_REFERENCE_SEED)
            with self.autocast():
                self._random_logits = predict(rnd, self.data.test, self.data, self.device)
        return self._random_logits

    @property
    def targets(self) -> list[float]:
        """The original model's accuracy on each class (its per-class Acc_f in original.json): the
        bar relearning must reach. Read from that file when it matches this run, so that a piece
        of work that only retrains never has to train the original as well."""
        if self._targets is None:
            self._targets = self._targets_from_results() or [
                row.acc_f for row in self.original_rows()]
        return self._targets

    def _targets_from_results(self) -> list[float] | None:
        if self.results_dir is None:
            return None
        blob = read_result(self.results_dir, self.preset.name, self.data.name, self.backbone, "original",
                           self.seed, recover=True)
        if not self.current(blob, self.method_key("original")):
            return None
        rows = blob.get("per_class") or []  # type: ignore[union-attr]
        if len(rows) != self.data.num_classes or not all(isinstance(r.get("acc_f"), (int, float)) for r in rows):
            return None
        return [row["acc_f"] for row in rows]

    def original_rows(self) -> list[ClassScores]:
        return [class_scores(self.original_logits, self.labels, self.random_logits, c, n)
                for c, n in enumerate(self.data.classes)]

    def base_provenance(self, wall: float, **extra: object) -> dict[str, Any]:
        fields: dict[str, Any] = {"key": self.key, "run_key": self.key, **extra}  # run_key: the whole preset
        return provenance(self.device, wall, **dataset_fields(self.data), backbone=self.backbone,
                          width=self.preset.width, seed=self.seed, preset=self.preset.name, **fields)


def rt_summary(per_class: list[dict[str, Any]]) -> tuple[float | None, int | None]:
    """Mean relearn time over the classes that have one, and how many never relearned
    (both None when no class has an RT): the ``rt`` / ``rt_failed`` of a result file."""
    rts = [p["rt"] for p in per_class if p.get("rt") is not None]
    if not rts:
        return None, None
    return sum(rts) / len(rts), sum(1 for p in per_class if not p.get("relearned", True))


def run_original(run: Run) -> dict[str, Any]:
    start = time.perf_counter()
    scores = aggregate(run.original_rows()).as_dict()
    meta = load(run.dir / "original" / "model.pt").meta
    return {**scores, "rt": None, "rt_failed": None, "test_acc": meta["test_acc"],
            "provenance": run.base_provenance(
                time.perf_counter() - start + meta["wall_seconds"], key=run.method_key("original"),
                config_key=run.config_key("original"),
                train_wall_seconds=meta["wall_seconds"],
                train_images_per_second=meta["train_images_per_second"],
                train_config=run.preset.train_config(run.data.name, run.backbone, run.seed).as_dict())}


def unlearn_class(run: Run, method: str, c: int) -> torch.nn.Module:
    """The model unlearned on class c by a registered single-class method (``wfnet.methods``)."""
    m = METHODS.get(method)
    if m.kind != "single_class" or m.unlearn is None:
        raise WFNetError(f"{method!r} is not a single-class method; expected one of "
                         f"{list(method_names(kind='single_class'))}")
    return m.unlearn(run, c, run.preset.method_config(method, run.data.name, run.backbone, run.seed))


def single_class_piece(run: Run, c: int, unlearn: Callable[[], torch.nn.Module]) -> dict[str, Any]:
    """Unlearn class c (``unlearn()``), score it (Table 1, and the scorecard: MIA-efficacy and
    SalUn's accuracies, while the model exists), then measure its relearn time (which fine-tunes
    a copy)."""
    start = time.perf_counter()
    model = unlearn()
    unlearn_wall = time.perf_counter() - start
    random_logits = run.random_logits
    with run.autocast():
        logits = predict(model, run.data.test, run.data, run.device)
        mia, accuracy = model_scorecard(model, run.data, c, run.device, run.mia)
    sc = class_scores(logits, run.labels, random_logits, c, run.data.classes[c])
    rt = relearn_time(trainable_copy(model), run.data, c, run.targets[c],
                      run.preset.relearn_config(run.backbone, run.seed), run.device)
    return {**sc.__dict__, "rt": rt.epochs, "relearned": rt.relearned, "rt_final_acc": rt.final,
            "unlearn_wall_seconds": unlearn_wall, "wall_seconds": time.perf_counter() - start,
            "mia": finite_or_none({f: r.as_dict() for f, r in mia.items()}), "accuracy": finite_or_none(accuracy)}


def class_pieces(run: Run, method: str, classes: Iterable[int]) -> list[dict[str, Any]]:
    """Per-class results of a single-class method, each with its provenance (cached, resumable).

    The retrained baseline's live beside the results (``retrained/class_<c>.json``): each costs
    a full training, so they are kept and committed one by one and may come from several GPU
    calls; the other methods' are a cache under the run's folder."""
    key = run.method_key(method)
    keep = method == "retrained" and run.results_dir is not None
    root = (result_dir(run.results_dir, run.preset.name, run.data.name, run.backbone, run.seed)  # type: ignore[arg-type]
            if keep else run.dir)

    def compute(c: int) -> dict[str, Any]:
        piece = single_class_piece(run, c, lambda: unlearn_class(run, method, c))
        return {**piece, "provenance": run.base_provenance(piece["wall_seconds"], key=key, cls=c)}

    return [run.cached_json(f"{method}/class_{c}.json", lambda: compute(c), key, root, PIECE_FIELDS)
            for c in tqdm(list(classes), desc=method, disable=not run.progress, leave=False)]


def run_single_class(run: Run, method: str, classes: list[int] | None = None) -> dict[str, Any] | None:
    """The result file's payload of a single-class method. With ``classes`` (the retrained
    baseline only, built a few classes per GPU call) only those are computed, and the payload
    is None until every class's piece is there."""
    nc = run.data.num_classes
    if classes is None:
        per_class = class_pieces(run, method, range(nc))
    else:
        if method != "retrained" or run.results_dir is None:
            raise WFNetError("only the retrained baseline is built class by class (with a results folder)")
        bad = [c for c in classes if not 0 <= c < nc]
        if bad:
            raise WFNetError(f"classes {bad} out of range: expected 0..{nc - 1}")
        class_pieces(run, method, sorted(set(classes)))
        paths = [retrained_class_path(run.results_dir, run.preset.name, run.data.name, run.backbone, c, run.seed)
                 for c in range(nc)]
        blobs = [read_cached_json(p, _has(PIECE_FIELDS)) for p in paths]  # a corrupt one: moved aside
        if not all(run.current(b, run.method_key(method)) for b in blobs):
            return None
        per_class = blobs
    scores = aggregate([scores_row(p) for p in per_class]).as_dict()
    rt, failed = rt_summary(per_class)
    unlearn = [p["unlearn_wall_seconds"] for p in per_class]
    config = run.preset.method_config(method, run.data.name, run.backbone, run.seed).as_dict()
    source = {"config_source": run.preset.config_source(method)} if METHODS.get(method).key_field else {}
    spread = {f"piece_{f}s": sorted({p["provenance"][f] for p in per_class}) for f in ("device", "git_commit")}
    return {**scores, "per_class": [{k: v for k, v in p.items() if k not in ("key", "provenance")} for p in per_class],
            "rt": rt, "rt_failed": failed,
            "provenance": run.base_provenance(
                sum(p["wall_seconds"] for p in per_class), key=run.method_key(method),
                config_key=run.config_key(method), method_config=config,
                **source, mia_config=run.mia.as_dict(),
                relearn_config=run.preset.relearn_config(run.backbone, run.seed).as_dict(),
                unlearn_wall_seconds_total=sum(unlearn), unlearn_wall_seconds_per_class=unlearn,
                **{k: v for k, v in spread.items() if len(v) > 1})}


def scores_row(p: dict[str, Any]) -> ClassScores:
    """The scores of a cached per-class piece (JSON), ready for ``metrics.aggregate``."""
    return ClassScores(p["cls"], p["name"], p["acc_r"], p["acc_f"], p["zrf"])


def wf_model(run: Run) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The run's WF checkpoint and its metadata: loaded when its key matches, else untrained
    (every class in one round) and saved first."""
    path = run.dir / "wfnet" / "wf.pt"
    key = run.method_key("wfnet")
    loaded = load_cached(path, key, kind="wf")  # a corrupt one is moved aside and untrained again
    if loaded is not None and loaded.meta.get("data_fingerprint", run.fingerprint) == run.fingerprint:
        return loaded.model.to(run.device), loaded.meta
    cfg = run.preset.untrain_config(run.backbone, run.seed)
    model = wrap(run.original_model(), run.data.num_classes, init=cfg.alpha_init)
    res = untrain(model, run.data, cfg, run.device, progress=run.progress)
    meta = {"key": key, "wall_seconds": res.wall_seconds, "steps": res.steps,
            "epochs_run": res.epochs_run, "stopped": res.stopped, "best_val_loss": res.best_val_loss,
            "history": res.history, "untrain_config": cfg.as_dict(), "data_fingerprint": run.fingerprint,
            "provenance": {"dataset": run.data.name}}
    save_wf(path, res.model, run.spec, meta)
    return load(path).model.to(run.device), meta  # reloaded, so a resumed run computes the same


def run_wfnet(run: Run) -> dict[str, Any]:
    start = time.perf_counter()
    model, meta = wf_model(run)
    random_logits = run.random_logits
    with run.autocast():
        rows = [class_scores(predict(model, run.data.test, run.data, run.device, forget=c), run.labels,
                             random_logits, c, n) for c, n in enumerate(run.data.classes)]
    rcfg = run.preset.relearn_config(run.backbone, run.seed)

    def rt_piece(c: int) -> dict[str, Any]:
        r = relearn_time(trainable_copy(model, row=c), run.data, c, run.targets[c], rcfg, run.device)
        return {"rt": r.epochs, "relearned": r.relearned, "rt_final_acc": r.final}

    rts = [run.cached_json(f"wfnet/relearn_{c}.json", lambda: rt_piece(c), run.method_key("wfnet"),
                           fields=RELEARN_FIELDS) for c in
           tqdm(range(run.data.num_classes), desc="wfnet relearn", disable=not run.progress, leave=False)]
    with run.autocast():
        curves = gate_curves(model, run.data, run.device, run.preset.insdel_steps)
    rel = relationships(model, run.preset.top_k, classes=run.data.classes)
    per_class = [{**r.__dict__, **{k: v for k, v in t.items() if k != "key"}} for r, t in zip(rows, rts)]
    rt, failed = rt_summary(per_class)
    return {**aggregate(rows).as_dict(), "per_class": per_class, "rt": rt, "rt_failed": failed,
            "insertion": curves.insertion_auc, "deletion": curves.deletion_auc,
            "insertion_curve": [[f, v] for f, v in zip(curves.fractions, curves.insertion)],
            "deletion_curve": [[f, v] for f, v in zip(curves.fractions, curves.deletion)],
            "untrain": {k: meta[k] for k in ("steps", "epochs_run", "stopped", "best_val_loss")},
            "_relationships": rel,
            "provenance": run.base_provenance(
                time.perf_counter() - start + meta["wall_seconds"], key=run.method_key("wfnet"),
                config_key=run.config_key("wfnet"), method_config=meta["untrain_config"],
                relearn_config=rcfg.as_dict(), unlearn_wall_seconds_total=meta["wall_seconds"],
                wf_layers=len(model.layer_names))}


def _write_relationships(path: Path, rows: list[dict[str, object]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["layer", "filter", "class", "relevance"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def prepared_run(dataset: str, backbone: str, preset: str | Preset, results_dir: str | Path, runs_dir: str | Path,
                 device: str, data_root: str | Path | None, seed: int, progress: bool,
                 allow_slow: bool = False) -> Run:
    """A ``Run`` whose names were checked before any data is loaded (and, for a ``gpu_only``
    preset on a CPU, only with ``allow_slow``), with the preset as used for this cell: the
    single-class baselines' configs chosen by the cell's search when ``results_dir`` holds one
    whose key is current (``resolve_preset``)."""
    git_commit()  # pin the code version this run starts with (provenance)
    p = preset if isinstance(preset, Preset) else PRESETS.get(preset)
    dev = resolve_device(device)
    p = resolve_preset(p.on(dev), dataset, backbone, results_dir)  # the search's key at this run's precision
    create_backbone(backbone, 2)  # unknown backbone: fail before loading data
    if p.gpu_only and dev.type != "cuda" and not allow_slow:
        raise WFNetError(f"the {p.name!r} preset takes GPU-hours (days on a CPU); run it on a GPU "
                         "(scripts/gpu_run.sh), or pass --allow-slow to run it on the CPU anyway")
    data = load_dataset(dataset, data_root)
    return Run(data, backbone, p, Path(runs_dir), dev, seed, progress, Path(results_dir))


RESULT_IDENTITY = ("method", "preset", "dataset", "backbone", "seed", "data_fingerprint")


def _recorded_identity(blob: dict[str, Any]) -> dict[str, Any]:
    prov = blob.get("provenance") if isinstance(blob.get("provenance"), dict) else {}
    return {k: blob.get(k, prov.get(k)) for k in RESULT_IDENTITY}


def guard_results(run: Run, methods: list[str], force: bool = False) -> None:
    """Before any work: refuse (unless ``force``) to replace a result file at one of this run's
    paths that records another configuration (another method, cell or seed, or data of another
    fingerprint). A stale file of the same configuration (another key: the code or the preset
    changed) is recomputed as before, and one that does not read is moved aside later."""
    if force or run.results_dir is None:
        return
    where = (run.results_dir, run.preset.name, run.data.name, run.backbone)
    paths = [(result_path(*where, m, run.seed), m) for m in methods]
    if "retrained" in methods:
        paths += [(retrained_class_path(*where, c, run.seed), None) for c in range(run.data.num_classes)]
    for path, method in paths:
        if not path.is_file():
            continue
        try:
            found = _recorded_identity(read_json_object(path))
        except CorruptFileError:
            continue
        want = {"method": method, "preset": run.preset.name, "dataset": run.data.name, "backbone": run.backbone,
                "seed": run.seed, "data_fingerprint": run.fingerprint}
        differ = [f"{k} {found[k]!r} (this run: {v!r})" for k, v in want.items()
                  if v is not None and found[k] is not None and found[k] != v]
        if differ:
            raise WFNetError(f"{path} holds a result of another configuration ({'; '.join(differ)}); reproduce "
                             "would replace it: choose another --out, or pass --force to recompute and replace it")


def run_methods(run: Run, methods: list[str], classes: list[int] | None = None) -> dict[str, dict[str, Any]]:
    """Run (or reuse) each method by its kind in the registry; write one result file each."""
    where = (run.results_dir, run.preset.name, run.data.name, run.backbone)
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        existing = read_result(*where, method, run.seed, recover=True)
        if run.current(existing, run.method_key(method)):
            out[method] = existing  # type: ignore[assignment]
            continue
        kind = METHODS.get(method).kind
        if kind == "reference":
            payload = run_original(run)
        elif kind == "one_round":
            payload = run_wfnet(run)
            _write_relationships(result_path(*where, method, run.seed).with_name(RELATIONSHIPS),
                                 payload.pop("_relationships"))
        else:
            payload = run_single_class(run, method, classes)
            if payload is None:
                continue  # some retrained classes still missing: their pieces are kept
        write_result(*where, method, payload, run.seed)
        out[method] = read_result(*where, method, run.seed) or payload
    return out


def reproduce(dataset: str, backbone: str, preset: str | Preset = "smoke", results_dir: str | Path = "results",
              runs_dir: str | Path = "runs", device: str = "auto", data_root: str | Path | None = None,
              seed: int = 0, methods: list[str] | None = None, progress: bool = True,
              classes: list[int] | None = None, allow_slow: bool = False,
              force: bool = False) -> dict[str, dict[str, Any]]:
    """Run (or reuse) the paper's methods (or ``methods``: any registered ones) for one dataset x
    backbone; write one result file each.

    ``classes`` builds only those classes of the retrained baseline (its ``retrained.json`` is
    written once all are there); a ``gpu_only`` preset on a CPU needs ``allow_slow``; ``force``
    replaces result files that record another configuration (``guard_results``)."""
    methods = list(methods or method_names(in_paper=True))
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise WFNetError(f"unknown method(s) {bad}; expected some of {list(method_names())}")
    if classes is not None and methods != ["retrained"]:
        raise WFNetError("classes= selects classes of the retrained baseline: use it with methods=['retrained'] alone")
    run = prepared_run(dataset, backbone, preset, results_dir, runs_dir, device, data_root, seed, progress, allow_slow)
    guard_results(run, methods, force)
    return run_methods(run, methods, classes)

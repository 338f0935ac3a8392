"""Result files keyed by their parameters (``results/<preset>/<dataset>/<backbone>/<method>.json``):
experiments write them atomically, tables and figures read only them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

from ..errors import CorruptFileError, WFNetError
from ..io import atomic_write_json, move_aside, null_non_finite, read_json_object

# Experiments write these (atomically); tables, figures and the book read only these. A cell whose
# file is missing is "not run".
#
# The path carries every parameter a user chooses (preset, dataset, backbone, method, seed): seed 0
# lives at the path above (the paper queue's), any other seed ``n`` one level down, in
# ``.../<backbone>/seed-<n>/<method>.json``, so runs of two seeds never write the same file. The
# key inside (``provenance.key``, ``wfnet.experiments.presets.Preset.key``) covers everything else the result
# depends on (every derived config and the method's code version): a file at the right path with
# another key is out of date and is recomputed.
#
# Non-finite numbers (a metric that could not be computed, e.g. the loss of a diverged model) are
# written as ``null``, and ``null_reasons`` says which fields were nulled and what they were.

RELATIONSHIPS = "relationships.csv"  # tidy table: layer, filter, class, relevance (Figures 3-4)


def result_dir(root: Path, preset: str, dataset: str, backbone: str, seed: int = 0) -> Path:
    """The folder of one preset x dataset x backbone x seed (seed 0: no seed level)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise WFNetError(f"seed must be an integer >= 0, got {seed!r}")
    base = Path(root) / preset / dataset / backbone
    return base if seed == 0 else base / f"seed-{seed}"


def result_path(root: Path, preset: str, dataset: str, backbone: str, method: str, seed: int = 0) -> Path:
    return result_dir(root, preset, dataset, backbone, seed) / f"{method}.json"


def retrained_class_path(root: Path, preset: str, dataset: str, backbone: str, cls: int, seed: int = 0) -> Path:
    """One class of the retrained baseline (a full training each): kept beside the results, so a
    column is filled over several GPU calls; ``retrained.json`` is written once all are there."""
    return result_dir(root, preset, dataset, backbone, seed) / "retrained" / f"class_{cls}.json"


def with_null_reasons(payload: dict[str, Any]) -> dict[str, Any]:
    """A JSON-ready payload: non-finite numbers nulled, and ``null_reasons`` saying which (only
    when there are any, so files without them stay as they were)."""
    clean, reasons = null_non_finite({k: v for k, v in payload.items() if k != "null_reasons"})
    reasons = {**(payload.get("null_reasons") or {}), **reasons}
    return {**clean, "null_reasons": reasons} if reasons else clean


def write_result(root: Path, preset: str, dataset: str, backbone: str, method: str,
                 payload: dict[str, Any], seed: int = 0) -> Path:
    path = result_path(root, preset, dataset, backbone, method, seed)
    atomic_write_json(path, with_null_reasons({"method": method, "preset": preset, "dataset": dataset,
                                               "backbone": backbone, **payload}))
    return path


def check_result(blob: dict[str, Any], path: Path) -> None:
    """The shape every result file has: an object whose ``provenance`` (when present) is an
    object and whose scores (when present) are numbers or null; else ``CorruptFileError``."""
    prov = blob.get("provenance", {})
    if not isinstance(prov, dict):
        raise CorruptFileError(path, "its provenance is not an object")
    for field in ("acc_r", "acc_f", "zrf", "rt"):
        v = blob.get(field)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CorruptFileError(path, f"{field} is {v!r}, not a number")
    per_class = blob.get("per_class", [])
    if not isinstance(per_class, list) or not all(isinstance(r, dict) for r in per_class):
        raise CorruptFileError(path, "per_class is not a list of objects")


SCORE_RANGES = {"acc_r": (0.0, 100.0), "acc_f": (0.0, 100.0), "test_acc": (0.0, 100.0),  # percent
                "zrf": (0.0, 1.0), "rt": (0.0, 100.0)}                                     # RT: epochs, capped
NEEDS_REASON = ("acc_r", "acc_f", "zrf", "test_acc")  # null only with ``null_reasons`` saying why
RANGE_SLACK = 1e-3  # a float32 percentage may round just past 100


def _score(path: Path, where: str, field: str, value: Any, reasons: dict[str, Any]) -> None:
    if value is None:
        if field in NEEDS_REASON and where not in reasons:
            raise CorruptFileError(path, f"{where} is null without a reason in null_reasons")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CorruptFileError(path, f"{where} is {value!r}, not a number")
    low, high = SCORE_RANGES[field]
    if not low - RANGE_SLACK <= value <= high + RANGE_SLACK:
        raise CorruptFileError(path, f"{where} is {value!r}, outside [{low:g}, {high:g}]")


def _class_row(path: Path, row: Any, where: str, cls: int, reasons: dict[str, Any]) -> None:
    if not isinstance(row, dict):
        raise CorruptFileError(path, f"{where or 'the file'} is not an object")
    found = row.get("cls")
    if isinstance(found, bool) or found != cls:
        raise CorruptFileError(path, f"{where + '.' if where else ''}cls is {found!r}, expected {cls}")
    for field in ("acc_r", "acc_f", "zrf", "rt"):
        if field not in row and field != "rt":
            raise CorruptFileError(path, f"{where + '.' if where else ''}{field} is missing")
        _score(path, f"{where}.{field}" if where else field, field, row.get(field), reasons)


def check_result_values(blob: dict[str, Any], path: Path, num_classes: int, piece_class: int | None = None) -> None:
    """The values of a result file, trusted by nothing else (``wfnet collect`` checks every file of
    a bundle with it): each score a finite number in its range (accuracies in [0, 100], ZRF in
    [0, 1], RT in [0, 100] epochs) or null with a reason in ``null_reasons``, and ``per_class`` a
    list of ``num_classes`` rows in class order. ``piece_class``: the file is one class's piece
    (``retrained/class_<c>.json``). Else ``CorruptFileError`` naming the field and the value."""
    check_result(blob, path)
    reasons = blob.get("null_reasons") or {}
    if not isinstance(reasons, dict):
        raise CorruptFileError(path, "null_reasons is not an object")
    if piece_class is not None:
        _class_row(path, blob, "", piece_class, reasons)
        return
    for field in ("acc_r", "acc_f", "zrf", "rt", "test_acc"):
        if field in blob:
            _score(path, field, field, blob[field], reasons)
        elif field in ("acc_r", "acc_f", "zrf"):
            raise CorruptFileError(path, f"{field} is missing")
    failed = blob.get("rt_failed")
    if failed is not None and (isinstance(failed, bool) or not isinstance(failed, int) or not 0 <= failed <= num_classes):
        raise CorruptFileError(path, f"rt_failed is {failed!r}, not a count of classes in [0, {num_classes}]")
    rows = blob.get("per_class")
    if not isinstance(rows, list) or len(rows) != num_classes:
        raise CorruptFileError(path, f"per_class is {_describe(rows)}, expected a list of {num_classes} classes")
    for i, row in enumerate(rows):
        _class_row(path, row, f"per_class.{i}", i, reasons)


def _describe(value: Any) -> str:
    return f"a list of {len(value)}" if isinstance(value, list) else repr(value)[:40]


def read_result_file(path: Path, recover: bool = False, advice: str = "") -> dict[str, Any] | None:
    """One result file, validated: None when missing. A file that does not parse or validate is
    moved aside and read as missing with ``recover=True`` (a caller that recomputes it), else an
    error naming it and saying what to do."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        blob = read_json_object(path)
        check_result(blob, path)
    except CorruptFileError as err:
        if recover:
            move_aside(path, err.reason)
            return None
        raise CorruptFileError(path, err.reason, advice or (
            "rerun the command that wrote it (it moves the file aside and recomputes it), "
            "or restore it from version control")) from None
    return blob


def read_result(root: Path, preset: str, dataset: str, backbone: str, method: str, seed: int = 0,
                recover: bool = False) -> dict[str, Any] | None:
    path = result_path(root, preset, dataset, backbone, method, seed)
    seed_flag = f" --seed {seed}" if seed else ""
    return read_result_file(path, recover, advice=(
        f"rerun `wfnet reproduce --dataset {dataset} --backbone {backbone} --preset {preset}{seed_flag}` "
        "(it moves the file aside and recomputes it), or restore it from version control"))


def seeds_present(root: Path, preset: str, dataset: str, backbone: str) -> list[int]:
    """Seed 0 and every ``seed-<n>`` folder of one cell, in order (whether or not a file is there)."""
    base = result_dir(Path(root), preset, dataset, backbone)
    extra = sorted(int(d.name[5:]) for d in base.glob("seed-*") if d.is_dir() and d.name[5:].isdigit())
    return [0, *(s for s in extra if s > 0)]


def result_seed(res: dict[str, Any]) -> int | None:
    """The seed a result records (``provenance.seed``)."""
    seed = (res.get("provenance") or {}).get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _same_run(res: dict[str, Any]) -> tuple[object, object]:
    """What seeds of one configuration share: the key of their configuration at seed 0
    (``provenance.config_key``: every config, the method's code version, the attack) and the data."""
    prov = res.get("provenance") or {}
    return prov.get("config_key"), prov.get("data_fingerprint")


def seed_results(root: Path, preset: str, dataset: str, backbone: str, method: str,
                 notes: list[str] | None = None) -> list[dict[str, Any]]:
    """One method's result of every seed that has one and ran the same configuration on the same
    data as the first (seed 0 first): what a table averages. A seed whose configuration differs
    (another config, code version or attack: ``provenance.config_key``) or whose data differs, or
    that cannot be checked (a file without ``config_key`` beside other seeds), is left out, with a
    sentence appended to ``notes``."""
    found = [(seed, read_result(root, preset, dataset, backbone, method, seed))
             for seed in seeds_present(root, preset, dataset, backbone)]
    found = [(seed, res) for seed, res in found if res is not None]
    if len(found) <= 1:
        return [res for _, res in found]
    first_seed, first = found[0]
    want = _same_run(first)
    kept = [first]
    for seed, res in found[1:]:
        got = _same_run(res)
        if want[0] is None or got[0] is None:
            why = "records no configuration key to check it against" if got[0] is None else (
                f"cannot be checked against seed {first_seed}'s, which records no configuration key")
        elif got[0] != want[0]:
            why = f"ran another configuration (key {got[0]}, seed {first_seed}'s {want[0]})"
        elif got[1] != want[1]:
            why = f"ran on other data (fingerprint {got[1]}, seed {first_seed}'s {want[1]})"
        else:
            kept.append(res)
            continue
        if notes is not None:
            notes.append(f"{preset} · {dataset} · {backbone} · {method}: seed {seed} left out of the mean, it {why}.")
    return kept


def iter_results(root: Path) -> Iterator[dict[str, Any]]:
    """Every (seed-0) result file under ``root``, in a stable order; a corrupt one is an error
    naming it."""
    for path in sorted(Path(root).glob("*/*/*/*.json")):
        blob = read_result_file(path)
        if blob is not None:
            yield blob

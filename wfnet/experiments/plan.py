"""Paper scale as a queue of self-contained pieces of GPU work, each short enough for one call,
with estimates of their GPU seconds and their state read from ``results/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import WFNetError
from ..methods.salun import SalunConfig
from ..methods.ssd import SSDConfig
from .baseline_search import SEARCH_FILE, SPACES, resolve_preset, search_key
from .presets import PRESETS, Preset
from .results import RELATIONSHIPS, result_path, retrained_class_path

# GPU time comes in slices (15 minutes, at most 10 per command, a fresh machine each time, only a
# few result files coming back). So Tables 1-2 and Figures 3-4 are cut into pieces that each train
# whatever they need (no checkpoint survives between calls) and write result files that are
# committed: per dataset x backbone a ``search`` of the single-class baselines' hyper-parameters on
# a validation split (``wfnet.experiments.baseline_search``, seed 0 only: one search per cell), a
# ``core`` piece (original, WF-Net with RT, insertion/deletion and filter-class relationships,
# random labels, negative gradients; split in two where one piece would run too long), and the
# retrained baseline a few classes per piece. The search comes first within its cell: the core
# piece's baselines run with the configs it chose (``resolve_preset``), so a core piece run before
# its search would be stale once the search lands. ``plan`` lists the pieces with an estimate of
# their GPU seconds and their state read from ``results/`` (keys resolved against the search file
# there); ``next_pieces`` picks what fits in a budget.
#
# Estimates come from throughput measured on a GPU (``THROUGHPUT``, images/s, with the run it comes
# from) and a per-step overhead; they are estimates, refreshed from the wall times that finished
# pieces record.

PAPER_DATASETS = ("mnist", "cifar10")
BEYOND_DATASETS = ("fashion-mnist",)    # beyond the paper: a column the paper does not have
PLAN_DATASETS = {"paper": (*PAPER_DATASETS, *BEYOND_DATASETS),
                 "smoke": ("mnist-5k",)}  # the smoke preset's home: the embedded digits, CPU-sized
BACKBONE_ORDER = ("resnet18", "vgg16", "vit_tiny", "vit_small")
PIECE_LIMIT_S = 540.0                   # a piece must fit one device command (10 min) with room

# Sizes of the copies this project reads (MNIST: the first 17,435 training images, see
# ../shared/data/README.md); used for estimates only, the runs read the real files.
DATA_SIZES = {"mnist": (17435, 10000), "cifar10": (50000, 10000), "fashion-mnist": (60000, 10000),
              "mnist-5k": (4000, 1000), "imagenet": (1_281_167, 5_000)}  # ImageNet: the 5-per-class evaluation subset
NUM_CLASSES = 10

# Images/s on an H200 at commit d9413f4 (benchmarks/wf_overhead.py, batch 256, 3x32x32, bf16;
# ../shared/notes/gpu-measurements-2026-11-26.md): a full training step of the plain backbone,
# an untraining step of the WF model (mixed rows) and inference.
THROUGHPUT = {  # backbone: (train, untrain, infer)
    "resnet18": (36954.0, 27728.0, 154596.0),
    "vgg16": (51169.0, 35246.0, 211198.0),
    "vit_tiny": (20434.0, 19898.0, 76094.0),
    "vit_small": (15205.0, 16712.0, 56379.0),
}
STEP_OVERHEAD_S = 0.004       # Python and launch cost of one small step (batch 64-128), seconds
EVAL_OVERHEAD_S = 0.02        # one relearn-time evaluation of a class (its ~1,000 test images)
SETUP_S = 20.0                # process start, data decode/transfer, cuDNN autotuning
UNTRAIN_EPOCHS_EXPECTED = 13  # early stopping ended ResNet-18 / CIFAR-10 at 12.4 of 20 epochs


@dataclass(frozen=True)
class Piece:
    """One self-contained unit of GPU work and the result files it writes."""

    preset: str
    dataset: str
    backbone: str
    part: str                          # "core", "core-wf", "core-rl-ng", ..., "search" or "retrained-A-B"
    methods: tuple[str, ...]
    classes: tuple[int, ...] | None    # retrained pieces only
    estimate_s: float
    seed: int = 0

    @property
    def id(self) -> str:
        seed = f"/seed-{self.seed}" if self.seed else ""
        return f"{self.preset}/{self.dataset}/{self.backbone}{seed}/{self.part}"

    @property
    def optional(self) -> bool:
        """Extra seeds: worth running only once every seed-0 piece is done."""
        return self.seed != 0

    def outputs(self, results_dir: Path) -> list[tuple[Path, str]]:
        """(file, the key it must carry) for everything this piece writes; the keys of the
        baselines are those of the configs the cell's current search under ``results_dir`` chose."""
        p = resolve_preset(PRESETS.get(self.preset), self.dataset, self.backbone, results_dir)
        args = (results_dir, self.preset, self.dataset, self.backbone)
        if self.part == "search":
            key = search_key(p, SPACES[self.preset], self.dataset, self.backbone, self.seed)
            return [(result_path(*args, SEARCH_FILE, self.seed), key)]
        if self.classes is not None:
            key = p.key(self.dataset, self.backbone, self.seed, "retrained")
            return [(retrained_class_path(*args, c, self.seed), key) for c in self.classes]
        out = [(result_path(*args, m, self.seed), p.key(self.dataset, self.backbone, self.seed, m)) for m in self.methods]
        if "wfnet" in self.methods:
            out.append((result_path(*args, "wfnet", self.seed).with_name(RELATIONSHIPS), ""))
        return out

    def state(self, results_dir: Path) -> str:
        """done (every file, current key) / missing (none) / partial / stale (a file of another key)."""
        states = [_file_state(path, key) for path, key in self.outputs(Path(results_dir))]
        if all(s == "done" for s in states):
            return "done"
        if "stale" in states:
            return "stale"
        return "partial" if "done" in states else "missing"

    def command(self, device: str, results_dir: str = "results", runs_dir: str = "runs") -> list[str]:
        """The ``wfnet`` call that runs this piece."""
        where = ["--dataset", self.dataset, "--backbone", self.backbone, "--preset", self.preset, "--out", results_dir,
                 "--device", device, "--seed", str(self.seed), "--no-progress"]
        if self.part == "search":
            return ["search-baselines", *where]
        cmd = ["reproduce", *where, "--methods", *self.methods, "--runs", runs_dir]
        if self.classes is not None:
            cmd += ["--classes", *map(str, self.classes)]
        return cmd


def _file_state(path: Path, key: str) -> str:
    if not path.is_file():
        return "missing"
    if not key:  # e.g. relationships.csv: valid when present (its wfnet.json carries the key)
        return "done"
    try:
        blob = json.loads(path.read_text())
    except (OSError, ValueError):
        return "stale"
    if not isinstance(blob, dict):  # e.g. ``[]``: not a result; the piece's run moves it aside
        return "stale"
    prov = blob.get("provenance")
    found = blob.get("key") or (prov.get("key") if isinstance(prov, dict) else None)
    return "done" if found == key else "stale"


# -- estimates ------------------------------------------------------------------------------------

def _ips(backbone: str) -> tuple[float, float, float]:
    try:
        return THROUGHPUT[backbone]
    except KeyError:
        raise WFNetError(f"no measured throughput for backbone {backbone!r}: add it to wfnet.experiments.plan.THROUGHPUT") from None


def train_seconds(p: Preset, dataset: str, backbone: str) -> float:
    """One original (or retrained) model: epochs over the training set, plus a test pass."""
    n_train, n_test = DATA_SIZES[dataset]
    cfg = p.train_config(dataset, backbone, 0)
    train, _, infer = _ips(backbone)
    steps = cfg.epochs * n_train / cfg.batch_size
    return cfg.epochs * n_train / train + steps * STEP_OVERHEAD_S + n_test / infer


def relearn_seconds(p: Preset, dataset: str, backbone: str) -> float:
    """Relearn time of one class, at its cap (the slow case: a class that never relearns)."""
    n_test = DATA_SIZES[dataset][1]
    cfg = p.relearn_config(backbone, 0)
    train, _, infer = _ips(backbone)
    per_epoch = (cfg.samples_per_epoch / train + cfg.samples_per_epoch / cfg.batch_size * STEP_OVERHEAD_S
                 + n_test / NUM_CLASSES / infer + EVAL_OVERHEAD_S)
    return cfg.max_epochs * per_epoch


def wfnet_seconds(p: Preset, dataset: str, backbone: str) -> float:
    """Untraining (each step forwards the forget half and chi copies of the retain half),
    RT of every row, insertion/deletion (two curves of ``insdel_steps`` + 1 points per class)."""
    n_train, n_test = DATA_SIZES[dataset]
    cfg = p.untrain_config(backbone, 0)
    _, untrain, infer = _ips(backbone)
    epochs = min(cfg.epochs, UNTRAIN_EPOCHS_EXPECTED)
    forwards = epochs * n_train * (1 - cfg.val_fraction) * (1 + cfg.chi) / 2
    untraining = forwards / untrain + epochs * n_train / cfg.batch_size * STEP_OVERHEAD_S
    insdel = 2 * (p.insdel_steps + 1) * (n_test / infer + NUM_CLASSES * EVAL_OVERHEAD_S)
    return untraining + NUM_CLASSES * relearn_seconds(p, dataset, backbone) + insdel


def unlearn_seconds(p: Preset, dataset: str, backbone: str, cfg: object, method: str) -> float:
    """Unlearning one class with a single-class baseline's config (no scoring, no RT): fine-tuning
    epochs over the class (random labels and SalUn: with as many retain images per
    ``retain_ratio``; SalUn: one gradient pass for its mask first); SSD: a gradient pass over the
    training set and one over the class."""
    n_train, _ = DATA_SIZES[dataset]
    train = _ips(backbone)[0]
    per_class = n_train / NUM_CLASSES
    if isinstance(cfg, SSDConfig):
        images = n_train + per_class
        return images / train + images / cfg.batch_size * STEP_OVERHEAD_S
    mask = 0.0
    if isinstance(cfg, SalunConfig):
        mask = per_class / train + per_class / cfg.saliency_batch_size * STEP_OVERHEAD_S
        cfg = cfg.finetune
    images = cfg.epochs * per_class * (1 + (cfg.retain_ratio if method in ("random_labels", "salun") else 0))  # type: ignore[attr-defined]
    return mask + images / train + images / cfg.batch_size * STEP_OVERHEAD_S  # type: ignore[attr-defined]


def finetune_seconds(p: Preset, dataset: str, backbone: str, method: str) -> float:
    """One single-class baseline for every class, with its RT."""
    n_test = DATA_SIZES[dataset][1]
    infer = _ips(backbone)[2]
    cfg = p.method_config(method, dataset, backbone, 0)
    per_class = unlearn_seconds(p, dataset, backbone, cfg, method) + n_test / infer + relearn_seconds(p, dataset, backbone)
    return NUM_CLASSES * per_class


def search_seconds(p: Preset, dataset: str, backbone: str) -> float:
    """The baseline search: an original on the fit split, every candidate on a few classes (SSD's
    importances once per class, shared by its candidates)."""
    space = SPACES.get(p.name)
    if space is None:
        return 0.0
    n_train, _ = DATA_SIZES[dataset]
    infer = _ips(backbone)[2]
    val = n_train * space.val_fraction / infer
    tries = 0.0
    for method, candidates in space.candidates.items():
        if method == "ssd":
            once = {c.batch_size: unlearn_seconds(p, dataset, backbone, c, method) for c in candidates}
            tries += len(space.classes) * (sum(once.values()) + len(candidates) * val)
            continue
        tries += len(space.classes) * sum(unlearn_seconds(p, dataset, backbone, c, method) + val for c in candidates)
    return SETUP_S + train_seconds(p, dataset, backbone) * (1 - space.val_fraction) + tries


def retrained_class_seconds(p: Preset, dataset: str, backbone: str) -> float:
    return train_seconds(p, dataset, backbone) + relearn_seconds(p, dataset, backbone) + SETUP_S / 4


# -- the plan ---------------------------------------------------------------------------------------

SHORT = {"wfnet": "wf", "random_labels": "rl", "negative_gradients": "ng"}


def pieces_for(p: Preset, dataset: str, backbone: str, seed: int = 0) -> list[Piece]:
    """Every piece of one dataset x backbone, none estimated over ``PIECE_LIMIT_S``: the core
    methods packed greedily into as few pieces as fit (each trains the original it needs; the
    first also writes original.json), then the retrained baseline a few classes per piece."""
    train = SETUP_S + train_seconds(p, dataset, backbone)
    costs = {"wfnet": wfnet_seconds(p, dataset, backbone),
             **{m: finetune_seconds(p, dataset, backbone, m) for m in ("random_labels", "negative_gradients")}}
    groups: list[tuple[list[str], float]] = [(["original"], train)]
    for method, cost in costs.items():
        methods, total = groups[-1]
        if total + cost > PIECE_LIMIT_S and methods != ["original"]:
            groups.append(([], train))
            methods, total = groups[-1]
        methods.append(method)
        groups[-1] = (methods, total + cost)
    over = [g for g in groups if g[1] > PIECE_LIMIT_S]
    if over:
        raise WFNetError(f"{p.name}/{dataset}/{backbone}: {over[0][0]} is estimated at {over[0][1]:.0f} s, over the "
                         f"{PIECE_LIMIT_S:.0f} s a piece may take: shorten the preset's recipe")
    out = [Piece(p.name, dataset, backbone,
                 "core" if len(groups) == 1 else "core-" + "-".join(SHORT[m] for m in ms if m in SHORT),
                 tuple(ms), None, round(cost, 1), seed) for ms, cost in groups]
    search = search_seconds(p, dataset, backbone) if seed == 0 else 0.0  # one search per cell: seed 0's
    if search > PIECE_LIMIT_S:
        raise WFNetError(f"{p.name}/{dataset}/{backbone}: the baseline search is estimated at {search:.0f} s, over the "
                         f"{PIECE_LIMIT_S:.0f} s a piece may take: shrink its search space")
    if search:
        out.insert(0, Piece(p.name, dataset, backbone, "search", tuple(SPACES[p.name].candidates), None,
                            round(search, 1), seed))
    per_class = retrained_class_seconds(p, dataset, backbone)
    k = max(1, min(NUM_CLASSES, int((PIECE_LIMIT_S - SETUP_S) // per_class)))
    for a in range(0, NUM_CLASSES, k):
        classes = tuple(range(a, min(NUM_CLASSES, a + k)))
        out.append(Piece(p.name, dataset, backbone, f"retrained-{classes[0]}-{classes[-1]}", ("retrained",), classes,
                         round(SETUP_S + per_class * len(classes), 1), seed))
    return out


EXTRA_SEEDS = (1, 2)  # optional pieces after every seed-0 one: mean +- std in the tables


def plan(preset: str = "paper", datasets: Sequence[str] | None = None, backbones: Sequence[str] | None = None,
         seeds: Sequence[int] = (0, *EXTRA_SEEDS)) -> list[Piece]:
    """The whole queue, in the order it is worked down: every cell's search and then its core
    piece (paper datasets first, ResNet-18 first) before any retrained piece, since a core piece
    fills a row of Table 1 and its baselines run with what the search chose; pieces of seeds other
    than 0 (optional) after all of seed 0's."""
    p = PRESETS.get(preset)
    datasets = list(datasets or PLAN_DATASETS.get(preset, PAPER_DATASETS))
    backbones = list(backbones or BACKBONE_ORDER)
    for d in datasets:
        if d not in DATA_SIZES:
            raise WFNetError(f"no plan for dataset {d!r}; expected some of {sorted(DATA_SIZES)}")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad or not seeds:
        raise WFNetError(f"seeds must be integers >= 0, got {list(seeds)}")
    every = [piece for seed in dict.fromkeys(seeds) for d in datasets for b in backbones
             for piece in pieces_for(p, d, b, seed)]
    stage = lambda x: 1 if x.classes is not None else 0  # noqa: E731
    return sorted(every, key=lambda x: (x.optional, x.seed, stage(x), datasets.index(x.dataset),
                                        backbones.index(x.backbone), x.part != "search"))


def next_pieces(pieces: Iterable[Piece], results_dir: Path, budget_s: float) -> list[Piece]:
    """The pieces still to run, in queue order, that fit one after another in ``budget_s``."""
    chosen, left = [], budget_s
    for piece in pieces:
        if piece.state(results_dir) != "done" and piece.estimate_s <= left:
            chosen.append(piece)
            left -= piece.estimate_s
    return chosen


def plan_table(pieces: Sequence[Piece], results_dir: Path) -> str:
    """The plan as a markdown table, with the total still to run."""
    lines = ["| piece | methods | estimate (GPU s) | state |", "|---|---|---:|---|"]
    todo = 0.0
    for piece in pieces:
        state = piece.state(results_dir)
        todo += piece.estimate_s if state != "done" else 0.0
        what = ("search: " if piece.part == "search" else "") + ", ".join(piece.methods) + (
            f" (classes {piece.classes[0]}-{piece.classes[-1]})" if piece.classes else "")
        lines.append(f"| {piece.id} | {what} | {piece.estimate_s:.0f} | {state} |")
    done = sum(1 for x in pieces if x.state(results_dir) == "done")
    required = [x for x in pieces if not x.optional]
    todo_required = sum(x.estimate_s for x in required if x.state(results_dir) != "done")
    lines.append(f"\n{done} of {len(pieces)} pieces done; about {todo_required / 3600:.1f} GPU-hours left for seed 0 "
                 f"({todo / 3600:.1f} with the optional extra seeds; estimates from measured throughput, "
                 "see wfnet.experiments.plan.THROUGHPUT).")
    return "\n".join(lines)

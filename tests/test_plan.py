"""The paper-scale queue: every piece listed with an estimate that fits one device command,
states read from result files, and a budget that picks pieces in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfnet.cli import main
from wfnet.errors import WFNetError
from wfnet.experiments.plan import BACKBONE_ORDER, PIECE_LIMIT_S, next_pieces, plan
from wfnet.experiments.presets import PRESETS
from wfnet.experiments.results import result_path, retrained_class_path


def test_plan_covers_every_cell_of_the_paper_within_one_command():
    pieces = [p for p in plan("paper") if p.seed == 0]
    for dataset in ("mnist", "cifar10"):
        for backbone in BACKBONE_ORDER:
            mine = [p for p in pieces if (p.dataset, p.backbone) == (dataset, backbone)]
            methods = {m for p in mine if p.part != "search" for m in p.methods}
            assert methods == {"original", "wfnet", "random_labels", "negative_gradients", "retrained"}, (dataset, backbone)
            parts = [p.part for p in mine]
            assert parts.index("search") < min(i for i, part in enumerate(parts) if part.startswith("core"))
            assert set(next(p for p in mine if p.part == "search").methods) == {
                "random_labels", "negative_gradients", "ssd", "salun"}  # every single-class baseline tuned
            classes = sorted(c for p in mine if p.classes for c in p.classes)
            assert classes == list(range(10))  # every class of the retrained baseline, once
    assert all(0 < p.estimate_s <= PIECE_LIMIT_S for p in pieces)
    assert PIECE_LIMIT_S <= 9 * 60
    first_retrained = next(i for i, p in enumerate(pieces) if p.classes is not None)
    assert all(p.classes is None for p in pieces[:first_retrained])  # rows of Table 1 first


def test_plan_refuses_unknown_names():
    with pytest.raises(WFNetError, match="no plan for dataset 'svhn'"):
        plan("paper", ["svhn"])
    with pytest.raises(WFNetError, match="unknown preset"):
        plan("huge")


def _write(path: Path, blob: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(blob))


def test_piece_state_follows_the_files_and_their_keys(tmp_path):
    piece = next(p for p in plan("paper", ["cifar10"], ["resnet18"]) if p.part == "core")
    assert piece.state(tmp_path) == "missing"
    for path, key in piece.outputs(tmp_path)[:2]:
        _write(path, {"provenance": {"key": key}})
    assert piece.state(tmp_path) == "partial"
    for path, key in piece.outputs(tmp_path):
        if path.suffix == ".json":
            _write(path, {"provenance": {"key": key}})
        else:
            path.write_text("layer,filter,class,relevance\n")
    assert piece.state(tmp_path) == "done"
    _write(result_path(tmp_path, "paper", "cifar10", "resnet18", "wfnet"), {"provenance": {"key": "0" * 16}})
    assert piece.state(tmp_path) == "stale"


def test_retrained_piece_is_done_when_its_classes_are():
    p = PRESETS.get("paper")
    piece = next(x for x in plan("paper", ["cifar10"], ["resnet18"]) if x.classes)
    key = p.key("cifar10", "resnet18", 0, "retrained")
    root = Path("/nonexistent")
    assert [path for path, _ in piece.outputs(root)] == [
        retrained_class_path(root, "paper", "cifar10", "resnet18", c) for c in piece.classes]
    assert {k for _, k in piece.outputs(root)} == {key}


def test_next_pieces_fit_the_budget_in_queue_order(tmp_path):
    pieces = plan("paper", ["mnist"])
    chosen = next_pieces(pieces, tmp_path, budget_s=pieces[0].estimate_s + 1)
    assert chosen == [pieces[0]]
    assert next_pieces(pieces, tmp_path, budget_s=1.0) == []
    assert sum(p.estimate_s for p in next_pieces(pieces, tmp_path, 1500)) <= 1500


def test_per_method_keys_keep_wfnet_when_a_baseline_is_retuned():
    from dataclasses import replace

    from wfnet.methods.baselines import FinetuneConfig

    paper = PRESETS.get("paper")
    retuned = replace(paper, random_labels=FinetuneConfig(epochs=3, lr=0.003))
    for m in ("original", "wfnet", "negative_gradients", "retrained"):
        assert retuned.key("cifar10", "resnet18", 0, m) == paper.key("cifar10", "resnet18", 0, m), m
    assert retuned.key("cifar10", "resnet18", 0, "random_labels") != paper.key("cifar10", "resnet18", 0, "random_labels")
    assert paper.key("cifar10", "resnet18", 1, "wfnet") != paper.key("cifar10", "resnet18", 0, "wfnet")


def test_plan_command_prints_the_table(capsys, tmp_path):
    assert main(["plan", "--preset", "paper", "--dataset", "cifar10", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "paper/cifar10/resnet18/core" in out and "estimate (GPU s)" in out and "0 of " in out


def test_paper_preset_on_a_cpu_asks_for_allow_slow(capsys):
    assert main(["reproduce", "--dataset", "mnist-5k", "--backbone", "resnet18", "--preset", "paper",
                 "--device", "cpu"]) == 2
    assert "--allow-slow" in capsys.readouterr().err


def test_extra_seeds_are_optional_pieces_after_every_seed_0_piece(tmp_path):
    pieces = plan("paper", ["cifar10"], ["resnet18"])
    seeds = [p.seed for p in pieces]
    assert seeds == sorted(seeds) and set(seeds) == {0, 1, 2}  # seed 0 first, all of it
    extra = next(p for p in pieces if p.seed == 1 and p.part == "core")
    assert extra.optional and "seed-1" in extra.id and "--seed" in extra.command("cuda")
    assert all("seed-1" in str(path) for path, _ in extra.outputs(tmp_path))
    assert {p.seed for p in plan("paper", ["cifar10"], ["resnet18"], seeds=(0,))} == {0}

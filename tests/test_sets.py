"""wfnet.report.sets and the pages' set flags (issue 30): which sets a model forgets, counted and
listed from a measured file, the set-aware ablation's rule, and the flag a page shows for a set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from wfnet.report import onnx_page, sets
from wfnet.report.widgets import set_flag


def _payload() -> dict:
    """Three classes: every single class forgotten; pair {0, 1} forgotten, {0, 2} keeps too much of
    its classes, {1, 2} costs the third class too much; one triple, not forgotten."""
    def s(f, r):
        return {"acc_f": f, "acc_r": r}
    return {
        "classes": ["a", "b", "c"],
        "config": {"combines": ["product", "min"], "forgotten_acc_f": 5.0, "kept_acc_r": 85.0, "n_triples": 1},
        "single": [{"cls": c, **s(0.0, 95.0)} for c in range(3)],
        "sets": [{"classes": [0, 1], "size": 2, "product": s(5.0, 85.0), "min": s(30.0, 90.0)},
                 {"classes": [0, 2], "size": 2, "product": s(40.0, 96.0), "min": s(50.0, 96.0)},
                 {"classes": [1, 2], "size": 2, "product": s(1.0, 60.0), "min": s(2.0, 70.0)},
                 {"classes": [0, 1, 2], "size": 3, "product": s(3.0, None), "min": s(3.0, None)}],
        "summary": {"2": {"n_sets": 3, "single_acc_f": 0.0, "single_acc_r": 95.0, "original_acc_r": 96.0,
                          "product": {"acc_f": 15.3, "acc_r": 80.3, "n_forgotten": 1},
                          "min": {"acc_f": 27.3, "acc_r": 85.3, "n_forgotten": 0}}},
    }


def test_measured_sets_count_and_list_the_failing_pairs_at_the_bar():
    p = _payload()
    rows = sets.measured_sets(p, "product")
    assert [(r["classes"], r["forgotten"]) for r in rows] == [
        ([0], True), ([1], True), ([2], True), ([0, 1], True), ([0, 2], False), ([1, 2], False), ([0, 1, 2], False)]
    assert sets.failing(p, 2) == [[0, 2], [1, 2]] and sets.failing(p, 2, "min") == [[0, 1], [0, 2], [1, 2]]
    assert sets.count_line(rows, sets.bar_text(p)) == (
        "3 of 3 single classes, 1 of 3 pairs, 0 of 1 sampled triples are forgotten (product; Acc_f ≤ 5 % on the "
        "set and Acc_r ≥ 85 % on the other classes).")
    assert sets.failing_line(rows, p["classes"]) == (
        "Pairs not forgotten (2): {a, c} Acc_f 40.0 %, Acc_r 96.0 %; {b, c} Acc_f 1.0 %, Acc_r 60.0 %.")
    assert sets.failing_line(rows, p["classes"], most=1).endswith("; and 1 more.")
    assert sets.failing_line(rows[:4], p["classes"]) == "Every pair is forgotten."


def test_summary_frame_counts_forgotten_sets_per_combination():
    frame = sets.summary_frame(_payload())
    assert frame[["classes", "combination", "sets", "forgotten"]].values.tolist() == [
        [2, "product", 3, 1], [2, "min", 3, 0]]


def _ablation_file(root: Path, name: str, p: float, acc_r: float, acc_f: float, forgotten_pairs: int) -> None:
    payload = _payload()
    good, bad = {"acc_f": 0.0, "acc_r": 95.0}, {"acc_f": 50.0, "acc_r": 95.0}
    for i, entry in enumerate(payload["sets"][:3]):
        entry["product"] = good if i < forgotten_pairs else bad
    path = root / "ablation" / "mnist-5k" / "resnet18" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"variant": name, "overrides": {"set_prob": p}, "acc_r": acc_r, "acc_f": acc_f,
                                "sets": payload, "provenance": {"backbone": "resnet18", "width": 0.5,
                                                                "checkpoint": "runs/x/original/model.pt"}}))


def test_the_ablation_rule_takes_the_most_pairs_within_a_point_of_p0(tmp_path: Path):
    _ablation_file(tmp_path, "sets_p0", 0.0, 95.0, 0.5, 1)
    _ablation_file(tmp_path, "sets_p0.25", 0.25, 94.5, 1.2, 2)
    _ablation_file(tmp_path, "sets_p0.5", 0.5, 92.0, 0.4, 3)  # most pairs, but 3 points of Acc_r lost
    (tmp_path / "ablation" / "mnist-5k" / "resnet18" / "capped.json").write_text(json.dumps({"variant": "capped"}))
    frame = sets.set_ablation_frame(tmp_path)
    assert frame["variant"].tolist() == ["sets_p0", "sets_p0.25", "sets_p0.5"]  # a variant without sets left out
    assert frame["pairs forgotten (product)"].tolist() == ["1/3", "2/3", "3/3"]
    assert frame["original"].iloc[0] == "resnet18 · width 0.5 · original"
    assert sets.best_variant(frame) == "sets_p0.25"
    assert sets.best_variant(frame[frame["variant"] != "sets_p0.25"]) == "sets_p0"  # a tie of none: p = 0
    assert sets.best_variant(pd.DataFrame()) is None


def test_set_prob_of_reads_the_models_untraining_config(tmp_path: Path):
    assert sets.set_prob_of(tmp_path) is None
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "metrics.json").write_text(json.dumps({"provenance": {"untrain_config": {"set_prob": 0.25}}}))
    assert sets.set_prob_of(tmp_path) == 0.25


def test_a_page_flags_a_set_below_the_bar():
    assert 'data-forgotten=\'true\'' in set_flag(5.0, 85.0) and "✓ forgotten" in set_flag(5.0, 85.0)
    for f, r in ((5.01, 99.0), (0.0, 84.99)):
        flag = set_flag(f, r)
        assert 'data-forgotten=\'false\'' in flag and "not forgotten" in flag


def test_the_draw_page_carries_every_measured_set_for_its_flag():
    page = onnx_page.page_sets(_payload())
    assert page["n_triples"] == 1 and "Acc_f ≤ 5 %" in page["bar"]
    assert {tuple(r["classes"]): r["forgotten"] for r in page["measured"]} == {
        (0,): True, (1,): True, (2,): True, (0, 1): True, (0, 2): False, (1, 2): False, (0, 1, 2): False}
    json.dumps(page, allow_nan=False)  # the page's vectors.json is strict JSON
    assert 'id="wf-set-flag"' in onnx_page.page_html({"class_names": ["a", "b", "c"]})
    assert "function setFlag(idx)" in onnx_page.PAGE_JS


def test_the_page_computes_at_the_precision_wfnet_evaluate_resolves():
    """The interactive page's numbers are `wfnet evaluate`'s only if both compute at one precision:
    a core given "auto" resolves it as evaluate does and predicts under it."""
    import torch

    import wfnet
    from wfnet.report.widgets import ForgettingCore
    from wfnet.runtime import predict, resolve_precision

    from .conftest import synthetic_dataset

    torch.manual_seed(0)
    data = synthetic_dataset(n_per_class=3, num_classes=4, size=28)
    wf = wfnet.wrap(wfnet.create_backbone("resnet18", 4, 1, 28, width=0.125), 4).eval()
    cpu = torch.device("cpu")
    for asked in ("auto", "bf16", "fp32"):
        core = ForgettingCore(wf, data, cpu, per_class=1, precision=asked)
        assert core.precision == resolve_precision(asked, cpu)
        want = predict(wf, data.test, data, cpu, forget={1, 2}, combine="product", precision=core.precision)
        torch.testing.assert_close(core.logits({1, 2}), want, rtol=0, atol=0)
    fp32 = ForgettingCore(wf, data, cpu, per_class=1).logits(1)  # the default: fp32, as before
    torch.testing.assert_close(fp32, predict(wf, data.test, data, cpu, forget=1), rtol=0, atol=0)

"""Issue 10, beyond the paper: class sets, membership inference, SalUn (toy models, seconds)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest
import torch
from torch.testing import assert_close

from wfnet import wrap
from wfnet.errors import WFNetError
from wfnet.evaluation.explain import OPEN
from wfnet.evaluation.mia import MIAConfig, mia_efficacy, mia_features, model_mia
from wfnet.evaluation.multiforget import (
    MultiForgetConfig,
    evaluate_multiforget,
    forgotten,
    sample_sets,
    set_logits,
)
from wfnet.evaluation.relearn import class_accuracy
from wfnet.layers.gates import select_gates
from wfnet.methods.baselines import FinetuneConfig
from wfnet.methods.salun import SalunConfig, saliency_mask, salun
from wfnet.runtime import predict

from .conftest import synthetic_dataset

CPU = torch.device("cpu")


def _random_alpha(wf, seed: int = 0, scale: float = 3.0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for a in wf.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * scale)
    return wf


# -- forgetting a set of classes -------------------------------------------------------------------

def test_one_row_set_equals_single_row_bit_for_bit(tiny_cnn):
    wf = _random_alpha(wrap(tiny_cnn, 4))
    x = torch.randn(6, 1, 8, 8)
    with torch.no_grad():
        assert all(torch.equal(wf(x, forget={c}), wf(x, forget=c)) for c in range(4))


def test_one_row_set_equals_single_row(tiny_cnn):
    wf = _random_alpha(wrap(tiny_cnn, 4))
    x = torch.randn(6, 1, 8, 8)
    with torch.no_grad():
        for c in range(4):
            assert_close(wf(x, forget={c}), wf(x, forget=c), atol=1e-6, rtol=1e-6)
            # the min combination of one row is that row, exactly
            assert torch.equal(wf(x, forget={c}, combine="min"), wf(x, forget=c))


@pytest.mark.parametrize("combine", ["product", "min"])
def test_all_rows_with_open_gates_equal_the_plain_model(trained_toy, combine):
    model, data = trained_toy
    wf = wrap(model, data.num_classes)
    with torch.no_grad():
        for a in wf.alphas():
            a.fill_(OPEN)
    expected = predict(model, data.test, data, CPU)
    got = set_logits(wf, data, range(data.num_classes), combine, CPU)
    assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_set_logits_min_equals_a_row_holding_the_min_alpha(trained_toy):
    """Hand reference: write the elementwise min of the set's alpha rows into one row of a copy."""
    model, data = trained_toy
    wf = _random_alpha(wrap(model, data.num_classes), seed=1)
    before = wf.alpha_state_dict()
    ref = copy.deepcopy(wf)
    with torch.no_grad():
        for a in ref.alphas():
            a[1] = a[[1, 3]].amin(0)
    expected = predict(ref, data.test, data, CPU, forget=1)
    assert torch.equal(set_logits(wf, data, [3, 1], "min", CPU), expected)
    assert all(torch.equal(before[k], v) for k, v in wf.alpha_state_dict().items())  # alpha untouched


def test_set_logits_rejects_an_unknown_combination(trained_toy):
    model, data = trained_toy
    with pytest.raises(WFNetError, match=r"unknown combine 'max'.*'product', 'min'"):
        set_logits(wrap(model, data.num_classes), data, [0, 1], "max", CPU)


def test_product_closes_at_least_as_much_as_min():
    alpha = torch.randn(4, 7) * 2
    mask = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    product, minimum = select_gates(alpha, mask)[0], select_gates(alpha, mask, "min")[0]
    assert torch.equal(minimum, torch.sigmoid(alpha[[0, 1, 3]]).amin(0))
    assert torch.all(product <= minimum + 1e-7)


def test_sets_are_all_pairs_and_a_fixed_sample_of_triples():
    pairs = sample_sets(10, 2, None, 0)
    assert len(pairs) == 45 and len(set(pairs)) == 45
    triples = sample_sets(10, 3, 20, 0)
    assert len(triples) == 20 == len(set(triples)) and triples == sample_sets(10, 3, 20, 0)
    assert triples != sample_sets(10, 3, 20, 1)


def test_evaluate_multiforget_on_a_toy_wf_model(trained_toy):
    model, data = trained_toy
    wf = _random_alpha(wrap(model, data.num_classes), seed=2)
    out = evaluate_multiforget(wf, data, CPU, MultiForgetConfig(n_triples=2))
    assert len(out["sets"]) == 6 + 2 and len(out["single"]) == 4
    assert set(out["summary"]) == {"2", "3"}
    for s in out["sets"]:
        for comb in ("product", "min"):
            assert 0 <= s[comb]["acc_f"] <= 100 and 0 <= s[comb]["acc_r"] <= 100
    json.dumps(out, allow_nan=False)  # the result file must be valid JSON
    for size, row in out["summary"].items():  # forgotten + failing = every set of that size, per combination
        for comb in ("product", "min"):
            failing = row[comb]["failing_sets"]
            assert row[comb]["n_forgotten"] + len(failing) == row["n_sets"]
            assert all(not forgotten(s[comb], MultiForgetConfig()) for s in out["sets"] if s["classes"] in failing)


def test_a_set_is_forgotten_at_both_thresholds_only():
    cfg = MultiForgetConfig()  # Acc_f <= 5 with Acc_r >= 85
    assert forgotten({"acc_f": 5.0, "acc_r": 85.0}, cfg)
    assert not forgotten({"acc_f": 5.1, "acc_r": 99.0}, cfg)
    assert not forgotten({"acc_f": 0.0, "acc_r": 84.9}, cfg)
    assert not forgotten({"acc_f": None, "acc_r": 90.0}, cfg)


# -- membership inference ------------------------------------------------------------------------------

def test_mia_constant_outputs_score_one_half():
    same = torch.full((200,), 0.7)
    res = mia_efficacy(same, same[:150], same[:40], MIAConfig())
    assert res.efficacy == 0.5 and res.attack_accuracy == 0.5 and not res.informative(2.0)


def test_mia_indistinguishable_members_score_about_one_half():
    gen = torch.Generator().manual_seed(0)
    draw = lambda n: torch.rand(n, generator=gen) ** 0.3  # noqa: E731  same confidence law
    res = mia_efficacy(draw(3000), draw(3000), draw(3000), MIAConfig())
    assert abs(res.attack_accuracy - 0.5) < 0.05
    assert 0.3 < res.efficacy < 0.7  # a near-flat threshold; the attack itself is at chance


def test_mia_separates_confident_members_from_non_members():
    gen = torch.Generator().manual_seed(0)
    members = 0.9 + 0.1 * torch.rand(500, generator=gen)
    non_members = 0.5 * torch.rand(500, generator=gen)
    cfg = MIAConfig()
    assert mia_efficacy(members, non_members, 0.3 * torch.rand(100, generator=gen), cfg).efficacy == 1.0
    assert mia_efficacy(members, non_members, 0.95 + 0.05 * torch.rand(100, generator=gen), cfg).efficacy == 0.0
    assert mia_efficacy(members, non_members, members, cfg).attack_accuracy > 0.95
    assert mia_efficacy(members, non_members, members, cfg).informative(cfg.min_z)


class _Blind(torch.nn.Module):
    """Ignores its input: members and non-members get the same output distribution."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor([logits])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


def test_mia_of_a_model_blind_to_its_input_is_one_half():
    data = synthetic_dataset(n_per_class=200)
    uniform = model_mia(_Blind([0.0] * 4), data, 1, CPU, MIAConfig())  # every feature constant
    assert {f: r.efficacy for f, r in uniform.items()} == {"confidence": 0.5, "entropy": 0.5, "m_entropy": 0.5}
    skewed = model_mia(_Blind([2.0, 0.5, -1.0, 0.0]), data, 1, CPU, MIAConfig())
    assert skewed["entropy"].efficacy == 0.5  # label-free feature: constant
    # label-dependent features vary with the class, identically for members and non-members
    assert all(abs(r.attack_accuracy - 0.5) < 0.1 for r in skewed.values())


def test_mia_features_hand_computed():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    f = mia_features(logits, torch.tensor([0]))
    assert f["confidence"].item() == pytest.approx(0.5)
    assert f["entropy"].item() == pytest.approx(-(0.5 * torch.log(torch.tensor(0.5)) + 0.5 * torch.log(torch.tensor(0.25))).item())
    expected_m = -0.5 * torch.log(torch.tensor(0.5)) - 2 * 0.25 * torch.log(torch.tensor(0.75))
    assert f["m_entropy"].item() == pytest.approx(expected_m.item())


# -- SalUn -------------------------------------------------------------------------------------------

SALUN = SalunConfig(finetune=FinetuneConfig(epochs=5, batch_size=16, lr=0.05))


def test_salun_lowers_forget_accuracy(trained_toy):
    model, data = trained_toy
    before = copy.deepcopy(model.state_dict())
    unlearned = salun(model, data, 1, SALUN, CPU)
    assert class_accuracy(model, data, 1, CPU) > 80
    assert class_accuracy(unlearned, data, 1, CPU) < class_accuracy(model, data, 1, CPU) - 40
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # original untouched
    assert type(unlearned) is type(model) and set(unlearned.state_dict()) == set(before)


def test_salun_moves_only_salient_weights(trained_toy):
    model, data = trained_toy
    cfg = replace(SALUN, saliency_fraction=0.3)
    masks = saliency_mask(model, data, 2, cfg.saliency_fraction, cfg.saliency_batch_size, CPU)
    total = sum(m.numel() for m in masks.values())
    assert sum(int(m.sum()) for m in masks.values()) == round(0.3 * total)
    unlearned = dict(salun(model, data, 2, cfg, CPU).named_parameters())
    moved = {n: (p.detach() != unlearned[n].detach()) for n, p in model.named_parameters()}
    assert not any(bool((moved[n] & ~masks[n]).any()) for n in masks)
    assert any(bool(m.any()) for m in moved.values())


# -- the book's chapter reads result files only --------------------------------------------------------

def test_chapter_tables_say_not_run_without_results(tmp_path):
    from wfnet.report.beyond import cost_frame, methods_frame, mia_caveat, multiforget_findings, multiforget_frame

    table = methods_frame(tmp_path, "smoke", "mnist-5k", "resnet18")
    assert "SalUn †" in table.index and (table == "not run").all().all()
    assert "not run" in cost_frame(tmp_path, "smoke", "mnist-5k", "resnet18").loc["SalUn †"].tolist()
    assert multiforget_frame(None) is None and "not run" in multiforget_findings(None) and "not run" in mia_caveat(None)


def test_pair_matrix_is_symmetric_with_single_rows_on_the_diagonal(trained_toy):
    from wfnet.report.beyond import multiforget_frame, pair_matrix

    model, data = trained_toy
    mf = evaluate_multiforget(_random_alpha(wrap(model, data.num_classes), seed=3), data, CPU,
                              MultiForgetConfig(n_triples=0, combines=("product",)))
    mat = pair_matrix(mf, "acc_r", "product")
    assert (mat.values == mat.values.T).all()
    assert [mat.iloc[c, c] for c in range(4)] == [s["acc_r"] for s in mf["single"]]
    assert list(multiforget_frame(mf).index) == [(2, "product")]


# -- end to end on real data (CI runs slow tests) ------------------------------------------------------

@pytest.mark.slow
def test_run_beyond_writes_its_files_and_reuses_them(tmp_path):
    """Class sets, the methods beyond the paper (registered: SalUn, SSD) and the scorecard of every
    method with a result; single-class methods' MIA comes from their own files (no re-unlearning)."""
    import time

    from wfnet.experiments.beyond import run_beyond
    from wfnet.experiments.reproduce import reproduce
    from wfnet.experiments.results import read_result

    from .test_reproduce import MICRO

    where = dict(results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", device="cpu", progress=False)
    reproduce("mnist-5k", "resnet18", MICRO, methods=["original", "wfnet", "random_labels"], **where)
    kwargs = dict(**where, multiforget=MultiForgetConfig(pairs=False, n_triples=2))
    out = run_beyond("mnist-5k", "resnet18", MICRO, **kwargs)
    assert len(out["multiforget"]["sets"]) == 2
    for method in ("salun", "ssd"):
        res = read_result(tmp_path / "results", "micro", "mnist-5k", "resnet18", method)
        assert {"acc_r", "acc_f", "zrf", "rt", "rt_failed", "per_class", "provenance"} <= set(res)
        assert len(res["provenance"]["unlearn_wall_seconds_per_class"]) == 10
        assert {"mia", "accuracy"} <= set(res["per_class"][0])
    mia = read_result(tmp_path / "results", "micro", "mnist-5k", "resnet18", "mia")
    assert set(mia["methods"]) == {"original", "wfnet", "random_labels", "salun", "ssd"}
    assert all(0.0 <= v["mia_efficacy"] <= 1.0 and set(v["scorecard"]) == {"ua", "ra", "ta", "mia"}
               for v in mia["methods"].values())
    assert mia["methods"]["random_labels"]["wall_seconds"] is None  # read from its file, not measured again
    start = time.perf_counter()
    again = run_beyond("mnist-5k", "resnet18", MICRO, **kwargs)
    assert time.perf_counter() - start < 30 and again["mia"] == mia  # reused, not recomputed


def test_scorecard_accuracies_by_hand():
    """UA = 100 - accuracy on the forget class's training images, RA the other training images,
    TA the other test images."""
    from types import SimpleNamespace

    from wfnet.evaluation.mia import class_accuracies

    one_hot = lambda ys: torch.nn.functional.one_hot(torch.tensor(ys), 3).float()  # noqa: E731
    data = SimpleNamespace(train=SimpleNamespace(labels=torch.tensor([0, 0, 1, 1, 2])),
                           test=SimpleNamespace(labels=torch.tensor([0, 1, 2, 2])))
    train_logits = one_hot([0, 1, 1, 1, 0])  # class 0: 1 of 2 right; others: 2 of 3
    test_logits = one_hot([1, 1, 2, 0])      # others: 2 of 3
    acc = class_accuracies(train_logits, test_logits, data, cls=0)
    assert acc == pytest.approx({"ua": 50.0, "ra": 200 / 3, "ta": 200 / 3})


def test_gap_frame_measures_every_method_against_the_retrained_model(tmp_path):
    import json

    from wfnet.report.beyond import gap_frame

    cards = {"retrained": {"ua": 100.0, "ra": 99.0, "ta": 95.0, "mia": 100.0},
             "wfnet": {"ua": 98.0, "ra": 96.0, "ta": 94.0, "mia": 90.0},
             "random_labels": {"ua": 100.0, "ra": None, "ta": 93.0, "mia": 99.0}}
    folder = tmp_path / "smoke" / "mnist-5k" / "resnet18"
    folder.mkdir(parents=True)
    (folder / "mia.json").write_text(json.dumps({"methods": {m: {"scorecard": c} for m, c in cards.items()}}))
    table = gap_frame(tmp_path, "smoke", "mnist-5k", "resnet18")
    assert table.loc["WF-Net", "Avg. gap ↓"] == f"{(2 + 3 + 1 + 10) / 4:.2f}"
    assert table.loc["WF-Net", "UA (%)"] == "98.0 (2.0)"
    assert table.loc["Random Labels †", "Avg. gap ↓"] == "not run"  # one metric missing: no average
    assert table.loc["Retrained Model", "UA (%)"] == "100.0" and table.loc["SalUn †", "UA (%)"] == "not run"
    # the sentence under the table ranks only methods with a full average: WF-Net is the only one here
    from wfnet.report.beyond import gap_findings

    assert gap_findings(tmp_path, "smoke", "mnist-5k", "resnet18") == (
        "Closest to the retrained model here: **WF-Net** (average gap 4.00 points).")
    cards["random_labels"]["ra"] = 99.0  # now complete: gaps 0, 0, 2, 1 -> 0.75, ahead of WF-Net
    (folder / "mia.json").write_text(json.dumps({"methods": {m: {"scorecard": c} for m, c in cards.items()}}))
    assert gap_findings(tmp_path, "smoke", "mnist-5k", "resnet18") == (
        "Closest to the retrained model here: **Random Labels †** (average gap 0.75 points); "
        "WF-Net ranks 2 of 2 (4.00).")


# -- the attack is part of every key it scores --------------------------------------------------------

def test_every_single_class_key_covers_the_attack():
    from wfnet.experiments.presets import PRESETS
    from wfnet.methods import method_names

    smoke = PRESETS.get("smoke")
    other = replace(smoke, mia=MIAConfig(holdout=0.5))
    for m in method_names(kind="single_class"):  # the retrained baseline included
        assert other.key("mnist-5k", "resnet18", 0, m) != smoke.key("mnist-5k", "resnet18", 0, m), m
    for m in ("original", "wfnet"):  # scored in mia.json, whose own key holds the attack: results untouched
        assert other.key("mnist-5k", "resnet18", 0, m) == smoke.key("mnist-5k", "resnet18", 0, m), m


def test_changing_the_attack_rescores_every_method(tmp_path):
    """A single-class method's MIA lives in its cached per-class pieces: with another attack they
    are recomputed (not served stale beside a rescored original), and mia.json scores every
    method with the new attack."""
    from wfnet.experiments.beyond import run_mia
    from wfnet.experiments.reproduce import Run, run_methods
    from wfnet.methods import METHODS, register_method

    from .test_reproduce import MICRO

    calls = []

    @register_method("toy_keep", label="Toy keep †", kind="single_class", in_paper=False, order=98,
                     config=lambda preset, dataset, backbone, seed: FinetuneConfig())
    def toy(run, cls, cfg):
        calls.append(cls)
        return copy.deepcopy(run.original_model())

    try:
        data = synthetic_dataset()
        results, runs = tmp_path / "results", tmp_path / "runs"
        scored = []
        for holdout in (0.2, 0.5, 0.5):
            preset = replace(MICRO, mia=MIAConfig(holdout=holdout))
            run = Run(data, "resnet18", preset, runs, CPU, 0, False, results)
            before = len(calls)
            run_methods(run, ["original", "toy_keep"])
            scored.append((len(calls) - before, run_mia(run, ["original", "toy_keep"])))
        assert [n for n, _ in scored] == [data.num_classes] * 2 + [0]  # rescored with the new attack, then reused
        assert scored[2][1] == scored[1][1]
        first, second = scored[0][1]["methods"], scored[1][1]["methods"]
        for m in ("original", "toy_keep"):
            for c in range(data.num_classes):
                n = first[m]["per_class"][c]["confidence"]["n_holdout"]
                assert second[m]["per_class"][c]["confidence"]["n_holdout"] > n, (m, c)
    finally:
        METHODS.unregister("toy_keep")


def test_evaluate_sets_writes_every_pair_and_100_triples_with_provenance(trained_toy, tmp_path):
    """``wfnet evaluate --sets pairs``'s file: every pair, up to 100 triples, both combinations."""
    from wfnet.experiments.pipeline import evaluate_sets

    model, data = trained_toy
    wf = _random_alpha(wrap(model, data.num_classes), seed=2)
    payload = evaluate_sets(wf, data, CPU, tmp_path / "model.pt", tmp_path / "sets.json")
    written = json.loads((tmp_path / "sets.json").read_text())
    assert written["summary"] == payload["summary"] and written["provenance"]["checkpoint"].endswith("model.pt")
    assert [s["size"] for s in written["sets"]].count(2) == 6 and [s["size"] for s in written["sets"]].count(3) == 4


def test_evaluate_sets_refuses_an_original_checkpoint(tmp_path, capsys):
    from wfnet import create_backbone
    from wfnet.checkpoint import save_original
    from wfnet.cli import main

    model = create_backbone("resnet18", 10, 1, 28, width=0.125)
    save_original(tmp_path / "model.pt", model, model.wfnet_spec, {"provenance": {"dataset": "mnist-5k"}})
    code = main(["evaluate", "--checkpoint", str(tmp_path / "model.pt"), "--out", str(tmp_path / "e"), "--sets", "pairs"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "needs a WF checkpoint" in err
    assert not (tmp_path / "e").exists()

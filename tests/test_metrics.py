"""Metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from wfnet.evaluation.metrics import js_divergence, scores_from_logits, zrf_score


def test_js_identical_is_zero_and_disjoint_is_ln2():
    p = torch.tensor([[0.2, 0.8], [1.0, 0.0]])
    assert js_divergence(p, p).tolist() == pytest.approx([0.0, 0.0], abs=1e-7)
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert float(js_divergence(a, b)) == pytest.approx(math.log(2), abs=1e-6)


def test_js_hand_computed():
    p, q = torch.tensor([[0.5, 0.5]]), torch.tensor([[0.9, 0.1]])
    kl_pm = 0.5 * math.log(0.5 / 0.7) + 0.5 * math.log(0.5 / 0.3)
    kl_qm = 0.9 * math.log(0.9 / 0.7) + 0.1 * math.log(0.1 / 0.3)
    assert float(js_divergence(p, q)) == pytest.approx(0.5 * (kl_pm + kl_qm), abs=1e-6)


def test_zrf_of_a_model_equal_to_random_is_one():
    logits = torch.randn(5, 10)
    assert zrf_score(logits, logits) == pytest.approx(1.0)
    # a confident model against a uniform one: m = (0.75, 0.25)
    conf = torch.tensor([[100.0, 0.0]])
    unif = torch.tensor([[0.0, 0.0]])
    js = 0.5 * (math.log(1 / 0.75)) + 0.5 * (0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25))
    assert zrf_score(conf, unif) == pytest.approx(1 - js, abs=1e-5)


def test_acc_r_acc_f_per_class_on_a_hand_made_case():
    labels = torch.tensor([0, 0, 1, 1])
    def logits_for(c: int) -> torch.Tensor:
        # the model that forgot c predicts the other class for samples of c, correct otherwise
        pred = torch.where(labels == c, 1 - labels, labels)
        return torch.nn.functional.one_hot(pred, 2).float() * 10
    s = scores_from_logits(logits_for, labels, torch.zeros(4, 2), ("a", "b"))
    assert s.acc_f == 0.0 and s.acc_r == 100.0
    assert [c.acc_f for c in s.per_class] == [0.0, 0.0]
    # an original model that is right on 3 of 4
    orig = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 1]), 2).float()
    s = scores_from_logits(lambda c: orig, labels, torch.zeros(4, 2), ("a", "b"))
    assert [c.acc_f for c in s.per_class] == [50.0, 100.0]
    assert [c.acc_r for c in s.per_class] == [100.0, 50.0]
    assert s.acc_f == 75.0 and s.acc_r == 75.0


def test_membership_inference_is_served_by_metrics():
    """Issue 10: the MIA evaluation is part of wfnet.evaluation.metrics (implemented in wfnet.evaluation.mia)."""
    from wfnet.evaluation import metrics, mia

    for name in ("MIAConfig", "MIAResult", "mia_features", "mia_efficacy", "class_mia", "model_mia",
                 "wf_mia", "per_class_mia"):
        assert name in metrics.__all__ and getattr(metrics, name) is getattr(mia, name)
    assert all(hasattr(metrics, name) for name in metrics.__all__)
    same = torch.full((100,), 0.9)  # members and non-members alike: the attack cannot tell
    assert metrics.mia_efficacy(same, same, same[:10], metrics.MIAConfig()).efficacy == 0.5

"""Selective Synaptic Dampening: the rule on hand-made importances, and forgetting on a toy problem."""

from __future__ import annotations

import torch

from wfnet.methods.ssd import SSDConfig, dampen, importances, ssd
from wfnet.runtime import accuracy, predict


def test_only_parameters_far_more_important_to_the_forget_set_are_dampened():
    model = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    full = {"weight": torch.tensor([[1.0, 1.0, 1.0, 0.0]])}
    forget = {"weight": torch.tensor([[5.0, 20.0, 10.0, 0.0]])}  # ratio 5, 20, 10 (= alpha: not above), 0/0
    changed = dampen(model, full, forget, SSDConfig(alpha=10.0, dampening=2.0))
    # only entry 1 is selected (20 > 10 * 1); beta = min(2 * 1 / 20, 1) = 0.1
    torch.testing.assert_close(model.weight, torch.tensor([[1.0, 0.2, 3.0, 4.0]]))
    assert changed == {"weight": 1}


def test_dampening_never_amplifies():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -3.0]]))
    dampen(model, {"weight": torch.tensor([[1.0, 1.0]])}, {"weight": torch.tensor([[100.0, 11.0]])},
           SSDConfig(alpha=10.0, dampening=50.0))  # lambda * D / Df = 0.5 and 4.5 -> min(., 1)
    torch.testing.assert_close(model.weight, torch.tensor([[0.5, -3.0]]))


def test_importances_are_mean_squared_gradients(toy_data, tiny_cnn):
    index = torch.arange(8)
    imp = importances(tiny_cnn, toy_data, index, 4, torch.device("cpu"))
    assert set(imp) == {n for n, _ in tiny_cnn.named_parameters()}
    assert all(v.min() >= 0 for v in imp.values()) and any(v.sum() > 0 for v in imp.values())


def test_ssd_forgets_a_class_of_a_toy_problem(trained_toy):
    model, data = trained_toy
    cpu = torch.device("cpu")
    cls = 1
    labels = data.test.labels
    before = (predict(model, data.test, data, cpu).argmax(1)[labels == cls] == cls).float().mean()
    # a TinyCNN of a few thousand weights needs a lower selection bar than ResNet-18's published 10
    unlearned = ssd(model, data, cls, SSDConfig(alpha=2.0, dampening=1.0), cpu)
    after_logits = predict(unlearned, data.test, data, cpu)
    after = (after_logits.argmax(1)[labels == cls] == cls).float().mean()
    assert before > 0.9 and after < before - 0.3, (before, after)
    assert accuracy(model, data.test, data, cpu) > 90  # the original is left untouched

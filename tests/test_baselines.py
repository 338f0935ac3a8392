"""Single-class baselines, relearn time, insertion/deletion on a trained toy model."""

from __future__ import annotations

import pytest
import torch

from wfnet import wrap
from wfnet.evaluation.explain import CLOSED, OPEN, auc, class_confidence, edited_row, gate_curves, relationships
from wfnet.evaluation.relearn import RelearnConfig, class_accuracy, relearn_time, trainable_copy
from wfnet.methods.baselines import FinetuneConfig, negative_gradients, random_labels, retrain_without
from wfnet.train import TrainConfig

from .conftest import TinyCNN

CPU = torch.device("cpu")


def test_random_labels_lowers_forget_accuracy(trained_toy):
    model, data = trained_toy
    before = class_accuracy(model, data, 1, CPU)
    after = class_accuracy(random_labels(model, data, 1, FinetuneConfig(epochs=5, batch_size=16, lr=0.05), CPU), data, 1, CPU)
    assert before > 80 and after < before - 40


def test_negative_gradients_lowers_forget_accuracy(trained_toy):
    model, data = trained_toy
    unlearned = negative_gradients(model, data, 2, FinetuneConfig(epochs=3, batch_size=16, lr=0.05), CPU)
    assert class_accuracy(unlearned, data, 2, CPU) < class_accuracy(model, data, 2, CPU) - 40


def test_retrained_model_never_saw_the_class(trained_toy):
    _, data = trained_toy
    torch.manual_seed(0)
    model = retrain_without(TinyCNN, data, 3, TrainConfig(epochs=8, batch_size=16, lr=0.05, warmup_epochs=0), CPU)
    assert class_accuracy(model, data, 3, CPU) == 0.0
    assert class_accuracy(model, data, 0, CPU) > 80


def test_relearn_time_zero_when_already_reached(trained_toy):
    model, data = trained_toy
    acc = class_accuracy(model, data, 0, CPU)
    r = relearn_time(trainable_copy(model), data, 0, acc, RelearnConfig(max_epochs=5, samples_per_epoch=32), CPU)
    assert r.epochs == 0 and r.relearned


def test_relearn_time_hits_the_cap_on_an_unreachable_target(trained_toy):
    model, data = trained_toy
    r = relearn_time(trainable_copy(model), data, 0, 101.0, RelearnConfig(max_epochs=2, samples_per_epoch=32), CPU)
    assert r.epochs == 2 and not r.relearned


def test_relearn_of_a_wf_row_trains_the_backbone_not_alpha(trained_toy):
    model, data = trained_toy
    wf = wrap(model, data.num_classes)
    view = trainable_copy(wf, row=1)
    trainable = {n for n, p in view.named_parameters() if p.requires_grad}
    assert trainable and not any(".alpha_" in n for n in trainable)


def _closed_wf(model, data):
    wf = wrap(model, data.num_classes)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for a in wf.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * 4)
    return wf


def test_insertion_of_all_gates_restores_full_gate_confidence(trained_toy):
    model, data = trained_toy
    wf = _closed_wf(model, data)
    full = class_confidence(model, data, 1, CPU)
    with torch.no_grad(), edited_row(wf, 1, "unlearned", 1.0):
        assert class_confidence(wf, data, 1, CPU, forget=1) == pytest.approx(full, rel=1e-4)


def test_deletion_of_all_gates_gives_all_closed_confidence(trained_toy):
    model, data = trained_toy
    wf = _closed_wf(model, data)
    ref = wrap(model, data.num_classes)
    with torch.no_grad():
        for a in ref.alphas():
            a.fill_(CLOSED)
    closed = class_confidence(ref, data, 2, CPU, forget=2)
    with torch.no_grad(), edited_row(wf, 2, "open", 1.0):
        assert class_confidence(wf, data, 2, CPU, forget=2) == pytest.approx(closed, rel=1e-4)


def test_edited_row_restores_alpha(trained_toy):
    model, data = trained_toy
    wf = _closed_wf(model, data)
    before = wf.alpha_state_dict()
    with edited_row(wf, 0, "open", 0.5):
        assert float(wf.wf_layers()["conv1"].alpha_weight[0].detach().max()) == OPEN
    after = wf.alpha_state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_gate_curves_endpoints(trained_toy):
    model, data = trained_toy
    wf = _closed_wf(model, data)
    curves = gate_curves(wf, data, CPU, steps=4)
    assert curves.fractions == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curves.insertion[-1] == pytest.approx(1.0, rel=1e-4)  # all open = original
    assert curves.deletion[0] == pytest.approx(1.0, rel=1e-4)


def test_auc_hand_made_curve():
    assert auc([0, 0.5, 1], [0, 1, 1]) == pytest.approx(0.75)
    assert auc([0, 1], [1, 1]) == pytest.approx(1.0)


def test_relationships_keep_filters_shared_by_two_classes(trained_toy):
    model, data = trained_toy
    wf = wrap(model, data.num_classes, targets=["conv1"])
    with torch.no_grad():
        a = wf.wf_layers()["conv1"].alpha_weight
        a.fill_(5.0)
        a[0, 3] = a[1, 3] = -5.0   # filter 3 closed for classes 0 and 1
        a[2, 6] = -5.0             # filter 6 only for class 2
        a[3, 0] = -5.0             # filter 0 only for class 3
    rows = relationships(wf, top_k=1, classes=data.classes)
    assert {(r["filter"], r["class"]) for r in rows} == {(3, "c0"), (3, "c1")}

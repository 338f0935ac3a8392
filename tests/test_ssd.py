"""Selective Synaptic Dampening: the rule on hand-made importances, and forgetting on a toy problem."""

from __future__ import annotations

import copy

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


# -- the order of D: class by class, as the authors' code reads it ---------------------------------

def _softmax_regression(data):
    """A softmax regression fitted to the synthetic data (a few hundred weights)."""
    from wfnet.train import TrainConfig, train_model

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    res = train_model(model, data, TrainConfig(epochs=10, batch_size=16, lr=0.05, warmup_epochs=0),
                      torch.device("cpu"), progress=False)
    return res.model.eval()


def _interleaved(data):
    """The same training images with the classes alternating (c0, c1, c2, c3, c0, ...), each class
    keeping its own order: what a shuffled dataset looks like to a loader that reads it in order."""
    from wfnet.data import ImageDataset, ImageTensors

    labels = data.train.labels
    per_class = [torch.nonzero(labels == c).flatten() for c in range(4)]
    order = torch.stack(per_class, 1).flatten()
    train = ImageTensors(data.train.images[order], labels[order])
    return ImageDataset(data.name, train, data.test, data.classes, data.mean, data.std, source=data.source)


def test_mixed_batches_shrink_the_full_importance_and_select_more_weights():
    """Importance is the squared gradient of the batch mean: a batch that mixes classes cancels
    their gradients, so []_D shrinks and more weights pass []_Df > alpha []_D."""
    from tests.conftest import synthetic_dataset
    from wfnet.methods.ssd import full_index

    data = synthetic_dataset(n_per_class=48)
    model = _softmax_regression(data)
    cpu, labels = torch.device("cpu"), data.train.labels
    mixed_order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))
    selected = {"class by class": 0, "mixed": 0}
    for cls in range(4):
        forget = importances(model, data, torch.nonzero(labels == cls).flatten(), 64, cpu)
        for name, index in (("class by class", full_index(labels, cls)), ("mixed", mixed_order)):
            full = importances(model, data, index, 64, cpu)
            selected[name] += sum(dampen(copy.deepcopy(model), full, forget, SSDConfig()).values())
            if name == "mixed":
                assert sum(float(v.sum()) for v in full.values()) < sum(
                    float(v.sum()) for v in importances(model, data, full_index(labels, cls), 64, cpu).values())
    assert selected["mixed"] > 3 * max(selected["class by class"], 1), selected


def test_ssd_reads_d_class_by_class_whatever_the_order_of_the_dataset():
    """D is built as the authors build it (every retained class in class order, then the forget
    class), so a training set stored with its classes interleaved unlearns exactly as one stored
    class by class, and as the importances taken in that order by hand."""
    from tests.conftest import synthetic_dataset

    data = synthetic_dataset(n_per_class=48)
    model = _softmax_regression(data)
    shuffled = _interleaved(data)
    cpu, cls = torch.device("cpu"), 2
    labels = shuffled.train.labels
    authors = torch.cat([torch.nonzero(labels == c).flatten() for c in (0, 1, 3, 2)])
    by_hand = copy.deepcopy(model)
    dampen(by_hand, importances(model, shuffled, authors, 64, cpu),
           importances(model, shuffled, torch.nonzero(labels == cls).flatten(), 64, cpu), SSDConfig())
    for d in (shuffled, data):
        got = ssd(model, d, cls, SSDConfig(), cpu)
        for (name, a), b in zip(got.named_parameters(), by_hand.parameters()):
            assert torch.equal(a, b), name


def test_importances_run_in_float32_inside_a_callers_autocast(toy_data, tiny_cnn):
    index, cpu = torch.arange(16), torch.device("cpu")
    plain = importances(tiny_cnn, toy_data, index, 8, cpu)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = importances(tiny_cnn, toy_data, index, 8, cpu)
    assert all(torch.equal(plain[n], inside[n]) for n in plain)

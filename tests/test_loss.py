"""Label expansion, the forget terms and the regularisers on hand-checked cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from wfnet import create_backbone, wrap
from wfnet.methods.loss import (
    class_mean_reciprocal,
    class_mean_reciprocal_capped,
    expand_labels,
    l1_closed,
    reciprocal_mean,
    reciprocal_per_sample,
    reciprocal_per_sample_offset,
    split_batch,
    wf_loss,
)
from wfnet.methods.untrain import UntrainConfig


def test_expand_labels_shapes_and_never_own_row():
    y = torch.tensor([0, 1, 2, 3, 3])
    rows, targets = expand_labels(y, 4, chi=3, generator=torch.Generator().manual_seed(0))
    assert rows.shape == targets.shape == (15,)
    assert torch.equal(targets, y.repeat(3))
    assert (rows != targets).all()
    assert rows.min() >= 0 and rows.max() < 4


def test_expand_labels_covers_every_other_row():
    y = torch.zeros(2000, dtype=torch.long)
    rows, _ = expand_labels(y, 10, chi=1, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(rows, minlength=10)
    assert counts[0] == 0 and (counts[1:] > 150).all()  # uniform over the 9 other rows


def test_split_batch_halves():
    x, y = torch.arange(10).float().view(10, 1), torch.arange(10)
    xf, yf, xr, yr = split_batch(x, y)
    assert yf.tolist() == [0, 1, 2, 3, 4] and yr.tolist() == [5, 6, 7, 8, 9]


def test_forget_terms_on_hand_computed_values():
    ce = torch.tensor([1.0, 3.0, 0.5, 0.0])
    labels = torch.tensor([0, 0, 2, 2])
    # class 0: mean CE 2 -> 1/2; class 2: mean CE 0.25 -> 4; mean over classes = 2.25
    cfg = UntrainConfig(ce_floor=1e-4, ce_cap=1.0)
    assert_close(class_mean_reciprocal(ce, labels, 3, cfg), torch.tensor(2.25))
    assert_close(reciprocal_mean(ce, labels, 3, cfg), torch.tensor(1 / 1.125))
    # mean of 1 / max(CE_i, floor), the zero CE clamped: (1 + 1/3 + 2 + 1e4) / 4
    assert_close(reciprocal_per_sample(ce, labels, 3, cfg), torch.tensor((1 + 1 / 3 + 2 + 1e4) / 4))
    # Eq. 3 as printed, offset by the floor: mean of 1 / (CE_i + 1e-4)
    assert_close(reciprocal_per_sample_offset(ce, labels, 3, cfg),
                 torch.tensor(sum(1 / (c + 1e-4) for c in (1.0, 3.0, 0.5, 0.0)) / 4))
    # the floor bounds 1/CE when a class is perfectly classified
    assert_close(class_mean_reciprocal(torch.zeros(2), torch.tensor([1, 1]), 3, cfg), torch.tensor(1e4))
    # the cap: class 0's CE of 2 counts as 1 -> (1/1 + 1/0.25) / 2 = 2.5, and no gradient for it
    ce_g = ce.clone().requires_grad_(True)
    capped = class_mean_reciprocal_capped(ce_g, labels, 3, cfg)
    assert_close(capped.detach(), torch.tensor(2.5))
    capped.backward()
    assert ce_g.grad[:2].abs().sum() == 0 and ce_g.grad[2:].abs().sum() > 0


def test_l1_closed_is_zero_for_open_gates_and_mean_of_closure():
    open_ = [torch.full((3, 4), 50.0)]
    assert float(l1_closed(open_)) == pytest.approx(0.0, abs=1e-12)
    half = [torch.zeros(2, 2), torch.full((1, 1), 50.0)]
    assert float(l1_closed(half)) == pytest.approx(0.25)  # mean over layers of (0.5, 0)


def test_wf_loss_combines_the_terms(tiny_cnn):
    wf = wrap(tiny_cnn, 4)
    x, y = torch.randn(8, 1, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    cfg = UntrainConfig(lambda0=1.0, lambda1=10.0, lambda2=1.0)
    parts = wf_loss(wf, x, y, cfg, torch.Generator().manual_seed(0))
    expected = parts.retain + 10 * parts.forget + parts.reg
    assert_close(parts.total.detach(), expected)
    assert math.isfinite(float(parts.total.detach()))
    parts.total.backward()
    assert all(a.grad is not None for a in wf.alphas())


def _grads(*shapes: tuple[int, int]) -> list[torch.Tensor]:
    torch.manual_seed(0)
    alphas = [torch.zeros(s, requires_grad=True) for s in shapes]
    for a in alphas:
        a.grad = torch.randn(s := a.shape) * torch.arange(1, s[0] + 1).unsqueeze(1).float()
    return alphas


def test_per_row_clip_bounds_every_class_row_across_layers():
    from wfnet.methods.untrain import clip_alpha_grads

    alphas = _grads((5, 7), (5, 3))
    before = [a.grad.clone() for a in alphas]
    clip_alpha_grads(alphas, 0.5, "per_row")
    row_norms = torch.cat([a.grad for a in alphas], 1).norm(dim=1)
    torch.testing.assert_close(row_norms, torch.full((5,), 0.5))  # every row was above 0.5
    # the direction of each row is kept: a positive per-row rescaling of the same gradient
    ratio = torch.cat([a.grad for a in alphas], 1) / torch.cat(before, 1)
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))


def test_per_row_clip_leaves_small_rows_and_global_clip_matches_torch():
    from wfnet.methods.untrain import clip_alpha_grads

    alphas = _grads((4, 6))
    before = alphas[0].grad.clone()
    clip_alpha_grads(alphas, 1e6, "per_row")
    assert torch.equal(alphas[0].grad, before)
    ref = _grads((4, 6))
    torch.nn.utils.clip_grad_norm_(ref, 0.3)
    clip_alpha_grads(alphas, 0.3, "global")
    torch.testing.assert_close(alphas[0].grad, ref[0].grad)


def test_eq3_as_printed_pushes_hardest_the_samples_fitted_best():
    """A clamp at the floor leaves a sample the model fits perfectly without any gradient; the
    offset floor gives it the largest one, as 1 / CE_i does."""
    cfg = UntrainConfig(ce_floor=1e-4)
    labels = torch.tensor([0, 0, 0])
    grads = {}
    for name, term in (("clamped", reciprocal_per_sample), ("offset", reciprocal_per_sample_offset)):
        ce = torch.tensor([1e-6, 1e-2, 1.0], requires_grad=True)
        term(ce, labels, 2, cfg).backward()
        grads[name] = ce.grad
    assert grads["clamped"][0] == 0 and grads["clamped"][1] < 0
    assert (grads["offset"] < 0).all() and grads["offset"].abs().argmax() == 0


def test_literal_eq3_is_eq3_as_printed():
    """The ablation's ``literal_eq3``: the per-sample reciprocal that keeps every gradient, plain
    SGD at the paper's lr, no clip and no bound on alpha (the paper has neither)."""
    from dataclasses import replace

    from wfnet.experiments.ablation import VARIANTS
    from wfnet.methods.untrain import untrain_defaults

    cfg = replace(untrain_defaults("resnet18"), **VARIANTS["literal_eq3"])
    assert (cfg.forget_term, cfg.clip_grad_norm, cfg.alpha_bound, cfg.optimizer, cfg.lr) == (
        "reciprocal_per_sample_offset", None, None, "sgd", 100.0)


def test_set_masks_hold_the_row_and_never_a_retained_label():
    """Set-aware untraining: a forget sample's set contains its class; a retain sample's set holds its
    expansion row and never its own label; sizes stay within [1, set_max_size]; p = 0 is one row."""
    from wfnet.methods.loss import widen_to_sets

    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (4000,), generator=gen)
    rows_f = labels.clone()                                   # forget half: row = label
    rows_r = (labels + torch.randint(1, 10, (4000,), generator=gen)) % 10  # retain: row != label
    for rows in (rows_f, rows_r):
        mask = widen_to_sets(rows, labels, 10, prob=0.5, max_size=3, generator=gen)
        assert mask.dtype == torch.float32 and set(mask.unique().tolist()) <= {0.0, 1.0}
        assert bool((mask[torch.arange(4000), rows] == 1).all())
        sizes = mask.sum(1)
        assert sizes.min() == 1 and sizes.max() == 3
        assert 0.4 < float((sizes > 1).float().mean()) < 0.6          # about half the samples widened
        if rows is rows_r:
            assert bool((mask[torch.arange(4000), labels] == 0).all())
    assert torch.equal(widen_to_sets(rows_r, labels, 10, 0.0, 3, gen), torch.nn.functional.one_hot(rows_r, 10).float())


def test_set_aware_loss_trains_alpha_through_the_product_of_a_set():
    """With set_prob = 1 every sample sees a set: the loss equals the forward with those masks, and
    gradients reach the alpha of rows that are only in a set, never a sample's own row."""
    from wfnet.methods.loss import expand_labels, split_batch, widen_to_sets

    torch.manual_seed(0)
    model = wrap(create_backbone("resnet18", 10, 1, 28, width=0.125), 10).train()
    x, y = torch.randn(8, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    cfg = UntrainConfig(chi=1, set_prob=1.0, set_max_size=3)
    parts = wf_loss(model, x, y, cfg, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    xf, yf, xr, yr = split_batch(x, y)
    rows_r, targets_r = expand_labels(yr, 10, 1, gen)
    mask = widen_to_sets(torch.cat([yf, rows_r]), torch.cat([yf, targets_r]), 10, 1.0, 3, gen)
    logits = model.forward_rows(torch.cat([xf, xr]), mask).float()
    ce = torch.nn.functional.cross_entropy(logits, torch.cat([yf, targets_r]), reduction="none")
    torch.testing.assert_close(parts.retain, ce[4:].mean())
    parts.total.backward()
    only_in_sets = sorted(set(torch.nonzero(mask.sum(0)).flatten().tolist()) - set(torch.cat([yf, rows_r]).tolist()))
    assert only_in_sets, "the draw should add classes that are no sample's own row"
    grad = model.alphas()[0].grad
    assert all(float(grad[c].abs().sum()) > 0 for c in only_in_sets)

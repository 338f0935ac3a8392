"""WF layers and wrapping: the efficient gate against explicit references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from wfnet import WFConv2d, WFLinear, WFNetError, create_backbone, wrap
from wfnet.layers import GateSelection, select_gates


def _randomize_alpha(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for a in model.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * 3)


def test_forget_none_is_the_plain_model_bit_for_bit(tiny_cnn):
    x = torch.randn(5, 1, 8, 8)
    wf = wrap(tiny_cnn, 4)
    _randomize_alpha(wf)
    assert torch.equal(wf(x), tiny_cnn(x))


def _open_gates(name: str):
    """(plain backbone, its WF model with every gate forced open, an input batch)."""
    torch.manual_seed(0)
    model = create_backbone(name, 10, 3, 32, width=0.25).eval()
    wf = wrap(model, 10)
    with torch.no_grad():
        for a in wf.alphas():
            a.fill_(50.0)
    return model, wf, torch.randn(3, 3, 32, 32)


@pytest.mark.parametrize("name", ["resnet18", "vit_tiny"])
def test_open_gates_equal_plain_backbone(name):
    model, wf, x = _open_gates(name)
    assert_close(wf(x, forget=7), model(x), atol=1e-5, rtol=1e-5)


def test_efficient_conv_gate_equals_explicit_weight_masking():
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 6, 3, padding=1, stride=2)
    sel = GateSelection()
    wf = WFConv2d(conv, num_classes=5, selection=sel)
    with torch.no_grad():
        wf.alpha_weight.normal_(0, 2)
        wf.alpha_bias.normal_(0, 2)
    x, rows = torch.randn(4, 3, 9, 9), torch.tensor([0, 3, 3, 4])
    sel.rows = rows
    got = wf(x)
    for i in range(4):
        gw = torch.sigmoid(wf.alpha_weight[rows[i]])
        gb = torch.sigmoid(wf.alpha_bias[rows[i]])
        w = conv.weight * gw[:, None, None, None]  # paper Eq. 2: alpha (.) w
        ref = F.conv2d(x[i : i + 1], w, conv.bias * gb, stride=2, padding=1)
        assert_close(got[i : i + 1], ref, atol=1e-5, rtol=1e-5)


def test_efficient_linear_gate_equals_explicit_weight_masking():
    torch.manual_seed(2)
    lin = torch.nn.Linear(7, 9)
    sel = GateSelection()
    wf = WFLinear(lin, num_classes=3, selection=sel)
    with torch.no_grad():
        wf.alpha_weight.normal_(0, 2)
        wf.alpha_bias.normal_(0, 2)
    x, rows = torch.randn(2, 5, 7), torch.tensor([2, 0])
    sel.rows = rows
    got = wf(x)
    for i in range(2):
        w = lin.weight * torch.sigmoid(wf.alpha_weight[rows[i]])[:, None]
        b = lin.bias * torch.sigmoid(wf.alpha_bias[rows[i]])
        assert_close(got[i], F.linear(x[i], w, b), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "vit_tiny"])
def test_mixed_rows_equal_rows_run_one_by_one(name):
    torch.manual_seed(0)
    model = create_backbone(name, 10, 1, 28, width=0.25).eval()
    wf = wrap(model, 10)
    _randomize_alpha(wf)
    x, rows = torch.randn(6, 1, 28, 28), torch.tensor([0, 9, 3, 3, 5, 1])
    with torch.no_grad():
        batched = wf(x, forget=rows)
        single = torch.cat([wf(x[i : i + 1], forget=int(rows[i])) for i in range(6)])
    assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_gradients_reach_alpha_only(tiny_cnn):
    wf = wrap(tiny_cnn, 4)
    wf.train()
    out = wf(torch.randn(4, 1, 8, 8), forget=torch.tensor([0, 1, 2, 3]))
    out.sum().backward()
    for name, p in wf.named_parameters():
        if ".alpha_" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert not p.requires_grad and p.grad is None, name


def test_wrap_leaves_the_input_model_untouched(tiny_cnn):
    before = {k: v.clone() for k, v in tiny_cnn.state_dict().items()}
    wf = wrap(tiny_cnn, 4)
    assert isinstance(tiny_cnn.conv1, torch.nn.Conv2d)
    assert isinstance(wf.backbone.conv1, WFConv2d)
    assert all(torch.equal(before[k], v) for k, v in tiny_cnn.state_dict().items())
    assert all(p.requires_grad for p in tiny_cnn.parameters())


def test_wrapped_layers_are_inspectable():
    cnn = wrap(create_backbone("resnet18", 10, 3, 32, width=0.25), 10)
    assert cnn.layer_names[0] == "conv1" and len(cnn.layer_names) == 20  # 17 3x3 + 3 shortcuts
    vit = wrap(create_backbone("vit_tiny", 10, 3, 32, width=0.34), 10)
    assert vit.layer_names == [f"blocks.{i}.attn.qkv" for i in range(12)]
    assert all(isinstance(m, WFLinear) for m in vit.wf_layers().values())


def test_backbone_stays_in_eval_mode(tiny_cnn):
    wf = wrap(tiny_cnn, 4).train()
    assert wf.training and not wf.backbone.training and not wf.backbone.bn1.training


def test_multi_class_mask_of_one_row_equals_single_row(tiny_cnn):
    wf = wrap(tiny_cnn, 4)
    _randomize_alpha(wf)
    x = torch.randn(3, 1, 8, 8)
    mask = torch.zeros(3, 4)
    mask[:, 2] = 1
    assert_close(wf(x, forget=mask), wf(x, forget=2), atol=1e-6, rtol=1e-5)
    assert_close(wf(x, forget={2}), wf(x, forget=2), atol=1e-6, rtol=1e-5)


def test_select_gates_product_of_rows():
    alpha = torch.randn(4, 5)
    mask = torch.tensor([[1.0, 0, 1, 0]])
    expected = torch.sigmoid(alpha[0]) * torch.sigmoid(alpha[2])
    assert_close(select_gates(alpha, mask)[0], expected)


@pytest.mark.parametrize("forget, message", [
    (4, "out of range"),
    (-1, "out of range"),
    (torch.tensor([0, 1]), r"shape \(3,\)"),
    (torch.tensor([0, 1, 9]), "must lie in 0..3"),
    (torch.zeros(3, 5), r"shape \(3, 4\)"),
    ("cat", "must be None, an int"),
    (True, "not a bool"),
    ({7}, "invalid"),
])
def test_bad_forget_is_a_clear_error(tiny_cnn, forget, message):
    wf = wrap(tiny_cnn, 4)
    with pytest.raises(WFNetError, match=message):
        wf(torch.randn(3, 1, 8, 8), forget=forget)


# -- combining the rows of a class set: product (default) or min ----------------------------------

def test_select_gates_min_of_rows_and_empty_mask_rows_are_open():
    alpha = torch.randn(4, 5)
    mask = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    got = select_gates(alpha, mask, "min")
    assert torch.equal(got[0], torch.sigmoid(torch.minimum(alpha[0], alpha[2])))
    assert torch.equal(got[1], torch.ones(5)) and torch.equal(got[2], torch.sigmoid(alpha[1]))
    assert torch.equal(select_gates(alpha, mask[:1], "min"), got[:1])  # the one-set fast path


@pytest.mark.parametrize("forget", [2, {2}, "mask1", "maskB"])
def test_min_over_one_class_is_the_single_row_model_exactly(tiny_cnn, forget):
    wf = wrap(tiny_cnn, 4)
    _randomize_alpha(wf)
    x = torch.randn(3, 1, 8, 8)
    single = 2
    if isinstance(forget, str):
        mask = torch.zeros(1 if forget == "mask1" else 3, 4)
        mask[:, 2] = 1
        forget = mask.expand(3, 4) if mask.shape[0] == 1 else mask
        # a (B, N_c) mask takes the per-sample path, bit for bit the rows (B,) of that class; the
        # batch-wide row (gates folded into the weights) rounds differently, hence a tolerance
        single = torch.full((3,), 2)
        with torch.no_grad():
            assert_close(wf(x, forget=forget, combine="min"), wf(x, forget=2), atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        assert_close(wf(x, forget=forget, combine="min"), wf(x, forget=single), atol=0, rtol=0)


def test_combine_leaves_the_original_model_bit_for_bit(tiny_cnn):
    wf = wrap(tiny_cnn, 4)
    _randomize_alpha(wf)
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(wf(x, combine="min"), tiny_cnn(x))
    assert wf.selection.rows is None and wf.selection.combine == "product"  # reset after a forward


@pytest.mark.parametrize("combine", ["product", "min"])
@pytest.mark.parametrize("name", ["resnet18", "vit_tiny"])
def test_all_classes_with_open_gates_equal_plain_backbone(name, combine):
    model, wf, x = _open_gates(name)
    with torch.no_grad():
        expected = model(x)
        assert_close(wf(x, forget=set(range(10)), combine=combine), expected, atol=1e-5, rtol=1e-5)
        assert_close(wf(x, forget=torch.ones(3, 10), combine=combine), expected, atol=1e-5, rtol=1e-5)


def _min_row_reference(wf, classes: list[int]):
    """A copy of ``wf`` whose row ``classes[0]`` holds the elementwise min alpha of ``classes``."""
    import copy

    ref = copy.deepcopy(wf)
    with torch.no_grad():
        for a in ref.alphas():
            a[classes[0]] = a[classes].amin(0)
    return ref


@pytest.mark.parametrize("name", ["resnet18", "vit_tiny"])
def test_min_on_a_set_equals_a_row_holding_the_min_alpha(name):
    torch.manual_seed(0)
    wf = wrap(create_backbone(name, 10, 1, 28, width=0.25).eval(), 10)
    _randomize_alpha(wf)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        got = wf(x, forget={7, 2, 5}, combine="min")
        assert torch.equal(got, _min_row_reference(wf, [2, 5, 7])(x, forget=2))
        assert not torch.equal(got, wf(x, forget={2, 5, 7}))  # the product is another model
        # a different set per sample: each sample as if run alone
        mask = torch.zeros(4, 10)
        sets = [[0, 3], [2, 5, 7], [0, 3], [9]]
        for i, s in enumerate(sets):
            mask[i, s] = 1
        batched = wf(x, forget=mask, combine="min")
        alone = torch.cat([_min_row_reference(wf, s)(x[i:i + 1], forget=s[0]) for i, s in enumerate(sets)])
    assert_close(batched, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("forget", [None, 1, {0, 2}, torch.ones(3, 4)])
def test_unknown_combine_is_a_clear_error(tiny_cnn, forget):
    wf = wrap(tiny_cnn, 4)
    with pytest.raises(WFNetError, match=r"unknown combine 'max': expected one of \['product', 'min'\]"):
        wf(torch.randn(3, 1, 8, 8), forget=forget, combine="max")
    with pytest.raises(WFNetError, match="unknown combine"):
        wf.forward_rows(torch.randn(3, 1, 8, 8), torch.tensor([1]), combine="mean")
    with pytest.raises(WFNetError, match="unknown combine"):
        select_gates(torch.zeros(4, 2), torch.ones(1, 4), "sum")
    assert wf.selection.combine == "product"

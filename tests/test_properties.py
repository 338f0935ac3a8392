"""Property-based tests (hypothesis) for the WF layers and label expansion."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from wfnet.layers import GateSelection, WFConv2d, WFLinear
from wfnet.methods.loss import expand_labels

DTYPES = st.sampled_from([torch.float32, torch.bfloat16])
TOL = {torch.float32: dict(atol=1e-5, rtol=1e-4), torch.bfloat16: dict(atol=5e-2, rtol=5e-2)}


@settings(max_examples=40, deadline=None)
@given(num_classes=st.integers(2, 1000), batch=st.sampled_from([1, 2, 3, 7, 9]),
       c_in=st.integers(1, 5), c_out=st.integers(1, 9), bias=st.booleans(), dtype=DTYPES,
       seed=st.integers(0, 2**16))
def test_wf_conv_matches_explicit_masking(num_classes, batch, c_in, c_out, bias, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias).to(dtype)
    sel = GateSelection()
    wf = WFConv2d(conv, num_classes, sel)
    with torch.no_grad():
        for a in wf.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * 3)
    x = torch.randn(batch, c_in, 5, 5, generator=gen).to(dtype)
    rows = torch.randint(0, num_classes, (batch,), generator=gen)
    sel.rows = rows
    with torch.no_grad():
        got = wf(x)
        for i in range(batch):
            g = torch.sigmoid(wf.alpha_weight[rows[i]]).to(dtype)
            b = conv.bias * torch.sigmoid(wf.alpha_bias[rows[i]]).to(dtype) if bias else None
            ref = torch.nn.functional.conv2d(x[i:i + 1], conv.weight * g[:, None, None, None], b, padding=1)
            assert_close(got[i:i + 1], ref, **TOL[dtype])


@settings(max_examples=40, deadline=None)
@given(num_classes=st.integers(2, 1000), batch=st.sampled_from([1, 2, 5, 8]),
       f_in=st.integers(1, 8), f_out=st.integers(1, 12), tokens=st.integers(1, 4), dtype=DTYPES,
       seed=st.integers(0, 2**16))
def test_wf_linear_mixed_rows_equal_one_by_one(num_classes, batch, f_in, f_out, tokens, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    sel = GateSelection()
    wf = WFLinear(torch.nn.Linear(f_in, f_out).to(dtype), num_classes, sel)
    with torch.no_grad():
        for a in wf.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * 3)
    x = torch.randn(batch, tokens, f_in, generator=gen).to(dtype)
    rows = torch.randint(0, num_classes, (batch,), generator=gen)
    with torch.no_grad():
        sel.rows = rows
        batched = wf(x)
        singles = []
        for i in range(batch):
            sel.rows = rows[i:i + 1]
            singles.append(wf(x[i:i + 1]))
    assert_close(batched, torch.cat(singles), **TOL[dtype])


@settings(max_examples=60, deadline=None)
@given(num_classes=st.integers(2, 1000), n=st.integers(1, 65), chi=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_expand_labels_properties(num_classes, n, chi, seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    rows, targets = expand_labels(y, num_classes, chi, gen)
    assert rows.shape == targets.shape == (chi * n,)
    assert torch.equal(targets, y.repeat(chi))
    assert (rows != targets).all() and rows.min() >= 0 and rows.max() < num_classes

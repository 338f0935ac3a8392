"""Every paper backbone at paper size: forward/backward shapes on 28x28x1 and 32x32x3."""

from __future__ import annotations

import pytest
import torch

from wfnet import BACKBONES, WFNetError, create_backbone


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "vit_tiny", "vit_small"])
@pytest.mark.parametrize("chans, size", [(1, 28), (3, 32)])
def test_paper_size_forward_backward(name, chans, size):
    torch.manual_seed(0)
    model = create_backbone(name, 10, chans, size)
    x = torch.randn(2, chans, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["resnet50", "resnet101"])
def test_footnote_resnets_small_width(name):
    model = create_backbone(name, 7, 3, 32, width=0.125)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_reduced_width_has_fewer_parameters():
    full = sum(p.numel() for p in create_backbone("resnet18", 10, 3, 32).parameters())
    quarter = sum(p.numel() for p in create_backbone("resnet18", 10, 3, 32, width=0.25).parameters())
    assert quarter < full / 10


def test_registry_refuses_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="registered twice"):
        BACKBONES.register("resnet18")(lambda spec: None)
    with pytest.raises(WFNetError, match="unknown backbone 'resnet19'; expected one of"):
        create_backbone("resnet19", 10)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes must be >= 2"),
    ({"in_chans": 2}, "in_chans must be 1 or 3"),
    ({"width": 0.0}, "width must be in"),
])
def test_bad_backbone_arguments(kwargs, message):
    args = {"name": "resnet18", "num_classes": 10, **kwargs}
    with pytest.raises(WFNetError, match=message):
        create_backbone(**args)

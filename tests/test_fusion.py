"""Fused gates (one-go selection, gates and eval-mode BN folded into conv/linear) against the
elementwise reference path (``model.fuse = False``), on every registered backbone."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from wfnet import BackboneSpec, UntrainConfig, WFModel, create_backbone, wrap
from wfnet.checkpoint import FORMAT_WF, load, save_wf
from wfnet.evaluation.relearn import trainable_copy
from wfnet.layers import FoldableBatchNorm
from wfnet.methods.loss import wf_loss

BACKBONES = ["vgg16", "resnet18", "vit_tiny", "vit_small"]
WIDTH = {"vgg16": 0.125, "resnet18": 0.125, "vit_tiny": 0.34, "vit_small": 0.34}  # ViTs: 1 and 2 heads
BATCH = 5      # differs from every channel count, so activations are told apart from weights


def _random_bn(model: torch.nn.Module, gen: torch.Generator) -> None:
    """BN statistics of real data (one batch), then perturbed, and random affine parameters:
    non-default everywhere, so that folding BN is really exercised, yet a model that still works."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0
    with torch.no_grad():
        model.train()(torch.randn(16, 3, 32, 32, generator=gen))
        model.eval()
        for m in bns:
            c = m.num_features
            m.momentum = 0.1
            m.running_mean.add_(torch.randn(c, generator=gen) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(c, generator=gen) + 0.5)
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.2)


def _models(name: str, seed: int = 0) -> tuple[torch.nn.Module, WFModel]:
    """(plain backbone with random BN, its WF model with random alpha: gates 0.1 to 0.99)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    plain = create_backbone(name, 10, 3, 32, width=WIDTH[name]).eval()
    _random_bn(plain, gen)
    wf = wrap(plain, 10)
    with torch.no_grad():
        for a in wf.alphas():
            a.copy_(torch.randn(a.shape, generator=gen) * 1.5 + 1.0)
    return plain, wf


def _close(got: torch.Tensor, ref: torch.Tensor, tol: float = 1e-5) -> None:
    """Equal within ``tol`` relative to the output's scale (float32 rounding, not model error)."""
    assert_close(got, ref, atol=tol * float(ref.abs().max()), rtol=tol)


def _forgets(batch: int) -> dict[str, tuple[object, str]]:
    gen = torch.Generator().manual_seed(7)
    mask = (torch.rand(batch, 10, generator=gen) < 0.3).float()
    mask[:, 4] = 1  # no empty set
    return {
        "int": (3, "product"),
        "set-product": ({1, 6}, "product"),
        "set-min": ({1, 6}, "min"),
        "rows": (torch.randint(0, 10, (batch,), generator=gen), "product"),
        "mask-product": (mask, "product"),
        "mask-min": (mask, "min"),
        "soft-mask": (torch.rand(batch, 10, generator=gen), "product"),
    }


@pytest.mark.parametrize("name", BACKBONES)
def test_fused_equals_unfused_on_every_backbone(name):
    plain, wf = _models(name)
    x = torch.randn(BATCH, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(wf(x), plain(x))  # forget=None: the original, bit for bit
        for label, (forget, combine) in _forgets(BATCH).items():
            wf.fuse = True
            fused = wf(x, forget=forget, combine=combine)
            wf.fuse = False
            ref = wf(x, forget=forget, combine=combine)
            assert not torch.allclose(ref, plain(x), atol=1e-3), label  # the gates do something
            _close(fused, ref)


def test_bn_is_folded_only_where_a_conv_alone_feeds_it():
    _, resnet = _models("resnet18")
    folded = {m.slot for m in resnet.modules() if isinstance(m, FoldableBatchNorm)}
    assert folded == set(range(len(resnet.layer_names)))  # every conv -> bn, downsample included
    assert isinstance(resnet.backbone.layer2[0].downsample[1], FoldableBatchNorm)
    _, vit = _models("vit_tiny")
    assert not any(isinstance(m, FoldableBatchNorm) for m in vit.modules())


class _Branchy(torch.nn.Module):
    """conv1 -> bn1 foldable; conv2 also feeds a shortcut, and bn3 follows a ReLU: neither folds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.BatchNorm2d(6)
        self.conv2, self.bn2 = torch.nn.Conv2d(6, 6, 3, padding=1, bias=False), torch.nn.BatchNorm2d(6)
        self.conv3, self.bn3 = torch.nn.Conv2d(6, 6, 1), torch.nn.BatchNorm2d(6)
        self.head = torch.nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        y = self.conv2(x)
        x = self.bn2(y) + y
        x = self.bn3(torch.relu(self.conv3(x)))
        return self.head(x.mean((2, 3)))


class _Untraceable(_Branchy):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if x.sum() > 0 else -x)  # data-dependent: torch.fx cannot trace it


@pytest.mark.parametrize("cls", [_Branchy, _Untraceable])
def test_only_a_bn_fed_by_a_conv_alone_is_folded(cls):
    torch.manual_seed(0)
    model = cls().eval()
    _random_bn(model, torch.Generator().manual_seed(0))
    wf = wrap(model, 10)
    folded = [n for n, m in wf.backbone.named_modules() if isinstance(m, FoldableBatchNorm)]
    assert folded == (["bn1"] if cls is _Branchy else [])
    x = torch.randn(BATCH, 3, 32, 32)
    with torch.no_grad():
        for forget in (3, torch.randint(0, 10, (BATCH,))):
            wf.fuse = True
            fused = wf(x, forget=forget)
            wf.fuse = False
            _close(fused, wf(x, forget=forget))


class _ActivationPasses(TorchDispatchMode):
    """Counts the ops (views, _unsafe_view included, aside) whose output is a batch of activations (B, ...>= 3 dims)."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.batch, self.ops = batch, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        first = tree_leaves(out)[0] if tree_leaves(out) else None
        if (isinstance(first, torch.Tensor) and first.ndim >= 3 and first.shape[0] == self.batch
                and not func.is_view and func.__name__ != "_unsafe_view.default"):
            self.ops.append(func.__name__)
        return out


def _passes(model: torch.nn.Module, x: torch.Tensor, **kw: object) -> list[str]:
    with torch.no_grad(), _ActivationPasses(x.shape[0]) as mode:
        model(x, **kw)
    return mode.ops


@pytest.mark.parametrize("name", ["resnet18", "vit_tiny"])
def test_fused_gates_add_no_pass_over_the_activations(name):
    plain, wf = _models(name)
    x = torch.randn(BATCH, 3, 32, 32)
    base = len(_passes(plain, x))
    folded = sum(isinstance(m, FoldableBatchNorm) for m in wf.modules())
    unfolded = len(wf.layer_names) - folded
    # one selection: gates (and BN) inside the weights and bias, so each folded BN's pass is gone
    assert len(_passes(wf, x, forget=3)) == len(_passes(wf, x, forget={2, 5})) == base - folded
    rows = torch.randint(0, 10, (BATCH,))
    assert len(_passes(wf, x, forget=rows)) == base + unfolded  # addcmul replaces BN; ViT: one each
    wf.fuse = False
    assert len(_passes(wf, x, forget=rows)) > base + unfolded


# Gradients are compared in float64: in float32 a max-pool or ReLU decision that rounding flips
# reroutes a gradient (seen: 0.4% of the largest alpha gradient of VGG's first layer).

@pytest.mark.parametrize("name", BACKBONES)
def test_alpha_gradients_equal_fused_and_unfused(name):
    wf = _models(name)[1].double()
    x, y = torch.randn(8, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (8,))
    grads = {}
    for fuse in (True, False):
        wf.fuse = fuse
        wf.zero_grad(set_to_none=True)
        loss = wf_loss(wf, x, y, UntrainConfig(chi=2), torch.Generator().manual_seed(0)).total
        loss.backward()
        grads[fuse] = [a.grad.clone() for a in wf.alphas()]
    for got, ref in zip(grads[True], grads[False]):
        assert ref.abs().sum() > 0
        _close(got, ref)


@pytest.mark.parametrize("name", ["resnet18", "vgg16", "vit_tiny"])
def test_relearn_backbone_gradients_equal_fused_and_unfused(name):
    wf = _models(name)[1].double()
    x, y = torch.randn(BATCH, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (BATCH,))
    runs = []
    for fuse in (True, False):
        view = trainable_copy(wf, row=3)
        view.model.fuse = fuse
        loss = F.cross_entropy(view(x), y)
        loss.backward()
        runs.append((loss.detach(), {n: p.grad for n, p in view.named_parameters() if p.requires_grad}))
    (loss_f, grads_f), (loss_u, grads_u) = runs
    _close(loss_f, loss_u)
    assert grads_f.keys() == grads_u.keys() and all(".alpha_" not in n for n in grads_f)
    bn_weights = [f"{n}.inner.weight" for n, m in view.named_modules() if isinstance(m, FoldableBatchNorm)]
    assert bn_weights or name.startswith("vit")
    for n in grads_f:
        assert grads_u[n] is not None and grads_f[n] is not None, n
        _close(grads_f[n], grads_u[n])
    assert all(grads_f[n].abs().sum() > 0 for n in bn_weights)  # BN's gamma learns through the fold


def test_relearn_steps_use_the_current_bn_parameters():
    _, wf = _models("resnet18")
    x, y = torch.randn(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))
    fused, ref = trainable_copy(wf, row=3), trainable_copy(wf, row=3)
    ref.model.fuse = False
    for view in (fused, ref):
        opt = torch.optim.SGD([p for p in view.parameters() if p.requires_grad], lr=0.5)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(view(x), y).backward()
            opt.step()
    with torch.no_grad():
        _close(fused(x), ref(x), 1e-4)


def test_cached_bn_constants_follow_in_place_updates():
    _, wf = _models("vgg16")
    x = torch.randn(BATCH, 3, 32, 32)
    with torch.no_grad():
        before = wf(x, forget=3)  # builds the cache
        bn = wf.backbone.features[1].inner
        bn.weight.mul_(-2)
        bn.running_var.add_(1)
        wf.load_state_dict({k: v * 1.5 if k.endswith("features.4.inner.bias") else v
                            for k, v in wf.state_dict().items()})
        after = wf(x, forget=3)
        wf.fuse = False
        ref = wf(x, forget=3)
    assert not torch.allclose(before, after)
    _close(after, ref)


@pytest.mark.parametrize("forget", [3, "rows"])
def test_bn_in_train_mode_is_not_folded(forget):
    _, wf = _models("resnet18")
    x = torch.randn(BATCH, 3, 32, 32)
    forget = torch.randint(0, 10, (BATCH,)) if forget == "rows" else forget
    wf.backbone.train()  # BN normalises with batch statistics: not an affine map to fold
    calls = []
    hooks = [m.inner.register_forward_hook(lambda *_: calls.append(1))
             for m in wf.modules() if isinstance(m, FoldableBatchNorm)]
    with torch.no_grad():
        fused = wf(x, forget=forget)
        assert len(calls) == len(hooks)  # every BN ran
        wf.fuse = False
        ref = wf(x, forget=forget)
    _close(fused, ref)
    wf.backbone.eval()
    calls.clear()
    with torch.no_grad():
        wf.fuse = True
        wf(x, forget=forget)
    assert not calls  # in eval mode every BN is folded into its conv


@pytest.mark.parametrize("name", ["resnet18", "vit_tiny"])
def test_bf16_autocast_fused_matches_unfused(name):
    _, wf = _models(name)
    x = torch.randn(BATCH, 3, 32, 32)
    for forget in (3, torch.randint(0, 10, (BATCH,))):
        outs = []
        for fuse in (True, False):
            wf.fuse = fuse
            with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
                outs.append(wf(x, forget=forget))
        assert outs[0].dtype == outs[1].dtype == torch.bfloat16
        _close(outs[0].float(), outs[1].float(), 5e-2)


def test_checkpoint_round_trip_and_old_checkpoints_load(tmp_path):
    plain, wf = _models("resnet18")
    spec = BackboneSpec("resnet18", 10, 3, 32, WIDTH["resnet18"])
    x, rows = torch.randn(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))
    assert set(wf.backbone_state_dict()) == set(plain.state_dict())  # the plain backbone's keys
    save_wf(tmp_path / "wf.pt", wf, spec, {})
    # what save_wf wrote before BN folding existed: the plain backbone's state dict, as is
    torch.save({"format": FORMAT_WF, "spec": json.dumps(spec.as_dict()), "meta": "{}",
                "targets": json.dumps(wf.layer_names), "state_dict": plain.state_dict(),
                "alpha": wf.alpha_state_dict()}, tmp_path / "old.pt")
    for path in ("wf.pt", "old.pt"):
        loaded = load(tmp_path / path, allow_unverified=path == "old.pt").model  # no checksum then either
        for key, value in wf.alpha_state_dict().items():
            assert torch.equal(loaded.alpha_state_dict()[key], value)
        with torch.no_grad():
            for forget in (None, 3, rows):
                assert torch.equal(loaded(x, forget=forget), wf(x, forget=forget))


def test_fuse_switch_and_copies():
    _, wf = _models("resnet18")
    assert wf.fuse and not wrap(create_backbone("resnet18", 10, 3, 32, width=0.125), 10, fuse=False).fuse
    x = torch.randn(BATCH, 3, 32, 32)
    twin = copy.deepcopy(wf)
    with torch.no_grad():
        assert torch.equal(twin(x, forget=4), wf(x, forget=4))
        twin.fuse = False
        assert wf.fuse
        _close(twin(x, forget=4), wf(x, forget=4))

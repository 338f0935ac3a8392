"""wfnet.report.onnx_page: the WF model exported to ONNX with the forget set as an input, run by
onnxruntime (CPU) against PyTorch on a tiny ResNet-18 with random gates (no checkpoint, no book)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import wfnet
from wfnet.errors import WFNetError
from wfnet.report import onnx_page

from .conftest import synthetic_dataset

N_CLASSES = 10
MEAN, STD = (0.1307,), (0.3081,)


def random_wf(seed: int = 0) -> tuple[torch.nn.Module, wfnet.WFModel]:
    """A 1/8-width ResNet-18 with random batch-norm statistics, wrapped, alpha random in [-6, 6]
    (gates from closed to open), so every layer's gate and folded BN matter."""
    torch.manual_seed(seed)
    net = wfnet.create_backbone("resnet18", N_CLASSES, 1, 28, width=0.125)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    wf = wfnet.wrap(net, N_CLASSES)
    with torch.no_grad():
        for a in wf.alphas():
            a.uniform_(-6.0, 6.0)
    return net, wf.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, wfnet.WFModel, Path]:
    net, wf = random_wf()
    path = onnx_page.export_onnx(wf, MEAN, STD, 28, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return net, wf, path


def images(n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("forget", [[], [3], [3, 7], list(range(N_CLASSES))], ids=["empty", "one", "two", "all"])
def test_onnx_equals_pytorch_for_any_forget_set(exported, forget: list[int]):
    """The file (onnxruntime, CPU, one thread) gives the PyTorch model's probabilities to 1e-4:
    ``model(x, forget=set)`` on the fused path, for an empty, one-, two- and all-class mask."""
    _, wf, path = exported
    sess = onnx_page.session(path)
    x = images()
    want = onnx_page.reference_probs(wf, MEAN, STD, x, forget).numpy()
    mask = onnx_page.mask_tensor(forget, N_CLASSES).numpy()
    got = np.concatenate([onnx_page.onnx_probs(sess, x[i:i + 1].numpy(), mask) for i in range(len(x))])
    assert got.shape == (len(x), N_CLASSES)
    assert np.abs(got - want).max() <= onnx_page.TOLERANCE
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_masks_change_the_output_and_combine_by_product(exported):
    """The mask is really an input: different sets give different probabilities, and two rows
    are their gates' product (what ``select_gates`` does), not either row alone."""
    _, wf, path = exported
    sess = onnx_page.session(path)
    x = images(1).numpy()
    out = {k: onnx_page.onnx_probs(sess, x, onnx_page.mask_tensor(s, N_CLASSES).numpy())
           for k, s in {"none": [], "3": [3], "7": [7], "3,7": [3, 7]}.items()}
    for a, b in [("none", "3"), ("3", "7"), ("3", "3,7"), ("7", "3,7")]:
        assert np.abs(out[a] - out[b]).max() > 1e-4, (a, b)
    mask = torch.zeros(1, N_CLASSES)
    mask[0, [3, 7]] = 1.0
    with torch.no_grad():
        norm = (torch.from_numpy(x) - MEAN[0]) / STD[0]
        product = torch.softmax(wf.forward_rows(norm, mask, "product"), 1).numpy()
    assert np.abs(out["3,7"] - product).max() <= onnx_page.TOLERANCE


def test_all_zero_mask_is_the_unwrapped_backbone(exported):
    """No class ticked = every gate open = the original model: the backbone's own softmax to 1e-5."""
    net, _, path = exported
    sess = onnx_page.session(path)
    x = images(4, seed=2)
    with torch.no_grad():
        want = torch.softmax(net((x - MEAN[0]) / STD[0]), 1).numpy()
    zeros = np.zeros((1, N_CLASSES), np.float32)
    got = np.concatenate([onnx_page.onnx_probs(sess, x[i:i + 1].numpy(), zeros) for i in range(len(x))])
    assert np.abs(got - want).max() <= 1e-5


def test_export_is_one_file_with_the_declared_inputs_and_restores_fusion(exported):
    import onnx

    _, wf, path = exported
    assert wf.fuse is True  # exported unfused, the model given back as it was
    assert not list(path.parent.glob("*.data")) and not list(path.parent.glob(".*.tmp"))
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims == {"image": [1, 1, 28, 28], "mask": [1, N_CLASSES]}
    assert [o.name for o in model.graph.output] == ["probs"]
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {onnx_page.OPSET}


def test_masks_for_cover_empty_single_several_and_all():
    sets = onnx_page.masks_for(N_CLASSES)
    assert sets[0] == [] and sets[-1] == list(range(N_CLASSES))
    assert all([c] in sets for c in range(N_CLASSES))
    several = [s for s in sets if 1 < len(s) < N_CLASSES]
    assert len(several) == 4 and all(s == sorted(set(s)) for s in several)
    assert onnx_page.masks_for(N_CLASSES) == sets  # seeded


def test_test_vectors_round_trip_and_a_wrong_one_is_caught(exported, tmp_path: Path):
    """Build-time vectors (test images as stored, uint8) written as JSON and checked by
    onnxruntime; a vector off by more than the tolerance fails the check."""
    _, wf, path = exported
    data = dataclasses.replace(synthetic_dataset(n_per_class=4, num_classes=N_CLASSES, size=28), mean=MEAN, std=STD)
    vectors = onnx_page.write_test_vectors(wf, data, tmp_path / "vectors.json")
    back = onnx_page.read_vectors(tmp_path / "vectors.json")
    assert back == json.loads(json.dumps(vectors))
    n_sets = len(onnx_page.masks_for(N_CLASSES))
    assert np.asarray(back["probs"]).shape == (N_CLASSES, n_sets, N_CLASSES)
    assert back["labels"] == list(range(N_CLASSES)) and back["class_names"][0] == "c0"
    assert all(0 <= v <= 255 and isinstance(v, int) for img in back["images"] for v in img)
    assert onnx_page.check_onnx(path, back) <= onnx_page.TOLERANCE
    back["probs"][2][5][1] += 1e-3
    with pytest.raises(WFNetError, match="differs from PyTorch"):
        onnx_page.check_onnx(path, back)
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(WFNetError, match="not a wfnet-onnx-page"):
        onnx_page.read_vectors(tmp_path / "bad.json")


def test_page_html_names_every_class_and_loads_nothing_remote(exported, tmp_path: Path):
    _, wf, _ = exported
    data = synthetic_dataset(n_per_class=2, num_classes=N_CLASSES, size=28)
    vectors = onnx_page.test_vectors(wf, data)
    vectors["model"] = {"backbone": "resnet18", "width": 0.125, "dataset": "synthetic", "onnx_bytes": 123}
    vectors["python_check"] = {"max_abs_diff": 1e-7, "cases": 10}
    page = onnx_page.page_html(vectors) + onnx_page.model_card(vectors)
    assert len(re.findall(r'<input type="checkbox" class="wf-forget" value="\d+">', page)) == N_CLASSES
    assert not re.search(r"https?://|//cdn", page)
    assert "../_static/onnxruntime/ort.wasm.min.js" in page and "Nothing runs on a server" in page
    assert "product" in page

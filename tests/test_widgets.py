"""wfnet.widgets: the live callbacks and the static page, driven in-process (no browser, no kernel)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import wfnet  # noqa: E402
from wfnet import widgets  # noqa: E402
from wfnet.metrics import evaluate_wf, random_reference  # noqa: E402

from .conftest import TinyCNN, synthetic_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def tiny_wf(num_classes: int = 4, seed: int = 0) -> wfnet.WFModel:
    """A TinyCNN briefly trained on the synthetic data, wrapped, with per-class gates closed at random."""
    torch.manual_seed(seed)
    data = synthetic_dataset(num_classes=num_classes)
    model = TinyCNN(num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = (data.train.gather(torch.arange(len(data.train))).float() / 255 - 0.3) / 0.3
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), data.train.labels).backward()
        opt.step()
    wf = wfnet.wrap(model.eval(), num_classes)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in wf.wf_layers().values():
            layer.alpha_weight.copy_(torch.randn(layer.alpha_weight.shape, generator=gen) * 3)
    return wf


@pytest.fixture(scope="module")
def core() -> widgets.ForgettingCore:
    return widgets.ForgettingCore(tiny_wf(), synthetic_dataset(num_classes=4), "cpu")


def _shown_number(html: str, cls: str) -> float:
    return float(re.search(rf"class='{cls}'>([0-9.]+)<", html).group(1))


def test_selecting_a_class_shows_its_evaluate_acc_f(core: widgets.ForgettingCore):
    """Acceptance (issue 6): the forget accuracy on screen is wfnet evaluate's per-class Acc_f."""
    scores = evaluate_wf(core.model, core.data, core.device,
                         random_reference(lambda: TinyCNN(4), 12345))
    explorer = widgets.ForgettingExplorer(core, k=3)
    core.states()  # precompute, as the notebook does
    for c in (1, 3, 0):
        explorer.select(c)
        assert explorer.shown["forget"] == c
        assert explorer.shown["acc_f"] == scores.per_class[c].acc_f
        assert explorer.shown["acc_r"] == scores.per_class[c].acc_r
        assert _shown_number(explorer.summary.value, "wf-acc-f") == pytest.approx(scores.per_class[c].acc_f, abs=0.005)
        assert f'data-forget="{c}"' in explorer.summary.value
        assert explorer.shown["per_class_acc"][c] == scores.per_class[c].acc_f
    explorer.select(None)
    assert explorer.shown["acc_f"] is None and 'data-forget="none"' in explorer.summary.value


def test_callbacks_update_every_view_within_a_second(core: widgets.ForgettingCore):
    explorer = widgets.ForgettingExplorer(core)
    core.states()
    explorer.select(1)  # first render pays matplotlib's one-off start-up
    before = (explorer.grid.value, explorer.bars.value, explorer.hist.value)
    start = time.perf_counter()
    explorer.select(2)
    elapsed = time.perf_counter() - start
    after = (explorer.grid.value, explorer.bars.value, explorer.hist.value)
    assert all(a != b for a, b in zip(after, before))
    assert all(bytes(v).startswith(b"\x89PNG") for v in after)
    assert elapsed < 1.0, f"a class change took {elapsed:.2f} s"
    hist = explorer.hist.value
    explorer.layer_select.value = core.layer_names[0]
    assert explorer.hist.value != hist
    explorer.k_select.value = 2
    assert len(explorer.shown["top_filters"]) == 2


def test_top_filters_are_the_most_closed_gates(core: widgets.ForgettingCore):
    layer = core.layer_names[0]
    g = torch.sigmoid(core.model.wf_layers()[layer].alpha_weight[1].detach()).numpy()
    top = core.top_filters(layer, 1, 3)
    assert [i for i, _ in top] == list(g.argsort(kind="stable")[:3])
    assert all(v <= g.max() for _, v in top)
    assert core.gates(layer, None).shape == (4, g.shape[0])


def test_state_none_is_the_original_model(core: widgets.ForgettingCore):
    """'none' runs the wrapped backbone with no gates: exactly the original model's logits."""
    expected = torch.cat([core.model.backbone(x) for x, _ in _batches(core)])
    assert torch.allclose(core.logits(None), expected, atol=1e-5)
    s = core.state(widgets.NONE)
    assert s.forget is None and s.acc_f is None and s.acc_r is None
    assert len(core.states()) == len(core.classes) + 1


def _batches(core: widgets.ForgettingCore):
    from wfnet.data import BatchIterator

    with torch.no_grad():
        yield from BatchIterator(core.data.test, 512, core.data.mean, core.data.std, core.device)


def test_static_page_precomputes_every_state_and_jslinks(core: widgets.ForgettingCore):
    import ipywidgets as w
    from ipywidgets.embed import embed_data

    page = widgets.static_page(core, k=2)
    select, stack = page.children
    assert isinstance(select, w.Dropdown) and isinstance(stack, w.Stack)
    assert len(stack.children) == len(core.classes) + 1
    manager_state = embed_data(views=[page])["manager_state"]
    state = json.dumps(manager_state)
    for c in range(len(core.classes)):
        acc_f = core.state(c).acc_f
        assert f'data-forget=\\"{c}\\" data-acc-f=\\"{acc_f:.2f}\\"' in state
    # the jslink travels with the page: the browser, not a kernel, switches the panels
    links = [m["state"] for m in manager_state["state"].values() if m["model_name"] == "LinkModel"]
    assert {"source": [f"IPY_MODEL_{select.model_id}", "index"],
            "target": [f"IPY_MODEL_{stack.model_id}", "selected_index"]}.items() <= links[-1].items()


def test_load_core_refuses_an_original_checkpoint(tmp_path: Path):
    from wfnet.backbones import create_backbone
    from wfnet.checkpoint import save_original
    from wfnet.errors import WFNetError

    model = create_backbone("resnet18", 4, 1, 8, width=0.0625)
    save_original(tmp_path / "model.pt", model, model.wfnet_spec, {"provenance": {"dataset": "mnist-5k"}})
    with pytest.raises(WFNetError, match="WF checkpoint"):
        widgets.load_core(tmp_path / "model.pt")


def test_load_core_reads_a_wf_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import wfnet.data
    from wfnet.backbones import create_backbone
    from wfnet.checkpoint import save_wf

    model = create_backbone("resnet18", 4, 1, 8, width=0.0625)
    wf = wfnet.wrap(model, 4)
    save_wf(tmp_path / "wf.pt", wf, model.wfnet_spec, {"provenance": {"dataset": "synthetic"}})
    monkeypatch.setattr(wfnet.data, "load_dataset", lambda name, root=None: synthetic_dataset(num_classes=4))
    core = widgets.load_core(tmp_path / "wf.pt")
    assert core.layer_names == wf.layer_names and len(core.grid_index) == 8


# -- the real smoke checkpoint, when it exists (always in CI, after `make book`) ------------------

SMOKE_WF = ROOT / "runs" / "smoke" / "mnist-5k" / "resnet18" / "wfnet" / "wf.pt"
SMOKE_RESULT = ROOT / "results" / "smoke" / "mnist-5k" / "resnet18" / "wfnet.json"


def test_smoke_checkpoint_matches_its_result_file():
    """On the book's own model, the explorer shows the per-class Acc_f of the result file."""
    if not (SMOKE_WF.is_file() and SMOKE_RESULT.is_file()):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SMOKE_WF} or {SMOKE_RESULT} missing in CI: run `make book` first")
        pytest.skip(f"no smoke run at {SMOKE_WF} (run `make book`)")
    core = widgets.load_core(SMOKE_WF, os.environ.get("WFNET_DATA_ROOT"))
    expected = {p["cls"]: p["acc_f"] for p in json.loads(SMOKE_RESULT.read_text())["per_class"]}
    explorer = widgets.ForgettingExplorer(core)
    for c in (3, 7):
        explorer.select(c)
        assert explorer.shown["acc_f"] == pytest.approx(expected[c], abs=1e-9)


@pytest.mark.slow
def test_smoke_explorer_matches_wfnet_evaluate_cli(tmp_path: Path):
    """Acceptance (issue 6) on the book's own model: `wfnet evaluate`'s per-class Acc_f is shown."""
    import subprocess
    import sys

    if not SMOKE_WF.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SMOKE_WF} missing in CI: run `make book` first")
        pytest.skip(f"no smoke run at {SMOKE_WF} (run `make book`)")
    subprocess.run([sys.executable, "-m", "wfnet.cli", "evaluate", "--checkpoint", str(SMOKE_WF),
                    "--out", str(tmp_path), "--device", "cpu", "--no-progress"], check=True, cwd=ROOT)
    evaluated = {p["cls"]: p["acc_f"] for p in json.loads((tmp_path / "metrics.json").read_text())["per_class"]}
    explorer = widgets.ForgettingExplorer(widgets.load_core(SMOKE_WF, os.environ.get("WFNET_DATA_ROOT")))
    for c, acc_f in evaluated.items():
        explorer.select(c)
        assert explorer.shown["acc_f"] == acc_f

"""wfnet.report.widgets: the live callbacks and the static page, driven in-process (no browser, no kernel)."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import wfnet  # noqa: E402
from wfnet.evaluation.metrics import evaluate_wf, random_reference  # noqa: E402
from wfnet.report import widgets  # noqa: E402

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


def test_callbacks_update_every_view(core: widgets.ForgettingCore):
    """A class change redraws every view (how fast is the benchmarks' business, not a test's: a
    timed assertion only measures the machine's load)."""
    explorer = widgets.ForgettingExplorer(core)
    core.states()
    explorer.select(1)
    before = (explorer.grid.value, explorer.bars.value, explorer.hist.value)
    explorer.select(2)
    after = (explorer.grid.value, explorer.bars.value, explorer.hist.value)
    assert all(a != b for a, b in zip(after, before))
    assert all(bytes(v).startswith(b"\x89PNG") for v in after)
    hist = explorer.hist.value
    explorer.layer_select.value = next(n for n in core.layer_names if n != explorer.layer_select.value)
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


def _links(manager_state: dict) -> list[dict]:
    return [m["state"] for m in manager_state["state"].values() if m["model_name"] == "LinkModel"]


def _link(source: object, target: object) -> dict:
    return {"source": [f"IPY_MODEL_{source.model_id}", "index"],
            "target": [f"IPY_MODEL_{target.model_id}", "selected_index"]}


def test_static_page_precomputes_every_state_and_pair_and_jslinks(core: widgets.ForgettingCore):
    import ipywidgets as w
    from ipywidgets.embed import dependency_state, embed_data

    page = widgets.static_page(core, k=2)
    (first, second), outer = page.children[0].children, page.children[1]
    n = len(core.classes)
    assert isinstance(first, w.Dropdown) and isinstance(second, w.Dropdown) and isinstance(outer, w.Stack)
    assert first.options[0].startswith("none") and second.options[0] == "nothing else"
    assert len(first.options) == len(second.options) == n + 1
    inner = outer.children
    assert len(inner) == n + 1 and all(isinstance(s, w.Stack) and len(s.children) == n + 1 for s in inner)
    # "forget" i and "and" j (0 = nothing, c + 1 = class c) show one panel, whatever the order
    for i in range(n + 1):
        assert inner[i].children[i] is inner[i].children[0] is inner[0].children[i]  # {c} or the original
        for j in range(n + 1):
            assert inner[i].children[j] is inner[j].children[i]
    manager_state = embed_data(views=[page], state=dependency_state([page]))["manager_state"]
    state = json.dumps(manager_state)
    for c in range(n):
        acc_f = core.state(c).acc_f
        assert f'data-forget=\\"{c}\\" data-acc-f=\\"{acc_f:.2f}\\"' in state
    for a, b in itertools.combinations(range(n), 2):
        s = core.state({a, b})
        assert inner[a + 1].children[b + 1].value.count(f'data-forget="{a},{b}" data-combine="product"') == 1
        assert f'data-acc-f=\\"{s.acc_f:.2f}\\" data-acc-r=\\"{s.acc_r:.2f}\\"' in state
    # each panel is stored once; pair panels are HTML only (the PNGs are those of the single states)
    images = [m for m in manager_state["state"].values() if m["model_name"] == "ImageModel"]
    assert len(images) == 3 * (n + 1)
    # the jslinks travel with the page: the browser, not a kernel, switches the panels
    links = _links(manager_state)
    assert any(_link(first, outer).items() <= link.items() for link in links)
    assert all(any(_link(second, s).items() <= link.items() for link in links) for s in inner)


def test_static_page_pair_values_are_those_of_multiforget(core: widgets.ForgettingCore):
    """A pair's numbers on the page are wfnet.evaluation.multiforget's (the beyond chapter's heatmaps)."""
    from wfnet.evaluation.multiforget import set_logits, set_scores

    for pair in ((0, 3), (1, 2)):
        expected = set_scores(set_logits(core.model, core.data, pair, "product", core.device), core.labels, pair)
        state = core.state(set(pair))
        assert (state.acc_f, state.acc_r) == (expected["acc_f"], expected["acc_r"])
        assert state.forget == pair and state.combine == "product"


def test_static_page_without_pairs_is_one_dropdown_and_one_stack(core: widgets.ForgettingCore):
    import ipywidgets as w

    select, stack = widgets.static_page(core, k=2, pairs=False).children
    assert isinstance(select, w.Dropdown) and isinstance(stack, w.Stack)
    assert len(stack.children) == len(core.classes) + 1


def test_explorer_forgets_a_set_with_either_combination(core: widgets.ForgettingCore):
    from wfnet.evaluation.multiforget import set_logits, set_scores

    explorer = widgets.ForgettingExplorer(core, k=3)
    for combine in ("product", "min"):
        explorer.select([3, 1], combine)
        expected = set_scores(set_logits(core.model, core.data, [1, 3], combine, core.device), core.labels, [1, 3])
        assert explorer.shown["forget"] == (1, 3) and explorer.shown["combine"] == combine
        assert (explorer.shown["acc_f"], explorer.shown["acc_r"]) == (expected["acc_f"], expected["acc_r"])
        assert f'data-forget="1,3" data-combine="{combine}"' in explorer.summary.value
    assert core.state({1, 3}, "min") != core.state({1, 3}, "product")
    explorer.class_select.value = (2,)  # a click on one class: the single-class state, whatever the combination
    assert explorer.shown["forget"] == 2 and explorer.shown["acc_f"] == core.state(2).acc_f
    explorer.class_select.value = ()
    assert explorer.shown["forget"] is None and 'data-forget="none"' in explorer.summary.value


def test_gates_of_a_set_combine_its_rows(core: widgets.ForgettingCore):
    layer = core.layer_names[0]
    alpha = core.model.wf_layers()[layer].alpha_weight.detach()
    g_min = core.gates(layer, {0, 2}, "min")
    g_prod = core.gates(layer, [2, 0])
    assert (g_min == torch.sigmoid(torch.minimum(alpha[0], alpha[2])).numpy()).all()
    assert torch.allclose(torch.from_numpy(g_prod), torch.sigmoid(alpha[0]) * torch.sigmoid(alpha[2]), atol=1e-6)
    top = core.top_filters(layer, {0, 2}, 3, "min")
    assert [i for i, _ in top] == list(g_min.argsort(kind="stable")[:3])


def test_bad_combine_is_a_clear_error(core: widgets.ForgettingCore):
    from wfnet.errors import WFNetError

    for forget in ({0, 1}, 2, None):
        with pytest.raises(WFNetError, match="unknown combine 'max'"):
            core.state(forget, "max")
    with pytest.raises(WFNetError, match="unknown combine 'max'"):
        widgets.ForgettingExplorer(core).select([0, 1], "max")


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


# -- the page as a reader meets it (issue 18) -------------------------------------------------------

def test_controls_name_the_classes():
    assert widgets.class_options(("0", "1", "2"))[1:] == [("digit 0", 0), ("digit 1", 1), ("digit 2", 2)]
    assert widgets.class_options(("cat", "dog"))[1:] == [("cat", 0), ("dog", 1)]
    assert widgets.class_options(("a", "a"))[1:] == [("0: a", 0), ("1: a", 1)]  # ambiguous names get numbers
    assert widgets.class_options(("cat",))[0] == ("none (original model)", widgets.NONE)


def test_summary_explains_the_gates(core: widgets.ForgettingCore):
    layer = core.layer_names[-1]
    html = widgets.summary_html(core, core.state(1), layer, 3)
    g = core.gates(layer, 1)
    closed = int((g < widgets.CLOSED_BELOW).sum())
    assert f"{closed} of {g.size} gates closed (σ(α) &lt; 0.5)" in html
    assert "the 3 most closed (filter, gate)" in html


def test_static_page_images_are_small_palette_pngs(core: widgets.ForgettingCore):
    import io as _io

    from PIL import Image

    state = core.state(1)
    full = widgets.grid_png(core, state)
    small = widgets.grid_png(core, state, colors=widgets.STATIC_COLORS)
    assert Image.open(_io.BytesIO(small)).mode == "P" and len(small) < len(full)


def test_model_card_says_which_model_and_what_evaluate_measured(tmp_path: Path):
    """The interactive page's box is read from the checkpoint's metadata and `wfnet evaluate`."""
    from wfnet.checkpoint import load, save_wf

    net = wfnet.create_backbone("resnet18", 4, in_chans=1, image_size=8, width=0.0625)
    model = wfnet.wrap(net.eval(), 4)
    meta = {"provenance": {"backbone": "resnet18", "width": 0.5, "dataset": "synthetic", "train_size": 80,
                           "test_size": 40, "device": "cpu (test)", "git_commit": "c" * 40, "wall_seconds": 12.0,
                           "untrain_config": {"lr": 100.0, "clip_grad_norm": 0.1, "clip_scope": "per_row",
                                              "ce_cap": 4.0, "alpha_bound": 6.0, "epochs": 6}},
            "untrain": {"epochs_run": 6.0, "steps": 30, "stopped": "max_epochs"},
            "original": {"test_acc": 97.2, "provenance": {"wall_seconds": 30.0, "train_config": {"epochs": 3}}}}
    core = widgets.ForgettingCore(model, synthetic_dataset(num_classes=4), "cpu")
    ckpt = tmp_path / "wf.pt"
    save_wf(ckpt, model, net.wfnet_spec, meta)
    assert load(ckpt).meta["provenance"]["width"] == 0.5
    ev = tmp_path / "metrics.json"
    per = [{"cls": c, "acc_r": 91.0 + c, "acc_f": 0.1 * c} for c in range(4)]
    ev.write_text(json.dumps({"acc_r": 92.5, "acc_f": 0.15, "per_class": per}))
    card = widgets.model_card(core, ckpt, ev)
    assert "ResNet-18 at width 1/2" in card and "trained for 3 epochs (test accuracy 97.20%)" in card
    assert "Acc_r <b>92.50%</b>" in card and "retain accuracy 91.0–94.0 %" in card and "forget accuracy 0.0–0.3 %" in card


def test_default_layer_is_where_most_gates_are_closed(core: widgets.ForgettingCore):
    import torch

    share = {n: float((torch.sigmoid(l.alpha_weight.detach()) < widgets.CLOSED_BELOW).float().mean())
             for n, l in core.model.wf_layers().items()}
    assert share[core.most_closed_layer()] == max(share.values())
    assert widgets.ForgettingExplorer(core).layer_select.value == core.most_closed_layer()

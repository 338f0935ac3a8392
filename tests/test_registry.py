"""The method registry: one table every part of the package reads. A method added through the
registry alone runs in ``reproduce`` and gets its rows in Table 1."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import pytest

from wfnet.errors import WFNetError
from wfnet.methods import METHODS, Method, method_names, methods, register, register_method


@dataclass(frozen=True)
class ToyConfig:
    noise: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@pytest.fixture
def toy_method():
    """A toy single-class method that forgets nothing, registered for one test only."""
    @register_method("toy_identity", label="Toy identity †", kind="single_class", in_paper=False, order=99,
                     config=lambda preset, dataset, backbone, seed: ToyConfig())
    def toy(run, cls, cfg):
        return copy.deepcopy(run.original_model())

    yield "toy_identity"
    METHODS.unregister("toy_identity")


def test_the_paper_methods_in_table_order():
    assert method_names(in_paper=True) == ("original", "retrained", "random_labels", "negative_gradients", "wfnet")
    assert set(method_names(in_paper=False)) >= {"salun", "ssd"}
    assert all(m.unlearn is not None for m in methods(kind="single_class"))


def test_registry_refuses_duplicates_and_malformed_methods():
    with pytest.raises(ValueError, match="registered twice"):
        register(Method("wfnet", "again", "one_round", in_paper=True, order=1))
    with pytest.raises(ValueError, match="kind 'magic'"):
        register(Method("x", "x", "magic", in_paper=False, order=1))
    with pytest.raises(ValueError, match="single-class methods, and only they"):
        register(Method("y", "y", "single_class", in_paper=False, order=1))
    with pytest.raises(WFNetError, match="unknown method 'nope'"):
        METHODS.get("nope")


def test_a_method_config_enters_only_its_own_key(toy_method):
    from wfnet.experiments.presets import PRESETS

    smoke = PRESETS.get("smoke")
    key = smoke.key("mnist-5k", "resnet18", 0, toy_method)
    assert smoke.key_parts("mnist-5k", "resnet18", 0, toy_method)["config"] == {"noise": 0.0}
    assert key != smoke.key("mnist-5k", "resnet18", 0, "random_labels")


@pytest.mark.slow
def test_a_toy_method_added_through_the_registry_alone_runs_and_is_tabled(toy_method, tmp_path):
    from wfnet import report
    from wfnet.experiments.reproduce import reproduce

    from .test_reproduce import MICRO

    out = reproduce("mnist-5k", "resnet18", MICRO, tmp_path / "results", tmp_path / "runs", "cpu",
                    methods=["original", toy_method], progress=False)
    toy, original = out[toy_method], out["original"]
    assert toy["acc_r"] == pytest.approx(original["acc_r"]) and toy["acc_f"] == pytest.approx(original["acc_f"])
    assert toy["provenance"]["method_config"] == {"noise": 0.0}
    view, _ = report.table1_view(tmp_path / "results", "MNIST")
    rows = view.xs("Toy identity †", level="method")
    assert len(rows) == 1 and rows.iloc[0]["Acc_f ↓"] == f"{toy['acc_f']:.2f}"

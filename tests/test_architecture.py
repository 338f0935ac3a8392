"""The house rules, checked on the source: no import cycle (module- and function-level imports alike),
no lower layer importing a higher one, short module docstrings, no file over 600 lines."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wfnet"
# Layers from the bottom up: a module may import its own layer or lower ones, never higher ones.
UPPER = ("wfnet.experiments", "wfnet.report", "wfnet.cli")
MAX_LINES = 600


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _target(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, wherever the import stands (top level, inside a
    function, under ``TYPE_CHECKING``): a loop a lazy import hides from Python is still a loop."""
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in paths.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _target(mod, node, path.name == "__init__.py")
                for alias in node.names:  # ``from . import x`` imports the module x
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in paths else target)
        graph[mod] = {d for d in deps if d in paths and d != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module, line", [
    ("errors.py", "\n\ndef _late():\n    from .cli import main\n"),           # function level
    ("layers/gates.py", "\nfrom ..wrap import WFModel  # noqa\n"),            # module level, across folders
    ("methods/registry.py", "\nif TYPE_CHECKING:\n    from ..experiments.reproduce import Run\n"),
])
def test_the_check_sees_a_circular_import_added_to_a_scratch_copy(tmp_path, module, line):
    copy = tmp_path / "wfnet"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert find_cycle(import_graph(copy)) is None
    (copy / module).write_text((copy / module).read_text() + line)
    cycle = find_cycle(import_graph(copy))
    assert cycle is not None and module_name(copy / module, copy) in cycle


def test_nothing_below_the_experiments_imports_from_above():
    graph = import_graph(PACKAGE)
    lower = [m for m in graph if m != "wfnet" and not m.startswith(UPPER)]
    upward = {m: sorted(d for d in graph[m] if d.startswith(UPPER)) for m in lower}
    assert {m: d for m, d in upward.items() if d} == {}


def test_every_module_opens_with_a_docstring_of_at_most_two_lines():
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        if doc is None or len(doc.strip().splitlines()) > 2:
            long[str(path.relative_to(PACKAGE))] = None if doc is None else len(doc.strip().splitlines())
    assert long == {}


def test_no_file_of_the_package_is_over_600_lines():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}

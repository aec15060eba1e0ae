"""Dependencies inside segmentation/ point one way: no import cycle (imports inside functions
count too), and no module imports Streamlit."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "segmentation"


def _imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports anywhere: top level, inside functions, and in
    TYPE_CHECKING blocks too (a type that needs the module above is a dependency on it all the same)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("segmentation."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("segmentation."))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("import_module", "importlib.import_module"):
            found.update(_LAZY_TARGETS)  # __init__'s lazy attributes
    return found


_LAZY_TARGETS = {"api", "pipeline", "settings"}


def import_graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize(("graph", "cycle"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
], ids=["chain", "two-module-cycle", "three-module-cycle"])
def test_find_cycle_on_hand_made_graphs(graph, cycle):
    assert find_cycle(graph) == cycle


def test_imports_inside_functions_are_in_the_graph(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from .pipeline import run\n    from . import sources\n")
    assert _imports(module) == {"pipeline", "sources"}


def test_segmentation_has_no_import_cycle():
    graph = import_graph()
    assert {"pipeline", "preparation", "schema", "sources", "largefile"} <= set(graph)
    assert find_cycle(graph) is None


@pytest.mark.parametrize(("lower", "upper"), [
    ("preparation", "pipeline"), ("largefile", "pipeline"), ("sources", "pipeline"),
    ("schema", "preparation"), ("cleaning", "preparation"), ("kpolicy", "pipeline"),
], ids=lambda name: name)
def test_lower_modules_never_import_the_facade(lower, upper):
    assert upper not in import_graph()[lower]


def test_no_module_imports_streamlit():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(name.split(".")[0] == "streamlit" for name in names), path.name

"""Dependencies inside segmentation/ point one way: every module has a declared layer and imports
only its own layer and those below (imports inside functions and TYPE_CHECKING blocks count too),
there is no import cycle, and no module imports Streamlit."""
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


# Bottom to top. A module may import modules of its own layer and of the layers below it, never
# above. A new module is declared here (the test fails until it is); docs/ARCHITECTURE.md draws
# the same table (tests/test_docs.py checks it).
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("errors", "settings", "progress", "engines", "spark_runtime", "formats", "export"),
    "stages": ("schema", "parsing", "columns", "cleaning", "rfm_features", "scoring", "model", "stability",
               "segments", "kpolicy", "saved", "demo", "clv", "prediction", "outlook"),
    "preparation": ("preparation",),
    "sources": ("reading", "largefile", "sources"),
    "renderers": ("charts", "prediction_charts", "report_html", "audiences"),
    "facade": ("pipeline",),
    "on the facade": ("migration", "report"),
    "front ends": ("api", "cli", "__init__", "__main__"),
}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = {path.stem: path for path in package.glob("*.py")}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]], layers: dict[str, tuple[str, ...]]) -> list[str]:
    """Every import of a module in a higher layer, as 'importer (layer) -> imported (layer)'."""
    rank = {module: (i, layer) for i, (layer, modules) in enumerate(layers.items()) for module in modules}
    return [f"{module} ({rank[module][1]}) -> {target} ({rank[target][1]})"
            for module in sorted(graph) for target in sorted(graph[module]) if rank[target][0] > rank[module][0]]


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


def test_every_module_has_exactly_one_layer():
    declared = [module for modules in LAYERS.values() for module in modules]
    assert len(declared) == len(set(declared))
    assert sorted(declared) == sorted(import_graph()), "declare a new module's layer in LAYERS"


def test_no_import_points_up():
    assert upward_imports(import_graph(), LAYERS) == []


@pytest.mark.parametrize("planted", [
    "from .pipeline import run\n",
    "def f():\n    from . import pipeline\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from segmentation.pipeline import Result\n",
], ids=["top-level", "inside-a-function", "type-checking"])
def test_a_planted_upward_import_fails_the_layer_check(tmp_path, planted):
    """The check itself: the real package copied, one upward import planted in cleaning.py."""
    for path in PACKAGE.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    assert upward_imports(import_graph(tmp_path), LAYERS) == []
    with (tmp_path / "cleaning.py").open("a") as module:
        module.write(planted)
    assert upward_imports(import_graph(tmp_path), LAYERS) == ["cleaning (stages) -> pipeline (facade)"]


def test_no_module_imports_streamlit():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(name.split(".")[0] == "streamlit" for name in names), path.name

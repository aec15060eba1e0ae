"""The documents say what the code does: docs/ARCHITECTURE.md's layer table is the one
tests/test_architecture.py enforces and its module tables name exactly the modules that exist;
every speed or memory figure in README.md is one of BENCHMARKS.md's."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_architecture import LAYERS

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
# A measured figure: a number with a unit of time, memory or ratio ("56.98 s", "4,349 MiB", "6.5×").
FIGURE = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) ?(s|min|MiB|GiB|×)(?!\w)")


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with `header`."""
    lines = text.split(f"\n| {header} |", 1)[1].split("\n")[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_layer_table_is_the_enforced_one():
    drawn = {layer: tuple(re.findall(r"`(\w+)`", modules))
             for layer, modules in table_rows(ARCHITECTURE, "layer (top to bottom)")}
    assert list(drawn) == list(reversed(LAYERS))
    assert drawn == LAYERS


@pytest.mark.parametrize("folder, header, left_out", [
    ("segmentation", "module | job |\n|---|---|", {"__init__.py", "__main__.py"}),
    ("ui", "module | job | draws? |\n|---|---|---|", {"__init__.py"}),
    ("workspace", "workspace module | job |\n|---|---|", {"__init__.py"}),
], ids=["core", "ui", "workspace"])
def test_the_module_tables_name_every_module_once(folder, header, left_out):
    table = ARCHITECTURE.split(f"| {header}", 1)[1].split("\n\n", 1)[0]
    named = re.findall(r"^\| `(?:ui/)?([\w.]+\.py)`", table, re.M)
    assert len(named) == len(set(named))
    assert sorted(named) == sorted(p.name for p in (ROOT / folder).glob("*.py") if p.name not in left_out)


def test_figures_on_the_page_are_found_by_the_pattern():
    found = FIGURE.findall("50M rows in 56.98 s, 4.7 min, peak 4,349 MiB, 6.5× faster; 3 GB; v2 s3")
    assert found == [("56.98", "s"), ("4.7", "min"), ("4,349", "MiB"), ("6.5", "×")]


def test_every_readme_figure_is_a_benchmarks_figure():
    benchmarks = (ROOT / "BENCHMARKS.md").read_text()
    numbers = set(re.findall(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?", benchmarks))
    figures = FIGURE.findall((ROOT / "README.md").read_text())
    assert figures, "README.md quotes BENCHMARKS.md's figures in its Speed section"
    assert [f"{number} {unit}" for number, unit in figures if number not in numbers] == []

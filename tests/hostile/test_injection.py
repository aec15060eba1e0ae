"""Formula injection in every exported cell, and markup in chart hover text.

A file whose customer ids, countries and descriptions begin with '=', '+', '-', '@', tab or CR
goes through the CLI and through the exports the app offers (export.to_csv_bytes /
to_xlsx_bytes on the customers table, the segment summary and the top products); no cell of any
output may start with a formula character, and XLSX cells are strings, never formulas.
"""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pandas as pd
import pytest

from segmentation import charts, export, pipeline, reading, segments
from segmentation.cli import main
from tests.hostile.cases import csv_text, good_rows

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EVIL_IDS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "<b>x</b>&amp;"]
EVIL_COUNTRIES = ["=cmd|' /C calc'!A0", "+Gb", "-France", "@UK", "<img src=x onerror=alert(2)>"]
EVIL_DESCRIPTIONS = ["=1+1", "<script>alert(1)</script>", "-MUG", "@x", "\tTAB", "\rCR"]


def evil_file() -> bytes:
    rows = good_rows(
        35,
        customer=lambda i: EVIL_IDS[i % len(EVIL_IDS)],
        country=lambda i: EVIL_COUNTRIES[i % len(EVIL_COUNTRIES)],
        description=lambda i: EVIL_DESCRIPTIONS[i % len(EVIL_DESCRIPTIONS)],
        product=lambda i: ["=P1", "+P2", "P3", "@P4"][i % 4],
    )
    return csv_text(rows).encode()


def csv_cells(data: bytes) -> list[str]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    return [cell for row in reader for cell in row]


def assert_csv_safe(data: bytes) -> None:
    cells = csv_cells(data)
    assert cells, "empty export"
    bad = [cell for cell in cells if cell.startswith(FORMULA_START)]
    assert not bad, bad


def assert_xlsx_safe(data: bytes) -> int:
    book = openpyxl.load_workbook(io.BytesIO(data))
    checked = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_START), (sheet.title, cell.coordinate, cell.value)
                    checked += 1
    return checked


@pytest.fixture(scope="module")
def result() -> pipeline.Result:
    return pipeline.run(reading.read_file(evil_file(), filename="evil.csv"), k=3)


def test_hostile_values_reach_the_exports_neutralised(result):
    customers = result.segmentation.customers
    assert set(customers["customer_id"]) == set(EVIL_IDS) - {"\t=1", "\r=1"} | {"=1"}  # ids are trimmed
    data = export.to_csv_bytes(customers)
    cells = csv_cells(data)
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in cells and "'+1+1" in cells and "'@SUM(A1)" in cells
    assert_csv_safe(data)


def test_every_app_download_is_safe(result):
    """The Customers page offers: customers CSV, customers + segments XLSX, segment summary CSV."""
    customers = result.segmentation.customers
    profiles = result.segmentation.profiles
    top = segments.top_items(customers, result.prepared.customer_products)
    assert top["description"].str.startswith(("=", "-", "@", "<", "\t", "\r")).any()
    assert_csv_safe(export.to_csv_bytes(customers))
    assert_csv_safe(export.to_csv_bytes(profiles))
    assert_csv_safe(export.to_csv_bytes(top))
    assert assert_xlsx_safe(export.to_xlsx_bytes({"Customers": customers, "Segments": profiles,
                                                   "Top products": top})) > 50


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cli_outputs_are_safe(tmp_path, capsys, suffix):
    source = tmp_path / "evil.csv"
    source.write_bytes(evil_file())
    out, report = tmp_path / f"customers{suffix}", tmp_path / "report.json"
    assert main([str(source), "--k", "3", "--out", str(out), "--report", str(report)]) == 0, capsys.readouterr().err
    if suffix == ".csv":
        assert_csv_safe(out.read_bytes())
        frame = pd.read_csv(out, dtype=str)
        assert frame["country"].str.startswith("'").any()
    else:
        assert assert_xlsx_safe(out.read_bytes()) > 50
    json.loads(report.read_text())  # the report is JSON: values are data, not formulas


def test_headers_are_neutralised_too():
    frame = pd.DataFrame({"=evil": ["x"], "@h": ["y"]})
    assert csv_cells(export.to_csv_bytes(frame))[:2] == ["'=evil", "'@h"]
    assert_xlsx_safe(export.to_xlsx_bytes({"S": frame}))


def _figure_strings(fig) -> list[str]:
    """Every string the figure sends to the browser (data and layout)."""
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(json.loads(fig.to_json()))
    return found


def test_chart_hover_text_is_escaped(result):
    customers = result.segmentation.customers
    figures = [
        charts.scatter_2d(customers, x="recency", y="monetary"),
        charts.scatter_3d(customers),
        charts.relative_heatmap(customers),
        charts.snake_plot(customers),
        charts.revenue_share_figure(result.segmentation.profiles),
        charts.crosstab_heatmap(customers),
        charts.audit_figure(result.prepared.audit.table, rows_in=result.prepared.audit.rows_in,
                            rows_kept=result.prepared.audit.rows_kept),
    ]
    strings = [s for fig in figures for s in _figure_strings(fig)]
    assert not [s for s in strings if "<script" in s or "<img" in s], "raw markup reached a figure"
    ids = [s for fig in figures[:2] for s in _figure_strings(fig) if "HYPERLINK" in s or "&lt;b&gt;" in s]
    assert ids and all("<" not in s for s in ids)
    assert any(s == "&lt;b&gt;x&lt;/b&gt;&amp;amp;" for s in ids)  # shown as typed: <b>x</b>&amp;

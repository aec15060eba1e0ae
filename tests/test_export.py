"""Exports neutralise spreadsheet formulas and are written atomically."""
import io

import openpyxl
import pandas as pd
import pytest

from segmentation.export import neutralise_formulas, to_csv_bytes, to_xlsx_bytes, write_atomic, write_table

HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "plain", "a=b"]


@pytest.mark.parametrize("text, safe", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-1", "'-1"), ("@SUM(1)", "'@SUM(1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("Café", "Café"), ("a=b", "a=b"), ("", ""),
])
def test_neutralise_text_cells(text, safe):
    assert neutralise_formulas(pd.DataFrame({"c": [text]}))["c"].iloc[0] == safe


def test_numbers_are_left_alone():
    table = pd.DataFrame({"monetary": [-5.0, 3.0], "customer_id": ["-5", "7"]})
    safe = neutralise_formulas(table)
    assert safe["monetary"].tolist() == [-5.0, 3.0]
    assert safe["customer_id"].tolist() == ["'-5", "7"]


def test_csv_has_no_cell_starting_with_a_formula_character():
    text = to_csv_bytes(pd.DataFrame({"segment": HOSTILE})).decode()
    cells = text.split("\n")[1:-1]
    assert all(not cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in cells)


def test_xlsx_cells_are_text_not_formulas():
    data = to_xlsx_bytes({"Customers": pd.DataFrame({"segment": HOSTILE, "n": range(len(HOSTILE))})})
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Customers"]
    values = [sheet.cell(row=i + 2, column=1) for i in range(len(HOSTILE))]
    assert all(cell.data_type == "s" for cell in values)
    assert values[0].value == "'=1+1" and values[6].value == "plain"


def test_write_table_by_extension_and_atomically(tmp_path):
    table = pd.DataFrame({"customer_id": ["1"], "monetary": [2.5]})
    write_table(tmp_path / "c.csv", table)
    write_table(tmp_path / "c.xlsx", table, extra_sheets={"Segments": table})
    assert (tmp_path / "c.csv").read_text() == "customer_id,monetary\n1,2.5\n"
    assert openpyxl.load_workbook(tmp_path / "c.xlsx").sheetnames == ["Customers", "Segments"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "c.xlsx"]  # no temporary files left


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "out.csv", object())  # not bytes: the write fails midway
    assert list(tmp_path.iterdir()) == []

"""Exports neutralise spreadsheet formulas, are written atomically and fail cleanly (OutputError)."""
import errno
import io
import os
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from segmentation import export
from segmentation.errors import OutputError
from segmentation.export import neutralise_formulas, to_csv_bytes, to_xlsx_bytes, write_atomic, write_table
from tests import disks

small_disk = disks.small_disk  # a real 300 KB tmpfs (a fixture)

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


# ----------------------------------------------------------------------------- failing disks

def _io_error(code):
    return OSError(code, os.strerror(code))


def _duckdb_full(*args):
    import duckdb

    raise duckdb.IOException('IO Error: Could not write file "x.csv": No space left on device')


FAILURES = [  # (id, what the write raises, words of the message)
    ("no-space", _io_error(errno.ENOSPC), "no space left on the disk"),
    ("quota", _io_error(errno.EDQUOT), "the disk quota is used up"),
    ("read-only", _io_error(errno.EROFS), "the file system is read-only"),
    ("vanished-folder", _io_error(errno.ENOENT), "its folder does not exist"),
]
TABLE = pd.DataFrame({"customer_id": ["1", "2"], "monetary": [2.5, 3.0]})
KINDS = {  # output kind → how it is written
    "csv": lambda path: write_table(path.with_suffix(".csv"), TABLE),
    "xlsx": lambda path: write_table(path.with_suffix(".xlsx"), TABLE, extra_sheets={"Segments": TABLE}),
    "bytes": lambda path: write_atomic(path.with_suffix(".json"), b"{}"),
}


def _fail_writes(monkeypatch, error):
    def raise_it(*args, **kwargs):
        raise error

    monkeypatch.setattr(export, "_write_csv", raise_it)
    monkeypatch.setattr(Path, "write_bytes", raise_it)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("failure, error, words", FAILURES, ids=[case[0] for case in FAILURES])
def test_an_injected_io_failure_is_an_output_error_and_leaves_nothing(tmp_path, monkeypatch, kind, failure,
                                                                      error, words):
    _fail_writes(monkeypatch, error)
    with pytest.raises(OutputError, match=re.escape(words)) as caught:
        KINDS[kind](tmp_path / "out")
    assert str(tmp_path / "out") in caught.value.message  # names the file
    assert list(tmp_path.iterdir()) == []


def test_duckdbs_io_exception_is_an_output_error(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_write_csv", _duckdb_full)
    with pytest.raises(OutputError, match=r"c\.csv: no space left on the disk\."):
        write_table(tmp_path / "c.csv", TABLE)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_gone_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="its folder does not exist"):
        write_table(tmp_path / "gone" / "c.csv", TABLE)


def test_all_or_nothing_removes_the_outputs_written_before_a_failure(tmp_path, monkeypatch):
    with pytest.raises(OutputError), export.all_or_nothing():
        write_table(tmp_path / "c.csv", TABLE)
        _fail_writes(monkeypatch, _io_error(errno.ENOSPC))
        write_atomic(tmp_path / "r.json", b"{}")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with export.all_or_nothing():
        write_table(tmp_path / "c.csv", TABLE)
        write_atomic(tmp_path / "r.json", b"{}")
        assert not (tmp_path / "c.csv").exists()  # nothing appears before the end of the block
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "r.json"]


def test_a_full_real_disk_gives_an_output_error_and_no_partial_file(small_disk):
    many = pd.DataFrame({"customer_id": [f"{i:08d}" for i in range(25_000)], "segment": ["Champions"] * 25_000})
    with pytest.raises(OutputError, match=r"c\.csv: no space left on the disk\."):
        write_table(small_disk / "c.csv", many)  # 475 KB: the disk fills up halfway through
    assert list(small_disk.iterdir()) == []
    disks.fill(small_disk)
    for kind in sorted(KINDS):
        with pytest.raises(OutputError, match=r"out\.\w+: no space left on the disk\."):
            KINDS[kind](small_disk / "out")
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


# ----------------------------------------------------------------------------- numbers for people

NUMBERS = pd.DataFrame({
    "customer_id": ["12347", "12348"],
    "monetary": [296.09000000000003, 615.7142857142857],
    "revenue_share": [0.178612, 0.05],
    "first_purchase": pd.to_datetime(["2011-09-11", "2010-12-01"]),
    "recency": [3, 120],
    "margin": [0.123456, 1.0],
})


def test_csv_has_money_to_cents_shares_to_four_places_and_iso_dates():
    lines = to_csv_bytes(NUMBERS).decode().splitlines()
    assert lines == ["customer_id,monetary,revenue_share,first_purchase,recency,margin",
                     "12347,296.09,0.1786,2011-09-11,3,0.123",
                     "12348,615.71,0.05,2010-12-01,120,1.0"]


@pytest.mark.parametrize("column, value, number_format", [
    ("monetary", 296.09, "#,##0.00"),
    ("revenue_share", 0.1786, "0.0%"),
    ("recency", 3, "#,##0"),
    ("margin", 0.123, "0.000"),
], ids=["money", "share", "days", "ratio"])
def test_xlsx_numbers_are_rounded_and_carry_an_excel_number_format(column, value, number_format):
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes({"Customers": NUMBERS})))["Customers"]
    cell = sheet.cell(row=2, column=list(NUMBERS.columns).index(column) + 1)
    assert (cell.value, cell.number_format) == (value, number_format)


def test_xlsx_dates_are_real_dates_in_the_one_date_format():
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes({"Customers": NUMBERS})))["Customers"]
    cell = sheet.cell(row=2, column=4)
    assert cell.is_date and cell.value.date().isoformat() == "2011-09-11"
    assert cell.number_format == "yyyy-mm-dd"


@pytest.mark.parametrize("currency, number_format", [
    ("£", '"£"#,##0.00'), ("€", '"€"#,##0.00'), ("CHF", '#,##0.00 "CHF"'), (None, "#,##0.00"),
])
def test_xlsx_money_format_names_the_currency_when_known(currency, number_format):
    data = to_xlsx_bytes({"Customers": NUMBERS}, currency=currency)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Customers"]
    assert sheet.cell(row=2, column=2).number_format == number_format

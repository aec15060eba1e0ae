"""parsing.to_canonical: ids, dates (one format per column), numbers (decimal comma), schema."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmentation.columns import resolve_roles
from segmentation.errors import MappingError
from segmentation.parsing import to_canonical
from segmentation.reading import read_file
from segmentation.schema import CANONICAL_SCHEMA

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

EXPECTED_SCHEMA = [
    ("customer_id", pa.string()), ("invoice", pa.string()), ("invoice_date", pa.timestamp("us")),
    ("quantity", pa.float64()), ("price", pa.float64()), ("amount", pa.float64()),
    ("product", pa.string()), ("description", pa.string()), ("country", pa.string()), ("email", pa.string()),
    ("status", pa.string()), ("refunded", pa.float64()), ("currency", pa.string()),
]


def parse_dates(values, kind=pa.string()):
    n = len(values)
    table = pa.table({"c": pa.array(["1"] * n), "d": pa.array(values, kind), "a": pa.array([1.0] * n)})
    return to_canonical(table, {"customer": "c", "date": "d", "amount": "a"})


def parse_column(role: str, values, kind=pa.string()):
    n = len(values)
    table = pa.table({"c": pa.array(["1"] * n), "d": pa.array(["2010-12-01"] * n), "x": pa.array(values, kind)})
    roles = {"customer": "c", "date": "d", role: "x"}
    if role == "customer":
        roles = {"customer": "x", "date": "d"}
    return to_canonical(table, roles)


# ----------------------------------------------------------------------------- schema


def test_schema_is_exact_and_unmapped_roles_are_null_columns():
    parsed = parse_dates(["2010-12-01"])
    assert [(f.name, f.type) for f in parsed.table.schema] == EXPECTED_SCHEMA
    assert parsed.table.schema == CANONICAL_SCHEMA
    for name in ("invoice", "quantity", "price", "product", "description", "country", "email"):
        assert parsed.table.column(name).null_count == 1
    assert parsed.table.column("amount").to_pylist() == [1.0]


def test_mapped_column_that_does_not_exist_is_a_mapping_error():
    table = pa.table({"c": ["1"], "d": ["2010-12-01"]})
    with pytest.raises(MappingError, match="customer → 'nope'"):
        to_canonical(table, {"customer": "nope", "date": "d"})


def test_text_columns_are_trimmed_and_blank_is_null():
    table = pa.table({"c": ["1", "2"], "d": ["2010-12-01"] * 2, "country": [" United Kingdom ", "  "]})
    parsed = to_canonical(table, {"customer": "c", "date": "d", "country": "country"})
    assert parsed.table.column("country").to_pylist() == ["United Kingdom", None]


# ----------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        (["17850", "17850.0", " 17850 ", "17850.00"], pa.string(), ["17850"] * 4),
        (["", "   ", None], pa.string(), [None, None, None]),
        (["00123", "C536379", "85123A", "12.5"], pa.string(), ["00123", "C536379", "85123A", "12.5"]),
        ([17850.0, None, 12.5, math.nan], pa.float64(), ["17850", None, "12.5", None]),
        ([17850, None, 0], pa.int64(), ["17850", None, "0"]),
    ],
    ids=["float-looking-text", "blank", "codes-keep-zeros", "excel-floats", "integers"],
)
def test_customer_ids_are_normalised(values, kind, expected):
    parsed = parse_column("customer", values, kind)
    assert parsed.table.column("customer_id").to_pylist() == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=20))
def test_integer_ids_written_as_floats_read_back_as_the_integer(ids):
    texts = [f" {i}.0 " if k % 2 else f"{i}" for k, i in enumerate(ids)]
    parsed = parse_column("customer", texts)
    assert parsed.table.column("customer_id").to_pylist() == [str(i) for i in ids]


# ----------------------------------------------------------------------------- dates


D = datetime


@pytest.mark.parametrize(
    ("values", "expected", "fmt"),
    [
        (["12/1/2010 8:26", "12/13/2010 17:05"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5)],
         "month/day/year (US)"),
        (["01.12.2010 08:26", "13.12.2010 17:05:09"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5, 9)],
         "day.month.year"),
        (["01/12/2010 08:26", "13/12/2010 17:05"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5)],
         "day/month/year"),
        (["2010-12-01 08:26:00", "2010-12-13 17:05:00"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5)],
         "year-month-day (ISO)"),
        (["2010-12-01T08:26", "2010-12-13T17:05:30.25"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5, 30, 250000)],
         "year-month-day (ISO)"),
        (["2010-12-01", "2010-12-13 17:05"], [D(2010, 12, 1), D(2010, 12, 13, 17, 5)], "year-month-day (ISO)"),
        (["20101201", "20101213"], [D(2010, 12, 1), D(2010, 12, 13)], "YYYYMMDD"),
        (["12/1/2010 1:05 PM", "12/13/2010 12:10 AM"], [D(2010, 12, 1, 13, 5), D(2010, 12, 13, 0, 10)],
         "month/day/year (US)"),
        (["01-Dec-2010 08:26", "13-Dec-2010 17:05"], [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 17, 5)],
         "%d-%b-%Y %H:%M"),
        (["1.12.10", "13.12.10"], [D(2010, 12, 1), D(2010, 12, 13)], "day.month.year"),
    ],
    ids=["us", "european-dot", "european-slash", "iso", "iso-t-fraction", "iso-mixed-time", "yyyymmdd-text",
         "us-am-pm", "month-name", "two-digit-year"],
)
def test_date_styles(values, expected, fmt):
    parsed = parse_dates(values)
    assert parsed.table.column("invoice_date").to_pylist() == expected
    assert parsed.date_format == fmt


@pytest.mark.parametrize(
    ("values", "expected", "fmt"),
    [
        (["1/2/2010", "3/4/2010"], [D(2010, 1, 2), D(2010, 3, 4)], "month/day/year (US)"),
        (["01.02.2010", "03.04.2010"], [D(2010, 2, 1), D(2010, 4, 3)], "day.month.year"),
        (["01-02-2010", "03-04-2010"], [D(2010, 2, 1), D(2010, 4, 3)], "day-month-year"),
    ],
    ids=["slash-month-first", "dot-day-first", "dash-day-first"],
)
def test_ambiguous_dates_follow_the_separator_and_say_so(values, expected, fmt):
    parsed = parse_dates(values)
    assert parsed.table.column("invoice_date").to_pylist() == expected
    assert parsed.date_format == fmt
    assert any("could be day first or month first" in note for note in parsed.notes)


def test_one_format_for_the_whole_column_misfits_become_null():
    # 13/12 proves day first; then 12/13 cannot be a date, and 31.02 does not exist
    parsed = parse_dates(["13/12/2010", "01/12/2010", "12/13/2010", "31/02/2010", "not a date", None])
    assert parsed.table.column("invoice_date").to_pylist() == [
        D(2010, 12, 13), D(2010, 12, 1), None, None, None, None]
    assert parsed.date_format == "day/month/year"
    assert any("3 value(s) do not read as day/month/year" in note and "'12/13/2010'" in note
               for note in parsed.notes)


@pytest.mark.parametrize(
    ("values", "kind", "expected", "fmt"),
    [
        ([20101201, 20111209, None], pa.int64(), [D(2010, 12, 1), D(2011, 12, 9), None], "YYYYMMDD"),
        ([40513.35, 40514.0], pa.float64(), [D(2010, 12, 1, 8, 24), D(2010, 12, 2)], "Excel serial numbers"),
        ([D(2010, 12, 1, 8, 26)], pa.timestamp("ms"), [D(2010, 12, 1, 8, 26)], "Excel dates"),
        ([D(2010, 12, 1, 9, 26, tzinfo=timezone(timedelta(hours=1)))], pa.timestamp("ns", tz="Europe/Berlin"),
         [D(2010, 12, 1, 8, 26)], "timestamps (converted to UTC)"),
    ],
    ids=["yyyymmdd-int", "excel-serial", "timestamp-ms", "tz-aware"],
)
def test_typed_date_columns(values, kind, expected, fmt):
    parsed = parse_dates(values, kind)
    assert parsed.table.column("invoice_date").to_pylist() == expected
    assert parsed.date_format == fmt


def test_iso_with_offset_is_converted_to_utc():
    parsed = parse_dates(["2010-12-01T09:26:00+01:00", "2010-12-01T08:26:00Z"])
    assert parsed.table.column("invoice_date").to_pylist() == [D(2010, 12, 1, 8, 26)] * 2


def test_date_column_where_nothing_parses_is_a_mapping_error():
    message = r"Column 'd' .*none of its values reads as a date .*'Mug' and 'Cup'"
    with pytest.raises(MappingError, match=message) as info:
        parse_dates(["Mug", "Cup", "Mug"])
    assert "another column" in info.value.hint


def test_real_excel_dates_from_an_xlsx_written_with_openpyxl(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["CustomerID", "InvoiceDate", "Quantity", "UnitPrice"],
                [17850, D(2010, 12, 1, 8, 26), 6, 2.55], [13047.0, D(2011, 12, 9, 12, 50), 1, 3]):
        sheet.append(row)
    path = tmp_path / "sales.xlsx"
    book.save(path)
    loaded = read_file(path)
    parsed = to_canonical(loaded.table, resolve_roles(loaded.table))
    assert parsed.table.column("invoice_date").to_pylist() == [D(2010, 12, 1, 8, 26), D(2011, 12, 9, 12, 50)]
    assert parsed.table.column("customer_id").to_pylist() == ["17850", "13047"]
    assert parsed.date_format == "Excel dates"


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("values", "expected", "comma"),
    [
        (["1,25", "1.234,50", "€ 3,00", "1 234,50", "-2,5"], [1.25, 1234.5, 3.0, 1234.5, -2.5], True),
        (["1,234.50", "£1.25", "3", "-0.5", "1,000,000"], [1234.5, 1.25, 3.0, -0.5, 1e6], False),
        (["1.234.567", "2,5"], [1234567.0, 2.5], True),
        (["(12.50)", "12.50-", "+3", "USD 4.00", "1'234.50"], [-12.5, -12.5, 3.0, 4.0, 1234.5], False),
        (["abc", "", None, "1.5"], [None, None, None, 1.5], False),
    ],
    ids=["decimal-comma", "decimal-point-thousands", "dot-groups", "accounting-and-currency", "unparseable"],
)
def test_text_numbers(values, expected, comma):
    parsed = parse_column("price", values)
    assert parsed.table.column("price").to_pylist() == expected
    assert parsed.decimal_comma is comma
    assert any("decimal comma" in note for note in parsed.notes) is comma


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-10**9, max_value=10**9), min_size=1, max_size=20), st.booleans())
def test_cents_round_trip_in_either_decimal_style(cents, comma):
    def write(c: int) -> str:
        whole, frac = divmod(abs(c), 100)
        grouped = f"{whole:,}".replace(",", "." if comma else ",")
        return ("-" if c < 0 else "") + grouped + ("," if comma else ".") + f"{frac:02d}"

    parsed = parse_column("price", [write(c) for c in cents])
    assert parsed.table.column("price").to_pylist() == pytest.approx([c / 100 for c in cents])
    assert parsed.decimal_comma is comma


def test_numeric_columns_keep_inf_and_nan():
    parsed = parse_column("quantity", [1, math.inf, math.nan, None], pa.float64())
    got = parsed.table.column("quantity").to_pylist()
    assert got[0] == 1.0 and got[1] == math.inf and math.isnan(got[2]) and got[3] is None


def test_integer_and_decimal_columns_become_float64():
    import decimal

    parsed = parse_column("amount", [decimal.Decimal("12.50"), None], pa.decimal128(10, 2))
    assert parsed.table.column("amount").to_pylist() == [12.5, None]
    assert parse_column("quantity", [3, -1], pa.int32()).table.column("quantity").to_pylist() == [3.0, -1.0]


def test_amount_file_without_invoice():
    table = pa.table({"client": ["A1", "A2"], "date": ["2010-12-01", "2010-12-02"], "total": ["10,50", "3,00"]})
    parsed = to_canonical(table, resolve_roles(table))
    assert parsed.table.column("amount").to_pylist() == [10.5, 3.0]
    assert parsed.table.column("invoice").null_count == 2
    assert parsed.table.column("quantity").null_count == 2


def test_csv_end_to_end_semicolon_cp1252_decimal_comma():
    data = ("Kundennummer;Datum;Menge;Preis;Land\n"
            "17850;01.12.2010 08:26;6;2,55;Österreich\n"
            "13047;13.12.2010 09:00;1;1.234,50;Café-Land\n").encode("cp1252")
    loaded = read_file(data, filename="verkauf.csv")
    roles = resolve_roles(loaded.table)
    assert roles == {"customer": "Kundennummer", "date": "Datum", "quantity": "Menge", "price": "Preis",
                     "country": "Land"}
    parsed = to_canonical(loaded.table, roles)
    assert parsed.table.column("price").to_pylist() == [2.55, 1234.5]
    assert parsed.table.column("invoice_date").to_pylist() == [D(2010, 12, 1, 8, 26), D(2010, 12, 13, 9)]
    assert parsed.table.column("country").to_pylist() == ["Österreich", "Café-Land"]
    assert parsed.decimal_comma is True


# ----------------------------------------------------------------------------- real data

REAL_ROLES = {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
              "invoice": "InvoiceNo", "product": "StockCode", "description": "Description", "country": "Country"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["online_retail.csv.gz", "online_retail.xlsx"])
def test_real_online_retail(name):
    path = DATA / name
    if not path.exists():
        pytest.skip(f"real data file {path} is not there (see ../shared/data/README.md)")
    loaded = read_file(path)
    roles = resolve_roles(loaded.table)
    assert roles == REAL_ROLES
    parsed = to_canonical(loaded.table, roles)
    table = parsed.table
    assert table.num_rows == 541_909
    customers = table.column("customer_id")
    assert customers.null_count == 135_080
    assert pc.count_distinct(customers).as_py() == 4_372
    assert pc.any(pc.equal(customers, "17850")).as_py()
    assert not pc.any(pc.ends_with(customers, ".0")).as_py()
    assert table.column("invoice_date").null_count == 0
    assert pc.min(table.column("invoice_date")).as_py() == D(2010, 12, 1, 8, 26)
    assert pc.max(table.column("invoice_date")).as_py() == D(2011, 12, 9, 12, 50)
    assert pc.count_distinct(table.column("invoice")).as_py() == 25_900
    assert pc.count_distinct(table.column("country")).as_py() == 38
    assert table.column("description").null_count == 1_454
    assert pc.sum(pc.less(table.column("quantity"), 0)).as_py() == 10_624
    assert pc.sum(pc.less_equal(table.column("price"), 0)).as_py() == 2_517

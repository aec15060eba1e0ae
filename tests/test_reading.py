"""reading.read_file: every format, encoding, delimiter and broken-file case, on files built in the test."""
from __future__ import annotations

import gzip
import io
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from segmentation.errors import InputFileError
from segmentation.reading import LoadedFile, read_file, unique_headers

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

ROWS = [
    ["Customer ID", "InvoiceDate", "Description", "Price"],
    ["17850", "2010-12-01 08:26", "Café crème", "£1,25"],
    ["13047", "2010-12-02 09:00", "Mug; blue", "2"],
]


def csv_bytes(rows, delimiter=",", encoding="utf-8", newline="\n") -> bytes:
    def cell(value):
        text = str(value)
        if delimiter in text or '"' in text or "\n" in text:
            text = '"' + text.replace('"', '""') + '"'
        return text

    return newline.join(delimiter.join(cell(v) for v in row) for row in rows).encode(encoding) + newline.encode()


def workbook_bytes(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def column(loaded: LoadedFile, name: str) -> list:
    return loaded.table.column(name).to_pylist()


# ----------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")],
                         ids=["comma", "semicolon", "tab", "pipe"])
def test_csv_delimiters_are_detected_and_quoted_fields_kept(delimiter, name):
    loaded = read_file(csv_bytes(ROWS, delimiter), filename="sales.csv")
    assert loaded.file_format == "csv"
    assert loaded.delimiter == delimiter
    assert loaded.delimiter_name == name  # the Data page's caption and the reading note use this name
    assert f"separated by {name}s" in " ".join(loaded.notes)
    assert loaded.table.column_names == ROWS[0]
    assert column(loaded, "Description") == ["Café crème", "Mug; blue"]
    assert all(pa.types.is_string(f.type) for f in loaded.table.schema)


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("cp1252", b"", "cp1252")],
    ids=["utf8", "utf8-bom", "cp1252"],
)
def test_csv_encodings(encoding, prefix, expected):
    loaded = read_file(prefix + csv_bytes(ROWS, ",", encoding), filename="sales.csv")
    assert loaded.encoding == expected
    assert loaded.table.column_names[0] == "Customer ID"  # no BOM glued to the first header
    assert column(loaded, "Description")[0] == "Café crème"
    assert column(loaded, "Price")[0] == "£1,25"


def test_utf16_excel_unicode_text_is_converted():
    data = "\ufeff".encode("utf-16-le") + csv_bytes(ROWS, "\t").decode().encode("utf-16-le")
    loaded = read_file(data, filename="export.txt")
    assert loaded.encoding == "utf-16"
    assert loaded.delimiter == "\t"
    assert column(loaded, "Description") == ["Café crème", "Mug; blue"]


def test_csv_everything_stays_text_and_blank_is_null():
    data = b"customer,date,qty,country\n00123,2010-12-01,3,NA\n,2010-12-02,,Namibia\n"
    loaded = read_file(data, filename="x.csv")
    assert column(loaded, "customer") == ["00123", None]  # leading zeros kept, blank → null
    assert column(loaded, "qty") == ["3", None]
    assert column(loaded, "country") == ["NA", "Namibia"]  # "NA" is a country code, not a null marker


def test_csv_mixed_line_endings_and_quoted_newlines():
    data = b'customer,description,date\r\n1,"two\nlines",2010-12-01\n2,plain,2010-12-02\r3,x,2010-12-03\r\n'
    loaded = read_file(data, filename="x.csv")
    assert column(loaded, "customer") == ["1", "2", "3"]
    assert column(loaded, "description")[0] == "two\nlines"


def test_csv_header_names_are_stripped_unique_and_never_blank():
    data = b" Customer ID ,price,,price\n1,2,3,4\n"
    loaded = read_file(data, filename="x.csv")
    assert loaded.table.column_names == ["Customer ID", "price", "column_3", "price_2"]


def test_unique_headers_helper():
    assert unique_headers(["a", "a", None, " ", "a_2"]) == ["a", "a_2", "column_3", "column_4", "a_2_2"]


def test_csv_title_line_above_the_header_is_skipped():
    data = b"Sales export 2024\n\ncustomer;date;amount\n1;01.12.2010;3,50\n2;02.12.2010;4,00\n"
    loaded = read_file(data, filename="x.csv")
    assert loaded.table.column_names == ["customer", "date", "amount"]
    assert column(loaded, "amount") == ["3,50", "4,00"]
    assert any("title line" in note for note in loaded.notes)


def test_single_column_file_reads_as_one_column():
    loaded = read_file(b"customer\n1\n2\n3\n", filename="ids.txt")
    assert loaded.delimiter is None
    assert loaded.table.column_names == ["customer"]
    assert loaded.table.num_rows == 3


def test_gzip_csv_is_decompressed(tmp_path):
    path = tmp_path / "sales.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes(ROWS, ";")))
    loaded = read_file(path)
    assert loaded.source_name == "sales.csv.gz"
    assert loaded.file_format == "csv"
    assert loaded.delimiter == ";"
    assert loaded.table.num_rows == 2


def test_zip_holding_one_csv_is_read():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sales.csv", csv_bytes(ROWS))
    loaded = read_file(buffer.getvalue(), filename="sales.zip")
    assert loaded.table.num_rows == 2
    assert any("zip" in note for note in loaded.notes)


def test_rows_with_too_many_fields_are_skipped_with_a_note():
    data = b"customer,date,amount\n1,2010-12-01,3\n2,2010-12-02,4,oops\n3,2010-12-03,5\n"
    loaded = read_file(data, filename="x.csv")
    assert column(loaded, "customer") == ["1", "3"]
    assert any("Skipped 1 line" in note for note in loaded.notes)


# ----------------------------------------------------------------------------- format sniffing


def test_xlsx_named_csv_is_read_as_workbook():
    data = workbook_bytes({"Data": [["customer", "date"], [1, datetime(2010, 12, 1)]]})
    loaded = read_file(data, filename="export.csv")
    assert loaded.file_format == "xlsx"
    assert any("Excel workbook despite" in note for note in loaded.notes)


def test_text_named_xlsx_is_read_as_csv_with_a_note():
    loaded = read_file(csv_bytes(ROWS), filename="x.xlsx")
    assert loaded.file_format == "csv"
    assert any("'x.xlsx' is not an Excel workbook" in note for note in loaded.notes)


def test_parquet_keeps_types_and_cleans_header_names(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({" customer ": [1, 2], "when": pa.array([datetime(2010, 12, 1)] * 2)}), path)
    loaded = read_file(path)
    assert loaded.file_format == "parquet"
    assert loaded.table.column_names == ["customer", "when"]
    assert pa.types.is_integer(loaded.table.schema.field("customer").type)


def test_parquet_named_csv_is_sniffed():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"customer": ["a"], "date": ["2010-12-01"]}), buffer)
    loaded = read_file(buffer.getvalue(), filename="wrong.csv")
    assert loaded.file_format == "parquet"


# ----------------------------------------------------------------------------- Excel


def test_xlsx_real_dates_and_float_ids(tmp_path):
    path = tmp_path / "sales.xlsx"
    path.write_bytes(workbook_bytes({"Sheet1": [
        ["CustomerID", "InvoiceDate", "Quantity"],
        [17850, datetime(2010, 12, 1, 8, 26), 6],
        [None, datetime(2010, 12, 2, 9, 0), 2.5],
    ]}))
    loaded = read_file(path)
    assert loaded.file_format == "xlsx"
    assert loaded.sheet == "Sheet1" and loaded.sheets == ("Sheet1",)
    assert pa.types.is_timestamp(loaded.table.schema.field("InvoiceDate").type)
    assert column(loaded, "InvoiceDate")[0] == datetime(2010, 12, 1, 8, 26)
    assert column(loaded, "CustomerID") == [17850, None]


def test_xlsx_mixed_type_column_becomes_text():
    data = workbook_bytes({"S": [["invoice", "customer"], [536365, 1], ["C536379", 2], [536366, 3]]})
    loaded = read_file(data, filename="x.xlsx")
    assert column(loaded, "invoice") == ["536365", "C536379", "536366"]


NOTES_FIRST = {
    "About": [["This workbook holds our sales."], ["Exported 2024-01-05"]],
    "Online Retail": [["CustomerID", "InvoiceDate", "Quantity", "UnitPrice"],
                      [17850, datetime(2010, 12, 1), 6, 2.55], [13047, datetime(2010, 12, 2), 1, 3.0]],
    "Lookup": [[f"code{i}", f"name{i}", i, i] for i in range(20)],
}


def test_transactions_sheet_is_chosen_over_notes_and_bigger_lookup():
    loaded = read_file(workbook_bytes(NOTES_FIRST), filename="book.xlsx")
    assert loaded.sheet == "Online Retail"
    assert loaded.sheets == ("About", "Online Retail", "Lookup")
    assert any("Read sheet 'Online Retail'" in note and "'About'" in note for note in loaded.notes)


def test_sheet_override():
    loaded = read_file(workbook_bytes(NOTES_FIRST), filename="book.xlsx", sheet="Lookup")
    assert loaded.sheet == "Lookup"
    assert loaded.table.num_rows == 19


def test_unknown_sheet_lists_available_sheets():
    with pytest.raises(InputFileError, match=r"no sheet 'Sales'.*'About', 'Online Retail', 'Lookup'") as info:
        read_file(workbook_bytes(NOTES_FIRST), filename="book.xlsx", sheet="Sales")
    assert info.value.hint


def test_xlsx_header_below_a_title_line():
    data = workbook_bytes({"Data": [["Sales report"], ["customer", "date", "amount"],
                                    [1, datetime(2010, 12, 1), 3.5], [2, datetime(2010, 12, 2), 4.0]]})
    loaded = read_file(data, filename="x.xlsx")
    assert loaded.table.column_names == ["customer", "date", "amount"]
    assert loaded.table.num_rows == 2
    assert any("header is on row 2" in note for note in loaded.notes)


# ----------------------------------------------------------------------------- errors

def _truncated_xlsx() -> bytes:
    data = workbook_bytes({"S": [["a", "b"], [1, 2]]})
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", r"'empty.csv' is empty \(0 bytes\)"),
        (b"\n\n  \n", "blank.csv", r"is empty \(only blank lines\)"),
        (b"customer,date,amount\n", "header.csv",
         r"has a header row \('customer', 'date', 'amount'\) but no data rows"),
        (bytes(range(256)) * 40, "garbage.csv", r"binary data"),
        (b"\x89PNG\r\n\x1a\n" + bytes(1000), "photo.csv", r"binary data"),
        (_truncated_xlsx(), "broken.xlsx", r"damaged or truncated"),
        (b"PAR1" + bytes(100), "broken.parquet", r"damaged Parquet file"),
        (gzip.compress(b"")[:10], "broken.csv.gz", r"damaged gzip file|empty once decompressed"),
    ],
    ids=["empty", "blank-lines", "header-only", "garbage", "png", "truncated-xlsx", "broken-parquet", "broken-gzip"],
)
def test_unreadable_files_raise_input_file_error(data, filename, message):
    with pytest.raises(InputFileError, match=message) as info:
        read_file(data, filename=filename)
    assert info.value.hint


def test_header_only_sheet_is_an_error():
    with pytest.raises(InputFileError, match="no data rows"):
        read_file(workbook_bytes({"S": [["customer", "date"]]}), filename="x.xlsx")


def test_missing_path_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="File not found"):
        read_file(tmp_path / "nope.csv")


def test_sheet_for_a_csv_is_an_error():
    with pytest.raises(InputFileError, match="not an Excel workbook"):
        read_file(csv_bytes(ROWS), filename="x.csv", sheet="Sheet1")


# ----------------------------------------------------------------------------- real data


def _real(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"real data file {path} is not there (see ../shared/data/README.md)")
    return path


@pytest.mark.slow
def test_real_csv_reads_complete():
    path = _real("online_retail.csv.gz")
    loaded = read_file(path)
    assert loaded.table.num_rows == 541_909
    assert loaded.table.column_names == ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                         "UnitPrice", "CustomerID", "Country"]
    assert loaded.table.column("CustomerID").null_count == 135_080
    assert pc.sum(pc.starts_with(loaded.table.column("InvoiceNo"), "C")).as_py() == 9_288


def test_reading_leaves_the_csv_module_s_field_limit_as_it_was(tmp_path):
    """A description of 200,000 characters is read, and the process's csv setting is not changed for good."""
    import csv

    before = csv.field_size_limit()
    path = tmp_path / "long.csv"
    path.write_text("CustomerID,InvoiceDate,Amount,Description\n"
                    f'12346,2011-01-18,10.5,"{"x" * 200_000}"\n12347,2011-01-19,3.0,Mug\n')
    loaded = read_file(path)
    assert loaded.table.num_rows == 2 and len(loaded.table.column("Description")[0].as_py()) == 200_000
    assert csv.field_size_limit() == before
    # nor by importing the package (a fresh interpreter: csv's own default, 128 KiB)
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import csv, segmentation.reading; print(csv.field_size_limit())"],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert done.stdout.strip() == "131072"

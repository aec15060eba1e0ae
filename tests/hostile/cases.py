"""Hostile and messy input files, built in memory, with what the user must see for each.

One table (``ERROR_CASES``) of files that must be refused with a typed error and a specific
message, and one (``ACCEPTED_CASES``) of messy files that must read, with the note or warning
the user sees and the row accounting. The core, CLI and app tests all run over these tables,
and docs/input-cases.md lists the same cases.
"""
from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def line(i: int, *, customer=None, date=None, quantity=None, price=None, description="WHITE MUG",
         country="United Kingdom", invoice=None, product=None) -> list:
    """One Online-Retail-style line; 7 customers, dates over a year, distinct R/F/M."""
    return [
        invoice if invoice is not None else f"{536000 + i}",
        product if product is not None else f"2{i % 4}A",
        description,
        quantity if quantity is not None else f"{1 + i % 5}",
        date if date is not None else f"2011-{1 + i % 12:02d}-{1 + i % 28:02d} 10:{i % 60:02d}",
        price if price is not None else f"{1 + i % 9}.{i % 10}5",
        customer if customer is not None else f"{17000 + i % 7}",
        country,
    ]


def csv_text(rows: list[list], header: list[str] = HEADER, delimiter: str = ",", newline: str = "\n") -> str:
    def cell(value) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
            text = '"' + text.replace('"', '""') + '"'
        return text

    return "".join(delimiter.join(cell(v) for v in row) + newline for row in [header, *rows])


def good_rows(n: int = 28, **overrides: Callable[[int], object]) -> list[list]:
    """n lines; each override is a function of the line number giving that field."""
    return [line(i, **{key: fn(i) for key, fn in overrides.items()}) for i in range(n)]


def good_csv(n: int = 28, **overrides) -> bytes:
    return csv_text(good_rows(n, **overrides)).encode()


def xlsx_bytes(rows: list[list], header: list[str] = HEADER) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=header).to_excel(buffer, index=False)
    return buffer.getvalue()


def xlsx_with_member(name: str, payload_size: int, *, fill: bytes = b"<row/>") -> bytes:
    """A real workbook plus one extra member of ``payload_size`` repetitive bytes (a bomb)."""
    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes(good_rows())))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for member in good.infolist():
            out.writestr(member, good.read(member))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=True) as stream:
            chunk = fill * ((1 << 20) // len(fill))
            written = 0
            while written < payload_size:
                piece = chunk[: payload_size - written]
                stream.write(piece)
                written += len(piece)
    return buffer.getvalue()


def lying_zip_header(data: bytes, member: str, claimed_size: int) -> bytes:
    """Rewrite the uncompressed size the zip claims for ``member`` (local and central headers)."""
    raw = bytearray(data)
    encoded = member.encode()
    # local file header: signature PK\x03\x04, uncompressed size at offset 22, name at 30
    at = raw.find(b"PK\x03\x04" + b"" , 0)
    while at != -1:
        name_length = struct.unpack_from("<H", raw, at + 26)[0]
        if bytes(raw[at + 30: at + 30 + name_length]) == encoded:
            struct.pack_into("<I", raw, at + 22, claimed_size)
        at = raw.find(b"PK\x03\x04", at + 4)
    # central directory header: signature PK\x01\x02, uncompressed size at 24, name at 46
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", raw, at + 28)[0]
        if bytes(raw[at + 46: at + 46 + name_length]) == encoded:
            struct.pack_into("<I", raw, at + 24, claimed_size)
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files.items():
            out.writestr(name, data)
    return buffer.getvalue()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def garbage(n: int = 20_000, seed: int = 7) -> bytes:
    """Deterministic pseudo-random bytes (a photo, an executable...)."""
    state, out = seed, bytearray()
    for _ in range(n):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        out.append(state >> 16 & 0xFF)
    return bytes(out)


@dataclass(frozen=True)
class Case:
    id: str
    filename: str
    build: Callable[[], bytes]
    message: str  # regular expression the error (or note/warning) must match
    error: str | None = None  # SegmenterError subclass name, None when the file is accepted
    args: tuple[str, ...] = ()  # extra CLI flags
    rows_in: int | None = None  # accepted cases: rows reaching cleaning (audit rows_in)
    dropped: dict[str, int] = field(default_factory=dict)  # accepted cases: rule → rows it must drop
    customers: int | None = None
    where: str = "notes"  # accepted cases: the message is in "notes" or "warnings"
    limits: dict[str, float] = field(default_factory=dict)  # reading.py limits lowered for the case
    what_user_sees: str = ""  # for docs/input-cases.md


def _bomb_gzip() -> bytes:
    return gzip.compress(csv_text(good_rows()).encode() + b"0" * 3_000_000)


ERROR_CASES: list[Case] = [
    Case("empty", "export.csv", lambda: b"", r"'export\.csv' is empty \(0 bytes\)", "InputFileError"),
    Case("blank-lines-only", "export.csv", lambda: b"\r\n\n   \n\t\n", r"is empty \(only blank lines\)",
         "InputFileError"),
    Case("header-only", "export.csv", lambda: csv_text([]).encode(),
         r"has a header row \('InvoiceNo', 'StockCode'.*\) but no data rows", "InputFileError"),
    Case("header-only-xlsx", "export.xlsx", lambda: xlsx_bytes([]),
         r"Sheet 'Sheet1' of 'export\.xlsx' has a header row .* but no data rows", "InputFileError"),
    Case("binary-garbage", "export.csv", garbage, r"is not a table file: it (contains|looks like) binary data",
         "InputFileError"),
    Case("binary-control-bytes", "export.csv", lambda: bytes(range(1, 32)) * 500,
         r"is not a table file: it looks like binary data", "InputFileError"),
    Case("png-named-csv", "export.csv", lambda: b"\x89PNG\r\n\x1a\n" + garbage(5000),
         r"is not a table file", "InputFileError"),
    Case("text-named-xlsx", "export.xlsx", lambda: b"just some notes\nnothing tabular here\n",
         r"'export\.xlsx' is not an Excel workbook: it is plain text without columns \(it begins 'just some notes'\)",
         "InputFileError"),
    Case("truncated-xlsx", "export.xlsx", lambda: xlsx_bytes(good_rows())[:3000],
         r"damaged or truncated", "InputFileError"),
    Case("xlsx-bomb-ratio", "export.xlsx", lambda: xlsx_with_member("xl/media/bomb.xml", 60_000_000),
         r"holds 'xl/media/bomb\.xml', which expands to 60 MB: [\d,]+ times its packed size, more than the 200 "
         r"times Segmenter accepts; it is refused as a possible decompression bomb", "InputFileError"),
    Case("xlsx-bomb-total", "export.xlsx", lambda: xlsx_with_member("xl/worksheets/sheet2.xml", 3_000_000),
         r"expands to \d+ MB when decompressed, more than the 2 MB", "InputFileError",
         limits={"MAX_DECOMPRESSED_MB": 2}),
    Case("xlsx-lying-zip-sizes", "export.xlsx",
         lambda: lying_zip_header(xlsx_with_member("xl/worksheets/sheet2.xml", 3_000_000),
                                  "xl/worksheets/sheet2.xml", 1000),
         r"damaged or truncated zip/Excel file: 'xl/worksheets/sheet2\.xml' cannot be unpacked",
         "InputFileError"),
    Case("gzip-bomb", "export.csv.gz", _bomb_gzip, r"more than the 2 MB .* decompression bomb",
         "InputFileError", limits={"MAX_DECOMPRESSED_MB": 2}),
    Case("zip-bomb-csv", "export.zip", lambda: zip_of({"export.csv": csv_text(good_rows()).encode()
                                                       + b"0" * 3_000_000}),
         r"decompression bomb", "InputFileError", limits={"MAX_DECOMPRESSED_MB": 2}),
    Case("truncated-gzip", "export.csv.gz", lambda: gzip.compress(good_csv())[:-40], r"damaged gzip file",
         "InputFileError"),
    Case("zip-in-zip-in-zip", "export.zip",
         lambda: zip_of({"a.zip": zip_of({"b.zip": zip_of({"export.csv": good_csv()})})}),
         r"zip archive inside a zip archive", "InputFileError"),
    Case("zip-of-several-files", "export.zip", lambda: zip_of({"a.csv": good_csv(), "b.csv": good_csv()}),
         r"is a zip archive that is not an Excel workbook; it holds 'a\.csv', 'b\.csv'", "InputFileError"),
    Case("damaged-parquet", "export.parquet", lambda: b"PAR1" + garbage(3000) + b"PAR1",
         r"is a damaged Parquet file", "InputFileError"),
    Case("damaged-legacy-xls", "export.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + garbage(3000),
         r"is not a readable Excel workbook", "InputFileError"),
    Case("no-customer-column", "export.csv",
         lambda: csv_text([r[3:6] for r in good_rows()], header=HEADER[3:6]).encode(),
         r"No customer column found among: 'Quantity', 'InvoiceDate', 'UnitPrice'", "MappingError"),
    Case("no-money-columns", "export.csv",
         lambda: csv_text([[r[6], r[4]] for r in good_rows()], header=["CustomerID", "InvoiceDate"]).encode(),
         r"No money columns found: need quantity and unit price, or a line amount", "MappingError"),
    Case("all-dates-unreadable", "export.csv", lambda: good_csv(date=lambda i: ["soon", "n/a", "later"][i % 3]),
         r"Column 'InvoiceDate' is mapped as the purchase date, but none of its values reads as a date "
         r"\(e\.g\. 'soon' and 'n/a'\)", "MappingError"),
    Case("all-dates-out-of-range", "export.csv",
         lambda: good_csv(date=lambda i: ["9999-12-31", "1000-01-01"][i % 2]),
         r"Every one of the 28 rows was removed by cleaning: invalid_date \(28 rows\)", "NoDataLeftError"),
    Case("all-numbers-unreadable", "export.csv", lambda: good_csv(price=lambda i: ["abc", "inf", "NaN"][i % 3]),
         r"Every one of the 28 rows was removed by cleaning: invalid_number \(28 rows\)", "NoDataLeftError"),
    Case("every-row-removed", "export.csv",
         lambda: good_csv(n=6, invoice=lambda i: f"C{536000 + i}" if i < 3 else f"{536000 + i}",
                          quantity=lambda i: "-1" if i < 3 else "2", price=lambda i: "0" if i >= 3 else "1.5"),
         r"Every one of the 6 rows was removed by cleaning: cancelled \(3 rows\), non_positive_price \(3 rows\)",
         "NoDataLeftError"),
    Case("no-customer-ids", "export.csv", lambda: good_csv(customer=lambda i: ["", "  "][i % 2]),
         r"Every one of the 28 rows was removed by cleaning: missing_customer \(28 rows\)", "NoDataLeftError"),
    Case("filters-remove-everything", "export.csv", good_csv,
         r"Every one of the 28 rows was removed by cleaning: country_filtered \(28 rows\)", "NoDataLeftError",
         args=("--country", "Narnia")),
    Case("snapshot-before-data", "export.csv", good_csv,
         r"Snapshot date 2010-01-01 is not after the last purchase in the data \(2011-12-\d\d\)", "ParameterError",
         args=("--snapshot", "2010-01-01")),
    Case("too-many-columns", "export.csv",
         lambda: csv_text([r + ["1"] * 17_000 for r in good_rows(3)], header=HEADER + ["x"] * 17_000).encode(),
         r"'export\.csv' has 17,008 columns; Segmenter reads files of up to 16,384 columns", "InputFileError"),
    Case("over-upload-limit", "export.csv", lambda: good_csv() + b"x" * 201_000_000,
         r"'export\.csv' is 201\.0 MB; the upload limit is 200 MB", "InputFileError"),
]

ACCEPTED_CASES: list[Case] = [
    Case("xlsx-named-csv", "export.csv", lambda: xlsx_bytes(good_rows()),
         r"'export\.csv' is an Excel workbook despite its \.csv name", rows_in=28, customers=7),
    Case("csv-named-xlsx", "export.xlsx", good_csv,
         r"'export\.xlsx' is not an Excel workbook: it is text, so it was read as CSV", rows_in=28, customers=7),
    Case("parquet-named-csv", "export.csv",
         lambda: parquet_bytes(pd.DataFrame(good_rows(), columns=HEADER)),
         r"is a Parquet file despite its \.csv name", rows_in=28, customers=7),
    Case("truncated-csv", "export.csv", lambda: good_csv()[:-20],
         r"Skipped 1 line\(s\) whose number of fields differs from the header's 8", rows_in=27),
    Case("very-wide", "export.csv",
         lambda: csv_text([r + [str(j) for j in range(600)] for r in good_rows()],
                          header=HEADER + [f"extra_{j}" for j in range(600)]).encode(),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("thousands-of-duplicate-headers", "export.csv",
         lambda: csv_text([r + ["1"] * 3000 for r in good_rows()], header=HEADER + ["Notes"] * 3000).encode(),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("very-long-cells", "export.csv",
         lambda: good_csv(description=lambda i: ("long " * 400_000) if i == 3 else "MUG"),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("very-long-header", "export.csv",
         lambda: csv_text([r + ["x"] for r in good_rows()], header=HEADER + ["note " * 60_000]).encode(),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("mixed-line-endings", "export.csv",
         lambda: "".join(row + ["\r\n", "\n", "\r"][i % 3] for i, row in
                         enumerate(csv_text(good_rows()).splitlines())).encode(),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("nul-bytes", "export.csv", lambda: good_csv().replace(b"WHITE MUG", b"WHITE\x00 MUG", 3),
         r"Removed 3 NUL byte\(s\)", rows_in=28, customers=7),
    Case("utf16-without-bom", "export.csv", lambda: csv_text(good_rows()).encode("utf-16-le"),
         r"UTF-16 text without a byte-order mark", rows_in=28, customers=7),
    Case("some-dates-unreadable", "export.csv",
         lambda: good_csv(date=lambda i: "31/02/2011" if i in (2, 9) else ("tomorrow" if i == 5 else None)),
         r"Column 'InvoiceDate': 3 value\(s\) do not read as year-month-day \(ISO\)", rows_in=28,
         dropped={"invalid_date": 3}),
    Case("dates-far-past-and-future", "export.csv",
         lambda: good_csv(date=lambda i: {0: "9999-12-31", 1: "1000-01-01", 2: "2200-06-01"}.get(i)),
         r"Column 'InvoiceDate': 3 date\(s\) outside 1900–2100 \(e\.g\. '9999-12-31' and '1000-01-01'\)",
         rows_in=28, dropped={"invalid_date": 3}),
    Case("inf-nan-huge-negative-zero", "export.csv",
         lambda: good_csv(price=lambda i: ["inf", "NaN", "1e308", "-0", "-inf", "1e400", "x"][i] if i < 7 else None),
         r"Columns are separated by commas", rows_in=28, dropped={"invalid_number": 6, "non_positive_price": 1}),
    Case("mixed-quantities", "export.csv",
         lambda: good_csv(quantity=lambda i: ["2", "two", "", "3.0", "1,000", "-0", "+4"][i % 7]),
         r"Columns are separated by commas", rows_in=28,
         dropped={"invalid_number": 8, "non_positive_quantity": 4}),
    Case("thousands-separators", "export.csv",
         lambda: good_csv(price=lambda i: ['"1,234.50"', "1 234.50", "1'234.50", "£1,234.50"][i % 4].strip('"')),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("decimal-comma-and-dot-groups", "export.csv",
         lambda: csv_text(good_rows(price=lambda i: ["1.234,50", "2,5", "1.000.000,00", "0,99"][i % 4]),
                          delimiter=";").encode(),
         r"numbers read with a decimal comma", rows_in=28, customers=7),
    Case("ids-spaces-zeros-floats", "export.csv",
         lambda: good_csv(customer=lambda i: [" 17850 ", "17850.0", "17850", "017850", "\t17851\t", "17851.00"][i % 6]),
         r"Columns are separated by commas", rows_in=28, customers=3),
    Case("unicode-emoji-rtl", "export.csv",
         lambda: good_csv(customer=lambda i: ["😀-1", "مرحبا", "Ünïcødé", "客户", "\u202egnp.exe"][i % 5],
                          country=lambda i: ["עברית", "Österreich", "🇫🇷 France", "日本"][i % 4],
                          description=lambda i: "Tasse à café ☕ \u200f"),
         r"Columns are separated by commas", rows_in=28, customers=5),
    Case("blank-invoice-numbers", "export.csv", lambda: good_csv(invoice=lambda i: "" if i % 7 == 3 else None),
         r"Columns are separated by commas", rows_in=28, customers=7),
    Case("single-customer", "export.csv", lambda: good_csv(customer=lambda i: "17850"),
         r"Only one customer is left after cleaning", rows_in=28, customers=1, where="warnings"),
    Case("all-customers-identical", "export.csv",
         lambda: good_csv(customer=lambda i: f"C{i}", date=lambda i: "2011-05-05 10:00", quantity=lambda i: "1",
                          price=lambda i: "2.50"),
         r"All 28 customers have the same recency, frequency and monetary value, so they form a single segment",
         rows_in=28, customers=28, where="warnings"),
    Case("fewer-customers-than-k", "export.csv", good_csv,
         r"k=9 is more than the 7 distinct customer profiles; some segments will be empty", rows_in=28,
         customers=7, where="warnings", args=("--k", "9")),
]


def all_cases() -> list[Case]:
    return ERROR_CASES + ACCEPTED_CASES


def by_id(case_id: str) -> Case:
    return next(c for c in all_cases() if c.id == case_id)


def deflate_ratio(data: bytes) -> float:  # pragma: no cover - handy when adding bomb cases
    return len(data) / len(zlib.compress(data))

"""Parquet (and workbook) columns of every Arrow type a hostile or odd export can hold.

CSV columns are text; Parquet keeps its types, so a customer column can be a list, a struct or raw
bytes, a quantity an unsigned 64-bit integer, a date a duration or a timestamp in year 33658.
Each must end in a table or a typed error, never an Arrow exception.
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation import pipeline, reading
from segmentation.errors import SegmenterError

N = 30
BASE = {
    "CustomerID": pa.array([f"{17000 + i % 7}" for i in range(N)]),
    "InvoiceDate": pa.array([dt.datetime(2011, 1 + i % 12, 1 + i % 28) for i in range(N)]),
    "Quantity": pa.array([1 + i % 5 for i in range(N)]),
    "UnitPrice": pa.array([1.5 + i % 3 for i in range(N)]),
}
OK, ERROR = "ok", "error"
VARIANTS = [
    ("list-customer", {"CustomerID": pa.array([[i] for i in range(N)])}, ERROR,
     r"Column 'CustomerID' \(mapped as customer\) holds nested values of type list<"),
    ("struct-customer", {"CustomerID": pa.array([{"a": i % 7} for i in range(N)])}, ERROR, r"holds nested values"),
    ("binary-customer-bad-utf8", {"CustomerID": pa.array([b"\xff\x00%d" % (i % 7) for i in range(N)])}, OK, None),
    ("decimal-price", {"UnitPrice": pa.array([decimal.Decimal("1.25") * (i % 3 + 1) for i in range(N)],
                                             pa.decimal128(10, 2))}, OK, None),
    ("decimal-huge-price", {"UnitPrice": pa.array([decimal.Decimal("1e30")] * N, pa.decimal128(38, 0))}, ERROR,
     r"invalid_number \(30 rows\)"),
    ("bool-quantity", {"Quantity": pa.array([True] * N)}, OK, None),
    ("uint64-quantity-2**63", {"Quantity": pa.array([2**63 + 5] * (N - 1) + [2], pa.uint64())}, OK, None),
    ("duration-as-date", {"InvoiceDate": pa.array([dt.timedelta(days=i) for i in range(N)])}, ERROR,
     r"none of its values reads as a date"),
    ("time-as-date", {"InvoiceDate": pa.array([dt.time(10, i % 60) for i in range(N)])}, ERROR,
     r"none of its values reads as a date"),
    ("date32", {"InvoiceDate": pa.array([dt.date(2011, 1 + i % 12, 1) for i in range(N)])}, OK, None),
    ("timestamp-utc", {"InvoiceDate": pa.array([dt.datetime(2011, 1 + i % 12, 1, tzinfo=dt.UTC)
                                                for i in range(N)])}, OK, None),
    ("yyyymmdd-integers", {"InvoiceDate": pa.array([20110101 + i % 28 for i in range(N)])}, OK, None),
    ("float-date-1e300", {"InvoiceDate": pa.array([1e300] * N)}, ERROR, r"none of its values reads as a date"),
    ("timestamp-year-33658", {"InvoiceDate": pa.array([10**12 * (i + 1) for i in range(N)], pa.timestamp("s"))},
     ERROR, r"invalid_date \(30 rows\)"),
    ("some-timestamps-far", {"InvoiceDate": pa.array([10**12 if i < 3 else 1_300_000_000 + i * 86400
                                                      for i in range(N)], pa.timestamp("s"))}, OK, None),
    ("date32-year-9999", {"InvoiceDate": pa.array([dt.date(9999, 12, 31) if i == 0 else dt.date(2011, 5, 1 + i % 28)
                                                  for i in range(N)])}, OK, None),
    ("dictionary-customer", {"CustomerID": pa.array([f"c{i % 7}" for i in range(N)]).dictionary_encode()}, OK, None),
    ("large-string-customer", {"CustomerID": pa.array([f"c{i % 7}" for i in range(N)], pa.large_string())}, OK,
     None),
    ("null-typed-quantity", {"Quantity": pa.nulls(N)}, ERROR, r"invalid_number \(30 rows\)"),
    ("int64-customer-2**62", {"CustomerID": pa.array([2**62 + i % 7 for i in range(N)])}, OK, None),
    ("float-customer-with-nan", {"CustomerID": pa.array([float("nan") if i % 2 else 1.0 * (i % 7)
                                                         for i in range(N)])}, OK, None),
]


def parquet(columns: dict) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({**BASE, **columns}), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name, columns, outcome, message", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_parquet_column_types(name, columns, outcome, message):
    loaded = reading.read_file(parquet(columns), filename="export.parquet")
    if outcome == ERROR:
        with pytest.raises(SegmenterError) as raised:
            pipeline.run(loaded, k=3)
        assert re.search(message, raised.value.message), raised.value.message
        assert raised.value.hint
        return
    result = pipeline.run(loaded, k=3)
    audit = result.prepared.audit
    assert audit.rows_in == N == audit.rows_kept + audit.rows_dropped
    assert (result.prepared.customers["recency"] >= 1).all()

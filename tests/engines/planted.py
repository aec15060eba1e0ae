"""The planted transactions of tests/test_migration.py as a raw file, and that file prepared on
each engine: what the engine-equality tests of migration and prediction compare, in one place."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from segmentation import parsing, pipeline, sources
from tests.test_migration import planted_transactions

ROLES = {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
         "invoice": "InvoiceNo"}
RAW_NAMES = {"customer_id": "CustomerID", "invoice": "InvoiceNo", "invoice_date": "InvoiceDate",
             "quantity": "Quantity", "price": "UnitPrice"}


def raw() -> pa.Table:
    """The planted transactions under the raw file's column names (ROLES maps them back)."""
    canonical = planted_transactions()
    return pa.table({raw_name: canonical[name] for name, raw_name in RAW_NAMES.items()})


def parquet(folder: Path) -> Path:
    path = folder / "planted.parquet"
    pq.write_table(raw(), path)
    return path


def csv(folder: Path) -> Path:
    path = folder / "planted.csv"
    raw().to_pandas().to_csv(path, index=False)
    return path


def on_duckdb() -> pipeline.Prepared:
    return pipeline.prepare_canonical(parsing.to_canonical(raw(), ROLES).table, ROLES, with_products=False)


@contextmanager
def on_postgres(pg_server, table: str) -> Iterator[pipeline.Prepared]:
    """Prepared from a PostgreSQL table ``table`` loaded with the planted rows; the connection stays
    open while the caller queries the purchases (they are an expression on it)."""
    pg_server.load_arrow(table, raw())
    con = sources.connect_postgres(pg_server.url())
    try:
        yield sources.prepare_table(sources.open_table(con, table), ROLES, with_products=False)
    finally:
        con.disconnect()


def on_spark(spark_con, folder: Path) -> pipeline.Prepared:
    return sources.prepare_table(sources.read_spark(spark_con, str(parquet(folder))), ROLES, with_products=False)

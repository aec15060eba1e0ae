"""Migration where the data lives: the as-of aggregates on PostgreSQL and Spark give the DuckDB results."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation import migration, parsing, pipeline, sources
from tests.engines import postgres as engine_postgres
from tests.engines import spark as engine_spark
from tests.test_migration import planted_transactions

pg_server = engine_postgres.pg_server
spark, spark_con = engine_spark.spark, engine_spark.spark_con
A = date(2011, 7, 1)
ROLES = {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
         "invoice": "InvoiceNo"}
RAW_NAMES = {"customer_id": "CustomerID", "invoice": "InvoiceNo", "invoice_date": "InvoiceDate",
             "quantity": "Quantity", "price": "UnitPrice"}


def _raw() -> pa.Table:
    canonical = planted_transactions()
    return pa.table({raw: canonical[name] for name, raw in RAW_NAMES.items()})


@pytest.fixture(scope="module")
def duckdb_reference():
    raw = _raw()
    prepared = pipeline.prepare_canonical(parsing.to_canonical(raw, ROLES).table, ROLES, with_products=False)
    moved = migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot, k=3)
    return prepared, moved


def _assert_same_migration(prepared: pipeline.Prepared, reference) -> None:
    want_prepared, want = reference
    got = migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot, segmentation=want.segmentation)
    pd.testing.assert_frame_equal(got.customers, want.customers, check_dtype=False)
    pd.testing.assert_frame_equal(got.matrix, want.matrix, check_dtype=False)
    at_a = migration.customers_as_of(prepared.purchases, A)
    pd.testing.assert_frame_equal(at_a, migration.customers_as_of(want_prepared.purchases, A), check_dtype=False)


@pytest.mark.xdist_group("postgres")
def test_postgres_gives_the_duckdb_migration(pg_server, duckdb_reference):
    pg_server.load_arrow("planted_migration", _raw())
    con = sources.connect_postgres(pg_server.url())
    try:
        prepared = sources.prepare_table(sources.open_table(con, "planted_migration"), ROLES, with_products=False)
        _assert_same_migration(prepared, duckdb_reference)
    finally:
        con.disconnect()


@pytest.mark.xdist_group("spark")
def test_spark_gives_the_duckdb_migration(spark_con, duckdb_reference, tmp_path):
    path = tmp_path / "planted.parquet"
    pq.write_table(_raw(), path)
    prepared = sources.prepare_table(sources.read_spark(spark_con, str(path)), ROLES, with_products=False)
    _assert_same_migration(prepared, duckdb_reference)

"""Migration where the data lives: the as-of aggregates on PostgreSQL and Spark give the DuckDB results."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from segmentation import migration, pipeline
from segmentation.cli import main
from tests.engines import planted

A = date(2011, 7, 1)


@pytest.fixture(scope="module")
def duckdb_reference():
    prepared = planted.on_duckdb()
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
    with planted.on_postgres(pg_server, "planted_migration") as prepared:
        _assert_same_migration(prepared, duckdb_reference)


@pytest.mark.xdist_group("spark")
def test_spark_gives_the_duckdb_migration(spark_con, duckdb_reference, tmp_path):
    _assert_same_migration(planted.on_spark(spark_con, tmp_path), duckdb_reference)


@pytest.mark.xdist_group("postgres")
def test_cli_apply_and_compare_on_postgres_equals_duckdb(pg_server, tmp_path):
    pg_server.load_arrow("planted_cli", planted.raw())
    csv = planted.csv(tmp_path)
    seg = tmp_path / "seg.json"
    assert main([str(csv), "--k", "3", "--to", "2011-06-30", "--save-segmentation", str(seg), "--quiet"]) == 0
    outputs = {}
    sources_ = {"duckdb": [str(csv)], "postgres": ["--source", pg_server.url(), "--table", "planted_cli"]}
    for name, where in sources_.items():
        out, moved = tmp_path / f"{name}.csv", tmp_path / f"{name}-migration.csv"
        assert main([*where, "--segmentation", str(seg), "--out", str(out), "--compare-to", "2011-07-01",
                     "--migration", str(moved), "--quiet"]) == 0
        outputs[name] = (pd.read_csv(out, dtype={"customer_id": str}), pd.read_csv(moved, dtype={"customer_id": str}))
    for got, want in zip(outputs["postgres"], outputs["duckdb"]):
        pd.testing.assert_frame_equal(got.drop(columns=["country"], errors="ignore"),
                                      want.drop(columns=["country"], errors="ignore"))
    assert len(outputs["postgres"][1]) == 180


@pytest.mark.xdist_group("spark")
def test_cli_apply_and_compare_on_spark_equals_duckdb(spark_con, tmp_path):
    parquet = planted.parquet(tmp_path)
    seg = tmp_path / "seg.json"
    assert main([str(parquet), "--k", "3", "--to", "2011-06-30", "--save-segmentation", str(seg), "--quiet"]) == 0
    outputs = {}
    for name, engine in {"duckdb": [], "spark": ["--engine", "spark"]}.items():
        out, moved = tmp_path / f"{name}.csv", tmp_path / f"{name}-migration.csv"
        assert main([str(parquet), *engine, "--segmentation", str(seg), "--out", str(out), "--compare-to",
                     "2011-07-01", "--migration", str(moved), "--quiet"]) == 0
        outputs[name] = (pd.read_csv(out, dtype={"customer_id": str}), pd.read_csv(moved, dtype={"customer_id": str}))
    for got, want in zip(outputs["spark"], outputs["duckdb"]):
        pd.testing.assert_frame_equal(got, want)
    assert len(outputs["spark"][1]) == 180

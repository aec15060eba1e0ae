"""The prediction summary where the data lives: PostgreSQL and Spark give the DuckDB summary,
backtest split and --predict columns (issue 24, engines)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from segmentation import pipeline, prediction
from segmentation.cli import main
from tests.engines import planted

CALIBRATION_END = date(2011, 7, 1)


def _frames(prepared: pipeline.Prepared) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = prediction.summary_expr(prepared.purchases, prepared.snapshot).execute()
    split = prediction.backtest_expr(prepared.purchases, CALIBRATION_END, prepared.snapshot).execute()
    return tuple(frame.assign(customer_id=frame["customer_id"].astype(str)).sort_values("customer_id")
                 .reset_index(drop=True) for frame in (summary, split))


@pytest.fixture(scope="module")
def duckdb_reference():
    summary, split = _frames(planted.on_duckdb())
    assert (summary["repeat_purchases"] > 0).sum() >= 10 and split["holdout_purchases"].sum() > 0
    return summary, split


def _assert_same(prepared: pipeline.Prepared, reference) -> None:
    for got, want in zip(_frames(prepared), reference):
        pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_duckdb_summary_agrees_with_the_customers(duckdb_reference):
    summary, split = duckdb_reference
    prepared = planted.on_duckdb()
    customers = prepared.customers.set_index("customer_id").loc[summary["customer_id"]]
    # T + 1 = days from the first purchase day to the snapshot = tenure; x < frequency (purchase days ≤ invoices)
    assert (summary["T"].to_numpy() + 1 == customers["tenure"].to_numpy()).all()
    assert (summary["repeat_purchases"].to_numpy() < customers["frequency"].to_numpy()).all()
    assert (split["T"] < summary.set_index("customer_id").loc[split["customer_id"], "T"].to_numpy()).all()


@pytest.mark.xdist_group("postgres")
def test_postgres_gives_the_duckdb_summary(pg_server, duckdb_reference):
    with planted.on_postgres(pg_server, "planted_prediction") as prepared:
        _assert_same(prepared, duckdb_reference)


@pytest.mark.xdist_group("spark")
def test_spark_gives_the_duckdb_summary(spark_con, duckdb_reference, tmp_path):
    _assert_same(planted.on_spark(spark_con, tmp_path), duckdb_reference)


def _cli_outputs(tmp_path, runs: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    outputs = {}
    for name, where in runs.items():
        out = tmp_path / f"{name}.csv"
        assert main([*where, "--k", "3", "--predict", "60", "--out", str(out), "--quiet"]) == 0
        outputs[name] = pd.read_csv(out, dtype={"customer_id": str})
    return outputs


@pytest.mark.xdist_group("postgres")
def test_cli_predict_on_postgres_equals_duckdb(pg_server, tmp_path):
    pg_server.load_arrow("planted_predict_cli", planted.raw())
    csv = planted.csv(tmp_path)
    got = _cli_outputs(tmp_path, {"duckdb": [str(csv)],
                                  "postgres": ["--source", pg_server.url(), "--table", "planted_predict_cli"]})
    columns = ["customer_id", *prediction.PREDICTION_COLUMNS]
    assert got["duckdb"]["p_alive"].notna().all()
    pd.testing.assert_frame_equal(got["postgres"][columns], got["duckdb"][columns])


@pytest.mark.xdist_group("spark")
def test_cli_predict_on_spark_equals_duckdb(spark_con, tmp_path):
    parquet = planted.parquet(tmp_path)
    got = _cli_outputs(tmp_path, {"duckdb": [str(parquet)], "spark": [str(parquet), "--engine", "spark"]})
    columns = ["customer_id", *prediction.PREDICTION_COLUMNS]
    assert got["duckdb"]["p_alive"].notna().all()
    pd.testing.assert_frame_equal(got["spark"][columns], got["duckdb"][columns])

"""The command line on data where it lives: --source (PostgreSQL) and --engine spark give the
same report as the file path on DuckDB, and errors never show the password."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from segmentation.cli import main
from segmentation.demo import demo_transactions
from tests.engines import postgres as engine_postgres
from tests.engines import spark as engine_spark

pg_server = engine_postgres.pg_server
spark = engine_spark.spark

COMPARED = ("rows_in", "rows_kept", "dropped", "customers", "snapshot", "k", "segments")


@pytest.fixture(scope="module")
def demo_file_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-engines")
    table = demo_transactions(3000, seed=7)
    pq.write_table(table, folder / "demo.parquet")
    assert main([str(folder / "demo.parquet"), "--k", "3", "--report", str(folder / "duckdb.json"), "--quiet"]) == 0
    return table, folder, json.loads((folder / "duckdb.json").read_text())


def same_results(report: dict, expected: dict) -> None:
    for key in COMPARED:
        assert report[key] == pytest.approx(expected[key]) if key == "segments" else report[key] == expected[key], key


def test_source_postgres_gives_the_file_results(pg_server, demo_file_report, tmp_path, capsys):
    table, _, expected = demo_file_report
    pg_server.load_arrow("demo_sales", table)
    report_path = tmp_path / "pg.json"
    assert main(["--source", pg_server.url(), "--table", "demo_sales", "--k", "3",
                 "--report", str(report_path), "--quiet"]) == 0
    report = json.loads(report_path.read_text())
    same_results(report, expected)
    assert engine_postgres.READER_PASSWORD not in report["source"] + capsys.readouterr().out


def test_source_postgres_wrong_password_is_one_line_without_it(pg_server, tmp_path, capsys):
    wrong = "Wr0ng-p4ss-phrase"
    assert main(["--source", pg_server.url(password=wrong), "--table", "demo_sales",
                 "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and wrong not in err
    assert not (tmp_path / "c.csv").exists()


def test_engine_spark_gives_the_file_results(spark, demo_file_report, tmp_path):
    _, folder, expected = demo_file_report
    report_path = tmp_path / "spark.json"
    assert main([str(folder / "demo.parquet"), "--engine", "spark", "--spark-master", "local[2]", "--k", "3",
                 "--report", str(report_path), "--quiet"]) == 0
    same_results(json.loads(report_path.read_text()), expected)


@pytest.mark.parametrize("args, message", [
    (["--source", "postgresql://u@127.0.0.1/db"], "--source needs --table NAME"),
    (["data.csv", "--source", "postgresql://u@127.0.0.1/db", "--table", "t"], "give no INPUT file"),
    (["--engine", "spark"], "--engine spark needs INPUT"),
    (["--engine", "flink"], "invalid choice: 'flink'"),
])
def test_engine_usage_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err

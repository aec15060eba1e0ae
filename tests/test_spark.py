"""The pipeline on Spark: same results as DuckDB on the edge cases and on 50,000 real rows, read
from Parquet and from CSV text, on local[2] (one JVM) and on local-cluster[2,1,1024] (executor
JVMs: rows serialised between processes, shuffles across them), also when an executor dies."""
from __future__ import annotations

import gzip
import ipaddress
import itertools
import os
import signal
import socket
import threading
import time
from datetime import UTC

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import segmentation
from segmentation import columns, parsing, pipeline, reading, sources, spark_runtime
from segmentation.demo import demo_transactions
from segmentation.errors import SourceError
from segmentation.settings import CleaningSettings
from tests.engines import edge_cases
from tests.engines import spark as engine_spark
from tests.engines.compare import assert_same_as_duckdb
from tests.shared_data import shared_file

ON_BOTH_MASTERS, ON_CLUSTER = engine_spark.ON_BOTH_MASTERS, engine_spark.ON_CLUSTER
# One server/JVM per worker is costly on 2 cores: with `pytest -n 2 --dist loadgroup` (.ci/run) all of
# this module runs on one worker; with other --dist modes the mark does nothing.
pytestmark = pytest.mark.xdist_group("spark")

REAL_ROWS = 50_000




def duckdb_reference(raw: pa.Table, roles, **kwargs) -> pipeline.Prepared:
    return pipeline.prepare_canonical(parsing.to_canonical(raw, roles).table, roles, with_products=False, **kwargs)


# local[2] only: on local-cluster the same edge-case rows go through the executors in
# test_edge_cases_with_filters_and_net_returns (the CI time of two more cluster runs, ~35 s, for nothing new).
@pytest.mark.parametrize("id_type", ["text", "float"])
def test_edge_cases_from_parquet_and_the_notebook_api_on_a_spark_ibis_table(spark_con, tmp_path, id_type):
    """The edge cases read from Parquet on Spark, through the notebook API on a plain Ibis table of
    the session (as a notebook has one): the same prepared customers and audit as DuckDB, and the
    same segments. (One Spark run for both: each took ~10 s of CI.)"""
    raw = edge_cases.raw_table(id_type)
    path = tmp_path / f"edge_{id_type}.parquet"
    pq.write_table(raw, path)
    table = sources.read_spark(spark_con, str(path)).table  # a plain Ibis table
    result = segmentation.segment(table, roles=edge_cases.ROLES, k=2)
    got = result.prepared
    assert_same_as_duckdb(got, duckdb_reference(raw, edge_cases.ROLES))
    customers = got.customers.set_index("customer_id")
    assert "12347" not in customers.index  # fully cancelled
    assert "12350" not in customers.index  # its price rounds to 0 money units
    assert customers.loc["12349", "monetary"] == 0.004
    # clock-change weekends: calendar days, whatever the hour
    assert customers.loc["12351", "recency"] == (pd.Timestamp("2011-12-10") - pd.Timestamp("2011-03-27")).days
    assert customers.loc["12352", "tenure"] == (pd.Timestamp("2011-12-10") - pd.Timestamp("2011-10-30")).days
    audit = got.audit.dropped
    assert (audit["duplicate"], audit["missing_customer"]) == (1, 3)
    want = segmentation.segment(raw, roles=edge_cases.ROLES, k=2)
    assert (result.k, result.suggestion) == (want.k, want.suggestion)
    pd.testing.assert_frame_equal(result.customers, want.customers)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_rows_differing_only_in_an_unmapped_column_are_kept(spark_con, tmp_path, file_format):
    """Whole-row duplicates on Spark: the unmapped columns are grouped on too (typed or as CSV text)."""
    import pyarrow.csv as pa_csv

    raw = edge_cases.unmapped_rows_table()
    path = tmp_path / f"lines.{file_format}"
    (pq.write_table if file_format == "parquet" else pa_csv.write_csv)(raw, path)
    got = sources.prepare_table(sources.read_spark(spark_con, str(path)), edge_cases.ROLES)
    edge_cases.assert_no_line_dropped(got)
    assert_same_as_duckdb(got, duckdb_reference(raw, edge_cases.ROLES))


def test_a_shop_export_gives_the_duckdb_results(spark_con, tmp_path):
    """The status rule, order-level fields carried along each order, e-mail ids and refunds on Spark."""
    raw = edge_cases.platform_table()
    path = tmp_path / "shop_orders.parquet"
    pq.write_table(raw, path)
    got = sources.prepare_table(sources.read_spark(spark_con, str(path)), edge_cases.PLATFORM_ROLES)
    edge_cases.assert_platform_result(got)
    assert_same_as_duckdb(got, duckdb_reference(raw, edge_cases.PLATFORM_ROLES))


@ON_BOTH_MASTERS
def test_edge_cases_with_filters_and_net_returns(spark_con, tmp_path):
    raw = edge_cases.raw_table()
    path = tmp_path / "edge.parquet"
    pq.write_table(raw, path)
    settings = CleaningSettings(net_returns=True, countries_exclude=("Finland",),
                                date_from=pd.Timestamp("2011-02-01").date())
    got = sources.prepare_table(sources.read_spark(spark_con, str(path)), edge_cases.ROLES, cleaning=settings)
    assert_same_as_duckdb(got, duckdb_reference(raw, edge_cases.ROLES, cleaning=settings))


@pytest.fixture(scope="module")
def real_rows(tmp_path_factory):
    """The first 50,000 rows of the real CSV, as written (text), in a temp dir."""
    source = shared_file("online_retail.csv.gz")
    path = tmp_path_factory.mktemp("spark_real") / "online_retail_50k.csv"
    with gzip.open(source, "rt", encoding="utf-8", newline="") as lines, open(path, "w", encoding="utf-8",
                                                                                 newline="") as out:
        out.writelines(itertools.islice(lines, REAL_ROWS + 1))  # no quoted newlines in this file
    loaded = reading.read_file(path)
    assert loaded.table.num_rows == REAL_ROWS
    roles = columns.resolve_roles(loaded.table)
    return path, loaded, roles


@ON_BOTH_MASTERS
@pytest.mark.slow
def test_real_rows_from_csv_text(spark_con, real_rows):
    path, loaded, roles = real_rows
    table = sources.read_spark(spark_con, str(path))
    assert sources.table_roles(table) == roles
    got = sources.prepare_table(table, roles)
    want = pipeline.prepare(loaded, roles, with_products=False)
    assert_same_as_duckdb(got, want)
    assert got.audit.rows_in == REAL_ROWS and len(got.customers) > 900


# local[2] only: Parquet parts read by executors are test_an_executor_killed_mid_job_…'s input (~25 s of CI).
@pytest.mark.slow
def test_real_rows_from_parquet(spark_con, real_rows, tmp_path):
    _, loaded, roles = real_rows
    parsed = parsing.to_canonical(loaded.table, roles).table
    typed = pa.table({roles[role]: parsed[name] for name, role in [
        ("customer_id", "customer"), ("invoice", "invoice"), ("invoice_date", "date"), ("quantity", "quantity"),
        ("price", "price"), ("product", "product"), ("description", "description"), ("country", "country")]})
    path = tmp_path / "parts"
    path.mkdir()
    pq.write_table(typed.slice(0, 20_000), path / "part-0.parquet")
    pq.write_table(typed.slice(20_000), path / "part-1.parquet")
    got = sources.prepare_table(sources.read_spark(spark_con, str(path)), roles)
    assert_same_as_duckdb(got, pipeline.prepare(loaded, roles, with_products=False))


@pytest.mark.parametrize("timestamp_type", ["timestamp_ntz", "timestamp"])
def test_spark_table_by_name(spark, spark_con, timestamp_type):
    """A table (here a temp view) as a lake catalog holds it; TIMESTAMP (session-zone) or TIMESTAMP_NTZ."""
    raw = edge_cases.raw_table()
    schema = ("InvoiceNo string, StockCode string, Description string, Quantity bigint, "
              f"InvoiceDate {timestamp_type}, UnitPrice double, CustomerID string, Country string"
              + (", Email string" if "Email" in raw.column_names else ""))
    rows = raw.to_pylist()
    if timestamp_type == "timestamp":  # aware values, so the Python process's zone plays no part
        rows = [{**row, "InvoiceDate": row["InvoiceDate"].replace(tzinfo=UTC)} for row in rows]
    spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(f"edge_view_{timestamp_type}")
    table = sources.read_spark(spark_con, f"edge_view_{timestamp_type}")
    got = sources.prepare_table(table, sources.table_roles(table))
    assert_same_as_duckdb(got, duckdb_reference(raw, edge_cases.ROLES))


def test_session_settings(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.conf.get("spark.sql.constraintPropagation.enabled") == "false"  # see spark_runtime.session_conf


def test_the_cli_entry_takes_the_running_session(spark, tmp_path):
    """prepare_spark without a master (spark-submit, Databricks) uses the session already there."""
    raw = edge_cases.raw_table()
    pq.write_table(raw, tmp_path / "edge.parquet")
    assert sources.spark_session().sparkContext.master == "local[2]"
    got = sources.prepare_spark(str(tmp_path / "edge.parquet"), overrides={"country": None})
    roles = {role: column for role, column in edge_cases.ROLES.items() if role != "country"}
    assert_same_as_duckdb(got, duckdb_reference(raw, roles))
    assert "local[2]" in got.notes[0]


def test_missing_path_and_table(spark_con, tmp_path):
    with pytest.raises(SourceError, match="(?i)path does not exist"):
        sources.read_spark(spark_con, str(tmp_path / "nothing.parquet"))
    with pytest.raises(SourceError, match="'no_such_table' was not found"):
        sources.read_spark(spark_con, "no_such_table")


def kill_an_executor_when_tasks_run(session, stop: threading.Event, killed: list[int]) -> None:
    """Wait until a stage has tasks running, then SIGKILL one executor JVM (as an OOM killer would)."""
    tracker = session.sparkContext.statusTracker()
    while not stop.is_set():
        running = [info for info in map(tracker.getStageInfo, tracker.getActiveStageIds())
                   if info is not None and info.numActiveTasks > 0]
        executors = spark_runtime.executor_pids(session)
        if running and executors:
            os.kill(executors[0], signal.SIGKILL)
            killed.append(executors[0])
            return
        time.sleep(0.02)


@ON_CLUSTER
def test_an_executor_killed_mid_job_is_replaced_and_the_result_stays_exact(spark, spark_con, tmp_path):
    raw = demo_transactions(40_000, seed=11)
    path = tmp_path / "demo.parquet"
    pq.write_table(raw, path, row_group_size=4_000)  # several tasks per stage
    executors = spark_runtime.executor_pids(spark)
    assert len(executors) == 2
    for pid in executors:  # loopback: the executors bind to and reach the driver on 127.0.0.1
        arguments = spark_runtime._cmdline(pid).decode().split("\0")
        host = arguments[arguments.index("--hostname") + 1]  # 127.0.0.1, or localhost after a local[N] run
        assert ipaddress.ip_address(socket.gethostbyname(host)).is_loopback, host
        assert "@127.0.0.1:" in arguments[arguments.index("--driver-url") + 1]
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_an_executor_when_tasks_run, args=(spark, stop, killed))
    killer.start()
    try:
        table = sources.read_spark(spark_con, str(path))
        roles = sources.table_roles(table)
        got = sources.prepare_table(table, roles)
    finally:
        stop.set()
        killer.join()
    assert killed and killed[0] in executors, "no executor was killed while tasks ran"
    assert_same_as_duckdb(got, duckdb_reference(raw, roles))
    deadline = time.monotonic() + 120  # the worker starts a new executor in place of the dead one
    while len(spark_runtime.executor_pids(spark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    replaced = spark_runtime.executor_pids(spark)
    assert len(replaced) == 2 and killed[0] not in replaced

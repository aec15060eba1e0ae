"""The pipeline inside a real PostgreSQL server: same results as DuckDB, read-only, only the
customer rows come back, and errors that never show the password."""
from __future__ import annotations

import traceback

import pandas as pd
import pytest

import segmentation
from segmentation import engines, parsing, pipeline, sources
from segmentation.errors import MappingError, SourceError
from tests.engines import edge_cases
from tests.engines.compare import assert_same_as_duckdb
from tests.engines.postgres import READER_PASSWORD, STRANGER_PASSWORD
from tests.shared_data import shared_file

# One server/JVM per worker is costly on 2 cores: with `pytest -n 2 --dist loadgroup` (.ci/run) all of
# this module runs on one worker; with other --dist modes the mark does nothing.
pytestmark = pytest.mark.xdist_group("postgres")




def _secret_free(error: BaseException, *secrets: str) -> None:
    text = "".join(traceback.format_exception_only(error)) + repr(error) + str(error.hint or "")
    for secret in secrets:
        assert secret not in text
    # the driver's exception is not chained into the traceback (and its own text is clean too)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    for secret in secrets:
        assert secret not in repr(error.__context__)


# ----------------------------------------------------------------------------- the real data

@pytest.fixture(scope="module")
def retail(pg_server, real_prepared):
    """The real Online Retail rows in PostgreSQL, segmented there once through the notebook API on
    a plain Ibis table of a read-only session (`segmentation.segment`: the same EngineTable.prepare
    as `--source`'s prepare_postgres, which the CLI tests run end to end); the statements the
    server ran for it are kept for the push-down test. Returns (result, DuckDB reference, statements)."""
    pg_server.load_online_retail(shared_file("online_retail.csv.gz"))
    engine = sources.connect_postgres(pg_server.url())
    try:
        table = engine.backend.table("online_retail")  # a plain Ibis table, as a notebook has one
        assert engines.engine_of(table).read_only  # asked of the session: nothing is cached there
        pg_server.reset_statements()
        result = segmentation.segment(table)
        statements = pg_server.statements()
    finally:
        engine.disconnect()
    return result, real_prepared, statements


@pytest.mark.slow
def test_real_rows_give_the_duckdb_results(retail):
    result, reference, _ = retail
    prepared = result.prepared
    assert len(prepared.customers) == 4338
    assert prepared.audit.rows_in == 541909
    assert prepared.audit.dropped["missing_customer"] == 135080
    assert_same_as_duckdb(prepared, reference)
    row = prepared.customers.set_index("customer_id").loc["12346"]
    assert (row["recency"], row["frequency"], row["monetary"]) == (326, 1, 77183.6)


@pytest.mark.slow
def test_only_the_customer_rows_come_back(retail):
    """pg_stat_statements counts the rows each statement returned: the 2,000-row sample for
    column detection, then nothing larger than the per-customer table; no statement writes."""
    result, _, statements = retail
    prepared = result.prepared
    assert statements, "pg_stat_statements recorded nothing"
    largest = max(rows for _, _, rows in statements)
    total = sum(rows for _, _, rows in statements)
    assert largest == len(prepared.customers) == 4338
    assert total < 4338 + 2 * sources.SAMPLE_ROWS + 200, statements[:5]
    writes = [q for q, _, _ in statements
              if q.lstrip().split()[0].upper() in {"CREATE", "INSERT", "UPDATE", "DELETE", "COPY", "DROP", "ALTER"}]
    assert writes == []


# ----------------------------------------------------------------------------- edge cases

@pytest.mark.parametrize("id_type", ["text", "float"])
def test_edge_cases_give_the_duckdb_results(pg_server, id_type):
    raw = edge_cases.raw_table(id_type)
    name = f"edge_{id_type}"
    pg_server.load_arrow(name, raw)
    con = sources.connect_postgres(pg_server.url())
    try:
        got = sources.prepare_table(sources.open_table(con, name), edge_cases.ROLES)
    finally:
        con.disconnect()
    want = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES,
                                      with_products=False)
    assert_same_as_duckdb(got, want)
    assert "12353" in set(got.customers["customer_id"])  # '12353.0', ' 12353 ' and 12353 are one customer


def test_a_shop_export_gives_the_duckdb_results(pg_server):
    """The status rule, order-level fields carried along each order, e-mail ids and refunds, pushed down."""
    raw = edge_cases.platform_table()
    pg_server.load_arrow("shop_orders", raw)
    con = sources.connect_postgres(pg_server.url())
    try:
        got = sources.prepare_table(sources.open_table(con, "shop_orders"), edge_cases.PLATFORM_ROLES)
    finally:
        con.disconnect()
    edge_cases.assert_platform_result(got)
    want = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.PLATFORM_ROLES).table,
                                      edge_cases.PLATFORM_ROLES, with_products=False)
    assert_same_as_duckdb(got, want)


def test_rows_differing_only_in_an_unmapped_column_are_kept(pg_server):
    """Whole-row duplicates in the database: the unmapped columns are grouped on too."""
    raw = edge_cases.unmapped_rows_table()
    pg_server.load_arrow("unmapped_lines", raw)
    con = sources.connect_postgres(pg_server.url())
    try:
        table = sources.open_table(con, "unmapped_lines")
        assert sources.table_roles(table) == edge_cases.ROLES
        got = sources.prepare_table(table, edge_cases.ROLES)
    finally:
        con.disconnect()
    edge_cases.assert_no_line_dropped(got)
    want = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES,
                                      with_products=False)
    assert_same_as_duckdb(got, want)


# ----------------------------------------------------------------------------- read-only

def test_the_session_is_read_only(pg_server):
    pg_server.load_arrow("ro_check", edge_cases.raw_table())
    con = sources.connect_postgres(pg_server.url())
    try:
        assert con.backend.raw_sql("SHOW default_transaction_read_only").fetchone()[0] == "on"
        for statement in ('CREATE TEMP TABLE t AS SELECT 1', 'DELETE FROM "ro_check"',
                          'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; DELETE FROM "ro_check"'):
            with pytest.raises(Exception, match="read-only"):
                con.backend.raw_sql(statement)
    finally:
        con.disconnect()
    with pg_server.admin() as admin:
        assert admin.execute('SELECT count(*) FROM "ro_check"').fetchone()[0] == len(edge_cases.ROWS)


def test_tables_are_listed_for_a_picker(pg_server):
    pg_server.load_arrow("picker_table", edge_cases.raw_table())
    with pg_server.admin() as admin:
        admin.execute('CREATE OR REPLACE VIEW picker_view AS SELECT * FROM "picker_table"')
        admin.execute("GRANT SELECT ON picker_view TO reader")
    con = sources.connect_postgres(pg_server.url())
    try:
        assert {"picker_table", "picker_view"} <= set(sources.list_tables(con))
        table = sources.open_table(con, "public.picker_table")
        assert sources.table_columns(table)["InvoiceDate"].startswith("timestamp")
        assert sources.table_roles(table) == edge_cases.ROLES
    finally:
        con.disconnect()


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("url, words", [
    ("mysql://u:hunter2@localhost/db", "must start with postgresql://"),
    ("postgresql://u:hunter2@localhost:notaport/db", "cannot be read"),
    ("postgresql://u:hunter2@/db", "needs a host"),
    ("postgresql://u:hunter2@localhost:5432/", "needs a host and a database"),
    ("postgresql://u:hunter2@localhost/db?options=-c%20x%3D1", "not allowed"),
    ("", "No database URL"),
])
def test_bad_urls(url, words):
    with pytest.raises(SourceError, match=words) as caught:
        sources.connect_postgres(url)
    _secret_free(caught.value, "hunter2")


def test_wrong_password(pg_server):
    wrong = "Wr0ng:p@ss/word"
    with pytest.raises(SourceError, match="wrong user name or password") as caught:
        sources.connect_postgres(pg_server.url(password=wrong))
    _secret_free(caught.value, wrong, "Wr0ng", READER_PASSWORD)


def test_unknown_user_and_database(pg_server):
    with pytest.raises(SourceError, match="refused the login|does not exist") as caught:
        sources.connect_postgres(pg_server.url(user="nobody", password="n0body-pw"))
    _secret_free(caught.value, "n0body-pw")
    with pytest.raises(SourceError, match="database does not exist") as caught:
        sources.connect_postgres(pg_server.url(database="nodb"))
    _secret_free(caught.value, READER_PASSWORD)


def test_missing_table(pg_server):
    con = sources.connect_postgres(pg_server.url())
    try:
        with pytest.raises(SourceError, match="'no_such_table' was not found") as caught:
            sources.open_table(con, "no_such_table")
        _secret_free(caught.value, READER_PASSWORD)
    finally:
        con.disconnect()
    with pytest.raises(SourceError, match="was not found"):
        sources.prepare_postgres(pg_server.url(), "no_such_table")


def test_no_permission(pg_server):
    pg_server.load_arrow("private_sales", edge_cases.raw_table())
    with pytest.raises(SourceError, match="SELECT rights") as caught:
        sources.prepare_postgres(pg_server.url(user="stranger", password=STRANGER_PASSWORD), "private_sales")
    _secret_free(caught.value, STRANGER_PASSWORD)


def test_server_down():
    from scripts.pg_throwaway import free_port

    url = f"postgresql://reader:d0wn-secret@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(SourceError, match="Cannot reach") as caught:
        sources.connect_postgres(url, connect_timeout=3)
    _secret_free(caught.value, "d0wn-secret")


def test_mapping_to_a_missing_column_is_a_mapping_error(pg_server):
    pg_server.load_arrow("mapping_table", edge_cases.raw_table())
    con = sources.connect_postgres(pg_server.url())
    try:
        table = sources.open_table(con, "mapping_table")
        with pytest.raises(MappingError, match="Nope"):
            sources.prepare_table(table, {**edge_cases.ROLES, "customer": "Nope"})
    finally:
        con.disconnect()


def test_redact_url():
    assert sources.redact_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert sources.redact_url("postgresql://h/db") == "postgresql://h/db"
    assert sources.is_database_url("postgres://h/db") and not sources.is_database_url("data/sales.csv")


def test_password_from_the_environment(pg_server, monkeypatch):
    """The password may stay out of the URL (shell history, process list): libpq reads PGPASSWORD."""
    monkeypatch.setenv("PGPASSWORD", READER_PASSWORD)
    con = sources.connect_postgres(f"postgresql://reader@127.0.0.1:{pg_server.port}/postgres")
    try:
        assert con.backend.raw_sql("SELECT current_user").fetchone()[0] == "reader"
    finally:
        con.disconnect()


def test_timestamptz_and_numeric_columns(pg_server):
    """timestamptz counts as UTC wall time, numeric money and numeric(…,1) ids as their values."""
    raw = edge_cases.raw_table("float")
    pg_server.load_arrow("typed_sales", raw)
    with pg_server.admin() as admin:
        admin.execute('ALTER TABLE typed_sales ALTER "InvoiceDate" TYPE timestamptz '
                      "USING \"InvoiceDate\" AT TIME ZONE 'UTC'")
        admin.execute('ALTER TABLE typed_sales ALTER "UnitPrice" TYPE numeric(18, 7)')
        admin.execute('ALTER TABLE typed_sales ALTER "CustomerID" TYPE numeric(10, 1)')
        admin.execute("ALTER ROLE reader SET timezone = 'America/New_York'")  # the user's zone must not matter
    try:
        con = sources.connect_postgres(pg_server.url())
        try:
            got = sources.prepare_table(sources.open_table(con, "typed_sales"), edge_cases.ROLES)
        finally:
            con.disconnect()
    finally:
        with pg_server.admin() as admin:
            admin.execute("ALTER ROLE reader RESET timezone")
    want = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES,
                                      with_products=False)
    assert_same_as_duckdb(got, want)


@pytest.mark.slow
def test_segment_accepts_a_postgres_ibis_table(retail, real_result):
    """The notebook API on an Ibis table of a PostgreSQL session: the same customers, K and
    suggestion as on the CSV in DuckDB (`real_result`)."""
    got, _, _ = retail
    want = real_result
    assert len(got.customers) == 4338
    assert (got.k, got.suggestion) == (want.k, want.suggestion)
    pd.testing.assert_frame_equal(got.customers, want.customers)

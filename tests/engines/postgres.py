"""A throwaway PostgreSQL server for the tests: started once per test session (per xdist worker)
with initdb in a temp dir on a free loopback port, stopped at the end.

Roles: the bootstrap superuser `postgres` (trust on loopback, used only to load data and read
pg_stat_statements), `reader` (password with URL-special characters, SELECT only) and
`stranger` (can log in, no rights on the tables).
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pytest

from scripts import pg_throwaway

READER_PASSWORD = "Pa:ss@w/rd%42 s3cret!"
STRANGER_PASSWORD = "Str4nger:pw"
ONLINE_RETAIL_DDL = """
CREATE TABLE online_retail (
    "InvoiceNo" text, "StockCode" text, "Description" text, "Quantity" integer,
    "InvoiceDate" timestamp, "UnitPrice" numeric(12, 3), "CustomerID" integer, "Country" text
)"""


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests: .ci/run installs Debian's postgresql)")
    pytest.skip(reason)


class Server:
    def __init__(self, server: pg_throwaway.PostgresServer):
        self.server = server
        self.port = server.port

    def url(self, user: str = "reader", password: str = READER_PASSWORD, database: str = "postgres") -> str:
        return f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def admin(self):
        import psycopg

        return psycopg.connect(self.server.admin_url, autocommit=True)

    def statements(self) -> list[tuple[str, int, int]]:
        """(query, calls, rows returned) of everything run since the last reset."""
        with self.admin() as con:
            return con.execute(
                "SELECT query, calls, rows FROM pg_stat_statements "
                "WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY rows DESC").fetchall()

    def reset_statements(self) -> None:
        with self.admin() as con:
            con.execute("SELECT pg_stat_statements_reset()")

    def load_arrow(self, name: str, table: pa.Table) -> None:
        """Create `name` with columns typed from Arrow and copy the rows in (small tables)."""
        types = {pa.string(): "text", pa.int64(): "bigint", pa.float64(): "double precision",
                 pa.timestamp("us"): "timestamp"}
        columns = ", ".join(f'"{f.name}" {types[f.type]}' for f in table.schema)
        with self.admin() as con:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
            con.execute(f'CREATE TABLE "{name}" ({columns})')
            with con.cursor().copy(f'COPY "{name}" FROM STDIN') as copy:
                for row in table.to_pylist():
                    copy.write_row(list(row.values()))
            con.execute(f'GRANT SELECT ON "{name}" TO reader')

    def load_online_retail(self, csv_gz: Path) -> None:
        with self.admin() as con:
            con.execute("DROP TABLE IF EXISTS online_retail")
            con.execute(ONLINE_RETAIL_DDL)
            with con.cursor().copy("COPY online_retail FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    gzip.open(csv_gz, "rb") as source:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
            con.execute("ANALYZE online_retail")
            con.execute("GRANT SELECT ON online_retail TO reader")


@pytest.fixture(scope="session")
def pg_server():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'ibis-framework[postgres]')")
    if pg_throwaway.find_bin_dir() is None:
        _unavailable("no PostgreSQL server binaries (apt-get install postgresql)")
    server = pg_throwaway.start(settings={"shared_preload_libraries": "pg_stat_statements",
                                          "pg_stat_statements.track": "all"})
    try:
        wrapped = Server(server)
        with wrapped.admin() as con:
            con.execute("CREATE EXTENSION pg_stat_statements")
            con.execute(f"CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}'")
            con.execute(f"CREATE ROLE stranger LOGIN PASSWORD '{STRANGER_PASSWORD}'")
            con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        yield wrapped
    finally:
        server.stop()

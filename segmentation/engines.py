"""Where the Ibis expressions run, as an explicit object passed along with the tables.

An :class:`Engine` says what the pipeline needs to know about a backend and cannot ask Ibis:
which kind of engine it is, where it points (for messages, never with a password), whether
its session is read-only (then nothing can be cached there as a temp table) and which secrets
to scrub from any message. Nothing is attached to Ibis's own backend objects.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis

__all__ = ["Engine", "duckdb_engine", "engine_of"]


@dataclass(frozen=True)
class Engine:
    """An Ibis backend and the facts about it that the pipeline acts on."""

    backend: ibis.BaseBackend
    kind: str  # "duckdb", "postgres", "pyspark", ...
    target: str  # where it points, for messages (user@host:port/db, a Spark master); no password
    read_only: bool = False  # a read-only session: no temp tables (PostgreSQL refuses them)
    secrets: tuple[str, ...] = ()  # texts replaced by *** in every message

    def disconnect(self) -> None:
        self.backend.disconnect()


def duckdb_engine(backend: ibis.BaseBackend | None = None) -> Engine:
    """A fresh in-process DuckDB (one per call, so sessions never share tables), or `backend`."""
    if backend is None:
        from ibis.backends.duckdb import Backend  # direct: `ibis.duckdb` scans package metadata

        backend = Backend().connect()
        backend.con.execute("SET enable_progress_bar = false")  # no bar on a notebook's or the CLI's stderr
    return Engine(backend=backend, kind="duckdb", target="DuckDB")


def engine_of(table: ibis.Table) -> Engine:
    """The engine of a table someone else connected (the notebook API): the facts are asked of
    the session itself, e.g. whether a PostgreSQL session is read-only."""
    backend = ibis.get_backend(table)
    kind = backend.name
    read_only = False
    if kind == "postgres":
        with backend.begin() as cursor:
            cursor.execute("SHOW transaction_read_only")
            read_only = cursor.fetchone()[0] == "on"
    return Engine(backend=backend, kind=kind, target=kind, read_only=read_only)

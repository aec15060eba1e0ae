"""Where the Ibis expressions run, as an explicit object passed along with the tables.

An :class:`Engine` says what the pipeline needs to know about a backend and cannot ask Ibis:
which kind of engine it is, where it points (for messages, never with a password), whether
its session is read-only (then nothing can be cached there as a temp table) and which secrets
to scrub from any message. Nothing is attached to Ibis's own backend objects.
"""
from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass

import ibis

__all__ = ["Engine", "connect_duckdb", "duckdb_engine", "engine_of"]


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


def connect_duckdb(*, memory_limit: str | None = None, temp_directory: str | None = None) -> ibis.BaseBackend:
    """The one way Segmenter opens DuckDB: a fresh in-process database (one per call, so sessions
    never share tables) that draws no progress bar on a notebook's or the CLI's stderr.

    With `memory_limit` (files read in place, largefile.py) it spills to disk instead of exceeding
    it: into `temp_directory`, else a private folder removed with the connection (when it is
    garbage-collected, or at exit); it keeps no insertion order, and a join builds its hash table
    on the small side (see largefile._typed_by_lookup: DuckDB cannot estimate a CSV scan's size).
    """
    from ibis.backends.duckdb import Backend  # direct: `ibis.duckdb` scans package metadata

    backend = Backend().connect()
    raw = backend.con
    raw.execute("SET enable_progress_bar = false")
    if memory_limit is not None:
        spill = temp_directory
        if spill is None:
            spill = tempfile.mkdtemp(prefix="segmenter-duckdb-")
            weakref.finalize(backend, shutil.rmtree, spill, ignore_errors=True)
        raw.execute(f"SET memory_limit = '{memory_limit}'")
        raw.execute(f"SET temp_directory = '{spill}'")
        raw.execute("SET preserve_insertion_order = false")
        raw.execute("SET disabled_optimizers = 'build_side_probe_side'")
    return backend


def duckdb_engine(backend: ibis.BaseBackend | None = None) -> Engine:
    """`backend`, or a fresh DuckDB (connect_duckdb), as an Engine."""
    return Engine(backend=backend if backend is not None else connect_duckdb(), kind="duckdb", target="DuckDB")


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

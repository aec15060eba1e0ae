"""Where this session's transactions come from: the loaded file or a database table, and its connection.

The one place the app turns a :class:`ui.session.Source` into core calls: :func:`read` (the file
read into Arrow, or a table's first rows), :func:`prepare` (parse → clean → RFM, in DuckDB or in
the database). The database connection lives in this session's ``st.session_state`` only; its URL
is never stored, shown or put in a cache key (a SHA-256 of it and the redacted form are kept).
"""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from segmentation import columns
from segmentation import sources as core_sources
from segmentation.errors import SegmenterError, SourceError
from segmentation.pipeline import Prepared, Progress
from segmentation.reading import LoadedFile

from . import cache, session
from .session import DATABASE, DATABASE_CONS, DATABASE_ERROR, Source, Spec, digest_of, set_source

__all__ = ["read", "read_key", "detected_roles", "detected_currency", "currency",
           "roles_of", "prepare", "connect_database", "database",
           "database_error", "use_table"]


def _quiet(message: str, fraction: float) -> None:
    """A progress callback for reads whose progress is not shown (already shown, or a quick check)."""


def read_key(src: Source) -> tuple:
    """The progress-step key of reading ``src``: a session shows the reading of one file once."""
    return ("read", src.digest, src.sheet)


def read(src: Source, progress: Progress = _quiet) -> LoadedFile:
    """The file of ``src`` read into Arrow (cached on its digest and sheet); a table: its first rows."""
    if src.kind == "database":
        return cache.read_table(src.digest, src.name, src.table, _connection(src), progress)
    return cache.read_file(src.digest, src.sheet, src.name, src.data, progress)


def detected_roles(src: Source) -> dict[str, str]:
    """The roles detected from the columns of ``src`` (what the Data page offers before any override)."""
    return cache.detected_roles(src.digest, src.sheet, read(src))


def mapping_notes(src: Source, roles: dict[str, str]) -> tuple[str, ...]:
    """What detection decided for the mapping shown (product vs description, money by meaning, guesses)."""
    return cache.mapping_notes(src.digest, src.sheet, tuple(sorted(roles.items())), read(src))


def detected_currency(src: Source, roles: Mapping[str, str]) -> str | None:
    """The ISO code of the currency the file names (symbols or codes in its money columns), or None."""
    return cache.detected_currency(src.digest, src.sheet, tuple(sorted(roles.items())), read(src))


def currency(src: Source, roles: Mapping[str, str]) -> str | None:
    """How money of ``src`` is labelled ("£", "CHF"), or None: the marketer's choice, else as detected."""
    chosen = session.currency_choice()
    code = detected_currency(src, roles) if chosen is None else chosen
    return columns.currency_display(code) if code else None


def roles_of(spec: Spec, loaded: LoadedFile) -> dict[str, str]:
    """The roles ``spec`` asks for: detected, then the user's overrides (MappingError when incomplete)."""
    return cache.roles(spec.source.digest, spec.source.sheet, spec.overrides, loaded)


def prepare(spec: Spec, loaded: LoadedFile, roles: Mapping[str, str], progress: Progress) -> Prepared:
    """The customer table of ``spec``: cleaned in DuckDB for a file, in the database for a table."""
    key = spec.key()
    if spec.source.kind == "database":
        return cache.prepare_table(key, _connection(spec.source), spec.source.table, dict(roles), spec.cleaning,
                                   spec.snapshot, progress)
    return cache.prepare_file(key, loaded, dict(roles), spec.cleaning, spec.snapshot, progress)


# ---------------------------------------------------------------------------------------------
# database connection lifecycle
# ---------------------------------------------------------------------------------------------
def database() -> dict | None:
    """The current database connection: its tables and redacted URL (``where``), or None."""
    return st.session_state.get(DATABASE)


def database_error() -> SegmenterError | None:
    return st.session_state.get(DATABASE_ERROR)


def connect_database(url: str) -> None:
    """Connect read-only and list the tables; on failure keep the previous connection and data."""
    ss = st.session_state
    ss[DATABASE_ERROR] = None
    url = url.strip()
    try:
        con = core_sources.connect_postgres(url)
        tables = core_sources.list_tables(con)
    except SegmenterError as error:
        ss[DATABASE_ERROR] = error
        return
    ss[DATABASE] = {"con": con, "hash": digest_of(url.encode()), "where": core_sources.redact_url(url),
                    "tables": tables}


def use_table(name: str) -> None:
    """Switch to a table of the connected database, if its first rows can be read."""
    ss = st.session_state
    db = ss[DATABASE]
    ss[DATABASE_ERROR] = None
    digest = digest_of(f"{db['hash']}\0{name}".encode())
    candidate = Source("database", f"{name} in {db['where']}", digest, table=name)
    ss.setdefault(DATABASE_CONS, {})[digest] = db["con"]
    try:
        read(candidate)
    except SegmenterError as error:
        ss[DATABASE_ERROR] = error
        return
    set_source(candidate)


def _connection(src: Source):
    con = st.session_state.get(DATABASE_CONS, {}).get(src.digest)
    if con is None:
        raise SourceError("The database connection of this session is gone.",
                          hint="Connect again on the Data page.")
    return con


connection = _connection  # the Changes page reads a database table again (ui/migration.py)

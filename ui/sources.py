"""Where this session's transactions come from: a file (uploaded, or the built-in demo data) or a
table of the session's database, and that connection.

A source is an object (:class:`FileSource`, :class:`TableSource`) that knows how it is read
(:meth:`read`: the file read into Arrow, or a table's first rows), prepared (parse → clean → RFM, in
DuckDB or in the database) and handed to work off the page's thread (:meth:`transactions`: the core
``TransactionSource``); nothing else in the app asks which kind it is. The database connection
lives in this session's ``st.session_state`` only; its URL is never stored, shown or put in a cache
key (a SHA-256 of it and the redacted form are kept).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import streamlit as st

from segmentation import columns
from segmentation import sources as core_sources
from segmentation.engines import Engine
from segmentation.errors import SegmenterError, SourceError
from segmentation.pipeline import Prepared, Progress
from segmentation.preparation import TransactionSource
from segmentation.reading import LoadedFile

from . import cache, session
from .session import DATABASE, DATABASE_CONS, DATABASE_ERROR, DEMO_ROWS, DEMO_SEED, Source, Spec, digest_of, set_source

__all__ = ["DEMO", "FileSource", "TableSource", "read", "read_key", "detected_roles", "detected_currency",
           "currency", "roles_of", "prepare", "use_demo", "connect_database", "database", "database_error",
           "use_table"]


def _quiet(message: str, fraction: float) -> None:
    """A progress callback for reads whose progress is not shown (already shown, or a quick check)."""


@dataclass(frozen=True)
class FileSource:
    """A file read into memory: an upload (its bytes) or, without bytes, the built-in demo data."""

    name: str
    digest: str
    sheet: str | None = None  # None: let the reader choose the transactions sheet
    data: bytes | None = field(default=None, compare=False, repr=False, hash=False)  # kept in the workspace

    in_database = False  # the Data page opens its database box for a source that is

    @property
    def builtin(self) -> bool:
        """The built-in demo data (the app names it so, and offers to load your own)."""
        return self.data is None

    @property
    def size_mb(self) -> float | None:
        return None if self.data is None else len(self.data) / 1_000_000

    @property
    def file_stem(self) -> str:
        """The start of download names: the file's name without its ending ("segments" for the demo)."""
        return "segments" if self.builtin else self.name.rsplit(".", 1)[0]

    def with_sheet(self, sheet: str | None) -> FileSource:
        return replace(self, sheet=sheet)

    def read(self, progress: Progress) -> LoadedFile:
        """The file read into Arrow (cached on its digest and sheet)."""
        return cache.read_file(self.digest, self.sheet, self.name, self.data, progress)

    def prepare(self, spec: Spec, loaded: LoadedFile, roles: Mapping[str, str], progress: Progress) -> Prepared:
        """Parsed once per mapping, cleaned in DuckDB."""
        return cache.prepare_file(spec.key(), loaded, dict(roles), spec.cleaning, spec.snapshot, progress)

    def transactions(self, loaded: LoadedFile) -> TransactionSource:
        """The core source, for work off the page's thread (the prediction, the Changes page)."""
        return loaded


@dataclass(frozen=True)
class TableSource:
    """A table or view of this session's database connection (kept in this session only)."""

    name: str
    digest: str  # SHA-256 of URL and table, so no cache key holds the URL
    table: str

    sheet = None
    size_mb = None
    builtin = False
    in_database = True
    data = None  # no bytes of its own: nothing to keep in a workspace (ui/workspace.py)

    @property
    def file_stem(self) -> str:
        return self.table

    def read(self, progress: Progress) -> core_sources.TableRows:
        """The table's first rows (for the Data page and role detection); the whole table is cleaned."""
        return cache.read_table(self.digest, self.name, self.table, _connection(self), progress)

    def prepare(self, spec: Spec, loaded, roles: Mapping[str, str], progress: Progress) -> Prepared:
        """Cleaned in the database."""
        return cache.prepare_table(spec.key(), _connection(self), self.table, dict(roles), spec.cleaning,
                                   spec.snapshot, progress)

    def transactions(self, loaded) -> TransactionSource:
        """The core source (the table on this session's connection, taken now, on the page's thread)."""
        return core_sources.open_table(_connection(self), self.table)


DEMO = FileSource(f"Built-in demo data ({DEMO_ROWS:,} transactions)", f"demo-{DEMO_ROWS}-{DEMO_SEED}")


def use_demo() -> None:
    set_source(DEMO)


def read_key(src: Source) -> tuple:
    """The progress-step key of reading ``src``: a session shows the reading of one file once."""
    return ("read", src.digest, src.sheet)


def read(src: Source, progress: Progress = _quiet) -> LoadedFile | core_sources.TableRows:
    """What ``src`` reads for the Data page and role detection: a file's rows, a table's first rows."""
    return src.read(progress)


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


def roles_of(spec: Spec, loaded) -> dict[str, str]:
    """The roles ``spec`` asks for: detected, then the user's overrides (MappingError when incomplete)."""
    return cache.roles(spec.source.digest, spec.source.sheet, spec.overrides, loaded)


def prepare(spec: Spec, loaded, roles: Mapping[str, str], progress: Progress) -> Prepared:
    """The customer table of ``spec``: cleaned in DuckDB for a file, in the database for a table."""
    return spec.source.prepare(spec, loaded, roles, progress)


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
    candidate = TableSource(f"{name} in {db['where']}", digest, table=name)
    ss.setdefault(DATABASE_CONS, {})[digest] = db["con"]
    try:
        read(candidate)
    except SegmenterError as error:
        ss[DATABASE_ERROR] = error
        return
    set_source(candidate)


def _connection(src: TableSource) -> Engine:
    con = st.session_state.get(DATABASE_CONS, {}).get(src.digest)
    if con is None:
        raise SourceError("The database connection of this session is gone.",
                          hint="Connect again on the Data page.")
    return con

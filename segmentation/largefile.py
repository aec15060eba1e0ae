"""Files too big to hold in memory: stream them into DuckDB in record batches.

`reading.read_file` reads a whole file into one Arrow table (then `pipeline.prepare` copies it
into DuckDB): fine for a workbook or a 500k-row export, not for 50M-200M rows. Here a Parquet
file is read row group by row group; each batch goes through `parsing.to_canonical` (the same
code, so the canonical values are the same) and DuckDB consumes the stream into its table,
with a memory limit and a spill directory. No raw row ever becomes a pandas object: only the
per-customer result of the Ibis queries comes back.

Parsing decides some things once per column from the data (date order, decimal comma, Excel
serial or YYYYMMDD numbers). Per batch those decisions could differ, so for a date column that
is not already a timestamp and for number columns held as text, the distinct values of the
whole column are collected first (one extra pass over that column only), parsed together by
`to_canonical` exactly as a whole-file read would, and each batch looks its values up there.

Entry points: `is_large(path)`, `open_file(path) -> LargeFile` (a LoadedFile whose `table` is
a sample of the first rows, for column detection and previews) and `prepare_large`, which
`pipeline.prepare` calls for a LargeFile.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import parsing
from .errors import InputFileError
from .reading import LoadedFile, read_file, unique_headers
from .settings import DUCKDB_MEMORY_LIMIT, LARGE_FILE_BYTES, LARGE_PARQUET_ROWS, STREAM_BATCH_ROWS, CleaningSettings

__all__ = ["LargeFile", "is_large", "open_file", "canonical_batches", "load_into_duckdb", "reads_directly",
           "read_directly", "prepare_large", "read_file_or_stream"]

_SAMPLE_ROWS = 50_000
_PARQUET_MAGIC = b"PAR1"
_STREAM_TABLE = "transactions"


@dataclass(frozen=True)
class LargeFile(LoadedFile):
    """A file that is streamed, not read: `table` holds only its first rows (for role detection)."""

    path: str = ""
    num_rows: int = 0


def _kind(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return "parquet" if head == _PARQUET_MAGIC else None


def is_large(path: str | os.PathLike, *, threshold: int = LARGE_FILE_BYTES, rows: int = LARGE_PARQUET_ROWS) -> bool:
    """A Parquet file of at least `threshold` bytes or `rows` rows (other formats are read whole)."""
    path = Path(path)
    try:
        if not path.is_file() or _kind(path) != "parquet":
            return False
        return path.stat().st_size >= threshold or pq.ParquetFile(path).metadata.num_rows >= rows
    except (OSError, pa.ArrowException):
        return False


def open_file(path: str | os.PathLike, *, sample_rows: int = _SAMPLE_ROWS) -> LargeFile:
    """Open a Parquet file for streaming: schema, row count and a sample of the first rows."""
    path = Path(path)
    if _kind(path) != "parquet":
        raise InputFileError(f"'{path.name}' is not a Parquet file; only Parquet is streamed.",
                             "Read it with reading.read_file.")
    try:
        parquet = pq.ParquetFile(path)
        first = next(parquet.iter_batches(batch_size=sample_rows), None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputFileError(f"'{path.name}' is a damaged Parquet file: {exc}.",
                             "Write the Parquet file again, or export the data as CSV.") from exc
    names = unique_headers(parquet.schema_arrow.names)
    if first is None or parquet.metadata.num_rows == 0 or not names:
        raise InputFileError(f"'{path.name}' has no data rows.", "Write the file again with the transactions in it.")
    sample = pa.Table.from_batches([first]).rename_columns(names)
    return LargeFile(table=sample, source_name=path.name, file_format="parquet", path=str(path),
                     num_rows=parquet.metadata.num_rows,
                     notes=(f"Streamed {parquet.metadata.num_rows:,} rows from Parquet into DuckDB "
                            "(the file is too big to read whole).",))


def read_file_or_stream(source, *, filename=None, sheet=None) -> LoadedFile:
    """`reading.read_file`, except that a large Parquet path is opened for streaming."""
    if sheet is None and filename is None and isinstance(source, (str, os.PathLike)) and is_large(source):
        return open_file(source)
    return read_file(source, filename=filename, sheet=sheet)


# ----------------------------------------------------------------------------- parsing per batch

def _raw_batches(large: LargeFile, columns: list[str], batch_rows: int) -> Iterator[pa.Table]:
    parquet = pq.ParquetFile(large.path)
    original = parquet.schema_arrow.names
    renamed = dict(zip(unique_headers(original), original))
    wanted = [renamed[c] for c in columns]
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted, use_threads=False):
        yield pa.Table.from_batches([batch]).rename_columns(columns)


def _needs_whole_column(role: str, kind: pa.DataType) -> bool:
    """Roles whose parsing decides something from all values of the column."""
    if role == "date":
        return not (pa.types.is_timestamp(kind) or pa.types.is_date(kind))
    if role in ("quantity", "price", "amount"):
        return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    return False


_CANONICAL_OF = {"date": "invoice_date", "quantity": "quantity", "price": "price", "amount": "amount"}


def _lookups(large: LargeFile, roles: Mapping[str, str], batch_rows: int) -> tuple[dict, tuple[str, ...]]:
    """For whole-column roles: (distinct raw values, their canonical values), and parsing notes."""
    schema = pq.ParquetFile(large.path).schema_arrow
    kinds = dict(zip(unique_headers(schema.names), schema.types))
    whole = {role: column for role, column in roles.items()
             if column and role in _CANONICAL_OF and _needs_whole_column(role, kinds[column])}
    lookups: dict[str, tuple[pa.Array, pa.Array]] = {}
    notes: list[str] = []
    for role, column in whole.items():
        distinct = None
        for table in _raw_batches(large, [column], batch_rows):
            values = pc.unique(table.column(column).combine_chunks())
            distinct = values if distinct is None else pc.unique(pa.concat_arrays([distinct, values]))
        parsed = parsing.to_canonical(pa.table({column: distinct}), {role: column})
        lookups[role] = (distinct, parsed.table.column(_CANONICAL_OF[role]).combine_chunks())
        notes.extend(parsed.notes)
    return lookups, tuple(notes)


def canonical_batches(large: LargeFile, roles: Mapping[str, str], *, batch_rows: int = STREAM_BATCH_ROWS,
                      threads: int = 2) -> tuple[pa.Schema, Iterator[pa.RecordBatch], tuple[str, ...]]:
    """(canonical schema, canonical record batches in file order, parsing notes)."""
    roles = {role: column for role, column in roles.items() if column}
    lookups, notes = _lookups(large, roles, batch_rows)
    per_batch_roles = {role: column for role, column in roles.items() if role not in lookups}
    columns = list(dict.fromkeys(roles.values()))

    def parse(table: pa.Table) -> pa.RecordBatch:
        canonical = parsing.to_canonical(table, per_batch_roles).table
        for role, (distinct, parsed) in lookups.items():
            position = pc.index_in(table.column(roles[role]), value_set=distinct)
            name = _CANONICAL_OF[role]
            canonical = canonical.set_column(canonical.schema.get_field_index(name), name,
                                             pc.take(parsed, position))
        return canonical.combine_chunks().to_batches()[0] if canonical.num_rows else \
            pa.RecordBatch.from_pylist([], schema=parsing.CANONICAL_SCHEMA)

    def batches() -> Iterator[pa.RecordBatch]:
        # Arrow compute releases the GIL: parse the next batch while DuckDB ingests this one.
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            pending = []
            for table in _raw_batches(large, columns, batch_rows):
                pending.append(pool.submit(parse, table))
                if len(pending) > threads:
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()

    return parsing.CANONICAL_SCHEMA, batches(), notes


# ----------------------------------------------------------------------------- DuckDB

def connect(*, memory_limit: str = DUCKDB_MEMORY_LIMIT, temp_directory: str | None = None):
    """A DuckDB (Ibis) connection that spills to disk instead of exceeding `memory_limit`."""
    from ibis.backends.duckdb import Backend

    con = Backend().connect()
    spill = temp_directory or tempfile.mkdtemp(prefix="segmenter-duckdb-")
    raw = con.con
    raw.execute(f"SET memory_limit = '{memory_limit}'")
    raw.execute(f"SET temp_directory = '{spill}'")
    raw.execute("SET preserve_insertion_order = false")
    raw.execute("SET enable_progress_bar = false")
    return con


def load_into_duckdb(large: LargeFile, roles: Mapping[str, str], *, con=None,
                     batch_rows: int = STREAM_BATCH_ROWS):
    """Stream the canonical rows into a DuckDB table; returns (ibis table, parsing notes)."""
    con = con or connect()
    schema, batches, notes = canonical_batches(large, roles, batch_rows=batch_rows)
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    con.con.register("segmenter_canonical_stream", reader)
    try:
        con.con.execute(f"CREATE TEMP TABLE {_STREAM_TABLE} AS SELECT * FROM segmenter_canonical_stream")
    finally:
        con.con.unregister("segmenter_canonical_stream")
    return con.table(_STREAM_TABLE), notes


_DIRECT_KINDS = {
    "ids": (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer),
    "date": (pa.types.is_timestamp, pa.types.is_date),
    "number": (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal),
}


def _direct_role_kind(role: str) -> str:
    if role == "date":
        return "date"
    if role in ("quantity", "price", "amount"):
        return "number"
    return "ids"


def reads_directly(large: LargeFile, roles: Mapping[str, str]) -> bool:
    """Whether DuckDB can read the file itself: every mapped column already has its type
    (text or whole-number ids and text, timestamp or date dates, numeric numbers). Dates or
    numbers held as text need the whole-column decisions of parsing.py: those are streamed."""
    schema = pq.ParquetFile(large.path).schema_arrow
    kinds = dict(zip(unique_headers(schema.names), schema.types))
    return all(
        any(check(kinds[column]) for check in _DIRECT_KINDS[_direct_role_kind(role)])
        for role, column in roles.items() if column
    )


def read_directly(large: LargeFile, roles: Mapping[str, str], *, con=None):
    """The file as a DuckDB query in the canonical schema (`sources.canonical`, the Ibis form of
    parsing.to_canonical for typed columns): DuckDB reads the row groups in parallel and the
    cleaning runs in the same pass; nothing is loaded first."""
    from .sources import canonical

    con = con or connect()
    raw = con.read_parquet(large.path)
    names = unique_headers(raw.columns)
    if list(names) != list(raw.columns):
        raw = raw.rename(dict(zip(names, raw.columns)))
    return canonical(raw, roles)


def prepare_large(large: LargeFile, roles: Mapping[str, str], *, cleaning: CleaningSettings = CleaningSettings(),
                  snapshot: date | None = None, progress=None, with_products: bool = True,
                  batch_rows: int = STREAM_BATCH_ROWS):
    """`pipeline.prepare` for a LargeFile: DuckDB reads it (typed columns) or it is streamed into
    DuckDB (dates or numbers as text), then the same Ibis cleaning and RFM."""
    from .pipeline import prepare_expr

    if reads_directly(large, roles):
        transactions, notes = read_directly(large, roles), ()
    else:
        if progress is not None:
            progress("Streaming rows into DuckDB (dates, numbers, ids)", 0.1)
        transactions, notes = load_into_duckdb(large, roles, batch_rows=batch_rows)
    return prepare_expr(transactions, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                        notes=tuple(large.notes) + tuple(notes), with_products=with_products)

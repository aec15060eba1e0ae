"""Files too big to load: DuckDB reads them in place, in parallel, within a memory limit.

`reading.read_file` reads a whole file into one Arrow table (then it is handed to DuckDB):
fine for a workbook or a 500k-row export, not for 50M-200M rows. A large Parquet
or CSV file is opened as a `LargeFile` (its layout and first rows, for column detection and
previews) and DuckDB reads the file itself (`read_directly`): the canonical columns are Ibis
expressions over `read_parquet`/`read_csv` (`schema.canonical`, the Ibis form of
parsing.to_canonical for typed columns), and the cleaning and RFM run in the same pass, so no
raw row is loaded first and only per-customer results come back as pandas objects.

Parsing decides some things from all values of a column (day/month order, decimal comma,
Excel serial or YYYYMMDD numbers). For dates and numbers held as text, DuckDB collects the
distinct texts of those columns (one scan), parsing.to_canonical parses them together exactly
as a whole-file read would, and the rows look their values up (`_typed_by_lookup`). A CSV's
encoding, delimiter and header come from reading.csv_layout on its first lines.

Parquet columns of other types (nested, boolean, binary...) are streamed instead: row groups
→ parsing.to_canonical per batch → a DuckDB table (`canonical_batches`, `load_into_duckdb`).

Entry points: `is_large(path)`, `open_file(path) -> LargeFile`, `read_file_or_stream`; a
LargeFile is a source of transactions (preparation.TransactionSource) like a file in memory.
"""
from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import parsing
from .columns import mapping_notes
from .errors import InputFileError
from .reading import LoadedFile, csv_layout, read_file, skipped_lines_note, unique_headers
from .schema import CANONICAL_SCHEMA, canonical, unmapped_column_names, unmapped_columns, unmapped_values
from .settings import DUCKDB_MEMORY_LIMIT, LARGE_FILE_BYTES, LARGE_PARQUET_ROWS, STREAM_BATCH_ROWS

__all__ = ["LargeFile", "is_large", "open_file", "canonical_batches", "load_into_duckdb", "reads_directly",
           "read_directly", "read_file_or_stream"]

_SAMPLE_ROWS = 50_000
_PARQUET_MAGIC = b"PAR1"
_STREAM_TABLE = "transactions"


@dataclass(frozen=True)
class LargeFile:
    """A file that is read in place by DuckDB, not loaded (a preparation.TransactionSource).

    `head` holds its first rows (for role detection and previews), named like the columns a
    whole-file read gives. Parquet: `num_rows` rows. CSV: `header_line` lines come before the
    data (title lines and the header), `num_rows` is not known (0) until it is read.
    """

    head: pa.Table
    source_name: str
    file_format: str  # "csv" | "parquet"
    path: str
    encoding: str | None = None
    delimiter: str | None = None
    num_rows: int = 0
    header_line: int = 0
    notes: tuple[str, ...] = ()
    batch_rows: int = STREAM_BATCH_ROWS  # rows per batch when Parquet is streamed into DuckDB

    # Per-product revenue of a large file is tens of millions of rows: not fetched by default.
    fetch_products = False

    def preview(self):
        """The first rows, and the number of rows when the file says (Parquet)."""
        from .preparation import Preview

        return Preview(rows=self.head, total_rows=self.num_rows or None)

    def canonical(self, roles: Mapping[str, str], *, progress=None):
        """DuckDB reads the file in place (or, for Parquet column types it cannot take, it is
        streamed into DuckDB); the CSV lines DuckDB skipped come as a late note."""
        from .engines import duckdb_engine
        from .preparation import Canonical

        con = connect()
        if reads_directly(self, roles):
            if progress is not None:
                progress("Reading the file with DuckDB", 0.1)
            transactions, notes = read_directly(self, roles, con=con)
        else:
            if progress is not None:
                progress("Streaming rows into DuckDB (dates, numbers, ids)", 0.1)
            transactions, notes = load_into_duckdb(self, roles, con=con, batch_rows=self.batch_rows)

        def skipped() -> tuple[str, ...]:
            lines = _rejected_lines(con) if self.file_format == "csv" else 0
            return (skipped_lines_note(lines, self.head.num_columns),) if lines else ()

        notes = tuple(self.notes) + mapping_notes(self.head, roles) + tuple(notes)
        return Canonical(table=transactions, engine=duckdb_engine(con), notes=notes, late_notes=skipped)

    def prepare(self, roles: Mapping[str, str], **options):
        """Clean, aggregate and score (preparation.prepare_source)."""
        from .preparation import prepare_source

        return prepare_source(self, roles, **options)


_CSV_EXTENSIONS = (".csv", ".tsv", ".txt", ".tab", ".dat")
_CSV_HEAD_BYTES = 4 << 20  # the first lines a large CSV's layout and sample come from
_GZIP_MAGIC = b"\x1f\x8b"
# Encodings DuckDB's CSV reader decodes exactly as reading._decode does; others (Windows-1252,
# UTF-16 without a byte-order mark) are read whole by reading.read_file.
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16"}


def _kind(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == _PARQUET_MAGIC:
        return "parquet"
    name = path.name.lower().removesuffix(".gz")
    return "csv" if name.endswith(_CSV_EXTENSIONS) and not head.startswith(b"PK") else None


def is_large(path: str | os.PathLike, *, threshold: int = LARGE_FILE_BYTES, rows: int = LARGE_PARQUET_ROWS) -> bool:
    """A Parquet file of at least `threshold` bytes or `rows` rows, or a CSV file of at least
    `threshold` bytes (a gzip-compressed one of an eighth of that); others are read whole."""
    path = Path(path)
    try:
        if not path.is_file():
            return False
        kind = _kind(path)
        if kind == "parquet":
            return path.stat().st_size >= threshold or pq.ParquetFile(path).metadata.num_rows >= rows
        if kind == "csv":
            with open(path, "rb") as handle:
                packed = handle.read(2) == _GZIP_MAGIC
            return path.stat().st_size >= (threshold // 8 if packed else threshold)
        return False
    except (OSError, pa.ArrowException):
        return False


def open_file(path: str | os.PathLike, *, sample_rows: int = _SAMPLE_ROWS) -> LargeFile:
    """Open a large Parquet or CSV file: its layout and a sample of the first rows."""
    path = Path(path)
    kind = _kind(path)
    if kind == "csv":
        large = _open_csv(path)
        if large is None:
            raise InputFileError(f"'{path.name}' is in an encoding DuckDB does not read; it is read whole.",
                                 "Read it with reading.read_file, or save it as CSV UTF-8.")
        return large
    if kind != "parquet":
        raise InputFileError(f"'{path.name}' is neither a Parquet nor a CSV file.", "Read it with reading.read_file.")
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
    return LargeFile(head=sample, source_name=path.name, file_format="parquet", path=str(path),
                     num_rows=parquet.metadata.num_rows,
                     notes=(f"Read {parquet.metadata.num_rows:,} rows from Parquet with DuckDB "
                            "(the file is too big to load whole).",))


def _csv_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        packed = handle.read(2) == _GZIP_MAGIC
    with (gzip.open(path, "rb") if packed else open(path, "rb")) as handle:
        head = handle.read(_CSV_HEAD_BYTES)
    if len(head) == _CSV_HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # whole lines only
    return head


def _open_csv(path: Path) -> LargeFile | None:
    """A large CSV file with the layout a whole-file read would find (reading.csv_layout), or
    None when DuckDB could not decode it the same way."""
    try:
        head = _csv_head(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(f"'{path.name}' cannot be read: {exc}.", "Export the data again as CSV.") from exc
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    layout = csv_layout(head, name)
    if layout.encoding not in _DUCKDB_ENCODINGS:
        return None
    sample = read_file(head, filename=name, max_upload_mb=None)
    if list(sample.table.column_names) != list(layout.names):
        return None
    return LargeFile(head=sample.table, source_name=path.name, file_format="csv", encoding=layout.encoding,
                     delimiter=layout.delimiter, path=str(path), header_line=layout.header_line,
                     notes=tuple(layout.notes) + ("Read with DuckDB in parallel (the file is too big to load whole).",))


def read_file_or_stream(source, *, filename=None, sheet=None) -> LoadedFile | LargeFile:
    """`reading.read_file`, except that a large Parquet or CSV path is opened to be read in place."""
    if sheet is None and filename is None and isinstance(source, (str, os.PathLike)) and is_large(source):
        path = Path(source)
        if _kind(path) == "csv":
            large = _open_csv(path)
            return large if large is not None else read_file(source)
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
    if role in ("quantity", "price", "amount", "refunded"):
        return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    return False


_CANONICAL_OF = {"date": "invoice_date", "quantity": "quantity", "price": "price", "amount": "amount",
                 "refunded": "refunded"}


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
    """(schema, record batches in file order, parsing notes): the canonical columns, then the
    unmapped ones as read (schema.unmapped_values), for whole-row duplicates."""
    roles = {role: column for role, column in roles.items() if column}
    lookups, notes = _lookups(large, roles, batch_rows)
    per_batch_roles = {role: column for role, column in roles.items() if role not in lookups}
    unmapped = unmapped_columns(large.head.column_names, roles)
    wanted = list(dict.fromkeys(roles.values())) + unmapped
    file_schema = pq.ParquetFile(large.path).schema_arrow
    kinds = dict(zip(unique_headers(file_schema.names), file_schema.types))
    unmapped_names = unmapped_column_names(len(unmapped))
    schema = pa.schema(list(CANONICAL_SCHEMA) + [
        pa.field(name, unmapped_values(pa.array([], kinds[column])).type)
        for name, column in zip(unmapped_names, unmapped)])

    def parse(table: pa.Table) -> pa.RecordBatch:
        canonical = parsing.to_canonical(table, per_batch_roles, unmapped=False).table
        for role, (distinct, parsed) in lookups.items():
            position = pc.index_in(table.column(roles[role]), value_set=distinct)
            name = _CANONICAL_OF[role]
            canonical = canonical.set_column(canonical.schema.get_field_index(name), name,
                                             pc.take(parsed, position))
        for name, column in zip(unmapped_names, unmapped):
            canonical = canonical.append_column(name, unmapped_values(table.column(column)))
        return canonical.combine_chunks().to_batches()[0] if canonical.num_rows else \
            pa.RecordBatch.from_pylist([], schema=schema)

    def batches() -> Iterator[pa.RecordBatch]:
        # Arrow compute releases the GIL: parse the next batch while DuckDB ingests this one.
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            pending = []
            for table in _raw_batches(large, wanted, batch_rows):
                pending.append(pool.submit(parse, table))
                if len(pending) > threads:
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()

    return schema, batches(), notes


# ----------------------------------------------------------------------------- DuckDB

def connect(*, memory_limit: str = DUCKDB_MEMORY_LIMIT, temp_directory: str | None = None):
    """A DuckDB (Ibis) connection for a file read in place (engines.connect_duckdb with the
    large-file memory limit): it spills to disk instead of exceeding `memory_limit`."""
    from .engines import connect_duckdb  # Ibis is imported when a file is read, not when the CLI starts

    return connect_duckdb(memory_limit=memory_limit, temp_directory=temp_directory)


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


_TEXT = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
_DIRECT_KINDS = {
    "ids": (*_TEXT, pa.types.is_integer),
    "date": (*_TEXT, pa.types.is_timestamp, pa.types.is_date),
    "number": (*_TEXT, pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal),
}
_RAW_VIEW = "segmenter_raw"


def _direct_role_kind(role: str) -> str:
    if role == "date":
        return "date"
    if role in ("quantity", "price", "amount"):
        return "number"
    return "ids"


def reads_directly(large: LargeFile, roles: Mapping[str, str]) -> bool:
    """Whether DuckDB reads the file itself (`read_directly`): every CSV, and a Parquet file whose
    mapped columns are text, whole numbers, numbers or timestamps (others are streamed)."""
    if large.file_format == "csv":
        return True
    schema = pq.ParquetFile(large.path).schema_arrow
    kinds = dict(zip(unique_headers(schema.names), schema.types))
    return all(
        any(check(kinds[column]) for check in _DIRECT_KINDS[_direct_role_kind(role)])
        for role, column in roles.items() if column
    )


def _sql_text(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _raw_view(con, large: LargeFile):
    """The file as a DuckDB view `segmenter_raw`, columns named like `large.head`."""
    names = list(large.head.column_names)
    if large.file_format == "csv":
        columns = "{" + ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names) + "}"
        source = (
            f"read_csv({_sql_text(large.path)}, delim={_sql_text(large.delimiter or chr(31))}, quote='\"', "
            f"escape='\"', header=false, skip={large.header_line + 1}, columns={columns}, auto_detect=false, "
            f"encoding={_sql_text(_DUCKDB_ENCODINGS[large.encoding])}, ignore_errors=true, store_rejects=true)"
        )
        select = "*"
    else:
        source = f"read_parquet({_sql_text(large.path)})"
        original = pq.ParquetFile(large.path).schema_arrow.names
        select = ", ".join(f'"{o.replace(chr(34), chr(34) * 2)}" AS "{n.replace(chr(34), chr(34) * 2)}"'
                           for o, n in zip(original, names))
    con.con.execute(f"CREATE OR REPLACE TEMP VIEW {_RAW_VIEW} AS SELECT {select} FROM {source}")
    return con.table(_RAW_VIEW)


def _typed_by_lookup(con, raw, roles: Mapping[str, str]) -> tuple[object, tuple[str, ...]]:
    """Dates and numbers held as text, typed the way a whole-file read types them.

    parsing.to_canonical decides some things from all values of a column (day/month order,
    decimal comma, Excel serial numbers). DuckDB collects the distinct texts of those columns
    (one scan for all of them), to_canonical parses them together exactly as a whole-file read
    would, and the rows look their values up (a join on a small table). Returns the table with
    those columns typed, and the parsing notes.
    """
    import ibis

    kinds = raw.schema()
    whole = {role: column for role, column in roles.items()
             if column and role in _CANONICAL_OF and kinds[column].is_string()}
    if not whole:
        return raw, ()
    quoted = {role: '"' + column.replace('"', '""') + '"' for role, column in whole.items()}
    sets = ", ".join(f"({q})" for q in quoted.values())
    flags = ", ".join(f"grouping({q}) AS g{i}" for i, q in enumerate(quoted.values()))
    distinct = con.con.sql(
        f"SELECT {', '.join(quoted.values())}, {flags} FROM {_RAW_VIEW} GROUP BY GROUPING SETS ({sets})"
    ).to_arrow_table()
    notes: list[str] = []
    typed = raw
    for i, (role, column) in enumerate(whole.items()):
        values = distinct.filter(pc.equal(distinct.column(f"g{i}"), 0)).column(i).combine_chunks()
        parsed = parsing.to_canonical(pa.table({column: values}), {role: column})
        notes.extend(parsed.notes)
        lookup = ibis.memtable(pa.table({f"raw_{i}": values, f"value_{i}": parsed.table.column(_CANONICAL_OF[role])}))
        typed = typed.left_join(lookup, typed[column] == lookup[f"raw_{i}"])
        typed = typed.mutate(**{column: typed[f"value_{i}"]}).drop(f"raw_{i}", f"value_{i}")
    return typed, tuple(notes)


def read_directly(large: LargeFile, roles: Mapping[str, str], *, con=None):
    """The file as a DuckDB query in the canonical schema, and the parsing notes.

    DuckDB reads the file in parallel and the cleaning runs in the same pass; nothing is loaded
    first. Typed columns become canonical through `schema.canonical` (the Ibis form of
    parsing.to_canonical for typed columns); dates and numbers held as text through
    `_typed_by_lookup` (parsing.to_canonical itself, on their distinct values).
    """
    con = con or connect()
    raw = _raw_view(con, large)
    typed, notes = _typed_by_lookup(con, raw, roles)
    return canonical(typed, roles), notes


def _rejected_lines(con) -> int:
    """CSV lines DuckDB skipped (a different number of fields than the header)."""
    try:
        return int(con.con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0])
    except Exception:  # no CSV was read: there is no reject table
        return 0

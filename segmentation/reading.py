"""Read a transactions file (CSV/TSV/TXT, optionally gzip; XLSX; Parquet) into a raw Arrow table.

The format is decided from the content (magic bytes) first and the file name second, so an
Excel workbook saved as ``.csv`` still reads, and a CSV named ``.xlsx`` reads as CSV with a note.
CSV columns stay text: typing is the job of :mod:`segmentation.parsing`.
"""
from __future__ import annotations

import csv
import io
import os
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .errors import InputFileError, quote_names
from .settings import MAX_UPLOAD_MB

__all__ = ["LoadedFile", "ParsedFile", "CsvLayout", "csv_layout", "skipped_lines_note", "read_file", "unique_headers",
           "DELIMITER_NAMES", "MAX_DECOMPRESSED_MB", "MAX_PARQUET_CELLS", "MAX_COLUMNS"]

# Bounds on what a small file may expand to (decompression bombs): a gzip stream, the members of
# a workbook or zip archive together, and the cells of a Parquet file. Real exports stay far
# below them (the 23 MB UCI workbook expands to 168 MB; ratios of real sheets are 5-20).
MAX_DECOMPRESSED_MB = 10 * MAX_UPLOAD_MB
_MAX_ZIP_RATIO = 200  # a member expanding more than this (and above 50 MB) is a bomb, not a sheet
_RATIO_CHECK_BYTES = 50_000_000
MAX_PARQUET_CELLS = 500_000_000
MAX_COLUMNS = 16_384  # as many as an Excel sheet can have; a header of a million names is an attack
# The csv module refuses fields over 128 KiB by default; a long description must not hide the header.
_CSV_FIELD_LIMIT = 256 * 1024 * 1024
_CSV_LIMIT_LOCK = threading.Lock()


@contextmanager
def _long_csv_fields() -> Iterator[None]:
    """The csv module's field limit raised while this module reads a sample, then put back (it is
    the process's setting, not ours to change for good); one reader at a time."""
    with _CSV_LIMIT_LOCK:
        before = csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
        try:
            yield
        finally:
            csv.field_size_limit(before)

# The delimiters a CSV file is sniffed for, in order, with the names people read (notes, the Data page).
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_DELIMITERS = tuple(DELIMITER_NAMES)
_SAMPLE_BYTES = 256 * 1024
_SAMPLE_RECORDS = 200
_NO_DELIMITER = "\x1f"  # ASCII unit separator: never in real data, so one line = one field
_MAX_TITLE_LINES = 10
_EXCEL_PREVIEW_ROWS = 30
_SNIFF_ROWS = 500  # rows of each sheet given to columns.detect_roles when choosing a sheet

_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls


@dataclass(frozen=True)
class LoadedFile:
    """A file read into Arrow, with how it was read.

    ``table`` has the original header names, stripped and made unique (a blank header becomes
    ``column_N``, N counting from 1). CSV columns are all text; workbook and Parquet columns keep
    the types the file gives (numbers, timestamps).
    """

    table: pa.Table
    source_name: str
    file_format: str  # "csv" | "xlsx" | "parquet"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    # A source of transactions (preparation.TransactionSource): the whole table is in memory.
    fetch_products = True

    @property
    def delimiter_name(self) -> str | None:
        """The CSV delimiter as people name it ("comma", "tab"), or None for a file without one."""
        if self.delimiter is None:
            return None
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def preview(self):
        """The whole table (it is in memory already), with its row count."""
        from .preparation import Preview

        return Preview(rows=self.table, total_rows=self.table.num_rows)

    def canonical(self, roles, *, progress=None):
        """Parsed into the canonical schema (parsing.to_canonical) and handed to a new DuckDB;
        the notes say what the mapping decided (columns.mapping_notes) and the parsing found."""
        if progress is not None:
            progress("Reading values (dates, numbers, ids)", 0.1)
        return self.parse(roles).canonical(roles)

    def parse(self, roles) -> ParsedFile:
        """This file's values parsed for `roles` (parsing.to_canonical), as a source of its own.

        Its ``prepare`` is this file's for the same roles, without parsing again: a front end that
        keeps it (the app, per file and mapping) cleans with other settings from the parsed values."""
        from .columns import mapping_notes
        from .parsing import to_canonical

        parsed = to_canonical(self.table, roles)
        return ParsedFile(loaded=self, roles=tuple(sorted(dict(roles).items())), table=parsed.table,
                          notes=tuple(self.notes) + mapping_notes(self.table, roles) + tuple(parsed.notes))

    def prepare(self, roles, **options):
        """Clean, aggregate and score (preparation.prepare_source)."""
        from .preparation import prepare_source

        return prepare_source(self, roles, **options)


@dataclass(frozen=True)
class ParsedFile:
    """A LoadedFile's values parsed into the canonical schema for one mapping (LoadedFile.parse).

    A source (preparation.TransactionSource) like the file itself, for those roles only: its
    ``canonical`` hands the parsed Arrow table to a new DuckDB (no copy), so cleaning it again with
    other settings skips the parsing. Prepared from it, a file gives what it gives prepared directly.
    """

    loaded: LoadedFile
    roles: tuple[tuple[str, str], ...]  # sorted (role, column) pairs the values were parsed for
    table: pa.Table  # the canonical schema (segmentation.schema)
    notes: tuple[str, ...]

    fetch_products = True

    @property
    def source_name(self) -> str:
        return self.loaded.source_name

    def preview(self):
        return self.loaded.preview()

    def canonical(self, roles, *, progress=None):
        from .preparation import Canonical, arrow_canonical

        if tuple(sorted(dict(roles).items())) != self.roles:
            raise ValueError(f"These values were parsed for the roles {dict(self.roles)}, not {dict(roles)}.")
        table, engine = arrow_canonical(self.table)
        return Canonical(table=table, engine=engine, notes=self.notes)

    def prepare(self, roles, **options):
        """Clean, aggregate and score (preparation.prepare_source)."""
        from .preparation import prepare_source

        return prepare_source(self, roles, **options)


def read_file(
    source: str | os.PathLike | bytes,
    *,
    filename: str | None = None,
    sheet: str | None = None,
    max_upload_mb: float | None = MAX_UPLOAD_MB,
) -> LoadedFile:
    """Read ``source`` (a path or the file's bytes) into a :class:`LoadedFile`.

    ``filename`` names bytes (its extension is a hint; the content decides). ``sheet`` picks a
    workbook sheet by name; without it the sheet holding the transactions is chosen.
    Bytes (an upload) larger than ``max_upload_mb`` are refused; paths are not limited.
    Raises :class:`InputFileError` for anything that is not a readable table.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or "uploaded file"
        if max_upload_mb is not None and len(data) > max_upload_mb * 1_000_000:
            raise InputFileError(
                f"'{name}' is {len(data) / 1_000_000:,.1f} MB; the upload limit is {max_upload_mb:g} MB.",
                "Upload it gzip-compressed (.csv.gz) or as .xlsx/.parquet, export a shorter period, "
                "or run the command line (python -m segmentation FILE), which has no size limit.",
            )
    else:
        path = Path(source)
        name = filename or path.name
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise InputFileError(f"File not found: '{path}'.", "Check the path and the file name.") from exc
        except IsADirectoryError as exc:
            raise InputFileError(f"'{path}' is a folder, not a file.",
                                 "Give the path of the data file inside it.") from exc
        except OSError as exc:
            raise InputFileError(f"Cannot open '{path}': {_why(exc.strerror or exc)}.",
                                 "Check that the file exists and that you may read it.") from exc

    notes: list[str] = []
    if not data:
        raise InputFileError(f"'{name}' is empty (0 bytes).", "Export the data again; the file has no content.")

    ext = _extension(name)
    if data.startswith(_GZIP_MAGIC):
        data = _gunzip(data, name)
        if not data:
            raise InputFileError(f"'{name}' is empty once decompressed.", "Export the data again.")
        if ext != "gz":
            notes.append(f"'{name}' is gzip-compressed; it was decompressed.")
        ext = _extension(name[:-3]) if name.lower().endswith(".gz") else ext

    kind = _sniff(data)
    if kind == "zip":
        data, kind, zip_note = _unzip(data, name)
        if zip_note:
            notes.append(zip_note)

    expected = _FORMAT_OF_EXTENSION.get(ext)
    if kind == "excel":
        if expected not in (None, "xlsx"):
            notes.append(f"'{name}' is an Excel workbook despite its .{ext} name; it was read as a workbook.")
        return _read_excel(data, name, sheet, notes)
    if kind == "parquet":
        if expected not in (None, "parquet"):
            notes.append(f"'{name}' is a Parquet file despite its .{ext} name; it was read as Parquet.")
        return _read_parquet(data, name, notes)
    if sheet is not None:
        raise InputFileError(
            f"A sheet ('{sheet}') was asked for, but '{name}' is not an Excel workbook.",
            "Leave the sheet out for CSV and Parquet files.",
        )
    if expected in ("xlsx", "parquet"):
        return _read_misnamed_text(data, name, notes, expected)
    return _read_csv(data, name, notes)


def _read_misnamed_text(data: bytes, name: str, notes: list[str], expected: str) -> LoadedFile:
    """Text named like a workbook or Parquet file: read as CSV when it is a table (a renamed
    export, with a note); otherwise the point is that it is not the file its name says."""
    label = "an Excel workbook" if expected == "xlsx" else "a Parquet file"
    not_it = f"'{name}' is not {label}: it is plain text"
    fix = ("Open it in Excel and save it as an Excel workbook (.xlsx), or export the transactions as CSV."
           if expected == "xlsx" else "Export the transactions again as Parquet or as CSV.")
    try:
        loaded = _read_csv(data, name, [*notes, f"'{name}' is not {label}: it is text, so it was read as CSV. "
                                               "Rename it to .csv to avoid this note."])
    except InputFileError as error:
        raise InputFileError(f"{not_it}, and not a table either ({error.message})", fix) from error
    if loaded.table.num_columns < 2:
        first = " ".join(data[:80].decode("utf-8", "replace").splitlines()[0].split()) if data.strip() else ""
        raise InputFileError(f"{not_it} without columns (it begins '{first}').", fix)
    return loaded


# ----------------------------------------------------------------------------- format sniffing

_FORMAT_OF_EXTENSION = {
    "csv": "csv", "tsv": "csv", "txt": "csv", "tab": "csv", "dat": "csv",
    "xlsx": "xlsx", "xlsm": "xlsx", "xls": "xlsx", "xlsb": "xlsx", "ods": "xlsx",
    "parquet": "parquet", "pq": "parquet",
}


def _extension(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix[1:] if suffix else ""


def _sniff(data: bytes) -> str:
    if data.startswith(_ZIP_MAGIC):
        return "zip"
    if data.startswith(_PARQUET_MAGIC):
        return "parquet"
    if data.startswith(_OLE2_MAGIC):
        return "excel"
    return "text"


def _over_limit() -> str:
    return f"expands to more than the {MAX_DECOMPRESSED_MB:,} MB Segmenter reads when decompressed"


def _bomb_error(name: str, why: str) -> InputFileError:
    """``why`` completes "'name' ...": the size over the limit, or the packing ratio."""
    return InputFileError(
        f"'{name}' {why}; it is refused as a possible decompression bomb.",
        "Export only the transactions (one sheet, no images), a shorter period, or save it as CSV.",
    )


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress gzip (all members), never producing more than MAX_DECOMPRESSED_MB."""
    limit = MAX_DECOMPRESSED_MB * 1_000_000
    parts: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest:
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = stream.decompress(rest, limit - size + 1)
            while True:
                parts.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise _bomb_error(name, _over_limit())
                if stream.eof or not stream.unconsumed_tail:
                    break
                chunk = stream.decompress(stream.unconsumed_tail, limit - size + 1)
            if not stream.eof:
                raise zlib.error("incomplete or truncated stream")
            rest = stream.unused_data
            if rest and not rest.startswith(_GZIP_MAGIC):
                break  # trailing garbage after the last member, as gzip(1) ignores it
    except zlib.error as exc:
        raise InputFileError(f"'{name}' is a damaged gzip file: {_why(exc)}.",
                             "Compress the file again, or upload it uncompressed.") from exc
    return b"".join(parts)


def _check_zip_sizes(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse an archive whose members expand beyond MAX_DECOMPRESSED_MB (declared or actual)."""
    limit = MAX_DECOMPRESSED_MB * 1_000_000
    declared = sum(m.file_size for m in members)
    if declared > limit:
        raise _bomb_error(name, f"expands to {declared / 1_000_000:,.0f} MB when decompressed, more than the "
                                f"{MAX_DECOMPRESSED_MB:,} MB Segmenter reads")
    for member in members:
        if member.file_size > _RATIO_CHECK_BYTES and member.file_size > _MAX_ZIP_RATIO * max(member.compress_size, 1):
            raise _bomb_error(name, f"holds '{member.filename}', which expands to "
                                    f"{member.file_size / 1_000_000:,.0f} MB: "
                                    f"{member.file_size / max(member.compress_size, 1):,.0f} times its packed size, "
                                    f"more than the {_MAX_ZIP_RATIO:,} times Segmenter accepts")
    # The sizes above are what the archive claims; decompress (discarding the output) to make sure
    # no member holds more than it declares before a reader that trusts the claim sees it.
    total = 0
    chunk_size = 1 << 20
    member = members[0] if members else None
    try:
        for member in members:
            with archive.open(member) as stream:
                while chunk := stream.read(chunk_size):
                    total += len(chunk)
                    if total > limit:
                        raise _bomb_error(name, _over_limit())
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, RuntimeError, NotImplementedError,
            EOFError) as exc:
        raise InputFileError(
            f"'{name}' is a damaged or truncated zip/Excel file: "
            f"'{member.filename if member else '?'}' cannot be unpacked ({_why(exc)}).",
            "Open it in Excel and save it again, or export the data as CSV.",
        ) from exc


def _unzip(data: bytes, name: str, *, nested: bool = False) -> tuple[bytes, str, str | None]:
    """A zip is a workbook (xlsx/ods) or a zip archive holding one data file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        names = {m.filename for m in members}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise InputFileError(
            f"'{name}' looks like an Excel workbook (zip) but is damaged or truncated: {_why(exc)}.",
            "Open it in Excel and save it again, or export the data as CSV.",
        ) from exc
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names or "mimetype" in names:
        _check_zip_sizes(archive, members, name)
        return data, "excel", None
    data_members = [m for m in members if not m.filename.startswith(("__MACOSX/", "."))]
    if len(data_members) == 1:
        member = data_members[0]
        _check_zip_sizes(archive, [member], name)
        try:
            inner = archive.read(member)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError, EOFError,
                zlib.error) as exc:
            raise InputFileError(f"Cannot extract '{member.filename}' from the zip '{name}': {_why(exc)}.",
                                 "Unzip it yourself and upload the data file.") from exc
        if inner.startswith(_GZIP_MAGIC):
            inner = _gunzip(inner, member.filename)
        kind = _sniff(inner)
        note = f"Read '{member.filename}' from the zip archive '{name}'."
        if kind == "zip":
            if nested:
                raise InputFileError(f"'{name}' is a zip archive inside a zip archive.",
                                     "Unzip it and upload the data file itself.")
            inner, kind, _ = _unzip(inner, member.filename, nested=True)
        return inner, kind, note
    listed = ", ".join(f"'{m.filename}'" for m in data_members[:10]) or "nothing"
    raise InputFileError(
        f"'{name}' is a zip archive that is not an Excel workbook; it holds {listed}.",
        "Unzip it and upload the one data file (CSV, XLSX or Parquet).",
    )


# ----------------------------------------------------------------------------- header names

def unique_headers(names: list[object]) -> list[str]:
    """Strip header names, name blanks ``column_N`` (N from 1) and make duplicates unique (``Price_2``)."""
    stripped = []
    for i, raw in enumerate(names, start=1):
        text = "" if raw is None else str(raw).strip()
        stripped.append(text or f"column_{i}")
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}  # per name, the first suffix that may be free (a header of n
    out = []                          # copies of one name must not cost n² look-ups)
    for text in stripped:
        candidate = text
        if candidate in seen:
            k = next_suffix.get(text, 2)
            while f"{text}_{k}" in seen:
                k += 1
            candidate = f"{text}_{k}"
            next_suffix[text] = k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


# ----------------------------------------------------------------------------- CSV

def _decode(data: bytes, name: str) -> tuple[bytes, str, str | None]:
    """Return UTF-8 bytes, the encoding name, and a note if something was converted."""
    nul_note = None
    if data.startswith(b"\xef\xbb\xbf"):
        body = data[3:]
        try:
            body.decode("utf-8")
            return body, "utf-8-sig", None
        except UnicodeDecodeError:
            pass  # a BOM then not UTF-8: fall through to the single-byte encodings
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"'{name}' starts like UTF-16 text but does not decode as UTF-16: {_why(exc)}.",
                                 "Export the data again as CSV UTF-8.") from exc
        return text.encode("utf-8"), "utf-16", "The file is UTF-16 text (Excel 'Unicode text'); it was converted."
    else:
        sample = data[:_SAMPLE_BYTES]
        if b"\x00" in sample or b"\x00" in data:
            utf16 = _utf16_without_bom(sample)
            if utf16:
                try:
                    text = data.decode(utf16)
                except UnicodeDecodeError:
                    pass
                else:
                    return text.encode("utf-8"), utf16, "The file is UTF-16 text without a byte-order mark; " \
                        "it was converted."
            nuls = data.count(b"\x00")
            if sample.count(b"\x00") > len(sample) * 0.01:
                raise InputFileError(
                    f"'{name}' is not a table file: it contains binary data (not text, not an Excel workbook, "
                    "not Parquet).",
                    "Upload a CSV, TSV, XLSX or Parquet export of the transactions.",
                )
            data = data.replace(b"\x00", b"")
            nul_note = f"Removed {nuls:,} NUL byte(s) (invisible control characters) from the text."
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if not _looks_binary(sample.replace(b"\x00", b"")):
                return data, "utf-8", nul_note
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if _looks_binary(body[:_SAMPLE_BYTES]):
        raise InputFileError(
            f"'{name}' is not a table file: it looks like binary data (not text, not an Excel workbook, "
            "not Parquet).",
            "Upload a CSV, TSV, XLSX or Parquet export of the transactions.",
        )
    for encoding in ("cp1252", "latin-1"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        label = "Windows-1252" if encoding == "cp1252" else "Latin-1"
        note = f"The file is not UTF-8; it was read as {label} text."
        return text.encode("utf-8"), encoding, f"{nul_note} {note}" if nul_note else note
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte is NUL, as in UTF-16 text of Latin letters."""
    head = sample[: 4096 - 4096 % 2]
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes) -> bool:
    """Control characters other than tab/CR/LF/FF in more than 1% of the bytes: not text."""
    if not sample:
        return False
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    return controls > len(sample) * 0.01


def _sample_text(data: bytes) -> str:
    sample = data[:_SAMPLE_BYTES]
    if len(data) > _SAMPLE_BYTES:
        cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
        if cut > 0:
            sample = sample[:cut]
    return sample.decode("utf-8", errors="replace")


def _records(sample: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    rows = []
    with _long_csv_fields():
        try:
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    rows.append(row)
                if len(rows) >= _SAMPLE_RECORDS:
                    break
        except csv.Error:
            pass
    return rows


def _sniff_delimiter(sample: str) -> tuple[str | None, int, int]:
    """(delimiter or None, number of fields, title lines before the header).

    Each candidate splits the sample with the csv module (so quoted fields count right); the one
    whose records most consistently have the same number (≥ 2) of fields wins, more fields
    breaking ties (a ';' file with decimal commas also splits consistently on ',', into fewer fields
    only if every value has one comma).
    """
    best: tuple[tuple[float, int], str, int, int] | None = None
    for delimiter in _DELIMITERS:
        rows = _records(sample, delimiter)
        if not rows:
            continue
        counts = [len(r) for r in rows]
        mode, mode_n = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        key = (round(mode_n / len(counts), 2), mode)
        if best is None or key > best[0]:
            first = next(i for i, c in enumerate(counts) if c == mode)
            title = first if first <= _MAX_TITLE_LINES and all(c < mode for c in counts[:first]) else 0
            best = (key, delimiter, mode, title)
    if best is None:
        return None, 1, 0
    return best[1], best[2], best[3]


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is laid out, decided from its first bytes (see `csv_layout`)."""

    encoding: str
    delimiter: str | None  # None: one column
    header_line: int  # lines before the header (title lines), 0-based line of the header
    names: list[str]  # unique header names
    notes: tuple[str, ...]


def csv_layout(head: bytes, name: str) -> CsvLayout:
    """Encoding, delimiter and header of a CSV file from its first bytes (whole lines): what a
    whole-file read decides, for readers that take the rest from there (largefile.py)."""
    notes: list[str] = []
    if not head.strip():
        raise InputFileError(f"'{name}' is empty (only blank lines).", "Export the data again; the file has no rows.")
    data, encoding = _decoded(head, name, notes)
    delimiter, header_line, names = _layout(data, name, notes)
    return CsvLayout(encoding=encoding, delimiter=delimiter, header_line=header_line, names=names,
                     notes=tuple(notes))


def _decoded(data: bytes, name: str, notes: list[str]) -> tuple[bytes, str]:
    data, encoding, note = _decode(data, name)
    if note:
        notes.append(note)
    if encoding == "utf-8-sig":
        notes.append("The file is UTF-8 with a byte-order mark (as Excel saves 'CSV UTF-8').")
    return data, encoding


def _layout(data: bytes, name: str, notes: list[str]) -> tuple[str | None, int, list[str]]:
    """(delimiter, 0-based line of the header, unique header names) of UTF-8 CSV text."""
    sample = _sample_text(data)
    delimiter, n_fields, title_lines = _sniff_delimiter(sample)
    if delimiter is None:
        notes.append("No delimiter (comma, semicolon, tab or pipe) was found: the file was read as one column.")
    else:
        notes.append(f"Columns are separated by {DELIMITER_NAMES[delimiter]}s.")
    header_rows = _records(sample, delimiter or _NO_DELIMITER)
    if len(header_rows) <= title_lines:
        raise InputFileError(f"'{name}' has no header row.",
                             "Export the data again with column names in the first row.")
    if title_lines:
        titles = "; ".join(" ".join(c.strip() for c in row if c.strip()) for row in header_rows[:title_lines])
        notes.append(f"Skipped {title_lines} title line(s) above the header: '{titles[:80]}'.")
    header = header_rows[title_lines]
    n_fields = max(n_fields, len(header))
    _check_width(n_fields, name)
    header = header + [""] * (n_fields - len(header))
    return delimiter, _header_line(sample, delimiter or _NO_DELIMITER, n_fields, title_lines), unique_headers(header)


def skipped_lines_note(skipped: int, n_fields: int) -> str:
    """The note for CSV lines left out because their number of fields differs from the header's."""
    return f"Skipped {skipped:,} line(s) whose number of fields differs from the header's {n_fields}."


def _read_csv(data: bytes, name: str, notes: list[str]) -> LoadedFile:
    if not data.strip():
        raise InputFileError(f"'{name}' is empty (only blank lines).", "Export the data again; the file has no rows.")
    data, encoding = _decoded(data, name, notes)
    delimiter, header_line, names = _layout(data, name, notes)
    n_fields = len(names)
    placeholders = [f"f{i}" for i in range(n_fields)]

    skipped = 0

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=pa_csv.ReadOptions(column_names=placeholders, skip_rows=header_line + 1,
                                            block_size=8 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter or _NO_DELIMITER, newlines_in_values=True,
                                              ignore_empty_lines=True, invalid_row_handler=on_invalid_row),
            convert_options=pa_csv.ConvertOptions(column_types={p: pa.string() for p in placeholders},
                                                  strings_can_be_null=True, quoted_strings_can_be_null=True,
                                                  null_values=[""]),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise InputFileError(f"'{name}' cannot be read as CSV: {_why(exc)}.",
                             "Open it in a spreadsheet program and export it again as CSV.") from exc
    table = table.rename_columns(names)
    if skipped:
        notes.append(skipped_lines_note(skipped, n_fields))
    if table.num_rows == 0:
        raise InputFileError(
            f"'{name}' has a header row ({quote_names(names)}) but no data rows.",
            "Export the data again including the rows, not only the column names.",
        )
    return LoadedFile(table=table, source_name=name, file_format="csv", encoding=encoding, delimiter=delimiter,
                      notes=tuple(notes))


def _check_width(n_columns: int, name: str) -> None:
    if n_columns > MAX_COLUMNS:
        raise InputFileError(
            f"'{name}' has {n_columns:,} columns; Segmenter reads files of up to {MAX_COLUMNS:,} columns.",
            "Export only the transaction columns (customer, date, quantity, price, ...).",
        )


def _header_line(sample: str, delimiter: str, n_fields: int, title_lines: int) -> int:
    """Physical line index of the header (pyarrow's skip_rows counts lines, blank ones included)."""
    if not title_lines:
        return next((i for i, line in enumerate(sample.splitlines()) if line.strip()), 0)
    for i, line in enumerate(sample.splitlines()[: 4 * _MAX_TITLE_LINES]):
        with _long_csv_fields():
            fields = next(csv.reader([line], delimiter=delimiter), [])
        if len(fields) == n_fields:
            return i
    return title_lines


def _why(exc: object, limit: int = 200) -> str:
    """A library's error text on one line, shortened (some readers add multi-line context)."""
    text = " ".join(str(exc).split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----------------------------------------------------------------------------- Parquet

def _read_parquet(data: bytes, name: str, notes: list[str]) -> LoadedFile:
    try:
        metadata = pq.read_metadata(pa.BufferReader(data))
        _check_width(metadata.num_columns, name)
        cells = metadata.num_rows * max(metadata.num_columns, 1)
        if cells > MAX_PARQUET_CELLS:
            raise InputFileError(
                f"'{name}' holds {metadata.num_rows:,} rows × {metadata.num_columns:,} columns, more than the "
                f"{MAX_PARQUET_CELLS:,} cells Segmenter reads.",
                "Write only the transaction columns, or a shorter period, to the Parquet file.",
            )
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise InputFileError(f"'{name}' is a damaged Parquet file: {_why(exc)}.",
                             "Write the Parquet file again, or export the data as CSV.") from exc
    table = table.rename_columns(unique_headers(table.column_names))
    if table.num_columns == 0 or table.num_rows == 0:
        raise InputFileError(f"'{name}' has no data rows (columns: {quote_names(table.column_names) or 'none'}).",
                             "Write the file again with the transactions in it.")
    return LoadedFile(table=table, source_name=name, file_format="parquet", notes=tuple(notes))


# ----------------------------------------------------------------------------- Excel

def _reader_failed(exc: BaseException) -> bool:
    """An error of the workbook reader: any Exception, or the PanicException of a Rust panic.

    pyo3 derives PanicException from BaseException (and it cannot be imported), so
    ``except Exception`` would let a panic on a malformed workbook through as a traceback.
    """
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"

def _read_excel(data: bytes, name: str, sheet: str | None, notes: list[str]) -> LoadedFile:
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheet_names = tuple(reader.sheet_names)
    except BaseException as exc:  # fastexcel/calamine raise their own error classes (or panic)
        if not _reader_failed(exc):
            raise
        raise InputFileError(
            f"'{name}' is not a readable Excel workbook (damaged, truncated or password-protected): {_why(exc)}.",
            "Open it in Excel and save it again as .xlsx, or export the data as CSV.",
        ) from exc
    if not sheet_names:
        raise InputFileError(f"'{name}' has no sheets.", "Export the data again from Excel.")

    if sheet is not None:
        if sheet not in sheet_names:
            stripped = {s.strip().lower(): s for s in sheet_names}
            if sheet.strip().lower() not in stripped:
                raise InputFileError(f"'{name}' has no sheet '{sheet}'. Its sheets: {quote_names(sheet_names)}.",
                                     "Choose one of the sheets listed.")
            sheet = stripped[sheet.strip().lower()]
        table, header_note = _load_sheet(reader, sheet, name)
        if header_note:
            notes.append(header_note)
        chosen = sheet
    elif len(sheet_names) == 1:
        chosen = sheet_names[0]
        table, header_note = _load_sheet(reader, chosen, name)
        if header_note:
            notes.append(header_note)
    else:
        chosen, table, header_note, has_roles = _choose_sheet(reader, sheet_names, name)
        if header_note:
            notes.append(header_note)
        why = "it has the customer and date columns" if has_roles else "it is the largest table"
        others = [s for s in sheet_names if s != chosen]
        notes.append(f"Read sheet '{chosen}' ({why}; the other sheet(s) {quote_names(others)} were skipped). "
                     "Choose another sheet if this is not the transactions.")
    if table.num_rows == 0:
        raise InputFileError(
            f"Sheet '{chosen}' of '{name}' has a header row ({quote_names(table.column_names)}) but no data rows.",
            "Choose the sheet that holds the transactions, or export the data again.",
        )
    return LoadedFile(table=table, source_name=name, file_format="xlsx", sheet=chosen, sheets=sheet_names,
                      notes=tuple(notes))


def _load_sheet(reader, sheet_name: str, name: str) -> tuple[pa.Table, str | None]:
    """Load one sheet as Arrow; find the header row when it is not the first row."""
    try:
        excel_sheet = reader.load_sheet(sheet_name, schema_sample_rows=None, skip_whitespace_tail_rows=True,
                                        whitespace_as_null=True)
        columns = excel_sheet.available_columns()
        generated = sum(1 for c in columns if str(c.column_name_from).endswith("generated"))
        header_note = None
        if columns and generated * 2 >= len(columns) and len(columns) > 1:
            header_row = _find_header_row(reader, sheet_name)
            if header_row:
                excel_sheet = reader.load_sheet(sheet_name, header_row=header_row, schema_sample_rows=None,
                                                skip_whitespace_tail_rows=True, whitespace_as_null=True)
                header_note = (f"Sheet '{sheet_name}': the header is on row {header_row + 1}; "
                               f"the {header_row} line(s) above it were skipped.")
        batch = excel_sheet.to_arrow()
    except BaseException as exc:
        if not _reader_failed(exc):
            raise
        raise InputFileError(
            f"Sheet '{sheet_name}' of '{name}' cannot be read: {_why(exc)}.",
            "Open the workbook in Excel and save it again, or export the sheet as CSV.",
        ) from exc
    table = pa.Table.from_batches([batch])
    table = table.rename_columns(unique_headers([_clean_excel_name(n) for n in table.column_names]))
    table = _drop_empty_generated(table)
    return table, header_note


def _clean_excel_name(name: str) -> str:
    return "" if name.startswith("__UNNAMED__") else name


def _drop_empty_generated(table: pa.Table) -> pa.Table:
    """Drop columns with no header and no values (formatting left in empty Excel columns)."""
    keep = [n for n, col in zip(table.column_names, table.columns)
            if not (n.startswith("column_") and col.null_count == len(col))]
    return table.select(keep) if len(keep) != table.num_columns else table


def _find_header_row(reader, sheet_name: str) -> int:
    """Index of the first row that is as wide as the data below it (title lines are narrower)."""
    preview = reader.load_sheet(sheet_name, header_row=None, n_rows=_EXCEL_PREVIEW_ROWS, dtypes="string",
                                whitespace_as_null=True).to_arrow()
    if preview.num_rows == 0:
        return 0
    rows = preview.to_pylist()
    widths = [sum(v is not None for v in row.values()) for row in rows]
    widest = max(widths)
    for i, width in enumerate(widths[:_MAX_TITLE_LINES + 1]):
        if width * 2 > widest:
            return i
    return 0


def _choose_sheet(reader, sheet_names: tuple[str, ...], name: str) -> tuple[str, pa.Table, str | None, bool]:
    """The sheet that looks like the transactions: (name, table, header note, whether it was
    chosen for having customer and date columns rather than for being the largest)."""
    from .columns import detect_roles

    best = None
    for sheet_name in sheet_names:
        try:
            table, header_note = _load_sheet(reader, sheet_name, name)
        except InputFileError:
            continue
        roles = detect_roles(table.slice(0, _SNIFF_ROWS)) if table.num_rows else {}
        has_roles = "customer" in roles and "date" in roles
        key = (has_roles, table.num_rows * table.num_columns)
        if best is None or key > best[0]:
            best = (key, sheet_name, table, header_note)
    if best is None:
        raise InputFileError(f"No sheet of '{name}' can be read ({quote_names(sheet_names)}).",
                             "Open the workbook in Excel and save it again, or export the data as CSV.")
    (has_roles, _), chosen, table, header_note = best
    return chosen, table, header_note, has_roles

"""Exports a marketer can open in a spreadsheet safely, and atomic file writes that fail cleanly."""
from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import OutputError
from .formats import EXCEL_DATE_FORMAT, column_label, number_formats, rounded_for_export

__all__ = ["FORMULA_PREFIXES", "neutralise_formulas", "to_csv_bytes", "to_xlsx_bytes", "write_atomic",
           "write_table", "all_or_nothing"]

# A spreadsheet treats a cell starting with these as a formula (CSV injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutralise_value(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and headers) cannot be run as formulas: a leading ' is added."""
    safe = table.copy()
    for column in safe.columns:
        series = safe[column]
        if isinstance(series.dtype, pd.StringDtype):  # vectorised: 800k customers in milliseconds
            risky = series.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if risky.any():
                safe[column] = series.mask(risky, "'" + series)
        elif pd.api.types.is_string_dtype(series) or series.dtype == object:
            safe[column] = series.map(_neutralise_value, na_action="ignore")
    safe.columns = [_neutralise_value(str(column)) for column in safe.columns]
    return safe


def _excel_ready(table: pd.DataFrame) -> pd.DataFrame:
    ready = neutralise_formulas(rounded_for_export(table))
    for column in ready.columns:
        if isinstance(ready[column].dtype, pd.DatetimeTZDtype):
            ready[column] = ready[column].dt.tz_localize(None)
    return ready


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV, formulas neutralised, numbers as people read them (formats.rounded_for_export:
    money to cents, shares to 4 places, dates as 2011-09-11)."""
    with tempfile.TemporaryDirectory(prefix="segmenter-csv-") as folder:
        path = Path(folder) / "table.csv"
        try:
            _write_csv(path, table)
        except Exception as error:
            if _is_io_failure(error):
                raise _output_error(path, error) from error
            raise
        return path.read_bytes()


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    """UTF-8 CSV with formulas neutralised, written by DuckDB's CSV writer: the same text as
    DataFrame.to_csv (quotes only where needed, empty for missing) at five times the speed,
    which matters for 800k customers (0.7 s instead of 3.9 s)."""
    import duckdb

    with duckdb.connect() as con:
        con.register("segmenter_export", neutralise_formulas(rounded_for_export(table)))
        con.execute(f"COPY segmenter_export TO '{_sql_text(str(path))}' (FORMAT csv, HEADER)")


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def to_xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *, currency: str | None = None) -> bytes:
    """A workbook with one sheet per table; strings are never turned into formulas or links.

    Numbers keep their full value but are rounded as in the CSV and carry an Excel number format
    by column kind (formats.COLUMNS): money ``#,##0.00`` (with the currency when known), shares
    ``0.0%``, counts ``#,##0``, dates ``yyyy-mm-dd``; the header row is frozen."""
    buffer = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": options},
                        date_format=EXCEL_DATE_FORMAT, datetime_format=EXCEL_DATE_FORMAT + " hh:mm") as writer:
        for name, table in sheets.items():
            ready = _excel_ready(table)
            ready.to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            formats = number_formats(list(table.columns), currency=currency)
            for index, column in enumerate(table.columns):
                width = min(max(len(column_label(str(column))), len(str(column)), 8) + 2, 40)
                number_format = formats.get(str(column))
                cell_format = writer.book.add_format({"num_format": number_format}) if number_format else None
                sheet.set_column(index, index, width, cell_format)
            sheet.freeze_panes(1, 0)
    return buffer.getvalue()


# --------------------------------------------------------------------------- writing files
#
# Every output file (customers CSV/XLSX, the report, and any later output) is written through
# `write_atomic`/`write_table`: first into a private temporary folder beside the target, then
# renamed over it, so readers never see half a file and a failure leaves nothing behind (the
# whole temporary folder goes, whatever the writer put in it). Inside `all_or_nothing()` the
# renames wait for the end of the block: several outputs appear together, or none does.

_CAUSES = {  # errno → (what happened, how to fix it), in a marketer's words
    errno.ENOSPC: ("no space left on the disk", "Free some space there, or write the file to another disk."),
    errno.EDQUOT: ("the disk quota is used up", "Free some of your space there, or write the file elsewhere."),
    errno.EROFS: ("the file system is read-only", "Write the file to a folder you can write to."),
    errno.ENOENT: ("its folder does not exist (any more)", "Create the folder again, or write the file elsewhere."),
    errno.EACCES: ("permission denied", "Write the file to a folder you can write to."),
    errno.EPERM: ("operation not permitted", "Write the file to a folder you can write to."),
    errno.EISDIR: ("a folder has that name", "Give a file name, not a folder."),
    errno.EFBIG: ("the file is too large for that file system", "Write the file to another disk."),
    errno.EIO: ("the disk reported an input/output error", "Check the disk, or write the file elsewhere."),
}


def _io_errno(error: BaseException) -> int | None:
    """The errno of an I/O failure: an OSError's own, or the one DuckDB's writer names in its text."""
    if isinstance(error, OSError):
        return error.errno or errno.EIO
    text = str(error)
    for code in _CAUSES:
        if os.strerror(code) in text:
            return code
    return errno.EIO


def _is_io_failure(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return True
    if type(error).__module__.split(".")[0].lstrip("_") == "duckdb":  # (its classes live in _duckdb)
        import duckdb

        return isinstance(error, duckdb.IOException)
    return False


def _output_error(target: Path, error: BaseException) -> OutputError:
    code = _io_errno(error)
    cause, hint = _CAUSES.get(code, (None, "Check the disk and the folder, or write the file elsewhere."))
    if cause is None:
        cause = (getattr(error, "strerror", None) or os.strerror(code)).lower()
    return OutputError(f"Cannot write {target}: {cause}.", hint=hint)


@dataclass
class _Staged:
    target: Path
    folder: Path  # the private temporary folder beside the target, removed in the end
    existed: bool  # whether the target was there before (a new one is removed if a later output fails)

    @property
    def temporary(self) -> Path:
        return self.folder / self.target.name


_STAGING: ContextVar[list[_Staged] | None] = ContextVar("segmenter_output_staging", default=None)


def _stage(path: str | os.PathLike, write: Callable[[Path], object]) -> _Staged:
    target = Path(path)
    try:
        folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    except OSError as error:
        raise _output_error(target, error) from error
    staged = _Staged(target=target, folder=folder, existed=target.exists())
    try:
        write(staged.temporary)
    except BaseException as error:
        shutil.rmtree(folder, ignore_errors=True)
        if _is_io_failure(error):
            raise _output_error(target, error) from error
        raise
    return staged


def _commit(staged: _Staged) -> None:
    try:
        os.replace(staged.temporary, staged.target)
    except OSError as error:
        raise _output_error(staged.target, error) from error
    finally:
        shutil.rmtree(staged.folder, ignore_errors=True)


def _atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    staged = _stage(path, write)
    batch = _STAGING.get()
    if batch is None:
        _commit(staged)
    else:
        batch.append(staged)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Files written inside the block appear together at its end; when one cannot be written
    (OutputError) or anything else fails, none of them is left behind."""
    batch: list[_Staged] = []
    token = _STAGING.set(batch)
    try:
        yield
    except BaseException:
        for staged in batch:
            shutil.rmtree(staged.folder, ignore_errors=True)
        raise
    finally:
        _STAGING.reset(token)
    done: list[_Staged] = []
    try:
        for staged in batch:
            _commit(staged)
            done.append(staged)
    except OutputError:
        for staged in batch[len(done):]:
            shutil.rmtree(staged.folder, ignore_errors=True)
        for staged in done:  # files this block created go again; an older file that was replaced cannot come back
            if not staged.existed:
                staged.target.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically; OutputError (naming the file and the cause) when the
    disk is full, read-only, the folder is gone..., and then nothing is left behind."""
    _atomically(path, lambda temporary: temporary.write_bytes(data))


def write_table(path: str | os.PathLike, table: pd.DataFrame, *, sheet_name: str = "Customers",
                extra_sheets: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Write CSV or XLSX by the file's extension, atomically (errors as in `write_atomic`)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        write_atomic(path, to_xlsx_bytes({sheet_name: table, **(extra_sheets or {})}))
    else:
        _atomically(path, lambda temporary: _write_csv(temporary, table))

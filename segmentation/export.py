"""Exports a marketer can open in a spreadsheet safely, and atomic file writes."""
from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise_formulas", "to_csv_bytes", "to_xlsx_bytes", "write_atomic",
           "write_table"]

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
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            safe[column] = series.map(_neutralise_value, na_action="ignore")
    safe.columns = [_neutralise_value(str(column)) for column in safe.columns]
    return safe


def _excel_ready(table: pd.DataFrame) -> pd.DataFrame:
    ready = neutralise_formulas(table)
    for column in ready.columns:
        if isinstance(ready[column].dtype, pd.DatetimeTZDtype):
            ready[column] = ready[column].dt.tz_localize(None)
    return ready


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    return neutralise_formulas(table).to_csv(index=False, lineterminator="\n").encode("utf-8")


def to_xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """A workbook with one sheet per table; strings are never turned into formulas or links."""
    buffer = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
        for name, table in sheets.items():
            _excel_ready(table).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_table(path: str | os.PathLike, table: pd.DataFrame, *, sheet_name: str = "Customers",
                extra_sheets: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Write CSV or XLSX by the file's extension, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        write_atomic(path, to_xlsx_bytes({sheet_name: table, **(extra_sheets or {})}))
    else:
        write_atomic(path, to_csv_bytes(table))

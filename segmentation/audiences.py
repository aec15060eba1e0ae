"""Audiences: one customer list per segment, ready to upload to an email or ads tool.

Two forms of the same lists: a ZIP holding one CSV per segment (``segment_01_champions.csv``,
…) and a workbook with a summary sheet and one sheet per segment. Every cell goes through
`export.neutralise_formulas`, as in the other exports.
"""
from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd

from . import export

__all__ = ["AUDIENCE_COLUMNS", "SUMMARY_SHEET", "SUMMARY_COLUMNS", "audience_tables", "file_names",
           "sheet_names", "audiences_zip", "audiences_xlsx", "write_audiences"]

# Columns of every audience list, in order; `email` only when the file had an email column.
AUDIENCE_COLUMNS = ["customer_id", "email", "segment_id", "segment", "recency", "frequency", "monetary"]
SUMMARY_SHEET = "Summary"
SUMMARY_COLUMNS = ["segment_id", "segment", "customers", "share", "revenue", "revenue_share", "recency_median",
                   "frequency_median", "monetary_median", "action"]
EXCEL_SHEET_NAME_LIMIT = 31
EXCEL_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same segments give the same bytes


def _segments(profiles: pd.DataFrame) -> list[tuple[int, str]]:
    ordered = profiles.sort_values("segment_id")
    return [(int(i), str(s)) for i, s in zip(ordered["segment_id"], ordered["segment"], strict=True)]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_") or "segment"


def _number(segment_id: int, width: int) -> str:
    return f"{segment_id:0{width}d}"


def _width(segments: list[tuple[int, str]]) -> int:
    return max(2, len(str(max((i for i, _ in segments), default=0))))


def file_names(profiles: pd.DataFrame) -> dict[int, str]:
    """segment_id → CSV name in the ZIP: ``segment_01_champions.csv`` (numbered by value)."""
    segments = _segments(profiles)
    width = _width(segments)
    return {i: f"segment_{_number(i, width)}_{_slug(name)}.csv" for i, name in segments}


def sheet_names(profiles: pd.DataFrame) -> dict[int, str]:
    """segment_id → a valid, unique Excel sheet name: ``01 Champions``.

    Excel refuses names longer than 31 characters, containing any of ``[]:*?/\\``, starting or
    ending with an apostrophe, or equal (ignoring case) to another sheet's or to "History".
    The number in front keeps names unique however they are cut.
    """
    segments = _segments(profiles)
    width = _width(segments)
    taken = {SUMMARY_SHEET.lower(), "history"}
    names = {}
    for segment_id, segment in segments:
        clean = " ".join(EXCEL_SHEET_FORBIDDEN.sub("-", segment).split())
        name = f"{_number(segment_id, width)} {clean}"[:EXCEL_SHEET_NAME_LIMIT].strip().strip("'").strip()
        base, extra = name, 2
        while name.lower() in taken:  # cannot happen with distinct ids; kept as the guarantee
            suffix = f" ({extra})"
            name = base[: EXCEL_SHEET_NAME_LIMIT - len(suffix)] + suffix
            extra += 1
        taken.add(name.lower())
        names[segment_id] = name
    return names


def audience_tables(customers: pd.DataFrame, profiles: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """segment_id → its customers (AUDIENCE_COLUMNS present in `customers`), biggest spenders first."""
    columns = [c for c in AUDIENCE_COLUMNS if c in customers.columns]
    missing = {"customer_id", "segment_id", "segment"} - set(columns)
    if missing:
        raise ValueError(f"customers has no column {', '.join(sorted(missing))}: segment the customers first.")
    ordered = customers[columns].sort_values(["segment_id", "monetary", "customer_id"],
                                             ascending=[True, False, True], kind="stable")
    groups = dict(tuple(ordered.groupby("segment_id", sort=True)))
    return {segment_id: groups.get(segment_id, ordered.iloc[:0]).reset_index(drop=True)
            for segment_id, _ in _segments(profiles)}


def audiences_zip(customers: pd.DataFrame, profiles: pd.DataFrame) -> bytes:
    """A ZIP with one formula-safe UTF-8 CSV per segment."""
    names = file_names(profiles)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for segment_id, table in audience_tables(customers, profiles).items():
            member = zipfile.ZipInfo(names[segment_id], date_time=_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, export.to_csv_bytes(table))
    return buffer.getvalue()


def audiences_xlsx(customers: pd.DataFrame, profiles: pd.DataFrame, *, currency: str | None = None) -> bytes:
    """A workbook: a summary sheet (one row per segment, naming its sheet) and one sheet per segment;
    money in `currency` (a symbol or code) when given."""
    sheets = sheet_names(profiles)
    summary = profiles.sort_values("segment_id")[[c for c in SUMMARY_COLUMNS if c in profiles.columns]].copy()
    summary.insert(2, "sheet", summary["segment_id"].map(sheets))
    tables = audience_tables(customers, profiles)
    return export.to_xlsx_bytes({SUMMARY_SHEET: summary, **{sheets[i]: tables[i] for i in tables}}, currency=currency)


def write_audiences(path: str | os.PathLike, customers: pd.DataFrame, profiles: pd.DataFrame) -> None:
    """Write the audiences atomically: a ZIP of CSVs for ``.zip``, the workbook for ``.xlsx``."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".zip", ".xlsx"):
        raise ValueError(f"{path}: audiences are written as .zip (one CSV per segment) or .xlsx.")
    data = audiences_zip(customers, profiles) if suffix == ".zip" else audiences_xlsx(customers, profiles)
    export.write_atomic(path, data)

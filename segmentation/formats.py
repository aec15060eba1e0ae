"""How numbers look to people, declared once: each column's label and kind (money, share, count,
days, date…), which the exports (CSV and Excel), the app's tables and the report read; and the
few text helpers the screens share (money with its currency, "1 purchase"/"2 purchases", dates).

Decisions (README "Numbers and names"): money to cents with thousands separators and the file's
currency when known; shares as percentages (Excel: the fraction with a ``0.0%`` format, so sums
still work); one date format, ISO ``2011-09-11``, on screen, in the date pickers, in the report and
in the exports (Excel: a real date shown that way).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

__all__ = ["DATE_FORMAT", "EXCEL_DATE_FORMAT", "TABLE_DATE_FORMAT", "Kind", "KINDS", "COLUMNS", "ColumnFormat",
           "column_kind", "column_label", "rounded_for_export", "excel_format", "money", "money_format", "plural",
           "day", "number_formats"]

# One date format everywhere, ISO 8601 (2011-09-11): the one every reader reads the same way (US and
# European), and the one Streamlit's date pickers can show too (they cannot show "11 Sep 2011").
DATE_FORMAT = "%Y-%m-%d"  # screens, the report, chart titles, CSV
EXCEL_DATE_FORMAT = "yyyy-mm-dd"  # the same in a workbook
TABLE_DATE_FORMAT = "YYYY-MM-DD"  # the same in st.column_config (moment.js) and st.date_input


@dataclass(frozen=True)
class Kind:
    """What a column holds: how many decimals an export keeps, and its Excel number format."""

    decimals: int | None  # None: not a float to round (text, dates, integers)
    excel: str | None  # Excel number format (None: the workbook's default)


KINDS: dict[str, Kind] = {
    "money": Kind(2, "#,##0.00"),
    "share": Kind(4, "0.0%"),  # a fraction of 1 (0.1786), shown as 17.9 %
    "count": Kind(0, "#,##0"),
    "average": Kind(1, "#,##0.0"),  # a mean of counts or days
    "days": Kind(0, "#,##0"),
    "score": Kind(None, "0"),
    "ratio": Kind(3, "0.000"),  # model quantities: margin, stability, silhouette
    "date": Kind(None, EXCEL_DATE_FORMAT),
    "text": Kind(None, None),
}


@dataclass(frozen=True)
class ColumnFormat:
    label: str
    kind: str


# Every column the product shows or exports, by its contract name (names never change; labels may).
COLUMNS: dict[str, ColumnFormat] = {
    "customer_id": ColumnFormat("Customer", "text"),
    "email": ColumnFormat("Email", "text"),
    "segment_id": ColumnFormat("#", "score"),
    "segment": ColumnFormat("Segment", "text"),
    "rfm_segment": ColumnFormat("RFM score label", "text"),
    "recency": ColumnFormat("Days since last purchase", "days"),
    "frequency": ColumnFormat("Purchases", "count"),
    "monetary": ColumnFormat("Total spend", "money"),
    "r_score": ColumnFormat("R score", "score"),
    "f_score": ColumnFormat("F score", "score"),
    "m_score": ColumnFormat("M score", "score"),
    "tenure": ColumnFormat("Days since first purchase", "days"),
    "avg_order_value": ColumnFormat("Average order value", "money"),
    "first_purchase": ColumnFormat("First purchase", "date"),
    "last_purchase": ColumnFormat("Last purchase", "date"),
    "country": ColumnFormat("Country", "text"),
    "action": ColumnFormat("Suggested action", "text"),
    "margin": ColumnFormat("Margin", "ratio"),
    "borderline": ColumnFormat("Borderline", "text"),
    # segment summary (segments.PROFILE_COLUMNS, audiences.SUMMARY_COLUMNS)
    "customers": ColumnFormat("Customers", "count"),
    "share": ColumnFormat("Share of customers", "share"),
    "revenue": ColumnFormat("Revenue", "money"),
    "revenue_share": ColumnFormat("Share of revenue", "share"),
    "recency_mean": ColumnFormat("Days since last purchase (mean)", "average"),
    "recency_median": ColumnFormat("Days since last purchase (median)", "average"),
    "frequency_mean": ColumnFormat("Purchases (mean)", "average"),
    "frequency_median": ColumnFormat("Purchases (median)", "average"),
    "monetary_mean": ColumnFormat("Total spend (mean)", "money"),
    "monetary_median": ColumnFormat("Total spend (median)", "money"),
    "rfm_segment_top": ColumnFormat("Most common RFM score label", "text"),
    "stability": ColumnFormat("Stability", "ratio"),
    "sheet": ColumnFormat("Sheet", "text"),
    # migration (migration.MIGRATION_COLUMNS)
    "segment_id_a": ColumnFormat("# at first date", "score"),
    "segment_a": ColumnFormat("Segment at first date", "text"),
    "segment_id_b": ColumnFormat("# at second date", "score"),
    "segment_b": ColumnFormat("Segment at second date", "text"),
    "revenue_between": ColumnFormat("Revenue between the dates", "money"),
    # migration's per-date R, F, M (migration.EXTRA_COLUMNS)
    **{f"{name}_{side}": ColumnFormat(f"{label} at {where} date", kind)
       for side, where in (("a", "first"), ("b", "second"))
       for name, label, kind in (("recency", "Days since last purchase", "days"), ("frequency", "Purchases", "count"),
                                 ("monetary", "Total spend", "money"), ("rfm_segment", "RFM score label", "text"))},
    # cleaning audit
    "label": ColumnFormat("Removed because", "text"),
    "rows": ColumnFormat("Rows", "count"),
}


def column_kind(name: str) -> str:
    """The kind of a column by name; an unknown column is "text" (left as it is)."""
    column = COLUMNS.get(str(name))
    return column.kind if column else "text"


def column_label(name: str) -> str:
    """A column's label for people (its name when it is not declared)."""
    column = COLUMNS.get(str(name))
    return column.label if column else str(name)


def rounded_for_export(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with floats rounded to their kind's decimals (money to cents, shares to 4 places: 0.1786)
    and dates without a time of day when none has one; names and order unchanged."""
    ready = table.copy()
    for name in ready.columns:
        series = ready[name]
        kind = KINDS[column_kind(name)]
        if kind.decimals is not None and pd.api.types.is_float_dtype(series):
            ready[name] = series.round(kind.decimals)
        elif column_kind(name) == "date" and pd.api.types.is_datetime64_any_dtype(series):
            if isinstance(series.dtype, pd.DatetimeTZDtype):
                series = series.dt.tz_localize(None)
            if (series.dropna() == series.dropna().dt.normalize()).all():  # 2011-09-11, not 2011-09-11 00:00:00
                ready[name] = series.astype(pd.ArrowDtype(pa.date32()))  # vectorised (800k customers: ms)
            else:
                ready[name] = series
    return ready


def excel_format(name: str, *, currency: str | None = None) -> str | None:
    """The Excel number format of a column (money with the currency symbol when known)."""
    kind = column_kind(name)
    number_format = KINDS[kind].excel
    if kind == "money" and currency:
        symbol = currency.replace('"', "")
        number_format = f'"{symbol}"{number_format}' if len(symbol) == 1 else f'{number_format} "{symbol}"'
    return number_format


def money(value: float, currency: str | None = None, *, decimals: int = 2) -> str:
    """1234.5 → "1,234.50"; with a currency "£1,234.50" (a symbol before) or "1,234.50 CHF" (a code after)."""
    sign = "−" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}"
    if not currency:
        return sign + text
    return f"{sign}{currency}{text}" if len(currency) == 1 else f"{sign}{text} {currency}"


def money_format(currency: str | None = None) -> str:
    """The printf format of a money column on screen (st.column_config): "£%,.2f", "%,.2f CHF"."""
    if not currency:
        return "%,.2f"
    return f"{currency}%,.2f" if len(currency) == 1 else f"%,.2f {currency}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 purchase", "2 purchases", "1,024 customers"."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def day(value) -> str:
    """A date in the product's one format: 2011-09-11."""
    return pd.Timestamp(value).strftime(DATE_FORMAT)


def number_formats(columns: Mapping[str, object] | list[str], *, currency: str | None = None) -> dict[str, str]:
    """Column name → Excel number format for the columns that have one."""
    formats = {str(name): excel_format(str(name), currency=currency) for name in columns}
    return {name: number_format for name, number_format in formats.items() if number_format}

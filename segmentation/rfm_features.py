"""Per-customer RFM features, written once as Ibis expressions.

Day differences come from epoch seconds (`// 86400` on day-normalised dates): engine-specific
date-diff functions disagree between DuckDB, PostgreSQL and Spark.
"""
from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from .errors import NoDataLeftError, ParameterError

__all__ = ["summary", "default_snapshot", "check_snapshot", "days_from", "customer_features",
           "customer_main_country", "customer_email", "customer_products"]

SECONDS_PER_DAY = 86_400


def _epoch_day(moment: ir.TimestampValue | date) -> ir.IntegerValue | int:
    if isinstance(moment, date):
        return (moment - date(1970, 1, 1)).days
    return moment.truncate("D").epoch_seconds() // SECONDS_PER_DAY


def days_from(start: ir.TimestampValue, end: ir.TimestampValue | date) -> ir.IntegerValue:
    """Calendar days from the day of `start` to the day of `end` (a timestamp expression or a
    date), whatever the hours: recency and tenure, here and in migration.py's as-of queries."""
    return _epoch_day(end) - _epoch_day(start)


def summary(purchases: ir.Table) -> tuple[tuple[str, ...], object, object, date]:
    """(countries, first date, last date, last kept purchase day) in one small query.

    Countries and the date range cover every row read (the filters offer them); the last kept
    purchase decides the default snapshot. NoDataLeftError when nothing was kept.
    """
    kept = purchases.drop_reason.isnull()
    per_country = purchases.group_by("country").agg(
        first=purchases.first_date.min(),
        last=purchases.last_date.max(),
        last_kept=purchases.last_date.max(where=kept),
    ).execute()
    countries = tuple(sorted(str(c) for c in per_country["country"].dropna()))
    last = per_country["last_kept"].dropna()
    if last.empty:
        raise NoDataLeftError("No transactions are left after cleaning.")
    last = pd.Timestamp(last.max())
    return countries, per_country["first"].min(), per_country["last"].max(), date(last.year, last.month, last.day)


def default_snapshot(last_purchase: date) -> date:
    """The day after the last purchase: every customer then has recency >= 1."""
    if last_purchase >= date.max:  # a placeholder such as 9999-12-31 has no day after it
        raise ParameterError(
            f"The last purchase date is {last_purchase.isoformat()}, a placeholder rather than a purchase, "
            "so no snapshot date can follow it.",
            hint="Filter the rows to a real date range (--to, or the date range in the app) or fix those dates.",
        )
    return last_purchase + timedelta(days=1)


def check_snapshot(snapshot: date, last_purchase: date) -> None:
    if snapshot <= last_purchase:
        raise ParameterError(
            f"Snapshot date {snapshot.isoformat()} is not after the last purchase in the data "
            f"({last_purchase.isoformat()}), so some recencies would be zero or negative.",
            hint=f"Choose a snapshot date of {default_snapshot(last_purchase).isoformat()} or later, "
            "or leave it empty to use the day after the last purchase.",
        )


def customer_features(purchases: ir.Table, snapshot: date) -> ir.Table:
    """One row per kept customer: recency, frequency, monetary, tenure, first/last purchase.

    Recency and tenure are calendar days from the last/first purchase day to `snapshot`.
    Frequency counts distinct purchases (invoices; see cleaning.purchase_of) with positive
    revenue. Monetary is the sum of line revenue, in integer units (`monetary_units`).
    """
    kept = purchases.filter(purchases.drop_reason.isnull())
    return kept.group_by("customer_id").agg(
        recency=days_from(kept.last_date.max(), snapshot),
        frequency=kept.purchase.nunique(where=kept.positive_lines > 0),
        monetary_units=kept.units.sum(),
        tenure=days_from(kept.first_date.min(), snapshot),
        first_purchase=kept.first_date.min(),
        last_purchase=kept.last_date.max(),
    )


def customer_main_country(purchases: ir.Table) -> ir.Table:
    """The country each customer bought from most often (most kept lines; ties: alphabetical)."""
    kept = purchases.filter(purchases.drop_reason.isnull(), purchases.country.notnull())
    lines = kept.group_by(["customer_id", "country"]).agg(lines=kept.lines.sum())
    rank = ibis.row_number().over(group_by=lines.customer_id, order_by=[ibis.desc(lines.lines), lines.country])
    return lines.filter(rank == 0).select("customer_id", "country")


def customer_email(kept: ir.Table) -> ir.Table:
    """Each customer's most recent non-blank email among the kept rows (ties on the same moment:
    the alphabetically last, so every engine picks the same). Blank emails are null already."""
    rows = kept.filter(kept.email.notnull())
    rank = ibis.row_number().over(group_by=rows.customer_id,
                                  order_by=[ibis.desc(rows.invoice_date), ibis.desc(rows.email)])
    return rows.mutate(email_rank=rank).filter(lambda t: t.email_rank == 0).select("customer_id", "email")


def customer_products(kept: ir.Table) -> ir.Table:
    """Revenue per customer and product, for the top products of each segment."""
    return (
        kept.filter(kept["product"].notnull())
        .group_by(["customer_id", "product"])
        .agg(description=kept.description.max(), revenue_units=kept.line_units.sum())
    )

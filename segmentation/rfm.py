"""Per-customer RFM features, written once as Ibis expressions.

Day differences come from epoch seconds (`// 86400` on day-normalised dates): engine-specific
date-diff functions disagree between DuckDB, PostgreSQL and Spark.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from .cleaning import MONEY_SCALE
from .errors import NoDataLeftError, ParameterError

__all__ = ["last_purchase_date", "default_snapshot", "check_snapshot", "customer_features",
           "customer_main_country", "customer_products"]

SECONDS_PER_DAY = 86_400


def _epoch_day(timestamp: ir.TimestampValue) -> ir.IntegerValue:
    return timestamp.truncate("D").epoch_seconds() // SECONDS_PER_DAY


def _epoch_day_of(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def last_purchase_date(kept: ir.Table) -> date:
    """Date of the last kept purchase; NoDataLeftError when nothing was kept."""
    last = kept.invoice_date.max().execute()
    if last is None or (hasattr(last, "year") is False):
        raise NoDataLeftError("No transactions are left after cleaning.")
    if isinstance(last, datetime):
        return last.date()
    return date(last.year, last.month, last.day)


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


def customer_features(kept: ir.Table, snapshot: date, *, has_invoice: bool) -> ir.Table:
    """One row per customer: recency, frequency, monetary, tenure, first/last purchase.

    Recency and tenure are calendar days from the last/first purchase day to `snapshot`.
    Frequency counts distinct invoices with positive revenue (without an invoice column, or for a
    line whose invoice is blank: distinct purchase timestamps). Monetary is the sum of line revenue.
    """
    snapshot_day = _epoch_day_of(snapshot)
    purchase_time = kept.invoice_date.cast("string")
    # A line whose invoice cell is blank is still a purchase: it counts by its time (else a customer
    # with only such lines would get frequency 0, and an average order value of infinity).
    purchase_key = ibis.coalesce(kept.invoice, purchase_time) if has_invoice else purchase_time
    day = _epoch_day(kept.invoice_date)
    return kept.group_by("customer_id").agg(
        recency=snapshot_day - day.max(),
        frequency=purchase_key.nunique(where=kept.line_units > 0),
        monetary_units=kept.line_units.sum(),
        tenure=snapshot_day - day.min(),
        first_purchase=kept.invoice_date.min(),
        last_purchase=kept.invoice_date.max(),
    )


def customer_main_country(kept: ir.Table) -> ir.Table:
    """The country each customer bought from most often (ties: alphabetical), for profiles."""
    lines = kept.filter(kept.country.notnull()).group_by(["customer_id", "country"]).agg(lines=ibis._.count())
    rank = ibis.row_number().over(group_by=lines.customer_id, order_by=[ibis.desc(lines.lines), lines.country])
    return lines.filter(rank == 0).select("customer_id", "country")


def customer_products(kept: ir.Table) -> ir.Table:
    """Revenue per customer and product, for the top products of each segment."""
    return (
        kept.filter(kept["product"].notnull())
        .group_by(["customer_id", "product"])
        .agg(description=kept.description.max(), revenue_units=kept.line_units.sum())
    )


def monetary_from_units(units):
    return units / MONEY_SCALE

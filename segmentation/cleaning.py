"""Cleaning rules and their audit, written once as Ibis expressions.

The same functions run on DuckDB (default), PostgreSQL or Spark: no pandas, no SQL strings.
Each row gets the name of the first rule that drops it (or none, when kept); the audit
counts rows, customers and revenue per rule, so rows in = rows kept + rows dropped, always.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from .settings import CLEANING_RULES, SWITCHABLE_RULES, CleaningSettings

__all__ = [
    "CANONICAL_COLUMNS",
    "MONEY_SCALE",
    "Audit",
    "Cleaned",
    "flag_rows",
    "clean",
    "audit_of",
]

CANONICAL_COLUMNS = (
    "customer_id", "invoice", "invoice_date", "quantity", "price", "amount",
    "product", "description", "country",
)
# Money is summed in integer millionths: integer sums are exact and associative on every
# engine, so a customer's total cannot flip sign (or differ between engines) by float noise.
MONEY_SCALE = 1_000_000
# A line above this is not a plausible sale; it is treated as an unreadable number
# (it would also overflow the integer money column).
MAX_LINE_AMOUNT = 1e12
# Set (to True) on an Ibis backend whose session is read-only (a user's PostgreSQL database,
# see sources.py): there the flagged rows cannot be cached as a temp table (PostgreSQL refuses
# CREATE TEMP TABLE in a read-only transaction), so they stay a query the database recomputes.
READ_ONLY_ATTRIBUTE = "segmenter_read_only"


@dataclass(frozen=True)
class Audit:
    """Where every row went: rows in, rows kept, and per rule what it removed."""

    rows_in: int
    rows_kept: int
    table: pd.DataFrame  # rule, label, rows, customers, revenue; one row per rule, in rule order

    @property
    def dropped(self) -> dict[str, int]:
        return {row.rule: int(row.rows) for row in self.table.itertuples()}

    @property
    def rows_dropped(self) -> int:
        return int(self.table["rows"].sum())

    def rules_that_dropped(self) -> list[str]:
        return [row.rule for row in self.table.itertuples() if row.rows > 0]


@dataclass(frozen=True)
class Cleaned:
    kept: ir.Table  # canonical columns + line_units, rows that passed every rule
    flagged: ir.Table  # every input row + drop_reason (null when kept)
    mode: str  # "quantity_price" or "amount"


def _money_mode(roles: Mapping[str, str]) -> str:
    return "quantity_price" if "quantity" in roles and "price" in roles else "amount"


def rule_names_for(roles: Mapping[str, str]) -> list[str]:
    """Rule names as reported for this mapping (the price rule is about amounts in amount files)."""
    mode = _money_mode(roles)
    return [
        "non_positive_amount" if rule.name == "non_positive_price" and mode == "amount" else rule.name
        for rule in CLEANING_RULES
    ]


def _is_bad_number(value: ir.FloatingValue) -> ir.BooleanValue:
    return value.isnull() | value.isnan() | value.isinf() | (value.abs() >= MAX_LINE_AMOUNT)


def flag_rows(transactions: ir.Table, roles: Mapping[str, str], settings: CleaningSettings) -> Cleaned:
    """Give every row a `drop_reason` (null when kept) and its money in integer units.

    `transactions` has the canonical columns (see docs/ARCHITECTURE.md); `roles` says which
    roles the file had, which decides how money is computed and which rules apply.
    """
    t = transactions.select(*CANONICAL_COLUMNS)
    t = t.mutate(description=t.description.fill_null("Unknown"))
    mode = _money_mode(roles)
    on = settings.rules
    has_invoice = "invoice" in roles

    if mode == "quantity_price":
        line_total = t.quantity * t.price
        bad_number = _is_bad_number(t.quantity) | _is_bad_number(t.price) | _is_bad_number(line_total)
    else:
        line_total = t.amount
        bad_number = _is_bad_number(t.amount)
    safe_total = ibis.cases((bad_number, 0.0), else_=line_total)
    t = t.mutate(line_units=(safe_total * MONEY_SCALE).round().cast("int64"))

    customer_missing = t.customer_id.isnull() | (t.customer_id.strip() == "")
    duplicate_rank = ibis.row_number().over(
        group_by=list(CANONICAL_COLUMNS), order_by=list(CANONICAL_COLUMNS)
    )
    if has_invoice:
        is_cancelled = t.invoice.strip().upper().startswith("C").fill_null(False)
    else:
        is_cancelled = ibis.literal(False)
    if mode == "quantity_price":
        non_positive_quantity = (t.quantity <= 0).fill_null(False)
        non_positive_money = (t.price <= 0).fill_null(False)
    else:
        non_positive_quantity = ibis.literal(False)
        non_positive_money = (t.amount <= 0).fill_null(False)
    if settings.net_returns:
        # Returns and cancellations stay in as negative revenue; only zero/negative prices go.
        is_cancelled_rule = ibis.literal(False)
        non_positive_quantity_rule = ibis.literal(False)
        if mode == "amount":
            non_positive_money = (t.amount == 0).fill_null(False)
    else:
        is_cancelled_rule = is_cancelled
        non_positive_quantity_rule = non_positive_quantity

    day = t.invoice_date.date()
    outside_range = ibis.literal(False)
    if settings.date_from is not None:
        outside_range = outside_range | (day < settings.date_from)
    if settings.date_to is not None:
        outside_range = outside_range | (day > settings.date_to)
    country_filtered = ibis.literal(False)
    if settings.countries_include:
        country_filtered = country_filtered | ~t.country.isin(list(settings.countries_include)).fill_null(False)
    if settings.countries_exclude:
        country_filtered = country_filtered | t.country.isin(list(settings.countries_exclude)).fill_null(False)

    names = rule_names_for(roles)
    checks = {
        "invalid_date": t.invoice_date.isnull(),
        "invalid_number": bad_number,
        "missing_customer": customer_missing,
        "duplicate": duplicate_rank > 0,
        "cancelled": is_cancelled_rule,
        "non_positive_quantity": non_positive_quantity_rule,
        "non_positive_price": non_positive_money,
        "outside_date_range": outside_range.fill_null(False),
        "country_filtered": country_filtered,
    }
    # Rules that are not switchable (a row without a readable date, number or customer has
    # no place in RFM; filters apply when set) always run; the others when switched on.
    branches = [
        (checks[rule.name].fill_null(False), ibis.literal(name))
        for rule, name in zip(CLEANING_RULES, names)
        if rule.name in checks and (rule.name in on or rule.name not in SWITCHABLE_RULES)
    ]
    reason = ibis.cases(*branches, else_=ibis.null("string"))
    flagged = t.mutate(drop_reason=reason)

    # Customer-level rule: a customer whose kept lines sum to zero or less has no positive
    # revenue to segment on (returns netted against purchases, or prices that round to 0).
    kept_units = ibis.cases((flagged.drop_reason.isnull(), flagged.line_units), else_=0)
    customer_total = kept_units.sum().over(group_by=flagged.customer_id)
    flagged = flagged.mutate(
        drop_reason=ibis.coalesce(
            flagged.drop_reason,
            ibis.cases((customer_total <= 0, ibis.literal(names[-1])), else_=ibis.null("string")),
        )
    )
    return Cleaned(kept=_kept_rows(flagged), flagged=flagged, mode=mode)


def _kept_rows(flagged: ir.Table) -> ir.Table:
    return flagged.filter(flagged.drop_reason.isnull()).drop("drop_reason")


def audit_of(cleaned: Cleaned, roles: Mapping[str, str]) -> Audit:
    """Count rows, customers and revenue per drop reason (one small query)."""
    f = cleaned.flagged
    per_reason = (
        f.group_by(reason=f.drop_reason.fill_null("__kept__"))
        .agg(
            rows=f.count(),
            customers=f.customer_id.nunique(),
            revenue_units=f.line_units.sum(),
        )
        .execute()
    )
    counts = {row.reason: row for row in per_reason.itertuples()}
    names = rule_names_for(roles)
    labels = [rule.label for rule in CLEANING_RULES]
    records = []
    for name, label in zip(names, labels):
        row = counts.get(name)
        records.append(
            {
                "rule": name,
                "label": label,
                "rows": int(row.rows) if row is not None else 0,
                "customers": int(row.customers) if row is not None else 0,
                "revenue": round(float(row.revenue_units) / MONEY_SCALE, 2) if row is not None else 0.0,
            }
        )
    kept = counts.get("__kept__")
    rows_kept = int(kept.rows) if kept is not None else 0
    table = pd.DataFrame.from_records(records, columns=["rule", "label", "rows", "customers", "revenue"])
    rows_in = rows_kept + int(table["rows"].sum())
    return Audit(rows_in=rows_in, rows_kept=rows_kept, table=table)


def _materialised(flagged: ir.Table) -> ir.Table:
    try:
        read_only = getattr(ibis.get_backend(flagged), READ_ONLY_ATTRIBUTE, False)
    except Exception:  # no single backend to ask: cache as before
        read_only = False
    return flagged if read_only else flagged.cache()


def clean(transactions: ir.Table, roles: Mapping[str, str], settings: CleaningSettings) -> tuple[Cleaned, Audit]:
    """Flag every row once (materialised in the engine), then audit and keep from that."""
    cleaned = flag_rows(transactions, roles, settings)
    flagged = _materialised(cleaned.flagged)
    cleaned = Cleaned(kept=_kept_rows(flagged), flagged=flagged, mode=cleaned.mode)
    return cleaned, audit_of(cleaned, roles)

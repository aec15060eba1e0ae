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

from .settings import CLEANING_RULES, RULE_NAMES, SWITCHABLE_RULES, CleaningSettings

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
    """The cleaning, at two grains.

    `purchases` is what the audit and RFM read: one row per (drop_reason, customer_id, country,
    purchase) with the lines' counts, money and dates, materialised in the engine where it can
    be. It is one pass over the rows and a fraction of their size (a purchase is one invoice,
    or one timestamp without invoices), so a 50M-row file becomes a few million rows.
    `lines` (one row per distinct line before the customer-level rule) and `kept` (the kept
    rows) are queries over the transactions, run only when asked (per-product revenue, tests).
    """

    purchases: ir.Table  # PURCHASE_COLUMNS
    lines: ir.Table  # canonical columns + line_units, duplicates, drop_reason, purchase
    kept: ir.Table  # canonical columns + line_units, rows that passed every rule
    mode: str  # "quantity_price" or "amount"


# One row per (drop_reason, customer_id, country, purchase): `lines` rows under drop_reason,
# `copies` more rows under `duplicate`, their money in integer units (`copy_units` for the
# copies), `positive_lines` with revenue > 0, and the first/last timestamp.
PURCHASE_COLUMNS = (
    "drop_reason", "customer_id", "country", "purchase", "lines", "copies", "units", "copy_units",
    "positive_lines", "first_date", "last_date",
)


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
    """Give every line a `drop_reason` (null when kept), its money in integer units, `duplicates`
    and its `purchase`; sum the lines up per purchase (`Cleaned.purchases`), where the
    customer-level rule (`non_positive_customer_total`) is applied.

    `transactions` has the canonical columns (see docs/ARCHITECTURE.md); `roles` says which
    roles the file had, which decides how money is computed and which rules apply.

    With the duplicate rule on, the rows that pass the first three rules are grouped on all
    canonical columns (a hash aggregate, not a sorted window): each group is one line whose
    `duplicates` = copies - 1 rows are counted under `duplicate` and whose one remaining row
    goes through the later rules. Otherwise every input row is one line with `duplicates` = 0.
    So every input row is counted once: rows in = lines + sum(duplicates).
    """
    t = transactions.select(*CANONICAL_COLUMNS)
    t = t.mutate(description=t.description.fill_null("Unknown"))
    mode = _money_mode(roles)
    on = settings.rules
    names = rule_names_for(roles)
    name_of = dict(zip(RULE_NAMES, names))
    dedupe = "duplicate" in on or "duplicate" not in SWITCHABLE_RULES

    def line_money(rows: ir.Table) -> tuple[ir.BooleanValue, ir.IntegerValue]:
        if mode == "quantity_price":
            line_total = rows.quantity * rows.price
            bad = _is_bad_number(rows.quantity) | _is_bad_number(rows.price) | _is_bad_number(line_total)
        else:
            line_total = rows.amount
            bad = _is_bad_number(rows.amount)
        safe_total = ibis.cases((bad, 0.0), else_=line_total)
        return bad, (safe_total * MONEY_SCALE).round().cast("int64")

    # The first three rules look at one row's own values only, so identical rows share them.
    bad_number, line_units = line_money(t)
    early = [
        ("invalid_date", t.invoice_date.isnull()),
        ("invalid_number", bad_number),
        ("missing_customer", t.customer_id.isnull() | (t.customer_id.strip() == "")),
    ]
    early_reason = ibis.cases(
        *[(check.fill_null(False), ibis.literal(name_of[rule])) for rule, check in early],
        else_=ibis.null("string"),
    )
    rows = t.mutate(line_units=line_units, drop_reason=early_reason)
    if dedupe:
        dropped_early = rows.filter(rows.drop_reason.notnull()).mutate(duplicates=ibis.literal(0, "int64"))
        passed = rows.filter(rows.drop_reason.isnull()).select(*CANONICAL_COLUMNS)
        lines = passed.group_by(list(CANONICAL_COLUMNS)).agg(duplicates=passed.count() - 1)
        lines = lines.mutate(line_units=line_money(lines)[1], drop_reason=ibis.null("string"))
    else:
        dropped_early = None
        lines = rows.mutate(duplicates=ibis.literal(0, "int64"))
    lines = lines.select(*CANONICAL_COLUMNS, "line_units", "duplicates", "drop_reason")

    if "invoice" in roles:
        is_cancelled = lines.invoice.strip().upper().startswith("C").fill_null(False)
    else:
        is_cancelled = ibis.literal(False)
    if mode == "quantity_price":
        non_positive_quantity = (lines.quantity <= 0).fill_null(False)
        non_positive_money = (lines.price <= 0).fill_null(False)
    else:
        non_positive_quantity = ibis.literal(False)
        non_positive_money = (lines.amount <= 0).fill_null(False)
    if settings.net_returns:
        # Returns and cancellations stay in as negative revenue; only zero/negative prices go.
        is_cancelled_rule = ibis.literal(False)
        non_positive_quantity_rule = ibis.literal(False)
        if mode == "amount":
            non_positive_money = (lines.amount == 0).fill_null(False)
    else:
        is_cancelled_rule = is_cancelled
        non_positive_quantity_rule = non_positive_quantity

    day = lines.invoice_date.date()
    outside_range = ibis.literal(False)
    if settings.date_from is not None:
        outside_range = outside_range | (day < settings.date_from)
    if settings.date_to is not None:
        outside_range = outside_range | (day > settings.date_to)
    country_filtered = ibis.literal(False)
    if settings.countries_include:
        country_filtered = country_filtered | ~lines.country.isin(list(settings.countries_include)).fill_null(False)
    if settings.countries_exclude:
        country_filtered = country_filtered | lines.country.isin(list(settings.countries_exclude)).fill_null(False)

    later = {
        "cancelled": is_cancelled_rule,
        "non_positive_quantity": non_positive_quantity_rule,
        "non_positive_price": non_positive_money,
        "outside_date_range": outside_range.fill_null(False),
        "country_filtered": country_filtered,
    }
    # Rules that are not switchable (a row without a readable date, number or customer has
    # no place in RFM; filters apply when set) always run; the others when switched on.
    branches = [
        (later[rule.name].fill_null(False), ibis.literal(name_of[rule.name]))
        for rule in CLEANING_RULES
        if rule.name in later and (rule.name in on or rule.name not in SWITCHABLE_RULES)
    ]
    reason = ibis.coalesce(lines.drop_reason, ibis.cases(*branches, else_=ibis.null("string")))
    lines = lines.mutate(drop_reason=reason)

    lines = lines.mutate(purchase=purchase_of(lines, roles))
    if dropped_early is not None:
        lines = lines.union(dropped_early.mutate(purchase=purchase_of(dropped_early, roles)).select(*lines.columns))
    return Cleaned(purchases=_customer_rule(_purchases(lines), names[-1]), lines=lines,
                   kept=_kept_rows(lines, None), mode=mode)


def purchase_of(rows: ir.Table, roles: Mapping[str, str]) -> ir.StringValue:
    """What one purchase is: the invoice, or the timestamp for a blank invoice or a file without invoices
    (a line whose invoice cell is blank is still a purchase, counted by its time)."""
    at = rows.invoice_date.cast("string")
    return ibis.coalesce(rows.invoice, at) if "invoice" in roles else at


def _purchases(lines: ir.Table) -> ir.Table:
    """Lines → one row per (drop_reason, customer_id, country, purchase); see PURCHASE_COLUMNS."""
    return lines.group_by(["drop_reason", "customer_id", "country", "purchase"]).agg(
        lines=lines.count(),
        copies=lines.duplicates.sum().cast("int64"),
        units=lines.line_units.sum().cast("int64"),
        copy_units=(lines.duplicates * lines.line_units).sum().cast("int64"),
        positive_lines=lines.count(where=lines.line_units > 0),
        first_date=lines.invoice_date.min(),
        last_date=lines.invoice_date.max(),
    )


def _customer_rule(purchases: ir.Table, rule_name: str) -> ir.Table:
    """A customer whose kept lines sum to zero or less has no positive revenue to segment on
    (returns netted against purchases, or prices that round to 0): all their kept lines go."""
    kept = purchases.filter(purchases.drop_reason.isnull())
    totals = kept.group_by("customer_id").agg(customer_units=kept.units.sum())
    joined = purchases.left_join(totals, "customer_id")
    reason = ibis.coalesce(
        joined.drop_reason,
        ibis.cases((joined.customer_units <= 0, ibis.literal(rule_name)), else_=ibis.null("string")),
    )
    return joined.mutate(drop_reason=reason).select(*PURCHASE_COLUMNS)


def _kept_rows(lines: ir.Table, purchases: ir.Table | None) -> ir.Table:
    """Rows that passed every rule: lines without a reason, of customers the customer rule kept."""
    if purchases is None:
        purchases = _customer_rule(_purchases(lines), "dropped")
    customers = purchases.filter(purchases.drop_reason.isnull()).select("customer_id").distinct()
    kept = lines.filter(lines.drop_reason.isnull(), lines.customer_id.isin(customers.customer_id))
    return kept.drop("drop_reason", "duplicates", "purchase")


def audit_of(cleaned: Cleaned, roles: Mapping[str, str]) -> Audit:
    """Count rows, customers and revenue per drop reason (one small query over the purchases).

    A purchase row stands for `lines` rows under its `drop_reason` and `copies` rows under `duplicate`.
    """
    p = cleaned.purchases
    own = p.select(reason=p.drop_reason.fill_null("__kept__"), customer_id=p.customer_id,
                   rows=p.lines.cast("int64"), units=p.units)
    repeated = p.filter(p.copies > 0)
    copies = repeated.select(reason=ibis.literal("duplicate"), customer_id=repeated.customer_id,
                             rows=repeated.copies, units=repeated.copy_units)
    rows = own.union(copies)
    per_reason = (
        rows.group_by("reason")
        .agg(rows=rows.rows.sum(), customers=rows.customer_id.nunique(), revenue_units=rows.units.sum())
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


def _materialised(table: ir.Table) -> ir.Table:
    try:
        read_only = getattr(ibis.get_backend(table), READ_ONLY_ATTRIBUTE, False)
    except Exception:  # no single backend to ask: cache as before
        read_only = False
    return table if read_only else table.cache()


def clean(transactions: ir.Table, roles: Mapping[str, str], settings: CleaningSettings) -> tuple[Cleaned, Audit]:
    """Flag every row and sum them up per purchase once (materialised in the engine); the audit
    and RFM read those purchases, never the rows again."""
    cleaned = flag_rows(transactions, roles, settings)
    purchases = _materialised(cleaned.purchases)
    cleaned = Cleaned(purchases=purchases, lines=cleaned.lines, kept=_kept_rows(cleaned.lines, purchases),
                      mode=cleaned.mode)
    return cleaned, audit_of(cleaned, roles)

"""Cleaning rules and their audit, written once as Ibis expressions.

The same functions run on DuckDB (default), PostgreSQL or Spark: Ibis expressions, no SQL strings;
only the audit's few result rows become a pandas DataFrame.
They rely on the canonical schema (docs/ARCHITECTURE.md): ids and text trimmed, blank → null.
The rules are declared in `settings.CLEANING_RULES` (names, labels, help, switchable) and
given their stage and predicate here (`RULES`, the registry `flag_rows` and the audit iterate).
Each row gets the name of the first rule that drops it (or none, when kept); the audit
counts rows, customers and revenue per rule, so rows in = rows kept + rows dropped, always.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir
import pandas as pd

from .columns import is_email_header, money_divisor
from .errors import CurrencyError
from .schema import CANONICAL_COLUMNS, ROLE_OF_COLUMN, UNMAPPED_PREFIX
from .settings import CLEANING_RULES, CleaningSettings, Rule, status_treatment

__all__ = [
    "MONEY_SCALE",
    "RULES",
    "CleaningRule",
    "Audit",
    "Cleaned",
    "flag_rows",
    "clean",
    "audit_of",
    "STATUS_TREATMENTS",
    "status_note",
    "rule_labels",
    "inapplicable_rules",
    "rule_overlaps",
]

# Money is summed in integer millionths: integer sums are exact and associative on every
# engine, so a customer's total cannot flip sign (or differ between engines) by float noise.
MONEY_SCALE = 1_000_000
# A line above this is not a plausible sale; it is treated as an unreadable number
# (it would also overflow the integer money column).
MAX_LINE_AMOUNT = 1e12


@dataclass(frozen=True)
class Audit:
    """Where every row went: rows in, rows kept, and per rule what it removed."""

    rows_in: int
    rows_kept: int
    table: pd.DataFrame  # rule, label, rows, customers, revenue; one row per rule, in rule order
    # The status values found (role `status`) and how each was treated: status, treatment, rows.
    statuses: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STATUS_COLUMNS))

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
    lines: ir.Table  # canonical columns + line_units, rows, duplicates, drop_reason, purchase
    mode: str  # "quantity_price" or "amount"
    statuses: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STATUS_COLUMNS))

    @property
    def kept(self) -> ir.Table:
        """Canonical columns + line_units of the rows that passed every rule: lines without a
        reason, of customers the customer-level rule kept (in `purchases`)."""
        customers = self.purchases.filter(self.purchases.drop_reason.isnull()).select("customer_id").distinct()
        kept = self.lines.filter(self.lines.drop_reason.isnull(), self.lines.customer_id.isin(customers.customer_id))
        return kept.drop("drop_reason", "rows", "duplicates", "purchase")


STATUS_COLUMNS = ["status", "treatment", "rows"]
# How each kind of status value is treated, as the audit and the app say it (settings.status_treatment).
STATUS_TREATMENTS = {
    "paid": "counted as paid",
    "not paid": "not paid: removed",
    "unknown": "not recognised: kept",
}

# One row per (drop_reason, customer_id, country, purchase): `lines` rows under drop_reason,
# `copies` more rows under `duplicate`, their money in integer units (`copy_units` for the
# copies), `positive_lines` with revenue > 0, and the first/last timestamp.
PURCHASE_COLUMNS = (
    "drop_reason", "customer_id", "country", "purchase", "lines", "copies", "units", "copy_units",
    "positive_lines", "first_date", "last_date",
)


def _money_mode(roles: Mapping[str, str]) -> str:
    return "quantity_price" if "quantity" in roles and "price" in roles else "amount"


def rule_labels(roles: Mapping[str, str]) -> dict[str, str]:
    """Rule name → its label for this mapping ("Line amount zero or negative" in amount files)."""
    mode = _money_mode(roles)
    return {rule.name: rule.label(mode) for rule in RULES}


def inapplicable_rules(roles: Mapping[str, str], settings: CleaningSettings) -> dict[str, str]:
    """Switchable rules that cannot remove any row of this file with these settings → why not
    (a sentence for the marketer). Switching such a rule does nothing, so a screen greys it out."""
    mode = _money_mode(roles)
    why: dict[str, str] = {}
    if "invoice" not in roles:
        why["cancelled"] = "No invoice column is mapped, so no line can be recognised as a cancellation."
    elif settings.net_returns:
        why["cancelled"] = "Net returns is on: cancelled invoices stay, as negative revenue."
    if mode == "amount":
        why["non_positive_quantity"] = ("The money comes from a line amount, not quantity × unit price: "
                                        "a return is a negative amount (the line amount rule).")
    elif settings.net_returns:
        why["non_positive_quantity"] = "Net returns is on: returns stay, as negative revenue."
    return why


def rule_overlaps(roles: Mapping[str, str], settings: CleaningSettings) -> list[str]:
    """Sentences explaining why switching a rule off may not change the rows kept: the rows it
    would remove are removed by a later rule instead (each row counts under the first rule)."""
    mode = _money_mode(roles)
    notes = []
    if "invoice" in roles and not settings.net_returns and "cancelled" not in settings.rules:
        later = [rule.label(mode) for rule in RULES
                 if rule.name in ("non_positive_quantity", "non_positive_price") and rule.is_on(settings)
                 and (mode == "quantity_price" or rule.name == "non_positive_price")]
        if later:
            notes.append(
                f"Cancelled invoice is off, but a cancellation's lines have a negative "
                f"{'quantity' if mode == 'quantity_price' else 'amount'}: \"{later[0]}\" removes them instead, "
                "so the rows kept hardly change. To keep cancellations as negative revenue, turn on Net returns.")
    if settings.net_returns and mode == "quantity_price":
        notes.append("Net returns is on: cancellations and returns (negative quantities) are kept as negative "
                     "revenue, so the cancelled-invoice and negative-quantity rules have nothing to remove; customers "
                     "whose purchases and returns add up to zero or less are removed at the end.")
    return notes


def _is_bad_number(value: ir.FloatingValue) -> ir.BooleanValue:
    return value.isnull() | value.isnan() | value.isinf() | (value.abs() >= MAX_LINE_AMOUNT)


@dataclass(frozen=True)
class Context:
    """What a rule's predicate may look at besides the lines: the roles, the money mode, the
    user's settings and, for "row" rules, whether the row's numbers are unreadable (computed once)."""

    roles: Mapping[str, str]
    mode: str
    settings: CleaningSettings
    bad_number: ir.BooleanValue | None = None
    not_paid: tuple[str, ...] = ()  # the status values found that mean "not paid" (settings.status_treatment)


# A predicate gets the lines (canonical columns; for "customer" rules the purchases with the
# customer's kept money `customer_units`) and the context, and says which ones the rule drops;
# a null answer counts as "not dropped".
Predicate = Callable[[ir.Table, Context], ir.BooleanValue]
# When a rule runs: "row" rules look at one row's own values, before copies are counted (a row
# they drop is counted under them however many copies it has); "copies" counts the copies of a
# row that passed them; "line" rules then look at one remaining line; "customer" rules at a
# customer's kept lines summed up. The registry's order must follow these stages.
STAGES = ("row", "copies", "line", "customer")


@dataclass(frozen=True)
class CleaningRule:
    """A rule of the registry: how people see it (`settings.Rule`), when it runs and what it drops."""

    rule: Rule
    stage: str
    drops: Predicate | None  # None for "copies": the grouping finds them

    @property
    def name(self) -> str:
        return self.rule.name

    def reported_name(self, mode: str) -> str:
        return self.rule.amount_name if mode == "amount" and self.rule.amount_name else self.rule.name

    def label(self, mode: str) -> str:
        return self.rule.amount_label if mode == "amount" and self.rule.amount_label else self.rule.label

    def is_on(self, settings: CleaningSettings) -> bool:
        return not self.rule.switchable or self.rule.name in settings.rules


def _not_paid(lines: ir.Table, context: Context) -> ir.BooleanValue:
    if "status" not in context.roles or not context.not_paid:
        return ibis.literal(False)
    return lines.status.isin(list(context.not_paid))


def _cancelled(lines: ir.Table, context: Context) -> ir.BooleanValue:
    if "invoice" not in context.roles or context.settings.net_returns:  # net returns keep cancellations
        return ibis.literal(False)
    # C followed by digits only (C536379): Stripe's ch_… and PayPal's ids that begin with C are no
    # cancellations. The cheap prefix test first; the pattern only where it passes.
    prefixed = lines.invoice.startswith("C") | lines.invoice.startswith("c")
    return ibis.cases((prefixed, lines.invoice.re_search(r"^[Cc][0-9]+$")), else_=False)


def _non_positive_quantity(lines: ir.Table, context: Context) -> ir.BooleanValue:
    if context.mode != "quantity_price" or context.settings.net_returns:  # net returns keep returns
        return ibis.literal(False)
    return lines.quantity <= 0


def _non_positive_price(lines: ir.Table, context: Context) -> ir.BooleanValue:
    if context.mode == "quantity_price":
        return lines.price <= 0
    # A negative line amount is a return: with net returns it stays, only zero amounts go. A line
    # refunded in full (net of its refunded amount) is zero.
    amount = _line_total(lines, context.roles, context.mode)
    return amount == 0 if context.settings.net_returns else amount <= 0


def _line_total(rows: ir.Table, roles: Mapping[str, str], mode: str) -> ir.FloatingValue:
    """A line's money in major units: quantity × unit price or the line amount (divided by 100 where
    the header says cents, columns.money_divisor), less the refunded amount (its size, whatever its sign)."""
    if mode == "quantity_price":
        total = rows.quantity * _in_major_units(rows.price, roles.get("price"))
    else:
        total = _in_major_units(rows.amount, roles.get("amount"))
    if "refunded" in roles:
        total = total - _in_major_units(rows.refunded.abs().fill_null(0.0), roles.get("refunded"))
    return total


def _in_major_units(value: ir.FloatingValue, column: str | None) -> ir.FloatingValue:
    divisor = money_divisor(column)
    return value / divisor if divisor != 1 else value


def _outside_date_range(lines: ir.Table, context: Context) -> ir.BooleanValue:
    day = lines.invoice_date.date()
    outside = ibis.literal(False)
    if context.settings.date_from is not None:
        outside = outside | (day < context.settings.date_from)
    if context.settings.date_to is not None:
        outside = outside | (day > context.settings.date_to)
    return outside


def _country_filtered(lines: ir.Table, context: Context) -> ir.BooleanValue:
    filtered = ibis.literal(False)
    if context.settings.countries_include:
        filtered = filtered | ~lines.country.isin(list(context.settings.countries_include)).fill_null(False)
    if context.settings.countries_exclude:
        filtered = filtered | lines.country.isin(list(context.settings.countries_exclude)).fill_null(False)
    return filtered


_HOW: dict[str, tuple[str, Predicate | None]] = {
    "invalid_date": ("row", lambda lines, context: lines.invoice_date.isnull()),
    "invalid_number": ("row", lambda lines, context: context.bad_number),
    # ids are trimmed, blank → null in the canonical schema (parsing, sources.canonical)
    "missing_customer": ("row", lambda lines, context: lines.customer_id.isnull()),
    "duplicate": ("copies", None),
    "not_paid": ("line", _not_paid),
    "cancelled": ("line", _cancelled),
    "non_positive_quantity": ("line", _non_positive_quantity),
    "non_positive_price": ("line", _non_positive_price),
    "outside_date_range": ("line", _outside_date_range),
    "country_filtered": ("line", _country_filtered),
    "non_positive_customer_total": ("customer", lambda purchases, context: purchases.customer_units <= 0),
}


def _registry(rules: tuple[Rule, ...], how: Mapping[str, tuple[str, Predicate | None]]) -> tuple[CleaningRule, ...]:
    """settings.CLEANING_RULES joined with their predicates, checked: one predicate per rule, stages in order."""
    names = [rule.name for rule in rules]
    if sorted(names) != sorted(how):
        raise RuntimeError(f"Cleaning rules {sorted(set(names) ^ set(how))} are declared in settings.CLEANING_RULES "
                           "or given a predicate in cleaning.py, not both.")
    registry = tuple(CleaningRule(rule, *how[rule.name]) for rule in rules)
    stages = [rule.stage for rule in registry]
    in_order = sorted(stages, key=STAGES.index) == stages
    if not in_order or stages.count("copies") != 1 or stages.count("customer") != 1:
        raise RuntimeError(f"Cleaning rules must run in the stages {STAGES}, in that order, with one 'copies' "
                           f"and one 'customer' rule; got {[(r.name, r.stage) for r in registry]}.")
    return registry


# Every cleaning rule, in cleaning order: the audit, the app, the CLI and the docs list them from here
# (or from settings.CLEANING_RULES, the same rules without predicates).
RULES: tuple[CleaningRule, ...] = _registry(CLEANING_RULES, _HOW)
_COPIES = next(rule for rule in RULES if rule.stage == "copies")
_CUSTOMER = RULES[-1]


def flag_rows(transactions: ir.Table, roles: Mapping[str, str], settings: CleaningSettings) -> Cleaned:
    """Give every line a `drop_reason` (null when kept), its money in integer units, `duplicates`
    and its `purchase`; sum the lines up per purchase (`Cleaned.purchases`), where the
    customer-level rule (`non_positive_customer_total`) is applied.

    `transactions` has the canonical columns (see docs/ARCHITECTURE.md); `roles` says which
    roles the file had, which decides how money is computed and which rules apply. The rules
    are those of `RULES`, in their order.

    With the duplicate rule on, identical rows are grouped on all their columns (a hash aggregate,
    not a sorted window) into one line: the canonical columns and the unmapped ones that follow
    them (`unmapped_1`, ...), so a duplicate is a copy of the whole source row. A line the "row"
    rules drop stands for all
    its copies under that rule (`rows` = copies); of a line that passes them one row goes
    through the "line" rules (`rows` = 1) and the other copies are counted under `duplicate`
    (`duplicates` = copies - 1). Otherwise every input row is one line. So every input row is
    counted once: rows in = sum(rows) + sum(duplicates).
    """
    unmapped = unmapped_of(transactions)
    t = _order_level_fields(transactions.select(*CANONICAL_COLUMNS, *unmapped), roles)
    t = t.mutate(description=t.description.fill_null("Unknown"))
    mode = _money_mode(roles)
    statuses = _statuses_found(t) if "status" in roles else pd.DataFrame(columns=STATUS_COLUMNS)
    not_paid = tuple(statuses.loc[statuses["treatment"] == STATUS_TREATMENTS["not paid"], "status"])
    context = Context(roles, mode, settings, not_paid=not_paid)
    one_row_each = t.mutate(copies=ibis.literal(1, "int64"))
    dedupe = _COPIES.is_on(settings)
    # The lines: identical rows grouped first (one hash aggregate on all columns, unmapped ones
    # included), so every rule is computed once per distinct line; a line stands for `copies` rows.
    lines = _with_reasons(t.group_by([*CANONICAL_COLUMNS, *unmapped]).agg(copies=t.count()) if dedupe
                          else one_row_each, context)
    # The purchases: summed from the lines, or (DuckDB, copies dropped) the same purchases without
    # grouping the rows on their text: every row goes through the rules on its own and the copies
    # are found and subtracted by whole-row hashes.
    if dedupe and _hashes_rows(transactions):
        rows = _with_reasons(one_row_each, context, carry=tuple(unmapped))
        purchases = _purchases_by_hash(rows, [*CANONICAL_COLUMNS, *unmapped])
    else:
        purchases = _purchases(lines)
    return Cleaned(purchases=_customer_rule(purchases, replace(context, not_paid=()), _CUSTOMER.reported_name(mode)),
                   lines=lines.drop("passed_early"), mode=mode, statuses=statuses)


def _line_money(rows: ir.Table, roles: Mapping[str, str], mode: str) -> tuple[ir.BooleanValue, ir.IntegerValue]:
    """(whether a line's numbers are unreadable, its money in integer units: 0 when unreadable)."""
    line_total = _line_total(rows, roles, mode)
    if mode == "quantity_price":
        bad = _is_bad_number(rows.quantity) | _is_bad_number(rows.price) | _is_bad_number(line_total)
    else:
        bad = _is_bad_number(rows.amount) | _is_bad_number(line_total)
    if "refunded" in roles:  # a blank refund is none; an unreadable one makes the line unreadable
        bad = bad | (rows.refunded.notnull() & _is_bad_number(rows.refunded))
    safe_total = ibis.cases((bad, 0.0), else_=line_total)
    return bad, (safe_total * MONEY_SCALE).round().cast("int64")


def _first_reason(lines: ir.Table, stage: str, context: Context) -> ir.StringValue:
    """The name of the first rule of `stage` that drops the line, or null."""
    branches = [
        (rule.drops(lines, context).fill_null(False), ibis.literal(rule.reported_name(context.mode)))
        for rule in RULES
        if rule.stage == stage and rule.is_on(context.settings)
    ]
    return ibis.cases(*branches, else_=ibis.null("string")) if branches else ibis.null("string")


def _with_reasons(lines: ir.Table, context: Context, carry: tuple[str, ...] = ()) -> ir.Table:
    """Canonical columns + `copies` → + line_units, rows, duplicates, drop_reason, purchase,
    passed_early (and the `carry` columns, unchanged)."""
    bad_number, line_units = _line_money(lines, context.roles, context.mode)
    early_reason = _first_reason(lines, "row", replace(context, bad_number=bad_number))
    # Of a line that passes the "row" rules one row goes on and the other copies are
    # counted under `duplicate`.
    passed = early_reason.isnull()
    lines = lines.mutate(
        line_units=line_units,
        drop_reason=early_reason,
        rows=ibis.cases((passed, 1), else_=lines.copies).cast("int64"),
        duplicates=ibis.cases((passed, lines.copies - 1), else_=0).cast("int64"),
    )
    lines = lines.select(*CANONICAL_COLUMNS, *carry, "line_units", "rows", "duplicates", "drop_reason",
                         passed_early=passed)
    reason = ibis.coalesce(lines.drop_reason, _first_reason(lines, "line", context))
    return lines.mutate(drop_reason=reason, purchase=purchase_of(lines, context.roles))


# Fields shop exports write only on an order's first line (Shopify: `Financial Status`, `Billing
# Country`, ...), carried to the order's other lines in files with a status and an order number.
_ORDER_LEVEL = ("status", "customer_id", "invoice_date", "country", "email", "currency")


def _order_level_fields(t: ir.Table, roles: Mapping[str, str]) -> ir.Table:
    """Shop and payment exports: carry order-level fields to every line of their order, take the
    e-mail address where the customer id is blank or 0 (a guest checkout), and compare e-mail
    addresses used as ids in lower case without spaces. Other files pass unchanged."""
    if "status" in roles and "invoice" in roles:
        order = ibis.window(group_by=t.invoice)
        carried = {}
        for name in _ORDER_LEVEL:
            if ROLE_OF_COLUMN[name] in roles:
                value = t[name]
                # max() of the order's lines: its one written value (a line without an order number is alone)
                carried[name] = ibis.cases((t.invoice.isnull(), value), else_=value.coalesce(value.max().over(order)))
        t = t.mutate(**carried)
    customer, email = roles.get("customer"), roles.get("email")
    if customer and email and customer != email:
        guest = t.customer_id.isnull() | (t.customer_id == "0")
        t = t.mutate(customer_id=ibis.cases((guest & t.email.notnull(), t.email), else_=t.customer_id))
    if email or is_email_header(customer):
        t = t.mutate(customer_id=ibis.cases((t.customer_id.contains("@"), t.customer_id.lower().replace(" ", "")),
                                            else_=t.customer_id))
    return t


def _statuses_found(t: ir.Table) -> pd.DataFrame:
    """The status values of the rows (after carrying them along each order), each with its treatment."""
    counts = t.group_by("status").agg(rows=t.count()).execute()
    counts["treatment"] = [STATUS_TREATMENTS[status_treatment(None if pd.isna(value) else value)]
                           for value in counts["status"]]
    counts["status"] = counts["status"].astype(object).where(counts["status"].notna(), None)
    counts["rows"] = counts["rows"].astype("int64")
    order = {treatment: i for i, treatment in enumerate(STATUS_TREATMENTS.values())}
    counts = counts.assign(_order=counts["treatment"].map(order), _key=counts["status"].fillna(""))
    return counts.sort_values(["_order", "rows", "_key"], ascending=[True, False, True])[STATUS_COLUMNS].reset_index(
        drop=True)


def status_note(statuses: pd.DataFrame, column: str) -> str | None:
    """The status values found and how each was treated, as one sentence for the notes."""
    if statuses.empty:
        return None
    parts = []
    for treatment in STATUS_TREATMENTS.values():
        found = statuses[statuses["treatment"] == treatment]
        if len(found):
            values = ", ".join(f"'{value if value is not None else '(blank)'}' ({rows:,} rows)"
                               for value, rows in zip(found["status"], found["rows"]))
            parts.append(f"{treatment}: {values}")
    note = f"Status values in `{column}`: " + "; ".join(parts) + "."
    if (statuses["treatment"] == STATUS_TREATMENTS["unknown"]).any():
        note += " Values not recognised are kept as paid; check them, or unmap the status to count every row."
    return note


def _check_one_currency(lines: ir.Table, column: str) -> None:
    """CurrencyError when the kept lines hold more than one currency (never a silent sum)."""
    kept = lines.filter(lines.drop_reason.isnull(), lines.currency.notnull())
    found = kept.group_by("currency").agg(rows=kept.rows.sum()).order_by(ibis.desc("rows"), "currency").execute()
    if len(found) > 1:
        listed = ", ".join(f"{value} ({int(rows):,} rows)" for value, rows in zip(found["currency"], found["rows"]))
        raise CurrencyError(
            f"The kept orders are in {len(found)} currencies in column '{column}': {listed}. Adding them up "
            "would mix currencies.",
            hint="Export one currency at a time (or split the file by currency), or unmap the currency column "
                 "if the amounts are already converted to one currency.")


def purchase_of(rows: ir.Table, roles: Mapping[str, str]) -> ir.StringValue:
    """What one purchase is: the invoice, or the timestamp for a blank invoice or a file without invoices
    (a line whose invoice cell is blank is still a purchase, counted by its time)."""
    at = rows.invoice_date.cast("string")
    return ibis.coalesce(rows.invoice, at) if "invoice" in roles else at


def _purchases(lines: ir.Table) -> ir.Table:
    """Lines → one row per (drop_reason, customer_id, country, purchase); see PURCHASE_COLUMNS."""
    return lines.group_by(["drop_reason", "customer_id", "country", "purchase"]).agg(
        lines=lines.rows.sum().cast("int64"),
        copies=lines.duplicates.sum().cast("int64"),
        units=(lines.rows * lines.line_units).sum().cast("int64"),  # a dropped line stands for `rows` rows
        copy_units=(lines.duplicates * lines.line_units).sum().cast("int64"),
        positive_lines=lines.count(where=lines.line_units > 0),
        first_date=lines.invoice_date.min(),
        last_date=lines.invoice_date.max(),
    )


def _hashes_rows(transactions: ir.Table) -> bool:
    """Whether the engine can hash whole rows (DuckDB): then copies are found by row hashes."""
    try:
        return ibis.get_backend(transactions).name == "duckdb"
    except Exception:  # no single backend: the portable way
        return False


def _pair_hash(table: ir.Table, names: list[str]) -> tuple[ir.IntegerValue, ir.IntegerValue]:
    """Two 64-bit hashes of the named columns (in two orders): a 128-bit key for grouping."""
    return (ibis.struct({n: table[n] for n in names}).hash(),
            ibis.struct({n: table[n] for n in reversed(names)}).hash())


def unmapped_of(transactions: ir.Table) -> list[str]:
    """The unmapped source columns that follow the canonical ones (see schema.UNMAPPED_PREFIX)."""
    return [name for name in transactions.columns if name.startswith(UNMAPPED_PREFIX)]


def _purchases_by_hash(rows: ir.Table, row_columns: list[str]) -> ir.Table:
    """`_purchases` for a DuckDB engine, from rows that went through the rules one by one.

    Grouping all rows on nine columns (mostly text) to find the copies is the most expensive
    step of the cleaning on a large file, and grouping them again on four text columns for the
    purchases is the next. Here both group on 128-bit keys (two 64-bit hashes of the same
    columns in two orders) with the text as payload only where it is needed: the purchases
    are summed over every row, the copies (rows that passed the first three rules and are
    identical in all `row_columns`: the canonical and the unmapped ones) are counted per purchase
    and subtracted.

    How exact: DuckDB combines per-column 64-bit hashes, so two different rows get the same
    key only if two different values of one column hash alike *and* the rows agree on every
    other column (the same customer, time, product, quantity, price...). For 18 million
    distinct invoices (200M rows) a colliding pair of values exists with odds of about 1 in
    100,000, and that pair would also have to sit in otherwise identical rows: far below any
    other source of error. The result equals the portable path (`_purchases` over grouped
    lines), which PostgreSQL and Spark take; their tests compare the two on the real data.
    """
    keys = ["drop_reason", "customer_id", "country", "purchase"]
    purchase_1, purchase_2 = _pair_hash(rows, keys)
    rows = rows.mutate(p1=purchase_1, p2=purchase_2)
    purchases = rows.group_by(["p1", "p2"]).agg(
        lines=rows.count(),
        units=rows.line_units.sum().cast("int64"),
        positive_lines=rows.count(where=rows.line_units > 0),
        first_date=rows.invoice_date.min(),
        last_date=rows.invoice_date.max(),
        **{k: rows[k].arbitrary() for k in keys},
    )
    passed = rows.filter(rows.passed_early)
    row_1, row_2 = _pair_hash(passed, row_columns)
    groups = passed.group_by([row_1.name("r1"), row_2.name("r2")]).agg(
        n=passed.count(), p1=passed.p1.arbitrary(), p2=passed.p2.arbitrary(),
        line_units=passed.line_units.arbitrary())
    repeated = groups.filter(groups.n > 1)
    extra = repeated.group_by(["p1", "p2"]).agg(
        copies=(repeated.n - 1).sum().cast("int64"),
        copy_units=((repeated.n - 1) * repeated.line_units).sum().cast("int64"),
    )
    joined = purchases.left_join(extra, ["p1", "p2"])
    copies = joined.copies.fill_null(0)
    copy_units = joined.copy_units.fill_null(0)
    return joined.mutate(lines=joined.lines - copies, copies=copies, units=joined.units - copy_units,
                         copy_units=copy_units).select(*PURCHASE_COLUMNS)


def _customer_rule(purchases: ir.Table, context: Context, rule_name: str) -> ir.Table:
    """The "customer" rule on the purchases: e.g. a customer whose kept lines sum to zero or less
    has no positive revenue to segment on (returns netted against purchases, or prices that
    round to 0): all their kept lines go, under `rule_name`."""
    kept = purchases.filter(purchases.drop_reason.isnull())
    totals = kept.group_by("customer_id").agg(customer_units=kept.units.sum())
    joined = purchases.left_join(totals, "customer_id")
    drops = _CUSTOMER.drops(joined, context).fill_null(False)
    reason = ibis.coalesce(
        joined.drop_reason,
        ibis.cases((drops, ibis.literal(rule_name)), else_=ibis.null("string")),
    )
    return joined.mutate(drop_reason=reason).select(*PURCHASE_COLUMNS)


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
    mode = _money_mode(roles)
    records = []
    for rule in RULES:
        name = rule.reported_name(mode)
        row = counts.get(name)
        records.append(
            {
                "rule": name,
                "label": rule.label(mode),
                "rows": int(row.rows) if row is not None else 0,
                "customers": int(row.customers) if row is not None else 0,
                "revenue": round(float(row.revenue_units) / MONEY_SCALE, 2) if row is not None else 0.0,
            }
        )
    kept = counts.get("__kept__")
    rows_kept = int(kept.rows) if kept is not None else 0
    table = pd.DataFrame.from_records(records, columns=["rule", "label", "rows", "customers", "revenue"])
    rows_in = rows_kept + int(table["rows"].sum())
    return Audit(rows_in=rows_in, rows_kept=rows_kept, table=table, statuses=cleaned.statuses)


def clean(transactions: ir.Table, roles: Mapping[str, str], settings: CleaningSettings, *,
          read_only: bool = False) -> tuple[Cleaned, Audit]:
    """Flag every row and sum them up per purchase once (materialised in the engine); the audit
    and RFM read those purchases, never the rows again.

    On a read-only session (a user's PostgreSQL database, engines.Engine.read_only) the purchases
    cannot be cached as a temp table (CREATE TEMP TABLE is refused), so they stay a query the
    database recomputes."""
    cleaned = flag_rows(transactions, roles, settings)
    purchases = cleaned.purchases if read_only else cleaned.purchases.cache()
    if "currency" in roles:
        _check_one_currency(cleaned.lines, roles["currency"])
    cleaned = replace(cleaned, purchases=purchases)
    return cleaned, audit_of(cleaned, roles)

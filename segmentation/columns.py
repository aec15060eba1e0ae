"""Which column plays which role (customer, date, quantity, price, amount, invoice, ...).

Detection reads the header names first (aliases in :data:`segmentation.settings.ROLES`) and the
content second, for the roles the names do not reveal. Each column gets at most one role.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .errors import MappingError, quote_names
from .settings import REQUIRED_ROLES, ROLES

__all__ = ["ROLE_ORDER", "normalise_header", "detect_roles", "resolve_roles", "detection_notes",
           "mapping_notes", "unused_columns_note", "money_divisor", "is_email_header",
           "detect_currency", "currency_display", "CURRENCY_CODES"]

ROLE_ORDER: tuple[str, ...] = tuple(role.name for role in ROLES)
_ALIASES: dict[str, tuple[str, ...]] = {role.name: role.aliases for role in ROLES}
_LABELS: dict[str, str] = {role.name: role.label for role in ROLES}
_CONTENT_SAMPLE = 2000
_LONGEST_ALIAS = max(len(alias) for aliases in _ALIASES.values() for alias in aliases)

# Aliases too generic to be trusted inside a longer header ("Exchange rate", "Time zone", "Item count").
_NO_CONTAINMENT = frozenset({"rate", "time", "user", "value", "name", "title", "count", "created", "land",
                             "items", "item", "order", "market", "member", "account", "total", "sales"})

_DATE_TEXT = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}[- ]\w{3,9}[- ]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2})?.*)?\s*$"
)
_INVOICE_TEXT = r"^[A-Za-z]?\d{4,}$"
_ID_TEXT = r"^\s*[A-Za-z0-9][A-Za-z0-9_\-/]*(\.0+)?\s*$"
_EMAIL_TEXT = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Order numbers as shops write them (Shopify's `Name`, WooCommerce's formatted number): '#1001'.
_ORDER_NUMBER_TEXT = r"^#\d+$"
# Header words that say a money column is in minor units (cents): 'Amount (cents)', 'amount_minor'.
_MINOR_UNIT_WORDS = frozenset({"cents", "cent", "minor", "pence", "penny", "pennies", "centimes", "centavos"})


def normalise_header(name: str) -> str:
    """Lower case, without spaces, '_', '-', '.' or other punctuation: 'Customer ID' → 'customerid'."""
    return "".join(ch for ch in str(name).casefold() if ch.isalnum())


def _words(name: str) -> list[str]:
    """Header words, splitting on punctuation and camelCase: 'InvoiceNo (CRM)' → ['invoice', 'no', 'crm']."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return [w.casefold() for w in re.split(r"[^0-9A-Za-zÀ-ÖØ-öø-ÿ]+", spaced) if w]


def _header_score(role: str, column: str) -> float:
    """2 for an exact alias; 0..1 (share of the header covered) when an alias is a run of its words."""
    norm = normalise_header(column)
    if not norm:
        return 0.0
    aliases = _ALIASES[role]
    if norm in aliases:
        return 2.0
    words = _words(column)
    runs = set()  # runs of consecutive words no longer than the longest alias (a long header is not O(n²))
    for i in range(len(words)):
        run = ""
        for j in range(i, len(words)):
            run += words[j]
            if len(run) > _LONGEST_ALIAS:
                break
            runs.add(run)
    best = 0.0
    for alias in aliases:
        if alias in runs and alias not in _NO_CONTAINMENT and len(alias) >= 4:
            best = max(best, len(alias) / len(norm))
    return best


def detect_roles(table: pa.Table) -> dict[str, str]:
    """Guess role → column from header names, then from content for roles still missing.

    Each column is used for at most one role. When quantity and price are both found, ``amount`` is
    not mapped (money is quantity × price). Returns roles in :data:`ROLE_ORDER`.
    """
    found = _detect_all(table)
    if "quantity" in found and "price" in found:
        found.pop("amount", None)
    return found


def _detect_all(table: pa.Table) -> dict[str, str]:
    """Every role found, amount included even next to quantity and price (resolve_roles needs it)."""
    return _detect(table).roles


@dataclass(frozen=True)
class _Detection:
    roles: dict[str, str]
    reasons: dict[str, str]  # role → why its column was taken, where a name alone did not say it
    unsure: frozenset[str]  # roles that are a guess the user should check


def _detect(table: pa.Table) -> _Detection:
    columns = list(table.column_names)
    candidates = []
    for order, role in enumerate(ROLE_ORDER):
        for position, column in enumerate(columns):
            score = _header_score(role, column)
            if score > 0:
                candidates.append((-score, order, position, role, column))
    candidates.sort()
    found: dict[str, str] = {}
    used: set[str] = set()
    reasons: dict[str, str] = {}
    if not any(role == "invoice" and score == -2.0 for score, _, _, role, _ in candidates):
        # '#1001' is an order number whatever its header (Shopify calls it `Name`)
        column = _order_number_by_content(table, columns)
        if column:
            found["invoice"] = column
            used.add(column)
            reasons["invoice"] = "read as the order number: its values are order numbers like #1001"
    for _, _, _, role, column in candidates:
        if role not in found and column not in used:
            found[role] = column
            used.add(column)

    if "refunded" in found and _is_flag(table.column(found["refunded"])):
        del found["refunded"]  # a yes/no 'Refunded' flag is no amount
    unsure: set[str] = set()
    _product_or_description(table, found, reasons)
    used = set(found.values())
    free = [c for c in columns if c not in used]
    for role, words in (("quantity", _is_count_header), ("amount", _is_money_header)):
        if role in found:
            continue
        guess = _by_meaning(table, free, role, words)
        if guess is not None:
            column, sure = guess
            found[role] = column
            free.remove(column)
            reasons[role] = _MEANING_REASONS[role]
            if not sure:
                unsure.add(role)
    if "date" not in found:
        column = _date_by_content(table, free)
        if column:
            found["date"] = column
            free.remove(column)
    if "invoice" not in found:
        column = _invoice_by_content(table, free)
        if column:
            found["invoice"] = column
            free.remove(column)
    if "email" not in found:
        column = _email_by_content(table, free)
        if column:
            found["email"] = column
            free.remove(column)
    if "customer" not in found and "email" in found:
        # No customer id column (Shopify, PayPal, WooCommerce guests): the e-mail address is the id.
        found["customer"] = found.pop("email")
        reasons["customer"] = (f"`{found['customer']}` identifies the customer: there is no customer id column, so "
                               "the e-mail address is the id (compared in lower case, without spaces)")
    if "customer" not in found:
        column = _customer_by_content(table, free)
        if column:
            found["customer"] = column
            free.remove(column)
    return _Detection(roles={role: found[role] for role in ROLE_ORDER if role in found}, reasons=reasons,
                      unsure=frozenset(unsure))


# ----------------------------------------------------------------------------- product vs description
#
# Exports name the product column in many ways: `sku` next to `product` (names), `product` (codes)
# next to `product_name`, `item` next to `item_description`. Headers alone cannot tell which holds
# the codes, so when two such columns compete, their values decide: the one of mostly letters and
# spaces, longer and with more distinct words is the description, the short code-like one the
# product. A column of names is never the product code when a code-like column is there.

_CODE_TEXT = re.compile(r"^[A-Za-z0-9#][A-Za-z0-9_\-./#:]*$")


@dataclass(frozen=True)
class _TextProfile:
    kind: str | None  # "names", "codes" or None (neither clearly)
    distinct_words: int
    mean_length: float


def _text_profile(column: pa.ChunkedArray) -> _TextProfile:
    head = column.slice(0, _CONTENT_SAMPLE * 5).drop_null().slice(0, _CONTENT_SAMPLE)
    if len(head) and pa.types.is_integer(head.type):
        return _TextProfile("codes", 0, 0.0)
    values = _sample_strings(column)
    if values is None:
        return _TextProfile(None, 0, 0.0)
    texts = [v for v in pc.unique(values).to_pylist()[:500] if v]
    if not texts:
        return _TextProfile(None, 0, 0.0)
    n = len(texts)
    characters = sum(len(t) for t in texts)
    letters = sum(ch.isalpha() or ch == " " for t in texts for ch in t)
    spaced = sum(" " in t for t in texts) / n
    with_digit = sum(any(ch.isdigit() for ch in t) for t in texts) / n
    code_shaped = sum(bool(_CODE_TEXT.match(t)) and len(t) <= 40 for t in texts) / n
    upper_codes = sum(t.upper() == t for t in texts) / n
    words = {w.casefold() for t in texts for w in t.split()}
    mean_length = characters / n
    if code_shaped >= 0.9 and (with_digit >= 0.5 or upper_codes >= 0.9):
        kind = "codes"
    elif letters / characters >= 0.7 and (spaced >= 0.3 or mean_length >= 6):
        kind = "names"
    else:
        kind = None
    return _TextProfile(kind, len(words), mean_length)


def _product_or_description(table: pa.Table, found: dict[str, str], reasons: dict[str, str]) -> None:
    """Re-decide `product` and `description` from the values when a column of names and a
    code-like product column compete (see above); `found` is changed in place."""
    others = {column for role, column in found.items() if role not in ("product", "description")}
    pool = [c for c in table.column_names if c not in others
            and (_header_score("product", c) > 0 or _header_score("description", c) > 0)]
    if len(pool) < 2:
        return
    profiles = {c: _text_profile(table.column(c)) for c in pool}
    names = [c for c in pool if profiles[c].kind == "names"]
    codes = [c for c in pool if profiles[c].kind == "codes" and _header_score("product", c) > 0]
    if not names or not codes:
        return
    # a bare `Name` or `Title` (PayPal's payer name) comes after a column named for the item
    description = max(names, key=lambda c: (normalise_header(c) not in ("name", "title"), profiles[c].distinct_words,
                                            profiles[c].mean_length))
    product = max(codes, key=lambda c: _header_score("product", c))
    ambiguous = any(_header_score("product", c) > 0 and _header_score("description", c) > 0
                    for c in (product, description))
    if (found.get("product"), found.get("description")) == (product, description) and not ambiguous:
        return  # the names said it already (StockCode, Description)
    found["product"], found["description"] = product, description
    reasons["description"] = f"`{description}` read as the product description; `{product}` as the product code"
    reasons["product"] = reasons["description"]


# ----------------------------------------------------------------------------- money and counts by meaning
#
# A numeric column named for money (`dollar_value`, `net_sales`, `Revenue EUR`) is a line amount
# candidate, a count column (`number_of_cds`, `n_items`, `units`) a quantity candidate, when no
# alias named them; their values must back the name up (money: numbers, mostly not negative;
# counts: whole numbers, small). With an amount and no unit price, the amount is the money and the
# quantity is for information (resolve_roles; cleaning's money mode).

_MONEY_WORDS = frozenset({
    "value", "dollar", "dollars", "usd", "eur", "euro", "euros", "gbp", "chf", "spend", "spent", "sales",
    "netsales", "revenue", "revenues", "turnover", "total", "amount", "paid", "umsatz", "betrag", "montant",
    "gesamtbetrag", "bruttobetrag", "nettobetrag", "importe", "valor",
})
# Money that is not the line's sale: freight, taxes, discounts, refunds, fees...
_NOT_LINE_MONEY = frozenset({
    "freight", "shipping", "shipment", "delivery", "tax", "taxes", "vat", "mwst", "tva", "discount", "discounts",
    "refund", "refunded", "fee", "fees", "tip", "duty", "duties", "balance", "credit", "limit", "cost", "costs",
    "price", "rate", "margin", "profit", "commission",
})
_COUNT_WORDS = frozenset({"units", "unit", "pieces", "piece", "count", "qty", "quantity", "menge", "anzahl",
                          "stuck", "stück", "quantite", "quantité", "pcs"})
_COUNT_PREFIXES = (("number", "of"), ("n",), ("nb",), ("num",), ("no", "of"), ("nr",))
_MEANING_REASONS = {
    "amount": "read as the line amount: its name speaks of money and its values are amounts",
    "quantity": "read as the quantity: its name speaks of a count and its values are whole numbers",
}


def _is_money_header(column: str) -> bool:
    words = _words(column)
    joined = {"".join(words[i:i + 2]) for i in range(len(words))}
    return bool((set(words) | joined) & _MONEY_WORDS) and not set(words) & _NOT_LINE_MONEY


def _is_count_header(column: str) -> bool:
    words = _words(column)
    if any(tuple(words[:len(prefix)]) == prefix and len(words) > len(prefix) for prefix in _COUNT_PREFIXES):
        return True
    return bool(set(words) & _COUNT_WORDS) and not _is_money_header(column)


def _numbers(column: pa.ChunkedArray) -> pa.Array | None:
    """Up to _CONTENT_SAMPLE values as float64 (text read with a decimal point or comma), or None."""
    head = column.slice(0, _CONTENT_SAMPLE * 5).drop_null().slice(0, _CONTENT_SAMPLE)
    if len(head) == 0:
        return None
    kind = head.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return head.cast(pa.float64())
    text = _sample_strings(column)
    if text is None:
        return None
    text = pc.replace_substring_regex(text, r"^([+-]?\d+),(\d+)$", r"\1.\2")  # decimal comma
    numeric = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    share = pc.mean(numeric.cast(pa.float64())).as_py() or 0.0
    if share < 0.7:
        return None
    return pc.filter(text, numeric).cast(pa.float64()) if share < 1 else text.cast(pa.float64())


def _content_backs(table: pa.Table, column: str, role: str) -> bool | None:
    """True: the values fit the role; False: they roughly fit (a guess); None: they do not."""
    values = _numbers(table.column(column))
    if values is None or len(values) == 0:
        return None
    share_of_rows = len(values) / max(1, len(table.column(column).slice(0, _CONTENT_SAMPLE * 5).drop_null()
                                             .slice(0, _CONTENT_SAMPLE)))
    non_negative = pc.mean(pc.greater_equal(values, 0).cast(pa.float64())).as_py()
    if role == "amount":
        if non_negative < 0.5:
            return None
        return share_of_rows >= 0.95 and non_negative >= 0.8
    whole = pc.mean(pc.equal(pc.floor(values), values).cast(pa.float64())).as_py()
    if whole < 0.9:
        return None
    largest = pc.max(pc.abs(values)).as_py()
    return share_of_rows >= 0.95 and whole >= 0.99 and largest <= 100_000


def _by_meaning(table: pa.Table, free: list[str], role: str, named_for) -> tuple[str, bool] | None:
    """The first free column named for the role whose values back the name up: (column, sure)."""
    guesses = []
    for column in free:
        if not named_for(column):
            continue
        backs = _content_backs(table, column, role)
        if backs is not None:
            guesses.append((not backs, column))
    if not guesses:
        return None
    unsure, column = min(guesses, key=lambda guess: (guess[0], free.index(guess[1])))
    return column, not unsure


def detection_notes(table: pa.Table, roles: Mapping[str, str]) -> tuple[str, ...]:
    """What detection decided beyond the names, for the roles in `roles` it chose (the report's
    notes, the app's mapping section): product vs description, money and counts by meaning,
    guesses to check, a quantity that is for information only."""
    detection = _detect(table)
    notes: list[str] = []
    for role in ROLE_ORDER:
        column = roles.get(role)
        if not column or detection.roles.get(role) != column or role not in detection.reasons:
            continue
        reason = detection.reasons[role]
        if role == "product" and reason == detection.reasons.get("description") and \
                roles.get("description") == detection.roles.get("description"):
            continue  # said once, with the description
        if role in ("product", "description"):
            notes.append(reason + ".")
        elif role in detection.unsure:
            notes.append(f"`{column}` guessed as the {_LABELS[role].lower()} from its name; some values do not "
                         "fit, so check the mapping.")
        elif role == "customer":
            notes.append(reason + ".")
        else:
            notes.append(f"`{column}` {reason}.")
    if roles.get("quantity") and roles.get("amount") and not roles.get("price"):
        notes.append(f"`{roles['quantity']}` is for information only: money comes from the line amount "
                     f"`{roles['amount']}` (there is no unit price).")
    return tuple(notes) + _platform_notes(table.column_names, roles)


def money_divisor(column: str | None) -> int:
    """100 when a money column's header says it is in minor units ('Amount (cents)', 'amount_minor'), else 1.

    Only the header decides: a file of whole numbers may be whole dollars, so the values never do."""
    return 100 if column and set(_words(column)) & _MINOR_UNIT_WORDS else 1


def is_email_header(column: str | None) -> bool:
    """Whether a header names an e-mail address (`Email`, `billing_email`, `From Email Address`)."""
    return bool(column) and _header_score("email", column) > 0


def _platform_notes(names, roles: Mapping[str, str]) -> tuple[str, ...]:
    """What decided the customer, the status and the money, for exports with a status, refunds,
    a currency, or an e-mail address as the customer (shop and payment platforms)."""
    platform = any(roles.get(role) for role in ("status", "refunded", "currency")) or \
        is_email_header(roles.get("customer"))
    if not platform:  # an amount in cents is said all the same: how it was decided
        minor = any(money_divisor(roles.get(role)) == 100 for role in ("amount", "price"))
        return (_money_note(names, roles),) if minor else ()
    notes = []
    customer, email = roles.get("customer"), roles.get("email")
    if customer and email and customer != email:
        notes.append(f"`{customer}` identifies the customer; where it is blank or 0 (a guest checkout), "
                     f"the e-mail address in `{email}` does (in lower case).")
    elif customer and not is_email_header(customer):
        notes.append(f"`{customer}` identifies the customer.")
    if roles.get("status"):
        note = (f"`{roles['status']}` decides which orders count: paid, completed or succeeded ones do; refunded, "
                "cancelled, failed, pending or authorised-only ones go under 'Order not paid' (the values found "
                "and how each was treated are listed after cleaning).")
        if roles.get("invoice"):
            carried = [roles[role] for role in ("status", "customer", "date", "country", "email", "currency")
                       if roles.get(role)]
            note += (f" Order-level fields written only on an order's first line ({_listed(carried)}) are carried "
                     f"to its other lines by `{roles['invoice']}`.")
        notes.append(note)
    if roles.get("invoice"):
        notes.append(f"Only `{roles['invoice']}` values of C followed by digits (C536379) are cancellations; ids "
                     "that merely begin with C (Stripe's ch_…, PayPal transaction ids) are not.")
    notes.append(_money_note(names, roles))
    if roles.get("currency"):
        notes.append(f"`{roles['currency']}` gives the currency: the kept orders must all be in one currency "
                     "(several stop with a message instead of being added up).")
    return tuple(notes)


def _money_note(names, roles: Mapping[str, str]) -> str:
    used = {column for column in roles.values() if column}
    if roles.get("quantity") and roles.get("price"):
        money = f"`{roles['quantity']}` × `{roles['price']}` on each line"
    else:
        money = f"`{roles.get('amount')}`, one amount per row"
    if roles.get("refunded"):
        money += f", net of the refunded amount in `{roles['refunded']}`"
    totals = [name for name in names if name not in used and
              (_header_score("amount", name) > 0 or _is_money_header(name))]
    if roles.get("quantity") and roles.get("price") and totals:
        money += (f"; the order-level totals ({_listed(totals)}) are not added to it: line items or order totals, "
                  "never both")
    units = [roles[role] for role in ("amount", "price", "refunded") if money_divisor(roles.get(role)) == 100]
    note = f"Money is {money}."
    if units:
        note += f" {_listed(units)} in minor units (cents), as the header says: divided by 100."
    elif roles.get("amount") or roles.get("price"):
        note += " Amounts are read as written (in major units: no header says cents)."
    return note


def _listed(columns) -> str:
    return ", ".join(f"`{column}`" for column in columns)


def mapping_notes(table: pa.Table, roles: Mapping[str, str]) -> tuple[str, ...]:
    """The notes of the mapping for a file's report: detection_notes and unused_columns_note."""
    unused = unused_columns_note(table.column_names, roles)
    return detection_notes(table, roles) + ((unused,) if unused else ())


def unused_columns_note(names, roles: Mapping[str, str]) -> str | None:
    """The note that duplicates compare the columns no role uses too (None when every column is used)."""
    used = {column for column in roles.values() if column}
    unused = [str(name) for name in names if name not in used]
    if not unused:
        return None
    shown = ", ".join(f"`{name}`" for name in unused[:10]) + (f" and {len(unused) - 10} more"
                                                             if len(unused) > 10 else "")
    return (f"Duplicates are copies of the whole row: the {len(unused)} column(s) not used ({shown}) are "
            "compared too.")


def _sample_strings(column: pa.ChunkedArray) -> pa.Array | None:
    """Up to _CONTENT_SAMPLE non-null values as trimmed text, or None for types that are not text."""
    head = column.slice(0, _CONTENT_SAMPLE * 5).drop_null()
    if len(head) == 0:
        return None
    head = head.slice(0, _CONTENT_SAMPLE)
    kind = head.type
    if pa.types.is_dictionary(kind):
        head = head.cast(kind.value_type)
        kind = head.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.utf8_trim_whitespace(head)
    return None


def _date_by_content(table: pa.Table, free: list[str]) -> str | None:
    for column in free:
        kind = table.schema.field(column).type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return column
    for column in free:
        values = _sample_strings(table.column(column))
        if values is None or len(values) == 0:
            continue
        matches = sum(1 for v in pc.unique(values).to_pylist()[:500] if _DATE_TEXT.match(v))
        distinct = min(len(pc.unique(values)), 500)
        if matches >= 0.9 * distinct:
            return column
    for column in free:  # YYYYMMDD as whole numbers or 8-digit text
        col = table.column(column).slice(0, _CONTENT_SAMPLE).drop_null()
        if len(col) == 0:
            continue
        if pa.types.is_integer(col.type):
            text = col.cast(pa.string())
        else:
            text = _sample_strings(col)
            if text is None:
                continue
        parsed = pc.strptime(text, format="%Y%m%d", unit="s", error_is_null=True)
        if parsed.null_count == 0 and pc.all(pc.match_substring_regex(text, r"^(19|20)\d{6}$")).as_py():
            return column
    return None


def _invoice_by_content(table: pa.Table, free: list[str]) -> str | None:
    """Text codes of 4+ digits where some start with 'C' (cancellations): Online-Retail-style invoices."""
    for column in free:
        values = _sample_strings(table.column(column))
        if values is None:
            continue
        if pc.all(pc.match_substring_regex(values, _INVOICE_TEXT)).as_py() and \
                pc.any(pc.match_substring_regex(values, r"^[Cc]\d")).as_py():
            return column
    return None


def _is_flag(column: pa.ChunkedArray) -> bool:
    """A yes/no column (booleans, or text such as true/false, yes/no)."""
    if pa.types.is_boolean(column.type):
        return True
    values = _sample_strings(column)
    if values is None or len(values) == 0:
        return False
    words = {str(v).casefold() for v in pc.unique(values).to_pylist() if v}
    return bool(words) and words <= {"true", "false", "yes", "no", "y", "n", "t", "f"}


def _order_number_by_content(table: pa.Table, columns: list[str]) -> str | None:
    """The first text column whose non-blank values are all order numbers like '#1001'."""
    for column in columns:
        values = _sample_strings(table.column(column))
        if values is None:
            continue
        values = values.filter(pc.not_equal(values, ""))
        if len(values) and pc.all(pc.match_substring_regex(values, _ORDER_NUMBER_TEXT)).as_py():
            return column
    return None


def _customer_by_content(table: pa.Table, free: list[str]) -> str | None:
    """The single remaining column of repeated id-like values (integers or codes), if exactly one."""
    found = []
    for column in free:
        col = table.column(column).slice(0, _CONTENT_SAMPLE * 5).drop_null().slice(0, _CONTENT_SAMPLE)
        if len(col) < 2:
            continue
        kind = col.type
        if pa.types.is_integer(kind):
            pass
        elif pa.types.is_floating(kind):
            if not pc.all(pc.equal(pc.floor(col), col)).as_py():
                continue
        else:
            text = _sample_strings(col)
            if text is None or not pc.all(pc.match_substring_regex(text, _ID_TEXT)).as_py():
                continue
            if not pc.any(pc.match_substring_regex(text, r"\d")).as_py():
                continue  # words such as country names
            col = text
        distinct = len(pc.unique(col))
        if 1 < distinct < len(col):  # ids repeat: one customer buys several lines
            found.append(column)
    return found[0] if len(found) == 1 else None


def _email_by_content(table: pa.Table, free: list[str]) -> str | None:
    """The first text column whose non-blank values are (nearly all, 90 %) email addresses."""
    for column in free:
        values = _sample_strings(table.column(column))
        if values is None:
            continue
        values = values.filter(pc.not_equal(values, ""))
        if len(values) and pc.mean(pc.match_substring_regex(values, _EMAIL_TEXT).cast(pa.int8())).as_py() >= 0.9:
            return column
    return None


def resolve_roles(table: pa.Table, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Detected roles with the user's ``overrides`` applied, then validated.

    An override value of ``""`` or ``None`` unmaps the role. A column the user maps takes precedence
    over a detected role on the same column (that detected role is dropped). When the user maps
    ``amount`` and not ``price``, a detected price is dropped (money comes from the amount); when
    quantity and price are both mapped, a detected amount is dropped.

    Raises :class:`MappingError` for an unknown role or column, the same column for two roles, a
    missing customer or date, or neither quantity + price nor amount.
    """
    columns = list(table.column_names)
    overrides = dict(overrides or {})
    unknown = [r for r in overrides if r not in ROLE_ORDER]
    if unknown:
        raise MappingError(
            f"Unknown role {_quote(unknown)}. Valid roles: {_quote(ROLE_ORDER)}.",
            "Use one of the roles listed.",
        )
    chosen: dict[str, str] = {}
    for role in ROLE_ORDER:
        if role not in overrides:
            continue
        column = overrides[role]
        if column is None or str(column).strip() == "":
            continue
        if column not in columns:
            stripped = {c.strip(): c for c in columns}
            if str(column).strip() in stripped:
                column = stripped[str(column).strip()]
            else:
                raise MappingError(
                    f"No column '{column}' (asked for {_LABELS[role].lower()}). The columns are: {_quote(columns)}.",
                    "Use a column name exactly as listed (case and spaces matter).",
                )
        chosen[role] = column
    taken: dict[str, str] = {}
    for role, column in chosen.items():
        if column in taken:
            raise MappingError(
                f"Column '{column}' is mapped to two roles: {taken[column]} and {role}.",
                "Map each column to one role only.",
            )
        taken[column] = role

    detected = _detect_all(table)
    roles: dict[str, str] = dict(chosen)
    for role, column in detected.items():
        if role in overrides or column in taken:
            continue
        roles[role] = column
    if "amount" in chosen and "price" not in chosen:
        roles.pop("price", None)
    if "quantity" in roles and "price" in roles and "amount" not in chosen:
        roles.pop("amount", None)

    for role in REQUIRED_ROLES:
        if role not in roles:
            label = _LABELS[role]
            raise MappingError(
                f"No {label.lower()} column found among: {_quote(columns)}.",
                f"Say which column holds the {label.lower()}.",
                roles=(role,),
            )
    if not ("amount" in roles or ("quantity" in roles and "price" in roles)):
        have = [r for r in ("quantity", "price") if r in roles]
        detail = f" (only {' and '.join(f'{r} ({roles[r]!r})' for r in have)})" if have else ""
        raise MappingError(
            f"No money columns found{detail}: need quantity and unit price, or a line amount, among: "
            f"{_quote(columns)}.",
            "Say which columns hold the quantity and the unit price, or the line amount.",
            roles=("quantity", "price", "amount"),
        )
    return {role: roles[role] for role in ROLE_ORDER if role in roles}


def _quote(names) -> str:
    return quote_names(names, limit=20)


# --------------------------------------------------------------------------------------------- currency
# What a file says about its currency: a symbol or ISO code in the money columns' values or headers
# ("£12.50", "12,50 EUR", "Price (€)", "amount_usd"), or a column of one ISO code ("currency": GBP).
CURRENCY_SYMBOLS: dict[str, str] = {"€": "EUR", "£": "GBP", "$": "USD", "¥": "JPY", "₹": "INR", "₩": "KRW"}
CURRENCY_CODES: tuple[str, ...] = ("EUR", "GBP", "USD", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
                                   "PLN", "CZK", "HUF", "INR", "CNY", "BRL", "MXN", "ZAR", "KRW", "SGD", "HKD")
_CURRENCY_HEADERS = frozenset({"currency", "currencycode", "curr", "ccy", "währung", "waehrung", "devise",
                               "moneda", "valuta"})
_CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP",
                   "sterling": "GBP", "yen": "JPY"}
_SYMBOL_OF = {code: symbol for symbol, code in CURRENCY_SYMBOLS.items() if code != "USD"} | {"USD": "$"}


def currency_display(code: str) -> str:
    """How money is labelled on screen: the symbol of a common currency (£, €, $), else the ISO code."""
    return _SYMBOL_OF.get(code, code)


def _currencies_in(texts: list[str]) -> set[str]:
    found = set()
    for text in texts:
        found.update(CURRENCY_SYMBOLS[ch] for ch in text if ch in CURRENCY_SYMBOLS)
        found.update(word.upper() for word in re.findall(r"[A-Za-z]{3}", text) if word.upper() in CURRENCY_CODES
                     and re.search(rf"(?<![A-Za-z]){word}(?![A-Za-z])", text))
    return found


def detect_currency(table: pa.Table, roles: Mapping[str, str]) -> str | None:
    """The ISO code of the one currency the file names, or None when it names none or several.

    Looks at the headers and the first values of the money columns (price, amount) and at a
    currency column ("currency", "Währung"…) whose values are all one ISO code."""
    named: set[str] = set()
    for role in ("price", "amount"):
        column = roles.get(role)
        if not column or column not in table.column_names:
            continue
        named |= _currencies_in([str(column)])
        named |= {_CURRENCY_WORDS[word] for word in _words(column) if word in _CURRENCY_WORDS}
        values = _sample_strings(table.column(column))
        if values is not None:
            named |= _currencies_in([v for v in pc.unique(values).to_pylist()[:_CONTENT_SAMPLE] if v])
    for column in table.column_names:
        if normalise_header(column) in _CURRENCY_HEADERS:
            values = table.column(column).slice(0, _CONTENT_SAMPLE).drop_null()
            codes = {str(v).strip().upper() for v in pc.unique(values).to_pylist()}
            if len(codes) == 1 and codes <= set(CURRENCY_CODES):
                named |= codes
            elif codes:
                return None  # several currencies in one file: no single label is right
    return named.pop() if len(named) == 1 else None

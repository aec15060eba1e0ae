"""Which column plays which role (customer, date, quantity, price, amount, invoice, ...).

Detection reads the header names first (aliases in :data:`segmentation.settings.ROLES`) and the
content second, for the roles the names do not reveal. Each column gets at most one role.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from .errors import MappingError
from .settings import REQUIRED_ROLES, ROLES

__all__ = ["ROLE_ORDER", "normalise_header", "detect_roles", "resolve_roles"]

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
    for _, _, _, role, column in candidates:
        if role not in found and column not in used:
            found[role] = column
            used.add(column)

    free = [c for c in columns if c not in used]
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
    if "customer" not in found:
        column = _customer_by_content(table, free)
        if column:
            found["customer"] = column
            free.remove(column)
    return {role: found[role] for role in ROLE_ORDER if role in found}


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
            "Use one of the roles listed, e.g. --map customer=COLUMN.",
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
                f"Map it with --map {role}=COLUMN (command line) or the {label} box (app).",
            )
    if not ("amount" in roles or ("quantity" in roles and "price" in roles)):
        have = [r for r in ("quantity", "price") if r in roles]
        detail = f" (only {' and '.join(f'{r} ({roles[r]!r})' for r in have)})" if have else ""
        raise MappingError(
            f"No money columns found{detail}: need quantity and unit price, or a line amount, among: "
            f"{_quote(columns)}.",
            "Map them with --map quantity=COLUMN --map price=COLUMN or --map amount=COLUMN (command line), "
            "or the Quantity, Unit price or Line amount boxes (app).",
        )
    return {role: roles[role] for role in ROLE_ORDER if role in roles}


def _quote(names, limit: int = 20, width: int = 60) -> str:
    """Names for a message: quoted, each shortened to ``width``, at most ``limit`` of them."""
    names = list(names)

    def short(name) -> str:
        text = " ".join(str(name).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    shown = ", ".join(f"'{short(n)}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

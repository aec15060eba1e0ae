"""The canonical transaction schema, owned here, and the Ibis step that produces it.

Every source ends as a table with exactly these columns and types (see docs/ARCHITECTURE.md):
files through `parsing.to_canonical` (Arrow, `CANONICAL_SCHEMA`), engine tables (DuckDB over a
large file, PostgreSQL, Spark) through :func:`canonical` (Ibis expressions, `IBIS_TYPES`). The
cleaning rules and RFM read only these columns.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import MappingError

if TYPE_CHECKING:
    import ibis.expr.types as ir

# Ibis is imported inside the functions below: parsing (and so the CLI's first read of a file)
# needs only the Arrow schema, while the CLI imports Ibis on a second thread.

__all__ = ["CANONICAL_SCHEMA", "CANONICAL_COLUMNS", "IBIS_TYPES", "ROLE_OF_COLUMN", "ID_COLUMNS", "TEXT_COLUMNS",
           "UNMAPPED_PREFIX", "canonical", "unmapped_columns", "unmapped_column_names", "unmapped_values"]

CANONICAL_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("invoice", pa.string()),
    ("invoice_date", pa.timestamp("us")),
    ("quantity", pa.float64()),
    ("price", pa.float64()),
    ("amount", pa.float64()),
    ("product", pa.string()),
    ("description", pa.string()),
    ("country", pa.string()),
    ("email", pa.string()),  # optional role: carried to the customers for the audience files
    ("status", pa.string()),  # optional role: the order/payment status (the `not_paid` rule)
    ("refunded", pa.float64()),  # optional role: money refunded on the line or order, subtracted from it
    ("currency", pa.string()),  # optional role: several currencies stop with a message
])
CANONICAL_COLUMNS = tuple(CANONICAL_SCHEMA.names)
# The same columns as Ibis types (an unmapped role is a typed null column).
IBIS_TYPES = {"customer_id": "string", "invoice": "string", "invoice_date": "timestamp",
              "quantity": "float64", "price": "float64", "amount": "float64", "product": "string",
              "description": "string", "country": "string", "email": "string",
              "status": "string", "refunded": "float64", "currency": "string"}
# canonical column → role that fills it
ROLE_OF_COLUMN = {"customer_id": "customer", "invoice": "invoice", "invoice_date": "date", "quantity": "quantity",
                  "price": "price", "amount": "amount", "product": "product", "description": "description",
                  "country": "country", "email": "email", "status": "status", "refunded": "refunded",
                  "currency": "currency"}
ID_COLUMNS = ("customer_id", "invoice", "product")
TEXT_COLUMNS = ("description", "country", "email", "status", "currency")
# After the canonical columns come the source's columns that no role uses, as read (`unmapped_1`,
# `unmapped_2`, ... in source order): the `duplicate` rule compares whole rows, so a line number,
# a discount or a product name that is not mapped still tells two lines apart. Nothing else reads them.
UNMAPPED_PREFIX = "unmapped_"
# The same text forms parsing.py accepts for numbers and ISO dates; anything else is null
# (and counted by the cleaning rules) instead of failing the whole query with a cast error.
_NUMBER_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_ISO_DATE_TEXT = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$"
_WHOLE_FLOAT_TEXT = r"^[+-]?[0-9]+\.0+$"


def unmapped_columns(names, roles: Mapping[str, str]) -> list[str]:
    """The columns (of ``names``, in order) that no role uses."""
    used = {column for column in roles.values() if column}
    return [name for name in names if name not in used]


def unmapped_column_names(count: int) -> list[str]:
    """Canonical names of ``count`` unmapped columns: unmapped_1, unmapped_2, ..."""
    return [f"{UNMAPPED_PREFIX}{i}" for i in range(1, count + 1)]


def unmapped_values(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """An unmapped Arrow column as read, in a type every engine can hash and compare: dictionaries
    decoded, other string kinds as string, half floats widened; nested, union and other exotic
    types as their text (the same values give the same text)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(pa.string())
    if pa.types.is_float16(kind):
        return array.cast(pa.float32())
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind) or pa.types.is_fixed_size_binary(kind):
        return array.cast(pa.binary())
    if any(check(kind) for check in (pa.types.is_string, pa.types.is_integer, pa.types.is_float32,
                                     pa.types.is_float64, pa.types.is_boolean, pa.types.is_timestamp,
                                     pa.types.is_date, pa.types.is_decimal128, pa.types.is_binary,
                                     pa.types.is_null)):
        return array
    try:
        return array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if value is None else repr(value) for value in array.to_pylist()], pa.string())


def canonical(table: ir.Table, roles: Mapping[str, str]) -> ir.Table:
    """The table in the canonical schema, as Ibis expressions (nothing is read).

    Mirrors parsing.to_canonical for typed engine columns (the unmapped columns follow, as
    `unmapped_1`, ..., for whole-row duplicates): ids become trimmed text with a
    float form's ``.0`` removed (17850.0 → '17850'), blank → null; text is trimmed, blank → null;
    numbers are cast to float64 (text that is no plain number → null); timestamps stay as they
    are (time-zone-aware ones as UTC wall time), dates become midnight, ISO date text is cast.
    """
    import ibis

    schema = table.schema()
    missing = {role: col for role, col in roles.items() if col and col not in schema}
    if missing:
        listed = ", ".join(f"{role} → '{col}'" for role, col in missing.items())
        raise MappingError(f"Mapped column(s) not in the table: {listed}. The columns are: "
                           + ", ".join(f"'{c}'" for c in schema.names) + ".",
                           "Map the roles to columns of this table.")
    values = {}
    for name in CANONICAL_COLUMNS:
        column_name = roles.get(ROLE_OF_COLUMN[name])
        if not column_name:
            values[name] = ibis.null(IBIS_TYPES[name])
            continue
        column = table[column_name]
        if name in ID_COLUMNS:
            values[name] = _id_text(column)
        elif name in TEXT_COLUMNS:
            values[name] = _blank_to_null(_strip(_as_text(column)))
        elif name == "invoice_date":
            values[name] = _timestamp(column, column_name)
        else:
            values[name] = _float(column)
    others = unmapped_columns(schema.names, roles)
    for name, column_name in zip(unmapped_column_names(len(others)), others):
        values[name] = _comparable(table[column_name])
    return table.select(**values)


def _comparable(column: ir.Value) -> ir.Value:
    """An unmapped column as the engine holds it, or as text where the engine cannot group or
    compare its type (PostgreSQL json, Spark maps, nested values): the duplicate rule groups by it."""
    kind = column.type()
    if kind.is_string() or kind.is_numeric() or kind.is_boolean() or kind.is_temporal() or kind.is_binary() \
            or kind.is_uuid() or kind.is_null():
        return column
    return column.cast("string")


@cache
def _trim_udf():
    import ibis

    @ibis.udf.scalar.builtin(name="trim")
    def trim(text: str) -> str:  # SQL TRIM(x): spaces only, and much cheaper than TRIM(x, chars)
        ...

    return trim


def _trim_spaces(text: ir.StringValue) -> ir.StringValue:
    return _trim_udf()(text)


_OTHER_WHITESPACE = ("\t", "\n", "\r", "\v", "\f")


def _strip(text: ir.StringValue) -> ir.StringValue:
    """`text.strip()` (spaces, tabs, line breaks; the engine's space trim also takes Unicode spaces).

    Most values need nothing: a text whose first and last characters are printable ASCII
    (``!``..``~``) has no whitespace to trim and is returned as it is, decided by two byte
    comparisons. Only the others pay for a trim: a plain space trim, or a trim of the listed
    characters when the text holds another whitespace character (``TRIM(x, chars)`` costs 4×).
    Together about half the CPU of trimming every value (the text columns of a 50M-row file).
    """
    import ibis

    unusual = text.contains(_OTHER_WHITESPACE[0])
    for character in _OTHER_WHITESPACE[1:]:
        unusual = unusual | text.contains(character)
    trimmed = ibis.cases((unusual, text.strip()), else_=_trim_spaces(text))
    plain = (text.ascii_str().between(_FIRST_PRINTABLE, _LAST_PRINTABLE)
             & text.right(1).ascii_str().between(_FIRST_PRINTABLE, _LAST_PRINTABLE))
    return ibis.cases((plain.fill_null(False), text), else_=trimmed)


# Printable ASCII, ``!``..``~``: no whitespace, in any engine's or Python's sense.
_FIRST_PRINTABLE, _LAST_PRINTABLE = 33, 126


def _as_text(column: ir.Value) -> ir.StringValue:
    return column if column.type().is_string() else column.cast("string")


def _blank_to_null(text: ir.StringValue) -> ir.StringValue:
    import ibis

    return ibis.cases((text == "", ibis.null("string")), else_=text)


def _id_text(column: ir.Value) -> ir.StringValue:
    import ibis

    kind = column.type()
    if kind.is_floating():
        # Whole floats as integer text (engines print 17850.0 as '17850' or '17850.0'); NaN/inf: null.
        finite = ~(column.isnan() | column.isinf())
        whole = finite & (column == column.floor()) & (column.abs() < 2.0 ** 53)
        return ibis.cases(
            (column.isnull(), ibis.null("string")),
            (whole.fill_null(False), column.cast("int64").cast("string")),
            (finite.fill_null(False), column.cast("string")),
            else_=ibis.null("string"),
        )
    text = _strip(_as_text(column))
    # (the cheap `contains` first: the regular expression is the expensive part on large tables)
    whole_float = text.contains(".") & text.re_search(_WHOLE_FLOAT_TEXT)
    text = ibis.cases((whole_float, text.re_replace(r"\.0+$", "")), else_=text)
    return _blank_to_null(text)


def _float(column: ir.Value) -> ir.FloatingValue:
    import ibis

    kind = column.type()
    if kind.is_numeric():
        return column.cast("float64")
    if kind.is_boolean():
        return ibis.null("float64")
    text = _strip(_as_text(column))
    return ibis.cases((text.re_search(_NUMBER_TEXT), text.cast("float64")), else_=ibis.null("float64"))


def _timestamp(column: ir.Value, column_name: str) -> ir.TimestampValue:
    import ibis
    import ibis.expr.datatypes as dt

    kind = column.type()
    if kind.is_timestamp():
        if kind.timezone is not None:  # UTC wall time, as parsing does with offsets
            return column.cast(dt.Timestamp())
        return column
    if kind.is_date():
        return column.cast(dt.Timestamp())
    if kind.is_string():
        text = _strip(column)
        return ibis.cases((text.re_search(_ISO_DATE_TEXT), text.cast(dt.Timestamp())),
                          else_=ibis.null(dt.Timestamp()))
    raise MappingError(f"Column '{column_name}' ({kind}) holds no dates or timestamps.",
                       "Map the date role to a date, timestamp or ISO date text column.")

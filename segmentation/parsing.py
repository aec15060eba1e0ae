"""Raw columns → the canonical, typed transaction table (see docs/ARCHITECTURE.md).

Every decision is taken once per column from the data (date order, decimal comma), never row by
row. Values that do not fit become null; the cleaning rules count them. All work is vectorised
with pyarrow.compute, on the distinct values of a text column where that is cheaper.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from .errors import MappingError
from .schema import (
    CANONICAL_SCHEMA,
    ID_COLUMNS,
    ROLE_OF_COLUMN,
    TEXT_COLUMNS,
    unmapped_column_names,
    unmapped_columns,
    unmapped_values,
)

__all__ = ["ParsedTable", "to_canonical"]



@dataclass(frozen=True)
class ParsedTable:
    """The canonical table and what was decided while parsing it."""

    table: pa.Table
    date_format: str  # human-readable, e.g. "day.month.year", "year-month-day (ISO)", "Excel dates"
    decimal_comma: bool  # True when any number column was read with a decimal comma
    notes: tuple[str, ...] = ()


def to_canonical(table: pa.Table, roles: Mapping[str, str], *, unmapped: bool = True) -> ParsedTable:
    """Build the canonical table from ``table`` and ``roles`` (role → column, from columns.resolve_roles).

    With ``unmapped`` (the default) the columns no role uses follow the canonical ones, as read
    (`unmapped_1`, ..., see schema.unmapped_values), so that duplicates are whole-row copies.

    Raises :class:`MappingError` when a mapped column does not exist, or when the date column has
    values but none of them reads as a date.
    """
    missing = {role: col for role, col in roles.items() if col and col not in table.column_names}
    if missing:
        listed = ", ".join(f"{role} → '{col}'" for role, col in missing.items())
        raise MappingError(
            f"Mapped column(s) not in the table: {listed}. The columns are: "
            + ", ".join(f"'{c}'" for c in table.column_names) + ".",
            "Map the roles to columns of this file.",
        )
    n = table.num_rows
    notes: list[str] = []
    arrays: list[pa.Array] = []
    date_format = "not mapped"
    decimal_comma = False
    for field in CANONICAL_SCHEMA:
        column_name = roles.get(ROLE_OF_COLUMN[field.name])
        if not column_name:
            arrays.append(pa.nulls(n, field.type))
            continue
        kind = table.schema.field(column_name).type
        if _is_nested(kind):
            raise MappingError(
                f"Column '{column_name}' (mapped as {ROLE_OF_COLUMN[field.name]}) holds nested values of type {kind}, "
                "not single values.",
                "Map a column with one value per row, or unmap this role.",
            )
        raw = _flatten(table.column(column_name))
        if field.name in ID_COLUMNS:
            arrays.append(_parse_ids(raw))
        elif field.name in TEXT_COLUMNS:
            arrays.append(_parse_text(raw))
        elif field.name == "invoice_date":
            parsed, date_format, note = _parse_dates(raw, column_name)
            parsed, range_note = _plausible_dates(parsed, raw, column_name)
            arrays.append(parsed)
            notes.extend(n for n in (note, range_note) if n)
        else:
            parsed, comma, note = _parse_numbers(raw, column_name)
            decimal_comma = decimal_comma or comma
            arrays.append(parsed)
            if note:
                notes.append(note)
    canonical = pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)
    if unmapped:
        others = unmapped_columns(table.column_names, roles)
        for name, column in zip(unmapped_column_names(len(others)), others):
            canonical = canonical.append_column(name, unmapped_values(table.column(column)))
    return ParsedTable(table=canonical, date_format=date_format, decimal_comma=decimal_comma, notes=tuple(notes))


# ----------------------------------------------------------------------------- helpers

def _flatten(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array; dictionaries decoded, large strings as strings."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type) or \
            pa.types.is_fixed_size_binary(array.type) or pa.types.is_binary_view(array.type):
        array = _binary_text(array)
    return array


def _binary_text(array: pa.Array) -> pa.Array:
    """Bytes columns (Parquet BYTE_ARRAY without a UTF-8 annotation) as text; bad UTF-8 replaced."""
    try:
        return array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else bytes(v).decode("utf-8", errors="replace")
                         for v in array.to_pylist()], pa.string())


def _is_nested(kind: pa.DataType) -> bool:
    return pa.types.is_nested(kind) or pa.types.is_union(kind)


def _example_texts(values: pa.Array, n: int = 2) -> list[str]:
    """A few values as text for a message (Arrow's own formatting: no Python date range limits)."""
    head = values.drop_null().slice(0, n)
    if _is_text(head.type):
        return head.to_pylist()
    try:
        return head.cast(pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [str(v) for v in head]


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _on_distinct(array: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply ``fn`` to the distinct values of a text array and spread the result back to every row."""
    encoded = pc.dictionary_encode(array)
    return pc.take(fn(encoded.dictionary), encoded.indices)


def _blank_to_null(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _column_text(array: pa.Array) -> pa.Array:
    """Any simple column as text (not yet trimmed)."""
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if not _is_text(array.type):
        array = array.cast(pa.string())
    return array


# ----------------------------------------------------------------------------- ids and text

def _parse_ids(array: pa.Array) -> pa.Array:
    kind = array.type
    if pa.types.is_floating(kind):
        return _float_ids(array)
    text = _column_text(array)

    def clean(values: pa.Array) -> pa.Array:
        values = pc.utf8_trim_whitespace(values)
        values = pc.replace_substring_regex(values, r"^([+-]?\d+)\.0+$", r"\1")
        return _blank_to_null(values)

    return _on_distinct(text, clean)


def _float_ids(array: pa.Array) -> pa.Array:
    """Whole floats as integer text (17850.0 → '17850'); other floats as they print."""
    finite = pc.is_finite(array)
    whole = pc.and_(pc.and_(finite, pc.equal(pc.floor(array), array)), pc.less(pc.abs(array), 2.0 ** 53))
    whole = pc.fill_null(whole, False)
    as_int = pc.if_else(whole, array, 0.0).cast(pa.int64()).cast(pa.string())
    as_float = pc.if_else(pc.fill_null(finite, False), array.cast(pa.string()), pa.scalar(None, pa.string()))
    return pc.if_else(whole, as_int, as_float)  # NaN and infinities are no id: null


def _parse_text(array: pa.Array) -> pa.Array:
    text = _column_text(array)
    return _on_distinct(text, lambda values: _blank_to_null(pc.utf8_trim_whitespace(values)))


# ----------------------------------------------------------------------------- numbers

_NUMBER_OK = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _parse_numbers(array: pa.Array, column: str) -> tuple[pa.Array, bool, str | None]:
    kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.float64()), False, None
    if pa.types.is_boolean(kind):
        return array.cast(pa.float64()), False, None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return array.cast(pa.float64(), safe=False), False, None  # 2**63 is a (bad) number, not a crash
    if not _is_text(kind):
        return pa.nulls(len(array), pa.float64()), False, (
            f"Column '{column}' holds {kind} values, not numbers; it was left empty.")
    encoded = pc.dictionary_encode(array)
    values = _strip_number_text(encoded.dictionary)
    comma = _decimal_comma(values)
    if comma:
        values = pc.replace_substring(values, ".", "")
        values = pc.replace_substring(values, ",", ".")
    else:
        values = pc.replace_substring(values, ",", "")
    # accounting negatives: (12.50) and trailing minus 12.50-
    values = pc.replace_substring_regex(values, r"^\((.*)\)$", r"-\1")
    values = pc.replace_substring_regex(values, r"^([^-].*)-$", r"-\1")
    values = pc.replace_substring_regex(values, r"^\+", "")
    ok = pc.match_substring_regex(values, _NUMBER_OK)
    numbers = pc.if_else(ok, values, pa.scalar(None, pa.string())).cast(pa.float64())
    parsed = pc.take(numbers, encoded.indices)
    note = None
    if comma:
        note = f"Column '{column}': numbers read with a decimal comma (1.234,50 = 1234.5)."
    readable = len(encoded.dictionary) - numbers.null_count
    if readable == 0 and len(encoded.dictionary):
        examples = encoded.dictionary.drop_null().slice(0, 2).to_pylist()
        note = (f"Column '{column}': no value reads as a number (e.g. {_examples(examples)}); "
                "all of them will count as invalid numbers.")
    return parsed, comma, note


def _strip_number_text(values: pa.Array) -> pa.Array:
    """Remove spaces (also non-breaking/thin), apostrophes, currency symbols and codes."""
    values = pc.utf8_trim_whitespace(values)
    values = pc.replace_substring_regex(values, r"\p{L}{2,}", "")  # GBP, EUR, USD, Fr
    values = pc.replace_substring_regex(values, r"[^0-9,.()eE+\-]", "")
    return values


def _decimal_comma(values: pa.Array) -> bool:
    """Decide from the column's distinct values whether ',' is the decimal separator."""
    def count(pattern: str) -> int:
        return pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0

    comma_last = count(r"\.\d*,\d*$")  # 1.234,50
    dot_last = count(r",\d*\.\d*$")  # 1,234.50
    comma_decimal = count(r"^[^.,]*\d,(\d{1,2}|\d{4,})\D*$")  # 1,25 / 3,5 (not a 3-digit group)
    dot_decimal = count(r"^[^.,]*\d\.(\d{1,2}|\d{4,})\D*$")  # 1.25
    dot_groups = count(r"\d\.\d{3}\.\d{3}")  # 1.234.567
    comma_groups = count(r"\d,\d{3},\d{3}")  # 1,234,567
    comma_votes = comma_last + comma_decimal + dot_groups
    dot_votes = dot_last + dot_decimal + comma_groups
    return comma_votes > dot_votes


def _examples(values: list, width: int = 40) -> str:
    def short(value) -> str:
        text = " ".join(str(value).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    return " and ".join(f"'{short(v)}'" for v in values)


# ----------------------------------------------------------------------------- dates

_DATE_PATTERN = (
    r"^(?:(?P<y1>\d{4})[-/.](?P<m1>\d{1,2})[-/.](?P<d1>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})[-/.](?P<c>\d{4}|\d{2})"
    r"|(?P<y2>\d{4})(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:(?:[ T]+|\s*,\s*)(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2})(?:[.,](?P<F>\d{1,6})\d*)?)?"
    r"\s*(?P<P>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?P<Z>Z|UTC|GMT|[+-]\d{2}:?\d{2})?$"
)
_SHAPES = {"iso": "y1", "dmy": "a", "compact": "y2"}
_US_NOTE = "month/day/year (US)"


# Purchase dates outside these years are placeholders ("9999-12-31", "0001-01-01") or typos, not
# purchases: they count as invalid dates (and would break recency: no day follows 9999-12-31).
PLAUSIBLE_YEARS = (1900, 2100)  # inclusive
_EPOCH_LOW_S = int((datetime(PLAUSIBLE_YEARS[0], 1, 1) - datetime(1970, 1, 1)).total_seconds())
_EPOCH_HIGH_S = int((datetime(PLAUSIBLE_YEARS[1] + 1, 1, 1) - datetime(1970, 1, 1)).total_seconds())
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _in_plausible_range(array: pa.Array) -> pa.Array:
    """Timestamp or date values (any unit) → null when outside PLAUSIBLE_YEARS, before any cast."""
    kind = array.type
    if pa.types.is_timestamp(kind):
        per_second, ints = _PER_SECOND[kind.unit], array.cast(pa.int64())
    elif pa.types.is_date32(kind):
        per_second, ints = 1 / 86_400, array.cast(pa.int32()).cast(pa.int64())
    else:  # date64: milliseconds
        per_second, ints = 1_000, array.cast(pa.int64())
    low, high = int(_EPOCH_LOW_S * per_second), int(_EPOCH_HIGH_S * per_second)
    ok = pc.fill_null(pc.and_(pc.greater_equal(ints, low), pc.less(ints, high)), False)
    return pc.if_else(ok, array, pa.scalar(None, kind))


def _plausible_dates(parsed: pa.Array, raw: pa.Array, column: str) -> tuple[pa.Array, str | None]:
    """Null out parsed dates outside PLAUSIBLE_YEARS, with a note saying how many and which.

    Timestamp and date columns were already range-checked in their own unit before the cast to
    microseconds (a cast of year 200000 would overflow); text and numbers are checked here.
    """
    if pa.types.is_timestamp(raw.type) or pa.types.is_date(raw.type):
        kept = parsed
        outside_mask = pc.and_(pc.is_valid(raw), pc.is_null(_in_plausible_range(raw)))
    else:
        kept = _in_plausible_range(parsed)
        outside_mask = pc.and_(pc.is_valid(parsed), pc.is_null(kept))
    outside = pc.sum(outside_mask).as_py() or 0
    if not outside:
        return kept, None
    examples = _example_texts(pc.filter(raw, outside_mask))
    low, high = PLAUSIBLE_YEARS
    # No error even when no date is left: large files are parsed batch by batch, and one batch of
    # placeholders must not stop the whole file; cleaning counts the rows as invalid dates.
    return kept, (f"Column '{column}': {outside:,} date(s) outside {low}–{high} (e.g. {_examples(examples)}); "
                  "they count as invalid dates.")


def _parse_dates(array: pa.Array, column: str) -> tuple[pa.Array, str, str | None]:
    kind = array.type
    n_values = len(array) - array.null_count
    if pa.types.is_timestamp(kind):
        return _naive_us(_in_plausible_range(array)), \
            "Excel dates" if kind.tz is None else "timestamps (converted to UTC)", None
    if pa.types.is_date(kind):
        return _in_plausible_range(array).cast(pa.timestamp("us")), "dates", None
    if pa.types.is_null(kind) or n_values == 0:
        return pa.nulls(len(array), pa.timestamp("us")), "empty", None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        parsed, fmt = _numeric_dates(array.cast(pa.float64(), safe=False))
    elif _is_text(kind):
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(array))
        parsed_distinct, fmt, ambiguity = _text_dates(encoded.dictionary)
        parsed = pc.take(parsed_distinct, encoded.indices)
        if parsed.null_count < len(parsed):
            notes = [ambiguity.format(column=column)] if ambiguity else []
            misfits = encoded.dictionary.filter(pc.and_(pc.is_null(parsed_distinct),
                                                        pc.not_equal(encoded.dictionary, "")))
            if len(misfits):
                bad_rows = parsed.null_count - pc.sum(pc.is_null(array)).as_py() - \
                    (pc.sum(pc.equal(pc.utf8_trim_whitespace(array), "")).as_py() or 0)
                notes.append(f"Column '{column}': {bad_rows:,} value(s) do not read as {fmt} "
                             f"(e.g. {_examples(misfits.slice(0, 2).to_pylist())}); they count as invalid dates.")
            return parsed, fmt, " ".join(notes) or None
    else:
        parsed, fmt = pa.nulls(len(array), pa.timestamp("us")), "unknown"
    if parsed.null_count == len(parsed):
        examples = _example_texts(array) if n_values else []
        raise MappingError(
            f"Column '{column}' is mapped as the purchase date, but none of its values reads as a date "
            f"(e.g. {_examples(examples)}).",
            "Map another column as the date, or export dates as e.g. 2010-12-01 08:26.",
            roles=("date",),
        )
    return parsed, fmt, None


def _naive_us(array: pa.Array) -> pa.Array:
    """Any timestamp → timestamp[us] without time zone (tz-aware values converted to UTC)."""
    kind = array.type
    if kind.tz is not None:
        array = array.cast(pa.timestamp(kind.unit, tz="UTC")).cast(pa.int64()).cast(pa.timestamp(kind.unit))
    return pc.cast(array, pa.timestamp("us"), safe=False)


def _numeric_dates(values: pa.Array) -> tuple[pa.Array, str]:
    """YYYYMMDD numbers, or Excel serial day numbers (days since 1899-12-30)."""
    finite = values.filter(pc.is_finite(values))
    if len(finite) == 0:
        return pa.nulls(len(values), pa.timestamp("us")), "unknown"
    low, high = pc.min(finite).as_py(), pc.max(finite).as_py()
    whole = pc.all(pc.equal(pc.floor(finite), finite)).as_py()
    if whole and 19000101 <= low and high <= 21001231:
        ok = pc.fill_null(pc.and_(pc.is_finite(values), pc.equal(pc.floor(values), values)), False)
        ints = pc.if_else(ok, values, 0.0).cast(pa.int64())
        text = pc.if_else(ok, ints.cast(pa.string()), pa.scalar(None, pa.string()))
        return _text_dates_compact(text), "YYYYMMDD"
    if 1 <= low and high < 2958466:  # Excel serials from 1900-01-01 to 9999-12-31
        micros = pc.multiply(pc.subtract(values, 25569.0), 86400e6)  # 25569 = 1970-01-01
        ok = pc.fill_null(pc.is_finite(values), False)
        micros = pc.round(pc.if_else(ok, micros, 0.0)).cast(pa.int64())
        stamps = micros.cast(pa.timestamp("us"))
        return pc.if_else(ok, stamps, pa.scalar(None, pa.timestamp("us"))), "Excel serial numbers"
    return pa.nulls(len(values), pa.timestamp("us")), "unknown"


def _text_dates_compact(text: pa.Array) -> pa.Array:
    parts = pc.extract_regex(text, r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
    return _assemble(parts.field("y"), parts.field("m"), parts.field("d"), None, None, None, None, None, None,
                     pc.is_valid(parts))


def _text_dates(values: pa.Array) -> tuple[pa.Array, str, str | None]:
    """Parse distinct date texts with ONE format decided from all of them.

    Returns (timestamps, human-readable format, ambiguity note template or None).
    """
    parts = pc.extract_regex(values, _DATE_PATTERN)
    matched = pc.fill_null(pc.is_valid(parts), False)
    shape_masks = {shape: pc.and_(matched, pc.not_equal(parts.field(group), ""))
                   for shape, group in _SHAPES.items()}
    counts = {shape: pc.sum(mask).as_py() or 0 for shape, mask in shape_masks.items()}
    shape = max(("iso", "dmy", "compact"), key=lambda s: counts[s])
    if counts[shape] < 0.5 * max(len(values), 1):
        fallback = _pandas_dates(values)
        if fallback is not None and len(values) - fallback[0].null_count > counts[shape]:
            return fallback[0], fallback[1], None
    if counts[shape] == 0:
        return pa.nulls(len(values), pa.timestamp("us")), "unknown", None

    mask = shape_masks[shape]
    time_parts = [parts.field(g) for g in ("H", "M", "S", "F", "P", "Z")]
    ambiguity = None
    if shape == "iso":
        y, m, d = parts.field("y1"), parts.field("m1"), parts.field("d1")
        fmt = "year-month-day (ISO)"
    elif shape == "compact":
        y, m, d = parts.field("y2"), parts.field("m2"), parts.field("d2")
        fmt = "YYYYMMDD"
    else:
        a, b, c = parts.field("a"), parts.field("b"), parts.field("c")
        first = pc.if_else(mask, a, "0").cast(pa.int64())
        second = pc.if_else(mask, b, "0").cast(pa.int64())
        day_first_proof = pc.sum(pc.greater(first, 12)).as_py() or 0  # 25/12: the first field is a day
        month_first_proof = pc.sum(pc.greater(second, 12)).as_py() or 0  # 12/25: the second field is a day
        seps = pc.value_counts(parts.field("sep").filter(mask)).to_pylist()
        sep = max(seps, key=lambda item: item["counts"])["values"] if seps else "/"
        if day_first_proof and month_first_proof:
            day_first = day_first_proof >= month_first_proof
        elif day_first_proof or month_first_proof:
            day_first = bool(day_first_proof)
        else:
            day_first = sep != "/"
            ambiguity = ("Column '{column}': every date could be day first or month first (like 01/02/2010); "
                         f"read as {'day' + sep + 'month' + sep + 'year' if day_first else _US_NOTE}. "
                         "If that is wrong, export the dates as year-month-day.")
        d, m = (a, b) if day_first else (b, a)
        y = c
        if day_first:
            fmt = f"day{sep}month{sep}year"
        else:
            fmt = _US_NOTE if sep == "/" else f"month{sep}day{sep}year"
    H, M, S, F, P, Z = time_parts
    return _assemble(y, m, d, H, M, S, F, P, Z, mask), fmt, ambiguity


def _assemble(y, m, d, H, M, S, F, P, Z, mask) -> pa.Array:
    """Validated components (text) → timestamp[us]; invalid combinations → null."""
    mask = pc.fill_null(mask, False)

    def num(text, default="0"):
        if text is None:
            return pa.array([0] * len(mask), pa.int64())
        filled = pc.if_else(pc.and_(mask, pc.not_equal(pc.fill_null(text, ""), "")), text, default)
        return pc.fill_null(filled, default).cast(pa.int64())

    year, month, day = num(y), num(m), num(d)
    year = pc.if_else(pc.less(year, 100), pc.add(year, pc.if_else(pc.less(year, 69), 2000, 1900)), year)
    hour, minute, second = num(H), num(M), num(S)
    if F is None:
        micro = num(None)
    else:  # fraction digits → microseconds: '5' → 500000, '123456' → 123456
        padded = pc.utf8_rpad(pc.fill_null(F, ""), width=6, padding="0")
        micro = num(pc.utf8_slice_codeunits(padded, 0, 6))
    if P is not None:
        meridian = pc.utf8_lower(pc.fill_null(P, ""))
        pm = pc.starts_with(meridian, "p")
        am = pc.starts_with(meridian, "a")
        has_meridian = pc.or_(pm, am)
        bad_meridian = pc.and_(has_meridian, pc.or_(pc.less(hour, 1), pc.greater(hour, 12)))
        hour = pc.if_else(has_meridian, pc.add(pc.if_else(pc.equal(hour, 12), 0, hour), pc.if_else(pm, 12, 0)),
                          hour)
        mask = pc.and_(mask, pc.invert(bad_meridian))
    leap = pc.and_(pc.equal(pc.bit_wise_and(year, 3), 0),
                   pc.or_(pc.not_equal(_mod(year, 100), 0), pc.equal(_mod(year, 400), 0)))
    month_index = pc.if_else(pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12)), month, 1)
    month_days = pc.take(pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64()), month_index)
    month_days = pc.add(month_days, pc.if_else(pc.and_(leap, pc.equal(month_index, 2)), 1, 0))
    valid = pc.and_kleene(mask, pc.and_(
        pc.and_(pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12)),
                pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, month_days))),
        pc.and_(pc.and_(pc.less(hour, 24), pc.less(minute, 60)),
                pc.and_(pc.less(second, 60), pc.greater_equal(year, 1000)))))
    # days since 1970-01-01 from the civil date (H. Hinnant's algorithm), all integer arithmetic
    yy = pc.subtract(year, pc.if_else(pc.less_equal(month, 2), 1, 0))
    era = _floordiv(yy, 400)
    yoe = pc.subtract(yy, pc.multiply(era, 400))
    mp = pc.if_else(pc.greater(month, 2), pc.subtract(month, 3), pc.add(month, 9))
    doy = pc.add(_floordiv(pc.add(pc.multiply(153, mp), 2), 5), pc.subtract(day, 1))
    doe = pc.add(pc.add(pc.multiply(yoe, 365), _floordiv(yoe, 4)), pc.subtract(doy, _floordiv(yoe, 100)))
    days = pc.subtract(pc.add(pc.multiply(era, 146097), doe), 719468)
    seconds = pc.add(pc.multiply(days, 86400), pc.add(pc.multiply(hour, 3600), pc.add(pc.multiply(minute, 60), second)))
    micros = pc.add(pc.multiply(seconds, 1_000_000), micro)
    if Z is not None:
        micros = pc.subtract(micros, pc.multiply(_offset_minutes(Z), 60_000_000))
    stamps = pc.if_else(pc.fill_null(valid, False), micros, pa.scalar(None, pa.int64()))
    return stamps.cast(pa.timestamp("us"))


def _mod(values, divisor: int):
    return pc.subtract(values, pc.multiply(_floordiv(values, divisor), divisor))


def _floordiv(values, divisor: int):
    return pc.floor(pc.divide(pc.cast(values, pa.float64()), float(divisor))).cast(pa.int64())


def _offset_minutes(zone: pa.Array) -> pa.Array:
    parts = pc.extract_regex(pc.fill_null(zone, ""), r"^(?P<sign>[+-]?)(?P<h>\d{0,2}):?(?P<m>\d{0,2})$")
    valid = pc.fill_null(pc.is_valid(parts), False)

    def num(field):
        text = pc.if_else(valid, parts.field(field), "")
        return pc.if_else(pc.equal(pc.fill_null(text, ""), ""), "0", text).cast(pa.int64())

    minutes = pc.add(pc.multiply(num("h"), 60), num("m"))
    sign = pc.if_else(pc.equal(pc.if_else(valid, parts.field("sign"), ""), "-"), -1, 1)
    return pc.multiply(minutes, sign)


def _pandas_dates(values: pa.Array) -> tuple[pa.Array, str] | None:
    """Formats outside the fast patterns (month names...): one format guessed by pandas, applied to all."""
    import warnings

    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    candidates: list[str] = []
    for value in values.drop_null().slice(0, 50).to_pylist():
        for dayfirst in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Parsing dates in %Y-%m-%d format when dayfirst=True..."
                fmt = guess_datetime_format(value[:200], dayfirst=dayfirst)
            if fmt and fmt not in candidates:
                candidates.append(fmt)
    if not candidates:
        return None
    series = values.to_pandas()
    best = None
    for fmt in candidates[:8]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, format=fmt, errors="coerce")
        count = int(parsed.notna().sum())
        if best is None or count > best[0]:
            best = (count, fmt, parsed)
    if best is None or best[0] == 0:
        return None
    parsed = best[2]
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return pa.array(parsed.astype("datetime64[us]"), type=pa.timestamp("us")), best[1]

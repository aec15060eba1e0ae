"""Realistic, seeded demo transactions in the columns of the UCI Online Retail data set.

The data has the structure K-Means should find: customers acquired over the whole period, latent
types (one-off buyers, occasional buyers, regulars, a few wholesale buyers with big baskets and
quantities) with different purchase rates and churn, multi-line invoices, a product catalogue with
log-normal prices, plus the dirt the cleaning rules exist for: guest rows without a customer id,
cancellations ("C" invoices with negative quantities), exact duplicate rows, zero prices and
null descriptions.

How it is built, so that 200M rows can be streamed in constant row memory:

1. ``_build_world`` draws the *invoice skeleton* once (one entry per invoice: time, customer,
   number of lines, kind), about 1/10 of the rows, sorted by time like the UCI file. Line counts
   are then nudged so the lines add up to exactly ``n_rows``.
2. ``_rows`` turns any row range into a record batch. Line-level values (product, quantity,
   duplicate and zero-price flags) come from a counter-based hash of (seed, invoice, line), not
   from a sequential generator, so a batch never depends on the batches before it: the output
   is the same for every ``batch_rows``, and a cancellation can recompute the lines of the
   invoice it cancels.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .errors import ParameterError

__all__ = [
    "DEMO_END",
    "DEMO_SCHEMA",
    "DEMO_START",
    "demo_customer_count",
    "demo_transactions",
    "iter_demo_batches",
    "write_demo_csv",
    "write_demo_parquet",
]

DEMO_SCHEMA = pa.schema([
    pa.field("InvoiceNo", pa.string()),
    pa.field("StockCode", pa.string()),
    pa.field("Description", pa.string()),
    pa.field("Quantity", pa.int64()),
    pa.field("InvoiceDate", pa.timestamp("us")),
    pa.field("UnitPrice", pa.float64()),
    pa.field("CustomerID", pa.string()),
    pa.field("Country", pa.string()),
])
DEMO_START = date(2010, 12, 1)  # the UCI Online Retail period
DEMO_END = date(2011, 12, 9)
_BATCH_ROWS = 1_000_000

# --- customers -----------------------------------------------------------------------------
# UCI has ~124 rows per customer; fewer rows per customer gives more customers to segment in a
# small demo while keeping ~40 rows (~3 invoices) for the average customer.
_ROWS_PER_CUSTOMER = 60
_MIN_CUSTOMERS = 50
# Latent types: one-off, occasional, regular, wholesale. Foreign customers are more often
# wholesalers (as in UCI, where most non-UK customers are shops).
_TYPE_SHARE_UK = np.array([0.30, 0.40, 0.26, 0.04])
_TYPE_SHARE_ABROAD = np.array([0.24, 0.38, 0.30, 0.08])
_TYPE_RATE = np.array([0.0, 4.0, 10.0, 14.0])  # repeat invoices per year, before calibration
_TYPE_LINES = np.array([5.0, 7.0, 10.0, 16.0])  # mean lines per invoice
_TYPE_LIFETIME = np.array([1e9, 360.0, 600.0, 900.0])  # mean days until churn (one-offs: n/a)
_WHOLESALE = 3
_GUEST = 4  # type code of invoices without a customer id
_EXISTING_SHARE = 0.3  # customers already acquired before `start`: first purchase anywhere
_ID_DIGITS_SPAN = 90_000  # ids 10000-99999 (5 digits) while there are at most 45k customers

# --- invoices ------------------------------------------------------------------------------
_FIRST_INVOICE = 536_365  # the first UCI invoice number
_GUEST_ROW_SHARE = 0.22
_GUEST_LINES = 30.0  # guest invoices are big in UCI (~36 lines)
_GUEST_UK_SHARE = 0.95
_CANCEL_SHARE = 0.02  # of customer invoices
_ADJUST_ROW_SHARE = 0.002  # one-line stock adjustments: no customer, no description, price 0
_MAX_LINES = 400
_CANCEL_DELAY_DAYS = 2.0

# --- lines ---------------------------------------------------------------------------------
_DUPLICATE_SHARE = 0.01  # lines that repeat the previous line exactly
_FREE_SHARE = 0.0005  # free items: price 0.0 with a description
_POST_SHARE = 0.6  # foreign invoices starting with a postage line
_BULK_QUANTITY = 100  # from this quantity the bulk price applies
_BULK_DISCOUNT = 0.85
_RETAIL_QTY = (np.array([1, 2, 3, 4, 6, 8, 12, 24]),
               np.array([0.30, 0.16, 0.08, 0.08, 0.12, 0.04, 0.17, 0.05]))
_WHOLESALE_QTY = (np.array([2, 4, 6, 12, 24, 36, 48, 96, 144, 288]),
                  np.array([0.10, 0.12, 0.14, 0.28, 0.16, 0.06, 0.07, 0.04, 0.02, 0.01]))

# --- calendar ------------------------------------------------------------------------------
_WEEKDAY_WEIGHT = np.array([1.0, 1.1, 1.1, 1.25, 0.85, 0.02, 0.7])  # Mon..Sun; shop shut Saturdays
_MONTH_WEIGHT = np.array([0.8, 0.75, 0.95, 0.85, 1.0, 0.95, 0.95, 0.95, 1.3, 1.45, 1.8, 1.1])
_HOURS = np.arange(7, 20)
_HOUR_WEIGHT = np.array([0.02, 0.04, 0.08, 0.12, 0.13, 0.15, 0.14, 0.12, 0.1, 0.06, 0.025, 0.01, 0.005])

_COUNTRIES = (
    ("United Kingdom", 0.875), ("Germany", 0.026), ("France", 0.024), ("EIRE", 0.010),
    ("Spain", 0.008), ("Belgium", 0.007), ("Netherlands", 0.006), ("Switzerland", 0.006),
    ("Portugal", 0.006), ("Australia", 0.004), ("Italy", 0.004), ("Norway", 0.003),
    ("Channel Islands", 0.003), ("Finland", 0.003), ("Cyprus", 0.002), ("Sweden", 0.002),
    ("Austria", 0.002), ("Denmark", 0.002), ("Japan", 0.002), ("Poland", 0.002),
    ("USA", 0.001), ("Israel", 0.001), ("Unspecified", 0.001), ("Greece", 0.001),
    ("Canada", 0.001), ("Iceland", 0.001), ("Singapore", 0.001), ("Malta", 0.001),
)

# --- catalogue -----------------------------------------------------------------------------
_N_PRODUCTS = 500
_COLOURS = ("WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "CREAM", "BLACK", "SILVER", "GOLD",
            "RETROSPOT", "VINTAGE", "FLORAL", "POLKADOT", "REGENCY", "SKULL")
_STYLES = (("", 1.0), ("HANGING ", 1.1), ("SET OF 3 ", 2.5), ("SMALL ", 0.7), ("LARGE ", 1.6),
           ("JUMBO ", 1.3), ("ANTIQUE ", 1.4), ("GLASS ", 1.2), ("WOODEN ", 1.1), ("ENAMEL ", 1.2),
           ("PAPER ", 0.6))
_ITEMS = (
    ("T-LIGHT HOLDER", 2.95), ("LANTERN", 4.95), ("CAKE STAND", 9.95), ("LUNCH BAG", 1.65),
    ("SHOPPER BAG", 2.08), ("MUG", 1.25), ("TEACUP AND SAUCER", 2.95), ("BUNTING", 4.95),
    ("DOORMAT", 7.95), ("CUSHION COVER", 3.75), ("PHOTO FRAME", 2.55), ("WALL CLOCK", 8.5),
    ("ALARM CLOCK", 3.75), ("NAPKINS", 0.85), ("PAPER CHAIN KIT", 2.95), ("GIFT WRAP", 0.42),
    ("GREETING CARD", 0.42), ("CANDLE", 1.25), ("HOT WATER BOTTLE", 4.95), ("HAND WARMER", 2.1),
    ("CHILDRENS APRON", 1.95), ("OVEN GLOVE", 1.45), ("TEA TOWEL", 1.25), ("PURSE", 1.65),
    ("NOTEBOOK", 1.65), ("PENCILS", 0.65), ("STICKERS", 0.85), ("RIBBONS", 0.39),
    ("HEART DECORATION", 0.85), ("STAR DECORATION", 0.65), ("BAUBLE", 0.42), ("METAL SIGN", 2.95),
    ("STORAGE TIN", 3.95), ("CAKE CASES", 0.55), ("PLATE", 1.65), ("BOWL", 1.25), ("EGG CUP", 1.25),
    ("JAM JAR", 0.85), ("WATERING CAN", 2.55), ("PICNIC BASKET", 7.95), ("BEAKER", 1.25),
    ("FRIDGE MAGNET", 0.29), ("KEY RING", 0.65), ("TRINKET BOX", 1.65), ("WICKER BASKET", 5.95),
    ("CHALKBOARD", 4.25), ("BIRD ORNAMENT", 0.85), ("DRAWER KNOB", 1.25), ("COAT RACK", 5.95),
    ("WASHBAG", 2.1),
)
_POSTAGE = ("POST", "POSTAGE", 18.0)

# splitmix64 constants (Steele et al.); the golden-ratio step separates the hash streams.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_GOLDEN2 = np.uint64((0x9E3779B97F4A7C15 * 2) % 2**64)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LINE_BITS = np.uint64(20)  # lines per invoice stay far below 2**20


def demo_customer_count(n_rows: int) -> int:
    """How many customers the demo world has for `n_rows` rows (tiny sizes show fewer of them)."""
    return max(_MIN_CUSTOMERS, int(n_rows) // _ROWS_PER_CUSTOMER)


def demo_transactions(n_rows: int = 50_000, *, seed: int = 0, start: date = DEMO_START,
                      end: date = DEMO_END) -> pa.Table:
    """Exactly `n_rows` Online Retail rows, sorted by invoice date; same seed, same table.

    About ``n_rows // 60`` customers (at least 50; tiny tables show only some of them). Their
    ids have 5 digits like UCI while they fit (up to 45,000 customers), more digits beyond.
    """
    batches = iter_demo_batches(n_rows, seed=seed, batch_rows=_BATCH_ROWS, start=start, end=end)
    return pa.Table.from_batches(list(batches), schema=DEMO_SCHEMA)


def iter_demo_batches(n_rows: int, *, seed: int = 0, batch_rows: int = _BATCH_ROWS,
                      start: date = DEMO_START, end: date = DEMO_END) -> Iterator[pa.RecordBatch]:
    """The rows of ``demo_transactions(n_rows, seed=seed)`` as record batches of `batch_rows`.

    Only the invoice skeleton (~1/10 of the rows, a few arrays) is held in memory, so any size
    can be streamed: for 200M rows the skeleton is ~0.6 GB (~3 GB peak while it is drawn).
    The concatenated batches are the same whatever `batch_rows` is.
    """
    n_rows = _check_int("n_rows", n_rows, 0)
    batch_rows = _check_int("batch_rows", batch_rows, 1)
    world = _build_world(n_rows, _check_int("seed", seed, 0), start, end)  # validates eagerly
    return (_rows(world, r0, min(r0 + batch_rows, n_rows)) for r0 in range(0, n_rows, batch_rows))


def write_demo_parquet(path: str | os.PathLike, n_rows: int, *, seed: int = 0,
                       batch_rows: int = _BATCH_ROWS, start: date = DEMO_START,
                       end: date = DEMO_END) -> Path:
    """Stream `n_rows` demo rows into a Parquet file (one row group per batch); returns the path."""
    batches = iter_demo_batches(n_rows, seed=seed, batch_rows=batch_rows, start=start, end=end)
    with pq.ParquetWriter(os.fspath(path), DEMO_SCHEMA) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return Path(path)


def write_demo_csv(path: str | os.PathLike, n_rows: int, *, seed: int = 0,
                   batch_rows: int = _BATCH_ROWS, start: date = DEMO_START,
                   end: date = DEMO_END) -> Path:
    """Stream `n_rows` demo rows into a CSV file (gzip-compressed if the name ends in .gz)."""
    batches = iter_demo_batches(n_rows, seed=seed, batch_rows=batch_rows, start=start, end=end)
    path = Path(path)
    sink = pa.CompressedOutputStream(str(path), "gzip") if path.suffix == ".gz" else str(path)
    try:
        with pa_csv.CSVWriter(sink, DEMO_SCHEMA) as writer:
            for batch in batches:
                writer.write_batch(batch)
    finally:
        if not isinstance(sink, str):
            sink.close()
    return path


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


# ---------------------------------------------------------------------------------------------
# The world: catalogue, customers and the invoice skeleton
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _World:
    salt: np.uint64
    # catalogue (index _N_PRODUCTS is the postage line)
    codes: pa.Array
    descriptions: pa.Array
    price: np.ndarray
    bulk_price: np.ndarray
    popularity: tuple[np.ndarray, np.ndarray]  # alias table
    customer_ids: pa.Array
    countries: pa.Array
    # invoices, sorted by time; `basket` is the key of the lines (a cancellation's original)
    time_us: np.ndarray
    lines: np.ndarray
    ends: np.ndarray  # cumulative row count after each invoice
    customer: np.ndarray  # -1: no customer id
    kind: np.ndarray  # 0 sale, 1 cancellation, 2 adjustment
    basket: np.ndarray
    type: np.ndarray
    country: np.ndarray


class _Calendar:
    """Day weights (weekday, season, Christmas break) and shop-hour times."""

    def __init__(self, start: date, end: date):
        days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        month_start = days.astype("datetime64[M]")
        month = month_start.astype(np.int64) % 12
        day_of_month = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
        weight = _WEEKDAY_WEIGHT[weekday] * _MONTH_WEIGHT[month]
        christmas = ((month == 11) & (day_of_month >= 24)) | ((month == 0) & (day_of_month <= 3))
        weight[christmas] *= 0.02  # never exactly 0, so every window has some mass
        self.n_days = len(days)
        self.cdf = np.concatenate([[0.0], np.cumsum(weight)])
        self.start_us = int(np.datetime64(start, "us").astype(np.int64))
        self.hour_cdf = np.cumsum(_HOUR_WEIGHT / _HOUR_WEIGHT.sum())

    def days(self, rng: np.random.Generator, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """One day per window [first, last] (inclusive), following the day weights."""
        low, high = self.cdf[first], self.cdf[last + 1]
        u = low + rng.random(len(low)) * (high - low)
        return np.clip(np.searchsorted(self.cdf, u, side="right") - 1, first, last)

    def times(self, rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
        """Microsecond timestamps on `day` in shop hours, at whole minutes like UCI."""
        hour = _HOURS[np.minimum(np.searchsorted(self.hour_cdf, rng.random(len(day))), len(_HOURS) - 1)]
        minute = rng.integers(0, 60, len(day))
        seconds = day * 86_400 + hour * 3_600 + minute * 60
        return self.start_us + seconds * 1_000_000


def _basket_lines(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    # Geometric basket sizes (>= 1, standard deviation about the mean): many small baskets and
    # a long tail of big ones. 8x faster to draw than a negative binomial, with a similar shape.
    return np.minimum(rng.geometric(1.0 / np.maximum(mean, 1.0)), _MAX_LINES)


def _catalogue(rng: np.random.Generator):
    n_combos = len(_STYLES) * len(_COLOURS) * len(_ITEMS)
    combo = rng.choice(n_combos, _N_PRODUCTS, replace=False)  # distinct descriptions
    style, rest = np.divmod(combo, len(_COLOURS) * len(_ITEMS))
    colour, item = np.divmod(rest, len(_ITEMS))
    style_text = np.array([s for s, _ in _STYLES])[style]
    descriptions = np.char.add(np.char.add(np.char.add(style_text, np.array(_COLOURS)[colour]), " "),
                               np.array([name for name, _ in _ITEMS])[item])
    level = np.array([p for _, p in _ITEMS])[item] * np.array([f for _, f in _STYLES])[style]
    price = np.maximum(np.round(level * rng.lognormal(0.35, 0.3, _N_PRODUCTS), 2), 0.1)
    # Stock codes like UCI: 5 digits in the 2xxxx and 8xxxx ranges, some with a variant letter.
    number = rng.choice(10_000, _N_PRODUCTS, replace=False)
    number = np.where(number < 6_000, 20_000 + number, 80_000 + number)
    letter = np.array(["", "A", "B", "C", "D", "E"])[
        np.where(rng.random(_N_PRODUCTS) < 0.12, rng.integers(1, 6, _N_PRODUCTS), 0)]
    codes = np.char.add(number.astype(str), letter)
    # Cheap items sell more often; the rest is taste.
    weight = rng.lognormal(0.0, 1.1, _N_PRODUCTS) / np.sqrt(price)
    codes = pa.array(list(codes) + [_POSTAGE[0]], pa.string())
    descriptions = pa.array(list(descriptions) + [_POSTAGE[1]], pa.string())
    price = np.append(price, _POSTAGE[2])
    bulk_price = np.append(np.maximum(np.round(price[:-1] * _BULK_DISCOUNT, 2), 0.01), _POSTAGE[2])
    return codes, descriptions, price, bulk_price, _alias_table(weight)


def _build_world(n_rows: int, seed: int, start: date, end: date) -> _World:
    if not isinstance(start, date) or not isinstance(end, date):
        raise ParameterError(f"start and end must be dates, got {start!r} and {end!r}.")
    # A datetime is a date too; only its day counts (times are drawn in shop hours).
    start = start.date() if isinstance(start, datetime) else start
    end = end.date() if isinstance(end, datetime) else end
    if end < start:
        raise ParameterError(f"end ({end}) is before start ({start}).", "Swap the two dates.")
    # Independent streams: the skeleton is drawn sequentially, the lines are hashed with `salt`.
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))
    salt = np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(1, np.uint64)[0]
    cal = _Calendar(start, end)
    last_day = cal.n_days - 1
    codes, descriptions, price, bulk_price, popularity = _catalogue(rng)

    # Customers: country, latent type, acquisition, churn, purchase rate.
    n_cust = demo_customer_count(n_rows)
    country_p = np.array([p for _, p in _COUNTRIES])
    country = rng.choice(len(_COUNTRIES), n_cust, p=country_p / country_p.sum()).astype(np.int16)
    u = rng.random(n_cust)
    ctype = np.where(country == 0, np.searchsorted(np.cumsum(_TYPE_SHARE_UK), u, side="right"),
                     np.searchsorted(np.cumsum(_TYPE_SHARE_ABROAD), u, side="right"))
    ctype = np.minimum(ctype, len(_TYPE_RATE) - 1).astype(np.int8)
    existing = rng.random(n_cust) < _EXISTING_SHARE
    acquired = np.where(existing, 0, cal.days(rng, np.zeros(n_cust, np.int64),
                                              np.full(n_cust, last_day, np.int64)))
    lifetime = np.minimum(rng.exponential(_TYPE_LIFETIME[ctype]), cal.n_days)
    churn = np.minimum(acquired + lifetime.astype(np.int64), last_day)
    rate = _TYPE_RATE[ctype] * rng.lognormal(0.0, 0.5, n_cust)
    years = (churn - acquired + 1) / 365.25
    mean_lines = _TYPE_LINES[ctype]

    # Scale purchase rates so the expected customer lines fill their share of n_rows; the
    # small random difference is fixed exactly below.
    target_guest = _GUEST_ROW_SHARE * n_rows
    target_customer = n_rows * (1 - _ADJUST_ROW_SHARE) - target_guest
    extra = float((rate * years * mean_lines).sum())
    scale = max(0.0, (target_customer - mean_lines.sum()) / extra) if extra > 0 else 0.0
    per_customer = 1 + rng.poisson(scale * rate * years)

    # Customer invoices: the first one on the acquisition day (existing customers: anywhere).
    s_cust = np.repeat(np.arange(n_cust), per_customer)
    s_day = cal.days(rng, acquired[s_cust], churn[s_cust])
    first = np.zeros(len(s_cust), bool)
    first[np.cumsum(per_customer) - per_customer] = True
    s_day = np.where(first & ~existing[s_cust], acquired[s_cust], s_day)
    s_time = cal.times(rng, s_day)
    s_lines = _basket_lines(rng, mean_lines[s_cust])
    n_sales = len(s_cust)

    # Guest invoices: no customer id, mostly UK, big baskets.
    n_guest = round(target_guest / _GUEST_LINES)
    g_time = cal.times(rng, cal.days(rng, np.zeros(n_guest, np.int64), np.full(n_guest, last_day)))
    g_lines = _basket_lines(rng, np.full(n_guest, _GUEST_LINES))
    g_country = np.where(rng.random(n_guest) < _GUEST_UK_SHARE, 0,
                         rng.integers(1, len(_COUNTRIES), n_guest)).astype(np.int16)

    # Cancellations: same customer, a little later, the first k lines of the original.
    n_cancel = rng.binomial(n_sales, _CANCEL_SHARE)
    original = np.sort(rng.choice(n_sales, n_cancel, replace=False))
    c_lines = np.minimum(rng.geometric(0.55, n_cancel), s_lines[original])
    delay = np.floor(rng.exponential(_CANCEL_DELAY_DAYS, n_cancel)).astype(np.int64)
    c_time = cal.times(rng, np.minimum(s_day[original] + delay, last_day))
    c_time = np.maximum(c_time, s_time[original] + 60_000_000)  # after the original

    # Adjustments: one line, no customer, no description, price 0.
    n_adjust = rng.binomial(n_rows, _ADJUST_ROW_SHARE)
    a_time = cal.times(rng, cal.days(rng, np.zeros(n_adjust, np.int64), np.full(n_adjust, last_day)))

    # All invoices, in "uid" order (position here; the lines are keyed by it).
    time_us = np.concatenate([s_time, g_time, c_time, a_time])
    lines = np.concatenate([s_lines, g_lines, c_lines, np.ones(n_adjust, np.int64)]).astype(np.int64)
    customer = np.concatenate([s_cust, np.full(n_guest, -1), s_cust[original],
                               np.full(n_adjust, -1)]).astype(np.int64)
    kind = np.concatenate([np.zeros(n_sales + n_guest, np.int8), np.ones(n_cancel, np.int8),
                           np.full(n_adjust, 2, np.int8)])
    n_inv = len(kind)
    basket = np.arange(n_inv, dtype=np.uint64)
    basket[n_sales + n_guest:n_sales + n_guest + n_cancel] = original
    inv_type = np.where(customer >= 0, ctype[np.maximum(customer, 0)], _GUEST).astype(np.int8)
    inv_country = np.concatenate([country[s_cust], g_country, country[s_cust[original]],
                                  np.zeros(n_adjust, np.int16)])
    # A sale keeps at least the lines its cancellation copies.
    floor = np.ones(n_inv, np.int64)
    floor[original] = c_lines

    keep, lines = _exact_lines(rng, n_rows, lines, kind == 0, floor)
    if keep is not None:
        time_us, customer, kind, basket, inv_type, inv_country = (
            a[keep] for a in (time_us, customer, kind, basket, inv_type, inv_country))

    # UCI is in time order and invoice numbers follow it. Times are whole minutes, so
    # (minute, uid) packs into one unique int64: a plain sort is fast and, with no ties,
    # gives the same order on every machine whatever algorithm numpy picks.
    minute = (time_us - cal.start_us) // 60_000_000
    order = np.sort(minute * len(time_us) + np.arange(len(time_us))) % len(time_us)
    lines = lines[order]

    # Customer ids like UCI ("17850"): distinct, random, 5 digits while they fit.
    span = max(_ID_DIGITS_SPAN, 2 * n_cust)
    ids = 10_000 + rng.choice(span, n_cust, replace=False)
    customer_ids = pc.cast(pa.array(ids, pa.int64()), pa.string())

    return _World(
        salt=np.uint64(salt), codes=codes, descriptions=descriptions, price=price,
        bulk_price=bulk_price, popularity=popularity, customer_ids=customer_ids,
        countries=pa.array([name for name, _ in _COUNTRIES], pa.string()),
        # Narrow types: the skeleton is the only thing held for the whole table.
        time_us=time_us[order], lines=lines.astype(np.int32), ends=np.cumsum(lines),
        customer=customer[order].astype(np.int32), kind=kind[order],
        basket=basket[order].astype(np.uint32), type=inv_type[order], country=inv_country[order],
    )


def _exact_lines(rng: np.random.Generator, n_rows: int, lines: np.ndarray, adjustable: np.ndarray,
                 floor: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Line counts that add up to exactly `n_rows`, changing only sales (and dropping invoices
    when even one line each is too many). Returns (kept invoice positions or None, lines)."""
    lines = lines.copy()
    keep = None
    minimum = np.where(adjustable, floor, lines)
    if minimum.sum() > n_rows:
        # Tiny sizes: keep a random set of invoices that fits, led by a sale that can shrink to
        # one line so there is always somewhere to put the remaining rows.
        order = rng.permutation(len(lines))
        free = np.flatnonzero(adjustable[order] & (floor[order] == 1))
        if len(free) == 0:  # practically impossible (every customer has a sale); stay correct
            floor = np.ones_like(floor)
            free = np.flatnonzero(adjustable[order])
        order[[0, free[0]]] = order[[free[0], 0]]
        keep = np.sort(order[np.cumsum(minimum[order]) <= n_rows])
        lines, adjustable, floor = minimum[keep], adjustable[keep], floor[keep]
    diff = n_rows - int(lines.sum())
    sales = np.flatnonzero(adjustable)
    if diff > 0:  # add lines, more to bigger baskets
        cum = np.cumsum(lines[sales])
        pick = np.searchsorted(cum, rng.random(diff) * cum[-1], side="right")
        lines[sales] += np.bincount(np.minimum(pick, len(sales) - 1), minlength=len(sales))
    elif diff < 0:  # remove lines above each sale's floor, uniformly over removable lines
        cum = np.cumsum(lines[sales] - floor[sales])
        units = rng.choice(int(cum[-1]), size=-diff, replace=False)
        lines[sales] -= np.bincount(np.searchsorted(cum, units, side="right"), minlength=len(sales))
    return keep, lines


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------

def _alias_table(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for drawing index i with probability weight[i] / sum(weight).

    A draw costs O(1) per row (a bin, then keep it or take its alias), several times faster
    than a binary search of the cumulative weights. The loop runs once per category.
    """
    k = len(weight)
    scaled = np.asarray(weight, np.float64) / np.sum(weight) * k
    keep, alias = np.ones(k), np.arange(k)
    small = [i for i in range(k) if scaled[i] < 1.0]
    large = [i for i in range(k) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return keep, alias  # leftovers keep probability 1 (rounding)


def _alias_draw(table: tuple[np.ndarray, np.ndarray], u: np.ndarray) -> np.ndarray:
    """Indices drawn with one uniform each: its integer part picks a bin, the fraction decides."""
    keep, alias = table
    x = u * len(keep)
    i = np.minimum(x.astype(np.int64), len(keep) - 1)
    return np.where(x - i < keep[i], i, alias[i])


_RETAIL_ALIAS = _alias_table(_RETAIL_QTY[1])
_WHOLESALE_ALIAS = _alias_table(_WHOLESALE_QTY[1])


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed 64-bit hash, vectorised (uint64 wraps around)."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _unit(bits: np.ndarray, shift: int, width: int) -> np.ndarray:
    """`width` bits of a hash at `shift`, as a float in [0, 1)."""
    mask = np.uint64((1 << width) - 1)
    return ((bits >> np.uint64(shift)) & mask).astype(np.float64) * (1.0 / (1 << width))


def _rows(world: _World, r0: int, r1: int) -> pa.RecordBatch:
    """Rows [r0, r1) of the data set. Lines are generated from the first line of the first
    invoice (the duplicate and distinct-product rules look back within an invoice) and then
    sliced; the last invoice can simply stop at r1 because lines never look ahead."""
    i0 = int(np.searchsorted(world.ends, r0, side="right"))
    i1 = int(np.searchsorted(world.ends, r1 - 1, side="right")) + 1
    lines = world.lines[i0:i1].astype(np.int64)
    first_row = int(world.ends[i0] - world.lines[i0])
    lines[-1] -= int(world.ends[i1 - 1]) - r1  # cut the last invoice at r1
    n = int(lines.sum())
    local = np.repeat(np.arange(i1 - i0), lines)
    line_no = np.arange(n) - np.repeat(np.cumsum(lines) - lines, lines)
    inv = local + i0
    kind = world.kind[inv]
    inv_type = world.type[inv]

    # Line randomness is a hash of (salt, basket, line): the same line of the same basket is
    # the same everywhere, whichever batch generates it and also inside a cancellation.
    key = ((world.basket[inv].astype(np.uint64) << _LINE_BITS) | line_no.astype(np.uint64)) ^ world.salt
    h1 = _mix(key + _GOLDEN)
    h2 = _mix(key + _GOLDEN2)
    u_product, u_quantity = _unit(h1, 32, 32), _unit(h1, 0, 32)
    u_duplicate, u_free, u_post = _unit(h2, 43, 21), _unit(h2, 22, 21), _unit(h2, 0, 22)

    # Products by popularity, distinct within an invoice: the r-th repeat of a product in a
    # basket moves r steps of 211 (coprime with 500) along the catalogue. The rank only depends
    # on earlier lines, so every prefix of a basket is generated identically.
    raw = _alias_draw(world.popularity, u_product)
    order = np.argsort(local * 512 + raw, kind="stable")
    sorted_key = (local * 512 + raw)[order]
    new_group = np.ones(n, bool)
    new_group[1:] = sorted_key[1:] != sorted_key[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - group_start
    product = (raw + rank * 211) % _N_PRODUCTS
    foreign = world.country[inv] != 0
    post = foreign & (line_no == 0) & (u_post < _POST_SHARE) & (kind != 2)
    product[post] = _N_PRODUCTS

    # Quantities: pack-size steps, much bigger for wholesalers (one searchsorted for both).
    retail_q = _RETAIL_QTY[0][_alias_draw(_RETAIL_ALIAS, u_quantity)]
    quantity = np.where(inv_type == _WHOLESALE, _WHOLESALE_QTY[0][_alias_draw(_WHOLESALE_ALIAS, u_quantity)],
                        retail_q).astype(np.int64)
    quantity[post] = 1 + (u_quantity[post] * 3).astype(np.int64)
    price = np.where(quantity >= _BULK_QUANTITY, world.bulk_price[product], world.price[product])
    price[u_free < _FREE_SHARE] = 0.0

    # Exact duplicates: a line repeating the line before it (same invoice, so all columns match).
    source = np.arange(n)
    source[(u_duplicate < _DUPLICATE_SHARE) & (line_no >= 1) & (kind != 2)] -= 1
    product, quantity, price = product[source], quantity[source], price[source]

    quantity[kind == 1] *= -1  # cancellations reverse the original's lines
    adjust = kind == 2
    # Stock adjustments (damages, found stock): mostly negative, no price, no description.
    quantity[adjust] = np.where(u_quantity[adjust] < 0.8, -1, 1) * _RETAIL_QTY[0][
        _alias_draw(_RETAIL_ALIAS, (u_quantity[adjust] * 5) % 1)]
    price[adjust] = 0.0

    s = slice(r0 - first_row, None)  # drop the lines before r0 of the first invoice
    local, product, quantity, price, adjust, inv = (
        a[s] for a in (local, product, quantity, price, adjust, inv))
    numbers = pc.cast(pa.array(_FIRST_INVOICE + np.arange(i0, i1), pa.int64()), pa.string())
    numbers = pc.if_else(pa.array(world.kind[i0:i1] == 1),
                         pc.binary_join_element_wise("C", numbers, ""), numbers)
    customer = world.customer[inv]
    columns = [
        numbers.take(pa.array(local)),
        world.codes.take(pa.array(product)),
        world.descriptions.take(pa.array(product, mask=adjust)),
        pa.array(quantity, pa.int64()),
        pa.array(world.time_us[inv], pa.int64()).view(pa.timestamp("us")),
        pa.array(price, pa.float64()),
        world.customer_ids.take(pa.array(customer, mask=customer < 0)),
        world.countries.take(pa.array(world.country[inv])),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=DEMO_SCHEMA)

"""Benchmark data of a second shape, unlike the demo generator, and the floor query.

The demo generator (`segmentation.demo`) makes a gift shop: few customers (numeric ids), about
ten lines an invoice, many exact copies. `write_marketplace` makes the other common shape of
a transaction export:

- text customer ids (``"cu-1a2b3c4d"``), about 1.8 customers per hundred rows (~900k at 50M rows);
- invoices of about 18 lines (~2.8M at 50M rows) drawn from 4,000 products, so nearly every
  line is distinct (no planted copies);
- about 20% of the invoices are guest checkouts without a customer id, about 2% are cancellations
  (``C`` invoice numbers, negative quantities).

Headers are those of a marketplace export (`order_id, sku, product_name, quantity, order_date,
unit_price, customer_id, country`), which Segmenter maps on its own.

`floor_query` is the least exact work any tool must do for RFM with the default cleaning: whole-row
copies removed, then rows without a customer, cancellations and non-positive lines dropped, then
one GROUP BY customer (last date, distinct invoices, Σ quantity × price). `benchmarks/run.py` times
it in DuckDB, under the memory limit the pipeline uses, next to the CLI on the same file.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

MARKETPLACE_SCHEMA = pa.schema([
    pa.field("order_id", pa.string()),
    pa.field("sku", pa.string()),
    pa.field("product_name", pa.string()),
    pa.field("quantity", pa.int64()),
    pa.field("order_date", pa.timestamp("s")),
    pa.field("unit_price", pa.float64()),
    pa.field("customer_id", pa.string()),
    pa.field("country", pa.string()),
])
# The columns of each benchmark shape, by the role the floor query needs.
SHAPE_COLUMNS = {
    "demo": {"invoice": "InvoiceNo", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
             "customer": "CustomerID"},
    "marketplace": {"invoice": "order_id", "date": "order_date", "quantity": "quantity", "price": "unit_price",
                    "customer": "customer_id"},
}
_START = datetime(2010, 12, 1)
_SECONDS = int((datetime(2011, 12, 10) - _START).total_seconds())
_PRODUCTS = 4_000
_WORDS = np.array(["RED", "BLUE", "VINTAGE", "HEART", "LANTERN", "CANDLE", "MUG", "BAG", "SET", "OF", "6",
                   "GARDEN", "CERAMIC", "GLASS", "WOODEN", "PAPER", "CHRISTMAS", "STAR", "BOX", "TIN"])
_COUNTRIES = np.array(["United Kingdom", "Germany", "France", "Spain", "Netherlands", "Italy", "Poland",
                       "Sweden", "Belgium", "Portugal", "Ireland", "Austria"])
_COUNTRY_WEIGHTS = np.array([40, 12, 11, 8, 7, 6, 4, 3, 3, 2, 2, 2], dtype=float)


def marketplace_customer_count(n_rows: int) -> int:
    return max(1, round(n_rows * 0.018))


def _catalogue(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.array([f"SKU-{i:05d}" for i in range(_PRODUCTS)], dtype=object)
    names = np.array([" ".join(rng.choice(_WORDS, size=rng.integers(2, 6))) + f" {i}" for i in range(_PRODUCTS)],
                     dtype=object)
    prices = np.round(rng.lognormal(1.2, 0.8, _PRODUCTS), 2) + 0.05
    return codes, names, prices


def iter_marketplace_batches(n_rows: int, *, seed: int = 0,
                             invoices_per_batch: int = 60_000) -> Iterator[pa.RecordBatch]:
    """`n_rows` rows in record batches of about a million rows; the same rows for the same arguments."""
    rng = np.random.default_rng(seed)
    codes, names, prices = (pa.array(values) for values in _catalogue(rng))
    n_customers = marketplace_customer_count(n_rows)
    ids = pa.array([f"cu-{x:08x}" for x in rng.permutation(np.arange(n_customers, dtype=np.int64) * 7919 + 4099)],
                   pa.string())
    countries = pa.array(_COUNTRIES, pa.string())
    country_of = rng.choice(len(_COUNTRIES), size=n_customers, p=_COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum())
    written = 0
    invoice_no = 500_000
    while written < n_rows:
        lines = rng.poisson(17, invoices_per_batch) + 1
        ends = np.cumsum(lines)
        if written + ends[-1] >= n_rows:  # the last batch: exactly n_rows
            keep = int(np.searchsorted(ends, n_rows - written)) + 1
            lines = lines[:keep]
            lines[-1] -= int(lines.sum()) - (n_rows - written)
        n_inv = len(lines)
        rows = int(lines.sum())
        # Customers: a skewed choice (a few buy often); 20% guests; 2% cancellations.
        customer = np.minimum((rng.random(n_inv) ** 1.6 * n_customers).astype(np.int64), n_customers - 1)
        guest = rng.random(n_inv) < 0.20
        cancelled = rng.random(n_inv) < 0.02
        seconds = np.sort(rng.integers(0, _SECONDS, n_inv))
        number = np.arange(invoice_no, invoice_no + n_inv)
        invoice_no += n_inv
        invoice_text = np.where(cancelled, "C", "").astype(object) + number.astype(str).astype(object)

        of_row = np.repeat(np.arange(n_inv), lines)
        product = pa.array(rng.integers(0, _PRODUCTS, rows))
        quantity = rng.geometric(0.35, rows).astype(np.int64)
        quantity = np.where(cancelled[of_row], -quantity, quantity)
        row_customer = pa.array(customer[of_row], mask=guest[of_row])
        timestamps = (np.datetime64(_START, "s") + seconds.astype("timedelta64[s]"))[of_row]
        yield pa.RecordBatch.from_arrays([
            pa.array(invoice_text, pa.string()).take(pa.array(of_row)),
            codes.take(product),
            names.take(product),
            pa.array(quantity, pa.int64()),
            pa.array(timestamps, pa.timestamp("s")),
            prices.take(product),
            ids.take(row_customer),
            countries.take(pa.array(country_of[customer][of_row])),
        ], schema=MARKETPLACE_SCHEMA)
        written += rows


def marketplace_transactions(n_rows: int, *, seed: int = 0) -> pa.Table:
    return pa.Table.from_batches(list(iter_marketplace_batches(n_rows, seed=seed)), schema=MARKETPLACE_SCHEMA)


def write_marketplace_parquet(path: str | os.PathLike, n_rows: int, *, seed: int = 0) -> None:
    with pq.ParquetWriter(str(path), MARKETPLACE_SCHEMA, compression="snappy") as writer:
        for batch in iter_marketplace_batches(n_rows, seed=seed):
            writer.write_batch(batch, row_group_size=1_000_000)


def write_marketplace_csv(path: str | os.PathLike, n_rows: int, *, seed: int = 0) -> None:
    with pa_csv.CSVWriter(str(path), MARKETPLACE_SCHEMA) as writer:
        for batch in iter_marketplace_batches(n_rows, seed=seed):
            writer.write_batch(batch)


def floor_query(path: str | os.PathLike, shape: str) -> str:
    """The minimal exact RFM query over the file (DuckDB SQL)."""
    col = SHAPE_COLUMNS[shape]
    text = str(Path(path)).replace("'", "''")
    source = f"read_parquet('{text}')" if str(path).endswith(".parquet") else f"read_csv('{text}')"
    q = {role: f'"{name}"' for role, name in col.items()}
    return f"""
        WITH rows AS (SELECT DISTINCT * FROM {source}),
        kept AS (
            SELECT * FROM rows
            WHERE {q['customer']} IS NOT NULL
              AND NOT starts_with(CAST({q['invoice']} AS VARCHAR), 'C')
              AND {q['quantity']} > 0 AND {q['price']} > 0
        )
        SELECT {q['customer']} AS customer_id, max({q['date']}) AS last_purchase,
               count(DISTINCT {q['invoice']}) AS frequency, sum({q['quantity']} * {q['price']}) AS monetary
        FROM kept GROUP BY {q['customer']}
    """


def synthetic_customers(n: int, *, seed: int = 0):
    """N customers of four planted types (skewed R, F, M like the demo): the K-scan and stability cases."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 4, n)
    centre = np.array([[5, 40, 8000.0], [30, 12, 1500.0], [10, 1, 80.0], [300, 2, 150.0]])[kind]
    noise = rng.lognormal(0, 0.3, (n, 3))
    return pd.DataFrame({"customer_id": [f"{i:08d}" for i in range(n)],
                         "recency": np.maximum(1, np.round(centre[:, 0] * noise[:, 0])).astype(int),
                         "frequency": np.maximum(1, np.round(centre[:, 1] * noise[:, 1])).astype(int),
                         "monetary": centre[:, 2] * noise[:, 2]})

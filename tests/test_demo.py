"""Tests of segmentation.demo: exact sizes, schema, determinism, and the realism the rest of the
product relies on (dirt for the cleaning rules, heterogeneous customers for K-Means)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from segmentation.demo import (
    DEMO_END,
    DEMO_SCHEMA,
    DEMO_START,
    demo_customer_count,
    demo_transactions,
    iter_demo_batches,
    write_demo_csv,
    write_demo_parquet,
)
from segmentation.errors import ParameterError

EXPECTED_COLUMNS = [
    ("InvoiceNo", pa.string()),
    ("StockCode", pa.string()),
    ("Description", pa.string()),
    ("Quantity", pa.int64()),
    ("InvoiceDate", pa.timestamp("us")),
    ("UnitPrice", pa.float64()),
    ("CustomerID", pa.string()),
    ("Country", pa.string()),
]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return demo_transactions()


@pytest.fixture(scope="module")
def df(table) -> pd.DataFrame:
    return table.to_pandas()


@pytest.fixture(scope="module")
def sales(df) -> pd.DataFrame:
    """Rows with a customer that are not cancellations, with their revenue."""
    kept = df[df["CustomerID"].notna() & ~df["InvoiceNo"].str.startswith("C")].copy()
    kept["revenue"] = kept["Quantity"] * kept["UnitPrice"]
    return kept


# --- size, schema, determinism ---------------------------------------------------------------

@pytest.mark.parametrize("n_rows", [0, 1, 2, 10, 59, 1_000, 12_345])
def test_exact_row_count(n_rows):
    result = demo_transactions(n_rows, seed=5)
    assert result.num_rows == n_rows
    assert result.schema == DEMO_SCHEMA


def test_default_size_and_schema(table):
    assert table.num_rows == 50_000
    assert [(f.name, f.type) for f in table.schema] == EXPECTED_COLUMNS
    assert table.schema.field("InvoiceDate").type.tz is None


def test_same_seed_same_table_other_seed_other_table(table):
    assert demo_transactions(seed=0).equals(table)
    other = demo_transactions(seed=1)
    assert other.num_rows == table.num_rows
    assert not other.equals(table)
    # Different in substance, not just in one column.
    for column in ("StockCode", "InvoiceDate", "CustomerID"):
        assert not other.column(column).equals(table.column(column))


def test_tiny_tables_are_valid():
    for seed in range(20):
        small = demo_transactions(3, seed=seed).to_pandas()
        assert len(small) == 3
        assert small["InvoiceDate"].is_monotonic_increasing
        cancelled = small["InvoiceNo"].str.startswith("C")
        assert (small.loc[cancelled, "Quantity"] < 0).all()


@pytest.mark.parametrize("kwargs", [
    {"n_rows": -1},
    {"n_rows": 10, "seed": -1},
    {"n_rows": 10, "batch_rows": 0},
    {"n_rows": 10, "start": date(2011, 1, 2), "end": date(2011, 1, 1)},
    {"n_rows": 1.5},
])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ParameterError):
        iter_demo_batches(**kwargs)


# --- batches and writers -------------------------------------------------------------------

@pytest.mark.parametrize(("n_rows", "batch_rows"), [(500, 7), (20_000, 997), (20_000, 50_000), (1, 1)])
def test_batches_concatenate_to_demo_transactions(n_rows, batch_rows):
    batches = list(iter_demo_batches(n_rows, seed=11, batch_rows=batch_rows))
    assert [b.num_rows for b in batches[:-1]] == [batch_rows] * (len(batches) - 1)
    assert 1 <= batches[-1].num_rows <= batch_rows
    assert all(b.schema == DEMO_SCHEMA for b in batches)
    assert pa.Table.from_batches(batches).equals(demo_transactions(n_rows, seed=11))


def test_no_batches_for_zero_rows():
    assert list(iter_demo_batches(0)) == []


def test_parquet_writer(tmp_path):
    path = write_demo_parquet(tmp_path / "demo.parquet", 2_500, seed=2, batch_rows=1_000)
    assert pq.ParquetFile(path).metadata.num_rows == 2_500
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert pq.read_table(path).equals(demo_transactions(2_500, seed=2))


@pytest.mark.parametrize("name", ["demo.csv", "demo.csv.gz"])
def test_csv_writer(tmp_path, name):
    path = write_demo_csv(tmp_path / name, 2_500, seed=2, batch_rows=1_000)
    options = pa_csv.ConvertOptions(column_types=DEMO_SCHEMA, strings_can_be_null=True)
    read = pa_csv.read_csv(path, convert_options=options)
    assert read.num_rows == 2_500
    assert read.column_names == DEMO_SCHEMA.names
    assert read.equals(demo_transactions(2_500, seed=2))  # the text round-trips exactly


# --- realism -------------------------------------------------------------------------------

def test_cancellations_reverse_earlier_lines_of_the_same_customer(df):
    cancelled = df["InvoiceNo"].str.startswith("C")
    assert cancelled.sum() > 0
    assert (df.loc[cancelled, "Quantity"] < 0).all()
    assert df.loc[cancelled, "CustomerID"].notna().all()
    assert df.loc[cancelled, "InvoiceNo"].str[1:].str.isdigit().all()
    share = df.loc[cancelled, "InvoiceNo"].nunique() / df["InvoiceNo"].nunique()
    assert 0.01 <= share <= 0.035
    # Every cancelled line undoes a line the same customer bought before (same product, size).
    bought = df.loc[~cancelled, ["CustomerID", "StockCode", "Quantity", "InvoiceDate"]]
    undo = df.loc[cancelled, ["InvoiceNo", "CustomerID", "StockCode", "Quantity", "InvoiceDate"]]
    undo = undo.assign(Quantity=-undo["Quantity"])
    pairs = undo.merge(bought, on=["CustomerID", "StockCode", "Quantity"], suffixes=("", "_bought"))
    pairs = pairs[pairs["InvoiceDate_bought"] < pairs["InvoiceDate"]]
    assert set(pairs["InvoiceNo"]) == set(undo["InvoiceNo"])


def test_guest_rows(df):
    share = df["CustomerID"].isna().mean()
    assert 0.10 <= share <= 0.35
    # An invoice belongs to one customer (or none) and one country.
    per_invoice = df.groupby("InvoiceNo").agg(customers=("CustomerID", "nunique"),
                                              countries=("Country", "nunique"))
    assert (per_invoice["customers"] <= 1).all()
    assert (per_invoice["countries"] == 1).all()


def test_exact_duplicates_present(df):
    share = df.duplicated().mean()
    assert 0.003 <= share <= 0.03


def test_dirt_for_the_cleaning_rules(df):
    assert 0 < (df["UnitPrice"] == 0).sum() < 0.01 * len(df)
    null_description = df["Description"].isna()
    assert 0 < null_description.sum() < 0.01 * len(df)
    assert (df.loc[null_description, "UnitPrice"] == 0).all()
    negative_not_cancelled = (df["Quantity"] < 0) & ~df["InvoiceNo"].str.startswith("C")
    assert negative_not_cancelled.sum() > 0  # stock adjustments, like UCI
    assert (df["UnitPrice"] >= 0).all()
    assert (df["Quantity"] != 0).all()


def test_dates_inside_period_in_shop_hours_and_in_order(df):
    dates = df["InvoiceDate"]
    assert dates.min() >= pd.Timestamp(DEMO_START)
    assert dates.max() < pd.Timestamp(DEMO_END + timedelta(days=1))
    assert dates.is_monotonic_increasing  # like UCI, and invoice numbers follow time
    assert dates.dt.hour.between(7, 20).all()
    by_month = dates.dt.to_period("M").value_counts()
    assert by_month[pd.Period("2011-11")] == by_month.max()
    assert by_month[pd.Period("2011-11")] > 1.5 * by_month[pd.Period("2011-02")]


def test_custom_period():
    start, end = date(2020, 3, 1), date(2020, 3, 31)
    dates = demo_transactions(5_000, seed=4, start=start, end=end).column("InvoiceDate").to_pandas()
    assert dates.min() >= pd.Timestamp(start)
    assert dates.max() < pd.Timestamp(end + timedelta(days=1))
    assert dates.dt.day.nunique() > 20
    one_day = demo_transactions(100, start=datetime(2021, 5, 6, 15, 0), end=date(2021, 5, 6))
    assert set(one_day.column("InvoiceDate").to_pandas().dt.date) == {date(2021, 5, 6)}


def test_invoice_numbers(df):
    plain = df.loc[~df["InvoiceNo"].str.startswith("C"), "InvoiceNo"]
    assert plain.str.fullmatch(r"\d{6}").all()
    numbers = df["InvoiceNo"].str.lstrip("C").astype(int)
    assert numbers.is_monotonic_increasing
    assert 1.5 <= len(df) / df["InvoiceNo"].nunique() <= 40  # multi-line invoices


def test_countries(df):
    shares = df["Country"].value_counts(normalize=True)
    assert shares.index[0] == "United Kingdom"
    assert 0.75 <= shares.iloc[0] <= 0.95
    assert len(shares) >= 8
    assert {"Germany", "France", "EIRE"} <= set(shares.index)
    # A customer lives in one country.
    assert (df.dropna(subset=["CustomerID"]).groupby("CustomerID")["Country"].nunique() == 1).all()


def test_customer_ids_and_count(df):
    ids = df["CustomerID"].dropna()
    assert ids.str.fullmatch(r"\d{5}").all()
    expected = demo_customer_count(len(df))
    assert 0.8 * expected <= ids.nunique() <= expected


def test_customer_count_scales_with_rows():
    assert demo_customer_count(50_000) == 833
    assert demo_customer_count(100_000_000) == 1_666_666
    assert demo_customer_count(10) == 50
    bigger = demo_transactions(200_000, seed=9).column("CustomerID").to_pandas().nunique()
    assert 0.8 * demo_customer_count(200_000) <= bigger <= demo_customer_count(200_000)


def test_catalogue(df):
    codes = df["StockCode"].nunique()
    assert 300 <= codes <= 501
    described = df.dropna(subset=["Description"])
    assert (described.groupby("StockCode")["Description"].nunique() == 1).all()
    cents = df["UnitPrice"].to_numpy() * 100
    assert np.allclose(cents, np.round(cents))
    positive = df.loc[df["UnitPrice"] > 0, "UnitPrice"]
    assert positive.quantile(0.9) > 3 * positive.quantile(0.1)  # a spread of price levels


def test_customers_are_heterogeneous(sales):
    revenue = sales.groupby("CustomerID")["revenue"].sum().sort_values(ascending=False)
    top = revenue.head(len(revenue) // 10).sum() / revenue.sum()
    assert top > 0.40
    invoices = sales.groupby("CustomerID")["InvoiceNo"].nunique()
    assert 0.2 <= (invoices == 1).mean() <= 0.7  # many one-off buyers...
    assert invoices.max() >= 15  # ...and some very frequent ones
    lines = sales.groupby("InvoiceNo").size()
    assert lines.max() >= 5 * lines.median()  # basket sizes vary
    assert (sales["Quantity"] >= 100).any()  # wholesale quantities


def test_acquisition_and_churn_over_time(sales):
    first = sales.groupby("CustomerID")["InvoiceDate"].min()
    assert first.dt.to_period("M").nunique() >= 12  # customers keep arriving
    assert (first > pd.Timestamp("2011-09-01")).mean() > 0.1
    per_customer = sales.groupby("CustomerID").agg(invoices=("InvoiceNo", "nunique"),
                                                   last=("InvoiceDate", "max"))
    repeat = per_customer[per_customer["invoices"] >= 3]
    churned = repeat["last"] < pd.Timestamp(DEMO_END) - pd.Timedelta(days=120)
    assert 0.05 <= churned.mean() <= 0.8  # some regulars stop buying, most do not

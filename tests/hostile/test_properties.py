"""Property tests (hypothesis) over generated, deliberately dirty transaction tables.

* every row is accounted for: rows in = rows kept + rows dropped, per rule;
* under the default rules every customer has recency >= 1, frequency >= 1, monetary > 0;
* shuffling the rows, or renaming the columns (and mapping them), changes nothing;
* the same seed gives the same segments.

Kept fast (small tables, modest max_examples, no deadline): the whole file runs in seconds.
"""
from __future__ import annotations

import io
import math
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation import pipeline, reading
from segmentation.cleaning import clean
from segmentation.engines import duckdb_engine
from segmentation.errors import NoDataLeftError, SegmenterError
from segmentation.segments import segment_customers
from segmentation.settings import CleaningSettings
from tests.canonical import COLUMNS, ROLES_AMOUNT, ROLES_QP, TYPES

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

START = datetime(2010, 12, 1, 8, 0)
NUMBERS = [1.0, 2.0, 3.0, 12.0, 0.5, 2.55, 0.0, -0.0, -1.0, -12.0, 1e-9, 1e13, 1e308,
           math.nan, math.inf, -math.inf, None]

customer_ids = st.sampled_from(["17850", "13047", "12583", "A-1", "😀", "=cmd()", None, "", "  "])
invoices = st.sampled_from(["536365", "536366", "536367", "C536368", "c536369", None, ""])
dates = st.one_of(st.none(), st.integers(0, 400 * 24).map(lambda h: START + timedelta(hours=h)))
money = st.one_of(st.sampled_from(NUMBERS), st.floats(0.01, 500, allow_nan=False).map(lambda x: round(x, 2)))

rows = st.tuples(customer_ids, invoices, dates, money, money, money,
                 st.sampled_from(["22423", "85123A", None]), st.sampled_from(["Mug", None, "<script>x</script>"]),
                 st.sampled_from(["United Kingdom", "France", None]))
tables = st.lists(rows, min_size=1, max_size=40)


def canonical(lines) -> pa.Table:
    """The drawn lines as a canonical table (no email drawn: that column is all null)."""
    return pa.table({name: pa.array([line[i] if i < len(line) else None for line in lines], type=kind)
                     for i, (name, kind) in enumerate(zip(COLUMNS, TYPES))})


_CON = None


def con():
    """One DuckDB for the whole module: a connection per example would dominate the run time."""
    global _CON
    if _CON is None:
        _CON = pipeline.connect()
    return _CON


def cleaned(table: pa.Table, roles, settings_=CleaningSettings()):
    return clean(con().create_table("t", table, temp=True, overwrite=True), roles, settings_)


def prepared_of(table: pa.Table, roles=ROLES_QP):
    return pipeline.prepare_canonical(table, roles, engine=duckdb_engine(con()))


@FAST
@given(tables, st.sampled_from([ROLES_QP, ROLES_AMOUNT, {k: v for k, v in ROLES_QP.items() if k != "invoice"}]),
       st.booleans(), st.booleans())
def test_every_row_is_kept_or_dropped_by_exactly_one_rule(lines, roles, net_returns, keep_duplicates):
    settings_ = CleaningSettings(net_returns=net_returns)
    if keep_duplicates:
        settings_ = settings_.with_rule("duplicate", False)
    _, audit = cleaned(canonical(lines), roles, settings_)
    assert audit.rows_in == len(lines)
    assert audit.rows_kept + audit.rows_dropped == audit.rows_in
    assert all(rows >= 0 for rows in audit.dropped.values())


@FAST
@given(tables)
def test_default_rules_give_recency_frequency_at_least_1_and_positive_money(lines):
    try:
        prepared = prepared_of(canonical(lines))
    except NoDataLeftError:
        _, audit = cleaned(canonical(lines), ROLES_QP)
        assert audit.rows_kept == 0
        return
    customers = prepared.customers
    assert prepared.audit.rows_in == len(lines) == prepared.audit.rows_kept + prepared.audit.rows_dropped
    assert (customers["recency"] >= 1).all()
    assert (customers["frequency"] >= 1).all()
    assert (customers["monetary"] > 0).all()
    assert customers["customer_id"].is_unique
    assert customers[["r_score", "f_score", "m_score"]].isin(range(1, 6)).all().all()


@FAST
@given(tables, st.randoms(use_true_random=False))
def test_shuffling_rows_changes_nothing(lines, random):
    shuffled = list(lines)
    random.shuffle(shuffled)
    try:
        first = prepared_of(canonical(lines))
    except SegmenterError as error:
        with pytest.raises(type(error)):
            prepared_of(canonical(shuffled))
        return
    second = prepared_of(canonical(shuffled))
    pd.testing.assert_frame_equal(first.customers, second.customers)
    pd.testing.assert_frame_equal(first.audit.table, second.audit.table)


# ----------------------------------------------------------------------------- raw files: renaming

RAW_HEADER = ["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice", "Country"]
RAW_ROLES = {"invoice": "InvoiceNo", "customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity",
             "price": "UnitPrice", "country": "Country"}
raw_rows = st.lists(
    st.tuples(st.sampled_from(["536365", "536366", "C536367", "536368", "536369"]),
              st.sampled_from(["17850", " 13047 ", "12583.0", "00042", ""]),
              st.integers(0, 300).map(lambda d: (START + timedelta(days=d)).strftime("%d/%m/%Y %H:%M")),
              st.sampled_from(["1", "2", "12", "-3", "x", ""]),
              st.sampled_from(["2,55", "1.234,50", "0,85", "0", "abc"]),
              st.sampled_from(["United Kingdom", "France", "EIRE"])),
    min_size=3, max_size=30)
new_names = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                             max_size=12).map(str.strip).filter(bool),
                     min_size=6, max_size=6, unique=True)


def csv_of(header, lines) -> bytes:
    frame = pd.DataFrame(lines, columns=header)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, sep=";")
    return buffer.getvalue().encode()


def outcome(data: bytes, overrides):
    """The customers table (or the error type and message) of a file under a mapping."""
    try:
        loaded = reading.read_file(data, filename="export.csv")
        roles = pipeline.columns.resolve_roles(loaded.table, overrides)
        return pipeline.prepare(loaded, roles).customers
    except SegmenterError as error:
        return type(error).__name__


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(raw_rows, new_names)
def test_renaming_columns_with_the_mapping_changes_nothing(lines, names):
    names = reading.unique_headers(names)
    if len(set(names)) < len(names) or any(n.lower().startswith("column_") for n in names):
        return
    original = outcome(csv_of(RAW_HEADER, lines), RAW_ROLES)
    renamed_roles = {role: names[RAW_HEADER.index(column)] for role, column in RAW_ROLES.items()}
    unmapped = {role: None for role in ("amount", "product", "description") }
    renamed = outcome(csv_of(names, lines), {**renamed_roles, **unmapped})
    if isinstance(original, str) or isinstance(renamed, str):
        assert original == renamed
    else:
        pd.testing.assert_frame_equal(original, renamed)


# ----------------------------------------------------------------------------- model: same seed

customer_tables = st.lists(
    st.tuples(st.integers(1, 400), st.integers(1, 30), st.floats(0.5, 50_000, allow_nan=False)),
    min_size=3, max_size=60)


def customers_of(values) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=["recency", "frequency", "monetary"])
    frame.insert(0, "customer_id", [f"C{i:03d}" for i in range(len(frame))])
    from segmentation.scoring import add_rfm_scores

    return add_rfm_scores(frame)


@FAST
@given(customer_tables, st.integers(0, 2**31 - 1), st.integers(2, 6), st.randoms(use_true_random=False))
def test_same_seed_same_segments_whatever_the_row_order(values, seed, k, random):
    import warnings

    from segmentation.model import DegenerateClustersWarning

    customers = customers_of(values)
    order = list(customers.index)
    random.shuffle(order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateClustersWarning)
        first = segment_customers(customers, k=k, seed=seed).customers
        again = segment_customers(customers, k=k, seed=seed).customers
        shuffled = segment_customers(customers.loc[order], k=k, seed=seed).customers
    pd.testing.assert_frame_equal(first, again)
    by_id = first.set_index("customer_id")[["segment_id", "segment"]]
    pd.testing.assert_frame_equal(by_id, shuffled.set_index("customer_id")[["segment_id", "segment"]].loc[by_id.index])

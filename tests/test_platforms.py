"""Exports straight from the platforms marketers sell on (Shopify, WooCommerce, Stripe, PayPal, Square):
right with zero configuration. The files are built in the published layouts (tests/platforms.py);
the expected customers, R, F and M are a plain pandas computation over the paid orders.

The status rule on PostgreSQL and Spark: tests/test_postgres.py and tests/test_spark.py
(tests/engines/edge_cases.py platform_table).
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from segmentation import cleaning, columns, largefile, parsing, pipeline, reading
from segmentation.errors import CurrencyError
from segmentation.settings import CleaningSettings, status_treatment
from tests import platforms
from tests.engines import edge_cases

PLATFORMS = list(platforms.BUILDERS)


@pytest.fixture(scope="module", params=PLATFORMS)
def platform(request):
    built = platforms.BUILDERS[request.param]()
    loaded = reading.read_file(built.data, filename=built.name)
    roles = columns.resolve_roles(loaded.table)  # zero configuration
    prepared = pipeline.prepare(loaded, roles, snapshot=platforms.SNAPSHOT)
    return request.param, built, roles, prepared


def _rfm(customers: pd.DataFrame) -> pd.DataFrame:
    got = customers[["customer_id", "recency", "frequency", "monetary"]].copy()
    got["customer_id"] = got["customer_id"].astype(str)
    got["monetary"] = got["monetary"].round(2)
    return got.sort_values("customer_id").reset_index(drop=True)


def test_customers_r_f_m_equal_the_paid_orders_alone(platform):
    name, built, roles, prepared = platform
    expected = platforms.expected_customers(built.orders)
    assert len(expected) >= 35
    pd.testing.assert_frame_equal(_rfm(prepared.customers), expected, check_dtype=False)
    # the unpaid orders were in the file, and would have changed the answer
    assert (~built.orders["paid"]).sum() >= 10


def test_the_audit_shows_the_status_rule_with_its_counts(platform):
    name, built, roles, prepared = platform
    audit = prepared.audit
    row = audit.table.set_index("rule").loc["not_paid"]
    assert row["label"] == "Order not paid: refunded, cancelled or failed"
    assert row["rows"] > 0 and row["customers"] > 0
    assert audit.rows_in == audit.rows_kept + audit.rows_dropped == reading.read_file(built.data).table.num_rows
    statuses = audit.statuses
    assert statuses["rows"].sum() == audit.rows_in  # every row's status, carried along its order
    assert row["rows"] == statuses.loc[statuses["treatment"] == "not paid: removed", "rows"].sum()
    written = {v for v in pd.read_csv(pd.io.common.BytesIO(built.data), dtype=str)[built.status_column].dropna()}
    assert set(statuses["status"]) == written
    for status, treatment in zip(statuses["status"], statuses["treatment"]):
        assert treatment == cleaning.STATUS_TREATMENTS[status_treatment(status)]
    assert "not recognised: kept" not in set(statuses["treatment"])  # every platform value is known


def test_the_notes_say_which_column_gave_the_customer_the_status_and_the_money(platform):
    name, built, roles, prepared = platform
    assert (roles["customer"], roles["status"]) == (built.customer_column, built.status_column)
    notes = " ".join(prepared.notes)
    assert f"`{built.customer_column}` identifies the customer" in notes
    assert f"`{built.status_column}` decides which orders count" in notes
    assert f"Status values in `{built.status_column}`: counted as paid:" in notes
    money = next(note for note in prepared.notes if note.startswith("Money is"))
    for column in built.money_columns:
        assert f"`{column}`" in money
    assert "no header says cents" in money


def test_each_layout_is_recognised_by_its_own_columns():
    """Which column plays which role, per platform: what the notes above report."""
    got = {}
    for name, build in platforms.BUILDERS.items():
        roles = columns.resolve_roles(reading.read_file(build().data).table)
        got[name] = {role: roles.get(role) for role in ("customer", "invoice", "amount", "quantity", "price",
                                                         "refunded", "status", "currency")}
    assert got == {
        "shopify": {"customer": "Email", "invoice": "Name", "amount": None, "quantity": "Lineitem quantity",
                    "price": "Lineitem price", "refunded": "Refunded Amount", "status": "Financial Status",
                    "currency": "Currency"},
        "woocommerce": {"customer": "customer_id", "invoice": "order_id", "amount": "item_total",
                        "quantity": "item_quantity", "price": None, "refunded": "item_refunded", "status": "status",
                        "currency": "order_currency"},
        "stripe": {"customer": "Customer ID", "invoice": "Invoice ID", "amount": "Amount", "quantity": None,
                   "price": None, "refunded": "Amount Refunded", "status": "Status", "currency": "Currency"},
        "paypal": {"customer": "From Email Address", "invoice": "Transaction ID", "amount": "Gross",
                   "quantity": "Quantity", "price": None, "refunded": None, "status": "Status", "currency": "Currency"},
        "square": {"customer": "Customer ID", "invoice": "Transaction ID", "amount": "Net Sales", "quantity": None,
                   "price": None, "refunded": "Partial Refunds", "status": "Transaction Status", "currency": None},
    }


def test_switching_the_status_rule_off_counts_every_order():
    built = platforms.stripe()
    loaded = reading.read_file(built.data)
    roles = columns.resolve_roles(loaded.table)
    off = pipeline.prepare(loaded, roles, snapshot=platforms.SNAPSHOT,
                           cleaning=CleaningSettings().with_rule("not_paid", False))
    assert off.audit.dropped["not_paid"] == 0
    on = pipeline.prepare(loaded, roles, snapshot=platforms.SNAPSHOT)
    assert off.customers["frequency"].sum() > on.customers["frequency"].sum()


def test_a_large_file_read_in_place_gives_the_same_customers(tmp_path):
    built = platforms.shopify()
    path = tmp_path / built.name
    path.write_bytes(built.data)
    large = largefile.open_file(path, sample_rows=50)
    assert isinstance(large, largefile.LargeFile)
    roles = columns.resolve_roles(large.preview().rows)
    prepared = large.prepare(roles, snapshot=platforms.SNAPSHOT)
    pd.testing.assert_frame_equal(_rfm(prepared.customers), platforms.expected_customers(built.orders),
                                  check_dtype=False)
    assert prepared.audit.dropped["not_paid"] > 0


def test_the_hand_checked_shop_table_in_duckdb():
    raw = edge_cases.platform_table()
    canonical = parsing.to_canonical(raw, edge_cases.PLATFORM_ROLES).table
    edge_cases.assert_platform_result(pipeline.prepare_canonical(canonical, edge_cases.PLATFORM_ROLES))


# ----------------------------------------------------------------------------- the class of traps, one by one

@pytest.mark.parametrize("value, treatment", [
    ("paid", "paid"), ("Paid", "paid"), ("completed", "paid"), ("Complete", "paid"), ("succeeded", "paid"),
    ("processing", "paid"), ("partially_refunded", "paid"), ("Partially Refunded", "paid"), ("captured", "paid"),
    ("refunded", "not paid"), ("Refunded", "not paid"), ("cancelled", "not paid"), ("Canceled", "not paid"),
    ("voided", "not paid"), ("failed", "not paid"), ("Declined", "not paid"), ("Denied", "not paid"),
    ("pending", "not paid"), ("on-hold", "not paid"), ("authorized", "not paid"), ("APPROVED", "not paid"),
    ("Uncaptured", "not paid"), ("disputed", "not paid"), ("Reversed", "not paid"), ("expired", "not paid"),
    ("on its way", "unknown"), ("", "unknown"), (None, "unknown"),
])
def test_status_values_and_their_treatment(value, treatment):
    assert status_treatment(value) == treatment


def _shop(rows: dict) -> pipeline.Prepared:
    table = pa.table(rows)
    loaded = reading.read_file(table.to_pandas().to_csv(index=False).encode(), filename="shop.csv")
    return pipeline.prepare(loaded, columns.resolve_roles(loaded.table))


BASE = {"Order": ["1001", "1002", "1003"], "Created at": ["2011-01-04 10:00", "2011-02-04 10:00", "2011-03-04 10:00"],
        "Amount": ["10.00", "20.00", "30.00"], "Status": ["paid", "paid", "paid"]}


@pytest.mark.parametrize("id_values, email_values, expected", [
    (None, ["A@x.example", " a@X.example ", "b@y.example"], {"a@x.example": 2, "b@y.example": 1}),
    (["17", "17", "18"], ["a@x.example", "b@y.example", "b@y.example"], {"17": 2, "18": 1}),  # the id wins
    (["0", "0", "18"], ["a@x.example", "A@x.example", "b@y.example"], {"a@x.example": 2, "18": 1}),  # guests
    (["", "17", "17"], ["a@x.example", "b@y.example", "b@y.example"], {"a@x.example": 1, "17": 2}),  # blank id
], ids=["email-only", "id-wins", "guest-zero", "blank-id"])
def test_the_customer_is_the_email_where_there_is_no_id(id_values, email_values, expected):
    rows = dict(BASE, Email=email_values)
    if id_values is not None:
        rows["Customer ID"] = id_values
    prepared = _shop(rows)
    assert dict(zip(prepared.customers["customer_id"], prepared.customers["frequency"])) == expected
    assert prepared.roles["customer"] == ("Email" if id_values is None else "Customer ID")


@pytest.mark.parametrize("invoice, cancelled", [
    ("C536379", True), ("c536379", True), ("ch_3MmlLrLkdIwHu7ix0snN0B15", False), ("C5W12345AB678901C", False),
    ("CUST-1", False), ("536379", False),
])
def test_only_c_followed_by_digits_is_a_cancellation(invoice, cancelled):
    prepared = _shop({"Invoice": [invoice, "1"], "Customer ID": ["17", "17"],
                      "Date": ["2011-01-04 10:00", "2011-01-05 10:00"], "Amount": ["10.00", "5.00"]})
    assert prepared.audit.dropped["cancelled"] == int(cancelled)


@pytest.mark.parametrize("text, expected", [
    ("2011-01-04 10:00:00 +0000", "2011-01-04 10:00:00"),
    ("2011-05-01T10:51:00Z", "2011-05-01 10:51:00"),
    ("2011-01-04 23:30:00 -05:00", "2011-01-05 04:30:00"),  # converted to UTC: the next day there
    ("2011-01-04 10:00:00 -0500", "2011-01-04 15:00:00"),
    ("2011-07-01T08:00:00+02:00", "2011-07-01 06:00:00"),
])
def test_timestamps_with_zones_are_read_in_utc(text, expected):
    parsed = parsing.to_canonical(pa.table({"d": [text, "2011-01-01 00:00:00 +0000"]}), {"date": "d"}).table
    assert str(parsed.column("invoice_date")[0].as_py()) == expected


@pytest.mark.parametrize("header, values, monetary", [
    ("Amount (cents)", ["1250", "750"], 20.0),
    ("amount_minor", ["1250", "750"], 20.0),
    ("Amount", ["1250", "750"], 2000.0),  # no header says cents: read as written
    ("Amount", ["12.50", "7.50"], 20.0),
])
def test_minor_units_are_decided_by_the_header(header, values, monetary):
    prepared = _shop({"Order": ["1", "2"], "Customer ID": ["17", "17"],
                      "Date": ["2011-01-04 10:00", "2011-01-05 10:00"], header: values})
    assert prepared.customers["monetary"].tolist() == [monetary]
    said = [note for note in prepared.notes if "in minor units (cents), as the header says: divided by 100" in note]
    assert bool(said) == (header != "Amount")


def test_several_currencies_stop_with_one_clear_message():
    built = platforms.stripe(currencies=("usd", "eur"))
    loaded = reading.read_file(built.data)
    with pytest.raises(CurrencyError, match=r"The kept orders are in 2 currencies in column 'Currency': "
                                            r"(usd|eur) \([\d,]+ rows\), (usd|eur) \([\d,]+ rows\)\. Adding them up "
                                            r"would mix currencies\.") as raised:
        pipeline.prepare(loaded, columns.resolve_roles(loaded.table))
    assert "one currency at a time" in raised.value.hint


def test_a_failed_attempt_in_another_currency_does_not_stop_the_file():
    prepared = _shop({"Invoice": ["1", "2", "3"], "Customer ID": ["17", "17", "18"],
                      "Date": ["2011-01-04 10:00", "2011-01-04 10:03", "2011-01-05 10:00"],
                      "Amount": ["10.00", "10.00", "5.00"], "Status": ["failed", "succeeded", "succeeded"],
                      "Currency": ["eur", "usd", "usd"]})
    assert prepared.customers["frequency"].tolist() == [1, 1]


def test_unknown_status_values_are_kept_and_listed():
    prepared = _shop(dict(BASE, Status=["paid", "shipped-ish", "refunded"], **{"Customer ID": ["1", "1", "2"]}))
    assert prepared.customers["customer_id"].tolist() == ["1"] and prepared.customers["frequency"].tolist() == [2]
    note = next(note for note in prepared.notes if note.startswith("Status values"))
    assert "not recognised: kept: 'shipped-ish' (1 rows)" in note and "check them" in note


def test_the_report_lists_the_status_values(tmp_path):
    import json

    from segmentation import cli

    built = platforms.woocommerce()
    path = tmp_path / built.name
    path.write_bytes(built.data)
    report = tmp_path / "r.json"
    assert cli.main([str(path), "--k", "3", "--report", str(report), "--snapshot", "2012-01-01"]) == 0
    got = json.loads(report.read_text())
    assert got["customers"] == len(platforms.expected_customers(built.orders))
    assert got["dropped"]["not_paid"] > 0
    statuses = {row["status"]: (row["treatment"], row["rows"]) for row in got["statuses"]}
    assert statuses["completed"][0] == "counted as paid" and statuses["on-hold"][0] == "not paid: removed"
    assert sum(rows for _, rows in statuses.values()) == got["rows_in"]

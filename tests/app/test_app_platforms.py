"""The Data page on a shop export: the status rule, the status values found and how each was treated,
and the customers of the paid orders only (the file and its expected customers: tests/platforms.py)."""
from __future__ import annotations

from tests import platforms
from tests.app.app_helpers import by_key_prefix, results, texts, upload


def test_data_page_shows_the_status_rule_and_its_values(app):
    built = platforms.shopify()
    at = upload(app, built.name, built.data)
    outcome = results(at)
    assert outcome.spec.source.name == built.name
    assert outcome.roles["customer"] == "Email" and outcome.roles["status"] == "Financial Status"
    # the default snapshot is the day after the last paid order; customers and F do not depend on it
    expected = platforms.expected_customers(built.orders)
    customers = outcome.prepared.customers.sort_values("customer_id")
    assert customers["customer_id"].tolist() == expected["customer_id"].tolist()
    assert customers["frequency"].tolist() == expected["frequency"].tolist()
    assert at.metric[2].value == f"{len(expected):,}"  # the Customers metric

    shown = texts(at)
    audit = outcome.prepared.audit
    removed = audit.dropped["not_paid"]
    assert removed > 0
    assert f"`Financial Status` decides which orders count (rule “Order not paid: refunded, cancelled or failed”, " \
           f"{removed:,} rows removed)" in shown
    table = next(frame.value for frame in at.dataframe if "Status found" in frame.value.columns)
    by_status = dict(zip(table["Status found"], table["Treated as"]))
    assert by_status == {"paid": "counted as paid", "partially_refunded": "counted as paid",
                         "refunded": "not paid: removed", "voided": "not paid: removed",
                         "pending": "not paid: removed", "authorized": "not paid: removed",
                         "expired": "not paid: removed"}
    assert table["Rows"].sum() == audit.rows_in
    assert "Status values in `Financial Status`" in shown  # the note with the values and their rows
    assert "`Email` identifies the customer" in shown


def test_switching_the_status_rule_off_on_the_data_page(app):
    built = platforms.stripe()
    at = upload(app, built.name, built.data)
    on = results(at).prepared
    by_key_prefix(at.toggle, "w_rule_not_paid_").set_value(False).run()
    off = results(at).prepared
    assert "not_paid" not in results(at).spec.cleaning.rules
    assert off.audit.dropped["not_paid"] == 0 and on.audit.dropped["not_paid"] > 0
    assert off.customers["frequency"].sum() > on.customers["frequency"].sum()

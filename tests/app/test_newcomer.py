"""Issue 21 (items 7–11) on screen: rules that cannot apply or overlap say so, money carries the
file's currency, no debug text, one vocabulary and one date format."""
from __future__ import annotations

import re

import pytest

from segmentation import formats
from tests.app.app_helpers import by_key_prefix, new_app, results, texts, to_csv, transactions, upload
from ui.session import RUN_SECONDS


def amount_file(currency_symbol: str = "") -> bytes:
    """A CDNOW-like file: customer, date and a line amount only (no invoice, no quantity or price)."""
    lines = transactions()
    lines = lines[~lines["InvoiceNo"].str.startswith("C")]
    amount = (lines["Quantity"] * lines["UnitPrice"]).round(2)
    frame = lines.assign(amount=[f"{currency_symbol}{value:.2f}" for value in amount])
    return to_csv(frame[["CustomerID", "InvoiceDate", "amount"]].rename(
        columns={"CustomerID": "customer_id", "InvoiceDate": "date"}))


@pytest.fixture
def amount_app():
    return upload(new_app(), "cdnow_like.csv", amount_file("£"))


def test_rules_that_cannot_apply_are_greyed_out_with_the_reason(amount_app):
    at = amount_app
    cancelled = by_key_prefix(at.toggle, "w_rule_cancelled_")
    quantity = by_key_prefix(at.toggle, "w_rule_non_positive_quantity_")
    price = by_key_prefix(at.toggle, "w_rule_non_positive_price_")
    assert cancelled.disabled and quantity.disabled and not price.disabled
    assert cancelled.label == "Cancelled invoice — does not apply"
    assert price.label == "Line amount zero or negative"
    shown = texts(at)
    assert "No invoice column is mapped, so no line can be recognised as a cancellation." in shown
    assert "a return is a negative amount" in shown


def test_switching_cancelled_off_explains_where_its_rows_go(app, small_csv):
    at = upload(app, "small.csv", small_csv)
    before = results(at).prepared.audit
    by_key_prefix(at.toggle, "w_rule_cancelled_").set_value(False).run()
    after = results(at).prepared.audit
    assert after.dropped["cancelled"] == 0 and after.rows_kept == before.rows_kept  # moved, not kept
    assert any('"Quantity zero or negative" removes them instead' in info.value for info in at.info)
    by_key_prefix(at.toggle, "w_net_").set_value(True).run()
    assert by_key_prefix(at.toggle, "w_rule_non_positive_quantity_").disabled
    assert any("Net returns is on" in info.value for info in at.info)


def test_money_carries_the_currency_the_file_names_or_the_one_set(amount_app):
    at = amount_app
    assert results(at).currency() == "£"
    at.switch_page("views/segments.py").run()
    revenue = next(m for m in at.metric if m.label == "Revenue")
    assert revenue.value.startswith("£") and revenue.value.count(".") == 1 and len(revenue.value.split(".")[1]) == 2
    at.switch_page("views/data.py").run()
    by_key_prefix(at.selectbox, "w_currency_").set_value("CHF").run()
    at.switch_page("views/segments.py").run()
    assert next(m for m in at.metric if m.label == "Revenue").value.endswith(" CHF")
    at.switch_page("views/data.py").run()
    by_key_prefix(at.selectbox, "w_currency_").set_value("none").run()
    at.switch_page("views/segments.py").run()
    assert next(m for m in at.metric if m.label == "Revenue").value[0].isdigit()


def test_no_debug_timing_in_the_sidebar_but_recorded_for_tests(app):
    assert not any("computed in" in c.value for c in app.sidebar.caption)
    wall, cpu = app.session_state[RUN_SECONDS]
    assert wall > 0 and cpu >= 0


def test_rows_kept_share_is_a_grey_fact_without_an_arrow(app):
    app.switch_page("views/data.py").run()
    kept = next(m for m in app.metric if m.label == "Rows kept")
    assert kept.proto.delta.endswith("% of rows")
    assert kept.proto.direction == kept.proto.MetricDirection.NONE  # no ↑
    assert kept.proto.color == kept.proto.MetricColor.GRAY  # not green


def test_cards_use_plain_words_plural_and_the_one_date_format(app):
    app.switch_page("views/segments.py").run()
    shown = texts(app)
    assert not re.search(r"(?<![\d,])1 (purchases|days|customers)\b", shown)
    assert re.search(r"\*\*\d[\d,]* purchases?\*\*", shown)
    snapshot = next(m for m in app.metric if m.label == "Snapshot date").value
    assert snapshot == formats.day(results(app).prepared.snapshot) and snapshot.count("-") == 2
    assert "Most common RFM score label" in shown and "Most common RFM segment" not in shown
    assert "How the segments are named" in [e.label for e in app.expander]

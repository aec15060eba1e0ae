"""Outlook helpers: the lapsing audience (valuable, likely inactive) and the backtest in words."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pytest

from segmentation import outlook


def make_customers() -> pd.DataFrame:
    """Ten customers; spend 1000, 900, …, 100; chance still active chosen per customer."""
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(10)],
        "segment_id": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3],
        "segment": ["Champions"] * 3 + ["At Risk"] * 3 + ["Lost"] * 4,
        "recency": [5, 200, 40, 300, 10, 20, 400, 30, 15, 500],
        "frequency": [12, 8, 7, 5, 4, 3, 2, 2, 1, 1],
        "monetary": [1000.0, 900.0, 800.0, 700.0, 600.0, 500.0, 400.0, 300.0, 200.0, 100.0],
        "p_alive": [0.95, 0.10, 0.40, 0.20, 0.90, 0.80, 0.05, 0.70, 1.0, 0.01],
        "expected_purchases": [3.0, 0.2, 0.9, 0.3, 1.5, 1.2, 0.05, 0.8, 0.3, 0.01],
        "predicted_revenue": [250.0, 20.0, 100.0, 40.0, 150.0, 80.0, 5.0, 60.0, 30.0, 1.0],
        "rfm_segment": ["x"] * 10,
    })


@pytest.mark.parametrize("below, top, expected", [
    (0.5, 0.2, ["c1"]),  # top fifth: c0 (active), c1 (0.10)
    (0.5, 0.4, ["c1", "c2", "c3"]),  # top four: c2 0.40 and c3 0.20 are lapsing too
    (0.3, 0.4, ["c1", "c3"]),
    (0.5, 1.0, ["c1", "c2", "c3", "c6", "c9"]),
    (0.05, 1.0, ["c9"]),  # strictly below the threshold: c6 at 0.05 is not
], ids=["fifth", "two-fifths", "stricter", "everyone", "strict"])
def test_lapsing_customers_are_valuable_and_likely_inactive(below, top, expected):
    found = outlook.lapsing_customers(make_customers(), p_alive_below=below, top_value_share=top)
    assert found["customer_id"].tolist() == expected
    assert found["monetary"].is_monotonic_decreasing
    assert list(found.columns) == ["customer_id", "segment_id", "segment", "recency", "frequency", "monetary",
                                   "p_alive", "expected_purchases", "predicted_revenue"]


def test_a_customer_tied_with_the_spend_cut_off_is_valuable_whatever_the_row_order():
    customers = make_customers()
    customers.loc[2, "monetary"] = 900.0  # c2 ties c1 at the edge of the top fifth (2 customers)
    for frame in (customers, customers.iloc[::-1]):
        found = outlook.lapsing_customers(frame, p_alive_below=0.5, top_value_share=0.2)
        assert found["customer_id"].tolist() == ["c1", "c2"]


def test_lapsing_customers_keep_email_when_the_data_has_it_and_handle_no_customers():
    customers = make_customers().assign(email=[f"{i}@example.com" for i in range(10)])
    found = outlook.lapsing_customers(customers)
    assert list(found.columns[:2]) == ["customer_id", "email"] and found["email"].tolist() == ["1@example.com"]
    assert outlook.lapsing_customers(customers.iloc[:0]).empty


@pytest.mark.parametrize("arguments, match", [
    ({"p_alive_below": 0}, "p_alive_below"), ({"p_alive_below": 1.5}, "p_alive_below"),
    ({"p_alive_below": "0.5"}, "p_alive_below"), ({"top_value_share": 0}, "top_value_share"),
    ({"top_value_share": 2}, "top_value_share"),
], ids=["zero", "above-one", "text", "no-share", "share-above-one"])
def test_lapsing_customers_refuse_thresholds_out_of_range(arguments, match):
    with pytest.raises(ValueError, match=match):
        outlook.lapsing_customers(make_customers(), **arguments)


def test_lapsing_customers_need_the_chance_still_active():
    with pytest.raises(ValueError, match="'p_alive'"):
        outlook.lapsing_customers(make_customers().drop(columns="p_alive"))


@pytest.mark.parametrize("predicted, actual, words", [
    (1653.4, 1882, "12.1% below what happened"),
    (110.0, 100.0, "10.0% above what happened"),
    (100.02, 100.0, "within 0.1% of what happened"),
    (0.0, 0.0, "exactly right"),
    (3.0, 0.0, "against none that happened"),
])
def test_change_in_words(predicted, actual, words):
    assert outlook.change_in_words(predicted, actual) == words


@dataclass
class _Backtest:
    calibration_end: date = date(1997, 9, 30)
    holdout_days: int = 273
    customers: int = 2349
    actual_purchases: float = 1882.0
    predicted_purchases: float = 1653.4
    actual_revenue: float = 69123.456
    predicted_revenue: float | None = 60500.0
    mean_absolute_error: float = 0.6123


def test_backtest_in_words_gives_totals_error_and_dates_for_people():
    text = outlook.backtest_in_words(_Backtest())
    assert "up to 30 Sep 1997" in text and "the 273 days that followed" in text
    assert "expected 1,653 repeat purchases from 2,349 customers; they made 1,882" in text
    assert "12.1% below what happened" in text
    assert "Predicted revenue 60,500.00, actual 69,123.46 (12.5% below what happened)" in text
    assert "off by 0.61 on average (mean absolute error)" in text


def test_backtest_in_words_without_a_spend_model_gives_the_actual_revenue_only():
    text = outlook.backtest_in_words(_Backtest(predicted_revenue=None))
    assert "Revenue: 69,123.46, not predicted (no model of spend per purchase)." in text
    assert "Predicted revenue" not in text

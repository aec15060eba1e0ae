"""Recency, frequency and monetary value on transactions small enough to check by hand."""
from datetime import date

import pandas as pd
import pytest

from segmentation.errors import NoDataLeftError, ParameterError
from segmentation.pipeline import prepare_canonical
from segmentation.settings import CleaningSettings
from tests.canonical import ROLES_AMOUNT, ROLES_QP, line, table

# Three customers; the last purchase in the data is 2011-12-09 (snapshot 2011-12-10).
TRANSACTIONS = table(
    line("12346", "541431", "2011-01-18 10:01", 74215, 1.04, country="United Kingdom"),
    line("12346", "C541433", "2011-01-18 10:17", -74215, 1.04, country="United Kingdom"),
    line("A", "1", "2011-12-01 09:00", 2, 2.5, country="France"),
    line("A", "1", "2011-12-01 09:00", 1, 10.0, product="P2", country="France"),
    line("A", "2", "2011-12-09 23:59", 3, 1.0, country="Germany"),
    line("A", "3", "2011-12-09 08:00", 1, 4.0, country="France"),
    line("B", "4", "2011-06-01 12:00", 10, 0.5, country="Spain"),
    line("B", "4", "2011-06-01 12:00", 10, 0.5, country="Spain"),  # duplicate
    line(None, "5", "2011-12-09 10:00", 100, 1.0),  # guest
)


@pytest.fixture(scope="module")
def prepared():
    return prepare_canonical(TRANSACTIONS, ROLES_QP)


def test_hand_checked_rfm(prepared):
    customers = prepared.customers.set_index("customer_id")
    assert prepared.snapshot == date(2011, 12, 10)
    expected = pd.DataFrame(
        {
            "recency": [326, 1, 192],  # 2011-01-18 → 12-10; 12-09 → 12-10; 06-01 → 12-10
            "frequency": [1, 3, 1],
            "monetary": [77183.60, 5.0 + 10.0 + 3.0 + 4.0, 5.0],
            "tenure": [326, 9, 192],
            "country": ["United Kingdom", "France", "Spain"],
        },
        index=pd.Index(["12346", "A", "B"], name="customer_id", dtype="string"),
    )
    got = customers[expected.columns]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert customers.loc["A", "avg_order_value"] == pytest.approx(22.0 / 3)


def test_explicit_snapshot_moves_recency_and_tenure():
    later = prepare_canonical(TRANSACTIONS, ROLES_QP, snapshot=date(2012, 1, 1))
    customers = later.customers.set_index("customer_id")
    assert customers.loc["A", "recency"] == 23 and customers.loc["A", "tenure"] == 31


@pytest.mark.parametrize("snapshot", [date(2011, 12, 9), date(2011, 1, 1)], ids=["last-day", "before-data"])
def test_snapshot_not_after_the_last_purchase_is_refused(snapshot):
    with pytest.raises(ParameterError, match=r"not after the last purchase in the data \(2011-12-09\)"):
        prepare_canonical(TRANSACTIONS, ROLES_QP, snapshot=snapshot)


def test_without_invoice_frequency_counts_distinct_purchase_times():
    rows = table(
        line("A", None, "2011-01-01 10:00", amount=5.0), line("A", None, "2011-01-01 10:00", amount=6.0),
        line("A", None, "2011-01-01 11:00", amount=7.0), line("A", None, "2011-02-01 10:00", amount=8.0),
    )
    prepared = prepare_canonical(rows, ROLES_AMOUNT)
    row = prepared.customers.iloc[0]
    assert (row["frequency"], row["monetary"], row["recency"]) == (3, 26.0, 1)


def test_net_returns_lower_monetary_but_not_frequency():
    rows = table(line("A", "1", "2011-01-01", 4, 5.0), line("A", "C2", "2011-01-05", -1, 5.0),
                 line("B", "3", "2011-01-02", 1, 1.0))
    customers = prepare_canonical(rows, ROLES_QP, cleaning=CleaningSettings(net_returns=True)).customers
    a = customers.set_index("customer_id").loc["A"]
    assert (a["monetary"], a["frequency"]) == (15.0, 1)


def test_products_per_customer_for_profiles(prepared):
    products = prepared.customer_products.set_index(["customer_id", "product"])["revenue"]
    assert products.loc[("A", "P1")] == pytest.approx(5.0 + 3.0 + 4.0)
    assert products.loc[("A", "P2")] == pytest.approx(10.0)


def test_everything_removed_names_the_rules():
    rows = table(line(None, "1", "2011-01-01"), line("A", "C2", "2011-01-01", -1, 1.0))
    with pytest.raises(NoDataLeftError, match=r"missing_customer \(1 rows\), cancelled \(1 rows\)"):
        prepare_canonical(rows, ROLES_QP)

"""Who moved between two dates: as-of RFM, New customers, the transition matrix, the trend."""
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from segmentation import migration
from segmentation.errors import ParameterError
from segmentation.pipeline import prepare_canonical
from tests.canonical import ROLES_QP, line, table
from tests.test_saved import HAND

A = date(2011, 7, 1)

# Four customers small enough to check by hand; the snapshot is 2011-12-02.
HAND_TRANSACTIONS = table(
    line("a", "1", "2011-01-10 09:00", 2, 5.0),
    line("a", "2", "2011-06-30 23:00", 1, 20.0),  # the last minute before A counts at A
    line("a", "3", "2011-08-15 10:00", 3, 10.0),
    line("b", "4", "2011-07-01 00:00", 1, 7.0),  # on A itself: not before A, so New
    line("c", "5", "2011-03-01 12:00", 4, 2.5),
    line("c", "C6", "2011-09-01 12:00", -4, 2.5),  # cancelled: dropped by the cleaning, at A and at B
    line("d", "7", "2011-12-01 15:00", 5, 10.0),
)


@pytest.fixture(scope="module")
def hand():
    prepared = prepare_canonical(HAND_TRANSACTIONS, ROLES_QP)
    return prepared, migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot)


def test_hand_checked_as_of_values(hand):
    prepared, moved = hand
    assert prepared.snapshot == date(2011, 12, 2)
    rows = moved.customers.set_index("customer_id")
    expected = pd.DataFrame({
        "recency_a": [1, None, 122, None], "frequency_a": [2, None, 1, None], "monetary_a": [30.0, None, 10.0, None],
        "recency_b": [109, 154, 276, 1], "frequency_b": [3, 1, 1, 1], "monetary_b": [60.0, 7.0, 10.0, 50.0],
        "revenue_between": [30.0, 7.0, 0.0, 50.0],
    }, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    for column in expected:
        assert rows[column].astype("float64").tolist() == pytest.approx(expected[column].tolist(), nan_ok=True), column
    assert moved.customers_a == 2 and moved.new_customers == 2
    assert rows.loc[["b", "d"], "segment_a"].isna().all() and rows.loc[["b", "d"], "segment_id_a"].isna().all()


def test_the_b_side_is_the_single_run(hand):
    prepared, moved = hand
    single = prepared.customers.set_index("customer_id")[["recency", "frequency", "monetary"]]
    at_b = moved.customers.set_index("customer_id")[["recency_b", "frequency_b", "monetary_b"]]
    at_b.columns = single.columns
    pd.testing.assert_frame_equal(at_b.sort_index(), single.sort_index(), check_dtype=False)


def test_customers_as_of_a_date(hand):
    prepared, _ = hand
    at_a = migration.customers_as_of(prepared.purchases, A).set_index("customer_id")
    assert at_a.index.tolist() == ["a", "c"]
    assert at_a[["recency", "frequency", "monetary", "tenure"]].values.tolist() == [[1, 2, 30.0, 172],
                                                                                      [122, 1, 10.0, 122]]


def test_a_must_come_before_b(hand):
    prepared, _ = hand
    with pytest.raises(ParameterError, match="The first date 2011-12-02 must be before the second, 2011-07-01"):
        migration.compare(prepared.purchases, date_a=date(2011, 12, 2), date_b=A)


def test_a_saved_segmentation_is_used_as_given(hand):
    prepared, _ = hand
    moved = migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot, segmentation=HAND)
    assert not moved.fitted_at_a and moved.segmentation is HAND
    expected_b, _ = HAND.assign(moved.customers.rename(columns={
        "recency_b": "recency", "frequency_b": "frequency", "monetary_b": "monetary"}))
    assert moved.customers["segment_id_b"].tolist() == expected_b.tolist()


# ---------------------------------------------------------------------------------------------
# planted: a group that stops buying after A moves to the most lapsed segment by B
# ---------------------------------------------------------------------------------------------
def planted_transactions(seed: int = 0):
    """Five groups of customers through 2011: VIP (every 4 days, high prices), steady (every two
    weeks all year), lapsing (every two weeks until June, then nothing), dormant (weekly in
    January and February only), and new (from August)."""
    rng = np.random.default_rng(seed)
    lines, invoice = [], 0

    def buy(customer, days, every, start, price=10.0):
        nonlocal invoice
        day, end = start, start + timedelta(days=days)
        while day < end:
            invoice += 1
            lines.append(line(customer, str(invoice), datetime(day.year, day.month, day.day, 10), 2,
                              round(float(price * rng.uniform(0.8, 1.2)), 2)))
            day += timedelta(days=int(every + rng.integers(-2, 3)))

    def start(month=1, spread=7):
        return date(2011, month, 1) + timedelta(days=int(rng.integers(0, spread)))

    for i in range(40):
        buy(f"V{i:02d}", 342, 4, start(), 80.0)
        buy(f"S{i:02d}", 342, 14, start())
        buy(f"L{i:02d}", 170, 14, start())
        buy(f"D{i:02d}", 70, 7, start())
    for i in range(20):
        buy(f"N{i:02d}", 120, 14, start(8, 20))
    return table(*lines)


@pytest.fixture(scope="module")
def planted():
    prepared = prepare_canonical(planted_transactions(), ROLES_QP)
    return prepared, migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot, k=3)


def test_the_lapsing_group_moves_to_the_most_lapsed_segment(planted):
    _, moved = planted
    most_lapsed = max(moved.segmentation.segments, key=lambda s: s["recency_median"])["segment_id"]
    rows = moved.customers.assign(group=moved.customers["customer_id"].str[0])
    lapsing = rows[rows["group"] == "L"]
    assert len(lapsing) == 40
    assert (lapsing["segment_id_b"] == most_lapsed).all()
    assert (lapsing["segment_id_a"] != most_lapsed).all()
    assert (lapsing["revenue_between"] == 0).all()
    steady = rows[rows["group"].isin(["V", "S"])]
    assert (steady["segment_id_a"] == steady["segment_id_b"]).all()


def test_every_customer_at_b_is_in_the_matrix_once(planted):
    prepared, moved = planted
    assert moved.customers["customer_id"].is_unique
    assert len(moved.customers) == len(prepared.customers) == moved.matrix["customers"].sum()
    assert moved.new_customers == 20 and moved.customers_a == 160
    assert moved.matrix.loc[moved.matrix["from"] == migration.NEW, "customers"].sum() == 20
    assert moved.matrix.groupby("from_id")["row_share"].sum().tolist() == pytest.approx([1.0] * 4)
    assert moved.matrix["revenue"].sum() == pytest.approx(moved.customers["revenue_between"].sum(), abs=0.01)


def test_sizes_in_out_and_net_add_up(planted):
    _, moved = planted
    sizes = moved.sizes
    assert (sizes["size_b"] - sizes["size_a"] == sizes["net"]).all()
    assert (sizes["moved_in"] - sizes["moved_out"] == sizes["net"]).all()
    assert sizes["size_a"].sum() == moved.customers_a and sizes["new"].sum() == moved.new_customers
    lapsing_target = sizes.set_index("segment_id").loc[moved.customers.loc[
        moved.customers["customer_id"] == "L00", "segment_id_b"].item()]
    assert lapsing_target["moved_in"] >= 40


def test_a_flow_lists_its_customers(planted):
    _, moved = planted
    row = moved.matrix[(moved.matrix["from_id"] != moved.matrix["to_id"]) & (moved.matrix["from_id"] > 0)].iloc[0]
    customers = moved.flow(row["from"], row["to"])
    assert len(customers) == row["customers"]
    assert (customers["segment_a"] == row["from"]).all() and (customers["segment_b"] == row["to"]).all()
    assert len(moved.flow(migration.NEW, moved.customers.loc[moved.customers["customer_id"] == "N00",
                                                             "segment_b"].item())) >= 1


def test_report_matrix_and_migration_file_columns(planted):
    _, moved = planted
    report = moved.report()
    assert {"date_a", "date_b", "matrix", "new_customers"} <= set(report)
    assert report["date_a"] == "2011-07-01" and report["new_customers"] == 20
    assert {"from", "to", "customers", "revenue"} <= set(report["matrix"][0])
    assert list(moved.customers.columns[:6]) == ["customer_id", "segment_id_a", "segment_a", "segment_id_b",
                                                 "segment_b", "revenue_between"]


def test_trend_counts_equal_a_single_as_of_run_at_each_month_end(planted):
    prepared, moved = planted
    month_ends = migration.trend_dates(prepared.date_min, prepared.snapshot)
    assert month_ends[0] == date(2011, 1, 31) and month_ends[-1] == date(2011, 11, 30)
    counts = migration.trend(prepared.purchases, moved.segmentation, month_ends)
    assert len(counts) == len(month_ends) * moved.segmentation.k
    for month_end in (date(2011, 2, 28), date(2011, 6, 30), date(2011, 11, 30)):
        at = migration.customers_as_of(prepared.purchases, month_end + timedelta(days=1))
        ids, _ = moved.segmentation.assign(at)
        expected = pd.Series(ids).value_counts().reindex(range(1, moved.segmentation.k + 1), fill_value=0)
        got = counts[counts["month_end"] == month_end].set_index("segment_id")["customers"]
        assert got.tolist() == expected.tolist(), month_end


@pytest.mark.parametrize(
    ("first", "snapshot", "points", "expected"),
    [
        (date(2011, 1, 5), date(2011, 4, 1), 24, [date(2011, 1, 31), date(2011, 2, 28), date(2011, 3, 31)]),
        (date(2011, 1, 5), date(2011, 3, 31), 24, [date(2011, 1, 31), date(2011, 2, 28)]),
        (date(2009, 12, 1), date(2011, 12, 10), 24, None),
        (date(2011, 12, 1), date(2011, 12, 10), 24, []),
    ],
    ids=["whole-months", "last-month-unfinished", "capped-at-24", "no-month-ended"],
)
def test_trend_dates(first, snapshot, points, expected):
    ends = migration.trend_dates(first, snapshot, points=points)
    if expected is None:
        assert len(ends) == 24 and ends[-1] == date(2011, 11, 30) and ends[0] == date(2009, 12, 31)
    else:
        assert ends == expected


def test_named_rfm_segments_migrate_with_the_edges_frozen_at_a(planted):
    _, moved = planted
    edges = moved.segmentation.rfm_edges
    lapsing = moved.customers[moved.customers["customer_id"].str.startswith("L")]
    # recency scores from the cut points fitted at A: 160+ days of silence is the lowest score
    assert (lapsing["recency_b"] > edges["recency"][0]).all()
    assert set(lapsing["rfm_segment_b"]) <= {"Hibernating", "At Risk", "Can't Lose Them", "Lost"}
    table = moved.rfm_matrix()
    assert table.to_numpy().sum() == len(moved.customers)
    assert table.loc[migration.NEW].sum() == moved.new_customers

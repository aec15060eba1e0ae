"""What comes next: the per-customer summary (purchase days), predictions, backtest, segment outlook."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import segmentation
from segmentation import clv, parsing, pipeline, prediction
from segmentation.errors import ParameterError, PredictionError
from segmentation.settings import SWITCHABLE_RULES, CleaningSettings
from tests.shared_data import shared_file

ROLES = {"customer": "Customer", "invoice": "Invoice", "date": "Date", "quantity": "Qty", "price": "Price"}


def lines(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """(customer, invoice, timestamp, money) → one transaction line each (Qty 1)."""
    return pd.DataFrame([{"Customer": c, "Invoice": i, "Date": d, "Qty": "1", "Price": str(m)}
                         for c, i, d, m in rows])


# A: three invoices on 2011-01-03 (one purchase day, money summed), then 01-10 and 01-20 (x = 2).
# B: one purchase day only (x = 0). C: an invoice before 06:00 and one at 23:59 on 02-01 (one day),
# then 02-11 (x = 1). Snapshot 2011-03-01: the last observed day is 02-28.
SMALL = lines([
    ("A", "1", "2011-01-03 09:00", 10), ("A", "2", "2011-01-03 12:00", 5), ("A", "3", "2011-01-03 18:00", 1),
    ("A", "4", "2011-01-10 10:00", 20), ("A", "5", "2011-01-20 10:00", 40),
    ("B", "6", "2011-02-27 10:00", 7),
    ("C", "7", "2011-02-01 05:00", 3), ("C", "8", "2011-02-01 23:59", 4), ("C", "9", "2011-02-11 08:00", 9),
])
SNAPSHOT = date(2011, 3, 1)


def prepared_of(frame: pd.DataFrame, snapshot=SNAPSHOT, roles=ROLES, **options):
    return pipeline.prepare_canonical(parsing.to_canonical(
        __import__("pyarrow").Table.from_pandas(frame, preserve_index=False), roles).table, roles,
        snapshot=snapshot, with_products=False, **options)


def test_summary_counts_purchase_days_by_hand():
    prepared = prepared_of(SMALL)
    got = prediction.summary_expr(prepared.purchases, SNAPSHOT).order_by("customer_id").execute()
    want = pd.DataFrame({
        "customer_id": ["A", "B", "C"],
        "repeat_purchases": [2, 0, 1],
        "t_x": [17, 0, 10],  # 01-03 → 01-20; -; 02-01 → 02-11
        "T": [56, 1, 27],  # from the first purchase day to 02-28
        "mean_spend": [30.0, np.nan, 9.0],  # (20 + 40) / 2; none; 9 / 1
        "repeat_units": [60_000_000, 0, 9_000_000],
    })
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


def test_backtest_summary_splits_at_the_calibration_end():
    prepared = prepared_of(SMALL)
    got = prediction.backtest_expr(prepared.purchases, date(2011, 2, 1), SNAPSHOT).order_by("customer_id").execute()
    # Before 02-01 only A bought: x = 2, T = 01-03 → 01-31 = 28; its holdout is empty.
    assert got[["customer_id", "repeat_purchases", "t_x", "T", "holdout_purchases", "holdout_units"]].to_dict(
        "records") == [{"customer_id": "A", "repeat_purchases": 2, "t_x": 17, "T": 28, "holdout_purchases": 0,
                        "holdout_units": 0}]


# (customer, x, t_x, T, holdout purchase days, holdout money) of the calibration customers, by hand
# from SMALL: A buys on 01-03, 01-10, 01-20; B on 02-27; C on 02-01 (twice) and 02-11.
BACKTESTS = {
    date(2011, 1, 10): [("A", 0, 0, 6, 2, 60)],  # A's 01-10 and 01-20 are the holdout; B, C not yet customers
    date(2011, 2, 1): [("A", 2, 17, 28, 0, 0)],  # C's first day is 02-01: not a calibration customer
    date(2011, 2, 12): [("A", 2, 17, 39, 0, 0), ("C", 1, 10, 10, 0, 0)],  # B starts on 02-27
}


@pytest.mark.parametrize("calibration_end", list(BACKTESTS))
def test_the_one_query_gives_both_summaries(calibration_end):
    prepared = prepared_of(SMALL)
    summary, split = prediction._split(prediction._execute(
        prediction.combined_expr(prepared.purchases, SNAPSHOT, calibration_end)))
    assert summary[["customer_id", "repeat_purchases", "t_x", "T"]].values.tolist() == [
        ["A", 2, 17, 56], ["B", 0, 0, 1], ["C", 1, 10, 27]]  # as in test_summary_counts_purchase_days_by_hand
    got = [(row.customer_id, row.repeat_purchases, row.t_x, row.T, row.holdout_purchases,
            row.holdout_units / 1_000_000) for row in split.sort_values("customer_id").itertuples()]
    assert got == BACKTESTS[calibration_end]
    by_expr = prediction.backtest_expr(prepared.purchases, calibration_end, SNAPSHOT).execute()
    assert sorted(by_expr["customer_id"]) == [c[0] for c in BACKTESTS[calibration_end]]


@pytest.fixture(scope="module")
def cdnow():
    cleaning = CleaningSettings(rules=frozenset(set(SWITCHABLE_RULES) - {"duplicate"}))
    return segmentation.predict(shared_file("cdnow_sample.csv"), horizon_days=273, cleaning=cleaning)


def test_cdnow_end_to_end_matches_the_independent_reference(cdnow):
    """Issue 24 acceptance 2: the paper's split (calibration before 1997-10-01, 39 weeks held out)."""
    held = cdnow.backtest
    assert len(cdnow.customers) == 2349  # 8 customers whose only purchase was $0.00 are dropped
    assert held.calibration_end == date(1997, 10, 1) and held.holdout_days == 273
    bg = held.model
    assert (round(bg.r, 4), round(bg.alpha, 3), round(bg.a, 4), round(bg.b, 4)) == (0.2439, 30.957, 0.7925, 2.4229)
    assert round(bg.alpha / 7, 4) == 4.4224  # per week: α per day = 7 × α per week
    gg = held.gamma_gamma
    assert gg.customers == 946
    assert (round(gg.p, 4), round(gg.q, 4), round(gg.gamma, 4)) == (6.2496, 3.7442, 15.4435)
    assert held.actual_purchases == 1882
    assert round(held.predicted_purchases, 1) == 1653.4
    assert held.customers == 2349


def test_cdnow_backtest_table_is_the_papers_conditional_expectations(cdnow):
    table = cdnow.backtest.by_repeat_purchases
    assert list(table["repeat_purchases"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == 2349
    frame = cdnow.backtest.customer_frame
    assert table["actual_mean"].iloc[0] == pytest.approx(frame.loc[frame.repeat_purchases == 0,
                                                                   "actual_purchases"].mean())
    assert (table["actual_mean"] * table["customers"]).sum() == pytest.approx(1882)
    assert cdnow.backtest.mean_absolute_error == pytest.approx(
        np.mean(np.abs(frame["actual_purchases"] - frame["expected_purchases"])))


def test_cdnow_prediction_columns_are_consistent(cdnow):
    frame = cdnow.customers
    assert list(frame.columns) == [*prediction.SUMMARY_COLUMNS, *prediction.PREDICTION_COLUMNS]
    assert frame["customer_id"].is_unique and frame["customer_id"].is_monotonic_increasing
    assert frame["p_alive"].between(0, 1).all()
    assert (frame["expected_purchases"] >= 0).all()
    assert frame["predicted_revenue"].to_numpy() == pytest.approx(
        (frame["expected_purchases"] * frame["expected_spend"]).to_numpy())
    one_time = frame["repeat_purchases"] == 0
    assert frame.loc[one_time, "p_alive"].eq(1).all()  # BG/NBD: no dropout before a repeat purchase
    assert frame.loc[one_time, "expected_spend"].eq(cdnow.gamma_gamma.mean_spend).all()
    # A customer's expected purchases are the model's own call for that customer
    row = frame.iloc[0]
    assert row.expected_purchases == pytest.approx(float(cdnow.bgnbd.expected_purchases(
        273, row["repeat_purchases"], row["t_x"], row["T"])))


def test_only_one_time_buyers_is_a_clear_message():
    frame = lines([(f"C{i}", str(i), f"2011-01-{1 + i % 28:02d} 10:00", 5) for i in range(40)])
    with pytest.raises(PredictionError, match="Only 0 of 40 customers bought again"):
        segmentation.predict(frame, roles=ROLES, horizon_days=30)


def test_segment_with_predict_on_one_time_buyers_leaves_the_columns_empty():
    frame = lines([(f"C{i}", str(i), f"2011-01-{1 + i % 28:02d} 10:00", 5 + i) for i in range(40)])
    result = segmentation.segment(frame, roles=ROLES, predict=30, k=2)
    assert result.prediction is None and result.outlook is None
    assert any("No prediction of the next 30 days" in w and "bought again" in w for w in result.warnings)
    assert list(result.customers.columns[-4:]) == prediction.PREDICTION_COLUMNS
    assert result.customers[prediction.PREDICTION_COLUMNS].isna().all().all()


@pytest.mark.parametrize("horizon", [0, -5, 3651, 2.5, "90", True])
def test_a_horizon_out_of_range_is_refused(horizon):
    with pytest.raises(ParameterError, match="horizon"):
        segmentation.predict(SMALL, roles=ROLES, horizon_days=horizon)


def simulated_lines(n: int, days: int, seed: int = 0) -> pd.DataFrame:
    """n customers from BG/NBD (r 0.5, α 10 days, a 0.8, b 3) whose first purchase is in the
    first 10 of `days` days from 2011-01-01, each purchase day worth 10."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        rate, p, now = rng.gamma(0.5, 1 / 10), rng.beta(0.8, 3), float(rng.integers(0, 10))
        k = 0
        while now < days:
            rows.append((f"C{c:04d}", f"{c}-{k}", (pd.Timestamp("2011-01-01") + pd.Timedelta(days=int(now))
                                                   ).isoformat(), 10))
            if k and rng.random() < p:
                break
            now, k = now + rng.exponential(1 / rate), k + 1
    return lines(rows)


def test_short_data_has_no_backtest_and_says_why():
    got = segmentation.predict(simulated_lines(400, 80), roles=ROLES, horizon_days=60, snapshot="2011-03-22")
    assert got.backtest is None
    assert got.note == ("No backtest: the data start on 2011-01-01, too short a history to hold out the last 60 "
                        "days and still learn from 30 days before them.")
    assert len(got.customers) == 400


def test_degenerate_purchases_are_a_clear_message():
    """Every customer buys at the same fixed rate: no heterogeneity for the Gamma to fit."""
    rows = [(f"C{c}", f"{c}-{k}", (pd.Timestamp("2011-01-01") + pd.Timedelta(days=7 * k + c % 7)).isoformat(), 10)
            for c in range(60) for k in range(8)]
    with pytest.raises(PredictionError, match="do not vary enough between them"):
        segmentation.predict(lines(rows), roles=ROLES, horizon_days=30)


def test_segment_outlook_sums_customers_per_segment():
    pred = prediction.Prediction(
        horizon_days=90, snapshot=SNAPSHOT, bgnbd=clv.BGNBD(1, 1, 1, 1, 0, 4), gamma_gamma=None, backtest=None,
        customers=pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "p_alive": [0.9, 0.4, 0.2, 1.0],
                                "expected_purchases": [2.0, 1.0, 0.5, 0.5], "expected_spend": [10.0, 10, 10, 20],
                                "predicted_revenue": [20.0, 10, 5, 10]}))
    segments = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment_id": [1, 1, 2, 2],
                             "segment": ["Champions", "Champions", "Lost", "Lost"]})
    got = prediction.segment_outlook(pred, segments)
    assert got.to_dict("records") == [
        {"segment_id": 1, "segment": "Champions", "customers": 2, "predicted_revenue": 30.0, "revenue_share": 0.6,
         "expected_purchases": 3.0, "mean_p_alive": pytest.approx(0.65), "likely_inactive": 1},
        {"segment_id": 2, "segment": "Lost", "customers": 2, "predicted_revenue": 15.0, "revenue_share": 0.3,
         "expected_purchases": 1.0, "mean_p_alive": pytest.approx(0.6), "likely_inactive": 1},
    ] or got["revenue_share"].sum() == pytest.approx(1)


def test_p_alive_matrix_is_the_model_on_a_grid():
    model = clv.BGNBD(r=0.24, alpha=31.0, a=0.79, b=2.42, log_likelihood=0, customers=1)
    grid = prediction.p_alive_matrix(model, T=100, max_x=5, max_t_x=120)
    assert grid.shape == (6, 121)
    assert grid.loc[0, 0] == 1.0 and np.isnan(grid.loc[0, 10]) and np.isnan(grid.loc[3, 0])
    assert np.isnan(grid.loc[2, 110])  # t_x after T
    assert grid.loc[3, 40] == pytest.approx(float(model.p_alive(3, 40, 100)))
    # More recent last purchase → more likely active; more purchases at the same recency → less
    assert grid.loc[3, 90] > grid.loc[3, 40] and grid.loc[5, 40] < grid.loc[3, 40]


def test_real_uci_data_predicts_and_backtests():
    """Issue 24 acceptance 4 (figures in the closing note): the default cleaning's 4,338 customers;
    the backtest holds out the 90 days before the snapshot 2011-12-10."""
    got = segmentation.predict(shared_file("online_retail.csv.gz"), horizon_days=90)
    assert len(got.customers) == 4338
    held = got.backtest
    assert held.calibration_end == date(2011, 9, 11) and held.holdout_days == 90
    frame = held.customer_frame
    assert held.actual_purchases == int(frame["actual_purchases"].sum()) > 0
    assert held.customers == len(frame) < 4338  # customers who first bought in the holdout are not in it
    assert got.customers["predicted_revenue"].notna().all() and (got.customers["predicted_revenue"] >= 0).all()
    assert got.gamma_gamma is not None and got.gamma_gamma.q > 1

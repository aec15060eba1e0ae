"""What comes next: each customer's chance of being active, expected purchases and revenue in the
next H days, per customer and per segment, with a backtest on the same data.

The per-customer summary is an Ibis expression over the cleaned purchases (`Prepared.purchases`,
the query family of rfm_features), so it runs where the data lives (DuckDB, PostgreSQL, Spark)
and only one row per customer comes back. Purchases are *purchase days*: all kept purchases of a
customer on one calendar day (by their last timestamp, as migration counts them) are one
purchase, their money summed. Per customer:

- ``repeat_purchases`` (x): purchase days after the first;
- ``t_x``: days from the first to the last purchase day;
- ``T``: days from the first purchase day to the last observed day, the day before the snapshot
  (the snapshot stays the first day not observed, as for recency);
- ``mean_spend``: the money of the repeat purchase days divided by x (null when x = 0).

The models are clv.BGNBD and clv.GammaGamma, fitted in days: α is per day (α per day = 7 × α per
week, so ÷ 7 gives the per-week figure papers print).

The backtest fits the same models on the purchases before snapshot − H (the calibration period)
and compares each customer's predicted purchases and revenue in the H days that follow with what
happened in them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from . import clv
from .cleaning import MONEY_SCALE
from .errors import ParameterError, PredictionError
from .rfm_features import _epoch_day

__all__ = [
    "PREDICTION_COLUMNS",
    "SUMMARY_COLUMNS",
    "HORIZON_PRESETS",
    "MAX_HORIZON_DAYS",
    "Prediction",
    "Backtest",
    "summary_expr",
    "backtest_expr",
    "combined_expr",
    "predict_prepared",
    "predict_summary",
    "segment_outlook",
    "p_alive_matrix",
    "check_horizon",
    "attempt",
    "with_prediction_columns",
]

# Added to `--out` after the existing columns when a prediction is asked for (a contract).
PREDICTION_COLUMNS = ["p_alive", "expected_purchases", "expected_spend", "predicted_revenue"]
SUMMARY_COLUMNS = ["customer_id", "repeat_purchases", "t_x", "T", "mean_spend"]
HORIZON_PRESETS = (30, 90, 365)
MAX_HORIZON_DAYS = 3_650
LIKELY_INACTIVE_BELOW = 0.5  # p_alive below this: "likely inactive"
# The backtest needs at least this many days before the held-out ones (and half the horizon).
MIN_CALIBRATION_DAYS = 30
REPEAT_GROUPS = ("0", "1", "2", "3", "4", "5", "6", "7+")
OUTLOOK_COLUMNS = ["segment_id", "segment", "customers", "predicted_revenue", "revenue_share",
                   "expected_purchases", "mean_p_alive", "likely_inactive"]


@dataclass(frozen=True)
class Backtest:
    """Predictions made as of `calibration_end` for the `holdout_days` after it, against what the
    same customers then did. Purchases are repeat purchase days; money in the data's currency."""

    calibration_end: date  # first day not in the calibration period (= snapshot - holdout_days)
    holdout_days: int
    customers: int  # customers with a purchase before calibration_end
    model: clv.BGNBD
    gamma_gamma: clv.GammaGamma | None
    actual_purchases: int
    predicted_purchases: float
    actual_revenue: float
    predicted_revenue: float | None  # None without a spend model
    # One row per number of repeat purchases in the calibration period (0, 1, ..., 6, 7+):
    # repeat_purchases (text), customers, actual_mean, predicted_mean (the paper's table).
    by_repeat_purchases: pd.DataFrame = field(repr=False)
    mean_absolute_error: float  # mean over customers of |actual - predicted purchases|
    customer_frame: pd.DataFrame | None = field(default=None, repr=False)  # per customer, for charts

    def report(self) -> dict:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_days": self.holdout_days,
            "customers": self.customers,
            "model": _model_report(self.model, self.gamma_gamma),
            "actual_purchases": self.actual_purchases,
            "predicted_purchases": self.predicted_purchases,
            "actual_revenue": self.actual_revenue,
            "predicted_revenue": self.predicted_revenue,
            "by_repeat_purchases": [
                {"repeat_purchases": row.repeat_purchases, "customers": int(row.customers),
                 "actual_mean": float(row.actual_mean), "predicted_mean": float(row.predicted_mean)}
                for row in self.by_repeat_purchases.itertuples()
            ],
            "mean_absolute_error": self.mean_absolute_error,
        }


@dataclass(frozen=True)
class Prediction:
    """Each customer's next `horizon_days`: `customers` has customer_id, repeat_purchases (x), t_x,
    T (days), mean_spend, p_alive, expected_purchases, expected_spend, predicted_revenue."""

    horizon_days: int
    snapshot: date
    customers: pd.DataFrame = field(repr=False)
    bgnbd: clv.BGNBD
    gamma_gamma: clv.GammaGamma | None  # None (with a warning) when spend cannot be modelled
    backtest: Backtest | None
    note: str | None = None  # why there is no backtest, when there is none
    warnings: tuple[str, ...] = ()

    def report(self, segments: pd.DataFrame | None = None) -> dict:
        """The `prediction` block of `--report` (segments: segment_outlook's frame)."""
        return {
            "horizon_days": self.horizon_days,
            "customers": len(self.customers),
            "model": _model_report(self.bgnbd, self.gamma_gamma),
            "segments": [] if segments is None else [
                {"segment_id": int(row.segment_id), "segment": row.segment,
                 "customers": int(row.customers),
                 "predicted_revenue": _float_or_none(row.predicted_revenue),
                 "revenue_share": _float_or_none(row.revenue_share),
                 "expected_purchases": float(row.expected_purchases),
                 "mean_p_alive": float(row.mean_p_alive),
                 "likely_inactive": int(row.likely_inactive)}
                for row in segments.itertuples()
            ],
            "backtest": None if self.backtest is None else self.backtest.report(),
            "backtest_note": self.note,
            "warnings": list(self.warnings),
        }


def _float_or_none(value) -> float | None:
    return None if value is None or value != value else float(value)


def _model_report(bgnbd: clv.BGNBD, gamma_gamma: clv.GammaGamma | None) -> dict:
    return {
        "bgnbd": {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b,
                  "log_likelihood": bgnbd.log_likelihood},
        "gamma_gamma": None if gamma_gamma is None else gamma_gamma.params(),
    }


def check_horizon(horizon_days) -> int:
    """The horizon as a whole number of days from 1 to MAX_HORIZON_DAYS (ParameterError otherwise)."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) \
            or not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ParameterError(f"The prediction horizon {horizon_days!r} is not a whole number of days from 1 to "
                             f"{MAX_HORIZON_DAYS:,}.", hint="Predict e.g. the next 90 days.",
                             parameter="horizon_days")
    return int(horizon_days)


def _purchase_days(purchases: ir.Table) -> ir.Table:
    """Kept purchases → one row per (customer, purchase day): day (epoch days), units (money)."""
    kept = purchases.filter(purchases.drop_reason.isnull())
    days = kept.mutate(day=_epoch_day(kept.last_date))
    return days.group_by(["customer_id", "day"]).agg(units=days.units.sum().cast("int64"))


# backtest_expr's columns ← combined_expr's: the summary as of the calibration end, then the holdout.
BACKTEST_COLUMNS = {"customer_id": "customer_id", "repeat_purchases": "cal_repeat_purchases", "t_x": "cal_t_x",
                    "T": "cal_T", "mean_spend": "cal_mean_spend", "repeat_units": "cal_repeat_units",
                    "holdout_purchases": "holdout_purchases", "holdout_units": "holdout_units"}


def summary_expr(purchases: ir.Table, snapshot: date) -> ir.Table:
    """One row per customer with a kept purchase before `snapshot`: customer_id, repeat_purchases
    (x), t_x, T (days), mean_spend (per repeat purchase day; null when x = 0), repeat_units (the
    repeat days' money in integer units, cleaning.MONEY_SCALE). combined_expr with no holdout."""
    return combined_expr(purchases, snapshot, snapshot).select(*SUMMARY_COLUMNS, "repeat_units")


def backtest_expr(purchases: ir.Table, calibration_end: date, snapshot: date) -> ir.Table:
    """summary_expr as of `calibration_end`, plus each of those customers' purchase days
    (holdout_purchases) and money (holdout_units) in [calibration_end, snapshot)."""
    combined = combined_expr(purchases, snapshot, calibration_end)
    calibration = combined.filter(combined.cal_purchase_days > 0)
    return calibration.select(**{name: calibration[column] for name, column in BACKTEST_COLUMNS.items()})


def combined_expr(purchases: ir.Table, snapshot: date, calibration_end: date) -> ir.Table:
    """The purchase-day summary as of `snapshot` and the backtest split at `calibration_end` in
    one grouped query over the cleaned purchases (summary_expr and backtest_expr are its halves).

    One row per customer with a purchase before `snapshot`: customer_id, repeat_purchases, t_x, T,
    mean_spend, repeat_units (as summary_expr), and cal_purchase_days (purchase days before
    `calibration_end`; 0: not a calibration customer), cal_repeat_purchases, cal_t_x, cal_T,
    cal_repeat_units, holdout_purchases, holdout_units (as backtest_expr)."""
    days = _purchase_days(purchases)
    end, start = _epoch_day(snapshot), _epoch_day(calibration_end)
    days = days.filter(days.day < end)
    before = days.day < start
    # One pass over the purchase days: a repeat day is any day after the first, so the repeat money
    # is the total less the first day's (its units, by arg-min of the day: days are distinct).
    per = days.group_by("customer_id").agg(
        first_day=days.day.min(),
        last_day=days.day.max(),
        purchase_days=days.count(),
        units=days.units.sum(),
        first_units=days.units.argmin(days.day),
        cal_purchase_days=days.count(where=before),
        cal_last_day=days.day.max(where=before),
        cal_units=days.units.sum(where=before),
        holdout_purchases=days.count(where=~before),
        holdout_units=days.units.sum(where=~before).fill_null(0).cast("int64"),
    )
    per = per.mutate(
        repeat_units=(per.units - per.first_units).cast("int64"),
        cal_repeat_units=ibis.ifelse(per.cal_purchase_days > 0, per.cal_units - per.first_units, 0).cast("int64"),
    )
    x = (per.purchase_days - 1).cast("int64")
    cal_x = (per.cal_purchase_days - 1).cast("int64")
    return per.select(
        "customer_id",
        repeat_purchases=x,
        t_x=(per.last_day - per.first_day).cast("int64"),
        T=(end - 1 - per.first_day).cast("int64"),
        mean_spend=ibis.ifelse(x > 0, per.repeat_units.cast("float64") / x.cast("float64") / MONEY_SCALE,
                               ibis.null("float64")),
        repeat_units="repeat_units",
        cal_purchase_days=per.cal_purchase_days.cast("int64"),
        cal_repeat_purchases=cal_x,
        cal_t_x=(per.cal_last_day - per.first_day).fill_null(0).cast("int64"),
        cal_T=(start - 1 - per.first_day).cast("int64"),
        cal_mean_spend=ibis.ifelse(cal_x > 0, per.cal_repeat_units.cast("float64") / cal_x.cast("float64")
                                   / MONEY_SCALE, ibis.null("float64")),
        cal_repeat_units="cal_repeat_units",
        holdout_purchases=per.holdout_purchases.cast("int64"),
        holdout_units="holdout_units",
    )


def _split(combined: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """combined_expr's frame → (summary_expr's frame, backtest_expr's frame)."""
    summary = combined[[*SUMMARY_COLUMNS, "repeat_units"]].reset_index(drop=True)
    calibration = combined[combined["cal_purchase_days"] > 0]
    split = pd.DataFrame({name: calibration[column] for name, column in BACKTEST_COLUMNS.items()})
    split = split.reset_index(drop=True)
    return summary, split


def _fit_spend(summary: pd.DataFrame) -> tuple[clv.GammaGamma | None, str | None]:
    try:
        return clv.fit_gamma_gamma(summary["repeat_purchases"], summary["mean_spend"]), None
    except PredictionError as error:
        return None, f"Spend per purchase cannot be predicted, so predicted revenue is left empty: {error}"


def _score(summary: pd.DataFrame, horizon_days: int, bgnbd: clv.BGNBD,
           gamma_gamma: clv.GammaGamma | None) -> pd.DataFrame:
    x = summary["repeat_purchases"].to_numpy(dtype=float)
    t_x = summary["t_x"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    # Scored once per distinct (x, t_x, T): customers share them by the thousand.
    points, inverse = clv._unique_rows(x, t_x, T)
    px, pt, pT = points.T
    p_alive = bgnbd.p_alive(px, pt, pT)[inverse]
    expected = bgnbd.expected_purchases(horizon_days, px, pt, pT)[inverse]
    frame = summary[SUMMARY_COLUMNS].copy()
    frame["p_alive"] = p_alive
    frame["expected_purchases"] = expected
    if gamma_gamma is None:
        frame["expected_spend"] = np.nan
    else:
        frame["expected_spend"] = gamma_gamma.expected_spend(x, summary["mean_spend"].to_numpy(dtype=float))
    frame["predicted_revenue"] = frame["expected_purchases"] * frame["expected_spend"]
    return frame


def predict_summary(summary: pd.DataFrame, horizon_days: int) -> tuple[pd.DataFrame, clv.BGNBD,
                                                                        clv.GammaGamma | None, tuple[str, ...]]:
    """Fit both models on a summary (summary_expr's columns) and score every customer."""
    bgnbd = clv.fit_bgnbd(summary["repeat_purchases"], summary["t_x"], summary["T"])
    gamma_gamma, warning = _fit_spend(summary)
    warnings = (warning,) if warning else ()
    if bgnbd.no_dropout:
        warnings += (f"The purchases show almost no customers dropping out (mean dropout chance "
                     f"{bgnbd.a / (bgnbd.a + bgnbd.b):.2%} after each purchase): the chance of being active is "
                     "close to 1 for everyone, and expected purchases follow each customer's buying rate.",)
    return _score(summary, horizon_days, bgnbd, gamma_gamma), bgnbd, gamma_gamma, warnings


def _execute(expr: ir.Table) -> pd.DataFrame:
    frame = expr.execute()
    frame["customer_id"] = frame["customer_id"].astype("string")  # as preparation gives it
    for column in ("repeat_purchases", "t_x", "T"):
        frame[column] = frame[column].astype("int64")
    frame["mean_spend"] = frame["mean_spend"].astype("float64")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _too_short(snapshot: date, horizon_days: int, first_day: date | None) -> str | None:
    calibration_end = snapshot - timedelta(days=horizon_days)
    needed = max(MIN_CALIBRATION_DAYS, (horizon_days + 1) // 2)
    if first_day is not None and (calibration_end - first_day).days < needed:
        return (f"No backtest: the data start on {first_day.isoformat()}, too short a history to hold out "
                f"the last {horizon_days:,} days and still learn from {needed:,} days before them.")
    return None


def _backtest(frame: pd.DataFrame, calibration_end: date, horizon_days: int) -> tuple[Backtest | None, str | None]:
    """Fit on the calibration summary (backtest_expr's frame) and compare with the holdout."""
    if frame.empty:
        return None, f"No backtest: no customer bought before {calibration_end.isoformat()}."
    try:
        scored, bgnbd, gamma_gamma, _ = predict_summary(frame, horizon_days)
    except PredictionError as error:
        return None, f"No backtest: the purchases before {calibration_end.isoformat()} cannot be modelled. {error}"
    actual = frame["holdout_purchases"].to_numpy(dtype=float)
    predicted = scored["expected_purchases"].to_numpy()
    actual_money = frame["holdout_units"].to_numpy(dtype=float) / MONEY_SCALE
    groups = np.minimum(frame["repeat_purchases"].to_numpy(), len(REPEAT_GROUPS) - 1)
    table = pd.DataFrame({"group": groups, "actual": actual, "predicted": predicted})
    by = table.groupby("group").agg(customers=("actual", "size"), actual_mean=("actual", "mean"),
                                    predicted_mean=("predicted", "mean")).reindex(range(len(REPEAT_GROUPS)))
    by["customers"] = by["customers"].fillna(0).astype("int64")
    by.insert(0, "repeat_purchases", list(REPEAT_GROUPS))
    customer_frame = scored.assign(actual_purchases=actual, actual_revenue=actual_money)
    revenue = None if gamma_gamma is None else float(scored["predicted_revenue"].sum())
    return Backtest(
        calibration_end=calibration_end, holdout_days=horizon_days, customers=len(frame), model=bgnbd,
        gamma_gamma=gamma_gamma, actual_purchases=int(actual.sum()), predicted_purchases=float(predicted.sum()),
        actual_revenue=round(float(frame["holdout_units"].sum()) / MONEY_SCALE, 2), predicted_revenue=revenue,
        by_repeat_purchases=by.reset_index(drop=True), mean_absolute_error=float(np.mean(np.abs(actual - predicted))),
        customer_frame=customer_frame,
    ), None


def predict_prepared(prepared, horizon_days: int = 90, *, backtest: bool = True) -> Prediction:
    """Predict the next `horizon_days` for the customers of a `preparation.Prepared` (its cleaned
    purchases, where they live), with the backtest unless `backtest` is False.

    Raises PredictionError when the purchases cannot be modelled (e.g. no repeat buyers)."""
    horizon_days = check_horizon(horizon_days)
    if prepared.purchases is None:
        raise PredictionError("The cleaned purchases are not at hand (a copy of prepared data without them).",
                              hint="Prepare the data again.")
    first_day = prepared.customers["first_purchase"].min() if len(prepared.customers) else None
    first_day = None if first_day is None or first_day != first_day else pd.Timestamp(first_day).date()
    note = _too_short(prepared.snapshot, horizon_days, first_day) if backtest else None
    calibration_end = prepared.snapshot - timedelta(days=horizon_days)
    if backtest and note is None:  # one query for both summaries
        summary, split = _split(_execute(combined_expr(prepared.purchases, prepared.snapshot, calibration_end)))
    else:
        summary, split = _execute(summary_expr(prepared.purchases, prepared.snapshot)), None
    customers, bgnbd, gamma_gamma, warnings = predict_summary(summary, horizon_days)
    held_out = None
    if split is not None:
        held_out, note = _backtest(split, calibration_end, horizon_days)
    return Prediction(horizon_days=horizon_days, snapshot=prepared.snapshot, customers=customers, bgnbd=bgnbd,
                      gamma_gamma=gamma_gamma, backtest=held_out, note=note, warnings=warnings)


def segment_outlook(prediction: Prediction, customers_with_segments: pd.DataFrame) -> pd.DataFrame:
    """One row per segment: customers, predicted_revenue (next horizon), revenue_share,
    expected_purchases (sum), mean_p_alive, likely_inactive (customers with p_alive < 0.5)."""
    segments = customers_with_segments[["customer_id", "segment_id", "segment"]]
    joined = segments.merge(prediction.customers[["customer_id", *PREDICTION_COLUMNS]], on="customer_id",
                            how="inner")
    joined["inactive"] = joined["p_alive"] < LIKELY_INACTIVE_BELOW
    outlook = joined.groupby(["segment_id", "segment"], sort=True).agg(
        customers=("customer_id", "size"),
        predicted_revenue=("predicted_revenue", lambda s: s.sum(min_count=1)),
        expected_purchases=("expected_purchases", "sum"),
        mean_p_alive=("p_alive", "mean"),
        likely_inactive=("inactive", "sum"),
    ).reset_index()
    total = outlook["predicted_revenue"].sum(min_count=1)
    outlook["revenue_share"] = outlook["predicted_revenue"] / total if total and total == total else np.nan
    outlook["likely_inactive"] = outlook["likely_inactive"].astype("int64")
    return outlook[OUTLOOK_COLUMNS]


def p_alive_matrix(bgnbd: clv.BGNBD, T: float, max_x: int, max_t_x: int) -> pd.DataFrame:
    """P(active) of a customer observed for T days, by repeat purchases x (rows, 0..max_x) and
    days from the first to the last purchase t_x (columns, 0..max_t_x; NaN where t_x > T or
    where x > 0 needs t_x > 0)."""
    xs = np.arange(max_x + 1, dtype=float)
    ts = np.arange(max_t_x + 1, dtype=float)
    grid_x, grid_t = np.meshgrid(xs, ts, indexing="ij")
    values = bgnbd.p_alive(grid_x, grid_t, np.full_like(grid_x, float(T)))
    impossible = (grid_t > T) | ((grid_x > 0) & (grid_t == 0)) | ((grid_x == 0) & (grid_t > 0))
    values = np.where(impossible, np.nan, values)
    return pd.DataFrame(values, index=pd.Index(xs.astype(int), name="repeat_purchases"),
                        columns=pd.Index(ts.astype(int), name="t_x"))


def attempt(prepared, horizon_days: int, *, backtest: bool = True) -> tuple[Prediction | None, str | None]:
    """predict_prepared, or (None, a warning saying why not) when the purchases cannot be modelled.
    A horizon out of range is the caller's error (ParameterError), not a warning."""
    horizon_days = check_horizon(horizon_days)
    try:
        return predict_prepared(prepared, horizon_days, backtest=backtest), None
    except PredictionError as error:
        return None, f"No prediction of the next {horizon_days:,} days: {error}"


def with_prediction_columns(customers: pd.DataFrame, prediction: Prediction | None) -> pd.DataFrame:
    """`customers` (one row per customer_id) with PREDICTION_COLUMNS appended; empty (missing
    values) when there is no prediction, never made-up numbers."""
    if prediction is None:
        out = customers.copy()
        for column in PREDICTION_COLUMNS:
            out[column] = np.nan
        return out
    scores = prediction.customers[["customer_id", *PREDICTION_COLUMNS]]
    return customers.merge(scores, on="customer_id", how="left", validate="one_to_one")

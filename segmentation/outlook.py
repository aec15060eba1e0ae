"""What the predictions (segmentation/prediction.py) mean for a marketer: valuable customers who are
likely lapsing (an audience to win back) and the backtest told in words.

The Outlook page, the HTML report and a notebook use these; they take the frames and objects the
prediction module returns and compute nothing of the models themselves.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .prediction import LIKELY_INACTIVE_BELOW, Prediction, p_alive_matrix
from .segments import require_frame

__all__ = ["AUDIENCE_COLUMNS", "DEFAULT_P_ALIVE_BELOW", "DEFAULT_TOP_VALUE_SHARE", "AliveMatrix", "at_horizon",
           "alive_matrix", "lapsing_customers", "backtest_in_words", "change_in_words", "models_in_words", "money"]

# The columns of the lapsing audience, in order (email only when the data has it).
AUDIENCE_COLUMNS: tuple[str, ...] = ("customer_id", "email", "segment_id", "segment", "recency", "frequency",
                                     "monetary", "p_alive", "expected_purchases", "predicted_revenue")
DEFAULT_P_ALIVE_BELOW = LIKELY_INACTIVE_BELOW  # "likely inactive", as the --report's segments count them
DEFAULT_TOP_VALUE_SHARE = 0.2  # "valuable": the fifth of customers who spent most


def at_horizon(prediction: Prediction, horizon_days: int) -> Prediction:
    """The same fitted models asked about the next ``horizon_days`` days instead: expected purchases
    (BG/NBD) and predicted revenue (× expected spend per purchase) per customer; nothing is refitted."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) or horizon_days < 1:
        raise ValueError(f"horizon_days={horizon_days!r} must be a whole number of days, 1 or more.")
    if int(horizon_days) == prediction.horizon_days:
        return prediction
    customers = prediction.customers
    expected = np.asarray(prediction.bgnbd.expected_purchases(
        float(horizon_days), customers["repeat_purchases"].to_numpy(dtype=float),
        customers["t_x"].to_numpy(dtype=float), customers["T"].to_numpy(dtype=float)), dtype=float)
    customers = customers.assign(expected_purchases=expected,
                                 predicted_revenue=expected * customers["expected_spend"].to_numpy(dtype=float))
    return dataclasses.replace(prediction, horizon_days=int(horizon_days), customers=customers)


@dataclass(frozen=True)
class AliveMatrix:
    """The chance still active of a customer observed for ``observed_days`` days, by repeat purchases
    (``frame``'s index) and day of the last one after the first (its columns)."""

    frame: pd.DataFrame
    observed_days: float


def alive_matrix(prediction: Prediction, *, max_purchases: int | None = None) -> AliveMatrix:
    """The probability-active matrix of the typical customer of this data: observed for the median
    number of days, up to the repeat purchases of all but the top 5% of customers (at least 5)."""
    customers = prediction.customers
    observed = float(np.median(customers["T"].to_numpy(dtype=float)))
    if max_purchases is None:
        max_purchases = max(5, int(np.ceil(np.quantile(customers["repeat_purchases"].to_numpy(dtype=float), 0.95))))
    frame = p_alive_matrix(prediction.bgnbd, observed, max_purchases, int(observed))
    return AliveMatrix(frame=frame, observed_days=observed)


def lapsing_customers(customers: pd.DataFrame, *, p_alive_below: float = DEFAULT_P_ALIVE_BELOW,
                      top_value_share: float = DEFAULT_TOP_VALUE_SHARE) -> pd.DataFrame:
    """Valuable customers who have likely stopped buying: among the ``top_value_share`` of
    customers with the highest past spend (``monetary``), those whose chance of still being active
    (``p_alive``) is below ``p_alive_below``; highest spend first, the audience columns only.

    A customer tied with the spend cut-off is valuable too, so the list never depends on row order.
    """
    require_frame(customers, "customers", ("customer_id", "monetary", "p_alive"), allow_empty=True)
    if isinstance(p_alive_below, bool) or not isinstance(p_alive_below, (int, float)) or not 0 < p_alive_below <= 1:
        raise ValueError(f"p_alive_below={p_alive_below!r} must be a probability above 0 and at most 1.")
    if (isinstance(top_value_share, bool) or not isinstance(top_value_share, (int, float))
            or not 0 < top_value_share <= 1):
        raise ValueError(f"top_value_share={top_value_share!r} must be a share above 0 and at most 1.")
    columns = [c for c in AUDIENCE_COLUMNS if c in customers.columns]
    if customers.empty:
        return customers[columns].copy()
    spend = customers["monetary"].astype(float)
    ranked = spend.rank(method="min", ascending=False)  # 1 = the highest spend; ties share the best rank
    valuable = ranked <= max(1, round(top_value_share * len(customers)))
    lapsing = customers[valuable & (customers["p_alive"].astype(float) < p_alive_below)]
    return (lapsing.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="mergesort")[columns]
            .reset_index(drop=True))


def money(value) -> str:
    """Money for people: thousands separators and cents; "—" when there is none (no spend model)."""
    return "—" if value is None or pd.isna(value) else f"{float(value):,.2f}"


def change_in_words(predicted: float, actual: float) -> str:
    """How far a prediction was from what happened: "12.1% below what happened", "exactly right"."""
    if actual == 0:
        return "exactly right" if predicted == 0 else "against none that happened"
    relative = (predicted - actual) / abs(actual)
    if abs(relative) < 0.0005:
        return "within 0.1% of what happened"
    return f"{abs(relative):.1%} {'above' if relative > 0 else 'below'} what happened"


def _date(value) -> str:
    return pd.Timestamp(value).strftime("%d %b %Y") if isinstance(value, (date, pd.Timestamp, str)) else str(value)


def backtest_in_words(backtest) -> str:
    """The backtest's totals and error as a few plain sentences (a ``prediction.Backtest``)."""
    days = int(backtest.holdout_days)
    return (
        f"Fitted on the purchases up to {_date(backtest.calibration_end)} and asked about the {days:,} days "
        f"that followed, the model expected {backtest.predicted_purchases:,.0f} repeat purchases from "
        f"{int(backtest.customers):,} customers; they made {backtest.actual_purchases:,.0f} "
        f"(the prediction was {change_in_words(backtest.predicted_purchases, backtest.actual_purchases)}). "
        + (f"Revenue: {backtest.actual_revenue:,.2f}, not predicted (no model of spend per purchase). "
           if backtest.predicted_revenue is None else
           f"Predicted revenue {backtest.predicted_revenue:,.2f}, actual {backtest.actual_revenue:,.2f} "
           f"({change_in_words(backtest.predicted_revenue, backtest.actual_revenue)}). ")
        + f"Customer by customer, the expected purchases were off by {backtest.mean_absolute_error:,.2f} "
        "on average (mean absolute error)."
    )


def models_in_words(prediction: Prediction) -> str:
    """The fitted models' parameters and fit, in one Markdown paragraph (no user text in it)."""
    bgnbd, spend = prediction.bgnbd, prediction.gamma_gamma
    text = (f"**BG/NBD** (purchases and dropout), fitted on {int(bgnbd.customers):,} customers: "
            f"r = {bgnbd.r:.4f}, α = {bgnbd.alpha:,.3f} per day ({bgnbd.alpha / 7:,.4f} per week: α is the scale "
            f"of a rate, so it depends on the unit of time; r, a and b do not), a = {bgnbd.a:.4f}, "
            f"b = {bgnbd.b:.4f}; log-likelihood {bgnbd.log_likelihood:,.1f}. ")
    if spend is None:
        text += "**Gamma-Gamma** (spend per purchase): not fitted, so no revenue is predicted (the warning says why)."
    else:
        text += (f"**Gamma-Gamma** (spend per purchase), fitted on {int(spend.customers):,} customers with repeat "
                 f"purchases: p = {spend.p:.4f}, q = {spend.q:.4f}, γ = {spend.gamma:,.4f}.")
    return text

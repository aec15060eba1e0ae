"""Plotly figures of the predictions (segmentation/prediction.py): what the Outlook page and the
HTML report draw.

Like ``charts.py``: every builder checks its arguments, returns a ``go.Figure`` and never shows
it; segment names (derived from the user's data) go through :func:`charts.escape_text` and are
passed as data only, never spliced into a ``hovertemplate``. Time is in days throughout.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .charts import escape_text, segment_color
from .segments import require_frame

__all__ = ["segment_revenue_figure", "p_alive_heatmap", "backtest_figure"]

_ACTUAL_COLOR = "#222222"
_PREDICTED_COLOR = "#4477AA"


def segment_revenue_figure(outlook: pd.DataFrame, *, horizon_days: int) -> go.Figure:
    """Predicted revenue of the next ``horizon_days`` days per segment: one bar per segment, its
    share of the total written on it (``outlook``: segment_id, segment, customers,
    predicted_revenue, revenue_share — ``prediction.segment_outlook``)."""
    require_frame(outlook, "outlook", ("segment_id", "segment", "customers", "predicted_revenue", "revenue_share"))
    if not isinstance(horizon_days, (int, np.integer)) or isinstance(horizon_days, bool) or horizon_days < 1:
        raise ValueError(f"horizon_days={horizon_days!r} must be a whole number of days, 1 or more.")
    outlook = outlook.sort_values("segment_id")
    custom = np.column_stack([outlook["customers"].to_numpy(dtype=object),
                              outlook["revenue_share"].astype(float).to_numpy(dtype=object)])
    fig = go.Figure(go.Bar(
        x=[escape_text(name) for name in outlook["segment"]],
        y=outlook["predicted_revenue"].astype(float).tolist(),
        marker=dict(color=[segment_color(i) for i in outlook["segment_id"]]),
        text=[f"{share:.0%}" for share in outlook["revenue_share"]], textposition="outside",
        customdata=custom,
        hovertemplate="%{x}<br>predicted revenue %{y:,.2f} (%{customdata[1]:.1%} of the total)<br>"
                      "%{customdata[0]:,} customers<extra></extra>",
    ))
    fig.update_layout(title=f"Predicted revenue in the next {int(horizon_days):,} days, by segment "
                            "(label: share of the total)",
                      yaxis=dict(title="predicted revenue", tickformat=",.0f", rangemode="tozero"),
                      xaxis=dict(type="category"), height=440, margin=dict(t=60, l=10, r=10, b=40))
    return fig


def p_alive_heatmap(matrix: pd.DataFrame, *, observed_days: float | None = None) -> go.Figure:
    """The probability-active matrix: chance that a customer is still active (colour) for each
    number of repeat purchases (rows) and day of the last purchase (columns: days after the first
    purchase). ``matrix`` is wide: index = repeat purchases, columns = days, values in [0, 1]
    (``prediction.p_alive_matrix``)."""
    if not isinstance(matrix, pd.DataFrame):
        raise ValueError(f"matrix must be a pandas DataFrame, got {type(matrix).__name__}.")
    if matrix.empty:
        raise ValueError("matrix is empty: there is nothing to draw.")
    values = matrix.to_numpy(dtype=float)
    finite = values[~np.isnan(values)]
    if finite.size == 0 or finite.min() < 0 or finite.max() > 1:
        raise ValueError("matrix must hold probabilities between 0 and 1.")
    days = [float(c) for c in matrix.columns]
    purchases = [int(i) for i in matrix.index]
    fig = go.Figure(go.Heatmap(
        z=values, x=days, y=purchases, zmin=0, zmax=1, colorscale="RdYlGn",
        colorbar=dict(title="chance still active", tickformat=".0%"),
        hovertemplate="%{y:,} repeat purchases, the last %{x:,.0f} days after the first:<br>"
                      "chance still active %{z:.1%}<extra></extra>",
    ))
    span = f" (customers observed for {observed_days:,.0f} days)" if observed_days is not None else ""
    fig.update_layout(title="Chance still active, by repeat purchases and when the last one was" + span,
                      xaxis=dict(title="day of the last purchase (days after the first purchase)"),
                      yaxis=dict(title="repeat purchases"),
                      height=460, margin=dict(t=60, l=10, r=10, b=50))
    return fig


def backtest_figure(by_repeat_purchases: pd.DataFrame, *, holdout_days: int) -> go.Figure:
    """The backtest as in Fader, Hardie & Lee (2005), figure 4: mean purchases in the
    ``holdout_days`` after the calibration period, actual against predicted, for customers grouped
    by their repeat purchases in the calibration period (``by_repeat_purchases``, as
    ``prediction.Backtest`` has it: repeat_purchases (labels 0, 1, …, 7+), customers, actual_mean,
    predicted_mean; a group without customers is a gap)."""
    require_frame(by_repeat_purchases, "by_repeat_purchases",
                  ("repeat_purchases", "customers", "actual_mean", "predicted_mean"))
    if not isinstance(holdout_days, (int, np.integer)) or isinstance(holdout_days, bool) or holdout_days < 1:
        raise ValueError(f"holdout_days={holdout_days!r} must be a whole number of days, 1 or more.")
    labels = [str(label) for label in by_repeat_purchases["repeat_purchases"]]
    customers = by_repeat_purchases["customers"].to_numpy(dtype=object)

    def means(column: str) -> list[float | None]:
        return [None if pd.isna(value) else float(value) for value in by_repeat_purchases[column]]

    hover = "%{x} repeat purchases before: %{y:,.2f} purchases per customer<br>%{customdata:,} customers"
    fig = go.Figure([
        go.Scatter(x=labels, y=means("actual_mean"), name="Actual",
                   mode="lines+markers", line=dict(color=_ACTUAL_COLOR), customdata=customers,
                   hovertemplate=hover + "<extra>Actual</extra>"),
        go.Scatter(x=labels, y=means("predicted_mean"), name="Predicted",
                   mode="lines+markers", line=dict(color=_PREDICTED_COLOR, dash="dash"), customdata=customers,
                   hovertemplate=hover + "<extra>Predicted</extra>"),
    ])
    fig.update_layout(
        title=f"Purchases in the {int(holdout_days):,} days after the calibration period: actual and predicted",
        xaxis=dict(type="category", title="repeat purchases in the calibration period"),
        yaxis=dict(title=f"purchases per customer in the {int(holdout_days):,} days", rangemode="tozero"),
        legend=dict(orientation="h", y=1.08, x=1, xanchor="right"),
        height=440, margin=dict(t=70, l=10, r=10, b=50))
    return fig

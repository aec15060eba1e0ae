"""Prediction figures: bars per segment, the probability-active matrix, the backtest chart."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from segmentation import charts, prediction_charts

EVIL = "Lost <script>alert(1)</script>"


def make_outlook() -> pd.DataFrame:
    return pd.DataFrame({
        "segment_id": [2, 1, 3],
        "segment": ["At Risk", "Champions", EVIL],
        "customers": [20, 10, 70],
        "predicted_revenue": [300.0, 600.0, 100.0],
        "revenue_share": [0.3, 0.6, 0.1],
    })


def make_matrix() -> pd.DataFrame:
    """Three repeat-purchase counts × four days: the later the last purchase, the likelier active."""
    return pd.DataFrame([[1.0, 1.0, 1.0, 1.0], [0.2, 0.5, 0.8, 0.95], [0.05, 0.3, 0.7, 0.97]],
                        index=pd.Index([0, 1, 2], name="repeat_purchases"), columns=[0, 30, 60, 90])


def make_backtest_table() -> pd.DataFrame:
    return pd.DataFrame({"repeat_purchases": ["0", "1", "2", "6", "7+"], "customers": [1411, 439, 214, 0, 28],
                         "actual_mean": [0.24, 0.70, 1.39, np.nan, 6.0],
                         "predicted_mean": [0.23, 0.85, 1.37, np.nan, 5.1]})


def figure_json(fig: go.Figure) -> str:
    return json.dumps(json.loads(fig.to_json()), ensure_ascii=False)


def test_segment_revenue_bars_in_segment_order_with_shares_and_colours():
    fig = prediction_charts.segment_revenue_figure(make_outlook(), horizon_days=90)
    (bar,) = fig.data
    assert list(bar.y) == [600.0, 300.0, 100.0]
    assert list(bar.text) == ["60%", "30%", "10%"]
    assert list(bar.marker.color) == [charts.segment_color(i) for i in (1, 2, 3)]
    assert "next 90 days" in fig.layout.title.text
    assert "<script" not in figure_json(fig) and "&lt;script&gt;" in figure_json(fig)


@pytest.mark.parametrize("horizon", [0, -30, 9.5, True, "90"], ids=repr)
def test_segment_revenue_refuses_a_horizon_that_is_not_whole_days(horizon):
    with pytest.raises(ValueError, match="horizon_days"):
        prediction_charts.segment_revenue_figure(make_outlook(), horizon_days=horizon)


def test_segment_revenue_names_a_missing_column():
    with pytest.raises(ValueError, match="'revenue_share'"):
        prediction_charts.segment_revenue_figure(make_outlook().drop(columns="revenue_share"), horizon_days=90)


def test_p_alive_heatmap_has_purchases_as_rows_and_days_as_columns():
    fig = prediction_charts.p_alive_heatmap(make_matrix(), observed_days=90)
    (heat,) = fig.data
    assert list(heat.y) == [0, 1, 2] and list(heat.x) == [0.0, 30.0, 60.0, 90.0]
    assert np.asarray(heat.z)[2, 0] == 0.05 and (heat.zmin, heat.zmax) == (0, 1)
    assert "chance still active" in heat.colorbar.title.text
    assert "observed for 90 days" in fig.layout.title.text


@pytest.mark.parametrize("matrix, match", [
    (pd.DataFrame(), "empty"),
    (pd.DataFrame([[0.5, 1.2]], index=[0], columns=[0, 1]), "between 0 and 1"),
    (pd.DataFrame([[-0.1]], index=[0], columns=[0]), "between 0 and 1"),
    ([[0.5]], "DataFrame"),
], ids=["empty", "above-one", "negative", "not-a-frame"])
def test_p_alive_heatmap_refuses_what_is_not_a_probability_matrix(matrix, match):
    with pytest.raises(ValueError, match=match):
        prediction_charts.p_alive_heatmap(matrix)


def test_backtest_chart_draws_actual_and_predicted_by_repeat_purchases():
    fig = prediction_charts.backtest_figure(make_backtest_table(), holdout_days=273)
    actual, predicted = fig.data
    assert (actual.name, predicted.name) == ("Actual", "Predicted")
    assert list(actual.x) == ["0", "1", "2", "6", "7+"] == list(predicted.x)
    assert list(actual.y) == [0.24, 0.70, 1.39, None, 6.0]  # a group without customers is a gap
    assert list(predicted.y) == [0.23, 0.85, 1.37, None, 5.1]
    assert predicted.line.dash == "dash" and list(actual.customdata) == [1411, 439, 214, 0, 28]
    assert fig.layout.xaxis.type == "category" and "273 days" in fig.layout.yaxis.title.text


def test_backtest_chart_refuses_a_table_without_predictions():
    with pytest.raises(ValueError, match="'predicted_mean'"):
        prediction_charts.backtest_figure(make_backtest_table().drop(columns="predicted_mean"), holdout_days=90)
    with pytest.raises(ValueError, match="holdout_days"):
        prediction_charts.backtest_figure(make_backtest_table(), holdout_days=0)

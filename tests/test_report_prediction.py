"""The HTML report's "What comes next" section: present exactly when the result has a prediction,
with the library's per-segment numbers, the backtest in words and its two charts."""
from __future__ import annotations

import dataclasses
import html
import re

import pytest

from segmentation import outlook, pipeline, reading, report_html
from segmentation.prediction import predict_prepared, segment_outlook
from tests.app.app_helpers import to_csv, transactions
from tests.test_report_html import STANDARD_CHARTS, figures


@pytest.fixture(scope="module")
def result() -> pipeline.Result:
    """Sixty customers over six months, segmented, with a 90-day prediction and its backtest."""
    loaded = reading.read_file(to_csv(transactions(60, seed=3)), filename="shop.csv")
    plain = pipeline.run(loaded, k=3)
    return dataclasses.replace(plain, prediction=predict_prepared(plain.prepared, 90, backtest=True))


@pytest.fixture(scope="module")
def page(result) -> str:
    return report_html.render(result, source="shop.csv", seed=42)


def test_the_section_sits_between_the_cards_and_the_charts_with_its_two_charts(page):
    assert page.index('id="segments"') < page.index('id="prediction"') < page.index('id="charts"')
    drawn = re.findall(r'data-figure="([^"]+)"', page)
    assert drawn == ["k_scan", "prediction_revenue", "prediction_backtest", *STANDARD_CHARTS[1:]]
    assert set(figures(page)) == set(drawn)
    assert figures(page)["prediction_revenue"]["layout"]["width"] == report_html.CHART_WIDTH


def test_the_section_shows_the_library_s_numbers(result, page):
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    per_segment = segment_outlook(result.prediction, result.segmentation.customers)
    for row in per_segment.itertuples():
        assert f"{row.predicted_revenue:,.2f}" in text and f"{row.revenue_share:.1%}" in text
    assert outlook.backtest_in_words(result.prediction.backtest) in text
    assert f"r = {result.prediction.bgnbd.r:.4f}" in text and "per day" in text
    assert "Predicted revenue, next 90 days" in text


def test_no_prediction_no_section(result):
    plain = report_html.render(dataclasses.replace(result, prediction=None), source="shop.csv")
    assert 'id="prediction"' not in plain and "prediction_revenue" not in plain

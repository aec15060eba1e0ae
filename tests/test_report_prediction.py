"""The HTML report's "What comes next" section: present exactly when the result has a prediction,
with the library's per-segment numbers, the backtest in words and its two charts."""
from __future__ import annotations

import dataclasses
import html
import re

import pytest

from segmentation import outlook, pipeline, report_html
from segmentation.prediction import predict_prepared, segment_outlook
from tests.test_report_html import STANDARD_CHARTS, figures
from ui.session import DEMO_ROWS, DEMO_SEED


def predicted(loaded) -> pipeline.Result:
    plain = pipeline.run(loaded, k=3)
    return dataclasses.replace(plain, prediction=predict_prepared(plain.prepared, 90, backtest=True))


@pytest.fixture(scope="module")
def result() -> pipeline.Result:
    """The demo data (832 customers over a year), segmented, with a 90-day prediction and its backtest."""
    return predicted(pipeline.demo_file(DEMO_ROWS, seed=DEMO_SEED))


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


def test_without_a_spend_model_the_section_has_no_revenue_to_show(result):
    """What the core gives when the Gamma-Gamma model cannot be fitted: no spend, no revenue, a warning."""
    warning = "Spend per purchase cannot be predicted, so predicted revenue is left empty: too few repeat buyers."
    customers = result.prediction.customers.assign(expected_spend=float("nan"), predicted_revenue=float("nan"))
    no_spend = dataclasses.replace(result.prediction, gamma_gamma=None, customers=customers, warnings=(warning,))
    page = report_html.render(dataclasses.replace(result, prediction=no_spend), source="shop.csv")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    assert 'id="prediction"' in page and "prediction_revenue" not in page
    assert "Gamma-Gamma (spend per purchase): not fitted, so no revenue is predicted" in text
    assert "nan" not in text.lower().split() and "Warning: Spend per purchase cannot be predicted" in text

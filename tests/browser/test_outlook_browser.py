"""The Outlook page in headless Chromium: opened by its link on a fresh server (the demo data), its
three charts drawn (predicted revenue, the chance-still-active matrix, the backtest), the lapsing
list downloaded as a formula-safe CSV, and the cards showing the prediction on the next click.

Run: `pytest -m browser tests/browser/test_outlook_browser.py` (needs /usr/bin/chromium).
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.app.app_helpers import FORMULA_ID, demo_with_a_lapsed_customer
from tests.browser.conftest import SCREENSHOTS, upload, wait_idle

# Its module-scoped fixtures (the servers, Chromium) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_outlook")]

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'


def open_outlook(page, url: str) -> None:
    page.goto(f"{url}/outlook", wait_until="commit", timeout=180_000)
    page.get_by_role("heading", name="Outlook: what comes next", exact=True).first.wait_for(timeout=300_000)
    page.locator(f"{MAIN} .js-plotly-plot", has_text="calibration period").first.wait_for(timeout=300_000)
    wait_idle(page)


def download_lapsing(page, tmp_path) -> tuple[int, pd.DataFrame]:
    button = page.get_by_role("button", name=re.compile(r"^Download these [\d,]+ customers"))
    count = int(re.search(r"these ([\d,]+) customers", button.inner_text()).group(1).replace(",", ""))
    with page.expect_download(timeout=120_000) as info:
        button.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return count, pd.read_csv(target, dtype={"customer_id": str}, keep_default_na=False)


def test_outlook_page_draws_its_charts_and_downloads_the_lapsing_list(fresh_server, page, tmp_path):
    open_outlook(page, fresh_server.url)
    main = page.locator(MAIN)
    assert main.locator(".js-plotly-plot").count() == 3
    assert main.locator(".js-plotly-plot .heatmaplayer").count() == 1  # the chance-still-active matrix
    backtest = main.locator(".js-plotly-plot", has_text="calibration period")
    assert backtest.locator(".scatterlayer .trace").count() == 2  # actual and predicted
    assert {"Actual", "Predicted"} <= set(backtest.locator(".legendtext").all_text_contents())
    text = main.inner_text()
    assert re.search(r"they made [\d,]+ \(the prediction was ", text), text[:3000]
    assert "Predicted revenue, next 90 days" in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "outlook.png"), full_page=True)

    count, lapsing = download_lapsing(page, tmp_path)
    assert len(lapsing) == count > 0 and lapsing["customer_id"].is_unique
    assert list(lapsing.columns[:4]) == ["customer_id", "segment_id", "segment", "recency"]
    assert (lapsing["p_alive"] < 0.5).all() and lapsing["monetary"].is_monotonic_decreasing
    assert page.url.endswith("/outlook")  # downloading neither reruns nor leaves the page

    # A stricter threshold (the marketer's action) lists fewer customers.
    slider = main.locator('[data-testid="stSlider"] input[type="range"]').first  # "Chance still active below"
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")  # 50% → 30%
    page.get_by_role("button", name=re.compile(r"^Download these [\d,]+ customers")).filter(
        has_not_text=f"these {count:,} customers").first.wait_for(timeout=60_000)
    wait_idle(page)
    stricter, _ = download_lapsing(page, tmp_path)
    assert stricter < count

    # The segment cards show the prediction the Outlook page computed.
    page.locator('[data-testid="stSidebarNav"] a', has_text="Segments").first.click()
    page.get_by_role("heading", name="Customer segments", exact=True).first.wait_for(timeout=120_000)
    wait_idle(page)
    cards = page.locator('[class*="st-key-card_"]').all_inner_texts()
    assert cards and all(re.search(r"Next 90 days: predicted revenue [\d,]+\.\d\d", card) for card in cards), cards


def test_the_lapsing_audience_neutralises_formulas(quiet_server, browser_context, tmp_path):
    """On a server with no background job: the Outlook page computes the prediction when opened."""
    path = tmp_path / "lapsed.csv"
    path.write_bytes(demo_with_a_lapsed_customer())
    tab = browser_context.new_page()
    try:
        tab.goto(f"{quiet_server.url}/data", wait_until="commit", timeout=180_000)
        tab.get_by_role("heading", name="Data", exact=True).first.wait_for(timeout=300_000)
        tab.locator(SIDEBAR).get_by_text("customers", exact=False).first.wait_for(timeout=300_000)
        wait_idle(tab)
        upload(tab, path)
        tab.locator(SIDEBAR).get_by_text(path.name).first.wait_for(timeout=300_000)
        wait_idle(tab)
        tab.locator('[data-testid="stSidebarNav"] a', has_text="Outlook").first.click()
        tab.get_by_role("heading", name="Outlook: what comes next", exact=True).first.wait_for(timeout=300_000)
        tab.get_by_role("button", name=re.compile(r"^Download these [\d,]+ customers")).first.wait_for(timeout=300_000)
        wait_idle(tab)
        _, lapsing = download_lapsing(tab, tmp_path)
        assert lapsing["customer_id"].iloc[0] == "'" + FORMULA_ID  # the top spender, neutralised
        assert not lapsing["customer_id"].str.startswith(("=", "+", "-", "@")).any()
    finally:
        tab.close()

"""The dashboard in headless Chromium: deep links, the real upload, K changes, downloads, screenshots.

Run: `pytest -m browser tests/browser` (needs /usr/bin/chromium and ../shared/data/online_retail.xlsx).
Screenshots of every page on the real data are written to $SEGMENTER_SCREENSHOTS (the committed ones:
SEGMENTER_SCREENSHOTS=docs/screenshots python -m pytest -m browser).
"""
from __future__ import annotations

import re
import time

import pandas as pd
import pytest

from tests.browser.conftest import REAL_DATA, SCREENSHOTS, VIEWPORT, require, upload, wait_idle

# Its module-scoped fixtures (servers, Chromium, the real workbook's tab) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_main")]

SIDEBAR = '[data-testid="stSidebar"]'
CARDS = '[class*="st-key-card_"]'
K_SLIDER = f'{SIDEBAR} [data-testid="stSlider"] input[type="range"]'
PAGES = {  # url path → page title
    "": "Customer segments",
    "data": "Data",
    "choose-k": "Choose the number of segments",
    "customers": "Customers",
    "changes": "Changes: who moved between segments",
    "outlook": "Outlook: what comes next",
    "history": "History",
    "workspace": "Your workspace",
}
REAL_CUSTOMERS = 4338  # customers of the UCI Online Retail file after the default cleaning


def sidebar_text(page) -> str:
    """What app.py draws in the sidebar (not the menu's hover icons), without the timing line and
    the background stability check's progress or end note (they change from run to run)."""
    text = page.locator('[data-testid="stSidebarUserContent"]').inner_text()
    return "\n".join(line for line in text.splitlines()
                     if line.strip() and not line.startswith(("Page computed", "Checking how stable",
                                                              "Stability checked")))


def open_page(page, url: str, title: str) -> None:
    page.goto(url, wait_until="commit", timeout=180_000)  # then wait for the content itself
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=300_000)
    page.locator(SIDEBAR).get_by_text("customers", exact=False).first.wait_for(timeout=300_000)
    wait_idle(page)


def nav(page, label: str, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=120_000)
    wait_idle(page)


def card_titles(page) -> list[str]:
    return [t.strip() for t in page.locator(f"{CARDS} h4").all_inner_texts()]


def sidebar_k(page) -> int:
    """K as the sidebar says it ("K = 4 (suggested: 3), seed 42.")."""
    match = re.search(r"K = (\d+)", page.locator(SIDEBAR).inner_text())
    assert match
    return int(match.group(1))


def screenshot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its own pane, so grow the viewport to the content."""
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 900})
    time.sleep(0.5)
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return main ? main.scrollHeight : document.body.scrollHeight;
        }"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(min(max(height + 40, 900), 7000))})
    time.sleep(1.5)  # let Plotly redraw at the new size
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)


# ------------------------------------------------------------------------------------------
# deep links: a server no other test talks to first, each link opened in a new session (no background
# job: the sidebar is the same with or without one, and the jobs of eight sessions cost CI minutes)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def root_sidebar(quiet_server, browser_context) -> str:
    """The root page's sidebar, opened by URL in a session of its own: the quiet server's first request."""
    tab = browser_context.new_page()
    try:
        open_page(tab, f"{quiet_server.url}/", PAGES[""])
        return sidebar_text(tab)
    finally:
        tab.close()


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "root")
def test_deep_link_on_quiet_server_shows_page_with_shared_sidebar(quiet_server, root_sidebar, page, path):
    open_page(page, f"{quiet_server.url}/{path}", PAGES[path])
    assert page.url.rstrip("/") == f"{quiet_server.url}/{path}".rstrip("/")
    assert page.get_by_text("Page not found").count() == 0
    first = sidebar_text(page)
    assert "Showing the built-in demo data" in first and "customers" in first
    page.locator(K_SLIDER).first.wait_for(state="attached", timeout=60_000)  # drawn after the counts
    assert page.locator(K_SLIDER).count() == 1
    assert page.locator('[data-testid="stSidebarNav"] a').count() == len(PAGES)
    # The same sidebar as the root page's, opened by URL in another session; and reached by the menu
    # in this one (from the root page: the Data page). Across the cases every page's sidebar is the
    # root's: the same check as every case visiting every page, in one load each (and one for the root).
    assert first == root_sidebar
    label, title = ("Data", "Data") if path == "" else ("Segments", "Customer segments")
    nav(page, label, title)
    assert sidebar_text(page) == first


# ------------------------------------------------------------------------------------------
# the real workbook
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_page(server, browser_context):
    """One session: the real workbook uploaded through the real uploader on the Data page."""
    require(REAL_DATA.exists(), f"{REAL_DATA} is missing (the UCI Online Retail workbook; see README)")
    tab = browser_context.new_page()
    open_page(tab, server.url, "Customer segments")
    assert len(card_titles(tab)) >= 2  # starts on the demo data with segments
    nav(tab, "Data", "Data")
    upload(tab, REAL_DATA)
    tab.locator(SIDEBAR).get_by_text("online_retail.xlsx").first.wait_for(timeout=600_000)
    tab.locator(SIDEBAR).get_by_text(f"{REAL_CUSTOMERS:,} customers").first.wait_for(timeout=600_000)
    wait_idle(tab, timeout=600_000)
    yield tab
    tab.close()


def test_real_upload_data_page(real_page):
    text = real_page.locator('[data-testid="stMain"]').inner_text()
    assert "Now loaded: online_retail.xlsx" in text
    assert "541,909" in text  # rows in
    assert "What cleaning removed" in text
    assert real_page.locator(".js-plotly-plot").count() >= 1  # the audit waterfall
    screenshot(real_page, "data")


def test_real_choose_k_page(real_page):
    nav(real_page, "Choose K", "Choose the number of segments")
    assert "Suggested: K =" in real_page.locator('[data-testid="stMain"]').inner_text()
    assert real_page.locator(".js-plotly-plot").count() == 1
    screenshot(real_page, "choose-k")


def test_real_k_change_updates_segment_cards(real_page):
    nav(real_page, "Segments", "Customer segments")
    before = card_titles(real_page)
    slider = real_page.locator(K_SLIDER)
    assert len(before) >= 2
    slider.focus()
    started = time.perf_counter()
    real_page.keyboard.press("ArrowRight")
    real_page.wait_for_function(f"() => document.querySelectorAll('{CARDS}').length === {len(before) + 1}",
                                timeout=60_000)
    wait_idle(real_page)
    elapsed = time.perf_counter() - started
    after = card_titles(real_page)
    assert len(after) == len(before) + 1 and after != before
    assert "Page computed" not in real_page.locator(SIDEBAR).inner_text()  # no debug text on screen
    print(f"\nK {len(before)} → {len(after)}: browser round trip {elapsed:.2f} s")
    screenshot(real_page, "segments")


@pytest.mark.parametrize("tab, name", [
    ("3D R/F/M", "segments-3d"),
    ("Compared with average", "segments-heatmap"),
    ("Snake plot", "segments-snake"),
    ("Revenue share", "segments-revenue"),
    ("Segments × RFM score labels", "segments-crosstab"),
])
def test_real_segment_chart_tabs(real_page, tab, name):
    if real_page.get_by_role("heading", name="Customer segments", exact=True).count() == 0:
        nav(real_page, "Segments", "Customer segments")
    real_page.get_by_role("tab", name=tab).click()
    panel = real_page.locator('[role="tabpanel"]:visible')
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_idle(real_page)
    time.sleep(1.0)
    assert panel.locator(".js-plotly-plot").count() == 1
    panel.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_real_customers_page_download_csv(real_page, tmp_path):
    nav(real_page, "Customers", "Customers")
    main = real_page.locator('[data-testid="stMain"]').inner_text()
    assert f"{REAL_CUSTOMERS:,} of {REAL_CUSTOMERS:,} customers" in main
    screenshot(real_page, "customers")
    with real_page.expect_download(timeout=120_000) as info:
        real_page.get_by_role("button", name=re.compile(r"^Customers — CSV")).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    customers = pd.read_csv(target, dtype={"customer_id": str})
    assert len(customers) == REAL_CUSTOMERS
    assert customers["customer_id"].is_unique
    assert {"segment", "rfm_segment", "recency", "frequency", "monetary"} <= set(customers.columns)
    # The one rerun of a finished background check (ui/stability.py) may redraw the button under the
    # click, as it can for a marketer: click once the page is idle.
    wait_idle(real_page)
    with real_page.expect_download(timeout=180_000) as info:
        real_page.get_by_role("button", name=re.compile(r"^Customers \+ segments — Excel")).click()
    workbook = tmp_path / info.value.suggested_filename
    info.value.save_as(workbook)
    sheets = pd.read_excel(workbook, sheet_name=None)
    assert list(sheets) == ["Customers", "Segments"]
    assert len(sheets["Customers"]) == REAL_CUSTOMERS and len(sheets["Segments"]) == sidebar_k(real_page)
    # Downloading neither reruns nor resets the page: still the real data, still this page.
    time.sleep(1)
    wait_idle(real_page)
    assert "online_retail.xlsx" in sidebar_text(real_page)
    assert real_page.url.endswith("/customers")


def test_real_changes_page_presets_and_flow_download(real_page, tmp_path):
    nav(real_page, "Changes", "Changes: who moved between segments")
    main = real_page.locator('[data-testid="stMain"]')
    # the dates head the Sankey's two columns; 90 days before 2011-12-10
    assert "2011-09-11" in " ".join(main.locator(".annotation-text").all_text_contents())
    assert f"{REAL_CUSTOMERS:,}" in main.inner_text()  # customers on the second date
    screenshot(real_page, "changes")
    main.locator('[data-testid="stButtonGroup"] button', has_text="30 days ago").first.click()
    real_page.locator(".annotation-text", has_text="2011-11-10").first.wait_for(timeout=180_000)
    wait_idle(real_page)
    assert not any("2011-09-11" in text for text in main.locator(".annotation-text").all_text_contents())
    button = real_page.get_by_role("button", name=re.compile(r"^Download these [\d,]+ customers"))
    count = int(re.search(r"these ([\d,]+) customers", button.inner_text()).group(1).replace(",", ""))
    with real_page.expect_download(timeout=120_000) as info:
        button.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    flow = pd.read_csv(target, dtype={"customer_id": str})
    assert len(flow) == count > 0 and flow["customer_id"].is_unique
    assert list(flow.columns[:6]) == ["customer_id", "segment_id_a", "segment_a", "segment_id_b", "segment_b",
                                      "revenue_between"]
    assert real_page.url.endswith("/changes")


def test_real_stability_arrives_after_the_segments(real_page):
    """The background check ends: fifth Choose K panel, a badge on every card, the borderline filter."""
    nav(real_page, "Choose K", "Choose the number of segments")
    real_page.get_by_text("Comes back on resamples (stability)").first.wait_for(timeout=600_000)
    wait_idle(real_page)
    screenshot(real_page, "choose-k")
    nav(real_page, "Segments", "Customer segments")
    bands = ("highly stable", "stable", "doubtful", "not to be trusted")
    texts = real_page.locator(CARDS).all_inner_texts()
    assert len(texts) == sidebar_k(real_page)
    assert all(any(band in text for band in bands) for text in texts), texts
    screenshot(real_page, "segments")
    nav(real_page, "Customers", "Customers")
    real_page.get_by_text("Borderline customers only").click()
    real_page.get_by_text(f"{round(REAL_CUSTOMERS / 10):,} of {REAL_CUSTOMERS:,} customers").wait_for(timeout=60_000)
    wait_idle(real_page)


def test_user_text_never_becomes_html_in_the_browser(quiet_server, browser_context, tmp_path):
    """Ids, countries and descriptions with tags are shown as text: no element, no script, no dialog."""
    from tests.app.app_helpers import to_csv, transactions

    evil = tmp_path / "evil<b>name<i>.csv"
    evil.write_bytes(to_csv(transactions(evil=True)))
    tab = browser_context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        open_page(tab, f"{quiet_server.url}/data", "Data")
        upload(tab, evil)
        tab.locator(SIDEBAR).get_by_text("evil<b>name<i>.csv").first.wait_for(timeout=300_000)
        wait_idle(tab)
        for label, title in (("Segments", "Customer segments"), ("Customers", "Customers"), ("Choose K",
                             "Choose the number of segments"), ("Data", "Data")):
            nav(tab, label, title)
            assert tab.locator('img[src="x"]').count() == 0
            assert tab.locator('[data-testid="stMain"] b:text("name")').count() == 0
            assert tab.locator('a[href^="javascript"]').count() == 0
        # Hover the evil customer's point in the 2D scatter plot: its hover label is drawn from the
        # escaped id and must show the tag as plain text.
        nav(tab, "Segments", "Customer segments")
        plot = tab.locator('[role="tabpanel"]:visible .js-plotly-plot').first
        curve, point = plot.evaluate(
            """gd => {
                for (const [c, trace] of gd.data.entries()) {
                    const i = (trace.customdata || []).findIndex(row => String(row[0]).includes("script"));
                    if (i >= 0) return [c, i];
                }
                return [-1, -1];
            }"""
        )
        assert curve >= 0, "the evil customer is in the scatter plot"
        plot.locator(".scatterlayer .trace").nth(curve).locator(".point").nth(point).hover(force=True)
        label = " ".join(t or "" for t in tab.locator(".hoverlayer").all_text_contents())
        assert "Customer <script>alert(1)</script>" in label
        assert tab.locator(".hoverlayer script").count() == 0 and tab.locator('img[src="x"]').count() == 0
        assert dialogs == []
    finally:
        tab.close()

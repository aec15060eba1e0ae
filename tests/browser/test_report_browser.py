"""The HTML report in headless Chromium with every network request blocked.

Built from the real UCI workbook: every chart is drawn, the page holds 4,338 customers and every
segment's name, nothing is fetched (nor even attempted: the report's Content-Security-Policy
would report it), and the PDF that Chromium prints from it has every segment name. A report
built from hostile text shows it as text: no element, no script, no dialog.
The screenshot goes to $SEGMENTER_SCREENSHOTS/report.png (committed: docs/screenshots/report.png).
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from segmentation import pipeline, reading, report_html
from tests.browser.conftest import REAL_DATA, SCREENSHOTS, require
from tests.test_report_html import EVIL_COUNTRIES, EVIL_FILE_NAME, EVIL_PRODUCTS, hostile_result

# Its module-scoped fixtures (Chromium, the real workbook's report) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_report")]

REAL_CUSTOMERS = 4338
# Collects what the page tried and the Content-Security-Policy refused (a request, a script...).
WATCH_POLICY = """
window.__refused = [];
document.addEventListener("securitypolicyviolation",
                          (e) => window.__refused.push(e.violatedDirective + " " + e.blockedURI));
"""


class OfflinePage:
    """A tab where every request but the report file itself is aborted, and counted."""

    def __init__(self, context, path: Path):
        self.url = path.resolve().as_uri()
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.tab = context.new_page()
        self.tab.add_init_script(WATCH_POLICY)
        self.tab.route("**/*", self._route)
        self.tab.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def _route(self, route) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self) -> None:
        self.tab.goto(self.url, timeout=120_000)
        self.tab.wait_for_selector("body[data-charts-done]", state="attached", timeout=180_000)

    def refused(self) -> list[str]:
        return self.tab.evaluate("window.__refused")


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> tuple[Path, pipeline.Result]:
    require(REAL_DATA.is_file(), f"{REAL_DATA} is absent: the real UCI Online Retail workbook")
    result = pipeline.run(reading.read_file(REAL_DATA))
    path = tmp_path_factory.mktemp("report") / "report.html"
    report_html.write_report(path, result, source=REAL_DATA.name, seed=42)
    return path, result


def test_route_counts_what_a_page_asks_for(browser_context, tmp_path):
    """The blocking works: a page that does fetch something is caught (so zero below means zero)."""
    page_file = tmp_path / "asks.html"
    page_file.write_text('<img src="https://cdn.example.invalid/x.png">')
    page = OfflinePage(browser_context, page_file)
    try:
        page.tab.goto(page.url)
        page.tab.wait_for_timeout(500)
        assert page.blocked == ["https://cdn.example.invalid/x.png"]
    finally:
        page.tab.close()


def test_real_report_draws_every_chart_offline_and_prints(browser_context, real_report):
    path, result = real_report
    names = result.segmentation.profiles["segment"].tolist()
    assert path.stat().st_size < 5_000_000
    page = OfflinePage(browser_context, path)
    try:
        page.open()
        tab = page.tab
        holders = tab.locator(".plotly-graph-div").count()
        assert holders == 7
        assert tab.evaluate("document.body.dataset.chartsDrawn") == str(holders)
        assert tab.locator(".plotly-graph-div.js-plotly-plot .main-svg").count() >= holders  # drawn, not empty
        text = tab.locator("body").inner_text()
        assert f"{REAL_CUSTOMERS:,}" in text
        for name in names:
            assert name in text, name
        assert page.blocked == [] and page.refused() == [] and page.dialogs == []

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        main = tab.locator("main").bounding_box()
        top = tab.locator("#segments").bounding_box()["y"] - 24
        tab.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True,
                       clip={"x": main["x"], "y": top, "width": main["width"], "height": 1900})

        pdf = tab.pdf(format="A4", print_background=True)
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(pdf))
        printed = "\n".join(p.extract_text() for p in reader.pages)
        for name in names:
            assert name in printed, name
        assert f"{REAL_CUSTOMERS:,}" in printed
        assert len(reader.pages) >= 4
        assert page.blocked == []
    finally:
        page.tab.close()


def test_hostile_text_stays_text_in_the_browser(browser_context, tmp_path):
    path = tmp_path / "hostile.html"
    report_html.write_report(path, hostile_result(), source=EVIL_FILE_NAME, seed=42)
    page = OfflinePage(browser_context, path)
    try:
        page.open()
        tab = page.tab
        assert tab.evaluate("document.body.dataset.chartsDrawn") == "7"
        counts = tab.evaluate("""() => ({
            scripts: [...document.scripts].map((s) => s.id || "loader"),
            img: document.querySelectorAll("img").length,
            svgOnload: document.querySelectorAll("[onload], [onerror], [onclick]").length,
            javascriptLinks: document.querySelectorAll('a[href^="javascript"]').length,
            italic: document.querySelectorAll("main i").length,
        })""")
        assert counts == {"scripts": ["plot-config", "plotly-js", "report-figures", "loader"], "img": 0,
                          "svgOnload": 0, "javascriptLinks": 0, "italic": 0}
        text = tab.locator("main").inner_text()
        for raw in [EVIL_FILE_NAME, "<i>Country</i>", *EVIL_COUNTRIES, EVIL_PRODUCTS[0]]:
            assert raw in text, raw  # shown as typed
        assert page.dialogs == [] and page.blocked == [] and page.refused() == []
    finally:
        page.tab.close()

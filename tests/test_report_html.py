"""The HTML report: one offline file, plotly.js once, every chart, user text escaped.

The browser half (charts drawn, nothing fetched, printable) is tests/browser/test_report_browser.py.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from segmentation import charts, pipeline, reading, report_html
from segmentation.formats import plural
from tests.hostile.cases import HEADER, csv_text, good_rows
from tests.hostile.test_injection import EVIL_IDS

SCRIPT = re.compile(r"<script([^>]*)>(.*?)</script>", re.S)
STANDARD_CHARTS = ["k_scan", "scatter", "scatter_3d", "heatmap", "snake", "revenue", "crosstab"]


EVIL_FILE_NAME = '<img src=x onerror="alert(9)">.csv'
EVIL_COUNTRY_COLUMN = "<i>Country</i>"
EVIL_COUNTRIES = ["<img src=x onerror=alert(2)>", "<svg onload=alert(3)>"]
EVIL_PRODUCTS = ["<script>alert(1)</script>", "<a href='javascript:alert(4)'>x</a>", "=1+1"]


def hostile_transactions() -> bytes:
    """35 lines whose ids, countries, descriptions and a header are markup and formulas."""
    rows = good_rows(35, customer=lambda i: EVIL_IDS[i % len(EVIL_IDS)],
                     country=lambda i: EVIL_COUNTRIES[i % 7 % 2],
                     description=lambda i: EVIL_PRODUCTS[i % len(EVIL_PRODUCTS)],
                     product=lambda i: f"P{i % len(EVIL_PRODUCTS)}")
    header = [EVIL_COUNTRY_COLUMN if name == "Country" else name for name in HEADER]
    return csv_text(rows, header=header).encode()


def hostile_result() -> pipeline.Result:
    loaded = reading.read_file(hostile_transactions(), filename=EVIL_FILE_NAME)
    return pipeline.run(loaded, overrides={"country": EVIL_COUNTRY_COLUMN}, k=3)


@pytest.fixture(scope="module")
def result() -> pipeline.Result:
    return hostile_result()


@pytest.fixture(scope="module")
def page(result) -> str:
    return report_html.render(result, source=EVIL_FILE_NAME, seed=42)


def scripts(page: str) -> dict[str, tuple[str, str]]:
    """id (or 'loader') → (attributes, content) of every <script> element."""
    found = {}
    for attributes, content in SCRIPT.findall(page):
        match = re.search(r'id="([^"]+)"', attributes)
        found[match.group(1) if match else "loader"] = (attributes, content)
    return found


def unpack(page: str, script_id: str) -> str:
    return gzip.decompress(base64.b64decode(scripts(page)[script_id][1])).decode("utf-8")


def markup(page: str) -> str:
    """The page without the packed payloads (which are base64, not markup)."""
    return SCRIPT.sub("<script/>", page)


def figures(page: str) -> dict:
    return json.loads(unpack(page, "report-figures"))


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "section", "article", "div", "span",
             "h1", "h2", "h3", "p", "b", "code", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "figure",
             "figcaption", "script"}


def test_the_page_has_our_four_scripts_and_nothing_that_loads(page):
    found = scripts(page)
    assert list(found) == ["plot-config", "plotly-js", "report-figures", "loader"]
    assert [attrs.strip() for attrs, _ in found.values()][:3] == [
        'type="application/json" id="plot-config"', 'type="application/octet-stream" id="plotly-js"',
        'type="application/octet-stream" id="report-figures"']
    tags = Elements(page).tags
    assert {tag for tag, _ in tags} <= PAGE_TAGS
    attributes = {name for _, attrs in tags for name in attrs}
    assert not {"src", "href", "srcset", "action", "background"} & attributes
    assert not [name for name in attributes if name.startswith("on")]
    (styles,) = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert "@import" not in styles and "url(" not in styles and "@font-face" not in styles


def test_plotly_js_is_inlined_once_and_is_the_package_s(page):
    assert page.count("plotly-js") == 2  # the script's id and the loader's reference to it
    code = unpack(page, "plotly-js")
    assert code.startswith("/**\n* plotly.js v") and len(code) > 3_000_000
    assert "Plotly.newPlot" not in markup(page).replace("await Plotly.newPlot", "")


def test_mathjax_is_off(page):
    config = json.loads(scripts(page)["plot-config"][1])
    assert config["typesetMath"] is False
    assert "mathjax" not in markup(page).lower()


def test_the_policy_allows_only_the_loader_and_no_request(page):
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    loader = scripts(page)["loader"][1]
    digest = base64.b64encode(hashlib.sha256(loader.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}' 'unsafe-eval'" in policy
    assert policy.startswith("default-src 'none';")
    assert "connect-src" not in policy  # falls back to 'none': no fetch, no XHR


def array(value) -> np.ndarray:
    """A figure array as sent to plotly.js: a list, or a base64 typed array ({dtype, bdata, shape})."""
    if isinstance(value, dict) and "bdata" in value:
        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value, dtype=object)


def test_every_chart_has_a_div_and_a_figure(page):
    wanted = re.findall(r'<div class="plotly-graph-div" data-figure="([^"]+)"></div>', page)
    assert wanted == STANDARD_CHARTS
    drawn = figures(page)
    assert set(drawn) == set(wanted)
    for name, figure in drawn.items():
        assert figure["layout"]["width"] == report_html.CHART_WIDTH, name
        assert figure["data"], name


def test_the_heatmap_is_the_dashboard_s(result, page):
    expected = charts.relative_heatmap(result.segmentation.customers).data[0]
    drawn = figures(page)["heatmap"]["data"][0]
    np.testing.assert_allclose(array(drawn["z"]).astype(float), np.asarray(expected.z, dtype=float))
    assert drawn["text"] == [list(row) for row in expected.text]


def test_scatter_plots_are_capped_and_say_so(result):
    text = report_html.render(result, source="s.csv", max_points=5)
    for name in ("scatter", "scatter_3d"):
        figure = figures(text)[name]
        assert sum(len(array(trace["x"])) for trace in figure["data"]) == 5, name
        assert f"random sample of 5 of {len(result.segmentation.customers)} customers" in figure["layout"]["title"][
            "text"], name


def test_contents(result, page):
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup(page)))
    audit = result.prepared.audit
    for needle in [f"{audit.rows_in:,} rows in", f"{audit.rows_kept:,} kept", "Cleaning: where every row went",
                   f"K = {result.k}", result.suggestion.reason, "Methodology", "random seed 42",
                   "Recency (R)", "Frequency (F)", "Monetary (M)", "Segmenter 0."]:
        assert needle in text, needle
    for row in result.segmentation.profiles.itertuples():
        assert f"{row.segment_id}. {row.segment}" in text
        assert plural(row.customers, "customer") in text
        assert row.action in text
    for rule in audit.table["rule"]:
        assert rule in text


def test_user_text_is_escaped_everywhere(result, page):
    outside = markup(page)
    assert set(result.segmentation.customers["country"]) == set(EVIL_COUNTRIES)
    for raw in [EVIL_FILE_NAME, EVIL_COUNTRY_COLUMN, *EVIL_COUNTRIES, *EVIL_PRODUCTS[:2]]:
        assert raw not in outside, raw
        assert html.escape(raw) in outside, raw  # shown, as text
    drawn = unpack(page, "report-figures")
    for raw in ("<script", "<img", "<svg", "<a ", "<i>", "<b>"):
        assert raw not in drawn, raw


def test_optional_sections_appear_only_with_their_data(result):
    plain = report_html.render(result, source="s.csv")
    assert 'class="badge"' not in plain
    extra = charts.snake_plot(result.segmentation.customers)
    text = report_html.render(result, source="s.csv", stability={1: "stable <0.9>"},
                              extra_charts=[("Migration <from> last run", extra)])
    assert '<span class="badge">stable &lt;0.9&gt;</span>' in text
    assert "Migration &lt;from&gt; last run" in text
    assert re.findall(r'data-figure="([^"]+)"', text) == STANDARD_CHARTS + ["extra_0"]
    assert "extra_0" in figures(text)


def test_the_same_result_gives_the_same_bytes(result, page):
    assert report_html.render(result, source=EVIL_FILE_NAME, seed=42) == page


def test_write_report_is_atomic(tmp_path, result):
    path = tmp_path / "report.html"
    report_html.write_report(path, result, source="s.csv")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_result_to_html(result, page, tmp_path):
    assert (result.source, result.seed) == (EVIL_FILE_NAME, 42)
    assert result.to_html() == page
    assert result.to_html(tmp_path / "r.html") is None
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page


@pytest.mark.parametrize("process_default", ["plotly", "none", "simple_white"])
def test_report_axes_make_room_for_their_labels_whatever_the_process_default(monkeypatch, result, process_default):
    """Importing Streamlit sets plotly's default template to one without automargin: the report's
    figures must not depend on it, or their 10 px margins clip every row label (issue 21)."""
    import plotly.io as pio

    monkeypatch.setattr(pio.templates, "default", process_default)
    figures, _ = report_html._figures(result, None, ())
    for figure_id, figure in figures.items():
        template = figure.layout.template.layout
        assert template.xaxis.automargin and template.yaxis.automargin, figure_id

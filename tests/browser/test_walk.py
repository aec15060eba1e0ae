"""A newcomer's walk through the app in headless Chromium (issue 21): what broke, what misled.

Each test is one item of the walk, on small files made here (no real data needed):
- the report downloaded from the app keeps every axis label and tick inside its figure (800 and 1920 px);
- Changes opens on the default preset after leaving it and switching files; its flow picker says
  the count of the dates shown, and the Data page's currency picker what the mapped price column
  says (a picker's label that changes under the same value must not stay stale on screen);
- the background stability check never changes the segments on screen: it offers its K;
- messages say what is wrong without contradicting themselves or naming command-line flags;
- after a file that cannot be segmented, one status says which file is used where;
- a full walk (demo, upload, every page, downloads) requests nothing outside the server, and the
  server log has no "missing ScriptRunContext!" warning.
"""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from segmentation.demo import demo_transactions
from tests.app.app_helpers import to_csv, transactions
from tests.browser.conftest import upload, wait_idle
from tests.browser.test_browser import PAGES, SIDEBAR, card_titles, nav, open_page, sidebar_k
from tests.hostile.cases import xlsx_with_member

# Its module-scoped fixtures (the servers, Chromium, the files) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
# The tests that look at no background job use the quiet server (tests/browser/conftest.py); the stability
# check's own test and the full walk use a fresh server that has them, as a user's server does.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_walk")]

MAIN = '[data-testid="stMain"]'
ERRORS = '[data-testid="stAlertContentError"]'
# Every tick label and axis title of each report figure must lie inside the figure's SVG, and an
# axis title must not overlap that axis's tick labels. Returns what does not, as readable strings.
LABELS_OUTSIDE = """() => {
  const problems = [];
  const inside = (r, box) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5 &&
                             r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (const holder of document.querySelectorAll(".plotly-graph-div")) {
    const box = holder.querySelector(".main-svg").getBoundingClientRect();
    for (const axis of ["x", "y"]) {
      const ticks = [...holder.querySelectorAll(`.${axis}tick text, .${axis}2tick text`)]
        .filter((t) => t.textContent && t.getBoundingClientRect().width > 0);
      const titles = [...holder.querySelectorAll(`.g-${axis}title text, .g-${axis}2title text`)]
        .filter((t) => t.textContent && t.getBoundingClientRect().width > 0);
      for (const t of [...ticks, ...titles]) {
        if (!inside(t.getBoundingClientRect(), box))
          problems.push(`${holder.dataset.figure}: '${t.textContent}' outside`);
      }
      for (const title of titles) {
        for (const tick of ticks) {
          if (overlap(title.getBoundingClientRect(), tick.getBoundingClientRect()))
            problems.push(`${holder.dataset.figure}: title '${title.textContent}' over '${tick.textContent}'`);
        }
      }
    }
  }
  return problems;
}"""


def main_text(page) -> str:
    return page.locator(MAIN).inner_text()


def download(page, button_name: str, target_dir: Path) -> Path:
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name=re.compile(button_name)).first.click()
    target = target_dir / info.value.suggested_filename
    info.value.save_as(target)
    return target


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("walk-files")
    made = {
        "shop.csv": to_csv(transactions(60)),
        # The demo's own transactions as a file: the same snapshot and first date as the demo.
        "demo_copy.csv": demo_transactions(50_000).to_pandas().to_csv(index=False).encode(),
        # A file whose first suggestion (K=7) is not the one stability favours (K=3).
        "small_shop.csv": demo_transactions(5_000, seed=2).to_pandas().to_csv(index=False).encode(),
        "notes.xlsx": b"just some notes\nnothing tabular here\n",
        "no_customer.csv": b"when,amount\n2023-01-01,5\n2023-01-02,7\n",
        "bomb.xlsx": xlsx_with_member("xl/media/bomb.xml", 60_000_000),
        "no_valid_dates.csv": b"CustomerID,InvoiceDate,Quantity,UnitPrice\n1,soon,1,2\n2,later,2,3\n3,never,1,4\n",
        # Two price columns, one naming its currency: which one is the unit price decides the currency.
        "two_prices.csv": to_csv(transactions(40).assign(**{"Price (EUR)": lambda t: t["UnitPrice"],
                                                            "Net price": lambda t: t["UnitPrice"] * 0.8})
                                 .drop(columns="UnitPrice")),
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


@pytest.fixture
def tab(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()


# ------------------------------------------------------------------------------------------
# 1 + acceptance 2: the report downloaded from the app
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_report(quiet_server, browser_context, tmp_path_factory) -> Path:
    """The report as the app's button downloads it (once: both widths below look at the same file)."""
    tab = browser_context.new_page()
    try:
        open_page(tab, quiet_server.url, "Customer segments")
        return download(tab, r"^Download report", tmp_path_factory.mktemp("app-report"))
    finally:
        tab.close()


@pytest.mark.parametrize("width", [800, 1920])
def test_report_from_the_app_keeps_every_axis_label_inside_its_figure(browser_context, app_report, width):
    report = app_report
    offline = browser_context.new_page()
    try:
        offline.set_viewport_size({"width": width, "height": 1000})
        offline.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else route.abort())
        offline.goto(report.resolve().as_uri())
        offline.wait_for_selector("body[data-charts-done]", state="attached", timeout=180_000)
        assert offline.evaluate("document.body.dataset.chartsDrawn") == "7"
        assert offline.evaluate(LABELS_OUTSIDE) == []
    finally:
        offline.close()


# ------------------------------------------------------------------------------------------
# 2 and 3: the Changes page
# ------------------------------------------------------------------------------------------
# The Sankey's column heads: the two dates compared (charts.migration_sankey's annotations).
SANKEY_DATES = ".js-plotly-plot .annotation-text"


def test_changes_opens_on_its_default_dates_after_switching_files(quiet_server, tab, files):
    open_page(tab, f"{quiet_server.url}/changes", PAGES["changes"])
    nav(tab, "Data", "Data")
    for name in ("shop.csv", "demo_copy.csv"):
        upload(tab, files[name])
        tab.locator(SIDEBAR).get_by_text(name).first.wait_for(timeout=300_000)
        wait_idle(tab)
    nav(tab, "Changes", PAGES["changes"])
    # The Sankey, or the error the page stopped on (at ccf9429: "These dates cannot be compared").
    tab.locator(f".sankey, {ERRORS}").first.wait_for(timeout=180_000)
    wait_idle(tab)
    assert tab.locator(ERRORS).count() == 0, main_text(tab)
    assert "cannot be compared" not in main_text(tab)
    selected = tab.locator(f'{MAIN} [data-testid="stButtonGroup"] button[aria-checked="true"], '
                           f'{MAIN} [data-testid="stButtonGroup"] button[kind$="Active"]')
    assert "90 days ago" in " ".join(selected.all_inner_texts())
    # Leaving the page and coming back keeps the dates chosen.
    tab.locator(f'{MAIN} [data-testid="stButtonGroup"] button', has_text="180 days ago").first.click()
    tab.locator(SANKEY_DATES, has_text="2011-06-13").first.wait_for(timeout=180_000)
    wait_idle(tab)
    nav(tab, "Segments", PAGES[""])
    nav(tab, "Changes", PAGES["changes"])
    tab.locator(SANKEY_DATES, has_text="2011-06-13").first.wait_for(timeout=180_000)
    assert tab.locator(ERRORS).count() == 0


FLOW_PICKER = f'{MAIN} [data-testid="stSelectbox"]:has(input[aria-label="Flow"])'
FIRST_DATE = f'{MAIN} [data-testid="stDateInput"] input'


def set_preset(page, days: str, first_date: str) -> None:
    """Click "<days> days ago" and wait until the first date box holds ``first_date`` and the run is over
    (the date box, not the Sankey's heads: this test also runs against the app as it was filed)."""
    page.locator(f'{MAIN} [data-testid="stButtonGroup"] button', has_text=f"{days} days ago").first.click()
    pattern = first_date.replace("-", ".")  # 2011-06-13 as any date format shows it: 2011/06/13, 2011-06-13
    page.wait_for_function(f"() => /{pattern}/.test(document.querySelector('{FIRST_DATE}')?.value ?? '')",
                           timeout=180_000)
    wait_idle(page)


def flow_on_screen(page) -> dict:
    """What the marketer reads about the chosen flow: the picker's text, the counts said under
    "Customers of one flow" (the picker's own text included) and the download button's count."""
    picker = page.locator(f"{FLOW_PICKER} input").input_value()
    below = main_text(page).split("Customers of one flow")[-1]
    button = page.get_by_role("button", name=re.compile(r"^Download these [\d,]+ customers")).inner_text()
    return {"picker": picker, "below": below, "button": re.search(r"these ([\d,]+) customers", button).group(1),
            "counts": re.findall(r"([\d,]+) customers?\b", picker + "\n" + below)}


def test_the_flow_picker_says_the_count_of_the_dates_shown(quiet_server, tab):
    # The walk: the largest flow stays chosen while the dates change (90 → 180 days: at ccf9429
    # the picker kept "… (213 customers)" over a list and a button of 127), then the marketer picks
    # another flow and changes the dates twice more.
    open_page(tab, f"{quiet_server.url}/changes", PAGES["changes"])
    tab.locator(FLOW_PICKER).wait_for(timeout=180_000)
    steps = [("open", None), ("180", "2011-06-13"), ("pick the second flow", None), ("365", "2010-12-10"),
             ("180", "2011-06-13")]
    seen = []
    for step, first_date in steps:
        if first_date:
            set_preset(tab, step, first_date)
        elif step.startswith("pick"):
            tab.locator(FLOW_PICKER).click()
            tab.get_by_role("option").nth(1).click()
            wait_idle(tab)
        seen.append((step, flow_on_screen(tab)))
        # Every count said about the flow is the download's count (the list and the CSV are its rows).
        assert seen[-1][1]["counts"] and set(seen[-1][1]["counts"]) == {seen[-1][1]["button"]}, seen[-1]
    # And at every step the picker names the flow the line under it describes ("127 customers: A on …, B on …").
    for step, shown in seen:
        line = re.search(r"[\d,]+ customers?: (.+) on \S+, (.+) on \S+\.", shown["below"])
        assert line and shown["picker"] == f"{line.group(1)} → {line.group(2)}", (step, shown)


def test_the_currency_picker_follows_the_price_column_mapped(quiet_server, tab, files):
    # The same stale label as item 3's, on the Data page: the picker's value stays "as the file says"
    # while what the file says changes with the price column mapped (drawn by st.selectbox, the
    # picker kept "€ EUR" over money that had no currency any more; ui.render.labelled_selectbox).
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    open_page(tab, f"{quiet_server.url}/data", "Data")
    upload(tab, files["two_prices.csv"])
    tab.locator(SIDEBAR).get_by_text("two_prices.csv").first.wait_for(timeout=300_000)
    currency = tab.locator(f'{MAIN} input[aria-label="Currency"]')
    price = tab.locator(f'{MAIN} [data-testid="stSelectbox"]:has(input[aria-label^="Unit price"])')
    assert currency.input_value() == "As the file says: € EUR"
    for column, says in (("Net price", "As the file says: none found"), ("Price (EUR)", "As the file says: € EUR")):
        price.click()
        tab.get_by_role("option", name=column, exact=True).click()
        with contextlib.suppress(PlaywrightTimeout):  # a stale label never comes: the assert says what shows
            tab.wait_for_function("([sel, says]) => document.querySelector(sel)?.value === says",
                                  arg=[f'{MAIN} input[aria-label="Currency"]', says], timeout=60_000)
        wait_idle(tab)
        assert price.locator("input").input_value() == column
        assert currency.input_value() == says, column


# ------------------------------------------------------------------------------------------
# 4: the background stability check
# ------------------------------------------------------------------------------------------
def test_the_stability_check_offers_its_k_and_changes_nothing_by_itself(fresh_server, tab, files):
    # Its own server: no check of another test's data queued before this one.
    open_page(tab, f"{fresh_server.url}/data", "Data")
    upload(tab, files["small_shop.csv"])
    tab.locator(SIDEBAR).get_by_text("small_shop.csv").first.wait_for(timeout=300_000)
    nav(tab, "Segments", PAGES[""])
    first_k, first_titles = sidebar_k(tab), card_titles(tab)
    assert first_k == 7 == len(first_titles)
    # The check ends (in a low-priority process) and the app is redrawn: every card gets its badge.
    tab.wait_for_function("""() => {
        const cards = [...document.querySelectorAll('[class*="st-key-card_"]')];
        return cards.length > 0 && cards.every((c) => /stable|doubtful|not to be trusted/.test(c.innerText));
    }""", timeout=600_000)
    wait_idle(tab)
    assert sidebar_k(tab) == 7 and card_titles(tab) == first_titles
    offer = tab.get_by_role("button", name="Stability favours K=3 — use it")
    assert "stay at K = 7 until you switch" in main_text(tab)
    offer.click()
    tab.wait_for_function("() => document.querySelectorAll('[class*=\"st-key-card_\"]').length === 3",
                          timeout=120_000)
    wait_idle(tab)
    assert sidebar_k(tab) == 3 and tab.get_by_role("button", name=re.compile("Stability favours")).count() == 0


# ------------------------------------------------------------------------------------------
# 5: messages; 6: one status after a file that cannot be segmented
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, says, never", [
    ("notes.xlsx", "'notes.xlsx' is not an Excel workbook: it is plain text", "no data rows"),
    ("bomb.xlsx", "times its packed size, more than the 200 times Segmenter accepts", "more than the 2,000 MB"),
    ("no_customer.csv", "box on the Data page", "--map"),
], ids=["text-named-xlsx", "bomb", "no-customer"])
def test_messages_say_what_is_wrong_in_the_app_s_words(quiet_server, tab, files, name, says, never):
    open_page(tab, f"{quiet_server.url}/data", "Data")
    tab.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(files[name]))
    tab.locator(ERRORS).first.wait_for(timeout=120_000)
    wait_idle(tab)
    text = " ".join(" ".join(tab.locator(ERRORS).all_inner_texts()).split())
    assert says in text and never not in text, text


def test_one_status_says_which_file_is_used_after_one_that_cannot_be_segmented(quiet_server, tab, files):
    open_page(tab, f"{quiet_server.url}/data", "Data")
    upload(tab, files["shop.csv"])
    tab.locator(SIDEBAR).get_by_text("shop.csv").first.wait_for(timeout=300_000)
    upload(tab, files["no_valid_dates.csv"])
    tab.locator(ERRORS).first.wait_for(timeout=120_000)
    wait_idle(tab)
    text = main_text(tab)
    assert tab.locator(ERRORS).count() == 1, tab.locator(ERRORS).all_inner_texts()
    assert "Now loaded" not in text
    assert "Loaded no_valid_dates.csv, but it cannot be segmented yet" in text
    assert "The other pages still show shop.csv" in text
    assert "Rows kept" not in text  # no cleaning summary of the other file under this one
    sidebar = tab.locator(SIDEBAR).inner_text()
    assert "no_valid_dates.csv cannot be segmented yet" in sidebar and "shop.csv" in sidebar


# ------------------------------------------------------------------------------------------
# 12 + acceptance 3: nothing requested outside the server; no ScriptRunContext warning
# ------------------------------------------------------------------------------------------
def test_a_full_walk_requests_nothing_outside_the_server(fresh_server, browser_context, files, tmp_path):
    page = browser_context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        open_page(page, fresh_server.url, "Customer segments")
        download(page, r"^Download report", tmp_path)
        download(page, r"^Save this segmentation", tmp_path)
        nav(page, "Data", "Data")
        upload(page, files["shop.csv"])
        page.locator(SIDEBAR).get_by_text("shop.csv").first.wait_for(timeout=300_000)
        for label, path in (("Choose K", "choose-k"), ("Segments", ""), ("Customers", "customers"),
                            ("Changes", "changes")):
            nav(page, label, PAGES[path])
            for tab_name in ("3D R/F/M", "Compared with average", "Snake plot") if label == "Segments" else ():
                page.get_by_role("tab", name=tab_name).click()
                wait_idle(page)
        nav(page, "Segments", PAGES[""])
        download(page, r"^Download report", tmp_path)
        download(page, r"^Save this segmentation", tmp_path)
        time.sleep(2)
    finally:
        page.close()
    server_host = urlsplit(fresh_server.url).netloc
    assert requested and all(urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == server_host
                             for url in requested), sorted({url for url in requested
                                                            if urlsplit(url).netloc != server_host})
    log = fresh_server.log.read_text()
    assert "missing ScriptRunContext" not in log, log[-3000:]

"""Two sessions with different uploads never see each other's data or results.

Once with two AppTest instances in one process (they share every st.cache_* cache, as two
browser sessions on one server do), once with two isolated browser contexts on a real server.
Each file has its own customers and a country only it contains, so any leak shows by name.
"""
from __future__ import annotations

import re

import pytest

from tests.app.app_helpers import CheckedApp, new_app
from tests.hostile.cases import csv_text, good_rows
from ui.sources import DEMO

PAGES = ["views/data.py", "views/choose_k.py", "views/segments.py", "views/customers.py"]


def shop(prefix: str, country: str, n: int = 70) -> bytes:
    return csv_text(good_rows(n, customer=lambda i: f"{prefix}-{i % 7 + (i // 35)}", country=lambda i: country,
                              description=lambda i: f"{country} MUG")).encode()


FILES = {
    "a": ("alpha.csv", shop("ALPHA", "Atlantis")),
    "b": ("beta.csv", shop("BETA", "Lemuria", n=84)),
}


def new_session() -> CheckedApp:
    return new_app()


def upload(at: CheckedApp, name: str, data: bytes) -> None:
    at.switch_page("views/data.py").run()
    at.file_uploader(key="w_upload").set_value((name, data, "text/csv")).run()


def everything_shown(at: CheckedApp) -> str:
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "info", "success", "warning", "title", "subheader", "metric"):
        parts += [str(e.value) for e in getattr(at, kind)]
        parts += [str(e.value) for e in getattr(at.sidebar, kind)]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for chart in at.get("plotly_chart"):
        parts.append(chart.proto.spec)
    return re.sub(r"\\(.)", r"\1", "\n".join(parts))


def assert_sees_only(at: CheckedApp, own: str, other: str) -> None:
    own_prefix, own_country = {"a": ("ALPHA-", "Atlantis"), "b": ("BETA-", "Lemuria")}[own]
    other_prefix, other_country = {"a": ("ALPHA-", "Atlantis"), "b": ("BETA-", "Lemuria")}[other]
    outcome = at.session_state["seg_results"]
    assert outcome.spec.source.name == FILES[own][0]
    ids = set(outcome.prepared.customers["customer_id"])
    assert ids and all(i.startswith(own_prefix) for i in ids), ids
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        shown = everything_shown(at)
        assert other_prefix not in shown and other_country not in shown and FILES[other][0] not in shown, page
    at.switch_page("views/customers.py").run()
    assert set(at.dataframe[0].value["customer_id"]) == ids
    assert own_country in everything_shown(at)


def test_two_apptest_sessions_keep_their_own_uploads_settings_and_k():
    a, b = new_session(), new_session()
    upload(a, *FILES["a"])
    upload(b, *FILES["b"])
    assert_sees_only(a, "a", "b")
    assert_sees_only(b, "b", "a")

    # Settings of one session do not move the other: B switches a rule off and picks another K.
    k_a = a.session_state["seg_results"].k
    b.switch_page("views/choose_k.py").run()
    options = b.session_state["seg_results"].k_values
    new_k = next(k for k in options if k != b.session_state["seg_results"].k)
    b.select_slider(key="w_k_page").set_value(new_k).run()
    assert b.session_state["seg_results"].k == new_k
    a.switch_page("views/segments.py").run()
    assert a.session_state["seg_results"].k == k_a
    assert a.session_state["seg_results"].spec.source.name == "alpha.csv"

    # B goes back to the demo: A still has its own file; A's error does not show in B.
    b.switch_page("views/data.py").run()
    next(button for button in b.button if "demo" in button.label.lower()).click().run()
    assert b.session_state["seg_results"].spec.source == DEMO
    with a.expecting_errors():
        upload(a, "broken.csv", b"")
        assert any("is empty" in str(e.value) for e in a.error)
    b.switch_page("views/data.py").run()  # checked: no error at all in B, so not A's
    with a.expecting_errors():  # A's Data page still shows its refused upload
        assert_sees_only(a, "a", "b")


def test_same_file_in_two_sessions_then_different_filters():
    """Sharing a cached read of the same bytes is fine; one session's filters stay its own."""
    a, b = new_session(), new_session()
    upload(a, *FILES["a"])
    upload(b, *FILES["a"])
    toggle = next(t for t in a.toggle if t.key and t.key.startswith("w_rule_duplicate_"))
    toggle.set_value(False).run()
    assert "duplicate" not in a.session_state["seg_results"].spec.cleaning.rules
    b.switch_page("views/data.py").run()
    assert "duplicate" in b.session_state["seg_results"].spec.cleaning.rules


# ----------------------------------------------------------------------------- two browsers

@pytest.mark.browser
def test_two_browser_contexts_never_see_each_others_upload(tmp_path):
    from tests.browser import conftest as web

    web.require(web.CHROMIUM.exists(), f"{web.CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    sidebar = '[data-testid="stSidebar"]'
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    files = {}
    for key, (name, data) in FILES.items():
        files[key] = tmp_path / name
        files[key].write_bytes(data)

    def wait_idle(tab) -> None:
        tab.wait_for_selector(idle, timeout=300_000)
        tab.wait_for_timeout(300)
        tab.wait_for_selector(idle, timeout=300_000)

    def nav(tab, label: str) -> None:
        tab.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
        tab.wait_for_timeout(300)
        wait_idle(tab)

    def page_text(tab) -> str:
        return tab.locator('[data-testid="stApp"]').inner_text()

    server = web.start_server(tmp_path, background=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(web.CHROMIUM), headless=True,
                                                 args=web.CHROMIUM_ARGS)
            tabs = {}
            for key in ("a", "b"):
                context = browser.new_context(**web.CONTEXT_OPTIONS)
                context.set_default_timeout(120_000)
                tab = context.new_page()
                tab.goto(f"{server.url}/data", wait_until="commit", timeout=180_000)
                tab.get_by_role("heading", name="Data", exact=True).first.wait_for(timeout=300_000)
                wait_idle(tab)
                tabs[key] = tab
            for key in ("a", "b"):  # both upload before either looks
                web.upload(tabs[key], files[key])
                tabs[key].locator(sidebar).get_by_text(files[key].name).first.wait_for(timeout=300_000)
                wait_idle(tabs[key])
            for own, other, country, other_country in (("a", "b", "Atlantis", "Lemuria"),
                                                       ("b", "a", "Lemuria", "Atlantis")):
                tab = tabs[own]
                nav(tab, "Segments")
                text = page_text(tab)
                assert files[own].name in text and country in text
                assert files[other].name not in text and other_country not in text
                assert ("BETA-" if own == "a" else "ALPHA-") not in text
                nav(tab, "Data")
                assert files[other].name not in page_text(tab)
            browser.close()
    finally:
        web.stop_server(server)


def test_same_bytes_under_another_name_never_show_the_first_uploaders_file_name():
    """Notes quote the file name; a session uploading identical bytes must see its own name only."""
    from tests.hostile.cases import good_rows, xlsx_bytes

    workbook = xlsx_bytes(good_rows(70))  # an .xlsx sent as .csv: the note quotes the name
    a, b = new_session(), new_session()
    upload(a, "acme_secret_clients.csv", workbook)
    upload(b, "mine.csv", workbook)
    assert "acme_secret_clients.csv" in everything_shown(a)
    for page in PAGES:
        b.switch_page(page).run()
        assert not b.exception
        assert "acme_secret_clients" not in everything_shown(b), page

"""The hostile files of cases.py uploaded into the dashboard (Streamlit AppTest).

A refused file: st.error with the core's message (Markdown-escaped), no exception, and the
previously loaded data still in use on every page. An accepted messy file: loaded, its notes
shown, every row accounted for. User text with markup shows as text on every page and in the
charts' data.
"""
from __future__ import annotations

import re

import pytest

from segmentation import reading
from tests.app.app_helpers import CheckedApp, new_app, results
from tests.app.app_helpers import texts as screen_text
from tests.hostile.cases import ACCEPTED_CASES, ERROR_CASES, Case, good_csv

PAGES = ["views/data.py", "views/choose_k.py", "views/segments.py", "views/customers.py"]
GOOD_NAME = "shop.csv"


def good_file() -> bytes:
    return good_csv(70)  # 7 customers, 10 lines each


UPLOAD_TYPES = ("csv", "tsv", "txt", "gz", "xlsx", "parquet")  # the uploader's `type` list (views/data.py)


def uploadable(name: str) -> str:
    """The browser only offers files with the uploader's extensions: a .zip or .xls is sent renamed."""
    return name if name.rsplit(".", 1)[-1] in UPLOAD_TYPES else name.rsplit(".", 1)[0] + ".csv"


def upload(at: CheckedApp, name: str, data: bytes) -> CheckedApp:
    name = uploadable(name)
    at.switch_page("views/data.py").run()
    at.file_uploader(key="w_upload").set_value((name, data, "application/octet-stream")).run()
    return at


@pytest.fixture
def app_with_good_file() -> CheckedApp:
    at = new_app()
    upload(at, GOOD_NAME, good_file())
    assert results(at).spec.source.name == GOOD_NAME and not results(at).stale
    return at


APP_ERROR_CASES = [c for c in ERROR_CASES if not c.args]  # flag cases are app widgets, tested in tests/app


@pytest.mark.parametrize("case", APP_ERROR_CASES, ids=[c.id for c in APP_ERROR_CASES])
def test_refused_upload_shows_the_error_and_keeps_the_previous_data(case: Case, app_with_good_file, monkeypatch):
    at = app_with_good_file
    for name, value in case.limits.items():
        monkeypatch.setattr(reading, name, value)
    with at.expecting_errors():
        upload(at, case.filename, case.build())
        errors = [re.sub(r"\\(.)", r"\1", str(e.value)) for e in at.error]
        assert any(re.search(case.message, text) for text in errors), errors
        assert all("Traceback" not in text for text in errors)
        shown = results(at)
        assert not isinstance(shown, Exception)
        assert shown.prepared.audit.rows_in == 70  # the good file's rows are what every page shows
        for page in PAGES:
            at.switch_page(page).run()
            shown = results(at)
            assert not isinstance(shown, Exception) and shown.prepared.audit.rows_in == 70
            # Only the refusal itself (on Data: the file that cannot be segmented, with its reason) or
            # "the previous results stay" (a file read but not usable).
            texts = [re.sub(r"\\(.)", r"\1", str(e.value)) for e in at.error]
            assert all(re.search("previous (data|results)", text)
                       or (page.endswith("data.py") and "cannot be segmented" in text and re.search(case.message, text))
                       for text in texts), (page, texts)


APP_ACCEPTED = [c for c in ACCEPTED_CASES if not c.args and c.where == "notes"]


@pytest.mark.parametrize("case", APP_ACCEPTED, ids=[c.id for c in APP_ACCEPTED])
def test_messy_upload_is_loaded_with_its_notes_and_every_row_counted(case: Case, app_with_good_file):
    at = upload(app_with_good_file, case.filename, case.build())
    assert not at.exception, at.exception
    outcome = results(at)
    assert outcome.spec.source.name == uploadable(case.filename) and not outcome.stale, getattr(outcome, "error", None)
    audit = outcome.prepared.audit
    assert audit.rows_in == audit.rows_kept + audit.rows_dropped
    if case.rows_in is not None:
        assert audit.rows_in == case.rows_in
    for rule, rows in case.dropped.items():
        assert audit.dropped[rule] == rows
    assert re.search(case.message, screen_text(at)), "the note is shown on the Data page"


DEGENERATE = [c for c in ACCEPTED_CASES if c.where == "warnings" and not c.args]


@pytest.mark.parametrize("case", DEGENERATE, ids=[c.id for c in DEGENERATE])
def test_degenerate_upload_never_crashes_the_app(case: Case, app_with_good_file):
    """One customer, or all alike: no exception; segments with a warning (not an error), the app usable."""
    at = upload(app_with_good_file, case.filename, case.build())
    assert not at.exception, at.exception
    assert at.warning and not at.error, (at.error, at.warning)
    assert not results(at).stale and results(at).degenerate
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


def test_markup_in_ids_countries_and_descriptions_shows_as_text_everywhere(app_with_good_file):
    from tests.hostile.test_injection import evil_file

    at = upload(app_with_good_file, "evil.csv", evil_file())
    assert results(at).spec.source.name == "evil.csv" and not results(at).stale
    raw_markup = re.compile(r"(?<!\\)<(script|img|b>)|(?<!\\)\]\(javascript")
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        for element in [*at.markdown, *at.caption, *at.sidebar.markdown, *at.error, *at.info, *at.warning]:
            assert not raw_markup.search(str(element.value)), (page, element.value)
        for chart in at.get("plotly_chart"):
            spec = chart.proto.spec
            assert "<script" not in spec and "<img" not in spec and "<b>x</b>" not in spec, page
    at.switch_page("views/customers.py").run()
    table = at.dataframe[0].value
    assert "<b>x</b>&amp;" in set(table["customer_id"])  # the data itself is shown unchanged, as text


def test_over_the_upload_limit_is_refused_before_reading(app_with_good_file):
    from segmentation.settings import MAX_UPLOAD_MB

    at = app_with_good_file
    with at.expecting_errors():
        upload(at, "huge.csv", b"a,b\n" + b"1,2\n" * (MAX_UPLOAD_MB * 250_000 + 1))
    assert any(f"the upload limit is {MAX_UPLOAD_MB} MB" in str(e.value) for e in at.error)
    assert results(at).spec.source.name == GOOD_NAME

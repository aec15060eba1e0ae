"""Stability in the app: checked in the background after the first segments, then the fifth Choose K
panel, the badges on the segment cards, the borderline filter and the no-stable warning."""
from __future__ import annotations

import json
from collections import OrderedDict

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.app_helpers import REPO, TIMEOUT, results, texts, to_csv, upload
from tests.test_cli_stability import blob_transactions, planted_transactions
from ui import stability

# Its module-scoped fixtures (the planted file's session and its check) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = pytest.mark.xdist_group("app_stability")


def checked(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def run_with_stability(monkeypatch, name: str, data: bytes, *, jobs: OrderedDict | None = None) -> AppTest:
    """The app with `data` uploaded: first run without stability, then after the check is done
    (`jobs`: the checks known, by default none: this one computes)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    checked(at.run())  # the demo data: its check stays off, so the upload's check is not queued behind it
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict() if jobs is None else jobs)
    checked(upload(at, name, data))
    first = results(at)
    assert first.stability is None  # the first segments are shown before any stability exists
    assert "Checking how stable the segments are" in " ".join(p.proto.text for p in at.sidebar.get("progress"))
    assert stability.wait(first.stability_key) is not None
    checked(at.run())
    assert results(at).stability is not None
    return at


@pytest.fixture(scope="module")
def planted_csv() -> bytes:
    return to_csv(planted_transactions())


@pytest.fixture(scope="module")
def planted_checks() -> OrderedDict:
    """The checks of the planted data's tests: computed by the first of them, reused by the others
    (a check of the same data, seed and K is the same; each took ~40 s of CI)."""
    return OrderedDict()


@pytest.fixture(scope="module")
def planted_session(planted_csv, planted_checks) -> AppTest:
    """One session: the planted file uploaded, its check done (the tests look at different pages)."""
    with pytest.MonkeyPatch.context() as patch:
        return run_with_stability(patch, "planted.csv", planted_csv, jobs=planted_checks)


@pytest.fixture
def planted_app(planted_session, planted_checks, monkeypatch) -> AppTest:
    """`planted_session`, its finished check in view of the app's next runs."""
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", planted_checks)
    return planted_session


def test_planted_groups_fifth_panel_badges_and_k4(planted_app):
    at = planted_app
    outcome = results(at)
    assert outcome.suggestion.k == outcome.k == 4
    assert outcome.suggestion.reason.startswith("K=4: the most stable of the well-separated choices")

    checked(at.switch_page("views/choose_k.py").run())
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [trace.get("name") for trace in figure["data"]]
    assert "Comes back on resamples (stability)" in names
    stability_trace = figure["data"][names.index("Comes back on resamples (stability)")]
    assert stability_trace["x"] == list(range(2, 11)) and stability_trace["y"][2] >= 0.9  # K=4
    assert names.count("Suggested (K=4)") == 5  # the star in all five panels
    assert "K=4: the most stable" in texts(at)

    checked(at.switch_page("views/segments.py").run())
    badges = [m for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == 4
    assert all(":green-badge[" in b.value and "highly stable" in b.value for b in badges)
    assert all(b.proto.help.startswith("Stability 0.9") or b.proto.help.startswith("Stability 1.00")
               for b in badges), [b.proto.help for b in badges]
    assert not any("as a whole is not stable" in b.proto.help for b in badges)
    assert not at.warning  # stable, and the seed does not matter


def test_borderline_filter_shows_the_lowest_tenth(planted_app):
    at = planted_app
    checked(at.switch_page("views/customers.py").run())
    customers = results(at).segmentation().customers
    assert f"{len(customers):,} of {len(customers):,} customers" in texts(at)
    checked(at.toggle(key="w_customer_borderline").set_value(True).run())
    shown = at.dataframe[0].value
    assert len(shown) == round(0.1 * len(customers)) == customers["borderline"].sum()
    assert shown["borderline"].all()
    assert set(shown["customer_id"]) == set(customers.loc[customers["borderline"], "customer_id"])


def test_blob_says_no_stable_segmentation(monkeypatch):
    # 1,500 customers (~48,000 lines) are as structureless as 5,000 and a third of the upload (CI time)
    at = run_with_stability(monkeypatch, "blob.csv", to_csv(blob_transactions(n_customers=1500)))
    outcome = results(at)
    assert outcome.suggestion.stable is False
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("No stable segmentation was found") and "named RFM segments" in w for w in warnings)
    checked(at.switch_page("views/segments.py").run())
    # A segment of a blob can still come back fairly often (mean Jaccard is kinder than the K's ARI):
    # its badge then says that the segmentation as a whole is not stable.
    badges = [m for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == outcome.k
    assert all("The segmentation as a whole is not stable" in b.proto.help for b in badges)


def _finished_check_in_the_sidebar(redraw: bool) -> None:
    """A page whose results were computed just before the background check finished: the progress
    fragment finds the check done (drawn twice at most, so a rerun loop cannot hang the test)."""
    from concurrent.futures import Future

    import streamlit as st

    from ui import stability as check
    from ui.render import stability_progress

    done: Future = Future()
    done.set_result(object())
    check.checks().jobs[("finished",)] = check.Job(future=done)
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    if st.session_state["runs"] <= 2:
        with st.sidebar:
            stability_progress(("finished",), redraw_when_done=redraw)


@pytest.mark.parametrize(("redraw", "runs", "caption"), [
    (True, 3, False),  # Choose K, Segments, Customers: the page is drawn again with the result
    (False, 1, True),  # Data (the uploader) and Changes: left alone, the sidebar says where to look
], ids=["stability-pages-rerun", "data-page-left-alone"])
def test_a_finished_check_reruns_only_the_pages_that_show_it(monkeypatch, redraw, runs, caption):
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict())
    at = AppTest.from_function(_finished_check_in_the_sidebar, args=(redraw,), default_timeout=TIMEOUT)
    checked(at.run())
    assert at.session_state["runs"] == runs
    shown = " ".join(c.value for c in at.sidebar.caption)
    assert ("Stability checked: see the Choose K page" in shown) == caption


@pytest.mark.parametrize("page", ["views/data.py", "views/changes.py"])
def test_the_data_and_changes_pages_are_not_redrawn_when_the_check_finishes(monkeypatch, page, planted_csv,
                                                                            planted_checks):
    """The real app on a page without stability: a check that finishes after the page's results
    were computed leaves the page (and the uploader's file in flight) alone and says where to look.
    (The planted data's check, done by an earlier test or started here; the next run is made
    not to see it, as when it ends between the results and the sidebar.)"""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    checked(at.run())
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", planted_checks)
    checked(upload(at, "planted.csv", planted_csv))  # the marketer's own data: checked on the Data page too
    checked(at.switch_page(page).run())
    assert stability.wait(results(at).stability_key) is not None
    # The results of the next run do not see the finished check (as when it ends between the
    # results and the sidebar); on a page with stability this would rerun the app.
    monkeypatch.setattr(stability.Job, "result", lambda self: None)
    checked(at.run())
    assert results(at).stability is None
    assert any("Stability checked: see the Choose K page" in c.value for c in at.sidebar.caption)


def _endless(customers, *, k_values, seed, progress, on_start):
    """A check that only stops when cancelled (its progress callback raises)."""
    import time

    while True:
        time.sleep(0.01)
        progress("fitting", 0.5)


def test_the_demo_data_is_not_checked_on_the_data_page_where_the_marketer_loads_their_own(monkeypatch, planted_csv):
    """Opened on Segments, the demo's check starts; on the Data page (the uploader) it is stopped,
    so it cannot compete with the marketer's upload, and it does not start again there. Their own
    file's check does start on the Data page."""
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict())
    monkeypatch.setattr(stability, "run_check", _endless)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    checked(at.run())
    demo_key = results(at).stability_key
    demo_check = stability.find(demo_key)
    assert demo_check is not None and not demo_check.cancelled
    checked(at.switch_page("views/data.py").run())
    assert demo_check.cancelled and stability.find(demo_key) is None
    assert isinstance(demo_check.future.exception(timeout=30), stability.CheckCancelled)
    checked(at.run())
    assert stability.find(demo_key) is None and not at.sidebar.get("progress")
    checked(upload(at, "planted.csv", planted_csv))
    own = stability.find(results(at).stability_key)
    assert own is not None and not own.cancelled
    assert "Checking how stable the segments are" in " ".join(p.proto.text for p in at.sidebar.get("progress"))
    own.cancelled = True  # stop the endless fake
    own.future.exception(timeout=30)


def test_a_check_nobody_wants_any_more_is_cancelled_and_forgotten(monkeypatch):
    """Two sessions on the demo data, one check; the first moves to its own file (the check goes on
    for the other), then the second does: the check stops and is forgotten. A
    check started outside a session (None) is never cancelled."""
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict())
    monkeypatch.setattr(stability, "run_check", _endless)
    demo, own = ("demo-data",), ("own-file",)
    key = stability.job_key(demo, 42, (2, 3))
    job = stability.start(key, None, session="A")
    assert stability.start(key, None, session="B") is job and job.wanted_by == {"A", "B"}
    unowned = stability.start(stability.job_key(("script",), 42, (2, 3)), None)

    stability.keep_only("A", own)
    assert stability.find(key) is job and not job.cancelled  # B still looks at the demo
    stability.keep_only("B", demo)
    assert stability.find(key) is job  # B's own data: kept
    stability.keep_only("B", own)
    assert stability.find(key) is None and job.cancelled
    # Not started yet (the one worker was busy): dropped; running: stopped at its next progress line.
    assert job.future.cancelled() or isinstance(job.future.exception(timeout=30), stability.CheckCancelled)
    assert stability.find(stability.job_key(("script",), 42, (2, 3))) is unowned and not unowned.cancelled
    unowned.cancelled = True  # stop the endless fake
    unowned.future.exception(timeout=30)


def test_a_cancelled_check_s_process_is_terminated_at_once_not_left_to_finish(monkeypatch):
    """The real check in its own process, cancelled before it reported anything (its process still
    importing its libraries, as when the marketer leaves the demo data within seconds): the process
    is terminated, the check ends as cancelled, not as a failure."""
    import signal
    import time

    from tests.test_stability import planted_customers

    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict())
    key = stability.job_key(("demo-data",), 42, tuple(range(2, 11)))
    job = stability.start(key, planted_customers(), session="A")
    deadline = time.monotonic() + 30
    while job.process is None and time.monotonic() < deadline:  # the worker thread starts it
        time.sleep(0.01)
    assert job.process is not None and job.fraction == 0.0  # started, nothing reported yet
    stability.keep_only("A", ("own-file",))
    assert isinstance(job.future.exception(timeout=30), stability.CheckCancelled)
    assert job.process.wait(timeout=10) == -signal.SIGTERM  # terminated by the cancel, not finished


@pytest.mark.parametrize(("value", "on"), [
    (None, True), ("on", True), ("1", True), ("yes", True),
    ("off", False), ("OFF", False), (" off ", False), ("0", False), ("false", False), ("no", False),
])
def test_the_server_s_background_check_can_be_switched_off_by_its_environment(value, on):
    environ = {} if value is None else {"SEGMENTER_STABILITY_CHECK": value}
    assert stability.enabled(environ) is on


def test_a_finished_check_offers_its_k_and_changes_nothing_by_itself(monkeypatch):
    """The first suggestion (K=7) stays on screen when stability favours K=3; the button switches."""
    from segmentation.demo import demo_transactions

    data = demo_transactions(5_000, seed=2).to_pandas().to_csv(index=False).encode()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    checked(at.run())
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "on")
    monkeypatch.setattr(stability.checks(), "jobs", OrderedDict())
    checked(upload(at, "small_shop.csv", data))
    first = results(at)
    assert first.stability is None and first.k == first.suggestion.k == 7 and first.favoured_k is None
    assert stability.wait(first.stability_key) is not None
    checked(at.run())
    after = results(at)
    assert after.stability is not None and after.suggestion.k == 3
    assert after.k == 7 and after.favoured_k == 3  # what is on screen (and downloaded) did not change
    assert "stay at K = 7 until you switch" in texts(at)
    checked(at.button(key="use_favoured_k").click().run())
    assert results(at).k == 3 and results(at).favoured_k is None
    assert not [b for b in at.button if b.key == "use_favoured_k"]
    # "Use the suggested K" on Choose K is an action too: it takes the stability-aware suggestion.
    checked(at.switch_page("views/choose_k.py").run())
    assert at.select_slider(key="w_k_page").value == 3

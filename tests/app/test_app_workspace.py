"""The workspace in the app (AppTest): the local user's files, runs, saved segmentations and last
settings are kept; a new session reopens them; sign-in gates the app; a store that cannot be
written is one clear warning and the app goes on segmenting."""
from __future__ import annotations

import subprocess

import pytest

from tests.app.app_helpers import CheckedApp, new_app, results, texts, to_csv, transactions, upload
from tests.disks import small_disk  # noqa: F401 - a fixture
from tests.installs import without_team_packages  # noqa: F401 - a fixture
from ui import saved as saved_ui
from workspace import INSTALL, LOCAL_USER, open_store, store_url


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A workspace of its own for this test (the suite runs with the store off: tests/conftest.py)."""
    monkeypatch.delenv("SEGMENTER_STORE", raising=False)
    monkeypatch.setenv("SEGMENTER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def kept(home):
    return open_store(f"sqlite:///{home / 'workspace.sqlite3'}")


def save_run(at: CheckedApp) -> CheckedApp:
    at.sidebar.button(key="save_run").click().run()
    return at


def test_a_new_session_reopens_the_last_file_and_settings_not_the_demo(home):
    first = new_app()
    upload(first, "march.csv", to_csv(transactions(seed=3)))
    first.sidebar.select_slider(key="w_k_sidebar").set_value(3).run()
    rule = next(t for t in first.toggle if t.key.startswith("w_rule_duplicate"))
    rule.set_value(False).run()
    again = new_app()  # a reload (F5) or a new tab: a new session of the same user
    shown = results(again)
    assert shown.spec.source.name == "march.csv" and shown.k == 3
    assert "duplicate" not in shown.spec.cleaning.rules
    assert shown.prepared.customers.equals(results(first).prepared.customers)


def test_save_this_run_is_kept_and_shown_on_the_history_page(home):
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    at.switch_page("views/segments.py").run()
    save_run(at)
    assert "Run recorded: shop.csv" in texts(at)
    shown = results(at)
    [run] = kept(home).runs_of(LOCAL_USER)
    counts = shown.segmentation().customers.groupby("segment").size()
    assert {s.segment: s.customers for s in run.segments} == counts.to_dict()
    assert run.customers == len(shown.segmentation().customers) and run.k == shown.k
    assert run.revenue == pytest.approx(shown.segmentation().customers["monetary"].sum())
    at.switch_page("views/history.py").run()
    assert f"(run #{run.id}) — shop.csv — fitted, K = {run.k} — {run.customers:,} customers" in texts(at)
    assert "One run so far" in texts(at)


def test_the_history_compares_runs_of_the_same_segments_with_the_change(home):
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    at.sidebar.select_slider(key="w_k_sidebar").set_value(3).run()
    save_run(at)
    first = results(at).segmentation().customers.groupby("segment").size()
    upload(at, "april.csv", to_csv(transactions(n_customers=55, seed=8)))
    at.sidebar.select_slider(key="w_k_sidebar").set_value(3).run()
    save_run(at)
    second = results(at).segmentation().customers.groupby("segment").size()
    at.switch_page("views/history.py").run()
    figure = at.get("plotly_chart")[0].proto.spec
    assert '"stackgroup":"segments"' in figure.replace(" ", "")
    changes = at.dataframe[0].value  # the latest run and the change since the previous one
    for name, now in second.items():
        row = changes[changes["segment"] == name].iloc[0]
        assert row["customers"] == now
        assert row["customers_change"] == (f"{now - first[name]:+,}" if name in first else "")


def test_files_are_listed_reopened_without_uploading_and_really_deleted(home):
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    at.switch_page("views/data.py").run()
    at.button(key=next(b.key for b in at.button if b.label == "Back to the demo data")).click().run()
    assert results(at).spec.source.builtin
    at.switch_page("views/workspace.py").run()
    assert "- **shop.csv** — 0.03 MB, kept since" in texts(at)  # the files
    at.button(key="workspace_open").click().run()
    assert results(at).spec.source.name == "shop.csv"
    at.switch_page("views/workspace.py").run()
    at.button(key="workspace_delete").click().run()
    assert kept(home).files_of(LOCAL_USER) == []
    with kept(home).engine.connect() as con:
        assert con.exec_driver_sql("SELECT count(*) FROM blobs").scalar() == 0
    assert results(new_app()).spec.source.builtin  # a deleted file is not reopened, nor kept again
    assert kept(home).files_of(LOCAL_USER) == []


def test_a_saved_segmentation_is_kept_shared_and_applied(home):
    at = new_app()
    at.switch_page("views/workspace.py").run()
    at.text_input(key="w_workspace_seg_name").set_value("Agreed <b>2026</b>")
    at.checkbox(key="w_workspace_seg_shared").check()
    at.button[[b.label for b in at.button].index("Save segmentation")].click().run()
    [segmentation] = kept(home).segmentations_of(LOCAL_USER)
    assert (segmentation.name, segmentation.shared, segmentation.k) == ("Agreed <b>2026</b>", True, results(at).k)
    at.button(key="workspace_apply_mine").click().run()
    assert saved_ui.SAVED in at.session_state and at.session_state[saved_ui.SAVED]["name"] == "Agreed <b>2026</b>"
    save_run(at)
    [run] = kept(home).runs_of(LOCAL_USER)
    assert (run.segmentation_id, run.segmentation_name) == (segmentation.id, "Agreed <b>2026</b>")
    again = new_app()  # the saved segmentation in use is reopened too
    assert again.session_state[saved_ui.SAVED]["name"] == "Agreed <b>2026</b>"


def test_a_recorded_run_is_reopened_from_the_history(home):
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    at.sidebar.select_slider(key="w_k_sidebar").set_value(3).run()
    save_run(at)
    at.sidebar.select_slider(key="w_k_sidebar").set_value(5).run()
    at.switch_page("views/history.py").run()
    at.button(key="history_reopen").click().run()
    assert results(at).k == 3 and results(at).spec.source.name == "shop.csv"


def test_sign_in_is_asked_when_auth_is_configured_and_the_allow_list_refuses_others(home):
    at = CheckedApp("app.py", default_timeout=180)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "segmenter", "client_secret": "s",
                          "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}
    at.secrets["segmenter"] = {"allowed": ["example.com"]}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and "seg_results" not in at.session_state
    at.user = {"is_logged_in": True, "email": "Mallory@Elsewhere.org"}
    at.run()
    assert "mallory@elsewhere.org** is not on this Segmenter's list" in texts(at).replace("\\", "")
    assert "seg_results" not in at.session_state
    at.user = {"is_logged_in": True, "email": "Alice@Example.com"}
    at.run()
    assert "Signed in as **alice@example.com**" in texts(at) and results(at).spec.source.builtin
    assert [b.label for b in at.sidebar.button if b.key == "sign_out"] == ["Sign out"]


@pytest.mark.parametrize("trouble, words", [
    ("read_only", "it cannot be written"),
    ("quota", "over your quota"),
    ("unreachable", "it cannot be reached"),
], ids=["read-only folder", "quota", "unreachable postgresql"])
def test_a_store_that_cannot_save_is_one_warning_and_the_app_still_segments(trouble, words, request, monkeypatch,
                                                                           tmp_path):
    monkeypatch.delenv("SEGMENTER_STORE", raising=False)
    if trouble == "read_only":
        disk = request.getfixturevalue("small_disk")
        monkeypatch.setenv("SEGMENTER_HOME", str(disk / "home"))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        request.addfinalizer(lambda: subprocess.run(["mount", "-o", "remount,rw", str(disk)]))
    elif trouble == "quota":
        monkeypatch.setenv("SEGMENTER_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("SEGMENTER_QUOTA_MB", "0.001")
    else:
        monkeypatch.setenv("SEGMENTER_STORE", "postgresql://keeper:Sup3rSecret@127.0.0.1:9/workspace")
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    assert results(at).spec.source.name == "shop.csv" and len(results(at).segmentation().customers) > 0
    warned = [w.value for w in at.sidebar.warning if "Not saved" in w.value]
    assert len(warned) == 1 and words in warned[0] and "Sup3rSecret" not in warned[0], warned
    assert store_url() != "off"


@pytest.mark.usefixtures("without_team_packages")
def test_an_install_without_the_team_packages_segments_keeps_nothing_and_says_what_to_install(home):
    """`pip install '.[app]'` alone: no SQLAlchemy or Alembic; the store is simply off, one sidebar note."""
    at = new_app()
    upload(at, "shop.csv", to_csv(transactions()))
    assert results(at).spec.source.name == "shop.csv" and len(results(at).segmentation().customers) > 0
    notes = [c.value for c in at.sidebar.caption if "Nothing is kept between visits" in c.value]
    assert notes == ["Nothing is kept between visits: keeping your files and runs needs SQLAlchemy and Alembic, "
                     f"not installed here (`{INSTALL}`)."]
    assert not at.sidebar.warning and "save_run" not in [b.key for b in at.sidebar.button]
    at.switch_page("views/history.py").run()
    assert "Nothing is kept on this server (see the sidebar)" in texts(at) and notes[0] in texts(at)
    assert not home.exists()  # no store was created


@pytest.mark.parametrize("page", ["views/history.py", "views/workspace.py"])
def test_a_server_set_to_keep_nothing_says_so_instead_of_pointing_at_an_empty_sidebar(page, monkeypatch):
    """SEGMENTER_STORE=off: no sidebar note (nothing is wrong), so the pages say why they are empty."""
    monkeypatch.setenv("SEGMENTER_STORE", "off")
    at = new_app()
    at.switch_page(page).run()
    assert not at.exception and not at.error
    shown = " ".join(i.value for i in at.info)
    assert "This server is set up to keep nothing between visits" in shown and "see the sidebar" not in shown
    assert not [c.value for c in at.sidebar.caption if "Nothing is kept" in c.value]

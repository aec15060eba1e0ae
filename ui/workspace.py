"""The signed-in user's workspace in the app: who the user is, the store, and what is kept of a session.

Without ``[auth]`` in ``.streamlit/secrets.toml`` the app has one local user; with it, the user is
the e-mail of Streamlit's verified identity (``st.user``), never anything the browser sends
otherwise. The store (:mod:`workspace`) is opened once per server (``SEGMENTER_STORE`` or SQLite
in ``SEGMENTER_HOME``); when it cannot be opened or written, the problem is kept for the sidebar
and the app goes on segmenting without saving. A session's first run reopens the user's last file
and settings (:func:`restore`); every run keeps a newly loaded file and remembers the settings
(:func:`after_run`). Nothing here draws.
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from datetime import date

import streamlit as st

from segmentation import saved
from workspace import (
    INSTALL,
    LOCAL_USER,
    OFF,
    NotFound,
    RunRecord,
    Store,
    StoredFile,
    StoredSegmentation,
    StoreError,
    missing_packages,
    open_store,
    store_url,
)
from workspace import history as run_history
from workspace.access import is_allowed

from . import saved as saved_ui
from . import session, sources

__all__ = ["signin_required", "allow_list", "email", "user", "allowed", "store", "not_installed", "why_nothing_is_kept",
           "problem", "notice", "restore", "keep_file", "after_run", "record", "files", "open_file", "delete_file",
           "segmentations", "save_segmentation", "share", "delete_segmentation", "apply_segmentation", "runs",
           "reopen_run", "delete_run"]

PROBLEM = "seg_ws_problem"  # the last StoreError of this session: shown in the sidebar
FAILED_AT = "seg_ws_failed_at"  # when this session last failed to open the store (monotonic seconds)
RETRY_SECONDS = 30  # an unreachable server is tried again after this, not on every call of a run
NOTICE = "seg_ws_notice"  # what the last workspace action did (shown once by the page)
RESTORED = "seg_ws_restored"  # the session's first run has reopened the last state
KEPT = "seg_ws_kept"  # file digest -> the id of that file in the user's workspace
REMEMBERED = "seg_ws_remembered"  # the last state written for the next visit
SEGMENTATION_ID = "seg_ws_segmentation_id"  # store id of the saved segmentation in use (None: an upload)


# ------------------------------------------------------------------------------------------------ identity
def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml (Streamlit's StreamlitSecretNotFoundError): no sign-in
        return {}


def signin_required() -> bool:
    """Sign-in is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section."""
    return bool(_secrets().get("auth"))


def allow_list() -> list[str]:
    """``[segmenter] allowed = ["example.com", "carol@partner.org"]`` in secrets.toml; empty: everyone."""
    return [str(entry) for entry in _secrets().get("segmenter", {}).get("allowed", [])]


def email() -> str | None:
    """The verified e-mail (or subject) of the signed-in user; None when nobody is signed in."""
    if not st.user.get("is_logged_in"):
        return None
    found = st.user.get("email") or st.user.get("sub")
    return str(found).strip().lower() if found else None


def user() -> str | None:
    """The workspace's user id: the local user without sign-in, else the signed-in e-mail (or None)."""
    return email() if signin_required() else LOCAL_USER


def allowed() -> bool:
    return is_allowed(email(), allow_list())


# ------------------------------------------------------------------------------------------------ store
@st.cache_resource(show_spinner=False)
def _open(url_digest: str, _url: str) -> Store:
    """One store per server and URL; keyed on the URL's SHA-256 (a PostgreSQL URL holds a password,
    which must never be in a cache key), the URL itself not hashed (the leading underscore)."""
    return open_store(_url)  # a failure is not cached: the next run tries again


def store() -> Store | None:
    """The server's store, or None when it is switched off, not installed (:func:`not_installed`) or
    cannot be opened (see :func:`problem`)."""
    url = store_url()
    if url == OFF or missing_packages():
        return None
    failed_at = st.session_state.get(FAILED_AT)
    if failed_at is not None and time.monotonic() - failed_at < RETRY_SECONDS:
        return None
    try:
        opened = _open(hashlib.sha256(url.encode()).hexdigest(), url)
    except StoreError as error:
        st.session_state[PROBLEM] = error
        st.session_state[FAILED_AT] = time.monotonic()
        return None
    st.session_state[FAILED_AT] = None
    return opened


def not_installed() -> str | None:
    """What to install to keep work between visits, when the app was installed without the workspace's
    packages (``.[app]`` without ``team``); None when they are there or the store is switched off."""
    if store_url() == OFF or not (missing := missing_packages()):
        return None
    return (f"Nothing is kept between visits: keeping your files and runs needs {' and '.join(missing)}, "
            f"not installed here (`{INSTALL}`).")


def why_nothing_is_kept() -> str:
    """Why the History and Workspace pages have nothing to show: this server is set up to keep
    nothing (``off``: the sidebar says nothing of it), or the sidebar names what is missing or wrong."""
    if store_url() == OFF:
        return "This server is set up to keep nothing between visits"
    return "Nothing is kept on this server (see the sidebar)"


def problem() -> StoreError | None:
    return st.session_state.get(PROBLEM)


def notice() -> str | None:
    """What the last action did ("Run recorded.") — returned once."""
    return st.session_state.pop(NOTICE, None)


def _attempt(action, done: str | None = None):
    """Run ``action(store, user)``; a StoreError is kept for the sidebar and None returned."""
    opened, who = store(), user()
    if opened is None or who is None:
        return None
    try:
        result = action(opened, who)
    except StoreError as error:
        st.session_state[PROBLEM] = error
        return None
    if done:  # an action of the user's worked: the last problem is over (what runs by itself leaves it)
        st.session_state[PROBLEM] = None
        st.session_state[NOTICE] = done
    return result


# ------------------------------------------------------------------------------------------------ session state
def _settings(spec: session.Spec, *, k: int | None, seed: int) -> dict:
    return run_history.settings_of(overrides=dict(spec.overrides), cleaning=spec.cleaning, snapshot=spec.snapshot,
                                   seed=seed, k=k, currency=session.currency_choice(), sheet=spec.source.sheet)


def _apply_settings(settings: dict) -> None:
    for role, column in (settings.get("overrides") or {}).items():
        session.set_override(role, column)
    session.set_cleaning(run_history.cleaning_of(settings.get("cleaning")))
    session.set_snapshot(date.fromisoformat(settings["snapshot"]) if settings.get("snapshot") else None)
    session.set_seed(int(settings.get("seed", session.seed())))
    session.set_k(settings.get("k"))
    if "currency" in settings:
        session.set_currency(settings["currency"])


def _use_file(opened: Store, who: str, file_id: int, sheet: str | None = None) -> None:
    kept = opened.file(who, file_id)
    data = opened.file_bytes(who, file_id)
    session.set_source(sources.FileSource(kept.name, session.digest_of(data), sheet, data))
    st.session_state.setdefault(KEPT, {})[kept.digest] = kept.id


def _use_segmentation(opened: Store, who: str, segmentation_id: int | None) -> None:
    if segmentation_id is None:
        saved_ui.stop_using()
        st.session_state[SEGMENTATION_ID] = None
        return
    named = {s.id: s.name for s in opened.segmentations_of(who)}
    saved_ui.use_text(named.get(segmentation_id, "saved segmentation"), opened.segmentation_text(who, segmentation_id))
    st.session_state[SEGMENTATION_ID] = segmentation_id


def restore() -> None:
    """On a session's first run: reopen the user's last file and settings (not the demo)."""
    if st.session_state.get(RESTORED):
        return
    st.session_state[RESTORED] = True

    def reopen(opened: Store, who: str) -> None:
        state = opened.last_state(who)
        if not state:
            return
        st.session_state[REMEMBERED] = state
        with contextlib.suppress(NotFound):  # deleted since: the demo, and the segments fitted
            if state.get("file_id") is not None:
                _use_file(opened, who, state["file_id"], (state.get("settings") or {}).get("sheet"))
                _apply_settings(state.get("settings") or {})
            if state.get("segmentation_id") is not None:
                _use_segmentation(opened, who, state["segmentation_id"])

    _attempt(reopen)


def _state() -> dict:
    src = session.source()
    file_id = st.session_state.get(KEPT, {}).get(src.digest) if src.data is not None else None
    in_use = st.session_state.get(SEGMENTATION_ID) if saved_ui.in_use() is not None else None
    return {"file_id": file_id, "segmentation_id": in_use,
            "settings": _settings(session.current_spec(), k=session.k(), seed=session.seed())}


def keep_file() -> None:
    """Keep a newly loaded file in the workspace (once per content and session), before the sidebar
    is drawn, so that a file that cannot be kept is said in the same run."""
    src = session.source()
    if src.data is not None and src.digest not in st.session_state.get(KEPT, {}):
        kept = _attempt(lambda opened, who: opened.add_file(who, src.name, src.data))
        st.session_state.setdefault(KEPT, {})[src.digest] = kept.id if kept else None


def after_run() -> None:
    """Remember the session's choices for the next visit (when they changed)."""
    if store() is None or user() is None:
        return
    keep_file()
    state = _state()
    if state != st.session_state.get(REMEMBERED) and _attempt(lambda opened, who: opened.remember(who, state) or True):
        st.session_state[REMEMBERED] = state


# ------------------------------------------------------------------------------------------------ actions
def record(outcome) -> None:
    """"Save this run": the file, settings, K or the saved segmentation, and each segment's numbers."""
    segmented = outcome.segmentation()
    prediction = outcome.prediction()
    per_segment = outcome.segment_outlook(prediction, prediction.horizon_days) if prediction is not None else None
    rows = run_history.segment_rows(segmented.customers, per_segment)
    spec = outcome.spec
    in_use = saved_ui.in_use() is not None
    predicted = [row.predicted_revenue for row in rows]
    run = RunRecord(
        source_name=spec.source.name, settings=_settings(spec, k=outcome.k, seed=outcome.seed), k=outcome.k,
        customers=sum(row.customers for row in rows), revenue=sum(row.revenue for row in rows), segments=rows,
        file_id=st.session_state.get(KEPT, {}).get(spec.source.digest) if spec.source.data is not None else None,
        segmentation_id=st.session_state.get(SEGMENTATION_ID) if in_use else None,
        segmentation_name=saved_ui.name() if in_use else None,
        predicted_revenue=sum(predicted) if predicted and None not in predicted else None,
        currency=outcome.currency(), snapshot=outcome.prepared.snapshot.isoformat(),
    )
    _attempt(lambda opened, who: opened.record_run(who, run),
             f"Run recorded: {spec.source.name}, K = {outcome.k}, {run.customers:,} customers.")


def files() -> list[StoredFile]:
    return _attempt(lambda opened, who: opened.files_of(who)) or []


def open_file(file_id: int) -> None:
    _attempt(lambda opened, who: _use_file(opened, who, file_id), "File reopened.")


def delete_file(file_id: int) -> None:
    """Delete a kept file for good (the session goes on with its data until another is loaded)."""
    def delete(opened: Store, who: str) -> None:
        opened.delete_file(who, file_id)
        kept = st.session_state.setdefault(KEPT, {})
        for digest in [digest for digest, kept_id in kept.items() if kept_id == file_id]:
            kept[digest] = None  # not kept again in this session: it was deleted on purpose

    _attempt(delete, "File deleted.")


def segmentations() -> list[StoredSegmentation]:
    return _attempt(lambda opened, who: opened.segmentations_of(who)) or []


def save_segmentation(name: str, outcome, *, shared: bool = False) -> None:
    """Keep the segments on screen under ``name`` (the saved-segmentation JSON), shared if asked."""
    spec = outcome.spec
    frozen = saved_ui.in_use() or saved.from_segmentation(
        outcome.segmentation(), snapshot=outcome.prepared.snapshot, seed=outcome.seed, roles=outcome.roles,
        cleaning=spec.cleaning, rows_in=outcome.prepared.audit.rows_in)

    def keep(opened: Store, who: str) -> StoredSegmentation:
        kept = opened.save_segmentation(who, name, frozen.to_json())
        if shared:
            opened.share_segmentation(who, kept.id, True)
        return kept

    shown = " ".join(name.split())
    _attempt(keep, f"Segmentation saved as {shown}" + (" and shared with the team." if shared else "."))


def share(segmentation_id: int, shared: bool) -> None:
    _attempt(lambda opened, who: opened.share_segmentation(who, segmentation_id, shared),
             "Shared with the team." if shared else "No longer shared.")


def delete_segmentation(segmentation_id: int) -> None:
    _attempt(lambda opened, who: opened.delete_segmentation(who, segmentation_id), "Segmentation deleted.")


def apply_segmentation(segmentation_id: int) -> None:
    _attempt(lambda opened, who: _use_segmentation(opened, who, segmentation_id), "Saved segmentation applied.")


def runs() -> list[RunRecord]:
    return _attempt(lambda opened, who: opened.runs_of(who)) or []


def reopen_run(run_id: int) -> None:
    """Back to a recorded run: its file (if still kept), settings, and K or saved segmentation."""
    def reopen(opened: Store, who: str) -> None:
        run = opened.run(who, run_id)
        if run.file_id is not None:
            _use_file(opened, who, run.file_id, run.settings.get("sheet"))
        elif run.source_name == sources.DEMO.name:
            sources.use_demo()
        else:
            raise NotFound(f"The data of this run, {run.source_name}, is no longer in your workspace.",
                           hint="Upload the file again on the Data page, then record a new run.")
        _apply_settings(run.settings)
        if run.segmentation_id is not None:
            _use_segmentation(opened, who, run.segmentation_id)
        else:
            _use_segmentation(opened, who, None)
            session.set_k(run.k)

    _attempt(reopen, "Run reopened.")


def delete_run(run_id: int) -> None:
    _attempt(lambda opened, who: opened.delete_run(who, run_id), "Run deleted.")

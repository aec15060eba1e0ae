"""The session store: what this browser session has chosen (data, mapping, cleaning, snapshot, K, seed).

Canonical values live in ``st.session_state`` under the ``seg_*`` keys below; widgets have
their own ``w_*`` keys and copy into the canonical values from ``on_change`` callbacks (a
widget's own state is dropped by Streamlit when its page is not shown, the canonical value
is not). Before a widget is drawn, :func:`sync_widget` puts the canonical value into it.

Nothing here computes or draws; :class:`Spec` says which customer table the choices ask for and
:meth:`Spec.key` is its cache key, derived from the frozen settings themselves.
"""
from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import streamlit as st

from segmentation.settings import DEFAULT_SEED, CleaningSettings

__all__ = [
    "DEMO_ROWS",
    "DEMO_SEED",
    "K_WIDGETS",
    "Source",
    "Spec",
    "cleaning",
    "current_spec",
    "digest_of",
    "drawn_with",
    "failed_sheet",
    "failed_upload",
    "init",
    "k",
    "on_k_widget",
    "overrides",
    "relabel",
    "seed",
    "set_cleaning",
    "set_failed_sheet",
    "set_failed_upload",
    "set_k",
    "shown_k",
    "known_evidence",
    "remember_evidence",
    "set_override",
    "set_seed",
    "set_snapshot",
    "set_source",
    "settings_key",
    "snapshot",
    "source",
    "sync_widget",
    "upload_is_new",
]

DEMO_ROWS = 50_000
DEMO_SEED = 0

# Canonical session-state keys (tests read RESULTS: keep the names).
SOURCE = "seg_source"
OVERRIDES = "seg_overrides"
CLEANING = "seg_cleaning"
SNAPSHOT = "seg_snapshot"
K = "seg_k"  # None: use the suggested K
# (source key, seed) -> the K shown while K is "suggested": kept when the stability check later
# suggests another, which the app offers instead of switching, and when the marketer changes the
# cleaning or the filters (nothing changes without an action; see shown_k).
SHOWN_K = "seg_shown_k"
# (data key, seed) -> the K evidence (pipeline.Evidence) this session computed for those customers.
EVIDENCE = "seg_k_evidence"
EVIDENCE_KEPT = 16
SEED = "seg_seed"
TOKEN = "seg_session_token"  # see token()
LAST_GOOD = "seg_last_good"  # the last Spec that gave results
RESULTS = "seg_results"  # this run's Results (or the SegmenterError when nothing ever worked)
RUN_SECONDS = "seg_run_seconds"  # (wall, CPU) seconds of the last run of app.py, for tests and benchmarks
PROGRESS_SHOWN = "seg_progress_shown"  # step keys whose progress this session has already shown
# A database connection lives only in this session's memory: the URL itself is never stored,
# logged or put in a cache key (only its SHA-256 and the redacted form are kept).
CURRENCY = "seg_currency"  # the marketer's currency (ISO code; "" for none), or absent: as the file says
DATABASE = "seg_database"  # {"con", "hash", "where", "tables"} of the last successful connect
DATABASE_CONS = "seg_database_cons"  # Source.digest -> connection, for each table picked
DATABASE_ERROR = "seg_database_error"
LABELS_SHOWN = "seg_labels_shown"  # widget key -> (value, label) it was last drawn with (see relabel)
# The Data page's loads that failed, so that the error stays shown (and the file is not read again
# on every rerun) while the uploader still holds the file: see upload_is_new / failed_upload / failed_sheet.
UPLOAD_ID = "seg_upload_id"  # file_id of the upload last read
UPLOAD_ERROR = "seg_upload_error"  # (file_id, SegmenterError) of an upload that could not be read
SHEET_ERROR = "seg_sheet_error"  # (sheet, SegmenterError) of a sheet that could not be read
# Widgets bound to K (sidebar and Choose K page): changing one moves the other.
K_WIDGETS = ("w_k_sidebar", "w_k_page")


class Source(Protocol):
    """Where the data comes from: a value the session keeps (ui/sources.py: ``FileSource``,
    ``TableSource``). Equality and cache keys use the digest, which holds no bytes and no secret;
    what to do with it (read, prepare, the core source) is the object's own, never asked by kind."""

    name: str
    digest: str
    sheet: str | None
    data: bytes | None  # the file's bytes, kept in the user's workspace; None: nothing to keep


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def settings_key(settings: Any) -> tuple:
    """A frozen settings dataclass as a cache key: its class and every field, by name.

    Derived from ``dataclasses.fields``, so a field added to the settings changes the key without
    anyone listing it here. Sets are sorted (two equal sets iterate in any order) and dates become
    ISO text, so equal settings always give equal keys.
    """
    return (type(settings).__qualname__,
            tuple((f.name, _canonical(getattr(settings, f.name))) for f in dataclasses.fields(settings)))


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return settings_key(value)
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_canonical(v) for v in value), key=repr)))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((repr(k), _canonical(v)) for k, v in value.items()))))
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Spec:
    """Everything that decides the customer table (not K, not the seed)."""

    source: Source
    overrides: tuple[tuple[str, str | None], ...]
    cleaning: CleaningSettings
    snapshot: date | None

    def key(self) -> tuple:
        # The source's digest, name and sheet come first: ui/cache.prepare_file keys the parsed file on them.
        return (
            self.source.digest,
            self.source.name,  # the prepared notes quote the file name: never another session's
            self.source.sheet,
            self.overrides,
            settings_key(self.cleaning),
            self.snapshot.isoformat() if self.snapshot else None,
        )


def init(default_source: Source | None = None) -> None:
    """Defaults for a new session: ``default_source`` (app.py gives the demo data, ui/sources.py),
    detected roles, default cleaning, suggested K."""
    ss = st.session_state
    if default_source is not None:
        ss.setdefault(SOURCE, default_source)
    ss.setdefault(OVERRIDES, {})
    ss.setdefault(CLEANING, CleaningSettings())
    ss.setdefault(SNAPSHOT, None)
    ss.setdefault(K, None)
    ss.setdefault(SEED, DEFAULT_SEED)
    ss.setdefault(TOKEN, uuid.uuid4().hex)


def token() -> str:
    """An opaque id of this browser session (which background checks it still wants: ui/stability.py)."""
    return st.session_state[TOKEN]


def source() -> Source:
    return st.session_state[SOURCE]


def set_source(new: Source) -> None:
    """Switch to another file (or sheet): mapping, filters, snapshot and K start afresh."""
    ss = st.session_state
    ss[SOURCE] = new
    ss[OVERRIDES] = {}
    ss[CLEANING] = CleaningSettings()
    ss[SNAPSHOT] = None
    ss[K] = None
    ss.pop(CURRENCY, None)


def currency_choice() -> str | None:
    """The currency the marketer set for this data (ISO code, "" for none), or None: as detected."""
    return st.session_state.get(CURRENCY)


def set_currency(code: str | None) -> None:
    st.session_state[CURRENCY] = code


def upload_is_new(file_id: str) -> bool:
    """Whether the uploader's file is not the one last read; if so it is now (and no error is kept)."""
    ss = st.session_state
    if ss.get(UPLOAD_ID) == file_id:
        return False
    ss[UPLOAD_ID], ss[UPLOAD_ERROR] = file_id, None
    return True


def set_failed_upload(file_id: str, error: Any) -> None:
    st.session_state[UPLOAD_ERROR] = (file_id, error)


def failed_upload(file_id: str) -> Any:
    """The error of reading the upload ``file_id``, or None (it was read, or it is another file)."""
    failed = st.session_state.get(UPLOAD_ERROR)
    return failed[1] if failed and failed[0] == file_id else None


def set_failed_sheet(sheet: str | None, error: Any = None) -> None:
    """The sheet the marketer chose and why it could not be read (None: the last choice worked)."""
    st.session_state[SHEET_ERROR] = None if error is None else (sheet, error)


def failed_sheet() -> tuple[str, Any] | None:
    return st.session_state.get(SHEET_ERROR)


def overrides() -> dict[str, str | None]:
    return dict(st.session_state[OVERRIDES])


def set_override(role: str, column: str | None) -> None:
    new = overrides()
    new[role] = column
    st.session_state[OVERRIDES] = new


def cleaning() -> CleaningSettings:
    return st.session_state[CLEANING]


def set_cleaning(new: CleaningSettings) -> None:
    st.session_state[CLEANING] = new


def snapshot() -> date | None:
    return st.session_state[SNAPSHOT]


def set_snapshot(value: date | None) -> None:
    st.session_state[SNAPSHOT] = value


def k() -> int | None:
    """The K asked for, or None for the suggested K."""
    return st.session_state[K]


def set_k(value: int | None) -> None:
    st.session_state[K] = None if value is None else int(value)


def shown_k(source_key: tuple, seed: int, suggested: int | None = None) -> int | None:
    """The K on screen for this source (file, sheet) while the marketer has not chosen one: the first
    suggestion this session showed for it (``suggested`` the first time; None: not shown yet). A
    later suggestion does not replace it — once stability is checked, or after a change of the
    cleaning or the filters (whose K evidence the Choose K page computes when it is opened): the app
    offers it instead."""
    shown = st.session_state.setdefault(SHOWN_K, {})
    if suggested is None:
        return shown.get((source_key, int(seed)))
    return shown.setdefault((source_key, int(seed)), int(suggested))


def known_evidence(data_key: tuple, seed: int) -> Any | None:
    """The K evidence this session computed for these customers (ui/results.py), or None."""
    return st.session_state.get(EVIDENCE, {}).get((data_key, int(seed)))


def remember_evidence(data_key: tuple, seed: int, evidence: Any) -> None:
    known = st.session_state.setdefault(EVIDENCE, {})
    known.pop((data_key, int(seed)), None)
    known[(data_key, int(seed))] = evidence
    while len(known) > EVIDENCE_KEPT:
        known.pop(next(iter(known)))


def seed() -> int:
    return int(st.session_state[SEED])


def set_seed(value: int) -> None:
    st.session_state[SEED] = int(value)


def current_spec() -> Spec:
    return Spec(
        source=source(),
        overrides=tuple(sorted(overrides().items())),
        cleaning=cleaning(),
        snapshot=snapshot(),
    )


def sync_widget(key: str, value: Any) -> None:
    """Put the canonical value into a widget's state before the widget is drawn this run."""
    if st.session_state.get(key, object()) != value:
        st.session_state[key] = value


def relabel(key: str, label: Callable[[Any], str]) -> None:
    """Before a keyed picker whose labels depend on the data (a count, a detected currency) is drawn:
    when the value it was last drawn with is still its value but that value's label has changed,
    put the value back into its state, so that Streamlit sends the browser the value with its new label.

    Streamlit keeps a keyed selectbox's value from run to run and, while that value is still an
    option, tells the browser nothing: the browser goes on showing the label it was last sent
    ("As the file says: € EUR" after the price column was changed to one that names no currency).
    ``label`` is the widget's ``format_func``. See :func:`drawn_with`, its other half.
    """
    before = st.session_state.get(LABELS_SHOWN, {}).get(key)
    if before is None or key not in st.session_state or st.session_state[key] != before[0]:
        return
    if label(before[0]) != before[1]:
        st.session_state[key] = before[0]


def drawn_with(key: str, value: Any, label: Callable[[Any], str]) -> None:
    """After the picker ``key`` is drawn: remember its value and the label the browser was sent."""
    st.session_state.setdefault(LABELS_SHOWN, {})[key] = (value, None if value is None else label(value))


def on_k_widget(key: str) -> None:
    """on_change of a K widget: store K and move the other K widgets along."""
    value = st.session_state[key]
    set_k(value)
    for other in K_WIDGETS:
        if other != key and other in st.session_state:
            st.session_state[other] = value

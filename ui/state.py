"""Shared state of the app, in one place: what is loaded, its mapping and filters, K and seed.

Canonical values live in ``st.session_state`` under the ``seg_*`` keys below; widgets have
their own ``w_*`` keys and copy into the canonical values from ``on_change`` callbacks (a
widget's own state is dropped by Streamlit when its page is not shown, the canonical value
is not). Before a widget is drawn, :func:`sync_widget` puts the canonical value into it.

Every expensive step is cached across sessions and reruns:

* reading the file — ``st.cache_resource`` keyed on the file's SHA-256 and sheet (the Arrow
  table is immutable, so sharing one object is safe and costs no copy);
* roles, ``pipeline.prepare`` (parse → clean → RFM) — ``st.cache_data`` keyed on the file
  digest, sheet, role overrides, cleaning settings and snapshot;
* the K scan — keyed on that plus the seed; one segmentation — keyed on that plus K.
* a database table ("Connect to a database"): the connection stays in this session's
  ``st.session_state``; its first rows and ``sources.prepare_table`` are cached on a SHA-256
  of URL and table, so the URL (and its password) is in no cache key, log or screen.

So changing K (or a chart option) never re-reads or re-cleans the file.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from segmentation import columns, pipeline, reading, segments, sources
from segmentation.errors import KChoiceError, SegmenterError, SourceError
from segmentation.kpolicy import decide_k
from segmentation.model import KSuggestion
from segmentation.pipeline import Prepared
from segmentation.reading import LoadedFile
from segmentation.segments import Segmentation
from segmentation.settings import DEFAULT_SEED, K_SCAN_RANGE, CleaningSettings

from .text import md

__all__ = [
    "DEMO_ROWS",
    "DEMO_SEED",
    "Source",
    "Spec",
    "Results",
    "init",
    "source",
    "set_source",
    "use_demo",
    "overrides",
    "set_override",
    "cleaning",
    "set_cleaning",
    "snapshot",
    "set_snapshot",
    "set_k",
    "set_seed",
    "current_spec",
    "read",
    "detected_roles",
    "compute",
    "results",
    "sync_widget",
    "digest_of",
    "connect_database",
    "database",
    "database_error",
    "use_table",
]

DEMO_ROWS = 50_000
DEMO_SEED = 0

# Canonical session-state keys.
SOURCE = "seg_source"
OVERRIDES = "seg_overrides"
CLEANING = "seg_cleaning"
SNAPSHOT = "seg_snapshot"
K = "seg_k"  # None: use the suggested K
SEED = "seg_seed"
LAST_GOOD = "seg_last_good"
RESULTS = "seg_results"
# A database connection lives only in this session's memory: the URL itself is never stored,
# logged or put in a cache key (only its SHA-256 and the redacted form are kept).
DATABASE = "seg_database"  # {"con", "hash", "where", "tables"} of the last successful connect
DATABASE_CONS = "seg_database_cons"  # Source.digest -> connection, for each table picked
DATABASE_ERROR = "seg_database_error"
# Widgets bound to K (sidebar and Choose K page): changing one moves the other.
K_WIDGETS = ("w_k_sidebar", "w_k_page")


@dataclass(frozen=True)
class Source:
    """Where the data comes from. Equality (and cache keys) use the digest, never the bytes."""

    kind: str  # "demo" | "upload" | "database"
    name: str
    digest: str  # a database's: SHA-256 of URL and table, so no cache key holds the URL
    sheet: str | None = None  # None: let the reader choose the transactions sheet
    data: bytes | None = field(default=None, compare=False, repr=False, hash=False)
    table: str | None = None  # the table or view of a database source

    @property
    def size_mb(self) -> float:
        return len(self.data) / 1_000_000 if self.data else 0.0


DEMO = Source("demo", f"Built-in demo data ({DEMO_ROWS:,} transactions)", f"demo-{DEMO_ROWS}-{DEMO_SEED}")


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cleaning_key(cleaning: CleaningSettings) -> tuple:
    return (
        tuple(sorted(cleaning.rules)),
        cleaning.date_from.isoformat() if cleaning.date_from else None,
        cleaning.date_to.isoformat() if cleaning.date_to else None,
        tuple(cleaning.countries_include),
        tuple(cleaning.countries_exclude),
        bool(cleaning.net_returns),
    )


@dataclass(frozen=True)
class Spec:
    """Everything that decides the customer table (not K, not the seed)."""

    source: Source
    overrides: tuple[tuple[str, str | None], ...]
    cleaning: CleaningSettings
    snapshot: date | None

    def key(self) -> tuple:
        return (
            self.source.digest,
            self.source.name,  # the prepared notes quote the file name: never another session's
            self.source.sheet,
            self.overrides,
            _cleaning_key(self.cleaning),
            self.snapshot.isoformat() if self.snapshot else None,
        )


# ---------------------------------------------------------------------------------------------
# canonical state
# ---------------------------------------------------------------------------------------------
def init() -> None:
    """Defaults for a new session: the demo data, detected roles, default cleaning, suggested K."""
    ss = st.session_state
    ss.setdefault(SOURCE, DEMO)
    ss.setdefault(OVERRIDES, {})
    ss.setdefault(CLEANING, CleaningSettings())
    ss.setdefault(SNAPSHOT, None)
    ss.setdefault(K, None)
    ss.setdefault(SEED, DEFAULT_SEED)


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


def use_demo() -> None:
    set_source(DEMO)


def database() -> dict | None:
    """The current database connection: its tables and redacted URL (``where``), or None."""
    return st.session_state.get(DATABASE)


def database_error() -> SegmenterError | None:
    return st.session_state.get(DATABASE_ERROR)


def connect_database(url: str) -> None:
    """Connect read-only and list the tables; on failure keep the previous connection and data."""
    ss = st.session_state
    ss[DATABASE_ERROR] = None
    try:
        con = sources.connect_postgres(url.strip())
        tables = sources.list_tables(con)
    except SegmenterError as error:
        ss[DATABASE_ERROR] = error
        return
    ss[DATABASE] = {"con": con, "hash": digest_of(url.strip().encode()), "where": sources.redact_url(url.strip()),
                    "tables": tables}


def use_table(name: str) -> None:
    """Switch to a table of the connected database, if its first rows can be read."""
    ss = st.session_state
    db = ss[DATABASE]
    ss[DATABASE_ERROR] = None
    digest = digest_of(f"{db['hash']}\0{name}".encode())
    candidate = Source("database", f"{name} in {db['where']}", digest, table=name)
    ss.setdefault(DATABASE_CONS, {})[digest] = db["con"]
    try:
        read(candidate)
    except SegmenterError as error:
        ss[DATABASE_ERROR] = error
        return
    set_source(candidate)


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


def set_k(value: int | None) -> None:
    st.session_state[K] = None if value is None else int(value)


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


def on_k_widget(key: str) -> None:
    """on_change of a K widget: store K and move the other K widgets along."""
    value = st.session_state[key]
    set_k(value)
    for other in K_WIDGETS:
        if other != key and other in st.session_state:
            st.session_state[other] = value


# ---------------------------------------------------------------------------------------------
# cached steps
# ---------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=4, show_spinner=False)
def _read(digest: str, sheet: str | None, filename: str, _data: bytes | None) -> LoadedFile:
    if _data is None:
        return pipeline.demo_file(DEMO_ROWS, seed=DEMO_SEED)
    return reading.read_file(_data, filename=filename, sheet=sheet)


@st.cache_resource(max_entries=4, show_spinner=False)
def _read_table(digest: str, name: str, table: str, _con) -> LoadedFile:
    preview = sources.open_table(_con, table).preview()
    return LoadedFile(preview.rows, name, "postgresql",
                      notes=(f"Shown and detected from {preview.caption()}; the cleaning runs "
                             "in the database on the whole table.",))


def _connection(src: Source):
    con = st.session_state.get(DATABASE_CONS, {}).get(src.digest)
    if con is None:
        raise SourceError("The database connection of this session is gone.",
                          hint="Connect again on the Data page.")
    return con


def read(src: Source) -> LoadedFile:
    """The file of ``src`` read into Arrow (cached on its digest and sheet); a table: its first rows."""
    if src.kind == "database":
        return _read_table(src.digest, src.name, src.table, _connection(src))
    return _read(src.digest, src.sheet, src.name, src.data)


@st.cache_data(max_entries=16, show_spinner=False)
def _detected(digest: str, sheet: str | None, _loaded: LoadedFile) -> dict[str, str]:
    return columns.detect_roles(_loaded.table)


def detected_roles(src: Source) -> dict[str, str]:
    return _detected(src.digest, src.sheet, read(src))


@st.cache_data(max_entries=32, show_spinner=False)
def _mapping_notes(digest: str, sheet: str | None, roles_: tuple, _loaded: LoadedFile) -> tuple[str, ...]:
    return columns.detection_notes(_loaded.table, dict(roles_))


def mapping_notes(src: Source, roles: dict[str, str]) -> tuple[str, ...]:
    """What detection decided for the mapping shown (product vs description, money by meaning, guesses)."""
    return _mapping_notes(src.digest, src.sheet, tuple(sorted(roles.items())), read(src))


@st.cache_data(max_entries=32, show_spinner=False)
def _roles(digest: str, sheet: str | None, overrides_: tuple, _loaded: LoadedFile) -> dict[str, str]:
    return columns.resolve_roles(_loaded.table, dict(overrides_))


@st.cache_data(max_entries=16, show_spinner=False)
def _prepare(key: tuple, _loaded: LoadedFile, _roles: dict, _cleaning: CleaningSettings,
             _snapshot: date | None, _progress: Callable[[str, float], None]) -> Prepared:
    return pipeline.prepare(_loaded, _roles, cleaning=_cleaning, snapshot=_snapshot, progress=_progress)


@st.cache_data(max_entries=16, show_spinner=False)
def _prepare_table(key: tuple, _con, _table: str, _roles: dict, _cleaning: CleaningSettings,
                   _snapshot: date | None, _progress: Callable[[str, float], None]) -> Prepared:
    return sources.prepare_table(sources.open_table(_con, _table), _roles, cleaning=_cleaning, snapshot=_snapshot,
                                 progress=_progress, with_products=True)


@st.cache_data(max_entries=16, show_spinner=False)
def _scan(key: tuple, seed: int, _customers: pd.DataFrame) -> tuple[pd.DataFrame, KSuggestion]:
    return pipeline.scan_for(_customers, seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def _segment(key: tuple, k: int, seed: int, _customers: pd.DataFrame) -> Segmentation:
    return segments.segment_customers(_customers, k=k, seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def _top_items(key: tuple, k: int, seed: int, _segmented: pd.DataFrame, _products: pd.DataFrame) -> pd.DataFrame:
    return segments.top_items(_segmented, _products, n=3)


# Keys whose cached step has run in this process: a cache hit needs no progress box.
_DONE: set[tuple] = set()
_DONE_LOCK = threading.Lock()


def _step(label: str, done_key: tuple, fn: Callable[[Callable[[str, float], None]], Any]) -> Any:
    """Run a cached step; the first time in this process, inside an st.status box with its progress."""
    with _DONE_LOCK:
        known = done_key in _DONE
    if known:
        return fn(lambda message, fraction: None)
    steps: list[str] = []
    started = time.perf_counter()
    with st.status(label, expanded=False) as status:
        try:
            result = fn(lambda message, fraction: steps.append(f"{message} ({fraction:.0%})"))
        except SegmenterError:
            status.update(label=f"{label} — stopped", state="error")
            raise
        for line in steps:
            status.write(md(line))
        status.update(label=f"{label} — done in {time.perf_counter() - started:.1f} s", state="complete")
    with _DONE_LOCK:
        _DONE.add(done_key)
    return result


# ---------------------------------------------------------------------------------------------
# results of one run
# ---------------------------------------------------------------------------------------------
@dataclass
class Results:
    """What the pages show: the customers of ``spec`` (the current settings, or the last that worked)."""

    spec: Spec
    loaded: LoadedFile
    roles: dict[str, str]
    prepared: Prepared
    scan: pd.DataFrame
    suggestion: KSuggestion
    seed: int
    k: int
    error: SegmenterError | None = None  # the current settings failed with this; data is the last good
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return self.error is not None

    @property
    def k_values(self) -> list[int]:
        # Too few distinct customers to compare K: the one K the data supports (see `degenerate`).
        # A K chosen outside the compared ones (kpolicy allows it) stays pickable.
        return sorted({int(k) for k in self.scan["k"]} | {self.k}) if not self.scan.empty else [self.suggestion.k]

    @property
    def degenerate(self) -> bool:
        return self.scan.empty

    def segmentation(self) -> Segmentation:
        return _segment(self.spec.key(), self.k, self.seed, self.prepared.customers)

    def top_items(self) -> pd.DataFrame:
        seg = self.segmentation()
        return _top_items(self.spec.key(), self.k, self.seed, seg.customers, self.prepared.customer_products)


def _results_for(spec: Spec, seed: int, k_wanted: int | None) -> Results:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    loaded = read(spec.source)
    roles = _roles(spec.source.digest, spec.source.sheet, spec.overrides, loaded)
    key = spec.key()
    prepared = _step(
        "Cleaning the data and computing recency, frequency and monetary value",
        ("prepare",) + key,
        (lambda progress: _prepare_table(key, _connection(spec.source), spec.source.table, roles, spec.cleaning,
                                         spec.snapshot, progress))
        if spec.source.kind == "database" else
        (lambda progress: _prepare(key, loaded, roles, spec.cleaning, spec.snapshot, progress)),
    )
    timings["prepare"] = time.perf_counter() - started
    scan, suggestion = _step(
        "Comparing segmentations for K = {}–{}".format(*K_SCAN_RANGE),
        ("scan", seed) + key,
        lambda progress: _scan(key, seed, prepared.customers),
    )
    timings["scan"] = time.perf_counter() - started - timings["prepare"]
    # Fewer than 3 distinct customer profiles: the one K they support, with the reason shown.
    request = "auto" if k_wanted is None or scan.empty else k_wanted
    try:
        k = decide_k(request, scan=scan, suggestion=suggestion,
                     n_customers=len(prepared.customers))
    except KChoiceError as error:
        error.hint = error.hint or "Pick another K on the Choose K page, or use the suggested K."
        raise
    return Results(spec=spec, loaded=loaded, roles=roles, prepared=prepared, scan=scan,
                   suggestion=suggestion, seed=seed, k=k, timings=timings)


def compute() -> Results | SegmenterError:
    """Results for the current settings; if they fail, the last good results carrying the error.

    Returns the error itself when nothing has ever worked in this session (no data to show).
    Called once per run by app.py; pages get the outcome from :func:`results`.
    """
    init()
    ss = st.session_state
    spec = current_spec()
    seed = int(ss[SEED])
    try:
        outcome: Results | SegmenterError = _results_for(spec, seed, ss[K])
        ss[LAST_GOOD] = spec
    except SegmenterError as error:
        outcome = error
        last = ss.get(LAST_GOOD)
        if last is not None and last != spec:
            try:
                outcome = _results_for(last, seed, ss[K])
                outcome.error = error
            except SegmenterError:
                outcome = error
    ss[RESULTS] = outcome
    return outcome


def results_or_empty_state() -> Results:
    """This run's results; with no data yet, the empty-state note and a link to the Data page, then stop."""
    outcome = results()
    if isinstance(outcome, SegmenterError):
        st.info("There is no data to segment yet. Load a file and check its columns on the Data page.",
                icon=":material/info:")
        st.page_link("views/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()
    return outcome


def results() -> Results | SegmenterError:
    """This run's outcome, computed by app.py before the page ran."""
    if RESULTS not in st.session_state:
        return compute()
    return st.session_state[RESULTS]

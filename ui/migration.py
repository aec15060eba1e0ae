"""Cached computations of the Changes page: the kept purchases of the current data, a migration
between two dates and the monthly trend, each keyed on the data's settings and the dates."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pyarrow as pa
import streamlit as st

from segmentation import export, migration, pipeline, saved
from segmentation.migration import DEFAULT_DAYS, Migration

__all__ = ["DATE_WIDGETS", "kept_purchases", "compare", "trend", "flow_csv", "apply_preset", "remember_dates",
           "restore_dates"]

# The Changes page's date widgets, and the session key that keeps their values for its data:
# Streamlit drops a widget's state when its page is not shown, so returning to the page (or to
# data whose dates match the marker) found no dates and opened on "These dates cannot be compared".
DATE_WIDGETS = ("w_changes_preset", "w_changes_a", "w_changes_b")
DATES = "changes_dates"


def default_dates(snapshot: date, low: date) -> dict:
    return {"w_changes_preset": DEFAULT_DAYS, "w_changes_b": snapshot,
            "w_changes_a": max(low, snapshot - timedelta(days=DEFAULT_DAYS))}


def restore_dates(snapshot: date, low: date) -> None:
    """Before the date widgets are drawn: each one without a state gets the dates last chosen for
    this data (snapshot and first date), or the default preset for new data."""
    ss = st.session_state
    kept = ss.get(DATES)
    if kept is None or kept["data"] != (snapshot, low):
        kept = {"data": (snapshot, low), **default_dates(snapshot, low)}
        ss[DATES] = kept
        for key in DATE_WIDGETS:  # new data: its own dates, whatever the widgets held
            ss[key] = kept[key]
    for key in DATE_WIDGETS:
        if key not in ss:
            ss[key] = kept[key]


def apply_preset(snapshot: date, low: date) -> None:
    """on_change of the preset: the second date is the snapshot, the first that many days before."""
    ss = st.session_state
    days = ss.get("w_changes_preset")
    if days:
        ss["w_changes_b"] = snapshot
        ss["w_changes_a"] = max(low, snapshot - timedelta(days=int(days)))


def remember_dates(snapshot: date, low: date, preset: int | None, date_a: date, date_b: date) -> None:
    """After the widgets are drawn: their values, for the next time the page is shown with this data."""
    st.session_state[DATES] = {"data": (snapshot, low), "w_changes_preset": preset,
                               "w_changes_a": date_a, "w_changes_b": date_b}


@st.cache_data(max_entries=8, show_spinner=False)
def _kept_purchases(key: tuple, _transactions, _roles: dict, _cleaning, _snapshot) -> pa.Table:
    # The cached customer table holds no engine objects; the purchases are cleaned once more here.
    prepared = pipeline.prepare(_transactions, _roles, cleaning=_cleaning, snapshot=_snapshot, with_products=False)
    return migration.kept_purchases(prepared.purchases)


def kept_purchases(outcome) -> pa.Table:
    spec = outcome.spec
    return _kept_purchases(spec.key(), spec.source.transactions(outcome.loaded), outcome.roles, spec.cleaning,
                           spec.snapshot)


@st.cache_data(max_entries=32, show_spinner=False)
def _compare(key: tuple, date_a: date, date_b: date, k: int, seed: int, saved_text: str | None,
             _purchases: pa.Table) -> Migration:
    frozen = saved.loads(saved_text) if saved_text else None
    return migration.compare(migration.purchases_from_arrow(_purchases), date_a=date_a, date_b=date_b,
                             segmentation=frozen, k=k, seed=seed)


@st.cache_data(max_entries=32, show_spinner=False)
def _on_screen(key: tuple, k: int, seed: int, snapshot: date, _segmentation) -> str:
    created = datetime.combine(snapshot, time(), tzinfo=UTC)  # fixed: the same segments give the same text
    return saved.from_segmentation(_segmentation, snapshot=snapshot, seed=seed, created=created).to_json()


def compare(outcome, date_a: date, date_b: date, saved_text: str | None) -> Migration:
    """Segments at A and B under one frozen segmentation: the saved one in use, else the segments on the
    Segments page (fitted as of the snapshot), so the Changes page speaks of the segments the marketer
    knows — the same names, numbers and colours — whatever the first date."""
    text = saved_text or _on_screen(outcome.spec.key(), int(outcome.k), int(outcome.seed), outcome.prepared.snapshot,
                                    outcome.segmentation())
    return _compare(outcome.spec.key(), date_a, date_b, int(outcome.k), int(outcome.seed), text,
                    kept_purchases(outcome))


@st.cache_data(max_entries=32, show_spinner=False)
def _trend(key: tuple, text: str, month_ends: tuple[date, ...], _purchases: pa.Table) -> pd.DataFrame:
    return migration.trend(migration.purchases_from_arrow(_purchases), saved.loads(text), list(month_ends))


def trend(outcome, moved: Migration) -> pd.DataFrame:
    prepared = outcome.prepared
    ends = migration.trend_dates(prepared.date_min, prepared.snapshot) if prepared.date_min else []
    return _trend(outcome.spec.key(), moved.segmentation.to_json(), tuple(ends), kept_purchases(outcome))


def flow_csv(moved: Migration, source: str, target: str) -> bytes:
    """The customers of one flow as CSV, spreadsheet formulas neutralised (the page's download)."""
    return export.to_csv_bytes(moved.flow(source, target))

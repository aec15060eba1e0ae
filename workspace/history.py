"""What a recorded run keeps and how runs compare: the pure part of the History page.

:func:`segment_rows` sums a segmentation's customers per segment; :func:`settings_of` /
:func:`cleaning_of` turn the session's settings into JSON and back; :func:`history_table` lays the
runs of one segmentation side by side (one row per run and segment, with the change since the
previous run); :func:`history_figure` draws it (Plotly, one point per run). No Streamlit here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from segmentation import formats
from segmentation.charts import escape_text, segment_color
from segmentation.settings import CleaningSettings

from .store import RunRecord, SegmentRow

__all__ = ["segment_rows", "settings_of", "cleaning_of", "groupings", "history_table", "history_figure",
           "MEASURES"]

MEASURES = {"customers": "Customers", "revenue": "Revenue"}


def segment_rows(customers: pd.DataFrame, predicted: pd.DataFrame | None = None) -> tuple[SegmentRow, ...]:
    """Per segment of segmented customers (``segment_id``, ``segment``, ``monetary``): customers and
    revenue; predicted revenue from ``predicted`` (``segment_id``, ``predicted_revenue``) when given."""
    grouped = (customers.groupby(["segment_id", "segment"], observed=True)
               .agg(customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
               .sort_values("segment_id"))
    ahead = {}
    if predicted is not None and "predicted_revenue" in predicted:
        ahead = dict(zip(predicted["segment_id"].astype(int), predicted["predicted_revenue"], strict=True))
    return tuple(SegmentRow(int(row.segment_id), str(row.segment), int(row.customers), float(row.revenue),
                            None if pd.isna(ahead.get(int(row.segment_id), float("nan")))
                            else float(ahead[int(row.segment_id)]))
                 for row in grouped.itertuples())


def _json_value(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def settings_of(*, overrides: dict, cleaning: CleaningSettings, snapshot: date | None, seed: int,
                k: int | None, currency: str | None, sheet: str | None) -> dict:
    """The session's choices as JSON-able values (what a run records and a reload reopens)."""
    return {
        "overrides": dict(overrides),
        "cleaning": {f.name: _json_value(getattr(cleaning, f.name)) for f in dataclasses.fields(cleaning)},
        "snapshot": snapshot.isoformat() if snapshot else None,
        "seed": int(seed),
        "k": None if k is None else int(k),
        "currency": currency,
        "sheet": sheet,
    }


def cleaning_of(values: dict | None) -> CleaningSettings:
    """:class:`CleaningSettings` back from :func:`settings_of`'s ``cleaning`` (unknown keys ignored,
    so a record from an older version still opens)."""
    defaults = CleaningSettings()
    kwargs = {}
    for f in dataclasses.fields(CleaningSettings):
        if not values or f.name not in values:
            continue
        value, default = values[f.name], getattr(defaults, f.name)
        if isinstance(default, frozenset):
            value = frozenset(value)
        elif isinstance(default, tuple):
            value = tuple(value)
        elif f.name.startswith("date_"):
            value = date.fromisoformat(value) if value else None
        kwargs[f.name] = value
    return CleaningSettings(**kwargs)


def groupings(runs: Sequence[RunRecord]) -> dict[str, str]:
    """grouping key → how to call it, newest first: "Saved segmentation Agreed 2026", "Fitted, K = 4"."""
    named: dict[str, str] = {}
    for run in runs:
        if run.grouping not in named:
            named[run.grouping] = (f"Saved segmentation {run.segmentation_name}" if run.segmentation_id is not None
                                   else f"Fitted segments, K = {run.k}")
    return named


def history_table(runs: Sequence[RunRecord], grouping: str) -> pd.DataFrame:
    """One row per run (oldest first) and segment of the runs in ``grouping``: run id, recorded,
    segment, customers, revenue, and the change of both since the previous run (None for the first)."""
    rows = [{"run": run.id, "recorded": run.recorded, "source": run.source_name, "segment_id": s.segment_id,
             "segment": s.segment, "customers": s.customers, "revenue": s.revenue}
            for run in sorted(runs, key=lambda r: (r.recorded, r.id)) if run.grouping == grouping
            for s in run.segments]
    table = pd.DataFrame(rows, columns=["run", "recorded", "source", "segment_id", "segment", "customers", "revenue"])
    table = table.sort_values(["recorded", "run", "segment_id"], kind="stable").reset_index(drop=True)
    by_segment = table.groupby("segment", sort=False)
    table["customers_change"] = by_segment["customers"].diff()
    table["revenue_change"] = by_segment["revenue"].diff()
    return table


def history_figure(table: pd.DataFrame, *, measure: str = "customers", currency: str | None = None) -> go.Figure:
    """Stacked areas of ``measure`` (customers or revenue) per segment, one point per run."""
    if measure not in MEASURES:
        raise ValueError(f"measure={measure!r}: choose one of {', '.join(MEASURES)}")
    figure = go.Figure()
    for (segment_id, segment), part in table.groupby(["segment_id", "segment"], sort=True):
        values = part[measure]
        shown = ([formats.money(v, currency) for v in values] if measure == "revenue"
                 else [f"{int(v):,}" for v in values])
        figure.add_trace(go.Scatter(
            x=[formats.day(t) + f" (#{r})" for t, r in zip(part["recorded"], part["run"], strict=True)],
            y=values, name=escape_text(segment), mode="lines+markers", stackgroup="segments",
            line=dict(color=segment_color(int(segment_id), str(segment))), customdata=shown,
            hovertemplate="%{customdata}<extra>%{fullData.name}</extra>",
        ))
    figure.update_layout(
        xaxis_title="Run (recorded on)", yaxis_title=MEASURES[measure] + (f" ({currency})" if currency and
                                                                           measure == "revenue" else ""),
        yaxis=dict(tickformat=","), legend_title_text="Segment", margin=dict(t=30, b=40), height=380,
    )
    return figure

"""Plotly figure builders for the dashboard (and anyone else who wants the pictures).

Only figures: the numbers they show (relative means, crosstab, knee...) come from segments.py.

Every builder checks its arguments, returns a ``go.Figure`` and never shows it. Nothing here
imports Streamlit.

Security: Plotly renders a subset of HTML in hover text, legend entries, tick labels and
treemap labels. Every piece of text that comes from the user's file (customer ids, countries,
product descriptions) or is derived from it (segment names) goes through :func:`escape_text`
before it reaches a figure, and user text is only ever passed as data (``customdata``, trace
names, category labels), never spliced into a ``hovertemplate`` where ``%{...}`` would be
interpreted.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .model import elbow_k
from .segments import (
    CUSTOMER_FEATURES,
    relative_means,
    require_frame,
    segment_crosstab,
    standardised_means,
)
from .settings import STABLE_THRESHOLD

__all__ = [
    "CUSTOMER_FEATURES",
    "FEATURES",
    "FEATURE_LABELS",
    "LOWER_IS_BETTER",
    "SEGMENT_COLORS",
    "NAME_COLORS",
    "escape_text",
    "segment_color",
    "k_scan_figure",
    "audit_figure",
    "scatter_2d",
    "scatter_3d",
    "relative_heatmap",
    "snake_plot",
    "revenue_share_figure",
    "crosstab_heatmap",
    "migration_sankey",
    "migration_heatmap",
    "segment_trend_figure",
]

# Customer features a chart can show: segments.CUSTOMER_FEATURES, in display order (the features a
# profile describes; the model clusters on three of them, model.FEATURES). FEATURES is its old name
# here, kept for one release.
FEATURES: tuple[str, ...] = CUSTOMER_FEATURES
FEATURE_LABELS: dict[str, str] = {
    "recency": "Recency (days since last purchase)",
    "frequency": "Frequency (purchases)",
    "monetary": "Monetary (total spend)",
    "tenure": "Tenure (days since first purchase)",
    "avg_order_value": "Average order value",
}
# Features where a lower value is the better one (colour scales that mean good/bad turn these).
LOWER_IS_BETTER: frozenset[str] = frozenset({"recency"})
_SHORT_LABELS = {
    "recency": "Recency",
    "frequency": "Frequency",
    "monetary": "Monetary",
    "tenure": "Tenure",
    "avg_order_value": "Avg order value",
}
# A colour-blind-friendly qualitative palette; segment_id n always gets colour n (cycling).
SEGMENT_COLORS: tuple[str, ...] = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE",
    "#AA3377", "#332288", "#DDAA33", "#117733", "#882255", "#999933", "#BBBBBB",
)
# One colour per named RFM segment (settings.SEGMENT_MAP), the same whatever K: good news in greens
# and blues, warnings in warm colours, the lapsed in dull ones.
NAME_COLORS: dict[str, str] = {
    "Champions": "#228833",
    "Loyal Customers": "#4477AA",
    "Potential Loyalists": "#66CCEE",
    "New Customers": "#009988",
    "Promising": "#CCBB44",
    "Need Attention": "#EE7733",
    "About to Sleep": "#AA3377",
    "At Risk": "#EE6677",
    "Can't Lose Them": "#882255",
    "Hibernating": "#999933",
}
_QUALIFIER_SHADES = {"top spend": -0.25, "high spend": 0.0, "mid spend": 0.3, "low spend": 0.5, "lowest spend": 0.65}
# Panel titles lead with plain words; the statistic's name follows (hover shows it too).
SCAN_METRICS: tuple[tuple[str, str], ...] = (
    ("inertia", "Tightness (inertia; the knee) — lower is tighter"),
    ("silhouette", "Clear separation (silhouette) — higher is better"),
    ("calinski_harabasz", "Separation vs spread (Calinski-Harabasz) — higher is better"),
    ("davies_bouldin", "Overlap (Davies-Bouldin) — lower is better"),
)
# The fifth panel, when the scan carries stability.stability_scan's columns.
STABILITY_METRIC = ("stability", "Comes back on resamples (stability) — higher is more reliable")
DEFAULT_MAX_POINTS = 20_000
# The app's scatter plots: the browser redraws every point as SVG after each K change, 2-5 s for the
# real data's 4,338 customers on a loaded 2-core machine (BENCHMARKS.md); beyond this many a fixed-seed
# sample is drawn, said in the title (the report and the Customers page keep every customer).
SCREEN_MAX_POINTS = 2_000
_BLANK = "(blank)"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def escape_text(value: object) -> str:
    """Text safe to hand to Plotly: ``&``, ``<`` and ``>`` escaped; missing values → ``(blank)``.

    Plotly decodes ``&lt;``/``&gt;``/``&amp;`` back when it draws, so people read the text
    exactly as it is in their file, but no tag (``<a>``, ``<img>``, ``<script>``...) is ever
    interpreted. Quotes are left alone: without ``<`` there is no attribute to break out of.
    """
    if value is None:
        return _BLANK
    try:
        if pd.isna(value):
            return _BLANK
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=False)


def _escape_series(values: pd.Series) -> list[str]:
    """escape_text for a whole column, vectorised (scatter plots escape every customer id)."""
    text = pd.Series(values, copy=False).astype("string")
    escaped = (
        text.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
        .fillna(_BLANK)
    )
    return escaped.astype(object).tolist()


def _mix(hex_color: str, amount: float) -> str:
    """`hex_color` moved towards white (amount > 0) or black (amount < 0) by |amount|."""
    channels = [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    mixed = [round(c + (target - c) * abs(amount)) for c in channels]
    return "#" + "".join(f"{c:02X}" for c in mixed)


def _qualifier_shade(qualifier: str) -> float:
    if qualifier in _QUALIFIER_SHADES:
        return _QUALIFIER_SHADES[qualifier]
    parts = qualifier.split()  # "spend tier 3 of 7"
    if len(parts) == 5 and parts[:2] == ["spend", "tier"] and parts[2].isdigit() and parts[4].isdigit():
        return 0.7 * (int(parts[2]) - 1) / max(int(parts[4]), 1)
    return 0.0


def segment_color(segment_id: int, name: str | None = None) -> str:
    """The colour of a segment in every chart. A segment named from the R×F map has its name's
    colour (NAME_COLORS) at every K, so "At Risk" is the same red at K=4 and K=5; segments that
    share a name are shades of it ("· high spend" the colour itself, "· low spend" lighter).
    Other names (a saved segmentation's own): the palette by segment id."""
    if name is not None:
        base, _, qualifier = str(name).partition(" · ")
        if base in NAME_COLORS:
            return _mix(NAME_COLORS[base], _qualifier_shade(qualifier)) if qualifier else NAME_COLORS[base]
    return SEGMENT_COLORS[(int(segment_id) - 1) % len(SEGMENT_COLORS)]


def _axis_scale(log: bool) -> dict:
    """Axis settings of a linear or log scale. A log axis is labelled at powers of ten only (1, 10, 100…):
    Plotly's default adds small "2" and "5" labels between them, which read as stray numbers."""
    return dict(type="log", dtick=1, tickformat=",") if log else dict(type="linear")


def _require_feature(name: str, value: str, allowed: Sequence[str] = CUSTOMER_FEATURES) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not a customer feature; choose one of {', '.join(allowed)}.")
    return value


def _positive_for_log(customers: pd.DataFrame, features: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """Customers a log scale can show (every feature > 0), and a note naming those left out."""
    if not features:
        return customers, ""
    keep = np.ones(len(customers), dtype=bool)
    for feature in features:
        keep &= (customers[feature] > 0).to_numpy()
    left_out = int((~keep).sum())
    if not left_out:
        return customers, ""
    names = " or ".join(_SHORT_LABELS.get(f, f).lower() for f in features)
    return customers[keep], f" — {left_out:,} customer(s) with {names} of zero or less not shown on the log scale"


def _segments_in_order(customers: pd.DataFrame) -> list[tuple[int, str]]:
    pairs = customers[["segment_id", "segment"]].drop_duplicates("segment_id").sort_values("segment_id")
    return [(int(i), str(s)) for i, s in zip(pairs["segment_id"], pairs["segment"], strict=True)]


def _sample(customers: pd.DataFrame, max_points: int | None) -> tuple[pd.DataFrame, str]:
    """At most max_points customers (a fixed-seed random sample), and a note saying so."""
    if max_points is None or len(customers) <= max_points:
        return customers, ""
    if max_points < 1:
        raise ValueError(f"max_points={max_points} must be 1 or more (or None for all).")
    sample = customers.sample(n=max_points, random_state=0).sort_index()
    return sample, f" — random sample of {max_points:,} of {len(customers):,} customers"


def _hover_customdata(customers: pd.DataFrame) -> np.ndarray:
    """[escaped id, escaped segment, recency, frequency, monetary, escaped RFM segment] per row."""
    n = len(customers)
    if not n:
        return np.empty((0, 6), dtype=object)
    rfm = customers["rfm_segment"] if "rfm_segment" in customers.columns else pd.Series([""] * n, index=customers.index)
    data = np.empty((n, 6), dtype=object)
    data[:, 0] = _escape_series(customers["customer_id"])
    data[:, 1] = _escape_series(customers["segment"])
    data[:, 2] = customers["recency"].to_numpy()
    data[:, 3] = customers["frequency"].to_numpy()
    data[:, 4] = customers["monetary"].astype(float).round(2).to_numpy()
    data[:, 5] = _escape_series(rfm)
    return data


_CUSTOMER_HOVER = (
    "Customer <b>%{customdata[0]}</b><br>"
    "Segment: %{customdata[1]}<br>"
    "Recency: %{customdata[2]} days<br>"
    "Frequency: %{customdata[3]} purchases<br>"
    "Monetary: %{customdata[4]:,.2f}<br>"
    "RFM score label: %{customdata[5]}"
    "<extra></extra>"
)

_CUSTOMER_COLUMNS = ("customer_id", "segment_id", "segment", "recency", "frequency", "monetary")


# --------------------------------------------------------------------------------------------
# choosing K
# --------------------------------------------------------------------------------------------
def k_scan_figure(
    scan: pd.DataFrame,
    *,
    suggested_k: int | None = None,
    selected_k: int | None = None,
    knee: int | None = None,
) -> go.Figure:
    """Four panels (inertia with its knee marked, silhouette, Calinski-Harabasz, Davies-Bouldin),
    and a fifth when `scan` has a measured ``stability`` column: the mean bootstrap ARI per K with
    its 10th-90th percentile spread (``stability_low``/``stability_high``) as error bars and the
    "stable" threshold as a dashed line.

    The knee is a separate trace named ``Knee (K=n)``; the suggested K is a star marker trace
    in every panel; the selected K is a dotted vertical line in every panel.
    """
    require_frame(scan, "scan", ("k",) + tuple(m for m, _ in SCAN_METRICS))
    scan = scan.sort_values("k").reset_index(drop=True)
    ks = scan["k"].astype(int).tolist()
    for name, value in (("suggested_k", suggested_k), ("selected_k", selected_k), ("knee", knee)):
        if value is not None and int(value) not in ks:
            raise ValueError(f"{name}={value} is not one of the scanned K values ({', '.join(map(str, ks))}).")
    knee_value = int(knee) if knee is not None else elbow_k(scan)
    with_stability = "stability" in scan.columns and scan["stability"].notna().any()
    if with_stability:
        require_frame(scan, "scan", ("stability_low", "stability_high"))
    metrics = SCAN_METRICS + ((STABILITY_METRIC,) if with_stability else ())
    n_rows = 3 if with_stability else 2

    fig = make_subplots(rows=n_rows, cols=2, subplot_titles=[title for _, title in metrics],
                        horizontal_spacing=0.1, vertical_spacing=0.22 if n_rows == 2 else 0.13)
    for index, (metric, title) in enumerate(metrics):
        row, col = index // 2 + 1, index % 2 + 1
        spread = {}
        if metric == "stability":
            values = scan["stability"].to_numpy(dtype=float)
            spread = {"error_y": dict(type="data", symmetric=False, color="#999",
                                      array=(scan["stability_high"].to_numpy(dtype=float) - values).tolist(),
                                      arrayminus=(values - scan["stability_low"].to_numpy(dtype=float)).tolist())}
        fig.add_trace(
            go.Scatter(
                x=ks, y=scan[metric].tolist(), mode="lines+markers", name=title.split(" —")[0],
                line=dict(color="#4477AA"), showlegend=False,
                hovertemplate="K=%{x}<br>" + title.split(" —")[0] + ": %{y:,.3f}<extra></extra>",
                **spread,
            ),
            row=row, col=col,
        )
        if metric == "stability":
            # The dashed line is named in the legend, not by a label on the plot, where the curve or the
            # ticks would run through it.
            fig.add_hline(y=STABLE_THRESHOLD, line_dash="dash", line_color="#228833", row=row, col=col)
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"Stable from {STABLE_THRESHOLD:.2f}",
                                     line=dict(color="#228833", dash="dash"), hoverinfo="skip"), row=row, col=col)
            fig.update_yaxes(range=[min(0.0, float(np.nanmin(scan["stability_low"]))) - 0.02, 1.05],
                             row=row, col=col)
        if suggested_k is not None:
            value = scan.loc[scan["k"] == int(suggested_k), metric].iloc[0]
            fig.add_trace(
                go.Scatter(
                    x=[int(suggested_k)], y=[value], mode="markers", name=f"Suggested (K={int(suggested_k)})",
                    marker=dict(symbol="star", size=16, color="#EE6677", line=dict(width=1, color="#333")),
                    showlegend=index == 0, legendgroup="suggested",
                    hovertemplate="Suggested K=%{x}<extra></extra>",
                ),
                row=row, col=col,
            )
        if selected_k is not None:
            fig.add_vline(x=int(selected_k), line_dash="dot", line_color="#333", row=row, col=col)
        fig.update_xaxes(title_text="K (number of segments)", dtick=1, row=row, col=col)

    knee_inertia = scan.loc[scan["k"] == knee_value, "inertia"].iloc[0]
    fig.add_trace(
        go.Scatter(
            x=[knee_value], y=[knee_inertia], mode="markers+text", name=f"Knee (K={knee_value})",
            text=[f"knee K={knee_value}"], textposition="top right",
            marker=dict(symbol="circle-open", size=20, color="#228833", line=dict(width=3)),
            hovertemplate="Knee of the inertia curve at K=%{x}<extra></extra>",
        ),
        row=1, col=1,
    )
    title = "How well do K segments fit?"
    if selected_k is not None:
        title += f" (dotted line: K={int(selected_k)} in use)"
    fig.update_layout(title=title, height=660 if n_rows == 2 else 960, margin=dict(t=90, l=40, r=20, b=40),
                      legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return fig


# --------------------------------------------------------------------------------------------
# cleaning audit
# --------------------------------------------------------------------------------------------
def audit_figure(audit_table: pd.DataFrame, *, rows_in: int, rows_kept: int, hide_zero: bool = False) -> go.Figure:
    """Waterfall: rows in → rows dropped by each cleaning rule (in rule order) → rows kept.

    Raises ValueError when the numbers do not add up (rows_in − dropped ≠ rows_kept), so a
    silently lost row is a bug that shows, not a picture that lies.
    """
    require_frame(audit_table, "audit_table", ("rule", "label", "rows"), allow_empty=True)
    if rows_in < 0 or rows_kept < 0:
        raise ValueError(f"rows_in={rows_in} and rows_kept={rows_kept} must not be negative.")
    dropped = int(audit_table["rows"].sum())
    if rows_in - dropped != rows_kept:
        raise ValueError(
            f"The audit does not add up: {rows_in:,} rows in − {dropped:,} dropped ≠ {rows_kept:,} kept."
        )
    table = audit_table[audit_table["rows"] > 0] if hide_zero else audit_table
    labels = ["Rows in"] + _escape_series(table["label"]) + ["Rows kept"]
    values = [rows_in] + [-int(v) for v in table["rows"]] + [rows_kept]
    customers = table["customers"].tolist() if "customers" in table.columns else [None] * len(table)
    revenue = table["revenue"].tolist() if "revenue" in table.columns else [None] * len(table)
    custom = [["", ""]] + [
        [f"{int(c):,} customers" if c is not None and not pd.isna(c) else "",
         f"revenue {float(r):,.2f}" if r is not None and not pd.isna(r) else ""]
        for c, r in zip(customers, revenue, strict=True)
    ] + [["", ""]]
    text = [f"{rows_in:,}"] + [f"−{int(v):,}" if v else "0" for v in table["rows"]] + [f"{rows_kept:,}"]
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=labels,
            x=values,
            measure=["absolute"] + ["relative"] * len(table) + ["total"],
            text=text,
            textposition="outside",
            customdata=custom,
            cliponaxis=False,  # the "Rows in" count outside its bar may reach into the right margin
            connector=dict(line=dict(color="#999", width=1)),
            decreasing=dict(marker=dict(color="#EE6677")),
            increasing=dict(marker=dict(color="#228833")),
            totals=dict(marker=dict(color="#4477AA")),
            hovertemplate="%{y}: %{text} rows<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
        )
    )
    share = rows_kept / rows_in if rows_in else 0.0
    fig.update_layout(
        title=f"Cleaning: {rows_in:,} rows in → {rows_kept:,} kept ({share:.1%})",
        yaxis=dict(autorange="reversed", type="category"),
        xaxis=dict(title="rows", range=[0, max(rows_in, 1) * 1.22]),  # room for the labels outside the bars
        height=max(320, 34 * len(labels) + 120),
        margin=dict(l=10, r=80, t=60, b=40),
        showlegend=False,
    )
    return fig


# --------------------------------------------------------------------------------------------
# customers in feature space
# --------------------------------------------------------------------------------------------
def scatter_2d(
    customers: pd.DataFrame,
    *,
    x: str = "recency",
    y: str = "monetary",
    log_x: bool = False,
    log_y: bool = True,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> go.Figure:
    """Customers on two chosen features, one colour (and legend entry) per segment.

    On a log axis, customers with a value of zero or less cannot be drawn: they are left out
    and the title says how many.
    """
    require_frame(customers, "customers", _CUSTOMER_COLUMNS)
    _require_feature("x", x)
    _require_feature("y", y)
    require_frame(customers, "customers", (x, y))
    positive, log_note = _positive_for_log(customers, [f for f, log in ((x, log_x), (y, log_y)) if log])
    shown, note = _sample(positive, max_points)
    note = log_note + note
    fig = go.Figure()
    for segment_id, segment in _segments_in_order(customers):
        part = shown[shown["segment_id"] == segment_id]
        fig.add_trace(
            go.Scatter(
                # Lists, not numpy arrays: Plotly sends an array as a binary block, which plotly.js 4
                # draws ~10x slower here (4,338 customers: 2.5-3.7 s against 0.1-0.5 s, BENCHMARKS.md)
                x=part[x].tolist(), y=part[y].tolist(), mode="markers", name=escape_text(segment),
                marker=dict(color=segment_color(segment_id, segment), size=6, opacity=0.65),
                customdata=_hover_customdata(part), hovertemplate=_CUSTOMER_HOVER,
            )
        )
    fig.update_layout(
        title=f"{_SHORT_LABELS[y]} vs {_SHORT_LABELS[x].lower()}{note}",
        xaxis=dict(title=FEATURE_LABELS[x], **_axis_scale(log_x)),
        yaxis=dict(title=FEATURE_LABELS[y], **_axis_scale(log_y)),
        legend=dict(title="Segment"),
        height=560,
        margin=dict(t=60, l=10, r=10, b=40),
    )
    return fig


def scatter_3d(customers: pd.DataFrame, *, log: bool = True, max_points: int | None = DEFAULT_MAX_POINTS) -> go.Figure:
    """Customers in recency × frequency × monetary space, one colour per segment."""
    require_frame(customers, "customers", _CUSTOMER_COLUMNS)
    positive, log_note = _positive_for_log(customers, ("recency", "frequency", "monetary") if log else ())
    shown, note = _sample(positive, max_points)
    note = log_note + note
    fig = go.Figure()
    for segment_id, segment in _segments_in_order(customers):
        part = shown[shown["segment_id"] == segment_id]
        fig.add_trace(
            go.Scatter3d(
                x=part["recency"].tolist(), y=part["frequency"].tolist(), z=part["monetary"].tolist(),
                mode="markers", name=escape_text(segment),
                marker=dict(color=segment_color(segment_id, segment), size=3, opacity=0.7),
                customdata=_hover_customdata(part), hovertemplate=_CUSTOMER_HOVER,
            )
        )
    fig.update_layout(
        title=f"Recency × frequency × monetary{' (log scales)' if log else ''}{note}",
        scene=dict(
            xaxis=dict(title="Recency (days)", **_axis_scale(log)),
            yaxis=dict(title="Frequency", **_axis_scale(log)),
            zaxis=dict(title="Monetary", **_axis_scale(log)),
            # The default camera puts the cube's corners, and the axis titles on them, at the edge of the
            # figure, where they are cut; from farther away the whole cube and its titles fit.
            camera=dict(eye=dict(x=1.9, y=1.9, z=1.15), center=dict(x=0, y=0, z=-0.08)),
            aspectmode="cube",
        ),
        legend=dict(title="Segment"),
        height=640,
        margin=dict(t=60, l=0, r=0, b=0),
    )
    return fig


# --------------------------------------------------------------------------------------------
# segment profiles
# --------------------------------------------------------------------------------------------
def relative_heatmap(customers: pd.DataFrame, features: Sequence[str] = CUSTOMER_FEATURES) -> go.Figure:
    """Heatmap: rows = segments, columns = features; the printed number is % above/below the
    population mean, the colour says better (blue) or worse (red) than average.

    The colour is the relative value with its sign turned for the features in
    ``LOWER_IS_BETTER`` (recency: fewer days since the last purchase is better), so recent
    buyers are blue although their recency is below average; the printed numbers are not turned.
    """
    require_frame(customers, "customers", ("segment_id", "segment"))
    relative = relative_means(customers, features)
    feats = [c for c in relative.columns if c != "segment"]
    z = relative[feats].to_numpy(dtype=float)
    direction = np.array([-1.0 if f in LOWER_IS_BETTER else 1.0 for f in feats])
    better = z * direction
    means = customers.groupby("segment_id")[feats].mean().astype(float).sort_index().to_numpy()
    population = customers[feats].astype(float).mean().to_numpy()
    custom = np.dstack([means, np.broadcast_to(population, means.shape), z])
    limit = float(np.nanmax(np.abs(z))) if z.size else 1.0
    limit = limit or 1.0
    reversed_names = [_SHORT_LABELS.get(f, f).lower() for f in feats if f in LOWER_IS_BETTER]
    legend = "colour: better / worse<br>than average"
    if reversed_names:
        legend += f"<br>({', '.join(reversed_names)}:<br>lower is better)"
    fig = go.Figure(
        go.Heatmap(
            z=better,
            x=[_SHORT_LABELS.get(f, f) for f in feats],
            y=_escape_series(relative["segment"]),
            customdata=custom,
            text=[[f"{v:+.0%}" for v in row] for row in z],
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            colorbar=dict(title=dict(text=legend), tickvals=[-limit, 0, limit],
                          ticktext=["worse", "average", "better"]),
            hovertemplate="%{y}<br>%{x}: mean %{customdata[0]:,.1f} vs %{customdata[1]:,.1f} overall "
                          "(%{customdata[2]:+.0%})<extra></extra>",
        )
    )
    title = "Segment averages compared with all customers"
    if reversed_names:
        title += f" (blue = better; for {', '.join(reversed_names)} fewer is better)"
    fig.update_layout(
        title=title,
        yaxis=dict(autorange="reversed", type="category"),
        xaxis=dict(type="category"),
        height=max(300, 48 * len(relative) + 140),
        margin=dict(t=60, l=10, r=10, b=40),
    )
    return fig


def snake_plot(customers: pd.DataFrame, features: Sequence[str] = ("recency", "frequency", "monetary"),
               *, log: bool = True) -> go.Figure:
    """Snake plot: one line per segment across the standardised features."""
    for feature in features:
        _require_feature("feature", feature)
    means = standardised_means(customers, features, log=log)
    labels = [_SHORT_LABELS[f] for f in features]
    fig = go.Figure()
    for segment_id, row in means.iterrows():
        fig.add_trace(
            go.Scatter(
                x=labels, y=[float(row[f]) for f in features], mode="lines+markers",
                name=escape_text(row["segment"]),
                line=dict(color=segment_color(int(segment_id), row["segment"]), width=3),
                hovertemplate="%{fullData.name}<br>%{x}: %{y:+.2f} standard deviations<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dot", line_color="#888")
    fig.update_layout(
        title="Snake plot: segments on standardised features (0 = average customer)",
        yaxis=dict(title="standard deviations from the mean" + (" (of log values)" if log else "")),
        xaxis=dict(type="category"),
        legend=dict(title="Segment"),
        height=460,
        margin=dict(t=60, l=10, r=10, b=40),
    )
    return fig


def revenue_share_figure(profiles: pd.DataFrame, *, kind: str = "bar") -> go.Figure:
    """Revenue share by segment: grouped bars (customers vs revenue share) or a treemap."""
    require_frame(profiles, "profiles", ("segment_id", "segment", "customers", "share", "revenue", "revenue_share"))
    if kind not in ("bar", "treemap"):
        raise ValueError(f"kind={kind!r} must be 'bar' or 'treemap'.")
    profiles = profiles.sort_values("segment_id")
    names = _escape_series(profiles["segment"])
    colors = [segment_color(i, n) for i, n in zip(profiles["segment_id"], profiles["segment"], strict=True)]
    custom = np.column_stack([profiles["customers"].to_numpy(dtype=object),
                              profiles["revenue"].astype(float).to_numpy(dtype=object),
                              profiles["share"].astype(float).to_numpy(dtype=object),
                              profiles["revenue_share"].astype(float).to_numpy(dtype=object)])
    hover = ("%{customdata[0]:,} customers (%{customdata[2]:.1%})<br>"
             "revenue %{customdata[1]:,.2f} (%{customdata[3]:.1%})<extra></extra>")
    if kind == "bar":
        fig = go.Figure(
            [
                go.Bar(x=names, y=profiles["share"].tolist(), name="Share of customers",
                       marker=dict(color="#BBBBBB"), customdata=custom,
                       text=[f"{v:.0%}" for v in profiles["share"]], textposition="outside",
                       hovertemplate="%{x}<br>" + hover),
                go.Bar(x=names, y=profiles["revenue_share"].tolist(), name="Share of revenue",
                       marker=dict(color=colors), customdata=custom,
                       text=[f"{v:.0%}" for v in profiles["revenue_share"]], textposition="outside",
                       hovertemplate="%{x}<br>" + hover),
            ]
        )
        fig.update_layout(barmode="group", yaxis=dict(tickformat=".0%", title="share"),
                          xaxis=dict(type="category"),
                          legend=dict(orientation="h", y=1.08, x=1, xanchor="right"))
    else:
        fig = go.Figure(
            go.Treemap(
                labels=names, parents=[""] * len(names), values=profiles["revenue"].clip(lower=0).tolist(),
                marker=dict(colors=colors), customdata=custom,
                texttemplate="%{label}<br>%{customdata[3]:.1%} of revenue",
                hovertemplate="%{label}<br>" + hover,
                sort=False,
            )
        )
    fig.update_layout(title="Who brings the revenue: share of customers vs share of revenue"
                      if kind == "bar" else "Revenue by segment",
                      height=460, margin=dict(t=70, l=10, r=10, b=40))
    return fig


def crosstab_heatmap(customers: pd.DataFrame, *, normalise: bool = True) -> go.Figure:
    """Heatmap of segment × named RFM segment; colour = share of the segment (or counts)."""
    table = segment_crosstab(customers)
    counts = table.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    z = shares if normalise else counts
    names = customers.drop_duplicates("segment_id").set_index("segment_id")["segment"].reindex(table.index)
    custom = np.dstack([counts, shares])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=_escape_series(pd.Series(table.columns)),
            y=_escape_series(names),
            customdata=custom,
            text=[[f"{int(c):,}" if c else "" for c in row] for row in counts],
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar=dict(title="share of segment" if normalise else "customers",
                          tickformat=".0%" if normalise else ","),
            hovertemplate="%{y} × %{x}<br>%{customdata[0]:,} customers (%{customdata[1]:.1%} of the segment)"
                          "<extra></extra>",
        )
    )
    fig.update_layout(
        title="Segments vs their customers' own RFM score labels",
        yaxis=dict(autorange="reversed", type="category"),
        xaxis=dict(type="category", tickangle=-30),
        height=max(320, 46 * len(table) + 180),
        margin=dict(t=60, l=10, r=10, b=80),
    )
    return fig


# --------------------------------------------------------------------------------------------
# migration between two dates (segmentation.migration)
# --------------------------------------------------------------------------------------------
_NEW_COLOR = "#999999"
_MATRIX_COLUMNS = ("from_id", "from", "to_id", "to", "customers", "revenue")


def _flow_color(hex_color: str, alpha: float = 0.45) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def migration_sankey(matrix: pd.DataFrame, *, date_a: str, date_b: str, min_label_share: float = 0.03) -> go.Figure:
    """Sankey of customers from their segment at A (or New, from_id 0) to their segment at B.

    `matrix` has one row per flow (migration.Migration.matrix). Node and link text is escaped
    and passed as data; a link's hover shows its customers and the revenue of [A, B).

    Readable labels: a node is labelled with its segment's name only (the two dates head the two
    columns), in dark text on light, see-through flows; a node holding less than `min_label_share`
    of its column's customers is left unlabelled (its neighbours' labels would overlap it) — its
    hover still names it."""
    require_frame(matrix, "matrix", _MATRIX_COLUMNS)
    sources = matrix[["from_id", "from"]].drop_duplicates().sort_values("from_id")
    targets = matrix[["to_id", "to"]].drop_duplicates().sort_values("to_id")
    left = {int(i): n for n, i in enumerate(sources["from_id"])}
    right = {int(i): len(left) + n for n, i in enumerate(targets["to_id"])}
    size_a = matrix.groupby("from_id")["customers"].sum()
    size_b = matrix.groupby("to_id")["customers"].sum()
    total = max(int(matrix["customers"].sum()), 1)
    names = [escape_text(name) for name in sources["from"]] + [escape_text(name) for name in targets["to"]]
    sizes = [int(size_a[i]) for i in sources["from_id"]] + [int(size_b[i]) for i in targets["to_id"]]
    labels = [name if size / total >= min_label_share else "" for name, size in zip(names, sizes, strict=True)]
    where = ([f"{name} on {date_a}" for name in names[:len(left)]]
             + [f"{name} on {date_b}" for name in names[len(left):]])
    colors = ([_NEW_COLOR if i == 0 else segment_color(i, n) for i, n in zip(sources["from_id"], sources["from"])]
              + [segment_color(i, n) for i, n in zip(targets["to_id"], targets["to"])])
    custom = np.column_stack([matrix["revenue"].astype(float).to_numpy(dtype=object),
                              matrix["customers"].astype(int).to_numpy(dtype=object),
                              [where[left[int(i)]] for i in matrix["from_id"]],
                              [where[right[int(i)]] for i in matrix["to_id"]]])
    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        textfont=dict(color="#1A1A1A", size=13),
        node=dict(label=labels, color=colors, pad=18, thickness=18, customdata=where,
                  line=dict(color="#FFFFFF", width=1),
                  hovertemplate="%{customdata}<br>%{value:,} customers<extra></extra>"),
        link=dict(
            source=[left[int(i)] for i in matrix["from_id"]],
            target=[right[int(i)] for i in matrix["to_id"]],
            value=matrix["customers"].astype(int).tolist(),
            color=[_flow_color(_NEW_COLOR if i == 0 else segment_color(i, n), 0.3)
                   for i, n in zip(matrix["from_id"], matrix["from"])],
            customdata=custom,
            hovertemplate="%{customdata[2]} → %{customdata[3]}<br>%{customdata[1]:,} customers, "
                          "revenue between the dates %{customdata[0]:,.2f}<extra></extra>",
        ),
    ))
    for x, anchor, day in ((0.0, "left", date_a), (1.0, "right", date_b)):
        fig.add_annotation(x=x, y=1.0, xref="paper", yref="paper", xanchor=anchor, yanchor="bottom",
                           text=f"<b>{escape_text(day)}</b>", showarrow=False, font=dict(size=13))
    fig.update_layout(title=f"Where customers went: segments on {escape_text(date_a)} → on {escape_text(date_b)}",
                      height=max(420, 40 * max(len(sources), len(targets)) + 160),
                      margin=dict(t=80, l=10, r=10, b=20))
    return fig


def migration_heatmap(matrix: pd.DataFrame, *, date_a: str, date_b: str) -> go.Figure:
    """The transition matrix as a heatmap: rows = segment at A (New first), columns = segment
    at B; colour = share of the row, text = customers."""
    require_frame(matrix, "matrix", _MATRIX_COLUMNS)
    counts = matrix.pivot_table(index="from_id", columns="to_id", values="customers", aggfunc="sum", fill_value=0)
    counts = counts.sort_index().sort_index(axis=1)
    rows = matrix.drop_duplicates("from_id").set_index("from_id")["from"].reindex(counts.index)
    cols = matrix.drop_duplicates("to_id").set_index("to_id")["to"].reindex(counts.columns)
    values = counts.to_numpy(dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    shares = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    fig = go.Figure(go.Heatmap(
        z=shares,
        x=_escape_series(cols),
        y=_escape_series(rows),
        customdata=np.dstack([values, shares]),
        text=[[f"{int(v):,}" if v else "" for v in row] for row in values],
        texttemplate="%{text}",
        colorscale="Blues",
        zmin=0, zmax=1,
        colorbar=dict(title="share of row", tickformat=".0%"),
        hovertemplate="%{y} → %{x}<br>%{customdata[0]:,} customers (%{customdata[1]:.1%} of the row)"
                      "<extra></extra>",
    ))
    fig.update_layout(title=f"Transition matrix: segment on {date_a} (rows) → segment on {date_b} (columns)",
                      yaxis=dict(autorange="reversed", type="category"),
                      xaxis=dict(type="category", tickangle=-30),
                      height=max(320, 46 * len(counts) + 180), margin=dict(t=60, l=10, r=10, b=80))
    return fig


def segment_trend_figure(trend: pd.DataFrame) -> go.Figure:
    """Customers per segment at each month end as a stacked area chart (migration.trend)."""
    require_frame(trend, "trend", ("month_end", "segment_id", "segment", "customers"))
    fig = go.Figure()
    for (segment_id, name), part in trend.sort_values("month_end").groupby(["segment_id", "segment"], sort=True):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(part["month_end"]).tolist(), y=part["customers"].tolist(), name=escape_text(name),
            mode="lines", stackgroup="segments", line=dict(color=segment_color(segment_id, name), width=1),
            hovertemplate="%{x|%Y-%m-%d}: %{y:,} customers<extra>%{fullData.name}</extra>",
        ))
    fig.update_layout(title="Segment sizes at each month end (one frozen segmentation)",
                      yaxis=dict(title="customers", tickformat=","), xaxis=dict(title="month end"),
                      height=420, margin=dict(t=60, l=10, r=10, b=40),
                      legend=dict(orientation="h", y=-0.2))
    return fig

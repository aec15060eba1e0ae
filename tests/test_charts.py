"""Chart builders: traces, axes, marked points and computed values, on small hand-built frames."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from segmentation import charts, segments
from segmentation.model import elbow_k
from segmentation.settings import CLEANING_RULES, SEGMENT_MAP

EVIL_ID = "<script>alert(1)</script>"
EVIL_IMG = '<img src=x onerror="alert(2)">'


def make_customers() -> pd.DataFrame:
    """Six customers in three segments; features chosen so means are easy to check by hand."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", EVIL_ID, "c4", EVIL_IMG, "c6"],
            "recency": [10, 30, 100, 200, 300, 500],
            "frequency": [10, 6, 3, 2, 1, 1],
            "monetary": [1000.0, 800.0, 300.0, 200.0, 100.0, 50.0],
            "tenure": [300, 250, 120, 100, 0, 0],
            "avg_order_value": [100.0, 133.3, 100.0, 100.0, 100.0, 50.0],
            "rfm_segment": ["Champions", "Loyal Customers", "Need Attention", "At Risk", "Hibernating", "Hibernating"],
            "country": ["United Kingdom", "France", "<b>Bold</b>", "France", None, "France"],
            "segment_id": [1, 1, 2, 2, 3, 3],
            "segment": ["Champions", "Champions", "At Risk <i>x</i>", "At Risk <i>x</i>", "Hibernating", "Hibernating"],
            "action": ["a", "a", "b", "b", "c", "c"],
        }
    )


def make_scan() -> pd.DataFrame:
    ks = list(range(2, 9))
    inertia = [1000.0, 520.0, 300.0, 260.0, 230.0, 210.0, 195.0]  # clear knee at K=4
    return pd.DataFrame(
        {
            "k": ks,
            "inertia": inertia,
            "silhouette": [0.40, 0.42, 0.45, 0.41, 0.38, 0.36, 0.35],
            "calinski_harabasz": [900.0, 1100.0, 1300.0, 1250.0, 1200.0, 1150.0, 1100.0],
            "davies_bouldin": [0.9, 0.85, 0.7, 0.8, 0.85, 0.9, 0.95],
        }
    )


def make_profiles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment_id": [2, 1, 3],
            "segment": ["At Risk", "Champions", "Hibernating <script>"],
            "customers": [20, 10, 70],
            "share": [0.2, 0.1, 0.7],
            "revenue": [300.0, 600.0, 100.0],
            "revenue_share": [0.3, 0.6, 0.1],
        }
    )


def figure_json(fig: go.Figure) -> str:
    """The figure as the browser's Plotly sees it (to_json writes '<' as \\u003c; decode that)."""
    return json.dumps(json.loads(fig.to_json()), ensure_ascii=False)


def test_figure_json_would_catch_raw_html():
    raw = go.Figure(go.Scatter(x=[1], y=[1], name=EVIL_ID))
    assert EVIL_ID in figure_json(raw)


# ------------------------------------------------------------------------------------------
# escaping
# ------------------------------------------------------------------------------------------
def test_escape_text_escapes_tags_and_marks_blanks():
    assert charts.escape_text("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"
    assert charts.escape_text("Can't Lose Them") == "Can't Lose Them"
    assert charts.escape_text(None) == "(blank)"
    assert charts.escape_text(float("nan")) == "(blank)"
    assert charts.escape_text(17850) == "17850"


@pytest.mark.parametrize(
    "build",
    [
        lambda c: charts.scatter_2d(c, x="recency", y="monetary", log_y=True),
        lambda c: charts.scatter_3d(c, log=True),
        lambda c: charts.relative_heatmap(c),
        lambda c: charts.snake_plot(c),
        lambda c: charts.crosstab_heatmap(c),
    ],
    ids=["scatter_2d", "scatter_3d", "relative_heatmap", "snake", "crosstab"],
)
def test_user_text_never_reaches_a_figure_as_html(build):
    text = figure_json(build(make_customers()))
    for raw in (EVIL_ID, EVIL_IMG, "<i>x</i>", "<script", "<img", "<i>", "<b>Bold"):
        assert raw not in text


def test_scatter_hover_carries_escaped_ids():
    fig = charts.scatter_2d(make_customers(), log_y=False)
    ids = [row[0] for trace in fig.data for row in trace.customdata]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ids
    assert '&lt;img src=x onerror="alert(2)"&gt;' in ids
    assert "c1" in ids
    assert all("customdata[0]" in trace.hovertemplate for trace in fig.data)
    # Segment names in the legend are escaped too.
    assert "At Risk &lt;i&gt;x&lt;/i&gt;" in [trace.name for trace in fig.data]


def test_revenue_share_and_treemap_escape_segment_names():
    for kind in ("bar", "treemap"):
        text = figure_json(charts.revenue_share_figure(make_profiles(), kind=kind))
        assert "<script>" not in text
        assert "Hibernating &lt;script&gt;" in text


# ------------------------------------------------------------------------------------------
# K scan
# ------------------------------------------------------------------------------------------
def test_knee_is_marked_at_the_elbow():
    scan = make_scan()
    assert elbow_k(scan) == 4
    fig = charts.k_scan_figure(scan)
    knee = [t for t in fig.data if t.name and t.name.startswith("Knee")]
    assert len(knee) == 1
    assert list(knee[0].x) == [4]
    assert list(knee[0].y) == [300.0]
    assert knee[0].xaxis == "x"  # drawn on the inertia panel


def test_k_scan_has_four_panels_and_marks_suggested_and_selected():
    fig = charts.k_scan_figure(make_scan(), suggested_k=4, selected_k=6)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 4
    assert {t.xaxis for t in lines} == {"x", "x2", "x3", "x4"}
    stars = [t for t in fig.data if t.name == "Suggested (K=4)"]
    assert len(stars) == 4 and all(list(t.x) == [4] for t in stars)
    assert sum(1 for t in stars if t.showlegend) == 1
    vlines = [s for s in fig.layout.shapes if s.x0 == 6 and s.x1 == 6]
    assert len(vlines) == 4
    titles = [a.text for a in fig.layout.annotations]
    assert any("silhouette" in t for t in titles) and any("Davies-Bouldin" in t for t in titles)


def test_k_scan_rejects_unknown_k_and_missing_columns():
    with pytest.raises(ValueError, match="suggested_k=12"):
        charts.k_scan_figure(make_scan(), suggested_k=12)
    with pytest.raises(ValueError, match="silhouette"):
        charts.k_scan_figure(make_scan().drop(columns="silhouette"))
    with pytest.raises(ValueError, match="DataFrame"):
        charts.k_scan_figure([1, 2, 3])


def test_k_scan_order_does_not_matter():
    shuffled = make_scan().sample(frac=1.0, random_state=3)
    assert elbow_k(shuffled) == 4
    line = charts.k_scan_figure(shuffled).data[0]
    assert list(line.x) == sorted(line.x)


# ------------------------------------------------------------------------------------------
# audit
# ------------------------------------------------------------------------------------------
def make_audit(rows: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule": [r.name for r in CLEANING_RULES],
            "label": [r.label for r in CLEANING_RULES],
            "rows": rows,
            "customers": [r // 10 for r in rows],
            "revenue": [r * 1.5 for r in rows],
        }
    )


def test_audit_waterfall_goes_from_rows_in_to_rows_kept():
    rows = [5, 0, 100, 10, 0, 20, 0, 3, 0, 0, 0]  # one per rule, in order
    fig = charts.audit_figure(make_audit(rows), rows_in=1000, rows_kept=862)
    (trace,) = fig.data
    assert trace.type == "waterfall"
    assert list(trace.y)[0] == "Rows in" and list(trace.y)[-1] == "Rows kept"
    assert list(trace.y)[1:-1] == [r.label for r in CLEANING_RULES]
    assert list(trace.measure) == ["absolute"] + ["relative"] * len(CLEANING_RULES) + ["total"]
    assert list(trace.x)[1:-1] == [-r for r in rows]
    assert "862" in fig.layout.title.text


def test_audit_hide_zero_keeps_only_rules_that_dropped_rows():
    rows = [5, 0, 100, 10, 0, 20, 0, 3, 0, 0, 0]  # one per rule, in order
    fig = charts.audit_figure(make_audit(rows), rows_in=1000, rows_kept=862, hide_zero=True)
    assert len(fig.data[0].y) == 2 + sum(1 for r in rows if r)


def test_audit_that_does_not_add_up_is_refused():
    with pytest.raises(ValueError, match="does not add up"):
        charts.audit_figure(make_audit([1] * len(CLEANING_RULES)), rows_in=100, rows_kept=100)


# ------------------------------------------------------------------------------------------
# scatter plots
# ------------------------------------------------------------------------------------------
def test_scatter_2d_one_trace_per_segment_with_chosen_axes_and_scales():
    fig = charts.scatter_2d(make_customers(), x="frequency", y="monetary", log_x=True, log_y=False)
    assert len(fig.data) == 3
    assert [len(t.x) for t in fig.data] == [2, 2, 2]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "linear"
    assert "Frequency" in fig.layout.xaxis.title.text
    assert list(fig.data[0].x) == [10, 6]
    assert fig.data[0].marker.color == charts.NAME_COLORS["Champions"]


@pytest.mark.parametrize("segment_id, name, color", [
    (4, "At Risk", "#EE6677"),  # the name's colour whatever the segment's number (K)
    (2, "At Risk", "#EE6677"),
    (1, "Champions · high spend", "#228833"),
    (3, "Champions · low spend", "#90C499"),  # a lighter shade of the same colour
    (5, "Hibernating · spend tier 1 of 6", "#999933"),
    (2, "A saved segmentation's own name", charts.SEGMENT_COLORS[1]),
    (2, None, charts.SEGMENT_COLORS[1]),
])
def test_a_segment_keeps_its_names_colour_at_every_k(segment_id, name, color):
    assert charts.segment_color(segment_id, name) == color


def test_segments_sharing_a_name_get_different_shades():
    names = [f"Hibernating · {q}" for q in ("top spend", "high spend", "mid spend", "low spend", "lowest spend")]
    assert len({charts.segment_color(i, n) for i, n in enumerate(names, start=1)}) == 5


def test_scatter_2d_log_scale_leaves_out_zeros_and_says_so():
    fig = charts.scatter_2d(make_customers(), x="tenure", log_x=True, log_y=False)
    assert sum(len(t.x) for t in fig.data) == 4  # two customers have tenure 0
    assert "2 customer(s) with tenure of zero or less not shown" in fig.layout.title.text
    linear = charts.scatter_2d(make_customers(), x="tenure", log_x=False, log_y=False)
    assert sum(len(t.x) for t in linear.data) == 6 and "not shown" not in linear.layout.title.text
    with pytest.raises(ValueError, match="not a customer feature"):
        charts.scatter_2d(make_customers(), x="customer_id")


def test_scatter_2d_samples_large_tables_and_says_so():
    big = pd.concat([make_customers()] * 50, ignore_index=True)
    fig = charts.scatter_2d(big, max_points=100)
    assert sum(len(t.x) for t in fig.data) == 100
    assert "sample of 100 of 300" in fig.layout.title.text
    again = charts.scatter_2d(big, max_points=100)
    assert [list(t.x) for t in fig.data] == [list(t.x) for t in again.data]  # fixed seed


def test_scatter_3d_axes_are_rfm_with_log_types():
    fig = charts.scatter_3d(make_customers(), log=True)
    assert len(fig.data) == 3 and all(t.type == "scatter3d" for t in fig.data)
    assert fig.layout.scene.xaxis.type == "log" and fig.layout.scene.zaxis.type == "log"
    assert list(fig.data[0].z) == [1000.0, 800.0]
    linear = charts.scatter_3d(make_customers(), log=False)
    assert linear.layout.scene.yaxis.type == "linear"


# ------------------------------------------------------------------------------------------
# profiles
# ------------------------------------------------------------------------------------------
def test_relative_heatmap_prints_the_relative_values():
    customers = make_customers()
    fig = charts.relative_heatmap(customers)
    (trace,) = fig.data
    assert trace.type == "heatmap"
    expected = segments.relative_means(customers)[list(charts.CUSTOMER_FEATURES)].to_numpy()
    printed = np.array([[float(cell.rstrip("%")) / 100 for cell in row] for row in trace.text])
    np.testing.assert_allclose(printed, expected, atol=0.005)
    np.testing.assert_allclose(np.asarray(trace.customdata)[:, :, 2], expected)  # hover: unturned
    assert trace.zmid == 0
    assert list(trace.y) == ["Champions", "At Risk &lt;i&gt;x&lt;/i&gt;", "Hibernating"]


@pytest.mark.parametrize(
    ("feature", "better_segment", "worse_segment"),
    [("recency", 1, 3), ("frequency", 1, 3), ("monetary", 1, 3)],
    ids=["recency-fewer-days-is-better", "frequency-more-is-better", "monetary-more-is-better"],
)
def test_relative_heatmap_colours_better_blue_and_worse_red(feature, better_segment, worse_segment):
    customers = make_customers()  # segment 1: recent, frequent, big spenders; segment 3: long gone
    fig = charts.relative_heatmap(customers)
    (trace,) = fig.data
    column = list(charts.CUSTOMER_FEATURES).index(feature)
    z = np.asarray(trace.z, dtype=float)
    # RdBu runs red (low) to blue (high): better than average must be positive, worse negative.
    assert z[better_segment - 1, column] > 0
    assert z[worse_segment - 1, column] < 0
    low, high = (tuple(int(v) for v in colour[4:-1].split(",")) for colour in
                 (trace.colorscale[0][1], trace.colorscale[-1][1]))
    assert low[0] > low[2] and high[2] > high[0]  # low end red, high end blue
    assert list(trace.colorbar.ticktext) == ["worse", "average", "better"]
    assert "recency" in trace.colorbar.title.text and "lower is better" in trace.colorbar.title.text


def test_relative_heatmap_turns_only_recency():
    customers = make_customers()
    (trace,) = charts.relative_heatmap(customers).data
    relative = segments.relative_means(customers)[list(charts.CUSTOMER_FEATURES)].to_numpy()
    signs = [-1.0 if f == "recency" else 1.0 for f in charts.CUSTOMER_FEATURES]
    np.testing.assert_allclose(np.asarray(trace.z, dtype=float), relative * np.array(signs))


def test_snake_plot_lines_are_standardised_means():
    customers = make_customers()
    fig = charts.snake_plot(customers, log=False)
    assert len(fig.data) == 3
    recency = customers["recency"].astype(float)
    z = (recency - recency.mean()) / recency.std(ddof=0)
    assert fig.data[0].y[0] == pytest.approx(z[:2].mean())
    # Standardised means weighted by segment size sum to zero for each feature.
    means = segments.standardised_means(customers, log=True)
    assert means["monetary"].mean() == pytest.approx(0.0, abs=1e-12)


def test_revenue_share_bar_and_treemap():
    bar = charts.revenue_share_figure(make_profiles(), kind="bar")
    assert [t.type for t in bar.data] == ["bar", "bar"]
    assert list(bar.data[1].y) == [0.6, 0.3, 0.1]  # ordered by segment_id
    assert list(bar.data[0].y) == [0.1, 0.2, 0.7]
    tree = charts.revenue_share_figure(make_profiles(), kind="treemap")
    assert tree.data[0].type == "treemap"
    assert list(tree.data[0].values) == [600.0, 300.0, 100.0]
    with pytest.raises(ValueError, match="kind"):
        charts.revenue_share_figure(make_profiles(), kind="pie")


def test_crosstab_counts_and_heatmap():
    customers = make_customers()
    table = segments.segment_crosstab(customers)
    assert list(table.columns) == [name for name, _, _ in SEGMENT_MAP]
    assert table.loc[3, "Hibernating"] == 2
    assert table.loc[1, "Champions"] == 1 and table.loc[1, "Loyal Customers"] == 1
    assert int(table.to_numpy().sum()) == len(customers)
    fig = charts.crosstab_heatmap(customers, normalise=True)
    z = np.asarray(fig.data[0].z, dtype=float)
    np.testing.assert_allclose(z.sum(axis=1), [1.0, 1.0, 1.0])
    counts = charts.crosstab_heatmap(customers, normalise=False)
    assert np.asarray(counts.data[0].z, dtype=float).sum() == len(customers)


def _axis_title(layout: dict, axis: str) -> str | None:
    where = layout["scene"] if axis.startswith("scene.") else layout
    return (where.get(axis.removeprefix("scene."), {}).get("title") or {}).get("text")


def _points(trace: dict) -> int:
    if trace["type"] == "heatmap":
        z = trace["z"]  # Plotly writes a numpy matrix as a typed array: {"dtype", "bdata", "shape": "3, 5"}
        return int(np.prod([int(n) for n in z["shape"].split(",")])) if isinstance(z, dict) else len(z) * len(z[0])
    return len(trace.get("x") or trace.get("labels") or [])


# (builder, points per trace, axis titles) as the browser gets them, from the JSON.
SERIALISED = [
    (lambda c: charts.k_scan_figure(make_scan(), suggested_k=4, selected_k=4),
     [7, 1] * 4 + [1],  # a line of 7 K values and the suggested K on each of 4 panels; the knee
     {"xaxis": "K (number of segments)", "xaxis4": "K (number of segments)"}),
    (lambda c: charts.scatter_2d(c, x="recency", y="monetary"), [2, 2, 2],
     {"xaxis": "Recency (days since last purchase)", "yaxis": "Monetary (total spend)"}),
    (lambda c: charts.scatter_3d(c), [2, 2, 2],
     {"scene.xaxis": "Recency (days)", "scene.yaxis": "Frequency", "scene.zaxis": "Monetary"}),
    (lambda c: charts.relative_heatmap(c), [3 * 5], {}),  # 3 segments × 5 features
    (lambda c: charts.snake_plot(c), [3, 3, 3], {"yaxis": "standard deviations from the mean (of log values)"}),
    (lambda c: charts.crosstab_heatmap(c), [3 * len(SEGMENT_MAP)], {}),
    (lambda c: charts.revenue_share_figure(make_profiles()), [3, 3], {"yaxis": "share"}),
]


@pytest.mark.parametrize("build, points, titles", SERIALISED,
                         ids=["k_scan", "scatter_2d", "scatter_3d", "relative_heatmap", "snake", "crosstab",
                              "revenue_share"])
def test_figures_serialise_to_json_with_their_content(build, points, titles):
    figure = json.loads(build(make_customers()).to_json())
    assert [_points(trace) for trace in figure["data"]] == points  # trace count and data length
    for axis, title in titles.items():
        assert _axis_title(figure["layout"], axis) == title
    assert figure["layout"]["title"]["text"]


# ------------------------------------------------------------------------------------------ cosmetics
def test_log_axes_are_labelled_at_powers_of_ten_only():
    flat = charts.scatter_2d(make_customers(), log_x=False, log_y=True)
    assert flat.layout.yaxis.dtick == 1 and flat.layout.xaxis.dtick is None
    scene = charts.scatter_3d(make_customers(), log=True).layout.scene
    assert (scene.xaxis.dtick, scene.yaxis.dtick, scene.zaxis.dtick) == (1, 1, 1)
    assert charts.scatter_3d(make_customers(), log=False).layout.scene.xaxis.dtick is None


def test_3d_camera_leaves_room_for_the_axis_titles():
    eye = charts.scatter_3d(make_customers()).layout.scene.camera.eye
    assert (eye.x ** 2 + eye.y ** 2 + eye.z ** 2) ** 0.5 > 1.25 * 3 ** 0.5  # farther than Plotly's default


def test_cleaning_chart_counts_are_not_clipped():
    fig = charts.audit_figure(make_audit([0] * len(CLEANING_RULES)), rows_in=541_909, rows_kept=541_909)
    assert fig.data[0].cliponaxis is False and fig.layout.margin.r >= 60

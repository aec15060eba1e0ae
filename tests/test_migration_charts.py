"""Figures of the Changes page: Sankey, transition heatmap, trend (arguments checked, text escaped)."""
from datetime import date

import pandas as pd
import pytest

from segmentation import charts

MATRIX = pd.DataFrame({
    "from_id": [0, 0, 1, 1, 2],
    "from": ["New", "New", "<b>Champions</b>", "<b>Champions</b>", "At Risk"],
    "to_id": [1, 2, 1, 2, 2],
    "to": ["<b>Champions</b>", "At Risk", "<b>Champions</b>", "At Risk", "At Risk"],
    "customers": [3, 1, 10, 4, 6],
    "row_share": [0.75, 0.25, 10 / 14, 4 / 14, 1.0],
    "revenue": [30.0, 5.0, 500.0, 20.0, 0.0],
})


def test_sankey_has_a_node_per_segment_and_date_and_a_link_per_flow():
    fig = charts.migration_sankey(MATRIX, date_a="2011-09-01", date_b="2011-12-10")
    sankey = fig.data[0]
    assert list(sankey.node.label) == ["New", "&lt;b&gt;Champions&lt;/b&gt;", "At Risk",
                                       "&lt;b&gt;Champions&lt;/b&gt;", "At Risk"]
    assert list(sankey.node.customdata) == ["New on 2011-09-01", "&lt;b&gt;Champions&lt;/b&gt; on 2011-09-01",
                                            "At Risk on 2011-09-01", "&lt;b&gt;Champions&lt;/b&gt; on 2011-12-10",
                                            "At Risk on 2011-12-10"]
    assert [a.text for a in fig.layout.annotations] == ["<b>2011-09-01</b>", "<b>2011-12-10</b>"]
    assert list(sankey.link.source) == [0, 0, 1, 1, 2] and list(sankey.link.target) == [3, 4, 3, 4, 4]
    assert sum(sankey.link.value) == MATRIX["customers"].sum()
    assert "<b>" not in fig.to_json()


def test_sankey_labels_are_dark_and_small_nodes_unlabelled():
    # New holds 4 of 24 customers at A (17 %), At Risk 6 (25 %): with a 20 % floor New loses its label.
    sankey = charts.migration_sankey(MATRIX, date_a="A", date_b="B", min_label_share=0.2).data[0]
    assert list(sankey.node.label)[:3] == ["", "&lt;b&gt;Champions&lt;/b&gt;", "At Risk"]
    assert sankey.node.customdata[0] == "New on A"  # still named on hover
    assert sankey.textfont.color == "#1A1A1A"
    assert all(color.endswith(",0.3)") for color in sankey.link.color)  # light flows behind the text


def test_heatmap_rows_are_shares_of_the_segment_at_a():
    fig = charts.migration_heatmap(MATRIX, date_a="A", date_b="B")
    heat = fig.data[0]
    assert [round(sum(row), 9) for row in heat.z] == [1.0, 1.0, 1.0]
    assert list(heat.y) == ["New", "&lt;b&gt;Champions&lt;/b&gt;", "At Risk"]
    assert [list(row) for row in heat.text] == [["3", "1"], ["10", "4"], ["", "6"]]


def test_trend_is_one_stacked_area_per_segment():
    trend = pd.DataFrame({"month_end": [date(2011, 1, 31), date(2011, 1, 31), date(2011, 2, 28), date(2011, 2, 28)],
                          "segment_id": [1, 2, 1, 2], "segment": ["A", "B", "A", "B"], "customers": [5, 7, 6, 9]})
    fig = charts.segment_trend_figure(trend)
    assert [trace.name for trace in fig.data] == ["A", "B"]
    assert all(trace.stackgroup == "segments" for trace in fig.data)
    assert list(fig.data[1].y) == [7, 9]


@pytest.mark.parametrize(
    ("builder", "frame", "message"),
    [
        (lambda f: charts.migration_sankey(f, date_a="a", date_b="b"), MATRIX.drop(columns="revenue"),
         "matrix has no column 'revenue'"),
        (lambda f: charts.migration_heatmap(f, date_a="a", date_b="b"), MATRIX.iloc[:0], "matrix is empty"),
        (charts.segment_trend_figure, MATRIX, "trend has no column 'month_end'"),
    ],
    ids=["sankey-missing-column", "heatmap-empty", "trend-wrong-frame"],
)
def test_bad_arguments_are_refused(builder, frame, message):
    with pytest.raises(ValueError, match=message):
        builder(frame)

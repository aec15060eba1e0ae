"""The Changes page and the saved segmentation in the app (AppTest, checked: no exception and no
error element after any run unless expected), presets move the first date and change the Sankey, a flow downloads
with the right number of customers, a saved file replaces the fit until "Fit new segments"."""
from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from segmentation import formats, saved
from tests.app.app_helpers import results, texts
from ui import migration as changes

PAGE = "views/changes.py"


def _checked(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _sankey(at: AppTest) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    (sankey,) = [spec for spec in specs if spec["data"][0]["type"] == "sankey"]
    return sankey["data"][0]


@pytest.fixture
def changes_page(app: AppTest) -> AppTest:
    app.switch_page(PAGE).run()
    return _checked(app)


def _migration(at: AppTest):
    outcome = results(at)
    a, b = at.date_input(key="w_changes_a").value, at.date_input(key="w_changes_b").value
    return changes.compare(outcome, a, b, None)


def test_opens_on_the_last_90_days_with_a_sankey_heatmap_and_trend(changes_page):
    at = changes_page
    snapshot = results(at).prepared.snapshot
    assert at.date_input(key="w_changes_b").value == snapshot
    assert at.date_input(key="w_changes_a").value == snapshot - timedelta(days=90)
    kinds = sorted(json.loads(chart.proto.spec)["data"][0]["type"] for chart in at.get("plotly_chart"))
    assert kinds[0] == "heatmap" and "sankey" in kinds and "scatter" in kinds
    moved = _migration(at)
    assert sum(_sankey(at)["link"]["value"]) == len(moved.customers)
    assert "New customers" in [m.label for m in at.metric]


@pytest.mark.parametrize("days", [30, 180, 365])
def test_presets_move_the_first_date_and_change_the_sankey(changes_page, days):
    at = changes_page
    before = _sankey(at)
    at.segmented_control(key="w_changes_preset").set_value(days).run()
    _checked(at)
    snapshot = results(at).prepared.snapshot
    assert at.date_input(key="w_changes_a").value == snapshot - timedelta(days=days)
    after = _sankey(at)
    assert after["link"]["value"] != before["link"]["value"]
    moved = _migration(at)
    assert sum(after["link"]["value"]) == len(moved.customers)
    assert after["node"]["customdata"][0].endswith(f" on {formats.day(snapshot - timedelta(days=days))}")


def test_changes_speak_of_the_segments_page_segments_whatever_the_first_date(changes_page):
    """The 365-day preset once fitted its own segments on the customers of a year ago (no Champions
    at all); the page now applies the segments of the Segments page on both dates."""
    at = changes_page
    at.segmented_control(key="w_changes_preset").set_value(365).run()
    _checked(at)
    outcome = results(at)
    on_screen = dict(zip(outcome.segmentation().profiles["segment_id"], outcome.segmentation().profiles["segment"]))
    moved = _migration(at)
    assert not moved.fitted_at_a and moved.segmentation.names() == on_screen
    assert set(moved.sizes["segment"]) <= set(on_screen.values())
    assert any("segments of the Segments page" in c.value for c in at.caption)


def test_a_flow_downloads_its_customers(changes_page):
    at = changes_page
    moved = _migration(at)
    flow = moved.matrix[moved.matrix["from_id"] != moved.matrix["to_id"]].sort_values("customers").iloc[-1]
    choice = (flow["from"], flow["to"])
    at.selectbox(key="w_changes_flow").set_value(choice).run()
    _checked(at)
    (button,) = [b for b in at.get("download_button") if b.proto.label.startswith("Download these")]
    assert f"Download these {int(flow['customers']):,} customers" in button.proto.label
    table = at.dataframe[-1].value
    assert len(table) == flow["customers"] and set(table["segment_b"]) == {flow["to"]}
    lines = changes.flow_csv(moved, *choice).decode().splitlines()
    assert len(lines) == 1 + flow["customers"]
    assert lines[0].startswith("customer_id,segment_id_a,segment_a,segment_id_b,segment_b,revenue_between")


def test_dates_in_the_wrong_order_are_one_error_and_nothing_else(changes_page):
    at = changes_page
    snapshot = results(at).prepared.snapshot
    with at.expecting_errors():
        at.date_input(key="w_changes_a").set_value(snapshot).run()
    assert not at.exception
    assert len(at.error) == 1 and "must be before the second" in at.error[0].value
    assert not at.get("plotly_chart")


def test_use_a_saved_segmentation_then_fit_new_segments(app):
    outcome = results(app)
    fitted = outcome.segmentation()
    document = saved.from_segmentation(fitted, snapshot=outcome.prepared.snapshot, seed=outcome.seed)
    other = saved.loads(document.to_json())  # through JSON, as a download and an upload would
    app.switch_page("views/choose_k.py").run()
    app.file_uploader(key="w_saved_upload").set_value(("seg.json", other.to_json().encode(), "application/json"))
    app.run()
    _checked(app)
    assert "comes from the saved segmentation seg.json" in texts(app)
    assert app.select_slider(key="w_k_page").disabled
    applied = results(app).segmentation()
    pd.testing.assert_series_equal(applied.customers["segment_id"].reset_index(drop=True),
                                   fitted.customers["segment_id"].reset_index(drop=True))
    app.switch_page(PAGE).run()
    _checked(app)
    assert "Segments of the saved segmentation seg.json" in texts(app)
    app.switch_page("views/choose_k.py").run()
    app.button(key="w_fit_new").click().run()
    _checked(app)
    assert "comes from the saved segmentation" not in texts(app)
    assert not app.select_slider(key="w_k_page").disabled


def test_a_bad_saved_file_is_an_error_and_the_segments_stay(app):
    before = results(app).segmentation().profiles
    app.switch_page("views/choose_k.py").run()
    with app.expecting_errors():
        app.file_uploader(key="w_saved_upload").set_value(("bad.json", b'{"format": "segmenter.segmentation/9"}',
                                                          "application/json"))
        app.run()
    assert not app.exception
    assert len(app.error) == 1 and "version 9 of the format" in app.error[0].value
    pd.testing.assert_frame_equal(results(app).segmentation().profiles, before)
    assert not app.select_slider(key="w_k_page").disabled

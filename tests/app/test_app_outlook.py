"""The Outlook page and the predictions on the other pages, through AppTest (every run: no exception,
no error element): the numbers on screen are the library's for the same data."""
from __future__ import annotations

import re
from collections import OrderedDict

import pandas as pd
import pytest

from segmentation import columns, outlook, pipeline
from segmentation.prediction import predict_prepared, segment_outlook, with_prediction_columns
from tests.app.app_helpers import FORMULA_ID, by_key_prefix, demo_with_a_lapsed_customer, results, texts, to_csv, upload
from ui import prediction as predicting
from ui import stability as stability_checks
from ui.session import DEMO_ROWS, DEMO_SEED

OUTLOOK = "views/outlook.py"


def metric(at, label: str) -> str:
    (found,) = [m.value for m in at.metric if m.label == label]
    return found


def lapsing_button(at):
    (button,) = [b for b in at.get("download_button") if b.proto.label.startswith("Download these")]
    return button


@pytest.fixture(scope="module")
def expected():
    """The library's prediction of the app's demo data, made directly (not through the app)."""
    loaded = pipeline.demo_file(DEMO_ROWS, seed=DEMO_SEED)
    prepared = pipeline.prepare(loaded, columns.resolve_roles(loaded.table, {}), with_products=False)
    return predict_prepared(prepared, predicting.HORIZON_DAYS, backtest=True)


@pytest.fixture
def outlook_page(app):
    app.switch_page(OUTLOOK).run()
    return app


def test_outlook_is_in_the_menu_and_shows_the_library_s_prediction(outlook_page, expected):
    at = outlook_page
    assert at.title[0].value == "Outlook: what comes next"
    segmented = results(at).segmentation().customers
    per_segment = segment_outlook(expected, segmented)
    assert metric(at, "Predicted revenue, next 90 days") == f"{per_segment['predicted_revenue'].sum():,.2f}"
    assert metric(at, "Customers likely inactive") == f"{int((expected.customers['p_alive'] < 0.5).sum()):,}"
    table = at.dataframe[0].value
    assert table["segment"].tolist() == per_segment.sort_values("segment_id")["segment"].tolist()
    assert table["revenue_share"].sum() == pytest.approx(1.0)
    drawn = at.get("plotly_chart")
    assert len(drawn) == 3  # revenue per segment, the matrix, the backtest


def test_the_backtest_is_told_in_words_with_the_library_s_totals(outlook_page, expected):
    shown = texts(outlook_page)
    backtest = expected.backtest
    assert backtest is not None  # the demo data spans a year: 90 days can be held out
    assert "How good were these predictions 90 days ago, on your data?" in shown
    assert outlook.backtest_in_words(backtest) in shown
    assert f"they made {backtest.actual_purchases:,.0f}" in shown


def test_a_longer_horizon_predicts_more_revenue(outlook_page):
    at = outlook_page
    totals = {}
    for days in predicting.OUTLOOK_HORIZONS:
        at.segmented_control(key="w_outlook_horizon").set_value(days).run()
        totals[days] = float(metric(at, f"Predicted revenue, next {days} days").replace(",", ""))
    assert 0 < totals[30] < totals[90] < totals[365]


def test_the_lapsing_list_follows_the_marketer_s_thresholds(outlook_page, expected):
    at = outlook_page
    customers = with_prediction_columns(results(at).segmentation().customers, expected)
    counts = []
    for below in (0.2, 0.5, 0.8):
        at.select_slider(key="w_outlook_p_alive_below").set_value(below).run()
        wanted = outlook.lapsing_customers(customers, p_alive_below=below, top_value_share=0.2)
        table = at.dataframe[1].value
        assert table["customer_id"].tolist() == wanted["customer_id"].tolist()
        assert f"Download these {len(wanted):,} customers" in lapsing_button(at).proto.label
        counts.append(len(wanted))
    assert counts == sorted(counts) and counts[-1] > 0
    at.select_slider(key="w_outlook_top_share").set_value(1.0).run()
    assert len(at.dataframe[1].value) >= counts[-1]


def test_cards_and_customers_table_show_the_prediction_once_computed(outlook_page, expected):
    at = outlook_page  # the Outlook page computed it; every later run shows it
    at.switch_page("views/segments.py").run()
    per_segment = segment_outlook(expected, results(at).segmentation().customers)
    lines = [m.value for m in at.markdown if m.value.startswith("Next 90 days: predicted revenue")]
    assert lines == [f"Next 90 days: predicted revenue **{r.predicted_revenue:,.2f}** ({r.revenue_share:.0%}) · "
                     f"chance still active **{r.mean_p_alive:.0%}** on average"
                     for r in per_segment.sort_values("segment_id").itertuples()]
    at.switch_page("views/customers.py").run()
    table = at.dataframe[0].value
    shown = table.set_index("customer_id")[["p_alive", "predicted_revenue"]].sort_index()
    library = expected.customers.set_index("customer_id")[["p_alive", "predicted_revenue"]]
    pd.testing.assert_frame_equal(shown, library.loc[shown.index], check_dtype=False)


def one_time_buyers() -> bytes:
    """Twelve customers with one purchase each: nothing to fit purchase rates on."""
    rows = [{"InvoiceNo": str(500000 + i), "StockCode": "P1", "Description": "Mug", "Quantity": 2,
             "InvoiceDate": f"2023-0{1 + i % 6}-1{i % 9} 10:00", "UnitPrice": 3.5 + i, "CustomerID": str(12000 + i),
             "Country": "France"} for i in range(12)]
    return to_csv(pd.DataFrame(rows))


def test_data_the_models_cannot_describe_gets_a_plain_message(app):
    upload(app, "once.csv", one_time_buyers())
    app.switch_page(OUTLOOK).run()  # checked: no exception, no error element
    (note,) = [i.value for i in app.info if "No predictions for this data" in i.value]
    assert re.search(r"repeat|once|one purchase", note, re.I), note
    assert not app.get("plotly_chart") and not app.dataframe
    app.switch_page("views/segments.py").run()
    assert not [m for m in app.markdown if m.value.startswith("Next 90 days")]
    assert "Predicted revenue and the chance still active join the cards" in texts(app)


@pytest.mark.parametrize("value, on", [(None, True), ("on", True), ("1", True), ("off", False), (" OFF ", False),
                                       ("0", False), ("false", False), ("no", False)])
def test_the_background_prediction_is_switched_off_by_its_environment_variable(value, on):
    environ = {} if value is None else {"SEGMENTER_PREDICTION": value}
    assert predicting.enabled(environ) is on


def test_with_the_background_off_the_cards_wait_for_the_outlook_page(app):
    """Predictions do not start by themselves here (tests/app/conftest.py): new data gets none until the
    Outlook page asks for it, and then the other pages show it on their next run."""
    upload(app, "shop.csv", demo_with_a_lapsed_customer())
    outcome = results(app)
    assert predicting.find(outcome) is None and outcome.prediction() is None
    app.switch_page("views/segments.py").run()
    assert "Predicted revenue and the chance still active join the cards" in texts(app)
    app.switch_page(OUTLOOK).run()
    assert results(app).prediction() is not None
    assert app.dataframe[1].value["customer_id"].iloc[0] == FORMULA_ID  # the lapsed top spender heads the list
    app.switch_page("views/segments.py").run()
    assert len([m for m in app.markdown if m.value.startswith("Next 90 days")]) == results(app).k


def test_the_report_download_includes_what_comes_next_once_predicted(outlook_page, expected):
    from segmentation import report_html

    at = outlook_page
    at.switch_page("views/segments.py").run()
    result = results(at).result()
    assert result.prediction is not None and result.predict_days == 90
    assert result.prediction.customers.equals(expected.customers)
    assert 'id="prediction"' in report_html.render(result, source="demo")


def test_no_prediction_is_started_on_the_data_page_where_the_cleaning_changes(app, monkeypatch):
    """Each cleaning change on the Data page would start a prediction of its own (a second cleaning
    pass and two fits) competing with the next change: they start on the next page instead."""
    monkeypatch.setenv("SEGMENTER_PREDICTION", "on")  # read at use (ui/prediction.autostart)
    monkeypatch.setattr(predicting.predictions(), "jobs", OrderedDict())
    upload(app, "shop.csv", demo_with_a_lapsed_customer())
    by_key_prefix(app.toggle, "w_rule_duplicate_").set_value(False).run()
    assert predicting.find(results(app)) is None and not predicting.predictions().jobs
    app.switch_page("views/customers.py").run()
    job = predicting.find(results(app))
    assert job is not None and list(predicting.predictions().jobs) == [predicting.job_key(results(app))]
    job.result(timeout=predicting.WAIT_SECONDS)


@pytest.mark.parametrize("owner, jobs", [(predicting.predictions, "jobs"), (stability_checks.checks, "jobs")],
                         ids=["predictions", "stability checks"])
def test_a_background_owner_is_one_per_server_and_ends_its_thread_when_released(owner, jobs):
    """The background work's thread and jobs belong to one object the server owns (a st.cache_resource),
    not to module globals: released, it ends its thread and the next use gets a fresh one."""
    first = owner()
    assert owner() is first and isinstance(getattr(first, jobs), OrderedDict)
    owner.clear()  # what Streamlit does when it releases the resource
    assert first.pool._shutdown and not getattr(first, jobs)
    second = owner()
    assert second is not first and not second.pool._shutdown


def test_predictions_keep_one_job_per_data_and_only_the_last_ones():
    """Same key: the same job (never a second computation); beyond MAX_JOBS the oldest is forgotten."""
    owner = predicting.Predictions()
    try:
        calls = []
        first = owner.start(("a",), lambda: lambda: calls.append("a") or "A", force=True)
        assert owner.start(("a",), lambda: lambda: calls.append("again") or "B", force=True) is first
        assert first.result(timeout=30) == "A" and calls == ["a"]
        for n in range(predicting.MAX_JOBS):
            owner.start((n,), lambda: lambda: None, force=True)
        assert owner.find(("a",)) is None and len(owner.jobs) == predicting.MAX_JOBS
    finally:
        owner.shutdown()

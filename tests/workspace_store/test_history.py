"""The pure part of the History page: segment rows of a segmentation, settings to JSON and back,
runs of one segmentation side by side with the change since the previous run, the figure."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from segmentation.settings import CleaningSettings
from workspace.access import is_allowed
from workspace.history import cleaning_of, groupings, history_figure, history_table, segment_rows, settings_of
from workspace.store import RunRecord, SegmentRow


def test_segment_rows_count_customers_and_sum_revenue_per_segment():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment_id": [2, 1, 2, 2],
                              "segment": ["Lost", "Champions", "Lost", "Lost"], "monetary": [1.5, 100.0, 2.5, 1.0]})
    predicted = pd.DataFrame({"segment_id": [1, 2], "predicted_revenue": [40.0, 3.0]})
    assert segment_rows(customers) == (SegmentRow(1, "Champions", 1, 100.0), SegmentRow(2, "Lost", 3, 5.0))
    assert segment_rows(customers, predicted)[1] == SegmentRow(2, "Lost", 3, 5.0, 3.0)


@pytest.mark.parametrize("cleaning", [
    CleaningSettings(),
    CleaningSettings(rules=frozenset({"duplicate"}), date_from=date(2011, 1, 1), date_to=date(2011, 6, 30),
                     countries_include=("France", "Germany"), net_returns=True),
], ids=["defaults", "everything set"])
def test_settings_go_to_json_and_back(cleaning):
    import json

    settings = settings_of(overrides={"customer": "CustomerID"}, cleaning=cleaning, snapshot=date(2011, 12, 10),
                           seed=7, k=4, currency="£", sheet=None)
    again = json.loads(json.dumps(settings))
    assert cleaning_of(again["cleaning"]) == cleaning
    assert (again["snapshot"], again["k"], again["seed"], again["overrides"]) == ("2011-12-10", 4, 7,
                                                                                  {"customer": "CustomerID"})
    assert cleaning_of({"retired_setting": 1}) == CleaningSettings()  # an older record still opens


def _run(run_id, day, sizes, *, segmentation_id=5, k=2):
    return RunRecord(source_name=f"{day}.csv", settings={}, k=k, customers=sum(sizes), revenue=10.0 * sum(sizes),
                     segments=tuple(SegmentRow(i + 1, name, n, 10.0 * n)
                                    for i, (name, n) in enumerate(zip(["Champions", "Lost"], sizes, strict=False))),
                     segmentation_id=segmentation_id, segmentation_name="Agreed", id=run_id,
                     recorded=datetime.fromisoformat(day).replace(tzinfo=UTC))


def test_the_history_lays_runs_of_one_segmentation_side_by_side_with_the_change():
    runs = [_run(3, "2026-03-01", (12, 30)), _run(1, "2026-01-01", (10, 20)), _run(2, "2026-02-01", (15, 18)),
            _run(4, "2026-02-15", (99, 99), segmentation_id=None, k=2)]  # fitted: another grouping
    assert groupings(runs) == {"saved:5": "Saved segmentation Agreed", "fitted:k=2": "Fitted segments, K = 2"}
    table = history_table(runs, "saved:5")
    assert table["run"].tolist() == [1, 1, 2, 2, 3, 3]
    champions = table[table["segment"] == "Champions"]
    assert champions["customers"].tolist() == [10, 15, 12]
    assert champions["customers_change"].tolist()[1:] == [5, -3] and pd.isna(champions["customers_change"].iloc[0])
    assert table[table["segment"] == "Lost"]["revenue_change"].tolist()[1:] == [-20.0, 120.0]
    figure = history_figure(table, measure="revenue", currency="£")
    assert [trace.name for trace in figure.data] == ["Champions", "Lost"]
    assert list(figure.data[0].y) == [100.0, 150.0, 120.0] and figure.data[0].stackgroup == "segments"
    assert figure.data[0].customdata[0] == "£100.00"
    with pytest.raises(ValueError, match="measure='orders'"):
        history_figure(table, measure="orders")


def test_segment_names_are_escaped_in_the_figure():
    run = RunRecord(source_name="x", settings={}, k=1, customers=1, revenue=1.0,
                    segments=(SegmentRow(1, "<img src=x>", 1, 1.0),), id=1,
                    recorded=datetime(2026, 1, 1, tzinfo=UTC))
    assert history_figure(history_table([run], run.grouping)).data[0].name == "&lt;img src=x&gt;"


@pytest.mark.parametrize("email, allowed, expected", [
    ("alice@example.com", [], True),
    ("alice@example.com", None, True),
    ("Alice@Example.COM", ["example.com"], True),
    ("alice@example.com", ["@example.com"], True),
    ("alice@badexample.com", ["example.com"], False),
    ("alice@sub.example.com", ["example.com"], False),
    ("carol@partner.org", ["example.com", "carol@partner.org"], True),
    ("dave@partner.org", ["example.com", "carol@partner.org"], False),
    (None, ["example.com"], False),
    ("not-an-address", ["example.com"], False),
])
def test_the_allow_list(email, allowed, expected):
    assert is_allowed(email, allowed) is expected

"""--predict DAYS: four columns appended to --out, `prediction` in --report, clear refusals."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from segmentation.cli import OUTPUT_COLUMNS, main
from segmentation.prediction import PREDICTION_COLUMNS
from tests.shared_data import shared_file

MODEL_KEYS = {"bgnbd", "gamma_gamma"}
BGNBD_KEYS = {"r", "alpha", "a", "b", "log_likelihood"}
SEGMENT_KEYS = {"segment_id", "segment", "predicted_revenue", "expected_purchases", "mean_p_alive",
                "likely_inactive"}
BACKTEST_KEYS = {"calibration_end", "holdout_days", "customers", "model", "actual_purchases", "predicted_purchases",
                 "actual_revenue", "predicted_revenue", "by_repeat_purchases", "mean_absolute_error"}


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cdnow")
    code = main([str(shared_file("cdnow_sample.csv")), "--keep", "duplicate", "--predict", "273", "--k", "4",
                 "--out", str(folder / "customers.csv"), "--report", str(folder / "report.json"), "--quiet"])
    assert code == 0
    return (pd.read_csv(folder / "customers.csv", dtype={"customer_id": str}),
            json.loads((folder / "report.json").read_text()))


def test_out_gains_the_prediction_columns_after_the_existing_ones(cdnow_run):
    customers, _ = cdnow_run
    assert list(customers.columns) == [*OUTPUT_COLUMNS, *PREDICTION_COLUMNS]
    assert len(customers) == 2349
    assert customers["p_alive"].between(0, 1).all() and (customers["predicted_revenue"] >= 0).all()


def test_report_gains_prediction_as_the_issue_lists_it(cdnow_run):
    customers, report = cdnow_run
    block = report["prediction"]
    assert block["horizon_days"] == 273 and block["customers"] == 2349
    assert set(block["model"]) == MODEL_KEYS and BGNBD_KEYS <= set(block["model"]["bgnbd"])
    assert set(block["model"]["gamma_gamma"]) == {"p", "q", "gamma", "customers"}
    assert [s["segment_id"] for s in block["segments"]] == [s["segment_id"] for s in report["segments"]]
    for row in block["segments"]:
        assert SEGMENT_KEYS <= set(row)
        mine = customers[customers["segment_id"] == row["segment_id"]]
        assert row["predicted_revenue"] == pytest.approx(mine["predicted_revenue"].sum())
        assert row["likely_inactive"] == int((mine["p_alive"] < 0.5).sum())
    held = block["backtest"]
    assert BACKTEST_KEYS <= set(held)
    assert (held["calibration_end"], held["holdout_days"], held["actual_purchases"]) == ("1997-10-01", 273, 1882)
    assert round(held["predicted_purchases"], 1) == 1653.4
    assert round(held["model"]["bgnbd"]["alpha"], 3) == 30.957  # per day
    assert [row["repeat_purchases"] for row in held["by_repeat_purchases"]] == ["0", "1", "2", "3", "4", "5", "6",
                                                                                 "7+"]


def test_without_predict_nothing_changes(tmp_path):
    code = main(["--demo-rows", "5000", "--k", "3", "--out", str(tmp_path / "c.csv"), "--report",
                 str(tmp_path / "r.json"), "--quiet"])
    assert code == 0
    assert list(pd.read_csv(tmp_path / "c.csv").columns) == OUTPUT_COLUMNS
    assert "prediction" not in json.loads((tmp_path / "r.json").read_text())


def test_one_time_buyers_give_null_prediction_a_warning_and_empty_columns(tmp_path, capsys):
    source = tmp_path / "once.csv"
    source.write_text("Invoice,Customer,Date,Qty,Price\n" + "".join(
        f"{i},C{i},2011-01-{1 + i % 28:02d},1,{5 + i}\n" for i in range(40)))
    code = main([str(source), "--predict", "90", "--k", "2", "--out", str(tmp_path / "c.csv"), "--report",
                 str(tmp_path / "r.json"), "--quiet"])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["prediction"] is None
    assert any("No prediction of the next 90 days" in w for w in report["warnings"])
    assert "warning: No prediction of the next 90 days" in capsys.readouterr().err
    customers = pd.read_csv(tmp_path / "c.csv")
    assert list(customers.columns[-4:]) == PREDICTION_COLUMNS and customers[PREDICTION_COLUMNS].isna().all().all()


@pytest.mark.parametrize(("value", "message"), [("0", "from 1 to 3,650"), ("4000", "from 1 to 3,650"),
                                                ("soon", "not a whole number")])
def test_a_bad_horizon_is_one_line_and_exit_2(value, message, capsys):
    assert main(["--predict", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1

"""CLI: --save-segmentation, --segmentation, --compare-to and --migration on files."""
import hashlib
import json

import pandas as pd
import pytest

from segmentation import saved
from segmentation.cli import OUTPUT_COLUMNS, main
from segmentation.migration import MIGRATION_COLUMNS
from tests.test_migration import planted_transactions

HEADERS = {"customer_id": "CustomerID", "invoice": "InvoiceNo", "invoice_date": "InvoiceDate",
           "quantity": "Quantity", "price": "UnitPrice"}


def _write_csv(path, until=None):
    lines = planted_transactions().to_pandas()[list(HEADERS)].rename(columns=HEADERS)
    if until is not None:
        lines = lines[lines["InvoiceDate"] < pd.Timestamp(until)]
    lines.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved-cli")
    first = _write_csv(folder / "first-half.csv", until="2011-07-01")
    full = _write_csv(folder / "full-year.csv")
    assert main([str(first), "--k", "3", "--save-segmentation", str(folder / "seg.json"), "--out",
                 str(folder / "fitted.csv"), "--quiet"]) == 0
    return folder, first, full


def test_saved_file_records_the_training_data(files):
    folder, first, _ = files
    document = json.loads((folder / "seg.json").read_text())
    assert document["format"] == "segmenter.segmentation/1" and document["k"] == 3
    assert document["training"]["customers"] == 160
    assert document["snapshot"] == "2011-07-01"
    assert document["training"]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()


def test_applying_to_the_same_file_gives_the_fitted_segments(files, tmp_path):
    folder, first, _ = files
    assert main([str(first), "--segmentation", str(folder / "seg.json"), "--out", str(tmp_path / "c.csv"),
                 "--report", str(tmp_path / "r.json"), "--quiet"]) == 0
    fitted = pd.read_csv(folder / "fitted.csv", dtype={"customer_id": str})
    applied = pd.read_csv(tmp_path / "c.csv", dtype={"customer_id": str})
    assert list(applied.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    pd.testing.assert_series_equal(applied["segment_id"], fitted["segment_id"])
    assert applied["segment"].tolist() == fitted["segment"].tolist()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["segmentation"] == {"path": str(folder / "seg.json"), "created": report["segmentation"]["created"],
                                      "k": 3, "applied": True}
    assert report["drift"]["distance_ratio"] == pytest.approx(1.0) and report["drift"]["warning"] is None
    assert report["k"] == 3 and report["k_scan"] == []


def test_apply_and_compare_on_next_data(files, tmp_path):
    folder, _, full = files
    out, report_path, moved_path = tmp_path / "c.csv", tmp_path / "r.json", tmp_path / "migration.csv"
    assert main([str(full), "--segmentation", str(folder / "seg.json"), "--out", str(out), "--report",
                 str(report_path), "--compare-to", "2011-07-01", "--migration", str(moved_path), "--quiet"]) == 0
    report = json.loads(report_path.read_text())
    moved = pd.read_csv(moved_path, dtype={"customer_id": str})
    customers = pd.read_csv(out, dtype={"customer_id": str})
    assert list(moved.columns) == MIGRATION_COLUMNS
    assert len(moved) == len(customers) == report["customers"] == 180
    new = moved[moved["customer_id"].str.startswith("N")]
    assert len(new) == 20 and new[["segment_id_a", "segment_a"]].isna().all().all()
    assert report["migration"]["new_customers"] == 20
    assert report["migration"]["date_a"] == "2011-07-01" and report["migration"]["date_b"] == report["snapshot"]
    assert sum(row["customers"] for row in report["migration"]["matrix"]) == 180
    # B is the snapshot: the migration's B segments are the --out segments
    assert moved.set_index("customer_id")["segment_id_b"].sort_index().tolist() == \
        customers.set_index("customer_id")["segment_id"].sort_index().tolist()
    frozen = saved.load(folder / "seg.json")
    most_lapsed = max(frozen.segments, key=lambda s: s["recency_median"])["segment_id"]
    assert (moved.loc[moved["customer_id"].str.startswith("L"), "segment_id_b"] == most_lapsed).all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "4"], "error: --k cannot be used with --segmentation: K comes from the saved segmentation."),
        (["--migration", "{tmp}/m.csv"], "error: --migration needs --compare-to DATE"),
        (["--compare-to", "2012-01-01"], "error: --compare-to 2012-01-01 is not before the snapshot 2011-12-15."),
    ],
    ids=["k-with-segmentation", "migration-without-date", "compare-after-snapshot"],
)
def test_flag_errors_write_nothing(files, tmp_path, capsys, extra, message):
    folder, _, full = files
    argv = [str(full), "--segmentation", str(folder / "seg.json"), "--out", str(tmp_path / "c.csv"),
            "--report", str(tmp_path / "r.json"), "--quiet", *[part.format(tmp=tmp_path) for part in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    ['{"format": "segmenter.segmentation/2"}', '{"format": "segmenter.segmentation/1", "k": NaN}', '{"form', ""],
    ids=["wrong-version", "nan", "truncated", "empty"],
)
def test_a_malformed_saved_file_is_one_error_line_and_nothing_written(files, tmp_path, capsys, content):
    _, _, full = files
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    argv = [str(full), "--segmentation", str(bad), "--out", str(tmp_path / "c.csv"), "--report",
            str(tmp_path / "r.json"), "--compare-to", "2011-07-01", "--migration", str(tmp_path / "m.csv")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: File bad.json is not a usable saved segmentation: ") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_compare_without_a_saved_file_fits_as_of_the_first_date(files, tmp_path):
    _, _, full = files
    assert main([str(full), "--k", "3", "--compare-to", "2011-07-01", "--report", str(tmp_path / "r.json"),
                 "--quiet"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["migration"]["fitted_at_a"] is True and report["migration"]["customers_a"] == 160
    assert "segmentation" not in report and "drift" not in report

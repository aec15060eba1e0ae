"""The notebook API of saved segmentations: save, load, apply through segmentation.segment."""
import pandas as pd
import pytest

import segmentation
from segmentation.errors import KChoiceError, SegmentationFileError
from tests.test_api import transactions


@pytest.fixture(scope="module")
def fitted():
    return segmentation.segment(transactions(), k=3, snapshot="2011-12-31")


def test_save_load_and_apply_through_the_api(fitted, tmp_path):
    path = tmp_path / "seg.json"
    fitted.save_segmentation(path)
    loaded = segmentation.load_segmentation(path)
    assert loaded.k == 3 and loaded.snapshot.isoformat() == "2011-12-31"
    for given in (path, str(path), loaded):
        applied = segmentation.segment(transactions(), segmentation=given, snapshot="2011-12-31")
        pd.testing.assert_frame_equal(applied.customers, fitted.customers)
        assert applied.applied == loaded and applied.k_scan.empty
        assert applied.drift["distance_ratio"] == pytest.approx(1.0)
        features = applied.customers[["recency", "frequency", "monetary"]]
        assert applied.model.predict(features).tolist() == fitted.model.predict(features).tolist()


def test_an_applied_result_saves_the_file_it_came_from(fitted, tmp_path):
    fitted.save_segmentation(tmp_path / "first.json")
    applied = segmentation.segment(transactions(), segmentation=tmp_path / "first.json", snapshot="2011-12-31")
    applied.save_segmentation(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "first.json").read_text()


def test_k_and_a_saved_segmentation_exclude_each_other(fitted, tmp_path):
    fitted.save_segmentation(tmp_path / "seg.json")
    with pytest.raises(KChoiceError, match=r"K=4 was asked for, but K comes from the saved segmentation \(K=3\)"):
        segmentation.segment(transactions(), k=4, segmentation=tmp_path / "seg.json")


def test_a_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(SegmentationFileError, match="does not exist"):
        segmentation.segment(transactions(), segmentation=tmp_path / "nope.json")

"""A saved segmentation: JSON round trip, nearest-centre assignment, frozen scores, strict loading."""
import json
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from segmentation import saved
from segmentation.errors import SegmentationFileError
from segmentation.scoring import add_rfm_scores, quantile_scores, score_edges, scores_from_edges
from segmentation.segments import segment_customers
from tests.test_model import planted_customers


@pytest.fixture(scope="module")
def fitted():
    customers = add_rfm_scores(planted_customers().drop(columns="planted"))
    segmentation = segment_customers(customers, k=4, seed=42)
    frozen = saved.from_segmentation(segmentation, snapshot=pd.Timestamp("2011-12-10").date(), seed=42,
                                     roles={"customer": "CustomerID"}, rows_in=1234)
    return customers, segmentation, frozen


def _ids(segmentation) -> pd.Series:
    return segmentation.customers.set_index("customer_id")["segment_id"].sort_index()


def test_save_load_apply_gives_the_fitted_segments(fitted, tmp_path):
    customers, segmentation, frozen = fitted
    path = tmp_path / "seg.json"
    saved.save(frozen, path)
    loaded = saved.load(path)
    applied, _ = loaded.apply(customers)
    pd.testing.assert_series_equal(_ids(applied), _ids(segmentation))
    assert applied.customers.set_index("customer_id")["segment"].sort_index().equals(
        segmentation.customers.set_index("customer_id")["segment"].sort_index())


def test_applied_to_a_shuffled_copy_gives_the_same(fitted):
    customers, segmentation, frozen = fitted
    shuffled = customers.sample(frac=1.0, random_state=3)
    applied, _ = frozen.apply(shuffled)
    pd.testing.assert_series_equal(_ids(applied), _ids(segmentation))


def test_the_file_holds_the_contract_keys(fitted):
    _, segmentation, frozen = fitted
    document = json.loads(frozen.to_json())
    assert document["format"] == "segmenter.segmentation/1"
    assert {"created", "segmenter_version", "features", "transform", "scaler", "centers", "segments", "rfm_edges",
            "roles", "cleaning", "snapshot", "k", "seed", "training"} <= set(document)
    assert document["k"] == 4 and len(document["centers"]) == 4
    assert [s["segment_id"] for s in document["segments"]] == [1, 2, 3, 4]
    assert [s["segment"] for s in document["segments"]] == segmentation.profiles["segment"].tolist()
    assert document["training"]["rows_in"] == 1234 and document["training"]["customers"] == 600
    assert all(len(v) == 4 for v in document["rfm_edges"].values())


def test_centres_are_the_models_in_segment_order(fitted):
    _, segmentation, frozen = fitted
    kmeans = segmentation.model[-1]
    for cluster, segment_id in enumerate(segmentation.segment_of_cluster):
        assert frozen.centers[segment_id - 1] == pytest.approx(tuple(kmeans.cluster_centers_[cluster]), abs=0)


E = math.e
HAND = saved.SavedSegmentation(
    features=("recency", "frequency", "monetary"),
    scaler_mean=(0.0, 0.0, 0.0),
    scaler_scale=(1.0, 1.0, 1.0),
    centers=((0.0, 0.0, 0.0), (2.0, 0.0, 0.0), (0.0, 2.0, 2.0)),
    segments=tuple({"segment_id": i, "segment": name, "action": "", "customers": 1, "revenue_share": 1 / 3,
                    "recency_median": 1.0, "frequency_median": 1.0, "monetary_median": 1.0}
                   for i, name in [(1, "A"), (2, "B"), (3, "C")]),
    rfm_edges={"recency": (40.0, 30.0, 20.0, 10.0), "frequency": (1.0, 2.0, 3.0, 4.0),
               "monetary": (10.0, 20.0, 30.0, 40.0)},
    snapshot=pd.Timestamp("2011-12-10").date(),
    seed=0,
)
# log1p(e^v - 1) = v: the scaled values are the exponents below.
HAND_CUSTOMERS = pd.DataFrame({
    "customer_id": ["x", "y", "z"],
    "recency": [E**2 - 1, 0.0, E - 1],  # x = (2, 0, 0): centre B; y = (0, 1.5, 1.5): C (0.71 vs 2.12)
    "frequency": [0.0, E**1.5 - 1, 0.0],  # z = (1, 0, 0): as near A as B, the lower id wins
    "monetary": [0.0, E**1.5 - 1, 0.0],
})


def test_hand_computed_nearest_centre():
    ids, distances = HAND.assign(HAND_CUSTOMERS)
    assert ids.tolist() == [2, 3, 1]
    assert distances == pytest.approx([0.0, math.sqrt(0.5), 1.0])


def test_the_engine_assigns_like_numpy():
    table = ibis.memtable(HAND_CUSTOMERS)
    result = table.mutate(segment_id=HAND.assignment_expr(table)).order_by("customer_id").execute()
    assert result["segment_id"].tolist() == [2, 3, 1]


def test_engine_assignment_on_planted_customers(fitted):
    customers, segmentation, frozen = fitted
    table = ibis.memtable(customers[["customer_id", "recency", "frequency", "monetary"]])
    in_sql = table.mutate(segment_id=frozen.assignment_expr(table)).execute()
    pd.testing.assert_series_equal(in_sql.set_index("customer_id")["segment_id"].sort_index(),
                                   _ids(segmentation), check_dtype=False)


@pytest.mark.parametrize(
    ("edges", "higher", "expected"),
    [
        # a value equal to an edge gets the lower score
        ([1.0, 5.0, 10.0, 40.0], True, [1, 2, 2, 3, 4, 5, 5]),
        # recency: shorter is better, so the edges fall
        ([40.0, 10.0, 5.0, 1.0], False, [4, 4, 3, 2, 1, 1, 1]),
    ],
    ids=["frequency-rising", "recency-falling"],
)
def test_scores_from_frozen_edges(edges, higher, expected):
    values = pd.Series([1, 2, 5, 10, 40, 41, 100])
    assert scores_from_edges(values, edges, higher_is_better=higher).tolist() == expected


def test_edges_give_back_the_fitted_scores_where_values_are_not_split():
    values = pd.Series([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
    ids = pd.Series([f"c{i}" for i in range(10)])
    fitted = quantile_scores(values, ids)
    edges = score_edges(values, fitted)
    again = scores_from_edges(values, edges)
    split = {v for v in values if len(set(fitted[values == v])) > 1}
    unsplit = ~values.isin(split)
    assert (again[unsplit] == fitted[unsplit]).all() and unsplit.sum() >= 6
    assert (again[~unsplit] == np.array([fitted[values == v].min() for v in values[~unsplit]])).all()


# ---------------------------------------------------------------------------------------------
# malformed files: one clear error each
# ---------------------------------------------------------------------------------------------
def _document(fitted) -> dict:
    return json.loads(fitted[2].to_json())


def _set(path: str, value):
    def change(document: dict) -> str:
        target = document
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return json.dumps(document)
    return change


def _text(replace: tuple[str, str]):
    def change(document: dict) -> str:
        return json.dumps(document).replace(*replace, 1)
    return change


def _k_zero(document: dict) -> str:
    document.update(k=0, centers=[], segments=[])
    return json.dumps(document)


MALFORMED = [
    ("wrong-format", _set("format", "segmenter.report/1"), r"format is \"segmenter.report/1\""),
    ("wrong-version", _set("format", "segmenter.segmentation/2"),
     r"it is version 2 of the format and this Segmenter reads version 1"),
    ("nan", _text(('"mean": [', '"mean": [NaN, ')), r"it is not valid JSON \(NaN is not a number JSON allows\)"),
    ("infinity", _set("scaler.scale.1", 1e999), r"it is not valid JSON \(Infinity is not a number JSON allows\)"),
    ("overflow", lambda document: _set("centers.0.0", "MARK")(document).replace('"MARK"', "1e999"),
     r"centers\[0\]\[0\] must be a finite number, not Infinity"),
    ("overflow-in-place", _text(("\"seed\": 42", "\"seed\": 42, \"k\": 1e999")),
     r"k must be a whole number of at least 1, not Infinity"),
    ("short-centre", _set("centers.2", [0.5, 0.5]), r"centers\[2\] must be a list of 3 numbers, not 2 values"),
    ("short-scaler", _set("scaler.mean", [1.0]), r"scaler.mean must be a list of 3 numbers"),
    ("k-and-centres-disagree", _set("k", 5), r"centers must have k=5 rows, not 4 rows"),
    ("k-zero", _k_zero, r"k must be a whole number of at least 1, not 0"),
    ("unknown-feature", _set("features.1", "basket_size"), r"feature \"basket_size\" is unknown"),
    ("segment-ids", _set("segments.0.segment_id", 7), r"segment ids must be 1..4 once each"),
    ("text-for-number", _set("segments.1.customers", "12"), r"segments\[1\].customers must be a whole number"),
    ("bool-for-number", _set("centers.0.0", True), r"centers\[0\]\[0\] must be a finite number"),
    ("zero-scale", _set("scaler.scale.0", 0.0), r"scaler.scale must be positive"),
    ("edges-out-of-order", _set("rfm_edges.frequency", [4, 3, 2, 1]), r"rfm_edges.frequency must be rising"),
    ("transform", _set("transform", "sqrt"), r"transform is \"sqrt\", not 'log1p'"),
    ("not-an-object", lambda document: "[1, 2]", r"the file must be an object"),
    ("truncated", lambda document: json.dumps(document)[:300], r"it is not valid JSON \(Expecting"),
    ("empty", lambda document: "", r"it is not valid JSON"),
    ("not-utf8", lambda document: b"\xff\xfe{}", r"it is not UTF-8 text"),
    ("missing-centers", lambda document: json.dumps({k: v for k, v in document.items() if k != "centers"}),
     r"it has no centers"),
    ("missing-k-and-seed", lambda document: json.dumps({k: v for k, v in document.items() if k not in ("k", "seed")}),
     r"it has no k, seed\."),
    ("segment-without-action", _set("segments.2", {"segment_id": 3, "segment": "X"}),
     r"segments\[2\] has no action, customers, revenue_share"),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_file_gives_one_clear_error(fitted, tmp_path, change, message):
    content = change(_document(fitted))
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SegmentationFileError, match=r"File bad.json is not a usable saved segmentation: " + message):
        saved.load(path)


def test_a_50_mb_file_is_refused_without_parsing(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.write(b'{"format": "segmenter.segmentation/1", "pad": "')
        handle.write(b"x" * 50_000_000)
        handle.write(b'"}')
    with pytest.raises(SegmentationFileError, match=r"it is 50.0 MB, and a saved segmentation is a few kB"):
        saved.load(path)


@pytest.mark.parametrize(("name", "message"), [("absent.json", "does not exist"), ("", "is a folder")],
                         ids=["absent", "folder"])
def test_unreadable_paths(tmp_path, name, message):
    with pytest.raises(SegmentationFileError, match=message):
        saved.load(tmp_path / name)


def test_an_applied_segmentation_cannot_be_saved_again(fitted):
    customers, _, frozen = fitted
    applied, _ = frozen.apply(customers)
    with pytest.raises(SegmentationFileError, match="was not fitted here"):
        saved.from_segmentation(applied, snapshot=frozen.snapshot, seed=0)


def test_drift_compares_shares_and_distances(fitted):
    customers, _, frozen = fitted
    applied, distances = frozen.apply(customers)
    same = saved.drift(frozen, applied.customers["segment_id"].to_numpy(), distances)
    assert same["distance_ratio"] == pytest.approx(1.0) and same["warning"] is None
    assert [row["share_now"] for row in same["segments"]] == pytest.approx(
        [row["share_training"] for row in same["segments"]])
    moved = customers.assign(monetary=customers["monetary"] * 50, frequency=customers["frequency"] * 20)
    applied, distances = frozen.apply(moved)
    far = saved.drift(frozen, applied.customers["segment_id"].to_numpy(), distances)
    assert far["distance_ratio"] > saved.DRIFT_WARNING_RATIO
    assert "may no longer describe these customers; consider refitting" in far["warning"]

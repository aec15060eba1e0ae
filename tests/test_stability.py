"""Stability evidence: planted structure is stable, a featureless blob is not, forced splits are flagged.

Data are generated here. "Scaled space" is the model's: log1p then standardised, so customers
whose log1p features are independent normals form one isotropic blob there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation import stability
from segmentation.errors import ParameterError
from segmentation.model import elbow_k, fit_labels, make_model, scan_k, suggest_k
from segmentation.scoring import add_rfm_scores
from segmentation.segments import segment_customers

# Its module-scoped fixtures (the planted and blob scans) are built once: with `--dist loadgroup` (.ci/run)
# the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = pytest.mark.xdist_group("stability")

PLANTED = {  # (recency days, invoices, revenue) centres of four well-separated customer types
    "champions": (5, 40, 8000.0),
    "loyal": (30, 12, 1500.0),
    "new": (10, 1, 80.0),
    "lapsed": (300, 2, 150.0),
}


def customers_from_log(log_features: np.ndarray, labels=None) -> pd.DataFrame:
    """A customer table whose log1p(recency, frequency, monetary) are the given rows (all positive)."""
    values = np.expm1(log_features)
    table = pd.DataFrame({
        "customer_id": [f"{i:05d}" for i in range(len(values))],
        "recency": values[:, 0], "frequency": values[:, 1], "monetary": values[:, 2],
    })
    if labels is not None:
        table["planted"] = labels
    return add_rfm_scores(table)


def planted_customers(n_per_type: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    for label, centre in PLANTED.items():
        blocks.append(np.log1p(centre) + rng.normal(0, 0.15, size=(n_per_type, 3)))
        labels += [label] * n_per_type
    return customers_from_log(np.vstack(blocks), labels)


def blob_customers(n: int = 5000, seed: int = 3) -> pd.DataFrame:
    """One isotropic normal blob in the model's scaled space: no segments to find."""
    rng = np.random.default_rng(seed)
    return customers_from_log(np.log1p([60.0, 5.0, 900.0]) + rng.normal(0, [0.8, 0.5, 0.9], size=(n, 3)))


def two_groups(n_wide: int = 400, n_tight: int = 200, seed: int = 2) -> pd.DataFrame:
    """Two real groups, apart on the diagonal (so each stays round once standardised): a wide one
    that K=3 cuts in two, and a tight one it leaves whole."""
    rng = np.random.default_rng(seed)
    wide = np.log1p([30.0, 3.0, 200.0]) + rng.normal(0, 0.5, size=(n_wide, 3))
    tight = np.log1p([30.0, 3.0, 200.0]) + 3.0 + rng.normal(0, 0.2, size=(n_tight, 3))
    return customers_from_log(np.vstack([wide, tight]), ["wide"] * n_wide + ["tight"] * n_tight)


def with_stability(scan: pd.DataFrame, result: stability.Stability) -> pd.DataFrame:
    return scan.merge(result.table(), on="k", how="left")


@pytest.fixture(scope="module")
def planted():
    customers = planted_customers()
    result = stability.stability_scan(customers, k_values=range(2, 9), seed=42)
    return customers, result


@pytest.fixture(scope="module")
def blob():
    customers = blob_customers()
    result = stability.stability_scan(customers, k_values=range(3, 9), seed=42)
    return customers, result


# ------------------------------------------------------------------------------------------
# acceptance: planted, blob, forced split
# ------------------------------------------------------------------------------------------
def test_four_planted_groups_are_stable_at_k4_and_k4_is_suggested(planted):
    customers, result = planted
    table = result.table().set_index("k")
    assert table.loc[4, "stability"] >= 0.9
    assert table.loc[4, "stability_low"] <= table.loc[4, "stability"] <= table.loc[4, "stability_high"]
    segmented = segment_customers(customers, k=4, seed=42).customers
    per_segment = result.segment_stability(segmented)
    assert per_segment["segment_id"].tolist() == [1, 2, 3, 4]
    assert (per_segment["stability"] >= 0.85).all()
    assert set(per_segment["stability_band"]) == {"highly stable"}
    suggestion = suggest_k(with_stability(scan_k(customers, k_values=range(2, 9), seed=42), result), k_range=(3, 8))
    assert suggestion.k == 4 and suggestion.stable is True
    assert suggestion.reason.startswith("K=4: the most stable of the well-separated choices (stability ")


def test_a_featureless_blob_has_no_stable_k_and_says_so(blob):
    customers, result = blob
    table = result.table()
    assert table["k"].tolist() == list(range(3, 9))
    assert (table["stability"] < 0.75).all(), table
    assert (table["stability"] > 0.3).all(), table  # not noise either: K-Means finds a cut, just not the same one
    suggestion = suggest_k(with_stability(scan_k(customers, k_values=range(2, 11), seed=42), result), k_range=(3, 8))
    assert suggestion.stable is False
    assert suggestion.reason.startswith("No stable segmentation: no K from 3–8 reaches stability 0.75")
    message = stability.no_stable_message(table)
    assert message.startswith("No stable segmentation was found: no K from 3 to 8 reaches stability 0.75")
    assert "arbitrary cuts" in message and "named RFM segments" in message


def test_a_forced_split_of_one_real_group_is_flagged():
    customers = two_groups()
    segmented = segment_customers(customers, k=3, seed=42).customers
    result = stability.stability_scan(customers, k_values=[2, 3], seed=42)
    per_segment = result.segment_stability(segmented).set_index("segment_id")["stability"]
    groups_of_segment = segmented.groupby("segment_id")["planted"].agg(lambda s: s.mode()[0])
    split = groups_of_segment.index[groups_of_segment == "wide"]
    whole = groups_of_segment.index[groups_of_segment == "tight"]
    assert len(split) == 2 and len(whole) == 1
    assert (per_segment[split] < 0.75).all(), per_segment
    assert (per_segment[whole] >= 0.85).all(), per_segment
    table = result.table().set_index("k")["stability"]
    assert table[2] >= 0.9 > 0.75 > table[3]


# ------------------------------------------------------------------------------------------
# the pieces, by hand
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "labels", "weights", "expected"),
    [
        ([0, 0, 1, 1], [1, 1, 0, 0], None, [1.0, 1.0]),
        ([0, 0, 1, 1], [0, 1, 1, 1], None, [1 / 2, 2 / 3]),
        ([0, 0, 1, 1], [0, -1, 1, 1], None, [1.0, 1.0]),
        ([0, 0, 1], [0, 1, 1], [2, 1, 1], [2 / 3, 1 / 2]),
        ([0, 0, 1], [0, 0, -1], None, [1.0, np.nan]),
        ([0, 1, 2, 3], [0, 0, 0, 0], None, [1 / 4] * 4),
    ],
    ids=["same-partition-relabelled", "one-point-moved", "undrawn-points-ignored", "drawn-twice-counts-twice",
         "cluster-not-drawn-is-nan", "all-merged"],
)
def test_cluster_jaccard_by_hand(reference, labels, weights, expected):
    got = stability.cluster_jaccard(np.array(reference), np.array(labels), None if weights is None else
                                    np.array(weights))
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.97, "highly stable"), (0.85, "highly stable"), (0.849, "stable"), (0.75, "stable"), (0.7, "doubtful"),
     (0.6, "doubtful"), (0.59, "not to be trusted"), (-0.1, "not to be trusted"), (float("nan"), None)],
    ids=lambda v: str(v),
)
def test_bands_follow_clusterboot(value, expected):
    assert stability.band(value) == expected


@pytest.mark.parametrize(
    ("points", "centres", "expected"),
    [
        ([[0.0], [1.0], [3.0]], [[0.0], [4.0]], [4.0, 2.0, 2.0]),
        ([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0], [0.0, -2.0]], [1.0]),
        ([[2.0, 2.0]], [[0.0, 0.0], [4.0, 4.0]], [0.0]),
        ([[5.0]], [[1.0]], [0.0]),
    ],
    ids=["on-a-line", "second-nearest-not-farthest", "exactly-between", "one-centre"],
)
def test_margin_is_second_nearest_minus_nearest(points, centres, expected):
    np.testing.assert_allclose(stability.margins(np.array(points), np.array(centres)), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("margin", "share", "tie_breaker", "expected"),
    [
        ([5, 1, 3, 2, 4, 0.5, 9, 8, 7, 6], 0.1, None, [5]),
        ([5, 1, 3, 2, 4, 0.5, 9, 8, 7, 6], 0.2, None, [1, 5]),
        ([1, 1, 1, 1], 0.5, None, [0, 1]),
        ([2, 1, 1, 1], 0.5, ["a", "d", "c", "b"], [2, 3]),
        ([0.5, 1, 1, 3], 0.5, ["z", "y", "x", "w"], [0, 2]),
        ([3, 2], 0.1, None, []),
    ],
    ids=["lowest-tenth", "lowest-fifth", "ties-go-to-earlier-rows", "ties-go-to-smaller-ids",
         "ties-at-the-cut-only", "too-few-customers"],
)
def test_borderline_is_the_lowest_share_of_margins(margin, share, tie_breaker, expected):
    flags = stability.borderline(np.array(margin, dtype=float), share=share,
                                 tie_breaker=None if tie_breaker is None else np.array(tie_breaker))
    assert np.flatnonzero(flags).tolist() == expected


def test_customers_between_two_groups_are_the_borderline_ones():
    rng = np.random.default_rng(4)
    low = np.log1p([60.0, 5.0, 100.0]) + rng.normal(0, 0.3, size=(100, 3))
    high = np.log1p([60.0, 5.0, 5000.0]) + rng.normal(0, 0.3, size=(100, 3))
    customers = customers_from_log(np.vstack([low, high]))
    middle = (np.log1p([60.0, 5.0, 100.0]) + np.log1p([60.0, 5.0, 5000.0])) / 2
    between = customers_from_log(middle + np.linspace(-0.01, 0.01, 10)[:, None])
    between["customer_id"] = [f"b{i}" for i in range(10)]
    customers = pd.concat([customers, between], ignore_index=True)
    segmented = segment_customers(customers, k=2, seed=42).customers
    flags = stability.customer_margins(segmented, share=10 / len(customers))
    assert flags.index.equals(segmented.index)
    assert set(segmented.loc[flags["borderline"], "customer_id"]) == set(between["customer_id"])
    assert (flags["margin"] >= 0).all()


def test_margins_from_the_fitted_model_match_segment_means(planted):
    customers, _ = planted
    segmented = segment_customers(customers, k=4, seed=42).customers
    model = make_model(4, seed=42).fit(customers.sort_values("customer_id")[["recency", "frequency", "monetary"]])
    from_means = stability.customer_margins(segmented)
    from_model = stability.customer_margins(segmented.sample(frac=1, random_state=1), model=model)
    np.testing.assert_allclose(from_means["margin"], from_model["margin"].reindex(segmented.index), atol=1e-9)
    assert from_means["borderline"].equals(from_model["borderline"].reindex(segmented.index))


# ------------------------------------------------------------------------------------------
# determinism, the sample, the seed check
# ------------------------------------------------------------------------------------------
def test_same_seed_same_stability_whatever_the_threads():
    customers = blob_customers(n=300)
    one = stability.stability_scan(customers, k_values=[3, 4], resamples=6, seed=7, threads=1).table()
    two = stability.stability_scan(customers, k_values=[3, 4], resamples=6, seed=7, threads=2).table()
    pd.testing.assert_frame_equal(one, two)
    other = stability.stability_scan(customers, k_values=[3, 4], resamples=6, seed=8, threads=2).table()
    assert not one.equals(other)


def test_reference_fit_is_the_main_fit_below_the_cap(planted):
    customers, result = planted
    ordered = customers.sort_values("customer_id")
    main = fit_labels(customers, k=4, seed=42).loc[ordered.index].to_numpy()
    assert result.sample.customer_ids.tolist() == ordered["customer_id"].tolist()
    assert adjusted_rand_score(main, result.by_k[4].reference) == 1.0


def test_sample_is_capped_and_each_resample_draws_as_many_as_the_sample():
    customers = planted_customers(n_per_type=100)
    sample = stability.stability_sample(customers, resamples=5, sample_size=150, seed=1)
    assert sample.size == 150 and sample.n_customers == 400
    assert len(set(sample.customer_ids)) == 150 and set(sample.customer_ids) <= set(customers["customer_id"])
    assert sample.draws.shape == (5, 150) and (sample.draws.sum(axis=1) == 150).all()
    again = stability.stability_sample(customers, resamples=5, sample_size=150, seed=1)
    assert (again.draws == sample.draws).all() and (again.customer_ids == sample.customer_ids).all()


def test_seed_check_agrees_on_planted_groups_and_warns_when_low(planted):
    _, result = planted
    assert stability.seed_agreement(result.sample, 4) >= 0.99
    assert stability.seed_message(0.95, 4) is None
    assert stability.seed_message(0.82, 4) == (
        "The 4 segments depend on the random seed: under 5 seeds they agree only 0.82 (adjusted Rand index; "
        "0.90 or more means the seed does not matter).")


def test_assess_planted_has_no_warnings_and_blob_warns(planted, blob):
    customers, result = planted
    verdict = stability.assess(result, segment_customers(customers, k=4, seed=42).customers)
    assert verdict.stable_found and verdict.warnings == () and verdict.k == 4
    blob_customers_, blob_result = blob
    blob_verdict = stability.assess(blob_result, segment_customers(blob_customers_, k=4, seed=42).customers)
    assert not blob_verdict.stable_found
    assert blob_verdict.warnings[0].startswith("No stable segmentation was found")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: stability.stability_sample(c, resamples=1), "resamples=1: stability needs at least 2"),
        (lambda c: stability.stability_sample(c, sample_size=5), "sample_size=5: stability needs a sample of"),
        (lambda c: stability.stability_scan(c.head(3), k_values=[3]), "K=3 cannot be bootstrapped on 3 distinct"),
    ],
    ids=["one-resample", "tiny-sample", "k-too-large"],
)
def test_bad_parameters_raise_typed_errors(call, message):
    with pytest.raises(ParameterError, match=message):
        call(planted_customers(n_per_type=20))


def test_segments_not_in_the_sample_are_refused(planted):
    customers, result = planted
    strangers = segment_customers(customers, k=4, seed=42).customers.assign(customer_id=lambda t: "x" + t.customer_id)
    with pytest.raises(ParameterError, match="not the customers the stability was computed on"):
        result.segment_stability(strangers)


# ------------------------------------------------------------------------------------------
# the suggestion with stability
# ------------------------------------------------------------------------------------------
def scan_with(stability_by_k: dict[int, float], silhouette_best: int = 4) -> pd.DataFrame:
    """A hand-made scan for K=2..8 where K=4 wins every separation vote except maybe the silhouette."""
    ks = list(range(2, 9))
    scan = pd.DataFrame({
        "k": ks,
        "inertia": [100.0, 60.0, 30.0, 27.0, 25.0, 23.0, 21.0],
        "silhouette": [0.6 if k == silhouette_best else 0.3 for k in ks],
        "calinski_harabasz": [500.0 if k == 4 else 100.0 for k in ks],
        "davies_bouldin": [0.5 if k == 4 else 1.0 for k in ks],
    })
    assert elbow_k(scan) == 4
    scan["stability"] = [stability_by_k.get(k, np.nan) for k in ks]
    return scan


@pytest.mark.parametrize(
    ("stability_by_k", "silhouette_best", "k", "stable", "reason_start"),
    [
        ({}, 4, 4, None, "K=4 has the elbow of inertia, the highest silhouette"),
        ({3: 0.5, 4: 0.91, 5: 0.6}, 4, 4, True, "K=4: the most stable of the well-separated choices (stability 0.91)"),
        ({3: 0.95, 4: 0.9}, 3, 3, True, "K=3: the most stable of the well-separated choices (stability 0.95)"),
        ({3: 0.5, 4: 0.6, 6: 0.8}, 4, 6, True, "K=6: the most stable choice among 3–8 segments (stability 0.80)"),
        ({3: 0.5, 4: 0.6, 5: 0.7}, 4, 4, False, "No stable segmentation: no K from 3–8 reaches stability 0.75 "
                                                "(the best is K=5 at 0.70)"),
        ({2: 0.99, 4: 0.6}, 4, 4, False, "No stable segmentation"),  # K=2 is outside the marketer range
    ],
    ids=["not-measured", "voted-k-stable", "most-stable-voted-k", "stable-k-without-votes", "none-stable",
         "only-k2-stable"],
)
def test_suggestion_prefers_stable_k(stability_by_k, silhouette_best, k, stable, reason_start):
    suggestion = suggest_k(scan_with(stability_by_k, silhouette_best), k_range=(3, 8))
    assert (suggestion.k, suggestion.stable) == (k, stable)
    assert suggestion.reason.startswith(reason_start), suggestion.reason


# ------------------------------------------------------------------------------------------
# the fifth Choose K panel
# ------------------------------------------------------------------------------------------
def test_k_scan_figure_has_a_fifth_stability_panel_only_when_measured(planted):
    from segmentation import charts

    customers, result = planted
    scan = scan_k(customers, k_values=range(2, 9), seed=42)
    plain = charts.k_scan_figure(scan, suggested_k=4)
    assert [a.text for a in plain.layout.annotations][:4] == [title for _, title in charts.SCAN_METRICS]
    assert not any((t.name or "").startswith("Comes back") for t in plain.data)
    unmeasured = charts.k_scan_figure(scan.assign(stability=np.nan, stability_low=np.nan, stability_high=np.nan))
    assert len(unmeasured.data) == len(charts.k_scan_figure(scan).data)

    measured = with_stability(scan, result)
    fig = charts.k_scan_figure(measured, suggested_k=4, selected_k=5)
    panel = next(t for t in fig.data if t.name == "Comes back on resamples (stability)")
    table = result.table()
    np.testing.assert_allclose(panel.y, table["stability"])
    np.testing.assert_allclose(np.array(panel.y) + np.array(panel.error_y.array), table["stability_high"])
    np.testing.assert_allclose(np.array(panel.y) - np.array(panel.error_y.arrayminus), table["stability_low"])
    assert sum(t.name == "Suggested (K=4)" for t in fig.data) == 5
    assert any(shape.y0 == shape.y1 == 0.75 for shape in fig.layout.shapes)  # the "stable" line
    assert "Comes back on resamples (stability) — higher is more reliable" in [a.text for a in fig.layout.annotations]
    # the dashed line is named in the legend, not by a label drawn on it
    assert not any("stable" in (a.text or "").lower() and "panel" not in (a.text or "") for a in fig.layout.annotations
                   if a.text != "Comes back on resamples (stability) — higher is more reliable")
    assert any(t.name == "Stable from 0.75" and t.line.dash == "dash" for t in fig.data)


def test_progress_reaches_one_and_an_exception_in_it_stops_the_fits():
    customers = blob_customers(n=200)
    seen = []
    stability.stability_scan(customers, k_values=[2, 3], resamples=3, progress=lambda m, f: seen.append(f))
    assert len(seen) == 2 * 4 and seen == sorted(seen) and seen[-1] == 1.0

    class Stop(Exception):
        pass

    def stop(message, fraction):
        raise Stop(message)

    with pytest.raises(Stop, match=r"Stability: 1 of 8 fits, about \d+ s left"):
        stability.stability_scan(customers, k_values=[2, 3], resamples=3, progress=stop)


def test_the_notebook_api_carries_stability():
    import segmentation
    from tests.test_cli_stability import planted_transactions

    transactions = planted_transactions()
    result = segmentation.segment(transactions, stability=True)
    assert result.k == result.suggestion.k == 4 and result.suggestion.stable is True
    assert result.stability.stable_found and result.stability.seed_agreement >= 0.99
    assert result.segments["stability"].ge(0.85).all()
    assert result.k_scan[["stability", "stability_low", "stability_high"]].notna().all().all()
    assert result.warnings == ()
    plain = segmentation.segment(transactions)
    assert plain.stability is None and "stability" not in plain.k_scan.columns
    assert list(plain.customers.columns[-2:]) == ["margin", "borderline"]
    pd.testing.assert_frame_equal(plain.customers, result.customers)  # same K, same segments and margins

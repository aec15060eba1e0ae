"""The K-Means pipeline: planted segments recovered, deterministic, and honest K evidence."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation.errors import ParameterError
from segmentation.model import (
    DegenerateClustersWarning,
    elbow_k,
    fit_labels,
    make_model,
    plain_reason,
    scan_k,
    suggest_k,
)

PLANTED = {  # (recency days, invoices, revenue) centres of four planted customer types
    "champions": (5, 40, 8000.0),
    "loyal": (30, 12, 1500.0),
    "new": (10, 1, 80.0),
    "lapsed": (300, 2, 150.0),
}


def planted_customers(n_per_type=150, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for label, (recency, frequency, monetary) in PLANTED.items():
        frames.append(pd.DataFrame({
            "recency": np.maximum(1, np.round(recency * rng.lognormal(0, 0.15, n_per_type))).astype(int),
            "frequency": np.maximum(1, np.round(frequency * rng.lognormal(0, 0.15, n_per_type))).astype(int),
            "monetary": monetary * rng.lognormal(0, 0.15, n_per_type),
            "planted": label,
        }))
    customers = pd.concat(frames, ignore_index=True)
    customers["customer_id"] = [f"{i:05d}" for i in range(len(customers))]
    return customers


def test_model_is_log_scale_kmeans_pipeline_with_fixed_seed():
    model = make_model(4, seed=7)
    assert [name for name, _ in model.steps] == ["log", "scale", "kmeans"]
    assert model[-1].random_state == 7 and model[-1].n_clusters == 4


def test_planted_segments_are_recovered():
    customers = planted_customers()
    labels = fit_labels(customers, k=4, seed=42)
    assert adjusted_rand_score(customers["planted"], labels) >= 0.9


def test_same_seed_same_segments_and_row_order_does_not_matter():
    customers = planted_customers()
    first = fit_labels(customers, k=4, seed=1)
    again = fit_labels(customers, k=4, seed=1)
    shuffled = customers.sample(frac=1, random_state=3)
    shuffled_labels = fit_labels(shuffled, k=4, seed=1).reindex(customers.index)
    assert (first == again).all()
    assert (first == shuffled_labels).all()


def test_scan_reports_four_metrics_per_k_and_suggests_the_planted_k():
    customers = planted_customers()
    scan = scan_k(customers, k_values=range(2, 9), seed=42)
    assert scan["k"].tolist() == list(range(2, 9))
    assert list(scan.columns) == ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"]
    assert scan["inertia"].is_monotonic_decreasing
    suggestion = suggest_k(scan, k_range=(3, 8))
    assert suggestion.k == 4
    assert suggestion.reason.startswith("K=4 has ") and "silhouette" in suggestion.reason


def test_silhouette_uses_a_fixed_sample_when_customers_are_many():
    customers = planted_customers(n_per_type=300)
    sampled = scan_k(customers, k_values=[4], silhouette_sample=200, seed=5)
    again = scan_k(customers, k_values=[4], silhouette_sample=200, seed=5)
    full = scan_k(customers, k_values=[4], seed=5)
    assert sampled["silhouette"].iloc[0] == again["silhouette"].iloc[0]
    assert sampled["silhouette"].iloc[0] != full["silhouette"].iloc[0]
    assert sampled["silhouette"].iloc[0] == pytest.approx(full["silhouette"].iloc[0], abs=0.05)


@pytest.mark.parametrize("inertia, knee", [
    ([100, 40, 20, 18, 17, 16], 4),
    ([100, 30, 25, 22, 20, 19], 3),
    ([100, 90, 80, 20, 18, 17], 5),
])
def test_elbow_is_where_the_curve_bends(inertia, knee):
    scan = pd.DataFrame({"k": range(2, 2 + len(inertia)), "inertia": inertia})
    assert elbow_k(scan) == knee


def test_scan_skips_k_the_data_cannot_support():
    customers = pd.DataFrame({"customer_id": list("abcdef"), "recency": [1, 2, 3, 50, 60, 70],
                              "frequency": [1, 1, 2, 5, 6, 7], "monetary": [1.0, 2, 3, 50, 60, 70]})
    assert scan_k(customers, k_values=range(2, 11))["k"].tolist() == [2, 3, 4, 5]


def test_too_few_distinct_customers_to_scan():
    customers = pd.DataFrame({"customer_id": ["a", "b"], "recency": [1, 1], "frequency": [1, 1],
                              "monetary": [5.0, 5.0]})
    with pytest.raises(ParameterError, match="1 distinct customer profile"):
        scan_k(customers)


def test_more_segments_than_distinct_customers_warns_and_caps():
    customers = pd.DataFrame({"customer_id": list("abcd"), "recency": [1, 1, 9, 9], "frequency": [1, 1, 3, 3],
                              "monetary": [5.0, 5.0, 50.0, 50.0]})
    with pytest.warns(DegenerateClustersWarning, match="k=3 is more than the 2 distinct"):
        labels = fit_labels(customers, k=3)
    assert labels.nunique() == 2


@pytest.mark.parametrize("k", [0, -2])
def test_no_segment_at_all_is_refused_with_a_true_message(k):
    """One segment is a valid fit (one distinct profile); fewer is not."""
    with pytest.raises(ParameterError, match=rf"^K={k} is not a number of segments: fit one segment or more\.$"):
        fit_labels(planted_customers(5), k=k)


def _plain_scan(stability=None):
    from tests.test_charts import make_scan  # knee, silhouette, Calinski-Harabasz and Davies-Bouldin all at K=4

    scan = make_scan()
    if stability is not None:
        scan["stability"] = stability
    return scan


@pytest.mark.parametrize("k, stability, expected", [
    (4, None, "Of 3 to 8 segments, 4 separate the customers most clearly (4 of the 4 measures of separation agree)."),
    (4, 0.9, "agree), and the same groups come back when the customers are resampled."),
    (4, 0.5, "agree), but the groups do not come back reliably when the customers are resampled"),
    (6, 0.9, "Of 3 to 8 segments, 6 is the number whose groups come back most reliably, and the same"),
])
def test_plain_reason_leads_with_plain_words(k, stability, expected):
    text = plain_reason(_plain_scan(stability), k)
    assert expected in text
    assert not any(word in text for word in ("silhouette", "inertia", "Calinski", "Davies", "ARI", "Rand"))

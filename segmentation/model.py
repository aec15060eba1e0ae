"""The clustering model and the evidence for choosing K.

The model is a scikit-learn Pipeline: log1p (RFM values are heavily skewed) → standard
scaling (so no feature dominates by its unit) → K-Means with a fixed random_state.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .errors import ParameterError
from .settings import DEFAULT_SEED, K_SCAN_RANGE, K_SUGGEST_RANGE, N_INIT, SILHOUETTE_SAMPLE_SIZE

__all__ = [
    "FEATURES",
    "DegenerateClustersWarning",
    "KSuggestion",
    "make_model",
    "feature_matrix",
    "scan_k",
    "suggest_k",
    "max_k",
]

FEATURES: tuple[str, ...] = ("recency", "frequency", "monetary")
SCAN_COLUMNS = ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"]


class DegenerateClustersWarning(UserWarning):
    """Fewer distinct customers than segments: some segments are empty or identical."""


@dataclass(frozen=True)
class KSuggestion:
    k: int
    reason: str


def make_model(k: int, *, seed: int = DEFAULT_SEED) -> Pipeline:
    return Pipeline(
        [
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)),
        ]
    )


def feature_matrix(customers: pd.DataFrame, features: Sequence[str] = FEATURES) -> pd.DataFrame:
    """The model's input, in customer-id order so that row order never changes the result."""
    missing = [name for name in features if name not in customers.columns]
    if missing:
        raise ParameterError(f"Customer table has no column {', '.join(map(repr, missing))} to cluster on.")
    ordered = customers.sort_values("customer_id", kind="stable")
    return ordered.loc[:, list(features)].astype(float)


def max_k(customers: pd.DataFrame, features: Sequence[str] = FEATURES) -> int:
    """The largest K the data supports: the number of distinct customers' feature vectors."""
    return int(customers.loc[:, list(features)].drop_duplicates().shape[0])


def _sample_rows(n_rows: int, size: int, seed: int) -> np.ndarray | None:
    if n_rows <= size:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False))


def scan_k(
    customers: pd.DataFrame,
    *,
    k_values: Iterable[int] = range(K_SCAN_RANGE[0], K_SCAN_RANGE[1] + 1),
    seed: int = DEFAULT_SEED,
    features: Sequence[str] = FEATURES,
    silhouette_sample: int = SILHOUETTE_SAMPLE_SIZE,
) -> pd.DataFrame:
    """Fit K-Means for each K and report inertia, silhouette, Calinski-Harabasz, Davies-Bouldin.

    K values the data cannot support (K >= number of distinct customers) are left out.
    Silhouette is O(n²): above `silhouette_sample` customers it is computed on a fixed-seed sample.
    """
    matrix = feature_matrix(customers, features)
    supported = max_k(customers, features)
    ks = sorted({int(k) for k in k_values if 2 <= int(k) < supported})
    if not ks:
        raise ParameterError(
            f"There are {supported} distinct customer profile(s); at least 3 are needed to compare segmentations.",
            hint="Load more data or relax the cleaning filters.",
        )
    scaled = make_model(2, seed=seed)[:-1].fit_transform(matrix)
    sample = _sample_rows(len(scaled), silhouette_sample, seed)
    rows = []
    for k in ks:
        kmeans = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(scaled)
        labels = kmeans.labels_
        sample_x = scaled if sample is None else scaled[sample]
        sample_labels = labels if sample is None else labels[sample]
        silhouette = (
            float(silhouette_score(sample_x, sample_labels))
            if len(np.unique(sample_labels)) > 1
            else float("nan")
        )
        rows.append(
            {
                "k": k,
                "inertia": float(kmeans.inertia_),
                "silhouette": silhouette,
                "calinski_harabasz": float(calinski_harabasz_score(scaled, labels)),
                "davies_bouldin": float(davies_bouldin_score(scaled, labels)),
            }
        )
    return pd.DataFrame(rows, columns=SCAN_COLUMNS)


def elbow_k(scan: pd.DataFrame) -> int:
    """The knee of the inertia curve: the K farthest below the line from first to last point."""
    if len(scan) < 3:
        return int(scan["k"].iloc[0])
    k = scan["k"].to_numpy(dtype=float)
    inertia = scan["inertia"].to_numpy(dtype=float)
    x = (k - k[0]) / (k[-1] - k[0])
    spread = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / spread if spread > 0 else np.zeros_like(inertia)
    distance = (1 - x) - y  # the chord runs from (0, 1) to (1, 0)
    return int(k[int(np.argmax(distance))])


def suggest_k(scan: pd.DataFrame, *, k_range: tuple[int, int] = K_SUGGEST_RANGE) -> KSuggestion:
    """Pick the K in `k_range` that most of the evidence favours, and say why in one sentence.

    Four votes: the knee of inertia, the best silhouette, the best Calinski-Harabasz and the
    best Davies-Bouldin, each taken within `k_range`. Ties go to the better silhouette.
    """
    low, high = k_range
    window = scan[(scan["k"] >= low) & (scan["k"] <= high)]
    if window.empty:
        window = scan
    if window.empty:
        raise ParameterError("The K scan is empty, so no K can be suggested.")
    votes: dict[int, list[str]] = {}
    elbow = elbow_k(scan)
    if elbow in set(window["k"]):
        votes.setdefault(elbow, []).append("the elbow of inertia")
    if window["silhouette"].notna().any():
        votes.setdefault(int(window.loc[window["silhouette"].idxmax(), "k"]), []).append(
            "the highest silhouette")
    votes.setdefault(int(window.loc[window["calinski_harabasz"].idxmax(), "k"]), []).append(
        "the highest Calinski-Harabasz score")
    votes.setdefault(int(window.loc[window["davies_bouldin"].idxmin(), "k"]), []).append(
        "the lowest Davies-Bouldin index")
    silhouette_of = dict(zip(window["k"], window["silhouette"].fillna(-1.0)))
    best = max(votes, key=lambda k: (len(votes[k]), silhouette_of.get(k, -1.0), -k))
    row = window[window["k"] == best].iloc[0]
    reasons = votes[best]
    because = reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + " and " + reasons[-1]
    reason = (
        f"K={best} has {because} among {int(window['k'].min())}–{int(window['k'].max())} segments "
        f"(silhouette {row['silhouette']:.2f}, Davies-Bouldin {row['davies_bouldin']:.2f})."
    )
    return KSuggestion(k=best, reason=reason)


def fit_labels(customers: pd.DataFrame, *, k: int, seed: int = DEFAULT_SEED,
               features: Sequence[str] = FEATURES) -> pd.Series:
    """Cluster labels (0..k-1) indexed like `customers`, independent of its row order."""
    if k < 1:
        raise ParameterError(f"K={k} is not a number of segments; choose K of 2 or more.")
    matrix = feature_matrix(customers, features)
    supported = max_k(customers, features)
    if k > supported:
        warnings.warn(
            f"k={k} is more than the {supported} distinct customer profiles; some segments will be empty.",
            DegenerateClustersWarning,
            stacklevel=2,
        )
        k = supported
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # sklearn's ConvergenceWarning on ties
        labels = make_model(k, seed=seed).fit_predict(matrix)
    return pd.Series(labels, index=matrix.index, name="cluster").reindex(customers.index)

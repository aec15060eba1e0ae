"""The clustering model and the evidence for choosing K.

The model is a scikit-learn Pipeline: log1p (RFM values are heavily skewed) → standard
scaling (so no feature dominates by its unit) → K-Means with a fixed random_state.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from .errors import ParameterError
from .settings import (
    DEFAULT_SEED,
    FAST_KMEANS_MIN_CUSTOMERS,
    K_SCAN_RANGE,
    K_SUGGEST_RANGE,
    KMEANS_SAMPLE_SIZE,
    MODEL_THREADS,
    N_INIT,
    SCAN_THREADS,
    SILHOUETTE_SAMPLE_SIZE,
    SILHOUETTE_THREADS,
    STABLE_THRESHOLD,
)

__all__ = [
    "FEATURES",
    "DegenerateClustersWarning",
    "KSuggestion",
    "make_model",
    "make_scaler",
    "feature_matrix",
    "scan_k",
    "suggest_k",
    "plain_reason",
    "max_k",
    "elbow_k",
    "fit_labels",
    "fit_model",
    "segment_model",
    "SegmentOfCluster",
    "scan_is_sampled",
    "scan_labels",
    "silhouettes",
]

FEATURES: tuple[str, ...] = ("recency", "frequency", "monetary")
SCAN_COLUMNS = ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"]


class DegenerateClustersWarning(UserWarning):
    """Fewer distinct customers than segments: some segments are empty or identical."""


@dataclass(frozen=True)
class KSuggestion:
    k: int
    reason: str
    # None: stability was not measured; False: no K of the suggestion range reaches STABLE_THRESHOLD.
    stable: bool | None = None


def make_model(k: int, *, seed: int = DEFAULT_SEED) -> Pipeline:
    return Pipeline(
        [
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
            ("kmeans", KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)),
        ]
    )


def make_scaler() -> Pipeline:
    """The model's scaling steps alone (log1p → StandardScaler: make_model without K-Means), for
    the scan and the stability check, which cluster one scaled matrix many times."""
    return make_model(2)[:-1]


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
    fast_above: int = FAST_KMEANS_MIN_CUSTOMERS,
    fit_sample: int = KMEANS_SAMPLE_SIZE,
) -> pd.DataFrame:
    """Fit K-Means for each K and report inertia, silhouette, Calinski-Harabasz, Davies-Bouldin.

    K values the data cannot support (K >= number of distinct customers) are left out.
    Silhouette is O(n²): above `silhouette_sample` customers it is computed on a fixed-seed sample.
    Above `fast_above` customers each K is fitted on a fixed-seed sample of `fit_sample`
    customers and every customer is assigned to its nearest centre (see settings.py); the other
    metrics always use every customer. The K values are fitted side by side on SCAN_THREADS
    threads, each K-Means on MODEL_THREADS (OpenMP) threads.
    """
    matrix = feature_matrix(customers, features)
    supported = max_k(customers, features)
    ks = sorted({int(k) for k in k_values if 2 <= int(k) < supported})
    if not ks:
        raise ParameterError(
            f"There are {supported} distinct customer profile(s); at least 3 are needed to compare segmentations.",
            hint="Load more data or relax the cleaning filters.",
        )
    with threadpool_limits(limits=MODEL_THREADS):
        scaled = make_scaler().fit_transform(matrix).astype(np.float64)
        sample = _sample_rows(len(scaled), silhouette_sample, seed)
        fit_rows = _sample_rows(len(scaled), fit_sample, seed) if len(scaled) > fast_above else None

        def one_k(k: int) -> tuple[dict, np.ndarray]:
            # Each K on its own thread (K-Means releases the GIL); OpenMP limits are per thread.
            with threadpool_limits(limits=MODEL_THREADS):
                labels, inertia = _fit_for_scan(scaled, fit_rows, k, seed)
                row = {
                    "k": k,
                    "inertia": inertia,
                    "silhouette": float("nan"),  # filled below, all K in one pass
                    "calinski_harabasz": float(calinski_harabasz_score(scaled, labels)),
                    "davies_bouldin": float(davies_bouldin_score(scaled, labels)),
                }
            return row, labels if sample is None else labels[sample]

        with ThreadPoolExecutor(max_workers=SCAN_THREADS) as pool:
            results = list(pool.map(one_k, ks))  # in K order whatever the threads' timing
        rows = [row for row, _ in results]
        all_labels = [labels for _, labels in results]
        sample_x = scaled if sample is None else scaled[sample]
    # The silhouette is a few large matrix products (no K-Means barriers): BLAS may use the cores.
    with threadpool_limits(limits=SILHOUETTE_THREADS, user_api="blas"):
        for row, value in zip(rows, silhouettes(sample_x, all_labels)):
            row["silhouette"] = value
    return pd.DataFrame(rows, columns=SCAN_COLUMNS)


def _fit_for_scan(scaled: np.ndarray, fit_rows: np.ndarray | None, k: int, seed: int) -> tuple[np.ndarray, float]:
    """Labels of every customer and inertia over all of them, fitted on `fit_rows` (None: all)."""
    fit_x = scaled if fit_rows is None else scaled[fit_rows]
    kmeans = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(fit_x)
    if fit_rows is None:
        return kmeans.labels_, float(kmeans.inertia_)
    labels = kmeans.predict(scaled)  # every customer to its nearest centre
    return labels, float(((scaled - kmeans.cluster_centers_[labels]) ** 2).sum())


def scan_labels(customers: pd.DataFrame, k: int, *, seed: int = DEFAULT_SEED, features: Sequence[str] = FEATURES,
                fast_above: int = FAST_KMEANS_MIN_CUSTOMERS, fit_sample: int = KMEANS_SAMPLE_SIZE) -> pd.Series:
    """The labels scan_k scores for one K (sampled fit above `fast_above`), indexed like `customers`."""
    matrix = feature_matrix(customers, features)
    with threadpool_limits(limits=MODEL_THREADS):
        scaled = make_scaler().fit_transform(matrix).astype(np.float64)
        fit_rows = _sample_rows(len(scaled), fit_sample, seed) if len(scaled) > fast_above else None
        labels, _ = _fit_for_scan(scaled, fit_rows, k, seed)
    return pd.Series(labels, index=matrix.index, name="cluster").reindex(customers.index)


def silhouettes(x: np.ndarray, labelings: Sequence[np.ndarray], *, chunk_rows: int = 1024) -> list[float]:
    """sklearn's silhouette_score for several labelings of the same points, in one pass.

    The pairwise distances do not depend on K: each block of distance rows is computed once and
    multiplied by the one-hot matrices of every labeling (one BLAS call), instead of recomputing
    all n² distances per K. NaN for a labeling with a single cluster, like the scan reported.
    Same definition as sklearn: a = mean distance to the own cluster (self excluded),
    b = smallest mean distance to another cluster, s = (b - a) / max(a, b), 0 in singletons.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    codes, offsets, sizes = [], [0], []
    for labels in labelings:
        _, code, size = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
        codes.append(code.ravel())
        sizes.append(size)
        offsets.append(offsets[-1] + len(size))
    width = offsets[-1]
    onehot = np.zeros((n, width), dtype=np.float64)
    for j, code in enumerate(codes):
        onehot[np.arange(n), offsets[j] + code] = 1.0
    sums = np.empty((n, width), dtype=np.float64)  # per point: sum of distances to each cluster
    squared = np.einsum("ij,ij->i", x, x)
    for start in range(0, n, chunk_rows):
        block = x[start:start + chunk_rows]
        d2 = squared[start:start + chunk_rows, None] - 2.0 * block @ x.T + squared[None, :]
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(len(block)), np.arange(start, start + len(block))] = 0.0
        sums[start:start + chunk_rows] = np.sqrt(d2) @ onehot
    results = []
    for j, (code, size) in enumerate(zip(codes, sizes)):
        if len(size) < 2:
            results.append(float("nan"))
            continue
        part = sums[:, offsets[j]:offsets[j + 1]]
        own = part[np.arange(n), code]
        own_size = size[code]
        a = np.divide(own, own_size - 1, out=np.zeros(n), where=own_size > 1)
        means = part / size[None, :]
        means[np.arange(n), code] = np.inf
        b = means.min(axis=1)
        s = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), np.finfo(float).tiny), 0.0)
        results.append(float(np.nan_to_num(s).mean()))
    return results


def scan_is_sampled(n_customers: int, *, fast_above: int = FAST_KMEANS_MIN_CUSTOMERS,
                    fit_sample: int = KMEANS_SAMPLE_SIZE) -> bool:
    """Whether scan_k fits K-Means on a sample for this many customers (the fast path)."""
    return n_customers > fast_above and n_customers > fit_sample


def elbow_k(scan: pd.DataFrame) -> int:
    """The knee (elbow) of the inertia curve: the K farthest below the line from its first to its
    last point, whatever the order of the scan's rows (the suggestion votes with it, the Choose K
    chart marks it)."""
    missing = [name for name in ("k", "inertia") if name not in scan.columns]
    if missing or scan.empty:
        raise ValueError(f"The K scan has no rows or no column {', '.join(map(repr, missing))}.")
    scan = scan.sort_values("k").reset_index(drop=True)
    if len(scan) < 3:
        return int(scan["k"].iloc[0])
    k = scan["k"].to_numpy(dtype=float)
    inertia = scan["inertia"].to_numpy(dtype=float)
    x = (k - k[0]) / (k[-1] - k[0])
    spread = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / spread if spread > 0 else np.zeros_like(inertia)
    distance = (1 - x) - y  # the chord runs from (0, 1) to (1, 0)
    return int(k[int(np.argmax(distance))])


def _votes(scan: pd.DataFrame, k_range: tuple[int, int]) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """The scan's rows within k_range (all rows when none is), and K → the separation measures that
    favour it (the knee of inertia, best silhouette, Calinski-Harabasz, Davies-Bouldin)."""
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
    return window, votes


def plain_reason(scan: pd.DataFrame, k: int, *, k_range: tuple[int, int] = K_SUGGEST_RANGE) -> str:
    """Why K, in a marketer's words (the statistics' names stay in KSuggestion.reason): how clearly
    the groups separate (how many of the four separation measures favour K) and, once measured,
    how reliably they come back on resamples of the customers."""
    window, votes = _votes(scan, k_range)
    n_votes = len(votes.get(int(k), []))
    span = f"{int(window['k'].min())} to {int(window['k'].max())}"
    if n_votes:
        text = (f"Of {span} segments, {k} separate the customers most clearly "
                f"({n_votes} of the 4 measures of separation agree)")
    else:
        text = f"Of {span} segments, {k} is the number whose groups come back most reliably"
    stability = None
    if "stability" in window.columns:
        row = window[window["k"] == int(k)]
        if not row.empty and row["stability"].notna().all():
            stability = float(row["stability"].iloc[0])
    if stability is None:
        return text + "."
    if stability >= STABLE_THRESHOLD:
        return text + ", and the same groups come back when the customers are resampled."
    return text + ", but the groups do not come back reliably when the customers are resampled: treat them " \
                  "as rough cuts of a continuum."


def suggest_k(scan: pd.DataFrame, *, k_range: tuple[int, int] = K_SUGGEST_RANGE) -> KSuggestion:
    """Pick the K in `k_range` that most of the evidence favours, and say why in one sentence.

    Four votes: the knee of inertia, the best silhouette, the best Calinski-Harabasz and the
    best Davies-Bouldin, each taken within `k_range`. Ties go to the better silhouette.
    When the scan has a `stability` column (stability.stability_scan), stable K (at least
    STABLE_THRESHOLD) are preferred: the most stable K that got a vote, else the most stable K
    of the range; when none is stable the vote stands and the suggestion says it is not stable.
    """
    window, votes = _votes(scan, k_range)
    silhouette_of = dict(zip(window["k"], window["silhouette"].fillna(-1.0)))
    best = max(votes, key=lambda k: (len(votes[k]), silhouette_of.get(k, -1.0), -k))
    span = f"{int(window['k'].min())}–{int(window['k'].max())}"

    def evidence(k: int) -> str:
        reasons = votes[k]
        because = reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + " and " + reasons[-1]
        row = window[window["k"] == k].iloc[0]
        return (f"has {because} among {span} segments "
                f"(silhouette {row['silhouette']:.2f}, Davies-Bouldin {row['davies_bouldin']:.2f}).")

    if "stability" not in window.columns or not window["stability"].notna().any():
        return KSuggestion(k=best, reason=f"K={best} {evidence(best)}")
    # Stability measured: prefer a K whose segments come back on resamples.
    stability_of = {int(k): float(s) for k, s in zip(window["k"], window["stability"]) if s == s}
    stable = {k: s for k, s in stability_of.items() if s >= STABLE_THRESHOLD}
    if not stable:
        top = max(stability_of, key=lambda k: (stability_of[k], -k))
        return KSuggestion(k=best, stable=False, reason=(
            f"No stable segmentation: no K from {span} reaches stability {STABLE_THRESHOLD:.2f} "
            f"(the best is K={top} at {stability_of[top]:.2f}); K={best} {evidence(best)}"))
    voted = [k for k in votes if k in stable]
    if voted:
        # Rounded: a hundredth of ARI is resampling noise; then the votes decide.
        chosen = max(voted, key=lambda k: (round(stable[k], 2), len(votes[k]), -k))
        return KSuggestion(k=chosen, stable=True, reason=(
            f"K={chosen}: the most stable of the well-separated choices (stability {stable[chosen]:.2f}); "
            f"it {evidence(chosen)}"))
    chosen = max(stable, key=lambda k: (round(stable[k], 2), -k))
    return KSuggestion(k=chosen, stable=True, reason=(
        f"K={chosen}: the most stable choice among {span} segments (stability {stable[chosen]:.2f}); the "
        f"separation measures favour K={best}, whose segments come back less reliably on resamples "
        f"(stability {stability_of.get(best, float('nan')):.2f})."))


class SegmentOfCluster(BaseEstimator):
    """Last step of the model a notebook gets (`pipeline.Result.model`): the fitted K-Means,
    whose cluster labels are mapped to segment ids (1 = highest mean monetary), so that
    ``predict`` returns the `segment_id` the customers table shows."""

    def __init__(self, kmeans: KMeans, segment_of_cluster: Sequence[int]):
        self.kmeans = kmeans
        self.segment_of_cluster = segment_of_cluster

    def fit(self, x, y=None):  # already fitted: the segmentation's own K-Means
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self.kmeans, "cluster_centers_")

    def predict(self, x) -> np.ndarray:
        return np.asarray(self.segment_of_cluster, dtype="int64")[self.kmeans.predict(x)]


def segment_model(model: Pipeline, segment_of_cluster: Sequence[int]) -> Pipeline:
    """`model` (log1p → scale → K-Means, fitted) predicting segment ids instead of cluster labels.
    The fitted steps are shared, not refitted."""
    return Pipeline(model.steps[:-1] + [("segment", SegmentOfCluster(model[-1], tuple(segment_of_cluster)))])


def fit_model(customers: pd.DataFrame, *, k: int, seed: int = DEFAULT_SEED,
              features: Sequence[str] = FEATURES, fast_above: int = FAST_KMEANS_MIN_CUSTOMERS,
              fit_sample: int = KMEANS_SAMPLE_SIZE) -> tuple[Pipeline, pd.Series]:
    """The fitted model (make_model: log1p → StandardScaler → KMeans) and its cluster labels
    (0..k-1) indexed like `customers`, independent of its row order.

    Full K-Means on every customer. Above `fast_above` customers its N_INIT restarts run on the
    scan's fixed-seed sample and the best centres start one K-Means on everyone (the restarts
    on 800k customers cost more than the rest of the fit, and the result agrees: tested).
    The model's ``predict`` takes rows of `features` (a DataFrame with those columns).
    """
    if k < 1:
        raise ParameterError(f"K={k} is not a number of segments: fit one segment or more.")
    matrix = feature_matrix(customers, features)
    supported = max_k(customers, features)
    if k > supported:
        warnings.warn(
            f"k={k} is more than the {supported} distinct customer profiles; some segments will be empty.",
            DegenerateClustersWarning,
            stacklevel=3,
        )
        k = supported
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # sklearn's ConvergenceWarning on ties
        with threadpool_limits(limits=MODEL_THREADS):
            model = make_model(k, seed=seed)
            if scan_is_sampled(len(matrix), fast_above=fast_above, fit_sample=fit_sample):
                scaled = model[:-1].fit_transform(matrix)
                rows = _sample_rows(len(scaled), fit_sample, seed)
                start = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(scaled[rows]).cluster_centers_
                final = KMeans(n_clusters=k, init=start, n_init=1, random_state=seed)
                labels = final.fit_predict(scaled)
                model.steps[-1] = ("kmeans", final)
            else:
                labels = model.fit_predict(matrix)
    return model, pd.Series(labels, index=matrix.index, name="cluster").reindex(customers.index)


def fit_labels(customers: pd.DataFrame, *, k: int, seed: int = DEFAULT_SEED,
               features: Sequence[str] = FEATURES, fast_above: int = FAST_KMEANS_MIN_CUSTOMERS,
               fit_sample: int = KMEANS_SAMPLE_SIZE) -> pd.Series:
    """Cluster labels (0..k-1) indexed like `customers` (fit_model without the model)."""
    return fit_model(customers, k=k, seed=seed, features=features, fast_above=fast_above, fit_sample=fit_sample)[1]

"""Can these segments be trusted? Bootstrap stability per K, per segment and per customer.

K-Means always returns K groups, even on data without structure. Stability is the evidence
that a segmentation is real: refit on bootstrap resamples of the customers (Hennig's
clusterboot, R ``fpc::clusterboot``) and see whether the same groups come back.

- per K: mean adjusted Rand index (ARI) between the reference fit's labels and each resample's
  labels on the customers the resample drew, with its 10th-90th percentile spread;
- per segment: clusterboot's mean Jaccard of the segment with its best match in each resample;
- per customer: the margin (distance to the second-nearest centre minus to the nearest, in the
  model's scaled space) and ``borderline`` (margin among the lowest BORDERLINE_SHARE);
- per seed: mean pairwise ARI of the chosen K's labels under SEED_CHECK_SEEDS seeds.

Cheap path: everything is fitted on a fixed-seed sample of at most STABILITY_SAMPLE_SIZE
customers, scaled like the main fit, with the main fit's K-Means settings (N_INIT restarts,
MODEL_THREADS threads). At or below that size the reference fit *is* the main fit. Each
resample is fitted on its distinct customers weighted by how often they were drawn (the same
K-Means objective as fitting the draws, a third cheaper).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from .errors import ParameterError
from .model import FEATURES, feature_matrix, make_scaler
from .progress import Progress
from .settings import (
    BORDERLINE_SHARE,
    DEFAULT_SEED,
    K_SCAN_RANGE,
    K_SUGGEST_RANGE,
    MODEL_THREADS,
    N_INIT,
    SCAN_THREADS,
    SEED_AGREEMENT_MIN,
    SEED_CHECK_SEEDS,
    STABILITY_BANDS,
    STABILITY_COLUMNS,
    STABILITY_RESAMPLES,
    STABILITY_SAMPLE_SIZE,
    STABLE_THRESHOLD,
)

__all__ = [
    "STABILITY_COLUMNS",
    "StabilitySample",
    "KStability",
    "Stability",
    "SegmentationStability",
    "stability_sample",
    "bootstrap_k",
    "stability_scan",
    "cluster_jaccard",
    "seed_agreement",
    "band",
    "margins",
    "borderline",
    "customer_margins",
    "assess",
    "no_stable_message",
    "seed_message",
]



def band(value: float | None) -> str | None:
    """clusterboot's words for a stability value: 'highly stable' ... 'not to be trusted'."""
    if value is None or not np.isfinite(value):
        return None
    return next(name for low, name in STABILITY_BANDS if value >= low)


# ---------------------------------------------------------------------------------------------
# the sample and its resamples
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StabilitySample:
    """The customers the stability fits run on, and the resamples drawn from them.

    ``rows`` are positions in customer-id order (the order of ``model.feature_matrix``);
    ``draws[b, i]`` is how often resample b drew sample customer i (0: not drawn).
    """

    customer_ids: np.ndarray
    x: np.ndarray  # scaled features (the main fit's log1p + StandardScaler over all customers)
    draws: np.ndarray  # (resamples, len(x)) counts
    fit_seeds: np.ndarray  # (resamples,) K-Means random_state of each resample's fit
    seed: int
    n_customers: int  # customers in the data, before the cap

    @property
    def resamples(self) -> int:
        return len(self.draws)

    @property
    def size(self) -> int:
        return len(self.x)


def _scaled(customers: pd.DataFrame, features: Sequence[str], seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    matrix = feature_matrix(customers, features)
    with threadpool_limits(limits=MODEL_THREADS):
        scaled = make_scaler().fit_transform(matrix)
    return matrix, np.asarray(scaled, dtype=np.float64)


def stability_sample(customers: pd.DataFrame, *, resamples: int = STABILITY_RESAMPLES,
                     sample_size: int = STABILITY_SAMPLE_SIZE, seed: int = DEFAULT_SEED,
                     features: Sequence[str] = FEATURES) -> StabilitySample:
    """The capped, fixed-seed sample of customers and `resamples` bootstrap draws of it."""
    if resamples < 2:
        raise ParameterError(f"resamples={resamples}: stability needs at least 2 bootstrap resamples.")
    if sample_size < 10:
        raise ParameterError(f"sample_size={sample_size}: stability needs a sample of at least 10 customers.")
    matrix, scaled = _scaled(customers, features, seed)
    n = len(scaled)
    rows = np.arange(n)
    if n > sample_size:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
    m = len(rows)
    draws = np.zeros((resamples, m), dtype=np.int32)
    fit_seeds = np.zeros(resamples, dtype=np.int64)
    for b in range(resamples):
        rng = np.random.default_rng([seed, b])  # each resample on its own stream: reproducible
        draws[b] = np.bincount(rng.integers(0, m, size=m), minlength=m)
        fit_seeds[b] = rng.integers(0, 2**31 - 1)
    ids = customers.loc[matrix.index, "customer_id"].to_numpy()[rows]
    return StabilitySample(customer_ids=ids, x=scaled[rows], draws=draws, fit_seeds=fit_seeds, seed=seed,
                           n_customers=n)


# ---------------------------------------------------------------------------------------------
# per K
# ---------------------------------------------------------------------------------------------
def cluster_jaccard(reference: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """For each reference cluster 0..max, the Jaccard index with its best match among `labels`.

    Points with label -1 in `labels` are left out (not in the resample); `weights` count a point
    several times (a customer drawn twice, as clusterboot counts it). NaN for a reference cluster
    with no point left.
    """
    reference = np.asarray(reference)
    labels = np.asarray(labels)
    k_ref = int(reference.max()) + 1 if len(reference) else 0
    keep = labels >= 0
    ref, lab = reference[keep], labels[keep]
    w = np.ones(len(ref)) if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    k_lab = int(lab.max()) + 1 if len(lab) else 1
    table = np.bincount(ref * k_lab + lab, weights=w, minlength=k_ref * k_lab).reshape(k_ref, k_lab)
    ref_sizes = table.sum(axis=1, keepdims=True)
    lab_sizes = table.sum(axis=0, keepdims=True)
    union = ref_sizes + lab_sizes - table
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, table / union, 0.0).max(axis=1)
    jaccard[ref_sizes[:, 0] == 0] = np.nan
    return jaccard


@dataclass(frozen=True)
class KStability:
    """The bootstrap of one K: the reference fit on the sample and every resample's labels."""

    k: int
    reference: np.ndarray  # (m,) labels of the fit on the whole sample
    labels: np.ndarray  # (resamples, m) labels of each resample's fit; -1 where not drawn
    ari: np.ndarray  # (resamples,) ARI with the reference on the drawn customers

    @property
    def stability(self) -> float:
        return float(np.mean(self.ari))

    @property
    def spread(self) -> tuple[float, float]:
        low, high = np.percentile(self.ari, [10, 90])
        return float(low), float(high)

    def jaccard(self, partition: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """(resamples, clusters of `partition`) best-match Jaccard of each cluster in each resample."""
        return np.vstack([cluster_jaccard(partition, labels, weights)
                          for labels, weights in zip(self.labels, draws)])


def _fit(x: np.ndarray, k: int, seed: int, weights: np.ndarray | None = None) -> KMeans:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # ConvergenceWarning on ties
        with threadpool_limits(limits=MODEL_THREADS):
            return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(x, sample_weight=weights)


def _resample_labels(sample: StabilitySample, k: int, b: int) -> np.ndarray:
    drawn = np.flatnonzero(sample.draws[b])
    fitted = _fit(sample.x[drawn], k, int(sample.fit_seeds[b]), sample.draws[b, drawn].astype(np.float64))
    labels = np.full(sample.size, -1, dtype=np.int16)
    labels[drawn] = fitted.labels_
    return labels


def _check_k(sample: StabilitySample, k: int) -> None:
    distinct = len(np.unique(sample.x, axis=0))
    if not 2 <= k < distinct:
        raise ParameterError(f"K={k} cannot be bootstrapped on {distinct} distinct customer profiles; "
                             f"K must be from 2 to {distinct - 1}.")


def _assemble(k: int, reference: np.ndarray, labels: list[np.ndarray]) -> KStability:
    stacked = np.vstack(labels)
    ari = np.array([adjusted_rand_score(reference[row >= 0], row[row >= 0]) for row in stacked])
    return KStability(k=k, reference=reference.astype(np.int16), labels=stacked, ari=ari)


def bootstrap_k(sample: StabilitySample, k: int, *, threads: int = SCAN_THREADS) -> KStability:
    """Reference fit and the resample fits of one K (resamples side by side on `threads` threads)."""
    _check_k(sample, k)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        reference = pool.submit(_fit, sample.x, k, sample.seed)
        labels = list(pool.map(lambda b: _resample_labels(sample, k, b), range(sample.resamples)))
        return _assemble(k, reference.result().labels_, labels)


@dataclass(frozen=True)
class Stability:
    """Bootstrap stability of every scanned K, on one sample."""

    sample: StabilitySample
    by_k: dict[int, KStability]

    def table(self) -> pd.DataFrame:
        """One row per K: k, stability (mean ARI), stability_low / stability_high (10th/90th percentile)."""
        rows = [{"k": k, "stability": one.stability, "stability_low": one.spread[0], "stability_high": one.spread[1]}
                for k, one in sorted(self.by_k.items())]
        return pd.DataFrame(rows, columns=["k", *STABILITY_COLUMNS])

    def for_k(self, k: int) -> KStability:
        """The bootstrap of K (computed now if K was not scanned, e.g. a K chosen outside the scan)."""
        if k in self.by_k:
            return self.by_k[k]
        return bootstrap_k(self.sample, k)

    def segment_stability(self, segmented: pd.DataFrame) -> pd.DataFrame:
        """Per segment_id of `segmented` (customer_id, segment_id): mean best-match Jaccard and its band."""
        ids = segmented.set_index(segmented["customer_id"].astype(str))["segment_id"]
        segment_ids = ids.reindex(pd.Index(self.sample.customer_ids.astype(str))).to_numpy()
        if pd.isna(segment_ids).any():
            raise ParameterError("The segmented customers are not the customers the stability was computed on.")
        order = np.sort(ids.unique())
        if len(order) < 2:  # one segment: nothing to compare with
            return pd.DataFrame({"segment_id": order.astype(np.int64), "stability": np.nan, "stability_band": None})
        partition = np.searchsorted(order, segment_ids.astype(np.int64))
        jaccard = self.for_k(len(order)).jaccard(partition, self.sample.draws)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # a segment absent from the sample
            means = np.nanmean(jaccard, axis=0) if len(jaccard) else np.full(len(order), np.nan)
        means = np.concatenate([means, np.full(len(order) - len(means), np.nan)])
        return pd.DataFrame({"segment_id": order.astype(np.int64), "stability": means,
                             "stability_band": [band(value) for value in means]})


def stability_scan(customers: pd.DataFrame, *, k_values: Iterable[int] = range(K_SCAN_RANGE[0], K_SCAN_RANGE[1] + 1),
                   resamples: int = STABILITY_RESAMPLES, sample_size: int = STABILITY_SAMPLE_SIZE,
                   seed: int = DEFAULT_SEED, features: Sequence[str] = FEATURES,
                   progress: Progress | None = None, threads: int = SCAN_THREADS) -> Stability:
    """Bootstrap every K of `k_values`: all (K, resample) fits side by side on `threads` threads.

    `progress(message, fraction)` is called on the calling thread after each fit, with an
    estimate of the time left.
    """
    sample = stability_sample(customers, resamples=resamples, sample_size=sample_size, seed=seed, features=features)
    ks = sorted({int(k) for k in k_values})
    for k in ks:
        _check_k(sample, k)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        try:
            return Stability(sample=sample, by_k=_run_jobs(pool, sample, ks, resamples, seed, progress))
        except BaseException:
            pool.shutdown(cancel_futures=True)  # an error (or a progress callback that stops us): no more fits
            raise


def _run_jobs(pool: ThreadPoolExecutor, sample: StabilitySample, ks: list[int], resamples: int, seed: int,
              progress: Progress | None) -> dict[int, KStability]:
    started = time.perf_counter()
    total = len(ks) * (resamples + 1)
    # Large K first: they take longest, so the threads finish together.
    jobs = {}
    for k in sorted(ks, reverse=True):
        jobs[pool.submit(_fit, sample.x, k, seed)] = (k, None)
        for b in range(resamples):
            jobs[pool.submit(_resample_labels, sample, k, b)] = (k, b)
    references: dict[int, np.ndarray] = {}
    labels: dict[int, list] = {k: [None] * resamples for k in ks}
    for done, future in enumerate(as_completed(jobs), start=1):
        k, b = jobs[future]
        if b is None:
            references[k] = future.result().labels_
        else:
            labels[k][b] = future.result()
        if progress is not None:
            elapsed = time.perf_counter() - started
            left = elapsed / done * (total - done)
            progress(f"Stability: {done} of {total} fits, about {left:.0f} s left", done / total)
    return {k: _assemble(k, references[k], labels[k]) for k in ks}


def seed_agreement(sample: StabilitySample, k: int, *, seeds: int = SEED_CHECK_SEEDS,
                   threads: int = SCAN_THREADS) -> float:
    """Mean pairwise ARI of K's labels on the sample under `seeds` seeds (the sample's and the next ones)."""
    _check_k(sample, k)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        labelings = list(pool.map(lambda s: _fit(sample.x, k, sample.seed + s).labels_, range(seeds)))
    pairs = [adjusted_rand_score(labelings[i], labelings[j])
             for i in range(len(labelings)) for j in range(i + 1, len(labelings))]
    return float(np.mean(pairs))


# ---------------------------------------------------------------------------------------------
# per customer
# ---------------------------------------------------------------------------------------------
def margins(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Distance to the second-nearest centre minus distance to the nearest (0 with one centre)."""
    x = np.asarray(x, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if len(centres) < 2:
        return np.zeros(len(x))
    squared = (np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * x @ centres.T
               + np.einsum("ij,ij->i", centres, centres)[None, :])
    nearest_two = np.sqrt(np.maximum(np.partition(squared, 1, axis=1)[:, :2], 0.0))
    return nearest_two[:, 1] - nearest_two[:, 0]


def borderline(margin: np.ndarray, *, share: float = BORDERLINE_SHARE,
               tie_breaker: np.ndarray | None = None) -> np.ndarray:
    """True for the round(share × n) smallest margins.

    Equal margins at the cut (identical customers) go to the smallest `tie_breaker` (customer
    ids), else to the earlier rows. No full sort: 1M customers take milliseconds.
    """
    margin = np.asarray(margin, dtype=np.float64)
    flags = np.zeros(len(margin), dtype=bool)
    count = int(round(share * len(margin)))
    if count == 0:
        return flags
    cut = np.partition(margin, count - 1)[count - 1]
    flags[margin < cut] = True
    tied = np.flatnonzero(margin == cut)
    if tie_breaker is not None:
        tied = tied[np.argsort(np.asarray(tie_breaker)[tied], kind="stable")]
    flags[tied[: count - int(flags.sum())]] = True
    return flags


def customer_margins(segmented: pd.DataFrame, *, model=None, centres: np.ndarray | None = None,
                     seed: int = DEFAULT_SEED, features: Sequence[str] = FEATURES,
                     share: float = BORDERLINE_SHARE) -> pd.DataFrame:
    """`margin` and `borderline` per customer of `segmented`, indexed like it.

    With the fitted `model` (log1p → StandardScaler → KMeans) its scaled space and centres are
    used. Otherwise the scaled space is the main fit's (log1p, then standardised over these
    customers) and the centres are `centres`, else each segment_id's mean there: the same
    points as K-Means' once it has converged.
    """
    if model is not None:
        index = segmented.index
        scaled = np.asarray(model[:-1].transform(segmented.loc[:, list(features)].astype(float)), dtype=np.float64)
        centres = model[-1].cluster_centers_
    else:
        matrix, scaled = _scaled(segmented, features, seed)
        index = matrix.index
        if centres is None:
            segment_ids = segmented.loc[index, "segment_id"].to_numpy()
            centres = pd.DataFrame(scaled).groupby(segment_ids, sort=True).mean().to_numpy()
    margin = margins(scaled, centres)
    ids = segmented.loc[index, "customer_id"].astype(str).to_numpy()
    frame = pd.DataFrame({"margin": margin, "borderline": borderline(margin, share=share, tie_breaker=ids)},
                         index=index)
    return frame.reindex(segmented.index)


# ---------------------------------------------------------------------------------------------
# the chosen segmentation, in words
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentationStability:
    """What the stability says about one segmentation (the one in use) and about K."""

    k: int
    by_k: pd.DataFrame  # k, stability, stability_low, stability_high
    segments: pd.DataFrame  # segment_id, stability, stability_band
    seed_agreement: float
    resamples: int
    sample_size: int
    stable_found: bool  # some K of the marketer range reaches STABLE_THRESHOLD
    warnings: tuple[str, ...]


def no_stable_message(by_k: pd.DataFrame, *, k_range: tuple[int, int] = K_SUGGEST_RANGE) -> str | None:
    """The plain warning when no K of `k_range` reaches STABLE_THRESHOLD (None when one does)."""
    low, high = k_range
    window = by_k[(by_k["k"] >= low) & (by_k["k"] <= high)].dropna(subset=["stability"])
    if window.empty or (window["stability"] >= STABLE_THRESHOLD).any():
        return None
    best = window.loc[window["stability"].idxmax()]
    return (f"No stable segmentation was found: no K from {low} to {high} reaches stability {STABLE_THRESHOLD:.2f} "
            f"(the best is K={int(best['k'])} at {best['stability']:.2f}). These customers form a continuum and the "
            "segments are arbitrary cuts of it that would come out differently on another sample; use the named "
            "RFM segments (Champions, At Risk, …), which are still shown, instead.")


def seed_message(agreement: float, k: int, *, seeds: int = SEED_CHECK_SEEDS) -> str | None:
    if agreement >= SEED_AGREEMENT_MIN:
        return None
    return (f"The {k} segments depend on the random seed: under {seeds} seeds they agree only {agreement:.2f} "
            f"(adjusted Rand index; {SEED_AGREEMENT_MIN:.2f} or more means the seed does not matter).")


def assess(stability: Stability, segmented: pd.DataFrame, *, k_range: tuple[int, int] = K_SUGGEST_RANGE,
           seeds: int = SEED_CHECK_SEEDS) -> SegmentationStability:
    """Per-segment stability, the seed check and the warnings for the segmentation in use."""
    segments = stability.segment_stability(segmented)
    k = len(segments)
    by_k = stability.table()
    agreement = seed_agreement(stability.sample, k, seeds=seeds) if k >= 2 else 1.0
    messages = tuple(m for m in (no_stable_message(by_k, k_range=k_range), seed_message(agreement, k, seeds=seeds))
                     if m)
    window = by_k[(by_k["k"] >= k_range[0]) & (by_k["k"] <= k_range[1])]
    return SegmentationStability(
        k=k, by_k=by_k, segments=segments, seed_agreement=agreement, resamples=stability.sample.resamples,
        sample_size=stability.sample.size, stable_found=bool((window["stability"] >= STABLE_THRESHOLD).any()),
        warnings=messages,
    )

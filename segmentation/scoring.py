"""RFM scores 1-5 by quintile of rank, and the named R×F segment of each customer."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import SCORE_BINS, SEGMENT_MAP

__all__ = ["SCORE_DIRECTIONS", "quantile_scores", "add_rfm_scores", "rfm_segment_names", "score_edges",
           "scores_from_edges", "rfm_edges", "add_rfm_scores_with_edges"]


# Feature -> (score column, higher value is better): a short recency is good.
SCORE_DIRECTIONS = {"recency": ("r_score", False), "frequency": ("f_score", True), "monetary": ("m_score", True)}


def quantile_scores(values: pd.Series, tie_breaker: pd.Series, *, higher_is_better: bool = True,
                    bins: int = SCORE_BINS) -> np.ndarray:
    """Scores 1..bins by quintile of rank; equal values are ordered by `tie_breaker`.

    Ranking (rather than cutting at value quantiles) keeps every bin populated even when
    many customers share a value, such as frequency 1; ordering ties by the customer id makes
    the result independent of row order.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    goodness = values.to_numpy(dtype=float)
    if not higher_is_better:
        goodness = -goodness
    order = np.lexsort((tie_breaker.to_numpy(dtype=str), goodness))
    scores = np.empty(n, dtype=np.int64)
    scores[order] = np.arange(n) * bins // n + 1
    return scores


def _segment_lookup() -> np.ndarray:
    lookup = np.empty((SCORE_BINS + 1, SCORE_BINS + 1), dtype=object)
    for name, r_scores, f_scores in reversed(SEGMENT_MAP):  # first match wins
        for r in r_scores:
            for f in f_scores:
                lookup[r, f] = name
    return lookup


def rfm_segment_names(r_scores: np.ndarray, f_scores: np.ndarray) -> np.ndarray:
    return _segment_lookup()[np.asarray(r_scores), np.asarray(f_scores)]


def add_rfm_scores(customers: pd.DataFrame) -> pd.DataFrame:
    """A copy of `customers` with r_score, f_score, m_score and rfm_segment."""
    ids = customers["customer_id"]
    scored = customers.copy()
    scored["r_score"] = quantile_scores(customers["recency"], ids, higher_is_better=False)
    scored["f_score"] = quantile_scores(customers["frequency"], ids)
    scored["m_score"] = quantile_scores(customers["monetary"], ids)
    scored["rfm_segment"] = rfm_segment_names(scored["r_score"].to_numpy(), scored["f_score"].to_numpy())
    scored["rfm_segment"] = scored["rfm_segment"].astype("string")
    return scored


def score_edges(values: pd.Series, scores: np.ndarray, *, higher_is_better: bool = True,
                bins: int = SCORE_BINS) -> list[float]:
    """The `bins - 1` cut points of fitted scores: edge b is the best value among scores <= b.

    `scores_from_edges` with these edges gives back every score, except where equal values
    were split between two scores by the tie breaker (they all get the lower score), so a
    score means the same range of values on any later data.
    """
    goodness = values.to_numpy(dtype=float) * (1 if higher_is_better else -1)
    scores = np.asarray(scores)
    edges = []
    for b in range(1, bins):
        at_or_below = goodness[scores <= b]
        best = at_or_below.max() if len(at_or_below) else -np.inf
        edges.append(float(best if higher_is_better else -best))
    return edges


def scores_from_edges(values: pd.Series, edges: list[float], *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..len(edges)+1: one more than the number of edges the value is better than."""
    value = values.to_numpy(dtype=float)[:, None]
    cuts = np.asarray(edges, dtype=float)[None, :]
    better = value > cuts if higher_is_better else value < cuts
    return better.sum(axis=1).astype(np.int64) + 1


def rfm_edges(scored: pd.DataFrame) -> dict[str, list[float]]:
    """Score cut points of a customer table scored by `add_rfm_scores` (see `score_edges`)."""
    return {
        feature: score_edges(scored[feature], scored[column].to_numpy(), higher_is_better=higher)
        for feature, (column, higher) in SCORE_DIRECTIONS.items()
    }


def add_rfm_scores_with_edges(customers: pd.DataFrame, edges: dict[str, list[float]]) -> pd.DataFrame:
    """A copy of `customers` scored with frozen cut points instead of this table's quintiles."""
    scored = customers.copy()
    for feature, (column, higher) in SCORE_DIRECTIONS.items():
        scored[column] = scores_from_edges(customers[feature], edges[feature], higher_is_better=higher)
    scored["rfm_segment"] = rfm_segment_names(scored["r_score"].to_numpy(), scored["f_score"].to_numpy())
    scored["rfm_segment"] = scored["rfm_segment"].astype("string")
    return scored

"""RFM scores 1-5 by quintile of rank, and the named R×F segment of each customer."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import SCORE_BINS, SEGMENT_MAP

__all__ = ["quantile_scores", "add_rfm_scores", "rfm_segment_names"]


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

"""Quintile scores and the named R×F segment map."""
import numpy as np
import pandas as pd
import pytest

from segmentation.scoring import add_rfm_scores, quantile_scores, rfm_segment_names
from segmentation.settings import SEGMENT_MAP, rfm_segment_name


def ids(n):
    return pd.Series([f"c{i:02d}" for i in range(n)])


def test_quintiles_of_ten_values():
    values = pd.Series([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert quantile_scores(values, ids(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quantile_scores(values, ids(10), higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_ties_are_broken_by_customer_id_not_row_order():
    values = pd.Series([1, 1, 1, 1, 1])
    customers = pd.Series(["e", "a", "c", "b", "d"])
    scores = quantile_scores(values, customers)
    assert dict(zip(customers, scores)) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    shuffled = quantile_scores(values[::-1].reset_index(drop=True), customers[::-1].reset_index(drop=True))
    assert dict(zip(customers[::-1], shuffled)) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}


def test_every_bin_is_used_even_when_most_customers_share_a_value():
    values = pd.Series([1] * 80 + list(range(2, 22)))
    scores = quantile_scores(values, ids(100))
    assert np.bincount(scores)[1:].tolist() == [20, 20, 20, 20, 20]


@pytest.mark.parametrize("r, f, name", [
    (5, 5, "Champions"), (5, 4, "Champions"), (4, 5, "Loyal Customers"), (3, 4, "Loyal Customers"),
    (5, 3, "Potential Loyalists"), (4, 2, "Potential Loyalists"), (5, 1, "New Customers"),
    (4, 1, "Promising"), (3, 3, "Need Attention"), (3, 2, "About to Sleep"), (3, 1, "About to Sleep"),
    (2, 4, "At Risk"), (1, 3, "At Risk"), (1, 5, "Can't Lose Them"), (2, 5, "Can't Lose Them"),
    (2, 2, "Hibernating"), (1, 1, "Hibernating"),
])
def test_segment_map(r, f, name):
    assert rfm_segment_name(r, f) == name
    assert rfm_segment_names(np.array([r]), np.array([f]))[0] == name


def test_segment_map_covers_every_score_pair_exactly_once():
    for r in range(1, 6):
        for f in range(1, 6):
            matches = [name for name, rs, fs in SEGMENT_MAP if r in rs and f in fs]
            assert len(matches) == 1, (r, f, matches)


def test_add_rfm_scores_recency_is_reversed():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "recency": [1, 10, 100, 200, 300],
                              "frequency": [9, 7, 5, 3, 1], "monetary": [5.0, 4.0, 3.0, 2.0, 1.0]})
    scored = add_rfm_scores(customers)
    assert scored["r_score"].tolist() == [5, 4, 3, 2, 1]
    assert scored["f_score"].tolist() == [5, 4, 3, 2, 1]
    assert scored["rfm_segment"].tolist() == ["Champions", "Loyal Customers", "Need Attention",
                                              "Hibernating", "Hibernating"]
    assert "r_score" not in customers  # input untouched

"""The one run sequence (pipeline.RunSequence): what run_prepared, migration.fit_as_of and the app call.

run_prepared runs every step in order and gives what the steps give one by one; a K asked for is
decided without the K scan (the app's cleaning changes under a chosen K, migration's fit at A);
customers with fewer than 3 distinct profiles never scan and take their number as K.
"""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

from segmentation import migration, pipeline, segments
from segmentation.errors import KChoiceError
from segmentation.kpolicy import decide_k
from segmentation.model import DegenerateClustersWarning, max_k
from segmentation.pipeline import RunSequence, prepare_canonical
from segmentation.saved import from_segmentation
from segmentation.scoring import add_rfm_scores
from tests.canonical import ROLES_QP, line, table
from tests.test_migration import A, planted_transactions


@pytest.fixture(scope="module")
def prepared():
    return prepare_canonical(planted_transactions(), ROLES_QP)


@pytest.fixture(scope="module")
def customers(prepared) -> pd.DataFrame:
    return prepared.customers


@pytest.fixture
def scans(monkeypatch) -> list[int]:
    """The K scans made (pipeline.scan_for, the sequence's first step)."""
    made: list[int] = []
    scan_for = pipeline.scan_for

    def counted(*args, **kwargs):
        made.append(1)
        return scan_for(*args, **kwargs)

    monkeypatch.setattr(pipeline, "scan_for", counted)
    return made


@pytest.mark.parametrize("request_k", ["auto", 3, 6])
def test_run_prepared_gives_what_the_steps_give_one_by_one(prepared, request_k):
    result = pipeline.run_prepared(prepared, k=request_k, seed=7)
    # The steps as the sequence was written before it had a home: scan, suggestion, decide_k, fit.
    scan, suggestion = pipeline.scan_for(prepared.customers, seed=7)
    k = decide_k(request_k, scan=scan, suggestion=suggestion)
    fitted = segments.segment_customers(prepared.customers, k=k, seed=7)
    pd.testing.assert_frame_equal(result.k_scan, scan)
    assert result.suggestion == suggestion and result.k == k == (suggestion.k if request_k == "auto" else request_k)
    pd.testing.assert_frame_equal(result.segmentation.customers, fitted.customers)
    assert result.warnings == ()


@pytest.mark.parametrize("request_k", [2, 4, 10])
def test_a_k_asked_for_is_decided_without_the_k_scan(customers, scans, request_k):
    sequence = RunSequence(customers, seed=0)
    assert not sequence.needs_evidence(request_k) and sequence.needs_evidence("auto")
    assert sequence.decide(request_k) == request_k
    assert scans == []
    evidence = sequence.evidence()
    assert sequence.decide(request_k, evidence) == request_k and len(scans) == 1


def test_auto_without_evidence_computes_it_once(customers, scans):
    sequence = RunSequence(customers, seed=0)
    assert sequence.decide("auto") == sequence.evidence().suggestion.k
    assert len(scans) == 2  # one for decide, one for the evidence asked for above
    assert sequence.k_values == tuple(range(2, 11))


@pytest.mark.parametrize(("request_k", "expected"), [("auto", 2), (2, 2), (5, 2)])
def test_customers_with_two_profiles_take_their_number_without_a_scan(scans, request_k, expected):
    two = prepare_canonical(table(line("a", "1", "2011-01-10 09:00", 1, 10.0),
                                  line("b", "2", "2011-01-10 09:00", 1, 10.0),
                                  line("c", "3", "2011-06-10 09:00", 2, 30.0)), ROLES_QP).customers
    sequence = RunSequence(two)
    assert sequence.degenerate is not None and sequence.degenerate.k == 2 and sequence.k_values == ()
    assert not sequence.needs_evidence(request_k)
    assert sequence.decide(request_k) == expected and scans == []


@pytest.mark.parametrize("bad", [1, 0, "many", 2.5])
def test_an_impossible_k_is_the_one_rule_s_error(customers, bad):
    with pytest.raises(KChoiceError):
        RunSequence(customers).decide(bad)


def test_auto_needs_a_suggestion_from_the_caller():
    with pytest.raises(ValueError, match="needs the suggestion"):
        decide_k("auto", scan=None, suggestion=None)


def test_fit_returns_the_warning_of_a_k_above_the_distinct_profiles():
    few = prepare_canonical(table(*(line(c, str(i), f"2011-0{1 + i % 3}-10 09:00", 1 + i % 3, 10.0)
                                    for i, c in enumerate("abcdefghij"))), ROLES_QP).customers
    profiles = len(few[["recency", "frequency", "monetary"]].drop_duplicates())
    assert profiles == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateClustersWarning)  # recorded by fit, never leaked
        fitted, messages = RunSequence(few).fit(5)
    assert fitted.k == 3 and len(messages) == 1 and "3 distinct customer profiles" in messages[0]


@pytest.mark.parametrize("request_k", [3, 4, 50])
def test_migration_fits_at_a_by_the_one_rule(prepared, request_k):
    at_a = migration.customers_as_of(prepared.purchases, A)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateClustersWarning)
        frozen = migration.fit_as_of(at_a, A, k=request_k)
    # What the former rule of its own gave: min(request, distinct profiles), fitted directly.
    scored = add_rfm_scores(at_a)
    want = segments.segment_customers(scored, k=min(request_k, max_k(scored)), seed=frozen.seed)
    expected = from_segmentation(want, snapshot=A, seed=frozen.seed)
    assert frozen.k == expected.k == min(request_k, max_k(scored))
    assert frozen.centers == expected.centers and frozen.names() == expected.names()

"""This run's results: the customers, K evidence and segments of the session's current choices.

:func:`compute` is called once per run by ``app.py`` (before the page runs); pages read the
outcome with :func:`results`. The steps are those of the core's one run sequence
(:class:`segmentation.pipeline.RunSequence`: K evidence → K → segments), each cached, each run
only when something on screen needs it: the K scan when K is the suggested one of new data, or
when its evidence is shown (Choose K, the report); the segments and the top products by the pages
that show them. So once a K is on screen, a change of the cleaning or the filters cleans again
and compares no K (the K stays; the new data's suggestion is offered, never applied by itself).

When the current choices fail, the last choices that worked are
shown, carrying the error; when nothing has ever worked, the outcome is the error itself.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from segmentation.errors import KChoiceError, SegmenterError
from segmentation.model import SCAN_COLUMNS, KSuggestion
from segmentation.outlook import AliveMatrix
from segmentation.pipeline import Evidence, Prepared, Result, RunSequence
from segmentation.prediction import Prediction
from segmentation.reading import LoadedFile
from segmentation.segments import Segmentation
from segmentation.settings import K_SCAN_RANGE
from segmentation.stability import SegmentationStability, Stability

from . import cache, session, sources
from . import prediction as predicting
from . import saved as saved_ui
from . import stability as stability_check
from .progress import run_step
from .session import LAST_GOOD, RESULTS, Spec

__all__ = ["Results", "compute", "results"]


@dataclass
class Results:
    """What the pages show: the customers of ``spec`` (the current settings, or the last that worked)."""

    spec: Spec
    loaded: LoadedFile
    roles: dict[str, str]
    prepared: Prepared
    sequence: RunSequence  # the core's run sequence for these customers and seed
    seed: int
    k: int
    error: SegmenterError | None = None  # the current settings failed with this; data is the last good
    timings: dict[str, float] = field(default_factory=dict)
    stability_key: tuple | None = None  # ui.stability.job_key of these customers; None: nothing to check
    stability: Stability | None = None  # None until the background check is done (ui/stability.py)
    # The suggestion (with stability) when it differs from the K on screen, which the marketer did
    # not choose: offered, never applied by itself (app.py).
    favoured_k: int | None = None
    # The K evidence (scan, with stability once checked, and suggestion) once computed: by this run
    # because K is the suggested one, earlier in this session, or on first use (evidence()).
    known: Evidence | None = field(default=None, repr=False)
    _segmentation: tuple | None = field(default=None, repr=False)  # (saved segmentation in use, its segments)

    @property
    def stale(self) -> bool:
        return self.error is not None

    @property
    def k_values(self) -> list[int]:
        # Too few distinct customers to compare K: the one K the data supports (see `degenerate`).
        # A K chosen outside the compared ones (kpolicy allows it) stays pickable.
        degenerate = self.sequence.degenerate
        return [degenerate.k] if degenerate is not None else sorted(set(self.sequence.k_values) | {self.k})

    @property
    def degenerate(self) -> bool:
        return self.sequence.degenerate is not None

    def evidence(self) -> Evidence:
        """The K evidence of these customers: computed (and remembered for the session) when first
        asked for — by the Choose K page, the report — if K did not need it."""
        if self.known is None:
            raw = _evidence(self.spec, self.sequence)
            session.remember_evidence(self.spec.key(), self.seed, raw)
            self.known = _with_stability(self.sequence, raw, self.stability)
        return self.known

    @property
    def scan(self) -> pd.DataFrame:
        return self.evidence().scan

    @property
    def suggestion(self) -> KSuggestion:
        return self.evidence().suggestion

    def known_suggestion(self) -> KSuggestion | None:
        """The suggested K if its evidence is already computed (None: not yet, nothing is computed for it)."""
        return None if self.known is None else self.known.suggestion

    def customer_products(self) -> pd.DataFrame:
        """Revenue per customer × product (top products), fetched the first time a page shows them."""
        if self.spec.source.in_database or not self.prepared.customer_products.empty:
            return self.prepared.customer_products  # a database table's come with its customers
        return cache.file_products(self.spec.key(), self.loaded, dict(self.roles), self.spec.cleaning,
                                   self.prepared.customers)

    def currency(self) -> str | None:
        """How money is labelled ("£", "CHF"): as the marketer set it on the Data page, else as the file says."""
        return sources.currency(self.spec.source, self.roles)

    def segmentation(self) -> Segmentation:
        frozen = saved_ui.in_use()
        which = (saved_ui.name(), frozen.created) if frozen is not None else None
        if self._segmentation is None or self._segmentation[0] != which:  # one cache read per run, not one a use
            if frozen is not None:  # a saved segmentation applied instead of a fit
                found = saved_ui.applied(self.spec.key(), self.prepared.customers)
            else:
                found = cache.segment(self.spec.key(), self.k, self.seed, self.prepared.customers)
            self._segmentation = (which, found)
        return self._segmentation[1]

    def top_items(self) -> pd.DataFrame:
        seg = self.segmentation()
        frozen = saved_ui.in_use()
        which = (saved_ui.name(), frozen.created) if frozen is not None else None
        products = self.customer_products()
        if not products.empty:  # made once for these customers; a K change only sums them again
            products = cache.product_lines(self.spec.key() + (which,), seg.customers["customer_id"], products)
        return cache.top_items(self.spec.key() + (which,), self.k, self.seed, seg.customers, products)

    def result(self) -> Result:
        """These results as the library's Result (what the report and the notebook API take)."""
        return self.report_result()()

    def report_result(self) -> Callable[[], Result]:
        """:meth:`result` made later (the report button's data, built when clicked): what the session
        and the caches hold is gathered now; K evidence not computed yet is computed by the call,
        from the core alone (no Streamlit outside the script run)."""
        prediction = self.prediction()  # the report's "What comes next" once computed (ui/prediction.py)
        prepared = replace(self.prepared, customer_products=self.customer_products())
        segmentation, verdict, known = self.segmentation(), self.stability_verdict(), self.known
        sequence, stable = self.sequence, self.stability

        def made() -> Result:
            evidence = known or _with_stability(sequence, sequence.evidence(), stable)
            return Result(prepared=prepared, k_scan=evidence.scan, suggestion=evidence.suggestion, k=self.k,
                          segmentation=segmentation, seed=self.seed, source=self.spec.source.name,
                          stability=verdict, prediction=prediction,
                          predict_days=None if prediction is None else prediction.horizon_days)

        return made

    def prediction(self, *, wait: bool = False) -> Prediction | None:
        """The BG/NBD and Gamma-Gamma prediction of these customers (ui/prediction.py): None until
        the background computation is done; ``wait``: computed now if need be, a failure raised."""
        return predicting.wait(self) if wait else predicting.finished(self)

    def _segments_key(self) -> tuple:
        frozen = saved_ui.in_use()
        return self.spec.key() + ((saved_ui.name(), frozen.created) if frozen is not None else None,
                                  self.k, self.seed)

    def customers_ahead(self, prediction: Prediction) -> pd.DataFrame:
        """The segments' customers with their chance still active, expected purchases and predicted revenue."""
        return cache.customers_ahead(self._segments_key(), self.segmentation().customers, prediction)

    def segment_outlook(self, prediction: Prediction, horizon_days: int) -> pd.DataFrame:
        """Per segment: predicted revenue and purchases of the next ``horizon_days`` days, chance still active."""
        return cache.segment_outlook(self._segments_key(), int(horizon_days), self.segmentation().customers,
                                     prediction)

    def lapsing_customers(self, prediction: Prediction, *, p_alive_below: float,
                          top_value_share: float) -> pd.DataFrame:
        """Valuable customers likely lapsing (segmentation.outlook.lapsing_customers)."""
        return cache.lapsing_customers(self._segments_key(), float(p_alive_below), float(top_value_share),
                                       self.customers_ahead(prediction))

    def p_alive_matrix(self, prediction: Prediction) -> AliveMatrix:
        """The chance-still-active matrix of these customers (segmentation.outlook.alive_matrix)."""
        return cache.p_alive_matrix(self.spec.key(), prediction)

    def stability_verdict(self) -> SegmentationStability | None:
        """Per-segment stability and the seed check of the segments in use, once the check is done."""
        if self.stability is None:
            return None
        return stability_check.assess(self.stability_key, self.stability, self.segmentation().customers)


def _k_for(sequence: RunSequence, k_wanted: int | None, evidence: Evidence | None) -> int:
    """The K to show, by the core's one K rule (RunSequence.decide → kpolicy.decide_k); an impossible
    K is an error the app shows (with its own hint), never a silent fallback."""
    try:
        return sequence.decide("auto" if k_wanted is None else k_wanted, evidence)
    except KChoiceError as error:
        error.hint = error.hint or "Pick another K on the Choose K page, or use the suggested K."
        raise


def _evidence(spec: Spec, sequence: RunSequence) -> Evidence:
    """Step 1 of the run sequence, cached (ui/cache.scan) and announced in a status box during a run."""
    if sequence.degenerate is not None:  # nothing to compare: no scan
        return Evidence(pd.DataFrame(columns=SCAN_COLUMNS), sequence.degenerate)
    key, seed, customers = spec.key(), sequence.seed, sequence.customers
    if get_script_run_ctx(suppress_warning=True) is None:  # asked outside a run (a test): no status box
        return Evidence(*cache.scan(key, seed, customers, lambda *_: None))
    return Evidence(*run_step("Comparing segmentations for K = {}–{}".format(*K_SCAN_RANGE), ("scan", seed) + key,
                              lambda log: cache.scan(key, seed, customers, log)))


def _with_stability(sequence: RunSequence, evidence: Evidence, stable: Stability | None) -> Evidence:
    """Step 3 once the background check (ui/stability.py) is done: the scan gets its columns and the
    suggestion prefers stable K."""
    if stable is None or evidence.scan.empty:
        return evidence
    return sequence.with_stability(evidence, stable)


def _results_for(spec: Spec, seed: int, k_wanted: int | None) -> Results:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    key = spec.key()
    loaded = run_step("Reading the data", sources.read_key(spec.source),
                      lambda log: sources.read(spec.source, log))
    roles = sources.roles_of(spec, loaded)
    prepared = run_step("Cleaning the data and computing recency, frequency and monetary value", ("prepare",) + key,
                        lambda log: sources.prepare(spec, loaded, roles, log))
    timings["prepare"] = time.perf_counter() - started
    sequence = RunSequence(prepared.customers, seed=seed)
    # Stability is checked in the background after the first segments are shown (app.py).
    ks = sequence.k_values
    stability_key = stability_check.job_key(key, seed, ks) if ks else None
    job = stability_check.find(stability_key) if ks else None
    stable = job.result() if job is not None else None
    raw = session.known_evidence(key, seed)
    favoured = None
    suggested = k_wanted is None
    if suggested and sequence.degenerate is None:  # too few distinct customers: their one K, never kept
        # The segments on screen do not change by themselves: the K first shown for this source
        # stays when the check ends and when the cleaning or the filters change, until the marketer
        # takes another (app.py offers the one stability favours, Choose K the new suggestion).
        source_key = (spec.source.digest, spec.source.sheet)
        k_wanted = session.shown_k(source_key, seed)
        if k_wanted is None:
            if raw is None:
                raw = _evidence(spec, sequence)
            k_wanted = session.shown_k(source_key, seed, _k_for(sequence, None, raw))
    if raw is not None:
        session.remember_evidence(key, seed, raw)
    evidence = None if raw is None else _with_stability(sequence, raw, stable)
    if (evidence is not None and stable is not None and sequence.degenerate is None
            and suggested and evidence.suggestion.k != k_wanted):
        favoured = evidence.suggestion.k
    k = _k_for(sequence, k_wanted, evidence)
    timings["scan"] = time.perf_counter() - started - timings["prepare"]
    return Results(spec=spec, loaded=loaded, roles=roles, prepared=prepared, sequence=sequence,
                   seed=seed, k=k, timings=timings, stability_key=stability_key, stability=stable,
                   favoured_k=favoured, known=evidence)


def compute() -> Results | SegmenterError:
    """Results for the current settings; if they fail, the last good results carrying the error.

    Returns the error itself when nothing has ever worked in this session (no data to show).
    Called once per run by app.py; pages get the outcome from :func:`results`.
    """
    session.init()
    ss = st.session_state
    spec = session.current_spec()
    seed = session.seed()
    stability_check.keep_only(session.token(), spec.key())  # the check of data left behind stops
    try:
        outcome: Results | SegmenterError = _results_for(spec, seed, session.k())
        ss[LAST_GOOD] = spec
    except SegmenterError as error:
        outcome = error
        last = ss.get(LAST_GOOD)
        if last is not None and last != spec:
            try:
                outcome = _results_for(last, seed, session.k())
                outcome.error = error
            except SegmenterError:
                outcome = error
    ss[RESULTS] = outcome
    return outcome


def results() -> Results | SegmenterError:
    """This run's outcome, computed by app.py before the page ran."""
    if RESULTS not in st.session_state:
        return compute()
    return st.session_state[RESULTS]

"""This run's results: the customers, K evidence and segments of the session's current choices.

:func:`compute` is called once per run by ``app.py`` (before the page runs); pages read the
outcome with :func:`results`. When the current choices fail, the last choices that worked are
shown, carrying the error; when nothing has ever worked, the outcome is the error itself.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from segmentation.errors import KChoiceError, SegmenterError
from segmentation.kpolicy import decide_k
from segmentation.model import KSuggestion, suggest_k
from segmentation.outlook import AliveMatrix
from segmentation.pipeline import Prepared, Result
from segmentation.prediction import Prediction
from segmentation.reading import LoadedFile
from segmentation.segments import Segmentation
from segmentation.settings import K_SCAN_RANGE, K_SUGGEST_RANGE
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
    scan: pd.DataFrame
    suggestion: KSuggestion
    seed: int
    k: int
    error: SegmenterError | None = None  # the current settings failed with this; data is the last good
    timings: dict[str, float] = field(default_factory=dict)
    stability_key: tuple | None = None  # ui.stability.job_key of these customers; None: nothing to check
    stability: Stability | None = None  # None until the background check is done (ui/stability.py)
    # The suggestion (with stability) when it differs from the K on screen, which the marketer did
    # not choose: offered, never applied by itself (app.py).
    favoured_k: int | None = None

    @property
    def stale(self) -> bool:
        return self.error is not None

    @property
    def k_values(self) -> list[int]:
        # Too few distinct customers to compare K: the one K the data supports (see `degenerate`).
        # A K chosen outside the compared ones (kpolicy allows it) stays pickable.
        return sorted({int(k) for k in self.scan["k"]} | {self.k}) if not self.scan.empty else [self.suggestion.k]

    @property
    def degenerate(self) -> bool:
        return self.scan.empty

    def currency(self) -> str | None:
        """How money is labelled ("£", "CHF"): as the marketer set it on the Data page, else as the file says."""
        return sources.currency(self.spec.source, self.roles)

    def segmentation(self) -> Segmentation:
        if saved_ui.in_use() is not None:  # a saved segmentation applied instead of a fit
            return saved_ui.applied(self.spec.key(), self.prepared.customers)
        return cache.segment(self.spec.key(), self.k, self.seed, self.prepared.customers)

    def top_items(self) -> pd.DataFrame:
        seg = self.segmentation()
        frozen = saved_ui.in_use()
        which = (saved_ui.name(), frozen.created) if frozen is not None else None
        return cache.top_items(self.spec.key() + (which,), self.k, self.seed, seg.customers,
                               self.prepared.customer_products)

    def result(self) -> Result:
        """These results as the library's Result (what the report and the notebook API take)."""
        prediction = self.prediction()  # the report's "What comes next" once computed (ui/prediction.py)
        return Result(prepared=self.prepared, k_scan=self.scan, suggestion=self.suggestion, k=self.k,
                      segmentation=self.segmentation(), seed=self.seed, source=self.spec.source.name,
                      stability=self.stability_verdict(), prediction=prediction,
                      predict_days=None if prediction is None else prediction.horizon_days)

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


def _k_for(k_wanted: int | None, scan: pd.DataFrame, suggestion: KSuggestion) -> int:
    """The K to show, by the core's one K rule (`segmentation.kpolicy.decide_k`); an impossible K
    is an error the app shows (with its own hint), never a silent fallback."""
    try:
        return decide_k("auto" if k_wanted is None else k_wanted, scan=scan, suggestion=suggestion)
    except KChoiceError as error:
        error.hint = error.hint or "Pick another K on the Choose K page, or use the suggested K."
        raise


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
    scan, suggestion = run_step("Comparing segmentations for K = {}–{}".format(*K_SCAN_RANGE), ("scan", seed) + key,
                                lambda log: cache.scan(key, seed, prepared.customers, log))
    timings["scan"] = time.perf_counter() - started - timings["prepare"]
    # Stability is checked in the background after the first segments are shown (app.py); once
    # it is done the scan gets its columns and the suggestion prefers stable K.
    ks = [int(k) for k in scan["k"]]
    stability_key = stability_check.job_key(key, seed, ks) if ks else None
    job = stability_check.find(stability_key) if ks else None
    stable = job.result() if job is not None else None
    if stable is not None:
        scan = scan.merge(stable.table(), on="k", how="left")
        suggestion = suggest_k(scan, k_range=K_SUGGEST_RANGE)
    favoured = None
    if k_wanted is None and ks:
        # The segments on screen do not change when the check ends: the K first shown for this
        # data stays until the marketer takes the one stability favours (app.py offers it).
        k_wanted = session.shown_k(key, seed, _k_for(None, scan, suggestion))
        favoured = suggestion.k if suggestion.k != k_wanted else None
    return Results(spec=spec, loaded=loaded, roles=roles, prepared=prepared, scan=scan, suggestion=suggestion,
                   seed=seed, k=_k_for(k_wanted, scan, suggestion), timings=timings,
                   stability_key=stability_key, stability=stable, favoured_k=favoured)


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

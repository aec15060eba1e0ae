"""Predictions in the app (BG/NBD and Gamma-Gamma, segmentation/prediction.py): computed in the
background once the first segments are on screen, never delaying them.

app.py starts the computation after the page is drawn (:func:`start`) in a thread of this
process (a fit takes a fraction of a second; most of the time is the purchase-day summary, which
DuckDB computes without holding the interpreter). Nothing is redrawn when it is done: the segment
cards and the Customers table show a finished prediction on the marketer's next action, and the
Outlook page, which is about the predictions, waits for it (:func:`wait`). Each data (its
settings' key) is predicted once and kept (the last MAX_JOBS), shared by the sessions like the
other caches. This module draws nothing.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future

import streamlit as st

from segmentation import pipeline
from segmentation.errors import SegmenterError
from segmentation.prediction import HORIZON_PRESETS, Prediction, predict_prepared

from .background import OneAtATime

__all__ = ["autostart", "HORIZON_DAYS", "OUTLOOK_HORIZONS", "Predictions", "enabled", "job_key", "predictions", "start",
           "find", "finished", "wait"]

HORIZON_DAYS = 90  # the cards, the Customers table, the lapsing list and the backtest ("90 days ago")
OUTLOOK_HORIZONS = HORIZON_PRESETS  # the Outlook page's choice of horizon: 30, 90, 365 days
MAX_JOBS = 8
WAIT_SECONDS = 600


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether the server predicts in the background: yes unless SEGMENTER_PREDICTION says off/0/false/no."""
    return environ.get("SEGMENTER_PREDICTION", "on").strip().lower() not in ("off", "0", "false", "no")


def autostart() -> bool:
    """Whether predictions start by themselves, read from the environment when one is asked for.

    Off where the server is started with SEGMENTER_PREDICTION=off (benchmarks/app_latency.py
    compares the first segments with and without it) and in the app tests of other features
    (tests/app/conftest.py). Off, the Outlook page still computes the prediction when opened."""
    return enabled(os.environ)


def job_key(outcome) -> tuple:
    """What a prediction depends on: the data's settings (not K, not the seed)."""
    return ("prediction", HORIZON_DAYS) + outcome.spec.key()


def _task(outcome) -> Callable[[], Prediction]:
    """The prediction of this outcome's data, as a call the background thread can make: everything
    it needs from the session (the read file, or the table on the database connection) is taken here."""
    spec, roles = outcome.spec, dict(outcome.roles)
    transactions = spec.source.transactions(outcome.loaded)
    # The cached customer table holds no engine objects (Prepared.purchases is not pickled): the
    # purchases are cleaned once more here, in the engine, for the purchase-day summary.
    return lambda: predict_prepared(pipeline.prepare(transactions, roles, cleaning=spec.cleaning,
                                                     snapshot=spec.snapshot, with_products=False),
                                    HORIZON_DAYS, backtest=True)


class Predictions(OneAtATime[Future]):
    """The server's predictions (ui/background.OneAtATime): one at a time, the last MAX_JOBS by the
    data's key. Owned by the server through :func:`predictions`, as ui/stability.Checks is."""

    def __init__(self):
        super().__init__("segmenter-prediction", MAX_JOBS)

    def start(self, key: tuple, task: Callable[[], Callable[[], Prediction]], *, force: bool) -> Future | None:
        with self.lock:
            existing = self.existing(key)
            if existing is not None:
                return existing
            if not (force or autostart()):
                return None
            try:
                job = self.pool.submit(task())
            except SegmenterError as error:  # e.g. the session's database connection is gone
                job = Future()
                job.set_exception(error)
            self.remember(key, job)
        return job


@st.cache_resource(show_spinner=False, on_release=Predictions.shutdown)
def predictions() -> Predictions:
    """The server's one :class:`Predictions`: made on first use, shared by the sessions, shut down
    when Streamlit releases it (its resource cache cleared)."""
    return Predictions()


def find(outcome) -> Future | None:
    return predictions().find(job_key(outcome))


def start(outcome, *, force: bool = False) -> Future | None:
    """Start predicting this outcome's data unless it is under way or done; None when predictions do
    not start by themselves (:func:`autostart`; ``force``: start anyway, for the page that shows them)."""
    return predictions().start(job_key(outcome), lambda: _task(outcome), force=force)


def finished(outcome) -> Prediction | None:
    """The prediction when it is done and worked; else None (not started, under way, or failed)."""
    job = find(outcome)
    if job is None or not job.done() or job.exception() is not None:
        return None
    return job.result()


def wait(outcome) -> Prediction:
    """The prediction, computed now if nobody started it; a failure is raised (a PredictionError
    for data the models cannot describe)."""
    job = start(outcome, force=True)
    return job.result(timeout=WAIT_SECONDS)

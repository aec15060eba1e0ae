"""Stability in the app: bootstrapped in the background once the first segments are on screen.

The check takes seconds to tens of seconds (segmentation/stability.py), so it never runs inside
a page's script: app.py starts it after the page is drawn (:func:`start`), a small fragment in
the sidebar shows its progress and an estimate of the time left, and when it is done the app
reruns once and the pages show the fifth Choose K panel, the badges and the K suggestion that
prefers stable K (the Data and Changes pages, which show none of it, are not redrawn: the next
page opened reads the result; see ui/render.stability_progress). One check runs at a time: a
thread of this process waits for it while it is computed in a low-priority child process
(ui/stability_worker.py); each (customers, seed, K range) is computed once and kept (the last MAX_JOBS).
The progress box and the badges are drawn by ui/render.py; this module draws nothing.
"""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from segmentation import stability
from segmentation.errors import SegmenterError
from segmentation.stability import SegmentationStability, Stability

from .background import OneAtATime
from .stability_worker import run_in_child


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether the server runs the background check: yes unless SEGMENTER_STABILITY_CHECK says off/0/false/no."""
    return environ.get("SEGMENTER_STABILITY_CHECK", "on").strip().lower() not in ("off", "0", "false", "no")


def autostart() -> bool:
    """Whether checks start by themselves, read from the environment when a check is asked for.

    Off only in the app tests of other features, so that a check finishing mid-test cannot move
    their suggested K (tests/app/conftest.py; tests/app/test_app_stability.py switches it on), and
    where the server is started with SEGMENTER_STABILITY_CHECK=off (a machine too small to spare the
    CPU; benchmarks/app_latency.py compares the app with and without it)."""
    return enabled(os.environ)


MAX_JOBS = 8
run_check = run_in_child  # how a check is run (the tests put a fake here)
POLL_SECONDS = 3.0  # the sidebar's progress fragment: rarely enough that the page is mostly idle


class CheckCancelled(Exception):
    """Raised inside a check nobody wants any more (every session that asked for it moved to other data)."""


@dataclass
class Job:
    """One stability check: its progress while it runs, then its result (or the error).

    ``wanted_by`` holds the sessions that asked for it (None: started outside a session, e.g. by a
    script, and never cancelled); :meth:`cancel` stops it (see :func:`keep_only`): its process is
    terminated at once (a fake check run in this process, in the tests, stops at its next progress line).
    """

    fraction: float = 0.0
    message: str = "Checking how stable the segments are"
    running_since: float | None = None
    future: Future | None = field(default=None, repr=False)
    wanted_by: set[str] | None = field(default=None, repr=False)
    cancelled: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)  # the check's own process, once started

    def progress(self, message: str, fraction: float) -> None:
        if self.cancelled:
            raise CheckCancelled(message)
        self.fraction, self.message = fraction, message

    def attach(self, process: subprocess.Popen) -> None:
        """The check's process has started (ui/stability_worker.py); stopped at once if cancelled meanwhile."""
        self.process = process
        if self.cancelled:
            process.terminate()

    def cancel(self) -> None:
        """Stop the check: dropped if it has not started, its process terminated if it has."""
        self.cancelled = True
        if self.future is not None:
            self.future.cancel()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def result(self) -> Stability | None:
        """The stability when the check is done and worked, else None."""
        if not self.done or self.future.exception() is not None:
            return None
        return self.future.result()

    def error(self) -> BaseException | None:
        return self.future.exception() if self.done else None

    def text(self) -> str:
        if self.running_since is None or self.fraction <= 0:
            return self.message
        elapsed = time.perf_counter() - self.running_since
        left = elapsed / self.fraction * (1 - self.fraction)
        return f"Checking how stable the segments are: {self.fraction:.0%}, about {left:.0f} s left"


def _compute(job: Job, customers: pd.DataFrame, seed: int, k_values: tuple[int, ...]) -> Stability:
    job.running_since = time.perf_counter()
    job.progress("Checking how stable the segments are", 0.0)
    # In its own low-priority process (ui/stability_worker.py): not on this server's interpreter,
    # where it held up the marketer's upload; Job.cancel terminates that process.
    try:
        return run_check(customers, k_values=k_values, seed=seed, progress=job.progress, on_start=job.attach)
    except SegmenterError:
        if job.cancelled:  # its process was terminated by Job.cancel: not a failure to show
            raise CheckCancelled("cancelled") from None
        raise


def job_key(data_key: tuple, seed: int, k_values: tuple[int, ...]) -> tuple:
    return (data_key, int(seed), tuple(int(k) for k in k_values))


class Checks(OneAtATime[Job]):
    """The server's stability checks (ui/background.OneAtATime): one thread that waits for one check
    at a time, the last MAX_JOBS checks by key. Owned by the server through :func:`checks`;
    :meth:`shutdown` cancels every check (its process terminated) and ends the thread."""

    def __init__(self):
        super().__init__("segmenter-stability", MAX_JOBS)

    def start(self, key: tuple, customers: pd.DataFrame, *, session: str | None = None) -> Job | None:
        _, seed, k_values = key
        with self.lock:
            existing = self.existing(key)
            if existing is not None:
                if session is not None and existing.wanted_by is not None:
                    existing.wanted_by.add(session)
                return existing
            if not autostart() or not k_values:
                return None
            job = Job(wanted_by=None if session is None else {session})
            if any(not other.done for other in self.jobs.values()):  # one check at a time: this one queues
                job.message = "Checking how stable the segments are: waiting for another check to finish"
            job.future = self.pool.submit(_compute, job, customers, seed, k_values)
            self.remember(key, job)
        return job

    def keep_only(self, session: str, data_key: tuple | None) -> None:
        with self.lock:
            for key, job in list(self.jobs.items()):
                if key[0] == data_key or job.wanted_by is None:
                    continue
                job.wanted_by.discard(session)
                if not job.wanted_by and not job.done:
                    job.cancel()
                    del self.jobs[key]


@st.cache_resource(show_spinner=False, on_release=Checks.shutdown)
def checks() -> Checks:
    """The server's one :class:`Checks`: made on first use, shared by the sessions, shut down when
    Streamlit releases it (its resource cache cleared)."""
    return Checks()


def find(key: tuple) -> Job | None:
    return checks().find(key)


def start(key: tuple, customers: pd.DataFrame, *, session: str | None = None) -> Job | None:
    """Start the check for ``key`` (see :func:`job_key`) unless it exists, for ``session`` (see
    :func:`keep_only`); None when the environment switches checks off (:func:`autostart`)."""
    return checks().start(key, customers, session=session)


def keep_only(session: str, data_key: tuple | None) -> None:
    """``session`` now shows the data of ``data_key``: it no longer wants the checks of other data,
    and a check that no session wants any more is cancelled (not started yet: dropped; running:
    its process terminated) and forgotten, so it is computed again if someone returns to that data.

    Called before the session's results are computed, so the check of the data the marketer just
    left (typically the demo's, still running when their own file is dropped) does not take a core
    from the reading, cleaning and K scan of their file.
    """
    checks().keep_only(session, data_key)


def release(session: str) -> None:
    """``session`` wants no check now (see :func:`keep_only`): each one only it wanted is cancelled."""
    keep_only(session, None)


def wait(key: tuple, timeout: float = 300) -> Stability | None:
    """Block until the check of ``key`` is done (for tests and scripts); its result."""
    job = find(key)
    if job is None:
        return None
    job.future.exception(timeout=timeout)
    return job.result()


@st.cache_data(max_entries=64, show_spinner=False)
def _assess(key: tuple, k: int, _stability: Stability, _segmented: pd.DataFrame) -> SegmentationStability:
    return stability.assess(_stability, _segmented)


def assess(key: tuple, stable: Stability, segmented: pd.DataFrame) -> SegmentationStability:
    """Per-segment stability, the seed check and the warnings of one segmentation (cached)."""
    return _assess(key, int(segmented["segment_id"].nunique()), stable, segmented)

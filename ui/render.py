"""Drawing helpers the pages share (beside ``ui/errors.py`` and ``ui/text.py``): they draw, never compute."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from segmentation.errors import SegmenterError
from segmentation.settings import STABLE_THRESHOLD

from . import session, stability
from .results import Results, results
from .text import md

__all__ = ["labelled_selectbox", "results_or_empty_state", "stability_badge", "stability_progress"]

BADGE_COLORS = {"highly stable": "green", "stable": "blue", "doubtful": "orange", "not to be trusted": "red"}
BADGE_ICONS = {"highly stable": ":material/verified:", "stable": ":material/check:",
               "doubtful": ":material/help:", "not to be trusted": ":material/warning:"}


def results_or_empty_state() -> Results:
    """This run's results; with no data yet, the empty-state note and a link to the Data page, then stop."""
    outcome = results()
    if isinstance(outcome, SegmenterError):
        st.info("There is no data to segment yet. Load a file and check its columns on the Data page.",
                icon=":material/info:")
        st.page_link("views/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()
    return outcome


def stability_badge(value: float, band: str, *, resamples: int, whole_stable: bool) -> None:
    """A segment card's stability badge; the number and how to read it on hover."""
    caveat = "" if whole_stable else (
        f" The segmentation as a whole is not stable (no K reaches stability {STABLE_THRESHOLD:.2f}), so even "
        "this segment's boundaries are an arbitrary cut.")
    st.badge(band, color=BADGE_COLORS[band], icon=BADGE_ICONS[band],
             help=f"Stability {value:.2f}: how well this segment comes back when K-Means is refitted on "
                  f"{resamples} bootstrap resamples of the customers (mean Jaccard with its best match). "
                  "0.85 or more: highly stable; 0.75: stable; 0.6–0.75: a pattern, membership doubtful; "
                  "below 0.6: not to be trusted." + caveat)


@st.fragment(run_every=stability.POLL_SECONDS)
def stability_progress(key: tuple, *, redraw_when_done: bool = True) -> None:
    """The background stability check's progress bar; when it is done, reruns the whole app once
    so the page shows the result, or (``redraw_when_done=False``: a page that shows no stability,
    such as the Data page) says where to see it and leaves the page alone.

    A whole-app rerun the user did not ask for redraws every widget with the server's values, and
    Streamlit's uploader drops a file whose upload is still in flight when that happens (seen in the
    browser: the marketer's first file, dropped in the seconds the demo data's check takes, was
    lost). So the page with the uploader is never redrawn from here; the next page the user opens
    reads the finished check (ui/results.py).
    """
    job = stability.find(key)
    if job is None:
        return
    if job.done:
        error = job.error()
        if error is None:
            if redraw_when_done:
                st.rerun(scope="app")
            st.caption("Stability checked: see the Choose K page and the segment cards.")
            return
        message = error.message if isinstance(error, SegmenterError) else type(error).__name__
        st.caption(f"The stability check stopped: {md(message)}")
        return
    st.progress(min(max(job.fraction, 0.0), 1.0), text=job.text())


def labelled_selectbox(where, label: str, options, *, key: str, format_func: Callable[[Any], str], **kwargs) -> Any:
    """``where.selectbox(...)`` for a keyed picker whose labels depend on the data: its value keeps
    the label of this run on screen (Streamlit alone leaves the browser showing the previous one;
    see :func:`ui.session.relabel`)."""
    session.relabel(key, format_func)
    chosen = where.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    session.drawn_with(key, chosen, format_func)
    return chosen

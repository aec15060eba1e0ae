"""Progress of a step that may be served from the cache: a status box while it runs, gone if it did not.

:func:`run_step` announces the step (an ``st.status`` box with its label, open from its first
second) *before* calling it, so a slow step — reading a file, cleaning, the K scan — is never a
blank screen. The step gets a :class:`StepLog`, the progress callback of the core (``(message,
fraction)``), which records each line and shows it as the box's label while the step runs (so the
box says what is happening now: reading values, cleaning rows, computing RFM…). It draws no element:
it is handed into ``st.cache_*`` bodies, and any element a cached body drew would be replayed on every
later cache hit; updating the label of the box opened outside the body is not an element (Streamlit
sends it straight to the browser and records nothing for replay). After the step:

* the log has lines (the body ran): the box says "done in … s" and lists them;
* the log is empty (a cache hit): the box is removed, so a rerun shows no stale progress.

The session remembers which steps it has shown (``ui.session.PROGRESS_SHOWN``): a rerun of the
same step (a K change, a page switch) draws no box at all. Nothing is shared between sessions:
whether a step ran is told by the step itself, never by a process-wide record.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st

from segmentation.errors import SegmenterError

from .session import PROGRESS_SHOWN
from .text import md

__all__ = ["StepLog", "run_step"]

T = TypeVar("T")


class StepLog:
    """A core progress callback that records ``(message, fraction)`` lines and draws no element.

    ``on_line(message)`` (optional) is told each message as it arrives: :func:`run_step` uses it
    to relabel the open status box with what the step is doing now.
    """

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.lines: list[str] = []
        self._on_line = on_line

    def __call__(self, message: str, fraction: float) -> None:
        self.lines.append(f"{message} ({fraction:.0%})")
        if self._on_line is not None:
            self._on_line(message)

    @property
    def ran(self) -> bool:
        """Whether the step's body reported anything (on a cache hit it never runs)."""
        return bool(self.lines)


def run_step(label: str, key: Hashable, step: Callable[[StepLog], T]) -> T:
    """``step(log)`` inside a status box labelled ``label``, unless this session has shown ``key`` already."""
    shown: set = st.session_state.setdefault(PROGRESS_SHOWN, set())
    if key in shown:
        return step(StepLog())
    placeholder = st.empty()
    started = time.perf_counter()
    with placeholder.status(label, expanded=False) as status:
        log = StepLog(lambda message: status.update(label=f"{label}: {md(message)}…"))
        try:
            result = step(log)
        except SegmenterError:
            status.update(label=f"{label} — stopped", state="error")
            raise
        if log.ran:
            for line in log.lines:
                status.write(md(line))
            status.update(label=f"{label} — done in {time.perf_counter() - started:.1f} s", state="complete")
    if not log.ran:
        placeholder.empty()
    shown.add(key)
    return result

"""Drawing helpers the pages share (beside ``ui/errors.py`` and ``ui/text.py``): they draw, never compute."""
from __future__ import annotations

import streamlit as st

from segmentation.errors import SegmenterError

from .results import Results, results

__all__ = ["results_or_empty_state"]


def results_or_empty_state() -> Results:
    """This run's results; with no data yet, the empty-state note and a link to the Data page, then stop."""
    outcome = results()
    if isinstance(outcome, SegmenterError):
        st.info("There is no data to segment yet. Load a file and check its columns on the Data page.",
                icon=":material/info:")
        st.page_link("views/data.py", label="Go to the Data page", icon=":material/upload_file:")
        st.stop()
    return outcome

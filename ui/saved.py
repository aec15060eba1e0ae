"""A saved segmentation in the app: upload one to use instead of fitting, download the one shown.

While one is in use (``seg_saved`` in the session), every page shows its segments applied to the
current data (nearest saved centre, saved score cut points) and K comes from the file. A bad
file is shown as an error and the current segments stay.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation import saved
from segmentation.errors import SegmenterError
from segmentation.saved import SavedSegmentation
from segmentation.segments import Segmentation

__all__ = ["in_use", "name", "use_upload", "use_text", "stop_using", "error", "applied", "download_bytes"]

SAVED = "seg_saved"  # {"segmentation": SavedSegmentation, "name": file name, "text": the JSON}
SAVED_ERROR = "seg_saved_error"


def in_use() -> SavedSegmentation | None:
    entry = st.session_state.get(SAVED)
    return entry["segmentation"] if entry else None


def name() -> str | None:
    entry = st.session_state.get(SAVED)
    return entry["name"] if entry else None


def error() -> SegmenterError | None:
    return st.session_state.get(SAVED_ERROR)


def use_upload(file_name: str, data: bytes) -> None:
    """Check an uploaded file; use it if it is a saved segmentation, else keep what is shown."""
    try:
        frozen = saved.loads(data, where=f"File {file_name}")
    except SegmenterError as problem:
        st.session_state[SAVED_ERROR] = problem
        return
    st.session_state[SAVED_ERROR] = None
    st.session_state[SAVED] = {"segmentation": frozen, "name": file_name, "text": frozen.to_json()}


def stop_using() -> None:
    """Back to fitting segments on the current data."""
    st.session_state[SAVED] = None
    st.session_state[SAVED_ERROR] = None


@st.cache_data(max_entries=32, show_spinner=False)
def _apply(key: tuple, text: str, _customers: pd.DataFrame) -> Segmentation:
    segmentation, _ = saved.loads(text).apply(_customers)
    return segmentation


def applied(spec_key: tuple, customers: pd.DataFrame) -> Segmentation:
    """The saved segmentation in use applied to these customers (cached on the data and the file)."""
    entry = st.session_state[SAVED]
    return _apply(spec_key, entry["text"], customers)


def download_bytes(segmentation: Segmentation, *, in_use, snapshot, seed: int, roles: dict, cleaning,
                   rows_in: int) -> bytes:
    """The JSON of the segments shown: the file ``in_use`` (:func:`in_use`, read during the script
    run), or the fitted segments frozen now. Called when the button is clicked, outside the script
    run: it reads no session state (that logged "missing ScriptRunContext!")."""
    frozen = in_use or saved.from_segmentation(segmentation, snapshot=snapshot, seed=seed, roles=roles,
                                               cleaning=cleaning, rows_in=rows_in)
    return frozen.to_json().encode("utf-8")


def use_text(file_name: str, text: str) -> None:
    """Use a saved segmentation kept in the workspace (its JSON checked again, like an upload)."""
    use_upload(file_name, text.encode("utf-8"))

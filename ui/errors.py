"""The one place where a SegmenterError becomes an st.error box.

Messages and hints come from the core and may quote the user's values (file names, column
names, cell values), so both are Markdown-escaped before they are shown.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from segmentation.errors import SegmenterError

from .text import md

__all__ = ["show_error", "reporting"]


def show_error(error: SegmenterError, *, context: str | None = None, container=None) -> None:
    """Show what is wrong and how to fix it."""
    target = container if container is not None else st
    parts = []
    if context:
        parts.append(f"**{md(context)}**")
    parts.append(md(error.message))
    if error.hint:
        parts.append(f"*How to fix:* {md(error.hint)}")
    target.error("  \n".join(parts), icon=":material/error:")


@contextlib.contextmanager
def reporting(context: str | None = None, container=None) -> Iterator[None]:
    """``with reporting("Chart"):`` — a SegmenterError inside is shown, not raised."""
    try:
        yield
    except SegmenterError as error:
        show_error(error, context=context, container=container)

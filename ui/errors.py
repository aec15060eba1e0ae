"""The one place where a SegmenterError becomes an st.error box.

Messages and hints come from the core and may quote the user's values (file names, column
names, cell values), so both are Markdown-escaped before they are shown.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from segmentation.errors import MappingError, SegmenterError
from segmentation.settings import ROLES

from .text import md

__all__ = ["show_error", "reporting"]


def show_error(error: SegmenterError, *, context: str | None = None, container=None) -> None:
    """Show what is wrong and how to fix it."""
    target = container if container is not None else st
    parts = []
    if context:
        parts.append(f"**{md(context)}**")
    parts.append(md(error.message))
    hint = " ".join(part for part in (error.hint, _app_hint(error)) if part)
    if hint:
        parts.append(f"*How to fix:* {md(hint)}")
    target.error("  \n".join(parts), icon=":material/error:")


_BOX = {role.name: role.label for role in ROLES}


def _app_hint(error: SegmenterError) -> str | None:
    """The app's words for the control to change (the core names no front end)."""
    if isinstance(error, MappingError) and error.roles:
        boxes = " or ".join(f"“{_BOX[role]}”" for role in error.roles if role in _BOX)
        return f"Choose the column in the {boxes} box{'es' if len(error.roles) > 1 else ''} on the Data page."
    return None


@contextlib.contextmanager
def reporting(context: str | None = None, container=None) -> Iterator[None]:
    """``with reporting("Chart"):`` — a SegmenterError inside is shown, not raised."""
    try:
        yield
    except SegmenterError as error:
        show_error(error, context=context, container=container)

"""Showing user text in Streamlit without it becoming markup.

Streamlit's Markdown never renders raw HTML (unsafe_allow_html is never used in this app), but
Markdown itself can still make links, images, colours (``:red[...]``) and LaTeX (``$...$``) out
of a customer id, a product description or a file name. :func:`md` backslash-escapes every
character Markdown (and Streamlit's directives) could act on, so user text is shown verbatim.
"""
from __future__ import annotations

import re

__all__ = ["md", "plain"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'])")


def md(value: object) -> str:
    """User text made inert for st.markdown/st.caption/st.error/labels (one line, escaped)."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())  # newlines could start Markdown blocks (headings, lists)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def plain(value: object, limit: int = 80) -> str:
    """A shortened single line (for widget option labels, which Streamlit shows as plain text)."""
    text = " ".join(("" if value is None else str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

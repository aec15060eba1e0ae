"""The progress callback every long step takes, and the one that ignores it.

A step calls ``progress(what is happening, fraction done 0..1)``; the CLI draws it on stderr, the
app in its status box, the stability worker sends it to the app's process.
"""
from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "no_progress"]

Progress = Callable[[str, float], None]  # (what is happening, fraction done 0..1)


def no_progress(step: str, fraction: float) -> None:
    return None

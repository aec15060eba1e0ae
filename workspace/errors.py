"""What can go wrong with the workspace store, as typed errors the app turns into one message.

They are :class:`segmentation.errors.SegmenterError`\\ s (message + hint), so ``ui/errors.py`` shows
them like every other error; the app keeps segmenting when the store is unavailable.
"""
from __future__ import annotations

from segmentation.errors import SegmenterError

__all__ = ["StoreError", "StoreUnavailable", "NotFound", "NotOwner", "QuotaExceeded"]


class StoreError(SegmenterError):
    """Base of the workspace store's errors."""


class StoreUnavailable(StoreError):
    """The store cannot be opened or written: folder not writable or full, database unreachable."""


class NotFound(StoreError):
    """No such file, run or segmentation in this user's workspace.

    Raised alike for an id that does not exist and for another user's id: the answer never tells
    whether someone else has it."""


class NotOwner(StoreError):
    """A shared segmentation can be changed, unshared or deleted only by the person who saved it."""


class QuotaExceeded(StoreError):
    """Keeping this file would take the user's files over their quota."""

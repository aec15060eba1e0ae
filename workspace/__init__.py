"""The team's workspace: files, saved segmentations and recorded runs of each user, kept in a database.

Beside the core (``segmentation/`` stays pure: no I/O store, no global state); the app's ``ui/``
uses it. :func:`open_store` → :class:`Store`; every method takes the user id and is scoped by it.
"""
from .errors import NotFound, NotOwner, QuotaExceeded, StoreError, StoreUnavailable
from .store import (
    INSTALL,
    LOCAL_USER,
    OFF,
    RunRecord,
    SegmentRow,
    Store,
    StoredFile,
    StoredSegmentation,
    missing_packages,
    open_store,
    store_url,
)

__all__ = ["INSTALL", "LOCAL_USER", "OFF", "NotFound", "NotOwner", "QuotaExceeded", "RunRecord", "SegmentRow",
           "Store", "StoreError", "StoreUnavailable", "StoredFile", "StoredSegmentation", "missing_packages",
           "open_store", "store_url"]

"""AppTest fixtures: the app from the repo root, on the demo data or a small uploaded CSV.

Both are :class:`tests.app.app_helpers.CheckedApp`: every run asserts no exception and no error element.
"""
from __future__ import annotations

import pytest

from tests.app.app_helpers import CheckedApp, new_app, to_csv, transactions, upload


@pytest.fixture
def app() -> CheckedApp:
    """The app after its first run (on the demo data)."""
    return new_app()


@pytest.fixture
def small_csv() -> bytes:
    return to_csv(transactions())


@pytest.fixture
def uploaded(app: CheckedApp, small_csv: bytes) -> CheckedApp:
    """The app with the small CSV uploaded, on the Data page."""
    return upload(app, "shop.csv", small_csv)

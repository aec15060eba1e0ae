"""AppTest fixtures: the app from the repo root, on the demo data or a small uploaded CSV.

Both are :class:`tests.app.app_helpers.CheckedApp`: every run asserts no exception and no error element.
"""
from __future__ import annotations

import pytest

from tests.app.app_helpers import CheckedApp, new_app, to_csv, transactions, upload


@pytest.fixture(autouse=True)
def no_background_stability(monkeypatch):
    """The stability check runs in the background and, when done, may move the suggested K: off
    here so other tests see one K; tests/app/test_app_stability.py switches it on."""
    monkeypatch.setenv("SEGMENTER_STABILITY_CHECK", "off")  # read at use (ui/stability.autostart)


@pytest.fixture(autouse=True)
def no_background_prediction(monkeypatch):
    """Predictions start in the background after every run (ui/prediction.py): off here, so a test
    sees them exactly when it opens the Outlook page, which computes them when it needs them."""
    monkeypatch.setenv("SEGMENTER_PREDICTION", "off")  # read at use (ui/prediction.autostart)


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

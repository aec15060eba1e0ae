"""AppTest fixtures: the app from the repo root, on the demo data or a small uploaded CSV."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.app_helpers import REPO, TIMEOUT, to_csv, transactions, upload


@pytest.fixture
def app() -> AppTest:
    """The app after its first run (on the demo data)."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def small_csv() -> bytes:
    return to_csv(transactions())


@pytest.fixture
def uploaded(app: AppTest, small_csv: bytes) -> AppTest:
    """The app with the small CSV uploaded, on the Data page."""
    upload(app, "shop.csv", small_csv)
    assert not app.exception, app.exception
    return app

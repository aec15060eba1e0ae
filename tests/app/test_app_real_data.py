"""The app on the real UCI Online Retail workbook: a K change redraws from cached features, fast.

Marked slow (reads the 20 MB workbook once); skipped when the file is absent, failed in CI.
"""
from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.app_helpers import REPO, CheckedApp, new_app, results, upload
from ui.session import RUN_SECONDS

# Its module-scoped fixtures (the real workbook's session) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("app_real_data")]

REAL_DATA = REPO.parent / "shared" / "data" / "online_retail.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def run_seconds(at: AppTest) -> tuple[float, float]:
    """(wall, CPU) seconds of the last run, as app.py records them (not on screen: debug information)."""
    wall, cpu = at.session_state[RUN_SECONDS]
    return float(wall), float(cpu)


@pytest.fixture(scope="module")
def real_app() -> CheckedApp:
    if not REAL_DATA.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{REAL_DATA} is missing (CI=true: the real-data tests must run)")
        pytest.skip(f"{REAL_DATA} is missing (the UCI Online Retail workbook)")
    at = new_app(timeout=900)
    upload(at, "online_retail.xlsx", Path(REAL_DATA).read_bytes(), XLSX)
    at.switch_page("views/segments.py").run()
    return at


def test_real_workbook_gives_4338_customers(real_app):
    outcome = results(real_app)
    assert outcome.prepared.audit.rows_in == 541_909
    assert len(outcome.prepared.customers) == 4338


def test_k_change_reuses_cached_features_and_is_fast(real_app):
    prepared = results(real_app).prepared
    timings = []
    for k in (4, 5, 6, 7, 4, 5, 6, 7):  # first pass fits K-Means, second pass hits the cache
        real_app.select_slider(key="w_k_sidebar").set_value(k).run()
        assert not real_app.exception
        outcome = results(real_app)
        assert outcome.k == k and len([m for m in real_app.markdown if m.value.startswith("#### ")]) == k
        assert outcome.prepared.customers.equals(prepared.customers)  # same features: nothing re-read or re-cleaned
        timings.append(run_seconds(real_app))
    first = [wall for wall, _ in timings[:4]]
    cpu = [c for _, c in timings[:4]]
    print(f"\nK change on the real workbook (new K): wall {statistics.median(first):.2f} s median, "
          f"max {max(first):.2f} s; CPU {statistics.median(cpu):.2f} s median; "
          f"cached K: wall {statistics.median(w for w, _ in timings[4:]):.2f} s")
    assert statistics.median(cpu) < 1.0

"""Suite-wide: the session fixtures (one definition each) and the order of the Spark tests.

A session-scoped fixture is one instance per *definition*: imported into several test modules
(`pg_server = engine_postgres.pg_server`), it was defined once per module, so each module started
its own PostgreSQL server, Spark session and real-data preparation. Defined here, they are built
once per test session (per xdist worker).

Nothing is kept between tests unless a test asks for a workspace:

The app keeps each user's files, runs and last settings in a workspace store (SQLite in
~/.segmenter by default, workspace/). Tests must neither write to the developer's home nor see
another test's last file on a new session, so the store is off for every test and every server a
test starts (they inherit the environment); the workspace tests give their own store explicitly
(tests/workspace_store, tests/app/test_app_workspace.py, tests/browser/test_team_browser.py).

The order of the tests on the session's Spark fixture (tests/engines/spark.py): see
pytest_collection_modifyitems."""
from __future__ import annotations

import os

import pytest

from tests.engines.postgres import pg_server  # noqa: F401 (fixture)
from tests.engines.spark import CLUSTER, LOCAL, spark, spark_con  # noqa: F401 (fixtures)
from tests.shared_data import real_prepared, real_result  # noqa: F401 (fixtures)


def pytest_configure(config) -> None:
    os.environ["SEGMENTER_STORE"] = "off"


# What the app starts by itself after a run, each read from the environment when it is asked for
# (ui/stability.autostart, ui/prediction.autostart).
BACKGROUND_JOBS = ("SEGMENTER_STABILITY_CHECK", "SEGMENTER_PREDICTION")


@pytest.fixture(autouse=True)
def no_background_jobs(monkeypatch):
    """Off for every test: the stability check, when done, may move the suggested K, and
    predictions arrive when their thread ends; so a test sees one K and the Outlook page computes
    its prediction when opened, and no job competes for CI's two cores. The tests of those jobs
    switch them on (tests/app/test_app_stability.py, tests/app/test_app_outlook.py, the browser
    servers that need them: tests/browser/conftest.start_server)."""
    for name in BACKGROUND_JOBS:
        monkeypatch.setenv(name, "off")


def _spark_order(item: pytest.Item, modules_on_both: set) -> tuple[int, bool, bool]:
    master = item.callspec.params["spark"]
    values = [mark.args[1] for mark in item.iter_markers("parametrize") if mark.args[0] == "spark"]
    cluster_only = bool(values) and list(values[0]) == [CLUSTER]
    return ([LOCAL, CLUSTER].index(master), item.path in modules_on_both, cluster_only)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """All tests of one Spark master run one after the other, so the one session of each master
    starts once (each start is a driver JVM, on local-cluster two executor JVMs more: ~20-40 s on
    CI's two cores). pytest's own grouping keeps a session-scoped parameter's tests together by
    the parameter's *index*, and @ON_CLUSTER's index of local-cluster is local[2]'s elsewhere: it
    ran local, cluster, local, cluster. Here: every local test (a module that also has cluster
    tests last, so its module fixtures are built once), then the cluster ones, the cluster-only
    test that kills an executor last. Only the Spark tests move, among their own places, the same
    way on every xdist worker (they must collect the same order)."""
    places = [i for i, item in enumerate(items)
              if "spark" in getattr(getattr(item, "callspec", None), "params", {})]
    if not places:
        return
    spark_items = [items[i] for i in places]
    modules_on_both = {item.path for item in spark_items if item.callspec.params["spark"] == CLUSTER}
    for place, item in zip(places, sorted(spark_items, key=lambda item: _spark_order(item, modules_on_both)),
                           strict=True):
        items[place] = item

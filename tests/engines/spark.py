"""One Spark session at a time per worker, shared by every Spark test there: `local[2]` (driver and
executors in one JVM), or `local-cluster[2,1,1024]` (two executor JVMs) for the tests marked with
`ON_BOTH_MASTERS`. The `spark` fixture is session-scoped and parametrised by master, so pytest
runs all tests of one master, stops that session (executors included), then starts the other:
PySpark allows one SparkContext per process, and two would not fit CI's two cores anyway."""
from __future__ import annotations

import os

import pytest

LOCAL = "local[2]"
CLUSTER = "local-cluster[2,1,1024]"  # 2 workers × 1 core × 1 GiB executors, as the README shows
# For a test that runs on both: @ON_BOTH_MASTERS (the `spark` fixture's default is LOCAL only).
ON_BOTH_MASTERS = pytest.mark.parametrize("spark", [LOCAL, CLUSTER], ids=["local", "cluster"], indirect=True)
ON_CLUSTER = pytest.mark.parametrize("spark", [CLUSTER], ids=["cluster"], indirect=True)
# Expressions interpreted instead of compiled (Spark's own tests run both modes and hold them equal):
# on these few-row tables Janino's compiles and the JIT of the classes they make were ~40 % of the
# driver JVM's CPU, ~10 CPU-seconds per preparation (the local tests of tests/test_spark.py: 217 → 151
# CPU-seconds). The command-line runs in a fresh process (tests/test_cli_engines.py) start Spark as a user
# does, with its defaults, and hold its log to no ERROR.
TEST_CONF = {"spark.sql.codegen.factoryMode": "NO_CODEGEN"}


def require_spark() -> None:
    from segmentation import sources

    in_ci = os.environ.get("CI") == "true"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if in_ci:
            pytest.fail("PySpark is not installed; CI must run the Spark tests (pip install pyspark==4.0.1)")
        pytest.skip("PySpark is not installed (pip install pyspark==4.0.1)")
    if not sources.java_available():
        if in_ci:
            pytest.fail("Java is missing; CI must run the Spark tests (apt-get install openjdk-17-jre-headless)")
        pytest.skip("Java is missing: local Spark needs a JDK 17 (JAVA_HOME or java on PATH)")


@pytest.fixture(scope="session", params=[LOCAL], ids=["local"])
def spark(request):
    from segmentation import sources, spark_runtime

    require_spark()
    session = sources.spark_session(request.param, shuffle_partitions=4, driver_memory="2g", config=TEST_CONF)
    assert session.sparkContext.master == request.param  # not a left-over session of the other master
    yield session
    spark_runtime.stop_session(session)


@pytest.fixture(scope="session")
def spark_con(spark):
    from segmentation import sources

    return sources.connect_spark(spark)

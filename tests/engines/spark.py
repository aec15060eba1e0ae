"""One local Spark session (local[2], 4 shuffle partitions) shared by every Spark test in a worker."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark():
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
    session = sources.spark_session("local[2]", shuffle_partitions=4, driver_memory="2g")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_con(spark):
    from segmentation import sources

    return sources.connect_spark(spark)

"""The settings a Spark session is built with, by master (no JVM needed): local masters on
loopback, quiet, with the shipped log4j2 configuration; cluster masters left to their own."""
from __future__ import annotations

import logging

import pytest

from segmentation import sources, spark_runtime

LOCAL_MASTERS = ["local", "local[2]", "local[*]", "local[4,2]", "local-cluster[2,1,1024]"]
CLUSTER_MASTERS = ["yarn", "spark://head:7077", "k8s://https://kube.example:6443", "mesos://head:5050"]


@pytest.mark.parametrize("master, local", [(m, True) for m in LOCAL_MASTERS] + [(m, False) for m in CLUSTER_MASTERS]
                         + [("localhost:7077", False), ("local-cluster[2]", False)])
def test_which_masters_are_local(master, local):
    assert spark_runtime.is_local_master(master) is local


@pytest.mark.parametrize("master, cores", [
    ("local", 1), ("local[2]", 2), ("local[3,2]", 3), ("local-cluster[2,1,1024]", 2), ("local-cluster[3,2,512]", 6),
], ids=["local", "local[2]", "local[3,2]", "cluster-2x1", "cluster-3x2"])
def test_local_cores(master, cores):
    assert spark_runtime.local_cores(master) == cores


@pytest.mark.parametrize("master", LOCAL_MASTERS)
def test_a_local_master_binds_to_loopback_quietly(master):
    startup, runtime = spark_runtime.session_conf(master)
    assert startup["spark.driver.bindAddress"] == startup["spark.driver.host"] == "127.0.0.1"
    assert (startup["spark.ui.enabled"], startup["spark.ui.showConsoleProgress"]) == ("false", "false")
    log_config = f"-Dlog4j2.configurationFile={spark_runtime.LOG4J2_CONFIG.as_uri()}"
    assert log_config in startup["spark.driver.extraJavaOptions"]
    assert log_config in startup["spark.executor.extraJavaOptions"]
    assert runtime["spark.sql.shuffle.partitions"] == str(max(2, 2 * spark_runtime.local_cores(master)))
    assert spark_runtime.jvm_environment(master, None) == {"SPARK_LOCAL_IP": "127.0.0.1"}


@pytest.mark.parametrize("master", CLUSTER_MASTERS)
def test_a_cluster_master_keeps_its_own_network_settings(master):
    startup, runtime = spark_runtime.session_conf(master)
    local_only = {"spark.driver.bindAddress", "spark.driver.host", "spark.ui.enabled", "spark.driver.memory"}
    assert not local_only & set(startup)
    assert "spark.sql.shuffle.partitions" not in runtime
    assert startup["spark.ui.showConsoleProgress"] == "false"  # a command line never draws Spark's progress bar
    assert "log4j2" not in startup["spark.executor.extraJavaOptions"]  # no such file on the cluster's hosts
    assert spark_runtime.jvm_environment(master, "/tmp/home") == {"SPARK_HOME": "/tmp/home"}


def test_under_spark_submit_its_master_and_logging_count():
    startup, runtime = spark_runtime.session_conf(None, launched_by_spark=True)
    assert "spark.driver.bindAddress" not in startup and "spark.sql.shuffle.partitions" not in runtime
    assert "log4j2" not in startup["spark.driver.extraJavaOptions"]
    # what is set on a running session too: UTC, and no constraint propagation (minutes of planning)
    assert runtime == {"spark.sql.session.timeZone": "UTC", "spark.sql.constraintPropagation.enabled": "false"}


def test_no_master_outside_spark_submit_is_local():
    startup, _ = spark_runtime.session_conf(None)
    assert startup["spark.driver.host"] == "127.0.0.1"


def test_config_overrides_and_shuffle_partitions():
    startup, runtime = spark_runtime.session_conf("local-cluster[2,1,1024]", shuffle_partitions=8,
                                                  config={"spark.driver.host": "10.0.0.5"})
    assert runtime["spark.sql.shuffle.partitions"] == startup["spark.sql.shuffle.partitions"] == "8"
    assert startup["spark.driver.host"] == "10.0.0.5"


def test_the_shipped_log4j2_configuration_logs_errors_only():
    properties = dict(line.split(" = ", 1) for line in spark_runtime.LOG4J2_CONFIG.read_text().splitlines()
                      if line and not line.startswith("#"))
    assert properties["rootLogger.level"] == properties["logger.repl.level"] == "error"
    assert properties["appender.console.target"] == "SYSTEM_ERR"


class CapturedSparkError(Exception):
    """Stands for pyspark's captured exceptions (UnknownException for a failed job)."""

    __module__ = "pyspark.errors.exceptions.captured"

    def __init__(self, text: str, condition: str | None = None):
        super().__init__(text)
        self.condition = condition

    def getCondition(self):  # PySpark's name
        return self.condition


class JavaThrowable:
    """Stands for a Java exception seen through Py4J: a SparkThrowable has getCondition()."""

    def __init__(self, message: str, condition: str | None = None, cause: JavaThrowable | None = None):
        self.message, self.condition, self.cause = message, condition, cause

    def getCondition(self):
        if self.condition is None:
            raise AttributeError("Method getCondition([]) does not exist")  # what Py4J says
        return self.condition

    def getMessage(self):
        return self.message

    def toString(self):
        return f"org.apache.spark.SparkException: {self.message}"

    def getCause(self):
        return self.cause


class Py4JJavaError(Exception):
    __module__ = "py4j.protocol"

    def __init__(self, text: str, java_exception: JavaThrowable):
        super().__init__(text)
        self.java_exception = java_exception


FOOTER = JavaThrowable("[CANNOT_READ_FILE_FOOTER] Could not read footer for file: file:/data/bad.parquet. "
                       "SQLSTATE: KD001\n\tat org.apache.spark.sql.errors.QueryExecutionErrors$.x(Q.scala:1)",
                       "CANNOT_READ_FILE_FOOTER")
READ_ABORTED = Py4JJavaError(
    "An error occurred while calling o62.parquet.\n: org.apache.spark.SparkException: Job aborted due to stage "
    "failure: Task 0 in stage 0.0 failed 4 times: Exception thrown in awaitResult:\n\tat org.apache.x(Y.java:1)",
    JavaThrowable("Job aborted due to stage failure", cause=JavaThrowable("Exception thrown in awaitResult:",
                                                                           cause=FOOTER)))
JOB_ABORTED = ("org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 4 "
               "times, most recent failure: Lost task 0.3 in stage 3.0 (TID 9) (127.0.0.1 executor 1): "
               "org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
               "file:///data/bad.parquet. SQLSTATE: KD001\n\nJVM stacktrace:\norg.apache.spark.SparkException: "
               "Job aborted\n\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages")


@pytest.mark.parametrize("error, error_class", [
    (CapturedSparkError("[DIVIDE_BY_ZERO] Division by zero.", "DIVIDE_BY_ZERO"), "DIVIDE_BY_ZERO"),
    (CapturedSparkError(JOB_ABORTED), "FAILED_READ_FILE.NO_HINT"),
    (CapturedSparkError("java.lang.OutOfMemoryError: Java heap space\n\tat java.base/x.y(Z.java:1)"),
     "OutOfMemoryError"),
    (READ_ABORTED, "CANNOT_READ_FILE_FOOTER"),
    (Py4JJavaError("An error occurred while calling o7.sql.\n: java.lang.IllegalStateException: x\n\tat a.b(C.java:1)",
                   JavaThrowable("x")), "IllegalStateException"),
], ids=["condition", "task-failure-in-job-abort", "java-class", "cause-chain", "py4j-no-condition"])
def test_a_spark_failure_is_one_line_naming_the_error_class(error, error_class):
    with pytest.raises(sources.SourceError) as raised, sources._source_errors("Spark at local[2]", []):
        raise error
    message = str(raised.value)
    assert message.startswith(f"Spark at local[2] failed with {error_class}: ")
    assert "An error occurred while calling" not in message
    assert "\n" not in message and "JVM stacktrace" not in message and "\tat " not in message


@pytest.mark.parametrize(("pathname", "kept"), [
    ("/usr/lib/python3/site-packages/py4j/java_gateway.py", False),  # "Exception while sending command."
    ("/usr/lib/python3/site-packages/py4j/clientserver.py", False),
    ("/work/segmentation/cli.py", True),
    ("/usr/lib/python3/site-packages/pyspark/sql/session.py", True),
], ids=["py4j-gateway", "py4j-clientserver", "ours", "pyspark"])
def test_after_our_stop_only_py4j_records_of_the_root_logger_are_dropped(pathname, kept):
    record = logging.LogRecord("root", logging.ERROR, pathname, 1, "Exception while sending command.", None, None)
    assert bool(spark_runtime._not_from_py4j(record)) is kept


def test_the_py4j_filter_is_installed_once_and_silences_root_logging_exception():
    root = logging.getLogger()
    try:
        spark_runtime._quiet_py4j_after_stop()
        spark_runtime._quiet_py4j_after_stop()
        assert root.filters.count(spark_runtime._not_from_py4j) == 1
        record = logging.LogRecord("root", logging.ERROR, "/x/py4j/java_gateway.py", 1, "sending failed", None, None)
        assert root.filter(record) in (False, None)
    finally:
        root.removeFilter(spark_runtime._not_from_py4j)

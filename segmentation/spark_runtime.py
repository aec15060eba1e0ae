"""The Spark driver the Segmenter starts itself: its settings by master, a quiet JVM, a clean stop.

``local[N]``/``local[*]`` run driver and executors in one JVM; ``local-cluster[W,cores,MB]``
starts W worker executor JVMs on this machine (real serialisation, shuffle between processes,
executors that can die). Both are *local masters*: the driver, the workers and the executors
bind to 127.0.0.1, so nothing leaves the loopback interface. Cluster masters (``yarn``,
``spark://…``, ``k8s://…``) keep their own network settings.

When this process launches the driver JVM (not under spark-submit), the JVM logs errors only
(``spark-log4j2.properties`` shipped beside this module, set before the JVM starts) and its
stdout/stderr are captured, not shown: the command line's contract is progress and one
``error:`` line. The last lines stay readable with :func:`jvm_output`, and all of them go to
the file named by the environment variable ``SEGMENTER_SPARK_LOG`` when it is set.

Without a ``SPARK_HOME`` (PySpark from pip) the JVM gets a private one: a temporary folder
linking PySpark's ``bin`` and ``jars``, whose ``work/`` holds the local-cluster executors'
folders (Spark puts them in ``$SPARK_HOME/work``, which would otherwise be inside
site-packages). It is removed with the JVM.

Who owns the driver JVM: PySpark's gateway to it (``SparkContext._gateway``), which PySpark keeps
for the process and reuses for every later SparkContext, so the JVM cannot end with the session
that started it. It ends with the gateway (``weakref.finalize``: when the gateway is collected,
else at interpreter exit, after the finalizers made later, such as Ibis's cached Spark tables,
which still need the JVM to drop their views), and its private SPARK_HOME with it. Nothing of it
is kept in this module.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "LOG4J2_CONFIG",
    "LOOPBACK",
    "LOG_VARIABLE",
    "is_local_master",
    "local_cores",
    "session_conf",
    "jvm_environment",
    "DriverJVM",
    "launch_driver_jvm",
    "jvm_output",
    "executor_pids",
    "stop_session",
]

LOG4J2_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
LOOPBACK = "127.0.0.1"
_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[(\d+),(\d+),(\d+)\]")
_JVM_OUTPUT_LINES = 200
LOG_VARIABLE = "SEGMENTER_SPARK_LOG"  # a file path: the driver JVM's output is appended there too


def is_local_master(master: str) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local[N,F]`` and ``local-cluster[W,C,MB]``."""
    return _LOCAL_MASTER.fullmatch(master.replace(" ", "")) is not None


def local_cores(master: str) -> int:
    """Executor cores of a local master (``local[*]``: this machine's)."""
    match = _LOCAL_MASTER.fullmatch(master.replace(" ", ""))
    if match and match.group(4):  # local-cluster[workers,cores,memory]
        return int(match.group(4)) * int(match.group(5))
    if match and match.group(2) and match.group(2) != "*":
        return int(match.group(2))
    if master.replace(" ", "") == "local":
        return 1
    return os.cpu_count() or 2


def session_conf(
    master: str | None,
    *,
    launched_by_spark: bool = False,
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    config: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(startup, runtime)``: the settings a new session is built with, and those also set on a
    session that is already running (SQL settings only).

    ``master`` None is spark-submit's (or Databricks') master when ``launched_by_spark``, else
    ``local[*]``. Every master: UTC, no constraint propagation (see below). Local masters:
    loopback, no UI, no progress bar, shuffle partitions 2 × cores. A driver JVM started here
    logs through :data:`LOG4J2_CONFIG`. ``config`` adds or overrides anything.
    """
    local = is_local_master(master) if master else not launched_by_spark
    runtime = {
        "spark.sql.session.timeZone": "UTC",
        # Catalyst's constraint propagation re-derives every filter's constraints through the
        # cleaning's wide plans (a CASE per rule over every source column) and took 10–40 s to
        # optimise one audit query of a 16-row table, 3.7× the whole preparation; it only adds
        # inferred IS NOT NULL filters, which these queries do not need. Same results either way.
        "spark.sql.constraintPropagation.enabled": "false",
    }
    if shuffle_partitions:
        runtime["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    driver_options = "-Duser.timezone=UTC"
    if not launched_by_spark:  # spark-submit's JVM is already running with its own logging
        driver_options += f" -Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}"
    startup = {
        "spark.driver.extraJavaOptions": driver_options,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        # Whole-stage code generation of the cleaning's wide hash aggregate (every source column,
        # for whole-row copies) fails to compile in Janino and Spark logs an ERROR before falling
        # back to the interpreted plan; the results are the same, so skip the doomed compile.
        "spark.sql.codegen.wholeStage": "false",
    }
    if local:
        runtime.setdefault("spark.sql.shuffle.partitions", str(max(2, 2 * local_cores(master or "local[*]"))))
        if not launched_by_spark:  # local-cluster executors: their log files stay short too
            startup["spark.executor.extraJavaOptions"] += f" -Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}"
        startup.update({
            "spark.ui.enabled": "false",
            "spark.driver.bindAddress": LOOPBACK,  # loopback only, whatever the hostname resolves to
            "spark.driver.host": LOOPBACK,
            "spark.driver.memory": driver_memory or "2g",
        })
    elif driver_memory:
        startup["spark.driver.memory"] = driver_memory
    startup.update(runtime)
    startup.update(config or {})
    return startup, runtime


def jvm_environment(master: str | None, spark_home: str | None) -> dict[str, str]:
    """Environment variables the driver JVM is launched with, on top of this process's.

    For a local master ``SPARK_LOCAL_IP`` puts local-cluster's master, workers and executors on
    loopback too (they do not read the driver's settings) and silences Spark's "hostname
    resolves to a loopback address" notice.
    """
    extra = {}
    if master is None or is_local_master(master):
        extra["SPARK_LOCAL_IP"] = LOOPBACK
    if spark_home:
        extra["SPARK_HOME"] = spark_home
    return extra


# ----------------------------------------------------------------------------- the driver JVM

class DriverJVM:
    """The driver JVM this process launched: its process, the thread that copies its output (the
    last lines kept, all of them to ``SEGMENTER_SPARK_LOG`` when set) and its private SPARK_HOME.

    Owned by PySpark's gateway to it (see the module's text): :meth:`launch` attaches it there
    (:func:`driver_of`) and ties :meth:`end` to the gateway's life.
    """

    def __init__(self, process: subprocess.Popen, spark_home: str | None, log_path: str | None):
        self.process, self.spark_home = process, spark_home
        self.output: collections.deque[str] = collections.deque(maxlen=_JVM_OUTPUT_LINES)
        self.drain = threading.Thread(target=self._drain, args=(process.stdout, log_path),
                                      name="spark-jvm-output", daemon=True)
        self.drain.start()

    @classmethod
    def launch(cls, conf, master: str | None):
        """Launch the driver JVM for ``conf`` with its output captured; return PySpark's gateway.

        Called only when no JVM runs yet in this process (PySpark keeps one for the process's life).
        """
        from pyspark.java_gateway import launch_gateway

        spark_home = _private_spark_home()
        extra = jvm_environment(master, spark_home)
        saved = {name: os.environ.get(name) for name in extra}
        os.environ.update(extra)  # PySpark launches the JVM with a copy of os.environ
        try:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT})
        except Exception:
            if spark_home:
                shutil.rmtree(spark_home, ignore_errors=True)
            raise
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        driver = cls(gateway.proc, spark_home, os.environ.get(LOG_VARIABLE))
        gateway.segmenter_driver = driver
        weakref.finalize(gateway, driver.end)  # the JVM ends with its gateway (not before Ibis's finalizers)
        return gateway

    def _drain(self, stream, log_path: str | None) -> None:
        with open(log_path, "a", encoding="utf-8") if log_path else contextlib.nullcontext() as log:
            for line in stream:
                text = line.decode("utf-8", "replace").rstrip()
                self.output.append(text)
                if log is not None:
                    log.write(text + "\n")
                    log.flush()

    def end(self, timeout: float = 20.0) -> None:
        """Close the JVM's stdin (PySpark's signal to exit), wait for it, remove SPARK_HOME.

        Runs when the gateway goes (at the latest at exit), after the command line has stopped its
        SparkContext, so the JVM has nothing left to stop.
        """
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self.drain.join(timeout=5)  # its last lines (the JVM's shutdown) reach the log file
        if self.spark_home:
            shutil.rmtree(self.spark_home, ignore_errors=True)

    def remove_executor_folders(self) -> None:
        """The local-cluster executors' folders under the private SPARK_HOME's ``work/``."""
        if self.spark_home:
            for folder in (Path(self.spark_home) / "work").glob("app-*"):
                shutil.rmtree(folder, ignore_errors=True)


def driver_of(gateway) -> DriverJVM | None:
    """The driver JVM this process launched behind ``gateway`` (None: PySpark's own, or spark-submit's)."""
    return getattr(gateway, "segmenter_driver", None)


def jvm_output(gateway=None) -> list[str]:
    """The last lines the driver JVM behind ``gateway`` (default: PySpark's current one) printed
    (Spark's log at error level)."""
    if gateway is None and "pyspark" in sys.modules:
        from pyspark import SparkContext

        gateway = SparkContext._gateway
    driver = driver_of(gateway)
    return list(driver.output) if driver is not None else []


def _private_spark_home() -> str | None:
    """A temporary SPARK_HOME for PySpark from pip (None when SPARK_HOME is set or not needed)."""
    if os.environ.get("SPARK_HOME"):
        return None
    import pyspark

    package = Path(pyspark.__file__).parent
    if not (package / "jars").is_dir() or not (package / "bin" / "spark-class").is_file():
        return None  # not the pip layout: let PySpark find its Spark as it does
    home = Path(tempfile.mkdtemp(prefix="segmenter-spark-"))
    for name in ("bin", "jars"):
        (home / name).symlink_to(package / name, target_is_directory=True)
    (home / "work").mkdir()
    return str(home)


launch_driver_jvm = DriverJVM.launch  # the name sources.py calls


# ----------------------------------------------------------------------------- stopping

def _jvm_pid(session) -> int | None:
    try:
        return int(session.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    except Exception:  # a JVM that is gone, or a remote one
        return None


def executor_pids(session) -> list[int]:
    """Process ids of the local-cluster executor JVMs of ``session`` (children of the driver JVM)."""
    driver = _jvm_pid(session)
    if driver is None or not os.path.isdir("/proc"):
        return []
    return [pid for pid in _children(driver) if b"CoarseGrainedExecutorBackend" in _cmdline(pid)]


def _children(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                pids.append(int(entry))
    return pids


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:  # a zombie has exited
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _not_from_py4j(record: logging.LogRecord) -> bool:
    """False for a record py4j logs on the root logger (the logging filter protocol: drop it)."""
    return Path(record.pathname).parent.name != "py4j"


def _quiet_py4j_after_stop() -> None:
    """Once the session we started is stopped, Java objects the interpreter still frees (at exit,
    or when the garbage collector runs late under load) make py4j send commands over the closed
    gateway; it reports each with ``logging.exception`` on the *root* logger, which prints a
    traceback on stderr ("ERROR:root:Exception while sending command."), after a run whose results
    are complete. Those records are dropped from then on; nothing else of the root logger is."""
    root = logging.getLogger()
    if _not_from_py4j not in root.filters:
        root.addFilter(_not_from_py4j)


def stop_session(session, *, timeout: float = 30.0) -> None:
    """Stop ``session``'s SparkContext and, on local-cluster, wait until its executor JVMs are gone.

    Stopping a local-cluster context stops its workers, which stop their executors; an executor
    still running after ``timeout`` seconds is killed. Its folders under ``work/`` are removed.
    The driver JVM stays for the gateway's life (see the module's text).
    """
    executors = executor_pids(session)
    gateway = session.sparkContext._gateway
    session.stop()
    _quiet_py4j_after_stop()
    deadline = time.monotonic() + timeout
    for pid in executors:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    driver = driver_of(gateway)
    if driver is not None:
        driver.remove_executor_folders()

"""Data where it lives: transactions in a PostgreSQL table or on Spark, run through the same
Ibis cleaning and RFM expressions as a file, pushed down to the engine.

Only small results come back: the per-customer table, the audit (one row per rule), the
date range and the country list. Clustering then runs in scikit-learn as for a file.

PostgreSQL (the app's "Connect to a database" and the CLI's ``--source URL --table NAME``)::

    engine = connect_postgres(url)                   # engines.Engine, read-only; SourceError on failure
    names = list_tables(engine)                      # tables and views, for a picker
    table = open_table(engine, "sales.transactions") # an EngineTable; SourceError when missing
    roles = table_roles(table, overrides)            # detection on a 2,000-row sample
    prepared = table.prepare(roles, cleaning=..., snapshot=..., progress=...)
    result = pipeline.run_prepared(prepared, k="auto")  # K scan and segments, like pipeline.run

Spark (the CLI's ``--engine spark [--spark-master URL]``)::

    session = spark_session("local[*]")              # UTC; None: the running session (spark-submit, Databricks)
    engine = connect_spark(session)
    table = read_spark(engine, "s3a://lake/transactions/")  # Parquet/CSV path(s), or a table name
    prepared = table.prepare(table_roles(table), ...)

An Ibis table connected elsewhere (a notebook's own connection) becomes a source with
:func:`as_source`; the engine's facts are then asked of its session (engines.engine_of).

Every failure of the database or Spark (bad URL, wrong password, missing table, no permission,
server down, no Java) is raised as :class:`SourceError`, whose text never contains the password.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote, urlsplit

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from . import columns, spark_runtime
from .engines import Engine, engine_of
from .errors import SegmenterError, SourceError, quote_names
from .preparation import Canonical, Prepared, Preview, Progress, no_progress, prepare_source
from .schema import canonical
from .settings import CleaningSettings

__all__ = [
    "close_engine_of",
    "POSTGRES_SCHEMES",
    "is_database_url",
    "redact_url",
    "connect_postgres",
    "list_tables",
    "open_table",
    "table_columns",
    "sample",
    "resolve_roles",
    "table_roles",
    "EngineTable",
    "TableRows",
    "as_source",
    "prepare_table",
    "prepare_postgres",
    "java_available",
    "spark_session",
    "running_session",
    "connect_spark",
    "read_spark",
    "prepare_spark",
]

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
SAMPLE_ROWS = 2_000  # rows read for column detection and the mapping preview


# ----------------------------------------------------------------------------- URLs and secrets

def is_database_url(text: str) -> bool:
    """True for a PostgreSQL connection URL (what ``--source`` takes instead of a file)."""
    return urlsplit(str(text)).scheme.lower() in POSTGRES_SCHEMES


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = parts.username or ""
        return parts._replace(netloc=f"{user}:***@{netloc[-1]}").geturl()
    except ValueError:
        return "<unreadable URL>"


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _secrets_of(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if not password:
        return []
    return sorted({password, unquote(password)}, key=len, reverse=True)


# ----------------------------------------------------------------------------- PostgreSQL

def connect_postgres(url: str, *, connect_timeout: int = 10, schema: str | None = None) -> Engine:
    """A read-only Ibis connection to the PostgreSQL database in ``url``.

    ``postgresql://user:password@host:5432/database`` (``postgres://`` works too; query
    parameters such as ``sslmode=require`` go to the driver; ``schema=NAME`` or the
    ``schema`` argument sets the search path). Every transaction of the session is
    read-only (``default_transaction_read_only``), so nothing can write to the database:
    the cleaning stays a query and is never materialised there.
    """
    secrets = _secrets_of(url)
    target, kwargs = _parse_postgres_url(url)
    search_schema = schema or kwargs.pop("schema", None)
    options = "-c default_transaction_read_only=on"
    if search_schema:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", search_schema):
            raise SourceError(f"Schema name {search_schema!r} is not a plain identifier.",
                              hint="Use letters, digits and underscores, e.g. schema=sales.")
        options += f" -c search_path={search_schema},public"
    kwargs.setdefault("connect_timeout", connect_timeout)
    kwargs.setdefault("application_name", "segmenter")
    with _source_errors(f"PostgreSQL at {target}", secrets):
        con = ibis.postgres.connect(options=options, **kwargs)
        with con.begin() as cursor:
            cursor.execute("SHOW transaction_read_only")
            read_only = cursor.fetchone()[0]
        if read_only != "on":  # a pooler that drops startup options would let writes through
            con.disconnect()
            raise SourceError(f"PostgreSQL at {target} did not accept a read-only session.",
                              hint="Connect directly to the server, or with a role that has only SELECT rights.")
    return Engine(backend=con, kind="postgres", target=target, read_only=True, secrets=tuple(secrets))


def _parse_postgres_url(url: str) -> tuple[str, dict]:
    example = "postgresql://user:password@host:5432/database"
    if not isinstance(url, str) or not url.strip():
        raise SourceError("No database URL given.", hint=f"Give a URL like {example}.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise SourceError(f"The database URL {redact_url(url)} cannot be read (is the port a number?).",
                          hint=f"Give a URL like {example}.") from None
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        shown = parts.scheme or "(none)"
        raise SourceError(f"The database URL must start with postgresql://, not {shown}://.",
                          hint=f"Give a URL like {example}.")
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise SourceError(f"The database URL {redact_url(url)} needs a host and a database name.",
                          hint=f"Give a URL like {example}.")
    kwargs: dict = {"host": parts.hostname, "port": port or 5432, "database": database}
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password is not None:
        kwargs["password"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        if key in ("options", "user", "password", "host", "port", "dbname", "database"):
            raise SourceError(f"The database URL parameter {key!r} is not allowed.",
                              hint="Put user, password, host, port and database in the URL itself.")
        kwargs[key] = value
    target = f"{kwargs.get('user', '')}@{kwargs['host']}:{kwargs['port']}/{database}".lstrip("@")
    return target, kwargs


def list_tables(engine: Engine) -> list[str]:
    """Tables and views the connection can see (current schema), sorted, for a picker."""
    with _source_errors(engine.target, engine.secrets):
        return sorted(engine.backend.list_tables())


def open_table(engine: Engine, name: str) -> EngineTable:
    """The table or view ``name`` (``schema.table`` allowed); SourceError when it is not there."""
    if not name or not str(name).strip():
        tables = quote_names(list_tables(engine), limit=10) or "(none)"
        raise SourceError("No table name given.", hint=f"Pick one of the tables: {tables}.")
    name = str(name).strip()
    schema, _, table_name = name.rpartition(".")
    with _source_errors(engine.target, engine.secrets, table=name):
        table = engine.backend.table(table_name, database=schema or None)
    return EngineTable(engine=engine, table=table, source_name=name)


@dataclass(frozen=True)
class EngineTable:
    """Transactions in a table of a database or Spark (a preparation.TransactionSource): the
    cleaning and RFM run there as one query; only per-customer rows come back."""

    engine: Engine
    table: ir.Table
    source_name: str
    notes: tuple[str, ...] = ()

    # Revenue per customer × product is a much larger result than the customers: not by default.
    fetch_products = False

    def preview(self, n: int = SAMPLE_ROWS) -> Preview:
        """The first ``n`` rows and, on a database (not Spark, where it means reading every
        file), the table's row count."""
        with _source_errors(self.engine.target, self.engine.secrets):
            rows = self.table.limit(n).to_pyarrow()
            total = None
            if rows.num_rows < n:
                total = rows.num_rows
            elif self.engine.kind != "pyspark":
                total = int(self.table.count().execute())
        return Preview(rows=rows, total_rows=total)

    def first_rows(self, name: str) -> TableRows:
        """The preview as the app's Data page shows what was read (rows, format, a note)."""
        preview = self.preview()
        return TableRows(table=preview.rows, source_name=name,
                         file_format=_SHOWN_FORMAT.get(self.engine.kind, self.engine.kind),
                         notes=(f"Shown and detected from {preview.caption()}; the cleaning runs "
                                "in the database on the whole table.",))

    def canonical(self, roles: Mapping[str, str], *, progress: Progress = no_progress) -> Canonical:
        unused = columns.unused_columns_note(self.table.columns, roles)
        return Canonical(table=canonical(self.table, roles), engine=self.engine,
                         notes=tuple(self.notes) + ((unused,) if unused else ()))

    def prepare(self, roles: Mapping[str, str], **options) -> Prepared:
        """Clean, audit and aggregate inside the engine (preparation.prepare_source)."""
        with _source_errors(self.engine.target, self.engine.secrets):
            return prepare_source(self, roles, **options)


_SHOWN_FORMAT = {"postgres": "postgresql", "pyspark": "spark"}  # engine kind -> the Data page's "format"


@dataclass(frozen=True)
class TableRows:
    """A table's first rows with how they were read, the fields the Data page shows of a file read
    (`reading.LoadedFile`); not a source of transactions: the cleaning reads the whole table
    (`EngineTable`), never these rows."""

    table: pa.Table
    source_name: str
    file_format: str
    notes: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    delimiter_name: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()


def as_source(table: ir.Table | EngineTable, name: str | None = None) -> EngineTable:
    """An Ibis table connected elsewhere (a notebook's own PostgreSQL, Spark or DuckDB
    connection) as a source; an EngineTable is returned as it is."""
    if isinstance(table, EngineTable):
        return table
    engine = engine_of(table)
    return EngineTable(engine=engine, table=table, source_name=name or f"an Ibis table on {engine.kind}")


def table_columns(source: EngineTable) -> dict[str, str]:
    """Column → engine type, for the mapping screen."""
    return {name: str(kind) for name, kind in source.table.schema().items()}


def sample(source: EngineTable, n: int = SAMPLE_ROWS) -> pa.Table:
    """The first ``n`` rows as Arrow (for column detection and the preview); nothing else is read."""
    with _source_errors(source.engine.target, source.engine.secrets):
        return source.table.limit(n).to_pyarrow()


def table_roles(source: EngineTable, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Role → column for an engine table: columns.resolve_roles (detection, then the user's
    overrides; MappingError) on a sample of its rows."""
    return columns.resolve_roles(sample(source), overrides)


resolve_roles = table_roles  # the old name, kept for one release: it read like columns.resolve_roles


# ----------------------------------------------------------------------------- running

def prepare_table(
    source: EngineTable | ir.Table,
    roles: Mapping[str, str],
    *,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot=None,
    progress: Progress | None = None,
    with_products: bool = False,
) -> Prepared:
    """Clean, audit and aggregate an engine table inside its engine.

    Only the per-customer rows and small summaries come back. ``with_products`` also fetches
    revenue per customer × product (for top products per segment): off by default, as that is
    a much larger result.
    """
    return as_source(source).prepare(roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                                     with_products=with_products)


def prepare_postgres(
    url: str,
    table: str,
    *,
    overrides: Mapping[str, str | None] | None = None,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot=None,
    progress: Progress | None = None,
    with_products: bool = False,
    keep_open: bool = False,
) -> Prepared:
    """``--source URL --table NAME``: connect read-only, map columns, run the cleaning and RFM there.

    The connection is closed before returning, unless `keep_open`: then `Prepared.purchases` can
    still be queried (as-of migration) and the caller closes it (`close_engine_of`)."""
    engine = connect_postgres(url)
    try:
        source = open_table(engine, table)
        rows = sample(source)
        roles = columns.resolve_roles(rows, overrides)
        source = replace(source, notes=(f"Read from table {table} in PostgreSQL at {engine.target}.",)
                         + columns.detection_notes(rows, roles))
        return prepare_table(source, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                             with_products=with_products)
    except BaseException:
        if keep_open:
            engine.disconnect()
        raise
    finally:
        if not keep_open:
            engine.disconnect()


def close_engine_of(prepared: Prepared) -> None:
    """Close the connection `prepare_postgres(..., keep_open=True)` left open for `prepared`."""
    if prepared.purchases is not None:
        ibis.get_backend(prepared.purchases).disconnect()


# ----------------------------------------------------------------------------- Spark

def java_available() -> bool:
    """Whether a Java runtime is there for a local Spark (JAVA_HOME or java on PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "Segmenter",
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    config: Mapping[str, str] | None = None,
):
    """A SparkSession for the pipeline, with the session time zone set to UTC.

    ``master`` ``local[N]``/``local[*]``, ``local-cluster[workers,cores,MB]`` (executor JVMs on
    this machine), ``yarn``, ``spark://host:7077``, ``k8s://…``; ``None`` takes the session that
    is already there (Databricks, EMR notebooks, ``spark-submit``, whose ``--master`` then
    counts) or else starts ``local[*]``. Timestamps are wall-clock values read without zone and
    day numbers come from epoch seconds, hence UTC. On a local master shuffle partitions default
    to 2×cores instead of 200, the UI is off and everything binds to loopback; a driver JVM
    started here is quiet (spark_runtime). ``config`` adds or overrides Spark settings.
    Stop it with ``spark_runtime.stop_session``, or use :func:`running_session`.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError("The Spark engine needs PySpark, which is not installed.",
                          hint="pip install 'pyspark>=3.5,<4.1'") from None
    launched_by_spark = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit, Databricks, EMR
    local = spark_runtime.is_local_master(master) if master else not launched_by_spark
    if local and not launched_by_spark and not java_available():
        raise SourceError("Spark on this machine needs Java (17), which was not found.",
                          hint="Install a JDK 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME.")
    startup, runtime = spark_runtime.session_conf(master, launched_by_spark=launched_by_spark,
                                                  shuffle_partitions=shuffle_partitions,
                                                  driver_memory=driver_memory, config=config)
    active = SparkSession.getActiveSession() if master is None else None
    with _source_errors(f"Spark at {master or 'the active session'}", []):
        if active is not None:
            session = active
        else:
            session = _new_session(master, app_name, startup, launched_by_spark=launched_by_spark)
        for key, value in runtime.items():  # a session that was already running keeps its own otherwise
            session.conf.set(key, value)
        for key, value in (config or {}).items():
            if key.startswith("spark.sql."):
                session.conf.set(key, value)
    return session


def _new_session(master: str | None, app_name: str, startup: Mapping[str, str], *, launched_by_spark: bool):
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    if not launched_by_spark:
        master = master or "local[*]"
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in startup.items():
        builder = builder.config(key, value)
    # PySpark keeps one driver JVM per process (SparkContext._gateway); when this is the first, it is
    # launched here, quiet, so that the JVM's own start-up output never reaches the user's terminal.
    if not launched_by_spark and SparkContext._gateway is None:
        conf = SparkConf().setAppName(app_name).setAll(list(startup.items()))
        if master:
            conf.setMaster(master)
        try:
            gateway = spark_runtime.launch_driver_jvm(conf, master)
        except Exception as error:  # no gateway, so no captured output: PySpark's reason
            raise SourceError(f"Spark's JVM did not start: {str(error).rstrip('.')}.",
                              hint="Check Java 17 (JAVA_HOME) and the Spark settings.") from None
        SparkContext(conf=conf, gateway=gateway)
    return builder.getOrCreate()


@contextmanager
def running_session(master: str | None = None, **kwargs) -> Iterator:
    """:func:`spark_session` for one run: stopped at the end, executors included, when the run
    started it; a session that was already running (a notebook's, a test's) is left running."""
    from pyspark import SparkContext

    already_running = SparkContext._active_spark_context is not None
    session = spark_session(master, **kwargs)
    try:
        yield session
    except BaseException:
        if not already_running:
            with suppress(Exception):  # the run's own error is the one to report (a dead JVM cannot stop)
                spark_runtime.stop_session(session)
        raise
    if not already_running:
        spark_runtime.stop_session(session)


def connect_spark(session=None, *, master: str | None = None) -> Engine:
    """An Ibis PySpark backend on ``session`` (default: :func:`spark_session` on ``master``)."""
    session = session or spark_session(master)
    with _source_errors("Spark", []):
        con = ibis.pyspark.connect(session)
    return Engine(backend=con, kind="pyspark", target=f"Spark ({session.sparkContext.master})")


def read_spark(
    engine: Engine,
    source: str | Sequence[str],
    *,
    file_format: str | None = None,
    csv_options: Mapping[str, str] | None = None,
) -> EngineTable:
    """Parquet/CSV path(s) (local, ``s3a://``, ``abfss://``, ``dbfs:/``…) or a Spark table name.

    A name without ``/`` or ``:`` and no file extension is a table (``db.table`` allowed).
    CSV is read with a header and every column as text (no inference pass over the data);
    :func:`canonical` casts ids, numbers and ISO dates. ``file_format`` forces parquet/csv.
    """
    paths = [source] if isinstance(source, str) else list(source)
    if not paths:
        raise SourceError("No Spark source given.", hint="Give a Parquet/CSV path or a table name.")
    first = str(paths[0])
    is_table = len(paths) == 1 and not re.search(r"[/:\\]", first) and not re.search(
        r"\.(parquet|pq|csv|tsv|txt)(\.gz)?$", first, re.I) and file_format is None
    con = engine.backend
    session = con._session
    shown = ", ".join(map(str, paths))
    notes = (f"Read {shown} on Spark ({session.sparkContext.master}).",)
    with _source_errors("Spark", [], table=first):
        if is_table:
            schema, _, name = first.rpartition(".")
            return EngineTable(engine, con.table(name, database=schema or None), shown, notes)
        fmt = file_format or ("csv" if re.search(r"\.(csv|tsv|txt)(\.gz)?$", first, re.I) else "parquet")
        if fmt == "csv":
            options = {"header": "true", "inferSchema": "false", "mode": "PERMISSIVE"}
            if re.search(r"\.tsv(\.gz)?$", first, re.I):
                options["sep"] = "\t"
            options.update(csv_options or {})
            frame = session.read.options(**options).csv([str(p) for p in paths])
        elif fmt == "parquet":
            frame = session.read.parquet(*[str(p) for p in paths])
        else:
            raise SourceError(f"Spark source format {fmt!r} is not supported.", hint="Use parquet or csv.")
        view = ibis.util.gen_name("segmenter_source")
        frame.createOrReplaceTempView(view)
        return EngineTable(engine, con.table(view), shown, notes)


def prepare_spark(
    source: str | Sequence[str],
    *,
    master: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot=None,
    progress: Progress | None = None,
    with_products: bool = False,
    session=None,
) -> Prepared:
    """``--engine spark``: read the path(s) or table on Spark, then clean and aggregate there."""
    engine = connect_spark(session, master=master)
    table = read_spark(engine, source)
    rows = sample(table)
    roles = columns.resolve_roles(rows, overrides)
    table = replace(table, notes=tuple(table.notes) + columns.detection_notes(rows, roles))
    return prepare_table(table, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                         with_products=with_products)


# ----------------------------------------------------------------------------- errors

@contextmanager
def _source_errors(target: str, secrets: Sequence[str], *, table: str | None = None) -> Iterator[None]:
    """Turn driver/engine exceptions into SourceError with a clear message and no secret.

    The original exception is not chained (``from None``): its text or traceback locals
    could hold the connection parameters.
    """
    try:
        yield
    except SegmenterError:
        raise
    except Exception as exc:  # every engine has its own exception tree
        message, hint = _describe(exc, target, table)
        raise SourceError(_scrub(message, secrets), hint=_scrub(hint, secrets) if hint else None) from None


def _describe(exc: Exception, target: str, table: str | None) -> tuple[str, str | None]:
    text = " ".join(str(exc).split("JVM stacktrace:")[0].split("\n\tat ")[0].split())
    kind = type(exc).__name__
    sqlstate = getattr(getattr(exc, "diag", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    low = text.lower()
    if kind == "TableNotFound" or sqlstate == "42P01" or "table_or_view_not_found" in low \
            or "table or view not found" in low:
        return (f"Table {table!r} was not found in {target}.",
                "Check the name (and schema: schema.table) or pick one of the listed tables.")
    if sqlstate == "42501" or "permission denied" in low:
        return (f"{target} refused access: {_first_line(text)}.",
                "Ask the database owner for SELECT rights on the table (GRANT SELECT ...).")
    if "password authentication failed" in low or sqlstate == "28P01":
        return (f"{target} refused the login: wrong user name or password.",
                "Check the user and password in the URL (special characters must be %-encoded).")
    if "no password supplied" in low:
        return (f"{target} asks for a password and the URL has none.",
                "Give it in the URL: postgresql://user:password@host:port/database.")
    if "no pg_hba.conf entry" in low or sqlstate == "28000":
        return (f"{target} does not allow this connection: {_first_line(text)}.",
                "Ask the database owner to allow connections from this machine (pg_hba.conf).")
    if sqlstate == "3D000" or re.search(r'database ".*" does not exist', low):
        return (f"{target}: that database does not exist.", "Check the database name at the end of the URL.")
    if re.search(r'role ".*" does not exist', low):
        return (f"{target}: that user does not exist.", "Check the user name in the URL.")
    if any(s in low for s in ("connection refused", "could not connect", "timeout expired",
                              "could not translate host name", "name or service not known",
                              "connection timed out", "server closed the connection", "is the server running",
                              "network is unreachable", "no route to host")):
        return (f"Cannot reach {target}: the server is down or does not accept connections there.",
                "Check the host and port, that the server is running, and any firewall or VPN.")
    if sqlstate == "25006":
        return (f"{target} refused a write in the read-only session: {_first_line(text)}.", None)
    if "java" in low and ("gateway" in low or "not found" in low):
        return (f"Spark could not start: {_first_line(text)}.", "Install Java 17 or set JAVA_HOME.")
    if "path does not exist" in low or "path_not_found" in low:
        return (f"{_first_line(text)}.", "Check the path (and the credentials for a lake URI).")
    if type(exc).__module__.split(".")[0] in ("pyspark", "py4j"):
        error_class, text = _spark_failure(exc, text)
        return f"{target} failed with {error_class}: {_first_line(text)}.", None
    return f"{target} failed: {kind}: {_first_line(text)}.", None


_SPARK_CONDITION = re.compile(r"\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]")
_JAVA_EXCEPTION = re.compile(r"\b(?:[a-z][a-z0-9_]*\.)+([A-Z]\w*(?:Exception|Error))\b")


def _spark_failure(exc: Exception, text: str) -> tuple[str, str]:
    """Spark's error class (``FAILED_READ_FILE.NO_HINT``…) of a failure and the message that goes with it.

    A failed job's own condition is often empty: the first cause that has one (a Java exception's
    chain, or the task failure quoted in the job's message) names it; else the Java or Python class.
    """
    for condition, message in _java_conditions(exc):
        if condition:
            return condition, " ".join(message.split("\n\tat ")[0].split())
    try:
        condition = exc.getCondition() if hasattr(exc, "getCondition") else None
    except Exception:  # the JVM may be gone
        condition = None
    text = re.sub(r"^An error occurred while calling \S+\s*:\s*", "", text)  # Py4J's own preamble
    if condition:
        return condition, text
    match = _SPARK_CONDITION.search(text) or _JAVA_EXCEPTION.search(text)
    return (match.group(1) if match else type(exc).__name__), text


def _java_conditions(exc: Exception) -> Iterator[tuple[str | None, str]]:
    """(condition, message) along the cause chain of a Py4J Java error (nothing for other errors)."""
    throwable = getattr(exc, "java_exception", None)
    for _ in range(10):
        if throwable is None:
            return
        try:
            condition = throwable.getCondition()
        except Exception:  # not a SparkThrowable (no such method), or the JVM is gone
            condition = None
        try:
            message, throwable = str(throwable.getMessage() or throwable.toString()), throwable.getCause()
        except Exception:
            return
        yield condition, message


def _first_line(text: str, limit: int = 300) -> str:
    text = text.strip().rstrip(".")
    return text if len(text) <= limit else text[:limit] + "…"

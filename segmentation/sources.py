"""Data where it lives: transactions in a PostgreSQL table or on Spark, run through the same
Ibis cleaning and RFM expressions as a file, pushed down to the engine.

Only small results come back: the per-customer table, the audit (one row per rule), the
date range and the country list. Clustering then runs in scikit-learn as for a file.

PostgreSQL (the app's "Connect to a database" and the CLI's ``--source URL --table NAME``)::

    con = connect_postgres(url)                      # read-only session; SourceError on failure
    names = list_tables(con)                         # tables and views, for a picker
    table = open_table(con, "sales.transactions")    # SourceError when missing
    roles = resolve_roles(table, overrides)          # detection on a 2,000-row sample
    prepared = prepare_table(table, roles, cleaning=..., snapshot=..., progress=...)
    result = run_prepared(prepared, k="auto")        # K scan and segments, like pipeline.run

Spark (the CLI's ``--engine spark [--spark-master URL]``)::

    session = spark_session("local[*]")              # UTC; None: the running session (spark-submit, Databricks)
    con = connect_spark(session)
    table = read_spark(con, "s3a://lake/transactions/")  # Parquet/CSV path(s), or a table name
    prepared = prepare_table(table, resolve_roles(table), ...)

Every failure of the database or Spark (bad URL, wrong password, missing table, no permission,
server down, no Java) is raised as :class:`SourceError`, whose text never contains the password.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlsplit

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from . import columns
from .cleaning import CANONICAL_COLUMNS, READ_ONLY_ATTRIBUTE
from .errors import SegmenterError, SourceError
from .parsing import ID_COLUMNS, ROLE_OF_COLUMN, TEXT_COLUMNS
from .pipeline import (
    Prepared,
    Progress,
    prepare_expr,
    run_prepared,  # K scan and segments: the same K rules as for a file
)
from .settings import CleaningSettings

__all__ = [
    "POSTGRES_SCHEMES",
    "is_database_url",
    "redact_url",
    "connect_postgres",
    "list_tables",
    "open_table",
    "table_columns",
    "sample",
    "resolve_roles",
    "canonical",
    "prepare_table",
    "prepare_postgres",
    "run_prepared",
    "java_available",
    "spark_session",
    "connect_spark",
    "read_spark",
    "prepare_spark",
]

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
SAMPLE_ROWS = 2_000  # rows read for column detection and the mapping preview
_TYPES = {"customer_id": dt.string, "invoice": dt.string, "invoice_date": dt.Timestamp(),
          "quantity": dt.float64, "price": dt.float64, "amount": dt.float64, "product": dt.string,
          "description": dt.string, "country": dt.string}
# The same text forms parsing.py accepts for numbers and ISO dates; anything else is null
# (and counted by the cleaning rules) instead of failing the whole query with a cast error.
_NUMBER_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_ISO_DATE_TEXT = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$"
_WHOLE_FLOAT_TEXT = r"^[+-]?[0-9]+\.0+$"


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

def connect_postgres(url: str, *, connect_timeout: int = 10, schema: str | None = None) -> ibis.BaseBackend:
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
    setattr(con, READ_ONLY_ATTRIBUTE, True)
    con.segmenter_target = target  # for messages: user@host:port/database, no password
    con.segmenter_secrets = secrets
    return con


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


def list_tables(con: ibis.BaseBackend) -> list[str]:
    """Tables and views the connection can see (current schema), sorted, for a picker."""
    with _source_errors(_target(con), _secrets(con)):
        return sorted(con.list_tables())


def open_table(con: ibis.BaseBackend, name: str) -> ir.Table:
    """The table or view ``name`` (``schema.table`` allowed); SourceError when it is not there."""
    if not name or not str(name).strip():
        raise SourceError("No table name given.", hint="Pick one of the tables: " + _few(list_tables(con)))
    name = str(name).strip()
    schema, _, table_name = name.rpartition(".")
    with _source_errors(_target(con), _secrets(con), table=name):
        return con.table(table_name, database=schema or None)


def table_columns(table: ir.Table) -> dict[str, str]:
    """Column → engine type, for the mapping screen."""
    return {name: str(kind) for name, kind in table.schema().items()}


def sample(table: ir.Table, n: int = SAMPLE_ROWS) -> pa.Table:
    """The first ``n`` rows as Arrow (for column detection and the preview); nothing else is read."""
    with _source_errors(_target_of(table), _secrets_of_table(table)):
        return table.limit(n).to_pyarrow()


def resolve_roles(table: ir.Table, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Role → column for an engine table: detection on a sample, then the user's overrides.

    Same rules and errors as :func:`segmentation.columns.resolve_roles` (MappingError).
    """
    return columns.resolve_roles(sample(table), overrides)


# ----------------------------------------------------------------------------- canonical schema

def canonical(table: ir.Table, roles: Mapping[str, str]) -> ir.Table:
    """The table in the canonical schema, as Ibis expressions (nothing is read).

    Mirrors parsing.to_canonical for typed engine columns: ids become trimmed text with a
    float form's ``.0`` removed (17850.0 → '17850'), blank → null; text is trimmed, blank → null;
    numbers are cast to float64 (text that is no plain number → null); timestamps stay as they
    are (time-zone-aware ones as UTC wall time), dates become midnight, ISO date text is cast.
    """
    schema = table.schema()
    missing = {role: col for role, col in roles.items() if col and col not in schema}
    if missing:
        from .errors import MappingError

        listed = ", ".join(f"{role} → '{col}'" for role, col in missing.items())
        raise MappingError(f"Mapped column(s) not in the table: {listed}. The columns are: "
                           + ", ".join(f"'{c}'" for c in schema.names) + ".",
                           "Map the roles to columns of this table.")
    values = {}
    for name in CANONICAL_COLUMNS:
        column_name = roles.get(ROLE_OF_COLUMN[name])
        if not column_name:
            values[name] = ibis.null(_TYPES[name])
            continue
        column = table[column_name]
        if name in ID_COLUMNS:
            values[name] = _id_text(column)
        elif name in TEXT_COLUMNS:
            values[name] = _blank_to_null(_strip(_as_text(column)))
        elif name == "invoice_date":
            values[name] = _timestamp(column, column_name)
        else:
            values[name] = _float(column)
    return table.select(**values)


@ibis.udf.scalar.builtin(name="trim")
def _trim_spaces(text: str) -> str:  # SQL TRIM(x): spaces only, and much cheaper than TRIM(x, chars)
    ...


_OTHER_WHITESPACE = ("\t", "\n", "\r", "\v", "\f")


def _strip(text: ir.StringValue) -> ir.StringValue:
    """`text.strip()` (spaces, tabs, line breaks), computed as a plain space trim unless the text
    holds another whitespace character: on DuckDB this is half the cost on a 50M-row file."""
    unusual = text.contains(_OTHER_WHITESPACE[0])
    for character in _OTHER_WHITESPACE[1:]:
        unusual = unusual | text.contains(character)
    return ibis.cases((unusual, text.strip()), else_=_trim_spaces(text))


def _as_text(column: ir.Value) -> ir.StringValue:
    return column if column.type().is_string() else column.cast("string")


def _blank_to_null(text: ir.StringValue) -> ir.StringValue:
    return ibis.cases((text == "", ibis.null("string")), else_=text)


def _id_text(column: ir.Value) -> ir.StringValue:
    kind = column.type()
    if kind.is_floating():
        # Whole floats as integer text (engines print 17850.0 as '17850' or '17850.0'); NaN/inf: null.
        finite = ~(column.isnan() | column.isinf())
        whole = finite & (column == column.floor()) & (column.abs() < 2.0 ** 53)
        return ibis.cases(
            (column.isnull(), ibis.null("string")),
            (whole.fill_null(False), column.cast("int64").cast("string")),
            (finite.fill_null(False), column.cast("string")),
            else_=ibis.null("string"),
        )
    text = _strip(_as_text(column))
    # (the cheap `contains` first: the regular expression is the expensive part on large tables)
    whole_float = text.contains(".") & text.re_search(_WHOLE_FLOAT_TEXT)
    text = ibis.cases((whole_float, text.re_replace(r"\.0+$", "")), else_=text)
    return _blank_to_null(text)


def _float(column: ir.Value) -> ir.FloatingValue:
    kind = column.type()
    if kind.is_numeric():
        return column.cast("float64")
    if kind.is_boolean():
        return ibis.null("float64")
    text = _strip(_as_text(column))
    return ibis.cases((text.re_search(_NUMBER_TEXT), text.cast("float64")), else_=ibis.null("float64"))


def _timestamp(column: ir.Value, column_name: str) -> ir.TimestampValue:
    kind = column.type()
    if kind.is_timestamp():
        if kind.timezone is not None:  # UTC wall time, as parsing does with offsets
            return column.cast(dt.Timestamp())
        return column
    if kind.is_date():
        return column.cast(dt.Timestamp())
    if kind.is_string():
        text = _strip(column)
        return ibis.cases((text.re_search(_ISO_DATE_TEXT), text.cast(dt.Timestamp())),
                          else_=ibis.null(dt.Timestamp()))
    from .errors import MappingError

    raise MappingError(f"Column '{column_name}' ({kind}) holds no dates or timestamps.",
                       "Map the date role to a date, timestamp or ISO date text column.")


# ----------------------------------------------------------------------------- running

def prepare_table(
    table: ir.Table,
    roles: Mapping[str, str],
    *,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot=None,
    progress: Progress | None = None,
    notes: tuple[str, ...] = (),
    with_products: bool = False,
) -> Prepared:
    """Clean, audit and aggregate an engine table inside its engine (pipeline.prepare_expr).

    Only the per-customer rows and small summaries come back. ``with_products`` also fetches
    revenue per customer × product (for top products per segment): off by default, as that is
    a much larger result.
    """
    expr = canonical(table, roles)
    with _source_errors(_target_of(table), _secrets_of_table(table)):
        prepared = prepare_expr(expr, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                                notes=notes, with_products=with_products)
    for name in ("first_purchase", "last_purchase"):  # engines return ns or us; files give us
        prepared.customers[name] = prepared.customers[name].astype("datetime64[us]")
    return prepared


def prepare_postgres(
    url: str,
    table: str,
    *,
    overrides: Mapping[str, str | None] | None = None,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot=None,
    progress: Progress | None = None,
    with_products: bool = False,
) -> Prepared:
    """``--source URL --table NAME``: connect read-only, map columns, run the cleaning and RFM there."""
    con = connect_postgres(url)
    try:
        expr = open_table(con, table)
        roles = resolve_roles(expr, overrides)
        return prepare_table(expr, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                             notes=(f"Read from table {table} in PostgreSQL at {_target(con)}.",),
                             with_products=with_products)
    finally:
        con.disconnect()


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

    ``master`` ``local[N]``/``local[*]``, ``yarn``, ``spark://host:7077``, ``k8s://…``; ``None``
    takes the session that is already there (Databricks, EMR notebooks, ``spark-submit``,
    whose ``--master`` then counts) or else starts ``local[*]``. Timestamps are wall-clock
    values read without zone and day numbers come from epoch seconds, hence UTC. On a local
    master shuffle partitions default to 2×cores instead of 200, the UI is off and the driver
    binds to loopback. ``config`` adds or overrides Spark settings.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError("The Spark engine needs PySpark, which is not installed.",
                          hint="pip install 'pyspark>=3.5,<4.1'") from None
    launched_by_spark = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit, Databricks, EMR
    local = master.startswith("local") if master else not launched_by_spark
    if local and not launched_by_spark and not java_available():
        raise SourceError("Spark on this machine needs Java (17), which was not found.",
                          hint="Install a JDK 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME.")
    runtime = {"spark.sql.session.timeZone": "UTC"}  # settable on a running session too
    if shuffle_partitions:
        runtime["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    startup = {
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    }
    if local:
        runtime.setdefault("spark.sql.shuffle.partitions", str(max(2, 2 * _local_cores(master or "local[*]"))))
        startup.update({
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.bindAddress": "127.0.0.1",  # loopback only, whatever the hostname resolves to
            "spark.driver.host": "127.0.0.1",
            "spark.driver.memory": driver_memory or "2g",
        })
    elif driver_memory:
        startup["spark.driver.memory"] = driver_memory
    startup.update(runtime)
    startup.update(config or {})
    active = SparkSession.getActiveSession() if master is None else None
    with _source_errors(f"Spark at {master or 'the active session'}", []):
        if active is not None:
            session = active
        else:
            builder = SparkSession.builder.appName(app_name)
            if master:
                builder = builder.master(master)
            for key, value in startup.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            if local:
                session.sparkContext.setLogLevel("ERROR")
        for key, value in runtime.items():  # a session that was already running keeps its own otherwise
            session.conf.set(key, value)
        for key, value in (config or {}).items():
            if key.startswith("spark.sql."):
                session.conf.set(key, value)
    return session


def _local_cores(master: str) -> int:
    match = re.fullmatch(r"local\[(\d+|\*)(,\d+)?\]", master)
    if match and match.group(1) != "*":
        return int(match.group(1))
    return os.cpu_count() or 2


def connect_spark(session=None, *, master: str | None = None) -> ibis.BaseBackend:
    """An Ibis PySpark backend on ``session`` (default: :func:`spark_session` on ``master``)."""
    session = session or spark_session(master)
    with _source_errors("Spark", []):
        con = ibis.pyspark.connect(session)
    return con


def read_spark(
    con: ibis.BaseBackend,
    source: str | Sequence[str],
    *,
    file_format: str | None = None,
    csv_options: Mapping[str, str] | None = None,
) -> ir.Table:
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
    session = con._session
    with _source_errors("Spark", [], table=first):
        if is_table:
            schema, _, name = first.rpartition(".")
            return con.table(name, database=schema or None)
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
        return con.table(view)


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
    con = connect_spark(session, master=master)
    table = read_spark(con, source)
    roles = resolve_roles(table, overrides)
    shown = source if isinstance(source, str) else ", ".join(map(str, source))
    where = con._session.sparkContext.master
    return prepare_table(table, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                         notes=(f"Read {shown} on Spark ({where}).",), with_products=with_products)


# ----------------------------------------------------------------------------- errors

def _target(con) -> str:
    return getattr(con, "segmenter_target", None) or getattr(con, "name", "the database")


def _secrets(con) -> list[str]:
    return list(getattr(con, "segmenter_secrets", []) or [])


def _backend_of(table: ir.Table):
    try:
        return ibis.get_backend(table)
    except Exception:  # an unbound expression: no engine to name
        return None


def _target_of(table: ir.Table) -> str:
    backend = _backend_of(table)
    return _target(backend) if backend is not None else "the engine"


def _secrets_of_table(table: ir.Table) -> list[str]:
    backend = _backend_of(table)
    return _secrets(backend) if backend is not None else []


def _few(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit]) or "(none)"
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") + "."


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
    text = " ".join(str(exc).split())
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
    return f"{target} failed: {kind}: {_first_line(text)}.", None


def _first_line(text: str, limit: int = 300) -> str:
    text = text.strip().rstrip(".")
    return text if len(text) <= limit else text[:limit] + "…"

"""python -m segmentation: the whole pipeline headless.

A contract other tools rely on: flags, output columns and report keys are only ever extended.
Errors caused by the input or the flags print one line `error: …` on stderr and exit 2,
with no traceback and no output file.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import KChoiceError, MappingError, ParameterError, SegmenterError
from .kpolicy import check_request
from .report import OUTPUT_COLUMNS, report_of
from .settings import DEFAULT_SEED, ROLE_NAMES, SWITCHABLE_RULES, CleaningSettings

if TYPE_CHECKING:
    from . import pipeline, reading

__all__ = ["main", "build_parser", "OUTPUT_COLUMNS", "report_of"]

EXIT_USAGE = 2


class UsageError(SegmenterError):
    """A flag is wrong (argparse's own complaints, reworded to one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit 2 itself
        raise UsageError(f"{message}.", hint="Run 'python -m segmentation --help' for the flags.")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _horizon(text: str) -> int:
    from .prediction import MAX_HORIZON_DAYS

    value = _positive_int(text)
    if not 1 <= value <= MAX_HORIZON_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to {MAX_HORIZON_DAYS:,}")
    return value


def _k_value(text: str) -> int | str:
    if text != "auto":
        _positive_int(text)
    try:
        return check_request(text)  # the K policy's own rule, checked before any data is read
    except KChoiceError as error:
        raise argparse.ArgumentTypeError(f"{error.message.rstrip('.')}, or 'auto'") from None


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2011-12-10 (YYYY-MM-DD)") from None


def _mapping(text: str) -> tuple[str, str]:
    role, sep, column = text.partition("=")
    if not sep or not role:
        raise argparse.ArgumentTypeError(f"{text!r} is not ROLE=COLUMN (e.g. customer='Customer ID')")
    if role not in ROLE_NAMES:
        raise argparse.ArgumentTypeError(f"unknown role {role!r}; roles are {', '.join(ROLE_NAMES)}")
    return role, column


def _rule(text: str) -> str:
    if text not in SWITCHABLE_RULES:
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be switched off; rules that can: {', '.join(SWITCHABLE_RULES)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m segmentation",
        description="Customer segments (RFM + K-Means) from a transaction export. "
        "Without INPUT, runs on the built-in demo data.",
    )
    parser.add_argument("input", nargs="?", metavar="INPUT",
                        help="CSV/TSV/TXT (optionally .gz), XLSX or Parquet file of transactions")
    parser.add_argument("--k", type=_k_value, default=None, metavar="N|auto",
                        help="number of segments, or 'auto' for the suggested K (default)")
    parser.add_argument("--map", type=_mapping, action="append", default=[], metavar="ROLE=COLUMN",
                        help=f"use COLUMN for ROLE ({', '.join(ROLE_NAMES)}); empty COLUMN unmaps; repeatable")
    parser.add_argument("--sheet", help="Excel sheet to read (default: the one holding the transactions)")
    parser.add_argument("--snapshot", type=_iso_date, metavar="YYYY-MM-DD",
                        help="date recency is measured to (default: the day after the last purchase)")
    parser.add_argument("--out", type=Path, metavar="customers.csv|.xlsx",
                        help="write one row per customer with features, scores and segment")
    parser.add_argument("--report", type=Path, metavar="report.json",
                        help="write the audit, K scan and segment profiles as JSON")
    parser.add_argument("--save-segmentation", type=Path, metavar="seg.json",
                        help="write the segments as a saved segmentation (JSON) to apply to later data")
    parser.add_argument("--segmentation", type=Path, metavar="seg.json",
                        help="apply a saved segmentation instead of fitting new segments (K comes from the file)")
    parser.add_argument("--compare-to", type=_iso_date, metavar="YYYY-MM-DD",
                        help="compare segments as of this date (purchases before it) with the snapshot; "
                        "adds 'migration' to the report")
    parser.add_argument("--migration", type=Path, metavar="migration.csv",
                        help="with --compare-to: write each customer's segment at both dates and the revenue "
                        "between them")
    parser.add_argument("--html", type=Path, metavar="report.html",
                        help="write a self-contained HTML report (works offline, prints cleanly)")
    parser.add_argument("--audiences", type=Path, metavar="audiences.zip|.xlsx",
                        help="write one customer list per segment: a ZIP of CSV files, or a workbook with a "
                        "summary sheet and one sheet per segment")
    parser.add_argument("--seed", type=_positive_int, default=DEFAULT_SEED, metavar="N",
                        help=f"random seed of K-Means (default {DEFAULT_SEED})")
    parser.add_argument("--keep", type=_rule, action="append", default=[], metavar="RULE",
                        help=f"switch a cleaning rule off ({', '.join(SWITCHABLE_RULES)}); repeatable")
    parser.add_argument("--net-returns", action="store_true",
                        help="net returns and cancellations against revenue instead of dropping them")
    parser.add_argument("--from", dest="date_from", type=_iso_date, metavar="YYYY-MM-DD",
                        help="keep purchases on or after this date")
    parser.add_argument("--to", dest="date_to", type=_iso_date, metavar="YYYY-MM-DD",
                        help="keep purchases on or before this date")
    parser.add_argument("--country", action="append", default=[], metavar="NAME",
                        help="keep only these countries; repeatable")
    parser.add_argument("--exclude-country", action="append", default=[], metavar="NAME",
                        help="drop these countries; repeatable")
    parser.add_argument("--source", metavar="postgresql://USER@HOST/DB",
                        help="read from a PostgreSQL database instead of a file (with --table); the password "
                        "comes from the URL or PGPASSWORD and is never printed")
    parser.add_argument("--table", metavar="NAME", help="table or view to read with --source (schema.name allowed)")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="where cleaning and RFM run: embedded DuckDB (default) or Spark; with spark, INPUT "
                        "is a Parquet/CSV path (local or a lake URI) or a Spark table name")
    parser.add_argument("--spark-master", metavar="URL",
                        help="Spark master for --engine spark (default local[*], or the running session "
                        "under spark-submit/Databricks/EMR)")
    parser.add_argument("--stability", action="store_true",
                        help="bootstrap every K (20 resamples of at most 20,000 customers): stability per K in "
                        "k_scan and per segment, a seed check, and a K suggestion that prefers stable K; "
                        "off by default because it takes seconds to tens of seconds")
    parser.add_argument("--predict", type=_horizon, metavar="DAYS",
                        help="also predict each customer's next DAYS days (BG/NBD and Gamma-Gamma): adds p_alive, "
                        "expected_purchases, expected_spend and predicted_revenue to --out and 'prediction' "
                        "(per segment, and a backtest on the last DAYS days) to --report")
    parser.add_argument("--demo-rows", type=_positive_int, default=50_000, metavar="N",
                        help="size of the demo data when no INPUT is given (default 50000)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _check_output_path(path: Path | None, suffixes: tuple[str, ...], flag: str) -> None:
    if path is None:
        return
    if path.suffix.lower() not in suffixes:
        raise ParameterError(f"{flag} {path} must end in {' or '.join(suffixes)}.",
                             hint=f"Name the file e.g. {path.stem or 'customers'}{suffixes[0]}.")
    if not path.parent.exists():
        raise ParameterError(f"{flag} {path}: folder {path.parent} does not exist.",
                             hint="Create the folder first or write somewhere else.")


class _StderrProgress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.started = time.perf_counter()

    def __call__(self, step: str, fraction: float) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            print(f"[{fraction:4.0%} {elapsed:5.1f}s] {step}", file=sys.stderr, flush=True)


def _cleaning_settings(args: argparse.Namespace) -> CleaningSettings:
    """The settings check themselves; the CLI only says which flags to change."""
    try:
        return CleaningSettings(
            rules=frozenset(set(SWITCHABLE_RULES) - set(args.keep)),
            date_from=args.date_from,
            date_to=args.date_to,
            countries_include=tuple(args.country),
            countries_exclude=tuple(args.exclude_country),
            net_returns=args.net_returns,
        )
    except ParameterError as error:
        hint = _SETTING_HINTS.get(error.parameter or "")
        if hint:
            error.hint = hint
        raise


_SETTING_HINTS = {  # the CLI's own words for the settings the core refuses
    "date_from": "Swap --from and --to.",
    "countries_exclude": "Give each country to either --country or --exclude-country.",
}


def _run(args: argparse.Namespace) -> int:
    """The run in its steps: the flags checked, the data loaded and segmented, the prediction and the
    migration asked for, the outputs rendered then written all together, the summary printed."""
    frozen = _check(args)
    progress = _StderrProgress(enabled=not args.quiet and sys.stderr.isatty())
    result, source, pair = _segment(args, frozen, progress)
    result = _with_prediction(args, result, progress)
    moved = _migration(args, result, frozen, progress, pair) if args.compare_to is not None else None
    to_save = None
    if args.save_segmentation is not None:
        to_save = result.saved_segmentation(sha256=_file_sha256(args) if frozen is None else None)
    rendered = _render(args, result, source, to_save, moved, progress)
    _write(args, result, to_save, moved, rendered)
    _print_summary(result)
    return 0


# The output flags and the endings each accepts, checked before any data is read.
OUTPUT_FLAGS = (("out", (".csv", ".xlsx")), ("report", (".json",)), ("html", (".html", ".htm")),
                ("audiences", (".zip", ".xlsx")), ("save_segmentation", (".json",)), ("migration", (".csv", ".xlsx")))


def _check(args: argparse.Namespace):
    """Everything that can be refused before any data is read: the output paths, flags that do not go
    together, the saved segmentation (returned, or None)."""
    for name, suffixes in OUTPUT_FLAGS:
        _check_output_path(getattr(args, name), suffixes, "--" + name.replace("_", "-"))
    if args.segmentation is not None and args.k is not None:
        raise ParameterError("--k cannot be used with --segmentation: K comes from the saved segmentation.",
                             hint="Leave out --k, or leave out --segmentation to fit new segments.")
    if args.migration is not None and args.compare_to is None:
        raise ParameterError("--migration needs --compare-to DATE: the date to compare the snapshot with.",
                             hint="Add e.g. --compare-to 2011-09-01.")
    if args.segmentation is None:
        return None
    from .saved import load

    return load(args.segmentation)


def _segment(args: argparse.Namespace, frozen, progress):
    """The data loaded (a file, the demo, a database table, Spark) and segmented: the result, how to
    name the source, and (Spark with --compare-to) the as-of customers fetched while Spark ran."""
    cleaning = _cleaning_settings(args)
    overrides = {role: (column or None) for role, column in args.map}
    if args.source is not None or args.engine == "spark":
        return _run_in_engine(args, overrides, cleaning, progress, frozen)
    loaded, source = _load_file(args, progress)
    from . import pipeline  # its heavy dependencies were imported by the preload thread meanwhile

    result = pipeline.run(loaded, overrides=overrides, cleaning=cleaning, snapshot=args.snapshot,
                          k=args.k or "auto", seed=args.seed, progress=progress, segmentation=frozen,
                          stability=args.stability)
    return result, source, None


def _render(args, result: pipeline.Result, source: str, to_save, moved, progress) -> dict[str, bytes]:
    """The outputs made in memory before anything is written: the report (built on every run,
    written with --report), the HTML report and the audiences when asked for."""
    report = report_of(result, source, seed=args.seed)
    report.update(_report_extras(args, result, to_save, moved))
    rendered = {"report": (json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n").encode()}
    if args.html is not None:
        from . import report_html  # Plotly only when a report is asked for

        progress("Building the HTML report", 1.0)
        rendered["html"] = report_html.render(result, source=source, seed=args.seed).encode("utf-8")
    if args.audiences is not None:
        from . import audiences

        profiles, segmented = result.segmentation.profiles, result.segmentation.customers
        rendered["audiences"] = (audiences.audiences_zip(segmented, profiles) if args.audiences.suffix.lower() == ".zip"
                                 else audiences.audiences_xlsx(segmented, profiles))
    return rendered


def _write(args, result: pipeline.Result, to_save, moved, rendered: dict[str, bytes]) -> None:
    """Every output appears at the end, or none does: a full disk (OutputError) leaves nothing behind."""
    from .export import all_or_nothing, write_atomic, write_table

    with all_or_nothing():
        if args.out is not None:
            write_table(args.out, result.customers, extra_sheets={"Segments": result.segmentation.profiles})
        if args.save_segmentation is not None:
            write_atomic(args.save_segmentation, to_save.to_json().encode("utf-8"))
        if args.migration is not None:
            from .migration import MIGRATION_COLUMNS

            write_table(args.migration, moved.customers[MIGRATION_COLUMNS], sheet_name="Migration")
        for name in ("report", "html", "audiences"):
            if getattr(args, name) is not None:
                write_atomic(getattr(args, name), rendered[name])


def _with_prediction(args, result: pipeline.Result, progress) -> pipeline.Result:
    """--predict DAYS: the result with its prediction (unless made already, in a Spark session);
    when the purchases cannot be modelled, a warning, a null `prediction` and empty columns."""
    if args.predict is None or result.predict_days is not None:
        return result
    progress(f"Predicting the next {args.predict:,} days", 0.96)
    try:
        return result.with_prediction(args.predict)
    finally:
        if args.source is not None and args.compare_to is None:  # else --compare-to closes it
            from . import sources

            sources.close_engine_of(result.prepared)


def _migration(args, result: pipeline.Result, frozen, progress, pair=None):
    """Segments as of --compare-to and as of the snapshot, under the saved segmentation (or one
    fitted as of --compare-to with --k and --seed)."""
    from . import migration

    prepared = result.prepared
    try:
        if args.compare_to >= prepared.snapshot:
            raise ParameterError(f"--compare-to {args.compare_to.isoformat()} is not before the snapshot "
                                 f"{prepared.snapshot.isoformat()}.", hint="Choose an earlier date to compare with.")
        progress(f"Comparing with {args.compare_to.isoformat()}", 0.97)
        return migration.compare(prepared.purchases, date_a=args.compare_to, date_b=prepared.snapshot,
                                 segmentation=frozen, k=args.k or "auto", seed=args.seed, roles=prepared.roles,
                                 cleaning=prepared.cleaning, pair=pair)
    finally:
        if args.source is not None:
            from . import sources

            sources.close_engine_of(prepared)


def _report_extras(args, result: pipeline.Result, to_save, moved) -> dict:
    """Report keys of saved segmentations and migration (added to the contract, never renamed)."""
    extras = {}
    if result.applied is not None:
        extras["segmentation"] = {"path": str(args.segmentation), "created": result.applied.created,
                                  "k": result.applied.k, "applied": True}
        extras["drift"] = result.drift
    elif to_save is not None:
        extras["segmentation"] = {"path": str(args.save_segmentation), "created": to_save.created,
                                  "k": to_save.k, "applied": False}
    if moved is not None:
        extras["migration"] = moved.report()
    return extras


def _file_sha256(args) -> str | None:
    """SHA-256 of the INPUT file, recorded in a saved segmentation's training block."""
    if args.input is None or args.source is not None or args.engine == "spark":
        return None
    import hashlib

    digest = hashlib.sha256()
    with Path(args.input).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_file(args: argparse.Namespace, progress: _StderrProgress) -> tuple[reading.LoadedFile, str]:
    from . import largefile

    if args.input is None:
        from . import pipeline

        progress("Generating the demo data", 0.0)
        loaded = pipeline.demo_file(args.demo_rows)
        return loaded, loaded.source_name
    path = Path(args.input)
    if not path.is_file():
        raise ParameterError(f"Input file {args.input} does not exist.", hint="Check the path and the name.")
    progress(f"Reading {path.name}", 0.0)
    # A large Parquet or CSV file is opened to be read in place by DuckDB instead of being loaded.
    return largefile.read_file_or_stream(path, sheet=args.sheet), str(path)


def _run_in_engine(args, overrides, cleaning, progress, frozen=None):
    """--source (PostgreSQL) or --engine spark: clean and aggregate where the data lives.

    Returns the result, how to name the source, and (Spark with --compare-to) the as-of customers
    fetched while the session still ran."""
    from . import pipeline, sources  # only these paths need the database and Spark clients

    options = {"overrides": overrides, "cleaning": cleaning, "snapshot": args.snapshot, "progress": progress}
    pair = predicted = None
    if args.source is not None:
        if args.input is not None or args.engine == "spark":
            raise ParameterError("--source reads from a database: give no INPUT file and no --engine spark.",
                                 hint="Use either INPUT, or --source URL --table NAME.")
        if not args.table:
            raise ParameterError("--source needs --table NAME: the table or view holding the transactions.",
                                 hint="Add e.g. --table sales.transactions.")
        # --compare-to queries the cleaned purchases again: the connection stays open until then.
        prepared = sources.prepare_postgres(args.source, args.table,
                                            keep_open=args.compare_to is not None or args.predict is not None,
                                            **options)
        shown = f"{sources.redact_url(args.source)} table {args.table}"
    else:
        if args.input is None:
            raise ParameterError("--engine spark needs INPUT: a Parquet/CSV path or a Spark table name.",
                                 hint="e.g. python -m segmentation s3a://lake/transactions/ --engine spark")
        # The session this run starts is stopped here, before the interpreter exits: its executors
        # are gone before Python (and the JVM's shutdown hooks) end, and K-Means runs without them.
        with sources.running_session(args.spark_master) as session:
            prepared = sources.prepare_spark(args.input, session=session, **options)
            if args.compare_to is not None and args.compare_to < prepared.snapshot:
                from .migration import as_of_pair

                pair = as_of_pair(prepared.purchases, args.compare_to, prepared.snapshot)
            if args.predict is not None:  # the purchases are queried while the session runs
                from .prediction import attempt

                predicted = attempt(prepared, args.predict)
        shown = str(args.input)
    result = pipeline.run_prepared(prepared, k=args.k or "auto", seed=args.seed, progress=progress,
                                   segmentation=frozen, stability=args.stability)
    if predicted is not None:
        result = result.with_prediction(args.predict, attempt=predicted)
    return result, shown, pair


def _print_summary(result: pipeline.Result) -> None:
    """The warnings on stderr, then what was found on stdout: rows, customers, K, the segments."""
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    prepared = result.prepared
    audit = prepared.audit
    print(f"{audit.rows_in:,} rows in, {audit.rows_kept:,} kept; {len(prepared.customers):,} customers; "
          f"snapshot {prepared.snapshot.isoformat()}")
    if result.applied is not None:
        print(f"K={result.k} ({result.suggestion.reason})")
    else:
        chosen = "suggested" if result.k == result.suggestion.k else f"chosen; suggested K={result.suggestion.k}"
        print(f"K={result.k} ({chosen}: {result.suggestion.reason})")
    trust = {}  # segment_id -> " [highly stable, stability 0.93]" when stability was computed
    if result.stability is not None:
        trust = {row.segment_id: f" [{row.stability_band}, stability {row.stability:.2f}]"
                 for row in result.stability.segments.itertuples() if row.stability_band}
    for row in result.segmentation.profiles.itertuples():
        print(f"  {row.segment_id}. {row.segment}: {row.customers:,} customers, "
              f"{row.revenue_share:.0%} of revenue{trust.get(row.segment_id, '')} — {row.action}")
    if result.stability is not None:
        print(f"Stability: {result.stability.resamples} bootstrap resamples of "
              f"{result.stability.sample_size:,} customers; seed agreement {result.stability.seed_agreement:.2f}")
        if not result.stability.stable_found:
            print("No stable segmentation was found: the segments are arbitrary cuts of a continuum. "
                  "Use the named RFM segments (rfm_segment column) instead.")


# Imported on a second thread while the main thread reads the input: reading (Arrow's CSV
# reader, fastexcel) and DuckDB release the GIL, so on two cores most of the ~1.5 s these
# imports take is hidden behind the read. Only third-party packages, which the reading code
# does not import, so the two threads never wait on each other's half-imported modules.
PRELOAD_MODULES = ("pandas", "ibis", "ibis.backends.duckdb", "sklearn.cluster", "sklearn.metrics",
                   "sklearn.pipeline", "sklearn.preprocessing", "threadpoolctl")


def preload(modules: tuple[str, ...] = PRELOAD_MODULES) -> threading.Thread:
    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the main thread imports it again and reports any error
                continue

    thread = threading.Thread(target=work, name="segmenter-preload", daemon=True)
    thread.start()
    return thread


def _map_hint(roles: tuple[str, ...]) -> str:
    """The CLI's words for the roles a MappingError asks to map."""
    if set(roles) == {"quantity", "price", "amount"}:
        return "Use --map quantity=COLUMN --map price=COLUMN, or --map amount=COLUMN."
    return "Use " + " ".join(f"--map {role}=COLUMN" for role in roles) + "."


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        preload()
        return _run(args)
    except SegmenterError as error:
        text = " ".join(str(error).split())  # exactly one line
        if isinstance(error, KChoiceError) and not error.hint:
            text += " Give --k a whole number of 2 or more, or --k auto for the suggested K."
        if isinstance(error, MappingError) and error.roles:
            text += " " + _map_hint(error.roles)
        print(f"error: {text}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130

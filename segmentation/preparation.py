"""An Ibis table of canonical transactions → one scored row per customer (`Prepared`).

This module owns the step every source shares: clean (with the audit), aggregate RFM features
in the engine, score them; only per-customer rows and small summaries come back. A source of
transactions (a file in memory, a large file read in place, a PostgreSQL or Spark table; see
:class:`TransactionSource`) gives the canonical table for an engine; :func:`prepare_source`
runs it through here. Nothing in this module knows which kind of source it was.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Protocol

import ibis
import pandas as pd

from . import rfm_features
from .cleaning import MONEY_SCALE, Audit, clean, flag_rows, status_note
from .engines import Engine, duckdb_engine
from .engines import connect_duckdb as connect  # the old name, kept for one release: use engines.connect_duckdb
from .errors import NoDataLeftError
from .progress import Progress, no_progress
from .scoring import add_rfm_scores
from .settings import CleaningSettings

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Progress", "Prepared", "Preview", "Canonical", "TransactionSource", "CUSTOMER_COLUMNS",
           "connect", "prepare_canonical", "arrow_canonical", "prepare_expr", "prepare_source", "no_progress",
           "customer_products", "PRODUCT_COLUMNS"]

CUSTOMER_COLUMNS = [
    "customer_id", "recency", "frequency", "monetary", "tenure", "avg_order_value",
    "first_purchase", "last_purchase", "country",
]


@dataclass(frozen=True)
class Prepared:
    customers: pd.DataFrame  # CUSTOMER_COLUMNS (+ email when mapped) + r_score, f_score, m_score, rfm_segment
    audit: Audit
    snapshot: date
    roles: dict[str, str]
    notes: tuple[str, ...]
    countries: tuple[str, ...]
    date_min: date | None
    date_max: date | None
    customer_products: pd.DataFrame = field(repr=False)
    cleaning: CleaningSettings = CleaningSettings()
    # The cleaned purchases (cleaning.Cleaned.purchases) in the engine that cleaned them, for
    # as-of queries (migration, trend). Not pickled: a copy (e.g. from a cache) has None.
    purchases: ibis.Table | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["purchases"] = None
        return state


@dataclass(frozen=True)
class Preview:
    """The first rows of a source (for column detection, the mapping and the Data page) and, when
    known, how many rows the whole source has."""

    rows: pa.Table
    total_rows: int | None

    @property
    def is_whole(self) -> bool:
        return self.total_rows is not None and self.total_rows == self.rows.num_rows

    def caption(self) -> str:
        """What the rows are, for a caption: "a preview of 2,000 rows of a table with 541,909 rows"."""
        if self.is_whole:
            return f"all {self.total_rows:,} rows"
        if self.total_rows is None:
            return f"a preview of the first {self.rows.num_rows:,} rows"
        return f"a preview of {self.rows.num_rows:,} rows of a table with {self.total_rows:,} rows"


@dataclass(frozen=True)
class Canonical:
    """A source's transactions in the canonical schema (segmentation.schema), on `engine`."""

    table: ibis.Table
    engine: Engine
    notes: tuple[str, ...] = ()
    # Notes only known once the table has been read (e.g. CSV lines the engine skipped).
    late_notes: Callable[[], tuple[str, ...]] = field(default=lambda: (), repr=False)


class TransactionSource(Protocol):
    """Where the transactions are: in memory, a large file read in place, a database or Spark table.

    `reading.LoadedFile`, `largefile.LargeFile` and `sources.EngineTable` implement it; the
    pipeline calls only these members, never asks which kind of source it has.
    """

    source_name: str
    # Whether per-product revenue is small enough to fetch by default (top products per segment).
    fetch_products: bool

    def preview(self) -> Preview: ...

    def canonical(self, roles: Mapping[str, str], *, progress: Progress = no_progress) -> Canonical: ...

    def prepare(self, roles: Mapping[str, str], *, cleaning: CleaningSettings = ..., snapshot: date | None = None,
                progress: Progress | None = None, with_products: bool | None = None) -> Prepared: ...


def _as_date(value) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def prepare_source(
    source: TransactionSource,
    roles: Mapping[str, str],
    *,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot: date | None = None,
    progress: Progress | None = None,
    with_products: bool | None = None,
) -> Prepared:
    """The canonical table of `source`, cleaned and aggregated (what every source's `prepare` does)."""
    progress = progress or no_progress
    found = source.canonical(roles, progress=progress)
    prepared = prepare_expr(found.table, roles, cleaning=cleaning, snapshot=snapshot, progress=progress,
                            notes=found.notes, engine=found.engine,
                            with_products=source.fetch_products if with_products is None else with_products)
    late = found.late_notes()
    if late:
        prepared = replace(prepared, notes=prepared.notes + late)
    return prepared


def arrow_canonical(canonical: pa.Table, *, engine: Engine | None = None) -> tuple[ibis.Table, Engine]:
    """An Arrow table in the canonical schema as an Ibis table on `engine` (default: a new DuckDB)."""
    engine = engine or duckdb_engine()
    con = engine.backend
    if engine.kind == "duckdb":
        # DuckDB scans the Arrow table in place (in parallel): copying it into a table first
        # took 0.4 s of a 1 s cleaning on the real 541,909 rows.
        con.con.register("transactions", canonical)
        return con.table("transactions"), engine
    return con.create_table("transactions", canonical, temp=True, overwrite=True), engine


def prepare_canonical(canonical: pa.Table, roles: Mapping[str, str], *, engine: Engine | None = None,
                      **options) -> Prepared:
    """Clean and aggregate an Arrow table already in the canonical schema (see docs/ARCHITECTURE.md);
    `options` as for :func:`prepare_expr`."""
    transactions, engine = arrow_canonical(canonical, engine=engine)
    return prepare_expr(transactions, roles, engine=engine, **options)


def prepare_expr(
    transactions: ibis.Table,
    roles: Mapping[str, str],
    *,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot: date | None = None,
    progress: Progress | None = None,
    notes: tuple[str, ...] = (),
    with_products: bool = True,
    engine: Engine | None = None,
) -> Prepared:
    """Clean and aggregate an Ibis table in the canonical schema, on whatever engine holds it."""
    progress = progress or no_progress
    progress("Cleaning rows", 0.3)
    cleaned, audit = clean(transactions, roles, cleaning, read_only=engine is not None and engine.read_only)
    found_statuses = status_note(audit.statuses, roles["status"]) if "status" in roles else None
    if found_statuses:
        notes = tuple(notes) + (found_statuses,)
    if audit.rows_kept == 0:
        raise NoDataLeftError(_nothing_left_message(audit), hint=_nothing_left_hint(audit))
    purchases = cleaned.purchases

    progress("Computing recency, frequency and monetary value", 0.6)
    countries, date_min, date_max, last_purchase = rfm_features.summary(purchases)
    if "country" not in roles:
        countries = ()
    if snapshot is None:
        snapshot = rfm_features.default_snapshot(last_purchase)
    rfm_features.check_snapshot(snapshot, last_purchase)
    features = rfm_features.customer_features(purchases, snapshot)
    if "country" in roles:
        main_country = rfm_features.customer_main_country(purchases)
        features = features.left_join(main_country, "customer_id").drop("customer_id_right")
    else:
        features = features.mutate(country=ibis.null("string"))
    if "email" in roles:  # carried for the audience files only: never a model feature, never charted
        features = features.left_join(rfm_features.customer_email(cleaned.kept), "customer_id").drop(
            "customer_id_right")
    customers = features.order_by("customer_id").execute()
    customers["monetary"] = (customers.pop("monetary_units").astype("float64") / MONEY_SCALE).round(6)
    customers["customer_id"] = customers["customer_id"].astype("string")
    customers["country"] = customers["country"].astype("string")
    for name in ("recency", "frequency", "tenure"):
        customers[name] = customers[name].astype("int64")
    for name in ("first_purchase", "last_purchase"):  # engines return ns or us; DuckDB on Arrow gives us
        customers[name] = customers[name].astype("datetime64[us]")
    customers["avg_order_value"] = customers["monetary"] / customers["frequency"]
    carried = ["email"] if "email" in roles else []
    if carried:
        customers["email"] = customers["email"].astype("string")
    customers = add_rfm_scores(customers[CUSTOMER_COLUMNS + carried].reset_index(drop=True))

    products = _products(cleaned.kept) if with_products and "product" in roles else _no_products()
    progress("Customers ready", 0.8)
    return Prepared(
        customers=customers,
        audit=audit,
        snapshot=snapshot,
        roles=dict(roles),
        notes=notes,
        countries=countries,
        date_min=_as_date(date_min),
        date_max=_as_date(date_max),
        customer_products=products,
        cleaning=cleaning,
        purchases=purchases,
    )


PRODUCT_COLUMNS = ["customer_id", "product", "description", "revenue"]


def _no_products() -> pd.DataFrame:
    return pd.DataFrame(columns=PRODUCT_COLUMNS)


def _products(kept: ibis.Table) -> pd.DataFrame:
    products = rfm_features.customer_products(kept).execute()
    products["revenue"] = products.pop("revenue_units").astype("float64") / MONEY_SCALE
    return products


def customer_products(source: TransactionSource, roles: Mapping[str, str], customers: pd.DataFrame, *,
                      cleaning: CleaningSettings = CleaningSettings()) -> pd.DataFrame:
    """Revenue per customer and product of the rows `cleaning` keeps (Prepared.customer_products),
    on its own: for a front end that prepared without products (``with_products=False``) and
    fetches them only where it shows them (the app's top products per segment).

    `customers` are those `source` prepared with these roles and cleaning (Prepared.customers):
    the customer-level rule already decided who is kept, so only the lines are cleaned again here
    (the rules, no purchases, no RFM), and the lines of the customers it removed are left out.
    """
    if "product" not in roles:
        return _no_products()
    cleaned = flag_rows(source.canonical(roles).table, roles, cleaning)
    lines = cleaned.lines.filter(cleaned.lines.drop_reason.isnull())
    products = _products(lines.drop("drop_reason", "rows", "duplicates", "purchase"))
    kept = products["customer_id"].isin(customers["customer_id"].to_numpy(dtype=object))
    return products[kept.to_numpy()].reset_index(drop=True)


def _nothing_left_message(audit: Audit) -> str:
    removed = [f"{row.rule} ({row.rows:,} rows)" for row in audit.table.itertuples() if row.rows > 0]
    if not removed:
        return "The file has no transaction rows."
    return f"Every one of the {audit.rows_in:,} rows was removed by cleaning: " + ", ".join(removed) + "."


def _nothing_left_hint(audit: Audit) -> str:
    dropped = set(audit.rules_that_dropped())
    if dropped & {"invalid_date", "invalid_number", "missing_customer"}:
        return "Check the column mapping: the date, number and customer columns must hold dates, numbers and ids."
    return "Relax the filters (date range, countries) or switch off the rules that removed the rows."

"""Cached computations, shared across sessions and reruns: each wrapper is one call into the core.

* reading a file — ``st.cache_resource`` keyed on the file's SHA-256 and sheet (the Arrow table is
  immutable, so sharing one object is safe and costs no copy); a database table's first rows — on a
  SHA-256 of URL and table, so the URL (and its password) is in no cache key, log or screen;
* roles, preparing (parse → clean → RFM) — ``st.cache_data`` keyed on :meth:`ui.session.Spec.key`
  (file digest, sheet, role overrides, the cleaning settings as a whole, snapshot); the parsed values
  — ``st.cache_resource`` per file and mapping, so a rule or filter change cleans again without
  parsing again (:class:`segmentation.reading.ParsedFile`);
* the K scan — keyed on the customers' content (:func:`customers_digest`) and the seed; one
  segmentation — on that plus K (a cleaning change that leaves the customers as they were reuses both);
* a file's revenue per customer × product (:func:`file_products`) and its product lines
  (:func:`product_lines`) — on the settings, computed only when top products are shown.

So changing K (or a chart option) never re-reads or re-cleans the file.

Arguments starting with ``_`` are not hashed: the key arguments before them say what they are.
``_progress`` is a :class:`ui.progress.StepLog`; it is called only when the body runs (a cache
miss) and draws nothing, since Streamlit replays whatever a cached body draws on every later hit.
No widget, no ``st.*`` element inside these functions.
"""
from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
import streamlit as st

from segmentation import columns, outlook, pipeline, prediction, preparation, reading, segments, sources
from segmentation.engines import Engine
from segmentation.model import KSuggestion
from segmentation.outlook import AliveMatrix
from segmentation.pipeline import Prepared, Progress
from segmentation.reading import LoadedFile, ParsedFile
from segmentation.segments import Segmentation
from segmentation.settings import K_SCAN_RANGE, CleaningSettings

from .session import DEMO_ROWS, DEMO_SEED

__all__ = ["read_file", "read_table", "detected_roles", "roles", "parse_file", "prepare_file", "file_products",
           "prepare_table",
           "customers_digest", "scan", "segment", "product_lines", "top_items", "customers_ahead", "segment_outlook",
           "lapsing_customers", "p_alive_matrix"]


# What a source reads for the Data page and role detection: a file's rows, or a table's first rows.
Rows = LoadedFile | sources.TableRows


@st.cache_resource(max_entries=4, show_spinner=False)
def read_file(digest: str, sheet: str | None, filename: str, _data: bytes | None, _progress: Progress) -> LoadedFile:
    """The uploaded bytes read into Arrow; no bytes: the built-in demo data."""
    if _data is None:
        _progress("Generating the demo transactions", 0.0)
        return pipeline.demo_file(DEMO_ROWS, seed=DEMO_SEED)
    _progress("Detecting the format and reading the rows", 0.0)
    return reading.read_file(_data, filename=filename, sheet=sheet)


@st.cache_resource(max_entries=4, show_spinner=False)
def read_table(digest: str, name: str, table: str, _engine: Engine, _progress: Progress) -> sources.TableRows:
    """A database table's first rows (for the Data page and role detection)."""
    _progress(f"Reading the first rows of {table}", 0.0)
    return sources.open_table(_engine, table).first_rows(name)


@st.cache_data(max_entries=16, show_spinner=False)
def detected_roles(digest: str, sheet: str | None, _loaded: Rows) -> dict[str, str]:
    return columns.detect_roles(_loaded.table)


@st.cache_data(max_entries=32, show_spinner=False)
def detected_currency(digest: str, sheet: str | None, roles: tuple, _loaded: Rows) -> str | None:
    return columns.detect_currency(_loaded.table, dict(roles))


@st.cache_data(max_entries=32, show_spinner=False)
def mapping_notes(digest: str, sheet: str | None, roles: tuple, _loaded: Rows) -> tuple[str, ...]:
    return columns.detection_notes(_loaded.table, dict(roles))


@st.cache_data(max_entries=32, show_spinner=False)
def roles(digest: str, sheet: str | None, overrides: tuple, _loaded: Rows) -> dict[str, str]:
    return columns.resolve_roles(_loaded.table, dict(overrides))


@st.cache_resource(max_entries=2, show_spinner=False)
def parse_file(digest: str, sheet: str | None, name: str, roles: tuple, _loaded: LoadedFile) -> ParsedFile:
    """The file's values parsed for these roles: a cleaning change cleans again, it does not parse again."""
    return _loaded.parse(dict(roles))


@st.cache_data(max_entries=16, show_spinner=False)
def prepare_file(key: tuple, _loaded: LoadedFile, _roles: dict, _cleaning: CleaningSettings,
                 _snapshot: date | None, _progress: Progress) -> Prepared:
    _progress("Reading values (dates, numbers, ids)", 0.1)
    digest, name, sheet = key[:3]  # Spec.key() starts with the source's digest, name and sheet
    parsed = parse_file(digest, sheet, name, tuple(sorted(_roles.items())), _loaded)
    # Without the revenue per customer × product (a third of a cleaning change on the real workbook):
    # only the Segments page's top products need it, and they fetch it (file_products).
    return pipeline.prepare(parsed, _roles, cleaning=_cleaning, snapshot=_snapshot, progress=_progress,
                            with_products=False)


@st.cache_data(max_entries=16, show_spinner=False)
def file_products(key: tuple, _loaded: LoadedFile, _roles: dict, _cleaning: CleaningSettings,
                  _customers: pd.DataFrame) -> pd.DataFrame:
    """The revenue per customer × product of :func:`prepare_file`'s customers (same ``key``), asked for
    only by the pages that show top products."""
    digest, name, sheet = key[:3]
    parsed = parse_file(digest, sheet, name, tuple(sorted(_roles.items())), _loaded)
    return preparation.customer_products(parsed, _roles, _customers, cleaning=_cleaning)


@st.cache_data(max_entries=16, show_spinner=False)
def prepare_table(key: tuple, _engine: Engine, _table: str, _roles: dict, _cleaning: CleaningSettings,
                  _snapshot: date | None, _progress: Progress) -> Prepared:
    return sources.prepare_table(sources.open_table(_engine, _table), _roles, cleaning=_cleaning, snapshot=_snapshot,
                                 progress=_progress, with_products=True)


def customers_digest(customers: pd.DataFrame) -> str:
    """SHA-256 of a customer table's content: columns, types, index and values (a few ms for 4,000 rows)."""
    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in customers.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(customers, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def scan(key: tuple, seed: int, customers: pd.DataFrame, progress: Progress) -> tuple[pd.DataFrame, KSuggestion]:
    """The K scan of these customers. Keyed on their content, not on the settings (``key``): a cleaning
    change that leaves the customers as they were (a rule whose rows another rule then removes)
    compares no K again."""
    return _scan(customers_digest(customers), seed, customers, progress)


@st.cache_data(max_entries=16, show_spinner=False)
def _scan(customers: str, seed: int, _customers: pd.DataFrame, _progress: Progress) -> tuple[pd.DataFrame, KSuggestion]:
    _progress("Fitting K-Means for K = {}–{}".format(*K_SCAN_RANGE), 0.0)
    return pipeline.scan_for(_customers, seed=seed)


def segment(key: tuple, k: int, seed: int, customers: pd.DataFrame) -> Segmentation:
    """One segmentation of these customers, keyed on their content like :func:`scan`."""
    return _segment(customers_digest(customers), k, seed, customers)


@st.cache_data(max_entries=64, show_spinner=False)
def _segment(customers: str, k: int, seed: int, _customers: pd.DataFrame) -> Segmentation:
    return segments.segment_customers(_customers, k=k, seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def product_lines(key: tuple, _customer_ids: pd.Series, _products: pd.DataFrame) -> segments.ProductLines:
    """The product lines of ``key``'s customers made once, for the top products of every K."""
    return segments.product_lines(_customer_ids, _products)


@st.cache_data(max_entries=64, show_spinner=False)
def top_items(key: tuple, k: int, seed: int, _segmented: pd.DataFrame,
              _products: pd.DataFrame | segments.ProductLines) -> pd.DataFrame:
    return segments.top_items(_segmented, _products, n=3)


# The predictions (ui/prediction.py computes them in the background): ``key`` is the segments'
# key (data settings, saved segmentation, K, seed), which also decides the prediction.
@st.cache_data(max_entries=32, show_spinner=False)
def customers_ahead(key: tuple, _segmented: pd.DataFrame, _prediction: prediction.Prediction) -> pd.DataFrame:
    return prediction.with_prediction_columns(_segmented, _prediction)


@st.cache_data(max_entries=64, show_spinner=False)
def segment_outlook(key: tuple, horizon_days: int, _segmented: pd.DataFrame,
                    _prediction: prediction.Prediction) -> pd.DataFrame:
    return prediction.segment_outlook(outlook.at_horizon(_prediction, horizon_days), _segmented)


@st.cache_data(max_entries=64, show_spinner=False)
def lapsing_customers(key: tuple, p_alive_below: float, top_value_share: float,
                      _customers: pd.DataFrame) -> pd.DataFrame:
    return outlook.lapsing_customers(_customers, p_alive_below=p_alive_below, top_value_share=top_value_share)


@st.cache_data(max_entries=16, show_spinner=False)
def p_alive_matrix(key: tuple, _prediction: prediction.Prediction) -> AliveMatrix:
    return outlook.alive_matrix(_prediction)

"""The notebook API: transactions in, customers and segments out, in two calls.

>>> import pandas as pd
>>> import segmentation
>>> sales = pd.DataFrame({
...     "customer": ["A", "A", "A", "B", "B", "C", "D", "E"],
...     "date": ["2011-11-01", "2011-11-20", "2011-12-08", "2011-10-02", "2011-12-01", "2011-06-15",
...              "2011-12-09", "2011-03-01"],
...     "amount": [50.0, 40.0, 50.0, 30.0, 15.0, 99.0, 24.0, 15.0],
... })
>>> result = segmentation.segment(sales, k=2, snapshot="2011-12-10")
>>> result.customers[["customer_id", "recency", "frequency", "monetary", "segment"]]
  customer_id  recency  frequency  monetary          segment
0           A        2          3     140.0  Loyal Customers
1           B        9          2      45.0  Loyal Customers
2           C      178          1      99.0      Hibernating
3           D        1          1      24.0      Hibernating
4           E      284          1      15.0      Hibernating
>>> segmentation.rfm(sales, snapshot="2011-12-10")["rfm_segment"].tolist()
['Loyal Customers', 'Loyal Customers', 'Hibernating', 'Potential Loyalists', 'At Risk']

The same pipeline as the CLI and the app (pipeline.run): the same cleaning rules, the same K
policy (kpolicy.decide_k), the same seeded model, so the same customers and segments.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

import pandas as pd
import pyarrow as pa

from . import columns, pipeline
from .errors import InputFileError, KChoiceError
from .preparation import TransactionSource
from .saved import SavedSegmentation
from .saved import load as load_segmentation
from .settings import DEFAULT_SEED, CleaningSettings

__all__ = ["segment", "rfm", "predict", "source_of", "load_segmentation"]


def source_of(data) -> TransactionSource:
    """`data` as a source of transactions (preparation.TransactionSource).

    A pandas DataFrame or a pyarrow Table is used in memory; a path is read like the CLI reads
    it (a large Parquet or CSV file in place); an Ibis table (DuckDB, PostgreSQL, Spark) is
    cleaned and aggregated in its own engine; a source object is used as it is.
    """
    from .reading import LoadedFile

    if isinstance(data, pd.DataFrame):
        return LoadedFile(table=pa.Table.from_pandas(data, preserve_index=False), source_name="a pandas DataFrame",
                          file_format="pandas")
    if isinstance(data, pa.Table):
        return LoadedFile(table=data, source_name="an Arrow table", file_format="arrow")
    if isinstance(data, (str, os.PathLike)):
        from .largefile import read_file_or_stream

        if not os.path.isfile(data):
            raise InputFileError(f"{os.fspath(data)} is not a file.", hint="Check the path and the name.")
        return read_file_or_stream(data)
    if hasattr(data, "preview") and hasattr(data, "prepare"):
        return data
    import ibis

    if isinstance(data, ibis.Table):
        from .sources import as_source

        return as_source(data)
    raise InputFileError(f"Cannot read transactions from a {type(data).__name__}.",
                         hint="Give a pandas DataFrame, a pyarrow Table, a file path or an Ibis table.")


def _snapshot(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, pd.Timestamp) else value
    return pd.Timestamp(value).date()


def segment(
    data,
    *,
    roles: Mapping[str, str | None] | None = None,
    k: int | str = "auto",
    snapshot: date | str | None = None,
    cleaning: CleaningSettings | None = None,
    seed: int = DEFAULT_SEED,
    segmentation: str | os.PathLike | SavedSegmentation | None = None,
    stability: bool = False,
    predict: int | None = None,
) -> pipeline.Result:
    """Segment customers from a table of transactions (RFM + K-Means).

    Parameters
    ----------
    data : pandas.DataFrame, pyarrow.Table, str or os.PathLike, or ibis.Table
        One row per transaction line. A path is read like the command line reads it (CSV, TSV,
        XLSX, Parquet; a large Parquet or CSV file in place). An Ibis table (DuckDB,
        PostgreSQL, Spark) is cleaned and aggregated inside its engine.
    roles : mapping of str to str or None, optional
        Role → column, e.g. ``{"customer": "Customer ID", "date": "InvoiceDate"}``. Roles not
        given are detected from the column names and values, as in the app; ``None`` unmaps
        a role. Roles: customer, date, quantity, price, amount, invoice, product,
        description, country, email, status, refunded, currency.
    k : int or "auto", default "auto"
        Number of segments; ``"auto"`` takes the suggested K (see ``result.suggestion``).
    snapshot : datetime.date or str, optional
        The date recency is measured to (``"2011-12-10"``); default the day after the last
        purchase.
    cleaning : CleaningSettings, optional
        Which cleaning rules run and the date and country filters; default all rules.
    seed : int, default 42
        Random seed of K-Means: the same seed gives the same segments.
    segmentation : str, os.PathLike or SavedSegmentation, optional
        A saved segmentation (``Result.save_segmentation(path)``, format
        ``segmenter.segmentation/1``) to apply instead of fitting: each customer goes to the
        nearest saved centre, R/F/M scores use the saved cut points, and ``result.drift``
        compares these customers with the ones it was fitted on. K comes from the file, so
        `k` must be left at ``"auto"``.
    stability : bool, default False
        Also check whether the segments are real (seconds to tens of seconds): K-Means refitted
        on bootstrap resamples; stability per K in ``k_scan``, a suggestion that prefers stable
        K, per-segment stability in ``segments`` and ``result.stability`` (seed check, warnings).
    predict : int, optional
        Also predict the next `predict` days (see :func:`predict`): ``result.prediction``,
        ``result.outlook`` per segment, and p_alive, expected_purchases, expected_spend and
        predicted_revenue appended to ``result.customers``. When the purchases cannot be
        modelled (e.g. no repeat buyers), ``result.prediction`` is None, those columns are empty
        and ``result.warnings`` says why.

    Returns
    -------
    pipeline.Result
        ``customers`` (one row per customer: the ``--out`` columns), ``segments`` (one row per
        segment), ``audit`` (where every row went), ``k_scan``, ``suggestion``, ``snapshot``,
        and ``model``, the fitted scikit-learn Pipeline whose ``predict`` maps rows with
        recency, frequency and monetary columns to segment ids.

    Raises
    ------
    SegmenterError
        A typed error (errors.py) saying what is wrong and how to fix it: a column missing
        (MappingError), nothing left after cleaning (NoDataLeftError), an impossible K
        (KChoiceError), an unreadable file (InputFileError), a database failure (SourceError).

    Examples
    --------
    Five customers' purchases (customer, date, amount: the roles are found from the names):

    >>> sales = pd.DataFrame({"customer": list("AAABBCDE"), "amount": [50, 40, 50, 30, 15, 99, 24, 15.0],
    ...                       "date": pd.to_datetime(["2011-11-01", "2011-11-20", "2011-12-08", "2011-10-02",
    ...                                               "2011-12-01", "2011-06-15", "2011-12-09", "2011-03-01"])})
    >>> result = segment(sales, k=2, snapshot="2011-12-10")
    >>> result.segments[["segment", "customers", "revenue_share"]].round(2)
               segment  customers  revenue_share
    0  Loyal Customers          2           0.57
    1      Hibernating          3           0.43
    >>> new_customers = pd.DataFrame({"recency": [1, 200], "frequency": [3, 1], "monetary": [150.0, 15.0]})
    >>> result.model.predict(new_customers).tolist()
    [1, 2]
    """
    frozen = segmentation
    if frozen is not None and not isinstance(frozen, SavedSegmentation):
        frozen = load_segmentation(frozen)
    if frozen is not None and k != "auto":
        raise KChoiceError(f"K={k} was asked for, but K comes from the saved segmentation (K={frozen.k}).",
                           hint="Leave k out to apply the saved segmentation, or leave the segmentation out to fit.")
    if predict is not None:
        from .prediction import check_horizon

        check_horizon(predict)  # before any data is read
    result = pipeline.run(source_of(data), overrides=roles, cleaning=cleaning or CleaningSettings(),
                          snapshot=_snapshot(snapshot), k=k, seed=seed, segmentation=frozen,
                          stability=stability)
    return result if predict is None else result.with_prediction(predict)


def rfm(
    data,
    *,
    roles: Mapping[str, str | None] | None = None,
    snapshot: date | str | None = None,
    cleaning: CleaningSettings | None = None,
) -> pd.DataFrame:
    """One row per customer with recency, frequency, monetary value and RFM scores.

    Like ``pymc_marketing.clv.utils.rfm_summary``: explicit columns (`roles`), an explicit end
    date (`snapshot`), a new frame out; the input is never changed.

    Parameters
    ----------
    data, roles, cleaning
        As for :func:`segment`.
    snapshot : datetime.date or str, optional
        The date recency is measured to; default the day after the last purchase.

    Returns
    -------
    pandas.DataFrame
        Columns customer_id, recency (days since the last purchase), frequency (purchases),
        monetary (revenue), tenure (days since the first purchase), avg_order_value,
        first_purchase, last_purchase, country, r_score, f_score, m_score, rfm_segment;
        sorted by customer_id. The audit is on ``frame.attrs``: ``snapshot`` (ISO date),
        ``rows_in``, ``rows_kept`` and ``dropped`` (rule → rows removed), plain values only.

    Examples
    --------
    >>> sales = pd.DataFrame({"Customer ID": ["A", "A", "B"], "InvoiceDate": ["2011-12-01", "2011-12-08", "2011-06-15"],
    ...                       "Quantity": [2, 1, 3], "Price": [10.0, 5.5, 4.0]})
    >>> customers = rfm(sales, snapshot="2011-12-10")
    >>> customers[["customer_id", "recency", "frequency", "monetary"]]
      customer_id  recency  frequency  monetary
    0           A        2          2      25.5
    1           B      178          1      12.0
    >>> customers.attrs["rows_in"], customers.attrs["rows_kept"]
    (3, 3)
    """
    source = source_of(data)
    found = columns.resolve_roles(source.preview().rows, roles)
    prepared = pipeline.prepare(source, found, cleaning=cleaning or CleaningSettings(),
                                snapshot=_snapshot(snapshot), with_products=False)
    customers = prepared.customers.copy()
    customers.attrs = {
        "snapshot": prepared.snapshot.isoformat(),
        "rows_in": int(prepared.audit.rows_in),
        "rows_kept": int(prepared.audit.rows_kept),
        "dropped": {rule: int(rows) for rule, rows in prepared.audit.dropped.items()},
    }
    return customers


def predict(
    data,
    *,
    horizon_days: int = 90,
    roles: Mapping[str, str | None] | None = None,
    snapshot: date | str | None = None,
    cleaning: CleaningSettings | None = None,
    backtest: bool = True,
):
    """What each customer is worth next: BG/NBD and Gamma-Gamma fitted by maximum likelihood.

    Parameters
    ----------
    data, roles, cleaning
        As for :func:`segment`.
    horizon_days : int, default 90
        Predict the next `horizon_days` days after the snapshot (1 to 3,650).
    snapshot : datetime.date or str, optional
        The first day not observed; default the day after the last purchase.
    backtest : bool, default True
        Also fit on the purchases before snapshot − horizon_days and compare the predictions for
        the horizon that follows with what happened (``prediction.backtest``).

    Returns
    -------
    prediction.Prediction
        ``customers``: one row per customer with customer_id, repeat_purchases (x: purchase
        days after the first), t_x and T (days), mean_spend (per repeat purchase day), p_alive,
        expected_purchases, expected_spend and predicted_revenue (next `horizon_days`);
        ``bgnbd`` (r, alpha per day, a, b, log_likelihood), ``gamma_gamma`` (p, q, gamma; None
        with a warning when spend cannot be modelled), ``backtest`` (None with ``note`` when
        the data is too short), ``warnings``.

    Raises
    ------
    PredictionError
        The purchases cannot be modelled: too few repeat buyers, a fit that does not converge.
    SegmenterError
        As for :func:`segment` (columns, cleaning, snapshot, horizon out of range).
    """
    from .prediction import check_horizon, predict_prepared

    horizon_days = check_horizon(horizon_days)
    source = source_of(data)
    found = columns.resolve_roles(source.preview().rows, roles)
    prepared = pipeline.prepare(source, found, cleaning=cleaning or CleaningSettings(),
                                snapshot=_snapshot(snapshot), with_products=False)
    return predict_prepared(prepared, horizon_days, backtest=backtest)

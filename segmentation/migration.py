"""Who moved: customers' segments at two dates A < B under one frozen segmentation.

RFM as of a date D uses only the purchases before D (recency measured to D), with the same
cleaning as the single run: it is computed from the cleaned purchases (`cleaning.Cleaned.purchases`)
where they live (DuckDB, PostgreSQL, Spark), in one grouped query that returns one row per
customer with their R, F, M at A and at B and the revenue they brought in [A, B). A purchase
counts from its last timestamp. Customers with no purchase before A are "New" at A.

Both dates are assigned with one `saved.SavedSegmentation`: a loaded one, or one fitted on the
customers as of A. The trend (segment sizes at each month end) is one grouped query too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from .cleaning import MONEY_SCALE
from .engines import connect_duckdb
from .errors import NoDataLeftError, ParameterError
from .pipeline import RunSequence
from .rfm_features import days_from
from .saved import SavedSegmentation, from_segmentation
from .scoring import add_rfm_scores
from .settings import DEFAULT_SEED, CleaningSettings

__all__ = [
    "NEW",
    "PRESET_DAYS",
    "TREND_POINTS",
    "MIGRATION_COLUMNS",
    "Migration",
    "customer_purchases",
    "kept_purchases",
    "purchases_from_arrow",
    "as_of_pair",
    "customers_as_of",
    "fit_as_of",
    "compare",
    "trend",
    "trend_dates",
]

NEW = "New"  # the "from" of customers who had not bought before A
PRESET_DAYS = (30, 90, 180, 365)  # A = B - days
DEFAULT_DAYS = 90
TREND_POINTS = 24
# The --migration file's columns (a contract, like --out): New customers have empty A columns.
MIGRATION_COLUMNS = ["customer_id", "segment_id_a", "segment_a", "segment_id_b", "segment_b", "revenue_between"]
# Also in Migration.customers: R/F/M at both dates and the named RFM segment (R×F score map) at
# both dates, scored with the cut points frozen in the segmentation (at A when fitted there).
EXTRA_COLUMNS = ["recency_a", "frequency_a", "monetary_a", "rfm_segment_a", "recency_b", "frequency_b",
                 "monetary_b", "rfm_segment_b"]
MATRIX_COLUMNS = ["from_id", "from", "to_id", "to", "customers", "row_share", "revenue"]
SIZE_COLUMNS = ["segment_id", "segment", "size_a", "size_b", "moved_in", "new", "moved_out", "net"]


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def customer_purchases(purchases: ir.Table) -> ir.Table:
    """Kept purchases, one row per (customer, purchase): money in units, whether it had a
    line with revenue (frequency counts those), first and last timestamp."""
    kept = purchases.filter(purchases.drop_reason.isnull())
    return kept.group_by(["customer_id", "purchase"]).agg(
        units=kept.units.sum().cast("int64"),
        positive=kept.positive_lines.sum() > 0,
        first_date=kept.first_date.min(),
        last_date=kept.last_date.max(),
    )


def kept_purchases(purchases: ir.Table) -> pa.Table:
    """The kept purchases as an Arrow table (a fraction of the rows): what a cache keeps to run
    migrations later without cleaning again (see `purchases_from_arrow`)."""
    return purchases.filter(purchases.drop_reason.isnull()).to_pyarrow()


def purchases_from_arrow(table: pa.Table) -> ir.Table:
    """`kept_purchases` back as an Ibis table on a fresh DuckDB, for `compare` and `trend`."""
    con = connect_duckdb()
    con.con.register("purchases", table)
    return con.table("purchases")


def as_of_pair(purchases: ir.Table, date_a: date, date_b: date) -> pd.DataFrame:
    """One row per customer with a kept purchase before B: last/first purchase, recency and tenure
    (days to A, to B), frequency and money (units) before A and before B, and money in [A, B).
    One query on the engine."""
    cp = customer_purchases(purchases)
    rows = cp.filter(cp.last_date < _start_of(date_b))
    before_a = rows.last_date < _start_of(date_a)
    between = ~before_a
    last_a, first_a = rows.last_date.max(where=before_a), rows.first_date.min(where=before_a)
    last_b, first_b = rows.last_date.max(), rows.first_date.min()
    return rows.group_by("customer_id").agg(
        last_a=last_a,
        first_a=first_a,
        recency_a=days_from(last_a, date_a),
        tenure_a=days_from(first_a, date_a),
        frequency_a=rows.count(where=before_a & rows.positive),
        units_a=rows.units.sum(where=before_a),
        last_b=last_b,
        first_b=first_b,
        recency_b=days_from(last_b, date_b),
        tenure_b=days_from(first_b, date_b),
        frequency_b=rows.count(where=rows.positive),
        units_b=rows.units.sum(),
        units_between=rows.units.sum(where=between),
    ).order_by("customer_id").execute()


def _customers(pair: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """The customer table as of date A or B (`suffix` "a" or "b"; the columns `pipeline.prepare`
    gives, without country), for customers whose kept money before that date is positive."""
    units = pair[f"units_{suffix}"]
    present = units.notna() & (units > 0)
    part = pair.loc[present]
    customers = pd.DataFrame({
        "customer_id": part["customer_id"].astype("string"),
        "recency": part[f"recency_{suffix}"].astype("int64"),
        "frequency": part[f"frequency_{suffix}"].astype("int64"),
        "monetary": (part[f"units_{suffix}"].astype("float64") / MONEY_SCALE).round(6),
        "tenure": part[f"tenure_{suffix}"].astype("int64"),
        "first_purchase": pd.to_datetime(part[f"first_{suffix}"]),
        "last_purchase": pd.to_datetime(part[f"last_{suffix}"]),
    })
    customers["avg_order_value"] = customers["monetary"] / customers["frequency"].where(customers["frequency"] > 0)
    return customers.reset_index(drop=True)


def customers_as_of(purchases: ir.Table, day: date) -> pd.DataFrame:
    """Scored customers as of `day`: RFM from the purchases before that day (recency to it)."""
    pair = as_of_pair(purchases, day, day)
    return add_rfm_scores(_customers(pair, "b"))


def fit_as_of(customers_a: pd.DataFrame, date_a: date, *, k: int | str = "auto", seed: int = DEFAULT_SEED,
              roles: dict | None = None, cleaning: CleaningSettings | None = None) -> SavedSegmentation:
    """A segmentation fitted on the customers as of A (K as asked, 'auto' = suggested), frozen."""
    if customers_a.empty:
        raise NoDataLeftError(f"No customer bought before {date_a.isoformat()}, so there is nothing to fit there.",
                              hint="Choose a later first date.")
    scored = add_rfm_scores(customers_a) if "r_score" not in customers_a else customers_a
    # The one run sequence (pipeline.RunSequence): a K asked for needs no K scan; one above the
    # distinct profiles fits as many segments as there are (its warning is not the Changes page's).
    sequence = RunSequence(scored, seed=seed)
    segmentation, _ = sequence.fit(sequence.decide(k))
    return from_segmentation(segmentation, snapshot=date_a, seed=seed, roles=roles, cleaning=cleaning)


@dataclass(frozen=True)
class Migration:
    """Segments at A and B under one frozen segmentation, and who moved."""

    date_a: date
    date_b: date
    segmentation: SavedSegmentation
    fitted_at_a: bool  # True: fitted on the customers as of A; False: a saved one was given
    customers: pd.DataFrame  # MIGRATION_COLUMNS + R/F/M at A and B
    matrix: pd.DataFrame  # MATRIX_COLUMNS, one row per non-empty flow; from_id 0 = New
    sizes: pd.DataFrame  # SIZE_COLUMNS, one row per segment

    @property
    def new_customers(self) -> int:
        return int(self.customers["segment_id_a"].isna().sum())

    @property
    def customers_a(self) -> int:
        return int(self.customers["segment_id_a"].notna().sum())

    def flow(self, source: str, target: str) -> pd.DataFrame:
        """The customers who moved from segment `source` (or NEW) to `target`, most revenue first."""
        moved = self.customers
        from_a = moved["segment_a"].isna() if source == NEW else moved["segment_a"] == source
        chosen = moved[from_a.fillna(False) & (moved["segment_b"] == target)]
        return chosen.sort_values(["revenue_between", "customer_id"], ascending=[False, True]).reset_index(drop=True)

    def rfm_matrix(self) -> pd.DataFrame:
        """Customers from each named RFM segment at A (New for new customers) to each at B."""
        source = self.customers["rfm_segment_a"].astype("object").fillna(NEW)
        return pd.crosstab(source.rename("from"), self.customers["rfm_segment_b"].rename("to"))

    def report(self) -> dict:
        """The report's `migration` key."""
        return {
            "date_a": self.date_a.isoformat(),
            "date_b": self.date_b.isoformat(),
            "fitted_at_a": self.fitted_at_a,
            "customers_a": self.customers_a,
            "customers_b": len(self.customers),
            "new_customers": self.new_customers,
            "revenue_between": round(float(self.customers["revenue_between"].sum()), 2),
            "matrix": [
                {"from": row["from"], "to": row["to"], "customers": int(row["customers"]),
                 "revenue": round(float(row["revenue"]), 2), "from_id": int(row["from_id"]),
                 "to_id": int(row["to_id"]), "row_share": float(row["row_share"])}
                for row in self.matrix.to_dict(orient="records")
            ],
            "sizes": [{key: (int(value) if key != "segment" else value) for key, value in row.items()}
                      for row in self.sizes.to_dict(orient="records")],
        }


def compare(
    purchases: ir.Table,
    *,
    date_a: date,
    date_b: date,
    segmentation: SavedSegmentation | None = None,
    k: int | str = "auto",
    seed: int = DEFAULT_SEED,
    roles: dict | None = None,
    cleaning: CleaningSettings | None = None,
    pair: pd.DataFrame | None = None,
) -> Migration:
    """Segments as of A and as of B (purchases before each date) under one frozen segmentation:
    `segmentation`, or one fitted on the customers as of A with `k` and `seed`. `pair` is
    `as_of_pair(purchases, date_a, date_b)` when it was already fetched (then `purchases` is not read),
    e.g. before the engine holding the purchases was stopped."""
    if not date_a < date_b:
        raise ParameterError(f"The first date {date_a.isoformat()} must be before the second, {date_b.isoformat()}.",
                             hint="Swap the dates or choose an earlier first date.")
    if pair is None:
        pair = as_of_pair(purchases, date_a, date_b)
    at_a = _customers(pair, "a")
    at_b = _customers(pair, "b")
    if at_b.empty:
        raise NoDataLeftError(f"No customer bought before {date_b.isoformat()}.", hint="Choose later dates.")
    fitted = segmentation is None
    if fitted:
        segmentation = fit_as_of(at_a, date_a, k=k, seed=seed, roles=roles, cleaning=cleaning)
    applied_a, _ = segmentation.apply(at_a)
    applied_b, _ = segmentation.apply(at_b)
    names = segmentation.names()

    kept = ["customer_id", "recency", "frequency", "monetary", "segment_id", "rfm_segment"]
    a = applied_a.customers[kept].rename(columns={name: f"{name}_a" for name in kept[1:]})
    b = applied_b.customers[kept].rename(columns={name: f"{name}_b" for name in kept[1:]})
    between = pd.DataFrame({"customer_id": pair["customer_id"].astype("string"),
                            "revenue_between": (pair["units_between"].fillna(0).astype("float64")
                                                / MONEY_SCALE).round(6)})
    moved = b.merge(a, on="customer_id", how="left").merge(between, on="customer_id", how="left")
    moved["segment_id_a"] = moved["segment_id_a"].astype("Int64")
    moved["segment_a"] = moved["segment_id_a"].map(names).astype("string")
    moved["segment_b"] = moved["segment_id_b"].map(names).astype("string")
    moved["revenue_between"] = moved["revenue_between"].fillna(0.0)
    moved = moved[MIGRATION_COLUMNS + EXTRA_COLUMNS].sort_values("customer_id").reset_index(drop=True)
    return Migration(date_a=date_a, date_b=date_b, segmentation=segmentation, fitted_at_a=fitted,
                     customers=moved, matrix=_matrix(moved, names), sizes=_sizes(moved, names))


def _matrix(moved: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    from_id = moved["segment_id_a"].fillna(0).astype("int64")
    flows = (moved.assign(from_id=from_id, to_id=moved["segment_id_b"].astype("int64"))
             .groupby(["from_id", "to_id"], as_index=False)
             .agg(customers=("customer_id", "size"), revenue=("revenue_between", "sum")))
    flows["row_share"] = flows["customers"] / flows.groupby("from_id")["customers"].transform("sum")
    flows["from"] = flows["from_id"].map({0: NEW, **names})
    flows["to"] = flows["to_id"].map(names)
    flows["revenue"] = flows["revenue"].round(2)
    return flows[MATRIX_COLUMNS].sort_values(["from_id", "to_id"]).reset_index(drop=True)


def _sizes(moved: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    a = moved["segment_id_a"]
    b = moved["segment_id_b"]
    rows = []
    for segment_id, name in sorted(names.items()):
        in_a = (a == segment_id).fillna(False)
        in_b = b == segment_id
        rows.append({
            "segment_id": segment_id,
            "segment": name,
            "size_a": int(in_a.sum()),
            "size_b": int(in_b.sum()),
            "moved_in": int((in_b & ~in_a).sum()),
            "new": int((in_b & a.isna()).sum()),
            "moved_out": int((in_a & ~in_b).sum()),
            "net": int(in_b.sum() - in_a.sum()),
        })
    return pd.DataFrame(rows, columns=SIZE_COLUMNS)


def trend_dates(first_purchase: date, snapshot: date, *, points: int = TREND_POINTS) -> list[date]:
    """Month ends (the last `points` of them) from the first purchase's month to the last month
    that ended before the snapshot; a month end M is measured as of the next day."""
    ends = []
    month = date(first_purchase.year, first_purchase.month, 1)
    while True:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if following > snapshot:
            break
        ends.append(following - timedelta(days=1))
        month = following
    return ends[-points:]


def trend(purchases: ir.Table, segmentation: SavedSegmentation, month_ends: list[date]) -> pd.DataFrame:
    """Customers per segment at each month end (as of the next day), under one frozen
    segmentation: one grouped query over the cleaned purchases, assignment by the engine.

    Columns: month_end (date), segment_id, segment, customers; every segment at every point."""
    columns = ["month_end", "segment_id", "segment", "customers"]
    if not month_ends:
        return pd.DataFrame(columns=columns)
    cp = customer_purchases(purchases)
    cuts = ibis.memtable({"cut": [_start_of(day + timedelta(days=1)) for day in month_ends]})
    rows = cp.cross_join(cuts)
    rows = rows.filter(rows.last_date < rows.cut)
    per_customer = rows.group_by(["cut", "customer_id"]).agg(
        last=rows.last_date.max(), frequency=rows.count(where=rows.positive), units=rows.units.sum())
    features = per_customer.filter(per_customer.units > 0).mutate(
        recency=days_from(per_customer["last"], per_customer.cut),
        monetary=per_customer.units.cast("float64") / MONEY_SCALE)
    assigned = features.mutate(segment_id=segmentation.assignment_expr(features))
    counts = assigned.group_by(["cut", "segment_id"]).agg(customers=assigned.count()).execute()
    counts["month_end"] = (pd.to_datetime(counts["cut"]) - pd.Timedelta(days=1)).dt.date
    grid = pd.MultiIndex.from_product([month_ends, sorted(segmentation.names())], names=["month_end", "segment_id"])
    table = (counts.set_index(["month_end", "segment_id"])["customers"].reindex(grid, fill_value=0)
             .astype("int64").reset_index())
    table["segment"] = table["segment_id"].map(segmentation.names())
    return table[columns]

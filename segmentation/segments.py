"""Segments for one K: numbered by value, named, with a suggested action and a profile."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from sklearn.pipeline import Pipeline

from .model import FEATURES, fit_model
from .settings import DEFAULT_SEED, RFM_SEGMENT_ACTIONS, SEGMENT_MAP

__all__ = ["Segmentation", "segment_customers", "name_segments", "profile_segments", "top_items"]

SPEND_QUALIFIERS = {2: ("high spend", "low spend"), 3: ("high spend", "mid spend", "low spend")}
PROFILE_COLUMNS = [
    "segment_id", "segment", "action", "customers", "share", "revenue", "revenue_share",
    "recency_mean", "recency_median", "frequency_mean", "frequency_median",
    "monetary_mean", "monetary_median", "rfm_segment_top",
]


@dataclass(frozen=True)
class Segmentation:
    k: int
    customers: pd.DataFrame  # input columns + segment_id, segment, action
    profiles: pd.DataFrame  # one row per segment, PROFILE_COLUMNS
    model: Pipeline | None = field(default=None, repr=False)  # fitted log1p → StandardScaler → KMeans
    segment_of_cluster: tuple[int, ...] = ()  # KMeans cluster label i → segment_id


def _number_by_value(customers: pd.DataFrame, clusters: pd.Series) -> pd.Series:
    """Segment ids 1..k, 1 = highest mean monetary (ties: larger segment first)."""
    stats = customers.groupby(clusters)["monetary"].agg(["mean", "size"])
    order = stats.sort_values(["mean", "size"], ascending=[False, False], kind="stable").index
    return clusters.map({cluster: number for number, cluster in enumerate(order, start=1)}).astype("int64")


def _top_rfm_segment(rfm_segments: pd.Series) -> str:
    counts = rfm_segments.value_counts()
    best = counts.max()
    # Ties go to the segment listed first in SEGMENT_MAP, so naming never depends on row order.
    for name, _, _ in SEGMENT_MAP:
        if counts.get(name, 0) == best:
            return name
    return str(counts.index[0])


def name_segments(customers: pd.DataFrame) -> pd.DataFrame:
    """One row per segment_id: base name (most common RFM segment), unique name, action."""
    by_segment = customers.groupby("segment_id")
    names = pd.DataFrame(
        {
            "rfm_segment_top": by_segment["rfm_segment"].agg(_top_rfm_segment),
            "monetary_mean": by_segment["monetary"].mean(),
        }
    ).reset_index()
    unique_names = {}
    for base, group in names.groupby("rfm_segment_top", sort=False):
        ordered = group.sort_values("monetary_mean", ascending=False)["segment_id"].tolist()
        if len(ordered) == 1:
            unique_names[ordered[0]] = base
            continue
        qualifiers = SPEND_QUALIFIERS.get(len(ordered)) or tuple(
            f"spend tier {rank}" for rank in range(1, len(ordered) + 1))
        for segment_id, qualifier in zip(ordered, qualifiers):
            unique_names[segment_id] = f"{base} · {qualifier}"
    names["segment"] = names["segment_id"].map(unique_names)
    names["action"] = names["rfm_segment_top"].map(RFM_SEGMENT_ACTIONS)
    return names[["segment_id", "segment", "action", "rfm_segment_top"]]


def profile_segments(customers: pd.DataFrame) -> pd.DataFrame:
    """Size, revenue and R/F/M means and medians per segment; `customers` has segment columns."""
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    grouped = customers.groupby(["segment_id", "segment", "action"], sort=True)
    profile = grouped.agg(
        customers=("customer_id", "size"),
        revenue=("monetary", "sum"),
        recency_mean=("recency", "mean"),
        recency_median=("recency", "median"),
        frequency_mean=("frequency", "mean"),
        frequency_median=("frequency", "median"),
        monetary_mean=("monetary", "mean"),
        monetary_median=("monetary", "median"),
        rfm_segment_top=("rfm_segment", _top_rfm_segment),
    ).reset_index()
    profile["share"] = profile["customers"] / total_customers if total_customers else 0.0
    profile["revenue_share"] = profile["revenue"] / total_revenue if total_revenue else 0.0
    profile["revenue"] = profile["revenue"].round(2)
    return profile[PROFILE_COLUMNS]


def segment_customers(customers: pd.DataFrame, *, k: int, seed: int = DEFAULT_SEED,
                      features: Sequence[str] = FEATURES) -> Segmentation:
    """Cluster customers into k segments and describe each one."""
    model, clusters = fit_model(customers, k=k, seed=seed, features=features)
    segmented = customers.copy()
    segmented["segment_id"] = _number_by_value(customers, clusters)
    pairs = dict(zip(clusters, segmented["segment_id"]))
    segment_of_cluster = tuple(int(pairs.get(c, 0)) for c in range(model[-1].n_clusters))  # 0: an empty cluster
    names = name_segments(segmented)
    segmented = segmented.merge(names[["segment_id", "segment", "action"]], on="segment_id", how="left")
    segmented.index = customers.index
    profiles = profile_segments(segmented)
    return Segmentation(k=int(segmented["segment_id"].nunique()), customers=segmented, profiles=profiles,
                        model=model, segment_of_cluster=segment_of_cluster)


def top_items(segmented: pd.DataFrame, customer_products: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The n products with the most revenue in each segment."""
    columns = ["segment_id", "product", "description", "revenue"]
    if customer_products.empty:
        return pd.DataFrame(columns=columns)
    lines = customer_products.merge(segmented[["customer_id", "segment_id"]], on="customer_id")
    totals = (
        lines.groupby(["segment_id", "product"], as_index=False)
        .agg(description=("description", "first"), revenue=("revenue", "sum"))
        .sort_values(["segment_id", "revenue", "product"], ascending=[True, False, True])
    )
    return totals.groupby("segment_id").head(n).reset_index(drop=True)[columns]

"""Segments for one K: numbered by value, named, with a suggested action and a profile; and the
numbers that describe them (top countries, crosstab with the RFM map, relative means, the knee of
the K scan) that the charts draw."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .model import FEATURES, elbow_k, fit_model
from .settings import DEFAULT_SEED, RFM_SEGMENT_ACTIONS, SEGMENT_MAP
from .stability import customer_margins

__all__ = [
    "CUSTOMER_FEATURES",
    "Segmentation",
    "segment_customers",
    "name_segments",
    "profile_segments",
    "top_items",
    "top_countries",
    "segment_crosstab",
    "relative_means",
    "standardised_means",
    "knee_k",
]

# Customer columns a segment's description covers, in display order (charts show the same).
CUSTOMER_FEATURES: tuple[str, ...] = ("recency", "frequency", "monetary", "tenure", "avg_order_value")
SPEND_QUALIFIERS = {2: ("high spend", "low spend"), 3: ("high spend", "mid spend", "low spend")}
PROFILE_COLUMNS = [
    "segment_id", "segment", "action", "customers", "share", "revenue", "revenue_share",
    "recency_mean", "recency_median", "frequency_mean", "frequency_median",
    "monetary_mean", "monetary_median", "rfm_segment_top",
]


@dataclass(frozen=True)
class Segmentation:
    k: int
    customers: pd.DataFrame  # input columns + segment_id, segment, action, margin, borderline
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
    # How clearly each customer belongs: distance to the next segment's centre minus to its own.
    segmented = segmented.join(customer_margins(segmented, model=model, features=features))
    profiles = profile_segments(segmented)
    return Segmentation(k=int(segmented["segment_id"].nunique()), customers=segmented, profiles=profiles,
                        model=model, segment_of_cluster=segment_of_cluster)


def top_items(segmented: pd.DataFrame, customer_products: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The n products with the most revenue in each segment."""
    columns = ["segment_id", "product", "description", "revenue"]
    if customer_products.empty:
        return pd.DataFrame(columns=columns)
    # The lines of segmented customers, in their order (as an inner merge on customer_id), then sums
    # per segment × product on integer codes (sorted like the product text): grouping on the text
    # itself was most of a K change's server time (270k lines on the real data). The description
    # is the first non-blank one of the product's lines in the segment, as groupby's "first".
    position = pd.Index(segmented["customer_id"]).get_indexer(customer_products["customer_id"])
    found = position >= 0
    lines = customer_products[found]
    codes, _ = pd.factorize(lines["product"], sort=True)
    segment_ids = segmented["segment_id"].to_numpy().astype("int64")[position[found]]
    frame = pd.DataFrame({"segment_id": segment_ids, "code": codes,
                          "revenue": lines["revenue"].to_numpy(), "row": np.arange(len(lines))})
    frame = frame[frame["code"] >= 0]  # a line without a product is in no product's total
    totals = (frame.groupby(["segment_id", "code"], as_index=False)
              .agg(revenue=("revenue", "sum"), row=("row", "min"))
              .sort_values(["segment_id", "revenue", "code"], ascending=[True, False, True]))
    top = totals.groupby("segment_id").head(n)
    described = frame[lines["description"].notna().to_numpy()[frame["row"].to_numpy()]]
    first_described = described.groupby(["segment_id", "code"])["row"].min()
    rows = first_described.reindex(pd.MultiIndex.from_frame(top[["segment_id", "code"]]))
    description = lines["description"].iloc[rows.fillna(0).astype("int64").to_numpy()].to_numpy(copy=True)
    description[rows.isna().to_numpy()] = None
    result = pd.DataFrame({
        "segment_id": top["segment_id"].to_numpy(),
        "product": lines["product"].iloc[top["row"].to_numpy()].to_numpy(),
        "description": pd.array(description, dtype=lines["description"].dtype),
        "revenue": top["revenue"].to_numpy(),
    })
    result["product"] = result["product"].astype(lines["product"].dtype)
    return result[columns]


# ----------------------------------------------------------------------------- describing segments

def require_frame(df: object, name: str, columns: Sequence[str], *, allow_empty: bool = False) -> pd.DataFrame:
    """`df` itself if it is a DataFrame with these columns (and rows, unless allow_empty); else ValueError."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns))
        raise ValueError(f"{name} has no column {', '.join(map(repr, missing))} (has: {have}).")
    if not allow_empty and df.empty:
        raise ValueError(f"{name} is empty: there is nothing to describe or draw.")
    return df


def knee_k(scan: pd.DataFrame) -> int:
    """The K at the knee (elbow) of the inertia curve — the same rule ``model.suggest_k`` votes with."""
    require_frame(scan, "scan", ("k", "inertia"))
    return int(elbow_k(scan.sort_values("k").reset_index(drop=True)))


def relative_means(customers: pd.DataFrame, features: Sequence[str] = CUSTOMER_FEATURES) -> pd.DataFrame:
    """Each segment's mean of each feature relative to the population mean (0.25 = 25 % above).

    Indexed by segment_id (ascending), with a ``segment`` column and one column per feature.
    A feature whose population mean is 0 gets 0 for every segment (no meaningful ratio).
    """
    features = [f for f in features if f in customers.columns]
    require_frame(customers, "customers", ("segment_id", "segment"))
    if not features:
        raise ValueError(f"customers has none of the features {', '.join(CUSTOMER_FEATURES)}.")
    population = customers[features].astype(float).mean()
    means = customers.groupby("segment_id")[features].mean().astype(float).sort_index()
    relative = means.divide(population.replace(0.0, np.nan)).sub(1.0).fillna(0.0)
    names = customers.drop_duplicates("segment_id").set_index("segment_id")["segment"]
    relative.insert(0, "segment", names.reindex(relative.index).astype(str))
    return relative


def standardised_means(customers: pd.DataFrame, features: Sequence[str] = ("recency", "frequency", "monetary"),
                       *, log: bool = True) -> pd.DataFrame:
    """Mean z-score of each feature per segment (after log1p when ``log``, as the model sees it)."""
    require_frame(customers, "customers", ("segment_id", "segment") + tuple(features))
    values = customers[list(features)].astype(float)
    if log:
        values = np.log1p(values.clip(lower=0))
    std = values.std(ddof=0).replace(0.0, np.nan)
    z = values.sub(values.mean()).divide(std).fillna(0.0)
    z["segment_id"] = customers["segment_id"].to_numpy()
    means = z.groupby("segment_id")[list(features)].mean().sort_index()
    names = customers.drop_duplicates("segment_id").set_index("segment_id")["segment"]
    means.insert(0, "segment", names.reindex(means.index).astype(str))
    return means


def segment_crosstab(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers per (segment, named RFM segment): rows by segment_id, columns in SEGMENT_MAP order.

    Every named RFM segment of the map is a column (zeros included); names not in the map
    (should not happen) are appended at the end.
    """
    require_frame(customers, "customers", ("segment_id", "segment", "rfm_segment"))
    table = pd.crosstab(customers["segment_id"], customers["rfm_segment"])
    order = [name for name, _, _ in SEGMENT_MAP]
    extra = sorted(c for c in table.columns if c not in order)
    table = table.reindex(columns=order + extra, fill_value=0).sort_index()
    table.columns.name = "rfm_segment"
    return table


def top_countries(customers: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The n countries with most customers in each segment: segment_id, country, customers, share.

    Customers without a country are left out; ``share`` is of the segment's customers.
    Returns an empty frame (same columns) when there is no ``country`` column or no country.
    """
    columns = ["segment_id", "country", "customers", "share"]
    if n < 1:
        raise ValueError(f"n={n} must be 1 or more.")
    require_frame(customers, "customers", ("segment_id",), allow_empty=True)
    if "country" not in customers.columns or customers["country"].isna().all():
        return pd.DataFrame(columns=columns)
    sizes = customers.groupby("segment_id").size()
    counts = (
        customers.dropna(subset=["country"])
        .groupby(["segment_id", "country"]).size().rename("customers").reset_index()
        .sort_values(["segment_id", "customers", "country"], ascending=[True, False, True], kind="stable")
    )
    counts["share"] = counts["customers"] / counts["segment_id"].map(sizes)
    return counts.groupby("segment_id").head(n).reset_index(drop=True)[columns]

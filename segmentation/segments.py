"""Segments for one K: numbered by value, named, with a suggested action and a profile; and the
numbers that describe them (top countries, crosstab with the RFM map, relative means, the knee of
the K scan) that the charts draw."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .model import FEATURES, elbow_k, fit_model
from .settings import DEFAULT_SEED, NON_PRODUCT_WORDS, RFM_SEGMENT_ACTIONS, SEGMENT_MAP, rfm_segment_name
from .stability import customer_margins

__all__ = [
    "CUSTOMER_FEATURES",
    "Segmentation",
    "segment_customers",
    "ProductLines",
    "product_lines",
    "name_segments",
    "repeat_gap_days",
    "naming_explained",
    "lapsed_after_days",
    "LAPSED_AFTER_GAPS",
    "profile_segments",
    "top_items",
    "is_product",
    "top_countries",
    "segment_crosstab",
    "relative_means",
    "standardised_means",
    "knee_k",
]

# Customer columns a segment's description covers, in display order (charts show the same).
CUSTOMER_FEATURES: tuple[str, ...] = ("recency", "frequency", "monetary", "tenure", "avg_order_value")
SPEND_QUALIFIERS = {2: ("high spend", "low spend"), 3: ("high spend", "mid spend", "low spend"),
                    4: ("top spend", "high spend", "low spend", "lowest spend"),
                    5: ("top spend", "high spend", "mid spend", "low spend", "lowest spend")}
# A segment whose typical customer has not bought for more than this many of the data's usual
# gaps between two purchases is named as lapsed (name_segments).
LAPSED_AFTER_GAPS = 3
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


def _typical_scores(group: pd.DataFrame) -> tuple[int, int]:
    """The segment's typical customer on the R×F map: the (lower) median R and F scores."""
    return (int(group["r_score"].quantile(0.5, interpolation="lower")),
            int(group["f_score"].quantile(0.5, interpolation="lower")))


def repeat_gap_days(customers: pd.DataFrame) -> float | None:
    """How many days this data's customers usually take between two purchases: the median, over
    customers with two purchases or more, of (first to last purchase) / (purchases − 1). None
    without repeat customers (or without a ``tenure`` column)."""
    if not {"tenure", "recency", "frequency"} <= set(customers.columns):
        return None
    repeat = customers[customers["frequency"] >= 2]
    if repeat.empty:
        return None
    gaps = (repeat["tenure"] - repeat["recency"]).astype(float) / (repeat["frequency"] - 1)
    return float(gaps.median())


def lapsed_after_days(customers: pd.DataFrame) -> float | None:
    """Days without a purchase after which a segment is named as lapsed in this data (see name_segments)."""
    gap = repeat_gap_days(customers)
    return None if gap is None else LAPSED_AFTER_GAPS * max(gap, 1.0)


def name_segments(customers: pd.DataFrame) -> pd.DataFrame:
    """One row per segment_id: base name, unique name, action.

    The base name is the named RFM segment (SEGMENT_MAP) of the segment's *typical* customer, its
    median R and F scores: a segment is "Champions" only when most of it bought recently and often,
    never because Champions are merely its largest minority. (Without score columns: the most
    common RFM segment.)

    Scores are quintiles of this file, so on data where most customers stopped buying long ago
    (CDNOW) an R score of 4 can mean a year without a purchase. Names must fit the data's time
    scale: when the typical customer's days since the last purchase exceed LAPSED_AFTER_GAPS times
    the usual gap between two purchases of this data (repeat_gap_days), the segment is named with
    an R score of at most 2 (At Risk, Can't Lose Them, Hibernating) whatever its quintile.

    Segments that share a base name are told apart by spend, highest first ("high spend" /
    "low spend", … "spend tier 6 of 7").
    """
    by_segment = customers.groupby("segment_id")
    if {"r_score", "f_score"} <= set(customers.columns):
        lapsed = lapsed_after_days(customers)

        def typical_name(group: pd.DataFrame) -> str:
            r_score, f_score = _typical_scores(group)
            if lapsed is not None and float(group["recency"].median()) > lapsed:
                r_score = min(r_score, 2)
            return rfm_segment_name(r_score, f_score)

        columns = ["r_score", "f_score"] + (["recency"] if lapsed is not None else [])
        base = by_segment[columns].apply(typical_name)
    else:
        base = by_segment["rfm_segment"].agg(_top_rfm_segment)
    names = pd.DataFrame({"rfm_segment_top": base, "monetary_mean": by_segment["monetary"].mean()}).reset_index()
    unique_names = {}
    for base_name, group in names.groupby("rfm_segment_top", sort=False):
        ordered = group.sort_values(["monetary_mean", "segment_id"], ascending=[False, True])["segment_id"].tolist()
        if len(ordered) == 1:
            unique_names[ordered[0]] = base_name
            continue
        qualifiers = SPEND_QUALIFIERS.get(len(ordered)) or tuple(
            f"spend tier {rank} of {len(ordered)}" for rank in range(1, len(ordered) + 1))
        for segment_id, qualifier in zip(ordered, qualifiers):
            unique_names[segment_id] = f"{base_name} · {qualifier}"
    names["segment"] = names["segment_id"].map(unique_names)
    names["action"] = names["rfm_segment_top"].map(RFM_SEGMENT_ACTIONS)
    return names[["segment_id", "segment", "action", "rfm_segment_top"]]


def _score_range(customers: pd.DataFrame, score: str, feature: str, value: int) -> str:
    members = customers.loc[customers[score] == value, feature]
    if members.empty:
        return "none here"
    low, high = int(members.min()), int(members.max())
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def naming_explained(customers: pd.DataFrame) -> str:
    """How this data's segments got their names, with this data's own numbers (Markdown)."""
    text = ("Each segment has the standard RFM name (Champions, Loyal Customers, At Risk…) of its **typical "
            "customer**: the median of its customers' R and F scores. The scores compare the customers of this "
            "file with each other, in fifths")
    if {"r_score", "f_score", "recency", "frequency"} <= set(customers.columns):
        text += (f": R 5 is the most recent fifth (here {_score_range(customers, 'r_score', 'recency', 5)} days "
                 f"since the last purchase), R 1 the least recent ({_score_range(customers, 'r_score', 'recency', 1)}"
                 f" days); F 5 the most frequent (here {_score_range(customers, 'f_score', 'frequency', 5)} "
                 "purchases).")
    else:
        text += "."
    gap, lapsed = repeat_gap_days(customers), lapsed_after_days(customers)
    if gap is not None and lapsed is not None:
        text += (f"\n\nSo a name is relative to this file. To keep names true to its time scale: customers here "
                 f"usually buy again after **{gap:,.0f} days** (the median gap between two purchases), so a segment "
                 f"whose typical customer has not bought for more than {LAPSED_AFTER_GAPS} × that "
                 f"(**{lapsed:,.0f} days**) is named as lapsed — At Risk, Can't Lose Them or Hibernating — "
                 "whatever its R score.")
    text += "\n\nSegments that share a name are told apart by spend (high spend, low spend…)."
    return text


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


def is_product(customer_products: pd.DataFrame, words: Sequence[str] = NON_PRODUCT_WORDS) -> pd.Series:
    """False for lines that are not products (postage, fees, manual adjustments…): a description or
    code containing one of `words` as a whole word, in any case."""
    pattern = r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b"
    # Matched once per distinct (product, description), not per customer's line: a few thousand
    # texts instead of 270k on the real data (most of the top products' time on a K change).
    named = ["product"] + (["description"] if "description" in customer_products.columns else [])
    codes = np.zeros(len(customer_products), dtype="int64")
    for name in named:
        column, values = pd.factorize(customer_products[name])
        codes = codes * (len(values) + 1) + (column + 1)
    codes, _ = pd.factorize(codes)
    _, first = np.unique(codes, return_index=True)
    distinct = customer_products.iloc[first]
    text = distinct["product"].astype("string").fillna("")
    if "description" in distinct.columns:
        text = text + " " + distinct["description"].astype("string").fillna("")
    product = ~text.str.contains(pattern, case=False, regex=True).fillna(False).astype(bool).to_numpy()
    return pd.Series(product[codes], index=customer_products.index, dtype=bool)


@dataclass(frozen=True)
class ProductLines:
    """The product lines of some customers, prepared for :func:`top_items` once per customer table:
    non-products left out, each line's customer as a row number of `customer_ids`, the products as
    integer codes (sorted like their text). None of it depends on K: a K change only sums again."""

    customer_ids: np.ndarray  # the customers' ids in the order of the segmented table
    position: np.ndarray  # per line: the row of its customer
    lines: pd.DataFrame = field(repr=False)  # the lines (product, description, revenue) of those customers
    codes: np.ndarray = field(repr=False)  # per line: its product's code, -1 without a product


def product_lines(customer_ids: pd.Series, customer_products: pd.DataFrame) -> ProductLines:
    """:class:`ProductLines` of the customers `customer_ids` (a segmented table's ``customer_id``)."""
    customer_products = customer_products[is_product(customer_products).to_numpy()]
    position = pd.Index(customer_ids).get_indexer(customer_products["customer_id"])
    found = position >= 0
    lines = customer_products[found]
    codes, _ = pd.factorize(lines["product"], sort=True)
    return ProductLines(customer_ids=np.asarray(customer_ids, dtype=object), position=position[found],
                        lines=lines, codes=codes)


def top_items(segmented: pd.DataFrame, customer_products: pd.DataFrame | ProductLines, *, n: int = 3) -> pd.DataFrame:
    """The n products with the most revenue in each segment (lines that are not products left out).

    `customer_products` as Prepared.customer_products, or as :func:`product_lines` of the same
    customers made once for every K."""
    columns = ["segment_id", "product", "description", "revenue"]
    if isinstance(customer_products, pd.DataFrame):
        if customer_products.empty:
            return pd.DataFrame(columns=columns)
        customer_products = product_lines(segmented["customer_id"], customer_products)
    elif not np.array_equal(customer_products.customer_ids, segmented["customer_id"].to_numpy(dtype=object)):
        raise ValueError("These product lines were made for other customers (or another order) than `segmented`.")
    prepared = customer_products
    lines, codes = prepared.lines, prepared.codes
    # Sums per segment × product on one integer per pair (products coded in the order of their text):
    # grouping on the text, then on the pairs in pandas, was most of a K change's server time (270k
    # lines on the real data). The description is the first non-blank one of the product's lines in
    # the segment (groupby's "first").
    segment_ids = segmented["segment_id"].to_numpy().astype("int64")[prepared.position]
    with_product = codes >= 0  # a line without a product is in no product's total
    rows = np.flatnonzero(with_product)
    width = int(codes.max()) + 1 if len(rows) else 1
    group = segment_ids[rows] * width + codes[rows]  # one integer per segment × product
    keys, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    revenue = np.bincount(inverse, weights=lines["revenue"].to_numpy(dtype="float64")[rows], minlength=len(keys))
    totals = pd.DataFrame({"segment_id": keys // width, "code": keys % width, "revenue": revenue,
                           "row": rows[first]}).sort_values(["segment_id", "revenue", "code"],
                                                            ascending=[True, False, True], kind="stable")
    top = totals.groupby("segment_id").head(n)
    described = lines["description"].notna().to_numpy()[rows]
    described_keys, described_first = np.unique(group[described], return_index=True)
    found = pd.Series(rows[described][described_first], index=described_keys)
    first_described = found.reindex(top["segment_id"].to_numpy() * width + top["code"].to_numpy())
    description = lines["description"].iloc[first_described.fillna(0).astype("int64").to_numpy()].to_numpy(copy=True)
    description[first_described.isna().to_numpy()] = None
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


knee_k = elbow_k  # the old name of model.elbow_k, kept for one release (branches merged at the same time)


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

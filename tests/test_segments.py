"""Segments for one K: numbered by value, uniquely named, with actions and profiles."""
import pandas as pd
import pytest

from segmentation import segments
from segmentation.scoring import add_rfm_scores
from segmentation.segments import name_segments, profile_segments, segment_customers, top_items
from segmentation.settings import RFM_SEGMENT_ACTIONS
from tests.test_charts import make_customers
from tests.test_model import planted_customers


@pytest.fixture(scope="module")
def segmentation():
    customers = add_rfm_scores(planted_customers().drop(columns="planted"))
    return segment_customers(customers, k=4, seed=42)


def test_segments_are_numbered_by_mean_monetary(segmentation):
    profiles = segmentation.profiles
    assert profiles["segment_id"].tolist() == [1, 2, 3, 4]
    assert profiles["monetary_mean"].is_monotonic_decreasing


def test_names_are_unique_and_come_from_the_rfm_map(segmentation):
    profiles = segmentation.profiles
    assert profiles["segment"].is_unique
    assert profiles.loc[0, "segment"] == "Champions"
    for row in profiles.itertuples():
        assert row.segment.split(" · ")[0] == row.rfm_segment_top
        assert row.action == RFM_SEGMENT_ACTIONS[row.rfm_segment_top]


def test_profiles_add_up(segmentation):
    profiles, customers = segmentation.profiles, segmentation.customers
    assert profiles["customers"].sum() == len(customers)
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["revenue_share"].sum() == pytest.approx(1.0)
    assert profiles["revenue"].sum() == pytest.approx(customers["monetary"].sum(), abs=0.01 * len(profiles))
    first = customers[customers["segment_id"] == 1]
    assert profiles.loc[0, "recency_median"] == first["recency"].median()


def test_every_customer_gets_segment_columns_in_place(segmentation):
    customers = segmentation.customers
    assert {"segment_id", "segment", "action"} <= set(customers.columns)
    assert customers["segment"].notna().all()


def test_shared_base_names_get_spend_qualifiers():
    customers = pd.DataFrame({
        "segment_id": [1, 1, 2, 2, 3],
        "rfm_segment": ["Hibernating"] * 4 + ["Champions"],
        "monetary": [900.0, 800.0, 10.0, 20.0, 5.0],
    })
    names = name_segments(customers).set_index("segment_id")["segment"]
    assert names.to_dict() == {1: "Hibernating · high spend", 2: "Hibernating · low spend", 3: "Champions"}


def test_profile_of_a_hand_made_segmentation():
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c"], "segment_id": [1, 1, 2], "segment": ["X", "X", "Y"],
        "action": ["do x", "do x", "do y"], "recency": [1, 3, 10], "frequency": [2, 4, 1],
        "monetary": [30.0, 50.0, 20.0], "rfm_segment": ["Champions", "Champions", "Hibernating"],
    })
    profile = profile_segments(customers).set_index("segment_id")
    assert profile.loc[1, ["customers", "revenue", "recency_mean", "frequency_median"]].tolist() == [2, 80.0, 2.0, 3.0]
    assert profile.loc[1, "revenue_share"] == pytest.approx(0.8)
    assert profile.loc[2, "share"] == pytest.approx(1 / 3)


def test_top_items_per_segment():
    segmented = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [1, 1, 2]})
    products = pd.DataFrame({"customer_id": ["a", "b", "b", "c"], "product": ["P1", "P1", "P2", "P3"],
                             "description": ["Mug", "Mug", "Cup", "Tea"], "revenue": [5.0, 6.0, 10.0, 1.0]})
    top = top_items(segmented, products, n=1)
    assert top[["segment_id", "product", "revenue"]].values.tolist() == [[1, "P1", 11.0], [2, "P3", 1.0]]


# ------------------------------------------------------------------ describing segments (charts draw these)
def test_relative_means_are_relative_to_the_population():
    customers = make_customers()
    rel = segments.relative_means(customers, ["recency", "monetary"])
    population_monetary = customers["monetary"].mean()  # 408.33
    assert rel.loc[1, "monetary"] == pytest.approx(900.0 / population_monetary - 1)
    assert rel.loc[3, "recency"] == pytest.approx(400.0 / customers["recency"].mean() - 1)
    # Weighted by size, segments average out to the population (equal sizes here).
    assert rel["monetary"].mean() == pytest.approx(0.0)
    assert list(rel.index) == [1, 2, 3]


def test_top_countries_per_segment():
    top = segments.top_countries(make_customers(), n=1)
    assert list(top.columns) == ["segment_id", "country", "customers", "share"]
    assert top.set_index("segment_id").loc[3, "country"] == "France"
    assert top.set_index("segment_id").loc[3, "share"] == pytest.approx(0.5)  # one of two has no country
    assert list(top["segment_id"]) == [1, 2, 3]
    empty = segments.top_countries(make_customers().drop(columns="country"))
    assert empty.empty and list(empty.columns) == ["segment_id", "country", "customers", "share"]


def _top_items_by_text(segmented: pd.DataFrame, customer_products: pd.DataFrame, n: int) -> pd.DataFrame:
    """top_items as it was written before it grouped on product codes (the reference it must equal)."""
    lines = customer_products.merge(segmented[["customer_id", "segment_id"]], on="customer_id")
    totals = (lines.groupby(["segment_id", "product"], as_index=False)
              .agg(description=("description", "first"), revenue=("revenue", "sum"))
              .sort_values(["segment_id", "revenue", "product"], ascending=[True, False, True]))
    return totals.groupby("segment_id").head(n).reset_index(drop=True)[["segment_id", "product", "description",
                                                                       "revenue"]]


TOP_ITEMS_CASES = {
    # ties on revenue are broken by the product's text; a customer without a segment is left out
    "ties": (["a", "a", "b", "z"], ["P2", "P1", "P3", "P9"], ["Cup", "Mug", "Tea", "Lost"], [4.0, 4.0, 4.0, 99.0]),
    # the description is the first non-blank one of the product's lines in the segment
    "blank description": (["a", "b", "b"], ["P1", "P1", "P1"], [None, "Mug", "Big mug"], [1.0, 2.0, 3.0]),
    # a line without a product counts for no product
    "no product": (["a", "b", "c"], [None, "P1", "P1"], ["?", "Mug", "Mug"], [50.0, 1.0, 2.0]),
    "one product per segment": (["a", "c"], ["P1", "P2"], ["Mug", "Tea"], [1.0, 2.0]),
}


@pytest.mark.parametrize("case", list(TOP_ITEMS_CASES))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_top_items_equals_grouping_on_the_text(case, n):
    segmented = pd.DataFrame({"customer_id": pd.array(["a", "b", "c"], dtype="str"), "segment_id": [1, 1, 2]})
    ids, products, descriptions, revenue = TOP_ITEMS_CASES[case]
    lines = pd.DataFrame({"customer_id": pd.array(ids, dtype="str"), "product": pd.array(products, dtype="str"),
                          "description": pd.array(descriptions, dtype="str"), "revenue": revenue})
    pd.testing.assert_frame_equal(top_items(segmented, lines, n=n), _top_items_by_text(segmented, lines, n))


def test_top_items_of_the_real_data_equal_grouping_on_the_text():
    from segmentation import columns, pipeline, reading
    from tests.shared_data import shared_file

    loaded = reading.read_file(shared_file("online_retail.csv.gz").read_bytes(), filename="online_retail.csv.gz")
    prepared = pipeline.prepare(loaded, columns.resolve_roles(loaded.table, {}))
    for k in (3, 6):
        segmented = segment_customers(prepared.customers, k=k, seed=42).customers
        top = top_items(segmented, prepared.customer_products, n=3)
        pd.testing.assert_frame_equal(top, _top_items_by_text(segmented, prepared.customer_products, 3))
        assert len(top) == 3 * k

"""Segments for one K: numbered by value, uniquely named, with actions and profiles."""
import pandas as pd
import pytest

from segmentation import segments
from segmentation.scoring import add_rfm_scores
from segmentation.segments import name_segments, product_lines, profile_segments, segment_customers, top_items
from segmentation.settings import RFM_SEGMENT_ACTIONS, rfm_segment_name
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


def test_names_are_unique_and_name_each_segments_typical_customer(segmentation):
    profiles, customers = segmentation.profiles, segmentation.customers
    assert profiles["segment"].is_unique
    assert profiles.loc[0, "segment"] == "Champions"
    for row in profiles.itertuples():
        members = customers[customers["segment_id"] == row.segment_id]
        typical = rfm_segment_name(int(members["r_score"].quantile(0.5, interpolation="lower")),
                                   int(members["f_score"].quantile(0.5, interpolation="lower")))
        assert row.segment.split(" · ")[0] == typical
        assert row.action == RFM_SEGMENT_ACTIONS[typical]


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


def _scored(rows: list[tuple[int, int, int, int, int, float]]) -> pd.DataFrame:
    """(segment_id, r_score, f_score, recency, frequency, monetary) rows → a segmented customer table."""
    frame = pd.DataFrame(rows, columns=["segment_id", "r_score", "f_score", "recency", "frequency", "monetary"])
    frame["rfm_segment"] = [rfm_segment_name(r, f) for r, f in zip(frame["r_score"], frame["f_score"])]
    frame["tenure"] = frame["recency"] + 30 * (frame["frequency"] - 1)  # every repeat buyer: one purchase a month
    return frame


def test_a_segment_is_named_by_its_typical_customer_not_its_largest_minority():
    # Segment 1: 2 Champions, 3 others all different — Champions is the most common label, but its
    # typical customer (median R 4, F 3) is a Potential Loyalist.
    customers = _scored([(1, 5, 5, 5, 9, 90.0), (1, 5, 4, 6, 8, 80.0), (1, 3, 3, 40, 3, 72.0),
                         (1, 1, 3, 150, 3, 60.0), (1, 4, 1, 20, 1, 50.0)])
    names = name_segments(customers)
    assert names["segment"].tolist() == ["Potential Loyalists"]
    assert customers["rfm_segment"].value_counts().idxmax() == "Champions"


def test_a_segment_idle_for_more_than_three_usual_gaps_is_named_as_lapsed():
    # Customers buy again every 30 days here; segment 2's typical customer has R score 4 (a quintile
    # of this file) but 100 days without a purchase > 3 × 30: named At Risk, not Loyal Customers.
    customers = _scored([(1, 5, 4, 3, 6, 500.0), (1, 5, 4, 4, 5, 400.0), (2, 4, 4, 100, 4, 90.0),
                         (2, 4, 4, 110, 4, 80.0), (2, 4, 4, 95, 4, 70.0)])
    assert segments.repeat_gap_days(customers) == 30.0
    assert segments.lapsed_after_days(customers) == 90.0
    names = name_segments(customers).set_index("segment_id")["segment"]
    assert names.to_dict() == {1: "Champions", 2: "At Risk"}
    recent = customers.assign(recency=customers["recency"].where(customers["segment_id"] == 1, 60))
    assert name_segments(recent).set_index("segment_id")["segment"][2] == "Loyal Customers"


@pytest.mark.parametrize("n, qualifiers", [
    (2, ["high spend", "low spend"]),
    (4, ["top spend", "high spend", "low spend", "lowest spend"]),
    (6, [f"spend tier {i} of 6" for i in range(1, 7)]),
])
def test_segments_sharing_a_name_are_told_apart_by_spend(n, qualifiers):
    customers = _scored([(i, 1, 1, 300, 1, 100.0 - i) for i in range(1, n + 1)])
    names = name_segments(customers)["segment"].tolist()
    assert names == [f"Hibernating · {q}" for q in qualifiers]


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


@pytest.mark.parametrize("product, description, is_product", [
    ("POST", "POSTAGE", False), ("DOT", "DOTCOM POSTAGE", False), ("M", "Manual", False),
    ("C2", "CARRIAGE", False), ("BANK CHARGES", "Bank Charges", False), ("AMAZONFEE", "AMAZON FEE", False),
    ("CRUK", "CRUK Commission", False), ("B", "Adjust bad debt", False), ("D", "Discount", False),
    ("gift_0001_10", "Dotcomgiftshop Gift Voucher £10.00", False),
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", True), ("22423", "REGENCY CAKESTAND 3 TIER", True),
    ("21000", "COFFEE MUG", True),  # "fee" inside a word is no fee
    ("DCGSSBOY", "BOYS PARTY BAG", True), ("P1", None, True),
])
def test_lines_that_are_not_products(product, description, is_product):
    lines = pd.DataFrame({"product": [product], "description": [description]})
    assert segments.is_product(lines).tolist() == [is_product]


def test_top_items_leave_out_postage_and_manual_lines():
    segmented = pd.DataFrame({"customer_id": ["a", "b"], "segment_id": [1, 1]})
    products = pd.DataFrame({"customer_id": ["a", "b", "a", "b"], "product": ["POST", "M", "22423", "85123A"],
                             "description": ["POSTAGE", "Manual", "REGENCY CAKESTAND", "HEART HOLDER"],
                             "revenue": [900.0, 800.0, 20.0, 10.0]})
    assert top_items(segmented, products, n=3)["product"].tolist() == ["22423", "85123A"]


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


def test_naming_is_explained_with_this_datas_numbers():
    customers = _scored([(1, 5, 5, 3, 6, 500.0), (1, 5, 4, 9, 5, 400.0), (2, 1, 1, 100, 4, 90.0),
                         (2, 1, 1, 120, 4, 80.0)])
    text = segments.naming_explained(customers)
    assert "here 3–9 days since the last purchase" in text and "R 1 the least recent (100–120 days)" in text
    assert "after **30 days**" in text and "(**90 days**)" in text


def _top_items_by_text(segmented: pd.DataFrame, customer_products: pd.DataFrame, n: int) -> pd.DataFrame:
    """top_items as it was written before it grouped on product codes (the reference it must equal)."""
    customer_products = customer_products[segments.is_product(customer_products).to_numpy()]
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


@pytest.mark.parametrize("case", list(TOP_ITEMS_CASES))
def test_product_lines_made_once_give_every_k_s_top_items(case):
    """The app makes the product lines once per customer table and sums them again per K."""
    ids, products, descriptions, revenue = TOP_ITEMS_CASES[case]
    lines = pd.DataFrame({"customer_id": pd.array(ids, dtype="str"), "product": pd.array(products, dtype="str"),
                          "description": pd.array(descriptions, dtype="str"), "revenue": revenue})
    customers = pd.array(["a", "b", "c"], dtype="str")
    made = product_lines(pd.Series(customers), lines)
    for segment_ids in ([1, 1, 2], [1, 2, 3], [2, 1, 1]):
        segmented = pd.DataFrame({"customer_id": customers, "segment_id": segment_ids})
        pd.testing.assert_frame_equal(top_items(segmented, made, n=2), top_items(segmented, lines, n=2))


def test_product_lines_of_other_customers_are_refused():
    lines = pd.DataFrame({"customer_id": pd.array(["a"], dtype="str"), "product": pd.array(["P1"], dtype="str"),
                          "description": pd.array(["Mug"], dtype="str"), "revenue": [1.0]})
    made = product_lines(pd.Series(pd.array(["a", "b"], dtype="str")), lines)
    reordered = pd.DataFrame({"customer_id": pd.array(["b", "a"], dtype="str"), "segment_id": [1, 2]})
    with pytest.raises(ValueError, match="other customers"):
        top_items(reordered, made)


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
        made = product_lines(segmented["customer_id"], prepared.customer_products)
        pd.testing.assert_frame_equal(top_items(segmented, made, n=3), top)

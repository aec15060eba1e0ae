"""The migration figures of issue 12 on the real UCI Online Retail data (default cleaning)."""
from datetime import date

import pytest

from segmentation import migration, saved

# On the worker of the "postgres" group (tests/test_postgres.py), which builds `real_prepared` too: the real
# rows are read and prepared once in the run, not once per worker (~20 s each on CI's two cores).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]

A = date(2011, 9, 1)
AS_OF_A = {  # customer → (recency, frequency, monetary) from the purchases before A
    "14646": (6, 40, 176355.94),
    "12346": (226, 1, 77183.60),
    "17850": (273, 34, 5391.21),
}


@pytest.fixture(scope="module")
def prepared(real_prepared):
    return real_prepared  # the real rows prepared once in the run (tests/conftest.py)


@pytest.fixture(scope="module")
def moved(prepared):
    return migration.compare(prepared.purchases, date_a=A, date_b=prepared.snapshot)


def test_customers_as_of_a(prepared):
    at_a = migration.customers_as_of(prepared.purchases, A).set_index("customer_id")
    assert len(at_a) == 3317
    for customer, (recency, frequency, monetary) in AS_OF_A.items():
        row = at_a.loc[customer]
        assert (row["recency"], row["frequency"]) == (recency, frequency), customer
        assert row["monetary"] == pytest.approx(monetary, abs=0.005), customer


def test_new_customers_and_revenue_between(prepared, moved):
    assert prepared.snapshot == date(2011, 12, 10)
    assert moved.customers_a == 3317 and moved.new_customers == 1021
    assert round(moved.customers["revenue_between"].sum(), 2) == 3659728.70
    assert len(moved.customers) == 4338 == moved.customers["customer_id"].nunique()
    assert moved.matrix["customers"].sum() == 4338
    assert round(moved.matrix["revenue"].sum(), 2) == pytest.approx(3659728.70, abs=0.01 * len(moved.matrix))


def test_save_load_apply_on_the_real_data_gives_the_fitted_segments(prepared, real_result, tmp_path):
    result = real_result  # pipeline.run_prepared(prepared, k="auto")
    result.save_segmentation(tmp_path / "seg.json")
    applied, _ = saved.load(tmp_path / "seg.json").apply(prepared.customers.sample(frac=1.0, random_state=1))
    fitted = result.segmentation.customers.set_index("customer_id")["segment_id"].sort_index()
    assert applied.customers.set_index("customer_id")["segment_id"].sort_index().tolist() == fitted.tolist()

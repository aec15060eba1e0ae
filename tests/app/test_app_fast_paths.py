"""The app's fast paths give what the full path gives (issue 21, item 13; timings in benchmarks/app_latency.py).

- A rule or filter change cleans the parsed file again (ui/cache.parse_file): its customers and audit
  are those of the whole pipeline on the file with the same settings.
- The K scan and the segments are keyed on the customers' content (ui/cache.customers_digest): a
  cleaning change that leaves the customers as they were fits nothing again, and what is shown is
  what the pipeline computes for those customers.
- Each step runs only where it is shown: a cleaning change keeps the K on screen and compares no K
  until the Choose K page is opened; the segments are fitted by the pages that show them; the
  revenue per customer × product is fetched by the Segments page's top products, once.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from segmentation import columns, pipeline, preparation, reading, segments
from segmentation.settings import CleaningSettings
from tests.app.app_helpers import by_key_prefix, results, texts
from ui import cache


@pytest.fixture
def fits(monkeypatch) -> dict[str, int]:
    """How many K scans and segmentations the app computes (the cached bodies call these)."""
    calls = {"scan": 0, "segment": 0}
    scan_for, segment_customers = pipeline.scan_for, segments.segment_customers

    def counted_scan(*args, **kwargs):
        calls["scan"] += 1
        return scan_for(*args, **kwargs)

    def counted_segment(*args, **kwargs):
        calls["segment"] += 1
        return segment_customers(*args, **kwargs)

    monkeypatch.setattr(pipeline, "scan_for", counted_scan)
    monkeypatch.setattr(segments, "segment_customers", counted_segment)
    return calls


def full_path(data: bytes, cleaning: CleaningSettings, k: int, seed: int):
    loaded = reading.read_file(data, filename="shop.csv")
    prepared = pipeline.prepare(loaded, columns.resolve_roles(loaded.table, {}), cleaning=cleaning)
    scan, _ = pipeline.scan_for(prepared.customers, seed=seed)
    return prepared, scan, segments.segment_customers(prepared.customers, k=k, seed=seed)


def assert_shows_the_full_path(app, data: bytes) -> None:
    outcome = results(app)
    prepared, scan, segmentation = full_path(data, outcome.spec.cleaning, outcome.k, outcome.seed)
    pd.testing.assert_frame_equal(outcome.prepared.customers, prepared.customers)
    pd.testing.assert_frame_equal(outcome.prepared.audit.table, prepared.audit.table)
    pd.testing.assert_frame_equal(outcome.scan[list(scan.columns)], scan)
    pd.testing.assert_frame_equal(outcome.segmentation().customers, segmentation.customers)
    pd.testing.assert_frame_equal(outcome.segmentation().profiles, segmentation.profiles)


def test_a_rule_that_leaves_the_customers_as_they_were_fits_nothing_again(uploaded, small_csv, fits):
    # The cancellation of the small file is a negative quantity: switched off, its rule's row goes to
    # "Quantity zero or negative" and the customers are the same.
    before = results(uploaded)
    by_key_prefix(uploaded.toggle, "w_rule_cancelled_").set_value(False).run()
    after = results(uploaded)
    assert "cancelled" not in after.spec.cleaning.rules and after.spec.key() != before.spec.key()
    assert after.prepared.audit.dropped["cancelled"] == 0 and after.prepared.audit.dropped["non_positive_quantity"] > 0
    pd.testing.assert_frame_equal(after.prepared.customers, before.prepared.customers)
    assert fits == {"scan": 0, "segment": 0}
    assert_shows_the_full_path(uploaded, small_csv)


def test_a_filter_that_changes_the_customers_keeps_the_k_on_screen_and_compares_k_on_choose_k(uploaded, small_csv,
                                                                                            fits):
    before = results(uploaded)
    assert before.known_suggestion() is not None  # the first K of the file is the suggested one
    by_key_prefix(uploaded.date_input, "w_dates_").set_value((date(2023, 1, 15), date(2023, 5, 20))).run()
    after = results(uploaded)
    assert after.prepared.audit.dropped["outside_date_range"] > 0
    assert len(after.prepared.customers) <= len(before.prepared.customers)
    assert not after.prepared.customers[["recency", "frequency", "monetary"]].equals(
        before.prepared.customers[["recency", "frequency", "monetary"]])
    # The K on screen stays (nothing changes without the marketer's action on K) and no K is compared
    # for the new customers until their evidence is shown.
    assert after.k == before.k and after.known_suggestion() is None
    assert fits == {"scan": 0, "segment": 0}
    uploaded.switch_page("views/choose_k.py").run()
    assert fits["scan"] == 1 and results(uploaded).known_suggestion() is not None
    assert f"Suggested: K = {results(uploaded).suggestion.k}." in texts(uploaded)
    assert_shows_the_full_path(uploaded, small_csv)


def test_a_rule_toggle_under_a_chosen_k_fits_that_k_and_compares_no_k(uploaded, small_csv, fits):
    uploaded.select_slider(key="w_k_sidebar").set_value(3).run()
    before = results(uploaded)
    by_key_prefix(uploaded.toggle, "w_rule_duplicate_").set_value(False).run()
    after = results(uploaded)
    assert after.spec.key() != before.spec.key() and after.prepared.audit.dropped["duplicate"] == 0
    assert not after.prepared.customers["monetary"].equals(before.prepared.customers["monetary"])
    assert after.k == 3 and fits == {"scan": 0, "segment": 0}  # the Data page shows no segments
    uploaded.switch_page("views/segments.py").run()
    assert fits == {"scan": 0, "segment": 1}
    assert len([m for m in uploaded.markdown if m.value.startswith("#### ")]) == 3
    assert "See the Choose K page for the suggested K." in [m.help for m in uploaded.metric]
    assert_shows_the_full_path(uploaded, small_csv)


def test_top_products_are_fetched_by_the_page_that_shows_them_once(uploaded, small_csv, monkeypatch):
    calls = []
    counted = preparation.customer_products
    monkeypatch.setattr(preparation, "customer_products", lambda *a, **kw: calls.append(1) or counted(*a, **kw))
    cache.file_products.clear()
    by_key_prefix(uploaded.toggle, "w_rule_duplicate_").set_value(False).run()
    outcome = results(uploaded)
    assert outcome.prepared.customer_products.empty and calls == []  # the Data page shows no products
    uploaded.switch_page("views/segments.py").run()
    assert len(calls) == 1
    uploaded.switch_page("views/customers.py").run()
    uploaded.switch_page("views/segments.py").run()
    assert len(calls) == 1
    # What the cards show is what the whole pipeline gives with the products.
    loaded = reading.read_file(small_csv, filename="shop.csv")
    full = pipeline.prepare(loaded, columns.resolve_roles(loaded.table, {}), cleaning=outcome.spec.cleaning)
    want = segments.top_items(results(uploaded).segmentation().customers, full.customer_products, n=3)
    pd.testing.assert_frame_equal(results(uploaded).top_items(), want)
    shown = texts(uploaded)
    for description in want["description"]:
        assert description in shown


def test_the_customers_digest_follows_the_content():
    customers = pd.DataFrame({"customer_id": pd.array(["a", "b"], dtype="str"), "recency": [3, 40],
                              "monetary": [10.5, 99.0]})
    same = customers.copy()
    assert cache.customers_digest(same) == cache.customers_digest(customers)
    changed = customers.assign(monetary=[10.5, 99.01])
    retyped = customers.assign(recency=customers["recency"].astype("float64"))
    reordered = customers.iloc[::-1]
    digests = {cache.customers_digest(frame) for frame in (customers, changed, retyped, reordered)}
    assert len(digests) == 4

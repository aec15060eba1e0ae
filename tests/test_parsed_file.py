"""A file parsed once and cleaned again with other settings (reading.ParsedFile, the app's fast path
for a rule toggle or a filter: ui/cache.parse_file) prepares exactly what the file prepares directly."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from segmentation import columns, pipeline, reading
from segmentation.settings import CleaningSettings
from tests.shared_data import shared_file

SETTINGS = {
    "default": CleaningSettings(),
    "no price rule": CleaningSettings().with_rule("non_positive_price", False),
    "no copies rule": CleaningSettings().with_rule("duplicate", False),
    "net returns": replace(CleaningSettings(), net_returns=True),
    "dates": replace(CleaningSettings(), date_from=date(2011, 3, 1), date_to=date(2011, 10, 31)),
    "countries": replace(CleaningSettings(), countries_exclude=("United Kingdom", "Germany")),
}


def assert_same_prepared(fast: pipeline.Prepared, full: pipeline.Prepared) -> None:
    pd.testing.assert_frame_equal(fast.customers, full.customers)
    # per customer × product, in no particular order (the query has none)
    order = ["customer_id", "product", "description"]
    pd.testing.assert_frame_equal(fast.customer_products.sort_values(order).reset_index(drop=True),
                                  full.customer_products.sort_values(order).reset_index(drop=True))
    pd.testing.assert_frame_equal(fast.audit.table, full.audit.table)
    assert (fast.audit.rows_in, fast.audit.rows_kept) == (full.audit.rows_in, full.audit.rows_kept)
    assert (fast.snapshot, fast.notes, fast.countries, fast.date_min, fast.date_max, fast.roles) == (
        full.snapshot, full.notes, full.countries, full.date_min, full.date_max, full.roles)


@pytest.fixture(scope="module")
def demo():
    loaded = pipeline.demo_file(20_000, seed=5)
    return loaded, columns.resolve_roles(loaded.table, {})


@pytest.mark.parametrize("name", list(SETTINGS))
def test_parsed_demo_file_prepares_what_the_file_prepares(demo, name):
    loaded, roles = demo
    parsed = loaded.parse(roles)
    fast = pipeline.prepare(parsed, roles, cleaning=SETTINGS[name])
    assert_same_prepared(fast, pipeline.prepare(loaded, roles, cleaning=SETTINGS[name]))
    assert fast.audit.rows_in == 20_000


def test_one_parse_serves_every_setting_in_turn(demo):
    """The same ParsedFile object cleaned with one setting after another: nothing of one cleaning leaks
    into the next (each gets its own DuckDB)."""
    loaded, roles = demo
    parsed = loaded.parse(roles)
    kept = {name: pipeline.prepare(parsed, roles, cleaning=cleaning).audit.rows_kept
            for name, cleaning in SETTINGS.items()}
    assert kept == {name: pipeline.prepare(loaded, roles, cleaning=cleaning).audit.rows_kept
                    for name, cleaning in SETTINGS.items()}
    assert kept["dates"] < kept["default"] and kept["countries"] < kept["default"]


def test_parsed_file_refuses_other_roles(demo):
    loaded, roles = demo
    parsed = loaded.parse(roles)
    other = {role: column for role, column in roles.items() if role != "country"}
    with pytest.raises(ValueError, match="parsed for the roles"):
        parsed.canonical(other)


@pytest.mark.parametrize("name", ["default", "no price rule", "dates", "countries"])
def test_parsed_real_file_prepares_what_the_file_prepares(name):
    loaded = reading.read_file(shared_file("online_retail.csv.gz").read_bytes(), filename="online_retail.csv.gz")
    roles = columns.resolve_roles(loaded.table, {})
    fast = pipeline.prepare(loaded.parse(roles), roles, cleaning=SETTINGS[name])
    assert_same_prepared(fast, pipeline.prepare(loaded, roles, cleaning=SETTINGS[name]))
    assert fast.audit.rows_in == 541_909

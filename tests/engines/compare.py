"""What "the same results as DuckDB" means for an engine: customers, audit, dates, countries."""
import pandas as pd

from segmentation import pipeline


def assert_same_as_duckdb(got: pipeline.Prepared, want: pipeline.Prepared) -> None:
    pd.testing.assert_frame_equal(got.customers, want.customers)
    pd.testing.assert_frame_equal(got.audit.table, want.audit.table)
    pd.testing.assert_frame_equal(got.audit.statuses, want.audit.statuses)  # the status values found
    assert (got.audit.rows_in, got.audit.rows_kept) == (want.audit.rows_in, want.audit.rows_kept)
    assert (got.snapshot, got.date_min, got.date_max) == (want.snapshot, want.date_min, want.date_max)
    assert got.countries == want.countries

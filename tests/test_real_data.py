"""The acceptance facts of the real UCI Online Retail data, from both of its formats."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from segmentation import columns, pipeline, reading
from segmentation.cli import OUTPUT_COLUMNS
from tests.shared_data import shared_file

# On the worker of the "postgres" group (tests/test_postgres.py), which builds `real_prepared` too: the real
# rows are read and prepared once in the run, not once per worker (~20 s each on CI's two cores).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]

EXPECTED = {  # customer → (recency, frequency, monetary)
    "12346": (326, 1, 77183.60),
    "14646": (2, 73, 280206.02),
    "17850": (373, 34, 5391.21),
}


@pytest.fixture(scope="module", params=["online_retail.csv.gz", "online_retail.xlsx"])
def prepared(request):
    """Each format read, cleaned and aggregated (the CSV's: the session's shared `real_prepared`)."""
    if request.param == "online_retail.csv.gz":
        return request.getfixturevalue("real_prepared")
    loaded = reading.read_file(shared_file(request.param))
    return pipeline.prepare(loaded, columns.resolve_roles(loaded.table))


def test_customers_snapshot_and_total(prepared):
    assert len(prepared.customers) == 4338
    assert prepared.snapshot.isoformat() == "2011-12-10"
    assert round(prepared.customers["monetary"].sum(), 2) == 8887208.89


@pytest.mark.parametrize("customer", sorted(EXPECTED))
def test_known_customers(prepared, customer):
    row = prepared.customers.set_index("customer_id").loc[customer]
    recency, frequency, monetary = EXPECTED[customer]
    assert (row["recency"], row["frequency"]) == (recency, frequency)
    assert row["monetary"] == pytest.approx(monetary, abs=0.005)


def test_every_row_accounted_for(prepared):
    audit = prepared.audit
    assert audit.rows_in == 541909
    assert audit.rows_in == audit.rows_kept + sum(audit.dropped.values())
    assert audit.dropped["missing_customer"] == 135080
    assert audit.table.set_index("rule").loc["missing_customer", "customers"] == 0


def test_duplicates_are_whole_row_copies(prepared):
    """5,268 rows of the file are copies of another whole row; 43 of them have no customer id and are
    counted under missing_customer first, so 5,225 are counted under `duplicate`."""
    assert prepared.audit.dropped["duplicate"] == 5225


def test_the_file_holds_5268_whole_row_copies():
    import duckdb

    table = reading.read_file(shared_file("online_retail.csv.gz")).table
    with duckdb.connect() as con:
        con.register("lines", table)
        rows, distinct = con.execute("SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT * FROM lines)) "
                                     "FROM lines").fetchone()
    assert rows - distinct == 5268


def test_cli_on_the_workbook(tmp_path):
    source = shared_file("online_retail.xlsx")
    done = subprocess.run([sys.executable, "-m", "segmentation", str(source), "--report", str(tmp_path / "r.json"),
                           "--out", str(tmp_path / "c.csv")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    customers = pd.read_csv(tmp_path / "c.csv", dtype={"customer_id": str})
    assert (report["customers"], report["snapshot"], report["rows_in"]) == (4338, "2011-12-10", 541909)
    assert list(customers.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS and len(customers) == 4338
    assert 3 <= report["k"] <= 8

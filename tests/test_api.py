"""The notebook API: segmentation.segment / segmentation.rfm, the K policy, the fitted model."""
from __future__ import annotations

import contextlib
import io
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import segmentation
from segmentation import pipeline
from segmentation.errors import KChoiceError, MappingError
from segmentation.kpolicy import decide_k
from segmentation.model import KSuggestion
from tests.shared_data import shared_file

ROOT = Path(__file__).resolve().parent.parent


def transactions(n_customers: int = 12) -> pd.DataFrame:
    """Customer c buys c times (once a fortnight from 2011-01-03), each line worth 10·c."""
    rows = []
    for c in range(1, n_customers + 1):
        for purchase in range(c):
            day = pd.Timestamp("2011-01-03") + pd.Timedelta(days=14 * purchase + c)
            rows.append({"Customer": f"C{c:02d}", "Invoice": f"I{c:02d}-{purchase}", "Date": day.isoformat(),
                         "Qty": "1", "Price": str(10 * c)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def small_result() -> pipeline.Result:
    return segmentation.segment(transactions(), k=3, snapshot="2011-12-31")


def test_rfm_by_hand():
    customers = segmentation.rfm(transactions(3), snapshot=date(2011, 2, 10))
    assert customers["customer_id"].tolist() == ["C01", "C02", "C03"]
    assert customers["frequency"].tolist() == [1, 2, 3]
    assert customers["monetary"].tolist() == [10.0, 40.0, 90.0]
    # last purchases 2011-01-04, 2011-01-19 (3 + 14 + 2 days), 2011-02-03 (3 + 28 + 3 days)
    assert customers["recency"].tolist() == [37, 22, 7]
    assert customers.attrs == {"snapshot": "2011-02-10", "rows_in": 6, "rows_kept": 6,
                               "dropped": customers.attrs["dropped"]}
    assert set(customers.attrs["dropped"].values()) == {0}


def test_rfm_does_not_change_its_input():
    data = transactions(4)
    before = data.copy()
    segmentation.rfm(data)
    pd.testing.assert_frame_equal(data, before)


def test_segment_gives_the_out_columns_and_profiles(small_result):
    assert list(small_result.customers.columns) == pipeline.OUTPUT_COLUMNS
    assert len(small_result.customers) == 12 and small_result.k == 3
    assert small_result.segments["customers"].sum() == 12
    assert small_result.snapshot == date(2011, 12, 31)
    assert small_result.audit.rows_in == sum(range(1, 13))
    assert list(small_result.k_scan["k"]) == sorted(small_result.k_scan["k"])


def test_result_scan_is_the_deprecated_name_of_k_scan(small_result):
    with pytest.warns(DeprecationWarning, match="use Result.k_scan"):
        old = small_result.scan
    assert old is small_result.k_scan and not old.empty


def test_model_predicts_the_segment_ids_of_the_customers(small_result):
    rows = small_result.customers[["recency", "frequency", "monetary"]]
    assert (small_result.model.predict(rows) == small_result.customers["segment_id"].to_numpy()).all()
    seg = small_result.segmentation
    assert sorted(seg.segment_of_cluster) == [1, 2, 3]
    clusters = seg.model.predict(rows)
    assert [seg.segment_of_cluster[c] for c in clusters] == small_result.customers["segment_id"].tolist()


@pytest.mark.parametrize("kind", ["pandas", "arrow", "path"])
def test_every_input_kind_gives_the_same_customers(kind, small_result, tmp_path):
    data = transactions()
    if kind == "arrow":
        data = pa.Table.from_pandas(data, preserve_index=False)
    elif kind == "path":
        data.to_csv(tmp_path / "sales.csv", index=False)
        data = tmp_path / "sales.csv"
    got = segmentation.segment(data, k=3, snapshot="2011-12-31")
    pd.testing.assert_frame_equal(got.customers, small_result.customers)


def test_roles_override_detection():
    data = transactions().rename(columns={"Customer": "who"})
    with pytest.raises(MappingError, match="Nope"):
        segmentation.segment(data, roles={"customer": "Nope"})
    got = segmentation.segment(data, roles={"customer": "who"}, k=2)
    assert got.prepared.roles["customer"] == "who"


SCAN = pd.DataFrame({"k": [2, 3, 4]})
SUGGESTION = KSuggestion(k=3, reason="because")


@pytest.mark.parametrize(("request_", "scan", "expected"), [
    ("auto", SCAN, 3),
    (5, SCAN, 5),
    (12, SCAN, 12),  # outside the compared K: fitted; above the distinct profiles the model caps it and warns
    ("4", SCAN, 4),
    (5, SCAN.iloc[:0], 3),  # no scan (fewer than 3 distinct profiles): K is their number, the suggestion
], ids=["auto-takes-suggestion", "within-scan", "beyond-scan", "text-number", "no-scan-takes-suggestion"])
def test_decide_k(request_, scan, expected):
    assert decide_k(request_, scan=scan, suggestion=SUGGESTION) == expected


@pytest.mark.parametrize(("request_", "message"), [
    (1, "K=1 is too small: choose 2 or more segments."),
    ("many", "K must be a whole number or 'auto', not 'many'."),
    (2.5, "K must be a whole number or 'auto', not 2.5."),
    (True, "K must be a whole number or 'auto', not True."),
], ids=["one", "word", "fraction", "bool"])
def test_decide_k_refuses_with_a_message_naming_no_front_end(request_, message):
    with pytest.raises(KChoiceError) as caught:
        decide_k(request_, scan=SCAN, suggestion=SUGGESTION)
    assert caught.value.message == message
    assert "--k" not in message and "box" not in message


def test_k_above_the_customers_is_capped_with_a_warning_by_the_api():
    """As the CLI always did: the model fits as many segments as there are distinct profiles and says so."""
    result = segmentation.segment(transactions(4), k=9)
    assert result.k == result.segments["segment_id"].nunique() <= 4
    assert any("distinct customer profiles" in message for message in result.warnings)


def test_impossible_k_is_a_typed_error_from_the_api():
    with pytest.raises(KChoiceError, match="too small"):
        segmentation.segment(transactions(4), k=1)


def _readme_python_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_runs_and_gives_the_known_figures():
    shared_file("online_retail.csv.gz")
    printed = io.StringIO()
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(ROOT)  # the README's paths are relative to the checkout
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(_readme_python_block(), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    result = namespace["result"]
    assert len(result.customers) == 4338  # README: 4,338 customers, snapshot 2011-12-10
    assert result.snapshot == date(2011, 12, 10)
    assert round(result.customers["monetary"].sum(), 2) == 8_887_208.89
    assert namespace["customers"].attrs["rows_in"] == 541_909
    assert printed.getvalue().startswith("4338 customers in")


@pytest.mark.parametrize(("shown", "total", "caption"), [
    (20, 20, "all 20 rows"),
    (2000, None, "a preview of the first 2,000 rows"),
    (2000, 541_909, "a preview of 2,000 rows of a table with 541,909 rows"),
], ids=["whole", "count-unknown", "part-of-a-table"])
def test_preview_caption_says_what_the_rows_are(shown, total, caption):
    from segmentation.preparation import Preview

    assert Preview(rows=pa.table({"a": list(range(shown))}), total_rows=total).caption() == caption


def test_a_large_file_is_previewed_not_passed_off_as_the_table(tmp_path):
    import pyarrow.parquet as pq

    from segmentation import largefile

    path = tmp_path / "sales.parquet"
    pq.write_table(pa.Table.from_pandas(transactions(), preserve_index=False), path)
    large = largefile.open_file(path, sample_rows=10)
    preview = large.preview()
    assert (preview.rows.num_rows, preview.total_rows) == (10, 78)
    assert not hasattr(large, "table")  # its rows are read in place, never held as a table
    got = segmentation.segment(large, k=3, snapshot="2011-12-31")
    assert got.audit.rows_in == 78

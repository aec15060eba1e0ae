"""--stability on the command line, and the columns and keys it appends to the contract."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.cli import OUTPUT_COLUMNS

# Its module-scoped fixtures (the blob's CLI run) are built once: with `--dist loadgroup`
# (.ci/run) the whole module runs on one worker (unmarked, its tests would be spread over both, each building them).
pytestmark = pytest.mark.xdist_group("cli_stability")

REPO = Path(__file__).resolve().parents[1]
# The --out columns before stability; a contract: never renamed, only appended to.
CONTRACT_COLUMNS = [
    "customer_id", "recency", "frequency", "monetary", "segment_id", "segment",
    "r_score", "f_score", "m_score", "rfm_segment",
    "tenure", "avg_order_value", "first_purchase", "last_purchase", "country", "action",
]


def transactions_for(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray, *, seed: int = 0,
                     snapshot: str = "2024-01-01") -> pd.DataFrame:
    """One line per invoice (amount files) giving each customer exactly this recency (days to the
    snapshot), frequency (invoices) and monetary value."""
    rng = np.random.default_rng(seed)
    customer = np.repeat(np.arange(len(recency)), frequency)
    first_of_customer = np.repeat(np.cumsum(frequency) - frequency, frequency)
    is_last = (np.arange(len(customer)) - first_of_customer) == 0
    days_before = np.where(is_last, recency[customer], recency[customer] + rng.integers(1, 300, len(customer)))
    return pd.DataFrame({
        "InvoiceNo": np.arange(len(customer)) + 100000,
        "CustomerID": customer + 20000,
        "InvoiceDate": (pd.Timestamp(snapshot) - pd.to_timedelta(days_before, unit="D")).strftime("%Y-%m-%d"),
        "Amount": np.round(monetary[customer] / frequency[customer], 2),
    })


def blob_transactions(n_customers: int = 5000, seed: int = 11) -> pd.DataFrame:
    """Customers whose log1p(recency, frequency, monetary) are one isotropic normal blob once
    standardised (frequency ~30 so rounding to whole invoices leaves no visible steps)."""
    rng = np.random.default_rng(seed)
    recency = np.clip(np.round(np.expm1(np.log1p(120) + rng.normal(0, 0.4, n_customers))), 1, 360).astype(int)
    frequency = np.maximum(1, np.round(np.expm1(np.log1p(30) + rng.normal(0, 0.3, n_customers)))).astype(int)
    monetary = np.expm1(np.log1p(900) + rng.normal(0, 0.6, n_customers))
    return transactions_for(recency, frequency, monetary, seed=seed)


def planted_transactions(n_per_type: int = 150, seed: int = 0) -> pd.DataFrame:
    """Four well-separated customer types (the centres of tests/test_stability.py)."""
    rng = np.random.default_rng(seed)
    centres = np.repeat(np.array([[5, 40, 8000.0], [30, 12, 1500.0], [10, 1, 80.0], [300, 2, 150.0]]), n_per_type,
                        axis=0)
    noise = rng.lognormal(0, 0.15, centres.shape)
    recency = np.maximum(1, np.round(centres[:, 0] * noise[:, 0])).astype(int)
    frequency = np.maximum(1, np.round(centres[:, 1] * noise[:, 1])).astype(int)
    return transactions_for(recency, frequency, centres[:, 2] * noise[:, 2], seed=seed)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "segmentation", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)


def test_output_columns_only_append_to_the_contract():
    assert OUTPUT_COLUMNS[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert OUTPUT_COLUMNS[len(CONTRACT_COLUMNS):] == ["margin", "borderline"]


@pytest.fixture(scope="module")
def blob_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blob")
    blob_transactions().to_csv(folder / "blob.csv", index=False)
    done = run_cli(folder / "blob.csv", "--stability", "--snapshot", "2024-01-01", "--out", folder / "customers.csv",
                   "--report", folder / "report.json")
    assert done.returncode == 0, done.stderr
    return done, json.loads((folder / "report.json").read_text()), pd.read_csv(folder / "customers.csv")


def test_blob_says_no_stable_segmentation_on_screen_and_in_the_report(blob_run):
    done, report, _ = blob_run
    assert report["customers"] == 5000
    by_k = {row["k"]: row for row in report["k_scan"]}
    assert sorted(by_k) == list(range(2, 11))
    assert all(by_k[k]["stability_low"] <= by_k[k]["stability"] <= by_k[k]["stability_high"] for k in by_k)
    assert all(by_k[k]["stability"] < 0.75 for k in range(3, 9)), {k: by_k[k]["stability"] for k in by_k}
    assert report["stability"] == {"resamples": 20, "sample_customers": 5000, "stable_found": False}
    no_stable = [w for w in report["warnings"] if w.startswith("No stable segmentation was found")]
    assert len(no_stable) == 1 and "named RFM segments" in no_stable[0]
    assert f"warning: {no_stable[0]}" in done.stderr
    assert "No stable segmentation was found" in done.stdout
    assert report["k_reason"].startswith("No stable segmentation: no K from 3–8 reaches stability 0.75")
    assert all(segment["stability"] < 0.85 for segment in report["segments"])
    assert 0.0 <= report["seed_agreement"] <= 1.0


def test_out_appends_margin_and_borderline(blob_run):
    _, report, customers = blob_run
    assert list(customers.columns) == OUTPUT_COLUMNS
    assert (customers["margin"] >= 0).all()
    assert customers["borderline"].sum() == 500  # the lowest tenth of 5,000 margins
    assert customers.loc[customers["borderline"], "margin"].max() <= customers.loc[~customers["borderline"],
                                                                                     "margin"].min()


def test_without_the_flag_stability_keys_are_null(tmp_path):
    blob_transactions(n_customers=200).to_csv(tmp_path / "small.csv", index=False)
    done = run_cli(tmp_path / "small.csv", "--k", "3", "--report", tmp_path / "report.json", "--out",
                   tmp_path / "customers.csv")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert all(row["stability"] is None and row["stability_low"] is None and row["stability_high"] is None
               for row in report["k_scan"])
    assert all(segment["stability"] is None for segment in report["segments"])
    assert report["seed_agreement"] is None and report["stability"] is None
    assert "Stability" not in done.stdout
    assert list(pd.read_csv(tmp_path / "customers.csv").columns) == OUTPUT_COLUMNS


def test_the_html_report_shows_each_segment_s_stability_badge(tmp_path):
    """Where stability was computed, every segment card of the HTML report carries its band and number."""
    data = tmp_path / "planted.csv"
    planted_transactions().to_csv(data, index=False)
    html_path, report_path = tmp_path / "r.html", tmp_path / "r.json"
    done = run_cli(str(data), "--stability", "--html", str(html_path), "--report", str(report_path))
    assert done.returncode == 0, done.stderr
    report, page = json.loads(report_path.read_text()), html_path.read_text()
    for segment in report["segments"]:
        assert segment["stability"] is not None
        assert f"(stability {segment['stability']:.2f})" in page
    assert page.count('class="badge"') == len(report["segments"])

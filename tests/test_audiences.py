"""Audiences per segment: a ZIP of CSVs and a workbook, one list per segment, formula-safe."""
from __future__ import annotations

import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from segmentation import audiences
from tests.hostile.test_injection import assert_csv_safe, assert_xlsx_safe

EXCEL_FORBIDDEN = set("[]:*?/\\")


def make_profiles(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "segment_id": range(1, len(names) + 1), "segment": names, "customers": [1] * len(names),
        "share": 1 / len(names), "revenue": 10.0, "revenue_share": 1 / len(names), "action": "act",
        "recency_median": 1.0, "frequency_median": 1.0, "monetary_median": 1.0,
    })


def make_customers(with_email: bool = False) -> pd.DataFrame:
    """Seven customers in three segments (3, 1, 3), hostile ids included."""
    frame = pd.DataFrame({
        "customer_id": ["c1", "=HYPERLINK(\"x\")", "c3", "+1+1", "c5", "@SUM(A1)", "c7"],
        "segment_id": [1, 1, 1, 2, 3, 3, 3],
        "segment": ["Champions"] * 3 + ["At Risk · high spend"] + ["Hibernating"] * 3,
        "recency": [3, 5, 9, 120, 300, 310, 350],
        "frequency": [20, 15, 12, 4, 1, 1, 2],
        "monetary": [900.0, 1500.0, 700.0, 300.0, 20.0, 35.0, 20.0],
        "r_score": [5] * 7,
    })
    if with_email:
        frame["email"] = ["a@x.com", "=cmd|'/C calc'!A0", None, "d@x.com", "e@x.com", None, "g@x.com"]
    return frame


PROFILES = make_profiles(["Champions", "At Risk · high spend", "Hibernating"])


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Champions", "At Risk · high spend"], ["segment_01_champions.csv", "segment_02_at_risk_high_spend.csv"]),
        (["Can't Lose Them", "Café <b>/x"], ["segment_01_can_t_lose_them.csv", "segment_02_cafe_b_x.csv"]),
        (["···"], ["segment_01_segment.csv"]),
        ([f"S{i}" for i in range(1, 13)], [f"segment_{i:02d}_s{i}.csv" for i in range(1, 13)]),
    ],
    ids=["plain", "punctuation-and-accents", "nothing-left-of-the-name", "twelve-segments"],
)
def test_file_names(names, expected):
    assert list(audiences.file_names(make_profiles(names)).values()) == expected


@pytest.mark.parametrize(
    "names",
    [
        ["Champions", "Loyal Customers"],
        ["A[b]:c*d?e/f\\g", "A[b]:c*d?e/f\\g"],
        ["x" * 40, "x" * 40 + "y"],
        ["'quoted'", "History", "Summary"],
        [f"At Risk · spend tier {i}" for i in range(1, 11)],
    ],
    ids=["plain", "forbidden-characters-and-duplicates", "too-long", "apostrophes-and-reserved", "ten-long-names"],
)
def test_sheet_names_are_valid_and_unique(names):
    sheets = list(audiences.sheet_names(make_profiles(names)).values())
    assert len(sheets) == len(names)
    assert len({s.lower() for s in sheets} | {"summary", "history"}) == len(sheets) + 2
    for name in sheets:
        assert 1 <= len(name) <= 31, name
        assert not set(name) & EXCEL_FORBIDDEN, name
        assert not name.startswith("'") and not name.endswith("'"), name


def test_zip_holds_one_csv_per_segment_with_its_customers():
    customers = make_customers()
    archive = zipfile.ZipFile(io.BytesIO(audiences.audiences_zip(customers, PROFILES)))
    assert archive.namelist() == ["segment_01_champions.csv", "segment_02_at_risk_high_spend.csv",
                                  "segment_03_hibernating.csv"]
    tables = {name: pd.read_csv(archive.open(name), dtype={"customer_id": str}) for name in archive.namelist()}
    assert [len(t) for t in tables.values()] == [3, 1, 3]
    champions = tables["segment_01_champions.csv"]
    assert list(champions.columns) == ["customer_id", "segment_id", "segment", "recency", "frequency", "monetary"]
    assert champions["customer_id"].tolist() == ["'=HYPERLINK(\"x\")", "c1", "c3"]  # biggest spender first
    for name in archive.namelist():
        assert_csv_safe(archive.read(name))


def test_zip_is_the_same_bytes_for_the_same_segments():
    customers = make_customers()
    assert audiences.audiences_zip(customers, PROFILES) == audiences.audiences_zip(customers.sample(frac=1,
                                                                                   random_state=1), PROFILES)


def test_email_goes_into_the_lists_only_when_mapped():
    without = zipfile.ZipFile(io.BytesIO(audiences.audiences_zip(make_customers(), PROFILES)))
    assert "email" not in without.read("segment_02_at_risk_high_spend.csv").decode().splitlines()[0]
    data = audiences.audiences_zip(make_customers(with_email=True), PROFILES)
    archive = zipfile.ZipFile(io.BytesIO(data))
    champions = pd.read_csv(archive.open("segment_01_champions.csv"), dtype=str, keep_default_na=False)
    assert list(champions.columns[:2]) == ["customer_id", "email"]
    assert champions["email"].tolist() == ["'=cmd|'/C calc'!A0", "a@x.com", ""]


def test_workbook_has_a_summary_and_one_sheet_per_segment():
    customers = make_customers(with_email=True)
    data = audiences.audiences_xlsx(customers, PROFILES)
    assert assert_xlsx_safe(data) > 20
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "01 Champions", "02 At Risk · high spend", "03 Hibernating"]
    summary = pd.read_excel(io.BytesIO(data), sheet_name="Summary")
    assert summary["sheet"].tolist() == book.sheetnames[1:]
    sizes = [book[name].max_row - 1 for name in book.sheetnames[1:]]
    assert sizes == [3, 1, 3] and sum(sizes) == len(customers)


def test_a_segment_without_customers_still_gets_its_file():
    profiles = make_profiles(["Champions", "At Risk · high spend", "Hibernating", "Lost"])
    archive = zipfile.ZipFile(io.BytesIO(audiences.audiences_zip(make_customers(), profiles)))
    assert archive.read("segment_04_lost.csv").decode().splitlines() == [
        "customer_id,segment_id,segment,recency,frequency,monetary"]


@pytest.mark.parametrize("suffix", [".zip", ".xlsx"])
def test_write_audiences_by_extension(tmp_path, suffix):
    path = tmp_path / f"audiences{suffix}"
    audiences.write_audiences(path, make_customers(), PROFILES)
    magic = path.read_bytes()[:2]
    assert magic == b"PK"  # both are ZIP containers
    names = zipfile.ZipFile(path).namelist()
    assert ("segment_01_champions.csv" in names) == (suffix == ".zip")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_write_audiences_refuses_other_extensions(tmp_path):
    with pytest.raises(ValueError, match=r"audiences\.csv: audiences are written as \.zip"):
        audiences.write_audiences(tmp_path / "audiences.csv", make_customers(), PROFILES)


def test_workbook_summary_shows_shares_as_percentages_and_money_to_cents():
    profiles = PROFILES.assign(share=[3 / 7, 1 / 7, 3 / 7], revenue=[3100.0049, 300.0, 75.1234])
    book = openpyxl.load_workbook(io.BytesIO(audiences.audiences_xlsx(make_customers(), profiles)))
    summary = book[audiences.SUMMARY_SHEET]
    header = [cell.value for cell in summary[1]]
    share = summary.cell(row=2, column=header.index("share") + 1)
    revenue = summary.cell(row=4, column=header.index("revenue") + 1)
    assert (share.value, share.number_format) == (0.4286, "0.0%")
    assert (revenue.value, revenue.number_format) == (75.12, "#,##0.00")
    monetary = book["01 Champions"].cell(row=2, column=6)
    assert book["01 Champions"].cell(row=1, column=6).value == "monetary" and monetary.number_format == "#,##0.00"

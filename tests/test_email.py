"""The optional email role: detected by header or content, carried as each customer's most recent
non-blank email, never a model feature and never in a chart; in the audience files when mapped.

The same edge cases run on PostgreSQL and Spark in tests/test_postgres.py and tests/test_spark.py
(tests/engines/edge_cases.py has an Email column), so every engine carries the same email.
"""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pyarrow as pa
import pytest

from segmentation import audiences, charts, columns, parsing, pipeline, reading, segments
from tests.engines import edge_cases

BASE = {
    "InvoiceNo": ["1", "2", "3"], "CustomerID": ["17850", "17850", "13047"],
    "InvoiceDate": ["2011-01-01 10:00", "2011-02-01 10:00", "2011-03-01 10:00"],
    "Quantity": ["1", "2", "3"], "UnitPrice": ["2.5", "3.5", "4.5"],
}
EMAILS = ["a@shop.example", "b@shop.example", "c@shop.example"]


@pytest.mark.parametrize(
    ("header", "values", "expected"),
    [
        ("Email", EMAILS, "Email"),
        ("e-mail", EMAILS, "e-mail"),
        ("customer_email", EMAILS, "customer_email"),
        ("E-Mail Address", EMAILS, "E-Mail Address"),
        ("contact", EMAILS, "contact"),  # found by content
        ("contact", ["a@shop.example", "", "c@shop.example"], "contact"),  # blanks do not count against it
        ("notes", ["call a@shop.example", "no", "later"], None),  # an @ in free text is no email column
        ("handle", ["@anna", "@bob", "@carl"], None),
    ],
    ids=["Email", "e-mail", "customer_email", "E-Mail Address", "content", "content-with-blank",
         "free-text", "social-handles"],
)
def test_email_column_is_detected_by_header_or_content(header, values, expected):
    table = pa.table({**BASE, header: values})
    roles = columns.detect_roles(table)
    assert roles.get("email") == expected
    assert roles["customer"] == "CustomerID"  # 'customer_email' does not take the customer role


def test_most_recent_non_blank_email_of_the_kept_rows():
    raw = edge_cases.raw_table()
    prepared = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES)
    got = dict(zip(prepared.customers["customer_id"], prepared.customers["email"], strict=True))
    assert {k: (None if pd.isna(v) else v) for k, v in got.items()} == edge_cases.EXPECTED_EMAILS


def test_email_never_changes_rfm_scores_or_segments():
    raw = edge_cases.raw_table()
    without_roles = {role: column for role, column in edge_cases.ROLES.items() if role != "email"}
    with_email = pipeline.prepare_canonical(parsing.to_canonical(raw, edge_cases.ROLES).table, edge_cases.ROLES)
    without = pipeline.prepare_canonical(parsing.to_canonical(raw, without_roles).table, without_roles)
    assert "email" not in without.customers.columns
    pd.testing.assert_frame_equal(with_email.customers.drop(columns="email"), without.customers)
    pd.testing.assert_frame_equal(with_email.audit.table, without.audit.table)
    a = segments.segment_customers(with_email.customers, k=3, seed=1)
    b = segments.segment_customers(without.customers, k=3, seed=1)
    assert a.customers["segment_id"].tolist() == b.customers["segment_id"].tolist()


def test_email_reaches_the_audiences_but_no_chart():
    frame = pd.DataFrame({
        "InvoiceNo": [str(100 + i) for i in range(40)],
        "CustomerID": [str(17000 + i % 8) for i in range(40)],
        "InvoiceDate": [f"2011-{1 + i % 12:02d}-{1 + i % 27:02d} 10:00" for i in range(40)],
        "Quantity": [str(1 + i % 4) for i in range(40)], "UnitPrice": [f"{1 + i % 7}.5" for i in range(40)],
        "Email": [f"=HYPERLINK(\"x\")@{i % 8}.example" if i % 8 == 0 else f"c{i % 8}.{i}@shop.example"
                  for i in range(40)],
    })
    loaded = reading.read_file(frame.to_csv(index=False).encode(), filename="shop.csv")
    result = pipeline.run(loaded, k=3)
    customers = result.segmentation.customers
    assert result.prepared.roles["email"] == "Email"
    # 17001 buys on lines 1, 9, 17, 25, 33: line 9 (2011-10-10) is the latest
    assert customers.set_index("customer_id").loc["17001", "email"] == "c1.9@shop.example"
    archive = zipfile.ZipFile(io.BytesIO(audiences.audiences_zip(customers, result.segmentation.profiles)))
    lists = [pd.read_csv(archive.open(name), dtype=str) for name in archive.namelist()]
    emails = pd.concat(lists)["email"].tolist()
    assert len(emails) == len(customers) and "'=HYPERLINK(\"x\")@0.example" in emails  # neutralised
    figures = [charts.scatter_2d(customers), charts.scatter_3d(customers), charts.relative_heatmap(customers),
               charts.snake_plot(customers), charts.crosstab_heatmap(customers)]
    shown = " ".join(figure.to_json() for figure in figures)
    assert "@shop.example" not in shown and "HYPERLINK" not in shown
    assert "@shop.example" not in result.to_html()

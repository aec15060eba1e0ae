"""A shop export uploaded through the real uploader in headless Chromium: the customers of the paid
orders only, and the order status rule with the status values found on the Data page.

Run: `pytest -m browser tests/browser/test_platform_browser.py` (needs /usr/bin/chromium).
"""
from __future__ import annotations

import re

import pytest

from tests import platforms
from tests.browser.conftest import upload, wait_idle

pytestmark = pytest.mark.browser

SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'


def test_a_shopify_export_gives_the_customers_of_the_paid_orders(quiet_server, browser_context, tmp_path):
    built = platforms.shopify()
    path = tmp_path / "shopify.csv"  # short: the uploader elides a long name in its chip
    path.write_bytes(built.data)
    expected = len(platforms.expected_customers(built.orders))
    every_row = built.orders["customer_key"].nunique()
    assert expected < every_row  # some customers have only unpaid orders: a wrong count would show

    page = browser_context.new_page()
    try:
        page.goto(f"{quiet_server.url}/data")
        page.get_by_role("heading", name="Data").first.wait_for(timeout=180_000)
        wait_idle(page, timeout=600_000)
        upload(page, path)
        page.locator(SIDEBAR).get_by_text(path.name).first.wait_for(timeout=600_000)
        page.locator(SIDEBAR).get_by_text(f"{expected:,} customers").first.wait_for(timeout=600_000)
        wait_idle(page, timeout=600_000)
        main = page.locator(MAIN).inner_text()
        assert f"Now loaded: {path.name}" in main
        assert "Order status" in main and "Financial Status decides which orders count" in main
        assert "Order not paid: refunded, cancelled or failed" in main  # the rule's toggle and audit line
        # the note with the values found (the column name in backticks, as written in the note)
        assert re.search(r"Status values in `?Financial Status`?: counted as paid: 'paid' \(\d+ rows\)", main), main
    finally:
        page.close()

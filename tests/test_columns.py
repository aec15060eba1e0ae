"""columns.detect_roles / resolve_roles: header aliases, content detection, override validation."""
from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from segmentation.columns import detect_roles, normalise_header, resolve_roles
from segmentation.errors import MappingError


def text_table(columns: dict[str, list]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def header_table(*names: str) -> pa.Table:
    return text_table({name: ["1", "2"] for name in names})


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Customer ID", "customerid"), ("client_id", "clientid"), ("Invoice-No.", "invoiceno"), (" QTY ", "qty")],
)
def test_normalise_header(name, expected):
    assert normalise_header(name) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (("Customer ID", "InvoiceDate", "Quantity", "UnitPrice"),
         {"customer": "Customer ID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice"}),
        (("customer", "order_date", "qty", "unit_price", "order_id"),
         {"customer": "customer", "date": "order_date", "quantity": "qty", "price": "unit_price",
          "invoice": "order_id"}),
        (("client_id", "Date", "revenue"), {"customer": "client_id", "date": "Date", "amount": "revenue"}),
        (("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"),
         {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
          "invoice": "InvoiceNo", "product": "StockCode", "description": "Description", "country": "Country"}),
        (("Customer ID (CRM)", "Purchase Date", "Total Amount"),
         {"customer": "Customer ID (CRM)", "date": "Purchase Date", "amount": "Total Amount"}),
        (("member_id", "transaction_date", "sku", "units", "price_each"),
         {"customer": "member_id", "date": "transaction_date", "quantity": "units", "price": "price_each",
          "product": "sku"}),
    ],
    ids=["online-retail-style", "snake-case-shop", "amount-file", "uci-columns", "containment", "pos-export"],
)
def test_detect_roles_from_headers(headers, expected):
    assert detect_roles(header_table(*headers)) == expected


def test_quantity_and_price_win_over_amount():
    roles = detect_roles(header_table("customer", "date", "qty", "price", "total"))
    assert roles["quantity"] == "qty" and roles["price"] == "price"
    assert "amount" not in roles


def test_lone_price_does_not_hide_amount():
    roles = detect_roles(header_table("customer", "date", "price", "total"))
    assert roles["amount"] == "total"


def test_generic_words_are_not_matched_inside_longer_headers():
    roles = detect_roles(header_table("Customer", "Date", "Exchange rate", "Country"))
    assert "price" not in roles  # 'rate' only counts as an exact header
    assert roles["country"] == "Country"  # and 'count' (quantity) does not grab it


def test_each_column_is_used_once():
    roles = detect_roles(header_table("Customer", "Date", "Order", "Order Date"))
    assert len(set(roles.values())) == len(roles)
    assert roles["date"] in ("Date", "Order Date")


def test_date_and_ids_detected_from_content_when_headers_say_nothing():
    table = text_table({
        "a": ["17850", "17850", "13047", "13047", "12583"],
        "b": ["01.12.2010 08:26", "01.12.2010 08:28", "02.12.2010 09:00", "03.12.2010 10:00", "04.12.2010 11:00"],
        "c": ["C536379", "536365", "536365", "536366", "536367"],
        "d": ["2,55", "3,39", "1,00", "4,25", "2,10"],
    })
    roles = detect_roles(table)
    assert roles["date"] == "b"
    assert roles["invoice"] == "c"
    assert roles["customer"] == "a"


def test_timestamp_column_is_a_date_by_type():
    table = pa.table({"when": pa.array([datetime(2010, 12, 1)] * 2), "customer": ["1", "2"]})
    assert detect_roles(table)["date"] == "when"


def test_yyyymmdd_integers_are_a_date_by_content():
    table = pa.table({"customer": ["1", "2"], "d": pa.array([20101201, 20101202], pa.int64())})
    assert detect_roles(table)["date"] == "d"


def test_customer_not_guessed_when_several_id_like_columns():
    table = text_table({"x": ["1", "1", "2"], "y": ["5", "5", "6"], "when": ["2010-12-01"] * 3})
    assert "customer" not in detect_roles(table)


# ----------------------------------------------------------------------------- resolve_roles

SHOP = header_table("client", "order_date", "qty", "unit_price", "total", "notes")


def test_resolve_returns_detected_roles_when_no_overrides():
    assert resolve_roles(SHOP) == {"customer": "client", "date": "order_date", "quantity": "qty",
                                   "price": "unit_price"}


def test_override_replaces_and_unmaps():
    roles = resolve_roles(SHOP, {"customer": "notes", "quantity": None, "price": ""})
    assert roles["customer"] == "notes"
    assert roles["amount"] == "total"  # with quantity/price unmapped, the amount is used
    assert "quantity" not in roles and "price" not in roles


def test_override_amount_drops_detected_price():
    roles = resolve_roles(SHOP, {"amount": "total"})
    assert roles["amount"] == "total"
    assert "price" not in roles
    assert roles["quantity"] == "qty"


def test_override_on_a_detected_column_moves_it():
    roles = resolve_roles(SHOP, {"invoice": "client", "customer": "notes"})
    assert roles["invoice"] == "client" and roles["customer"] == "notes"


@pytest.mark.parametrize(
    ("table", "overrides", "message"),
    [
        (SHOP, {"shopper": "client"}, r"Unknown role 'shopper'\. Valid roles: 'customer', 'date'"),
        (SHOP, {"customer": "Client"}, r"No column 'Client'.*'client', 'order_date', 'qty'"),
        (SHOP, {"customer": "notes", "invoice": "notes"}, r"Column 'notes' is mapped to two roles"),
        (header_table("a", "b", "c"), None, r"No customer column found among: 'a', 'b', 'c'\."),
        (header_table("customer", "b"), None, r"No purchase date column found among: 'customer', 'b'\."),
        (header_table("customer", "date", "qty"), None, r"No money columns found \(only quantity \('qty'\)\)"),
        (SHOP, {"date": None}, r"No purchase date column"),
    ],
    ids=["unknown-role", "unknown-column", "same-column-twice", "no-customer", "no-date", "no-money",
         "date-unmapped"],
)
def test_resolve_roles_errors(table, overrides, message):
    with pytest.raises(MappingError, match=message) as info:
        resolve_roles(table, overrides)
    assert info.value.hint


def test_missing_customer_hint_says_how_to_map():
    with pytest.raises(MappingError) as info:
        resolve_roles(header_table("a", "b", "c"))
    assert info.value.hint == "Map it with --map customer=COLUMN (command line) or the Customer box (app)."


def test_no_invoice_column_is_fine():
    roles = resolve_roles(header_table("customer", "date", "amount"))
    assert "invoice" not in roles

"""columns.detect_roles / resolve_roles: header aliases, content detection, override validation."""
from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from segmentation.columns import currency_display, detect_currency, detect_roles, normalise_header, resolve_roles
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


@pytest.mark.parametrize("columns, roles, cli_words", [
    (("a", "b", "c"), ("customer",), "Use --map customer=COLUMN."),
    (("customer", "b", "c"), ("date",), "Use --map date=COLUMN."),
    (("customer", "date", "c"), ("quantity", "price", "amount"),
     "Use --map quantity=COLUMN --map price=COLUMN, or --map amount=COLUMN."),
], ids=["customer", "date", "money"])
def test_a_missing_role_is_named_for_the_front_ends_and_the_core_names_none(columns, roles, cli_words):
    from segmentation.cli import _map_hint

    with pytest.raises(MappingError) as info:
        resolve_roles(header_table(*columns))
    assert info.value.roles == roles
    assert "--map" not in info.value.hint and "(app)" not in info.value.hint and "box" not in info.value.hint
    assert _map_hint(info.value.roles) == cli_words


def test_no_invoice_column_is_fine():
    roles = resolve_roles(header_table("customer", "date", "amount"))
    assert "invoice" not in roles


# ----------------------------------------------------------------------------- real export headers

NAMES = ["JUMBO BAG DOILEY PATTERNS", "WHITE METAL LANTERN", "HAND WARMER UNION JACK", "Set of 3 cake tins",
         "Regency cakestand 3 tier", "Glass star frosted t-light holder", "Alarm clock bakelike pink"]
CONTENT = {  # kind of column → its value on row i (as an export writes it: text)
    "customer": lambda i: str(17850 + i % 9),
    "invoice": lambda i: str(536365 + i // 3),
    "date": lambda i: f"2011-01-{1 + i % 28:02d} 10:{i % 60:02d}",
    "yyyymmdd": lambda i: str(19970101 + i % 28),
    "count": lambda i: str(1 + i % 6),
    "price": lambda i: f"{1 + i % 7}.{(i * 37) % 100:02d}",
    "money": lambda i: f"{10 + i % 50}.{(i * 13) % 100:02d}",
    "code": lambda i: f"{84000 + i % 11}{'ABC'[i % 3]}",
    "name": lambda i: NAMES[i % len(NAMES)],
    "country": lambda i: ["United Kingdom", "France", "Germany"][i % 3],
    "status": lambda i: ["paid", "pending"][i % 2],
    "email": lambda i: f"customer{i % 9}@example.com",
    "order_name": lambda i: f"#{1001 + i // 3}",
    "hash": lambda i: f"{i * 2654435761 % 16 ** 32:032x}",
    "small": lambda i: str(1 + i % 3),
}

# (id, columns as (header, kind), the full mapping detect_roles must give)
EXPORTS = [
    ("online-retail-ii",
     [("Invoice", "invoice"), ("StockCode", "code"), ("Description", "name"), ("Quantity", "count"),
      ("InvoiceDate", "date"), ("Price", "price"), ("Customer ID", "customer"), ("Country", "country")],
     {"customer": "Customer ID", "date": "InvoiceDate", "quantity": "Quantity", "price": "Price",
      "invoice": "Invoice", "product": "StockCode", "description": "Description", "country": "Country"}),
    ("cdnow",
     [("customer_id", "customer"), ("date", "yyyymmdd"), ("number_of_cds", "count"), ("dollar_value", "money")],
     {"customer": "customer_id", "date": "date", "quantity": "number_of_cds", "amount": "dollar_value"}),
    ("shopify-orders",  # no customer id in this export: the e-mail is the customer; `Name` (#1001) the order
     [("Name", "order_name"), ("Email", "email"), ("Financial Status", "status"), ("Paid at", "date"),
      ("Created at", "date"), ("Lineitem quantity", "count"), ("Lineitem name", "name"),
      ("Lineitem price", "price"), ("Lineitem sku", "code"), ("Billing Country", "country"), ("Total", "money"),
      ("Discount Amount", "money")],
     {"date": "Created at", "quantity": "Lineitem quantity", "price": "Lineitem price", "product": "Lineitem sku",
      "description": "Lineitem name", "country": "Billing Country", "customer": "Email", "invoice": "Name",
      "status": "Financial Status"}),
    ("woocommerce",
     [("Order Number", "invoice"), ("Order Date", "date"), ("Customer ID", "customer"), ("SKU", "code"),
      ("Item Name", "name"), ("Quantity", "count"), ("Item Cost", "price"), ("Order Total Amount", "money"),
      ("Billing Country", "country")],
     {"customer": "Customer ID", "date": "Order Date", "quantity": "Quantity", "price": "Item Cost",
      "invoice": "Order Number", "product": "SKU", "description": "Item Name", "country": "Billing Country"}),
    ("instacart-like",
     [("order_id", "invoice"), ("user_id", "customer"), ("order_number", "small"), ("order_dow", "small"),
      ("product_id", "code"), ("product_name", "name"), ("aisle", "status"), ("add_to_cart_order", "small"),
      ("reordered", "small"), ("order_date", "date"), ("quantity", "count"), ("price", "price")],
     {"customer": "user_id", "date": "order_date", "quantity": "quantity", "price": "price", "invoice": "order_id",
      "product": "product_id", "description": "product_name"}),
    ("olist-payments-like",
     [("order_id", "hash"), ("customer_unique_id", "hash"), ("order_purchase_timestamp", "date"),
      ("payment_type", "status"), ("payment_installments", "small"), ("payment_value", "money"),
      ("customer_state", "status")],
     {"customer": "customer_unique_id", "date": "order_purchase_timestamp", "amount": "payment_value",
      "invoice": "order_id"}),
    ("olist-items-like",  # freight is money, but not the sale: not the line amount
     [("order_id", "hash"), ("customer_unique_id", "hash"), ("order_purchase_timestamp", "date"),
      ("order_item_id", "small"), ("product_id", "hash"), ("price", "price"), ("freight_value", "money")],
     {"customer": "customer_unique_id", "date": "order_purchase_timestamp", "price": "price",
      "invoice": "order_id", "product": "product_id"}),
    ("german",
     [("Rechnungsnummer", "invoice"), ("Kundennummer", "customer"), ("Rechnungsdatum", "date"),
      ("Artikelnummer", "code"), ("Bezeichnung", "name"), ("Menge", "count"), ("Einzelpreis", "price"),
      ("Land", "country")],
     {"customer": "Kundennummer", "date": "Rechnungsdatum", "quantity": "Menge", "price": "Einzelpreis",
      "invoice": "Rechnungsnummer", "product": "Artikelnummer", "description": "Bezeichnung", "country": "Land"}),
    ("french",
     [("N° facture", "invoice"), ("N° client", "customer"), ("Date de commande", "date"), ("Référence", "code"),
      ("Désignation", "name"), ("Quantité", "count"), ("Prix unitaire", "price"), ("Pays", "country")],
     {"customer": "N° client", "date": "Date de commande", "quantity": "Quantité", "price": "Prix unitaire",
      "invoice": "N° facture", "product": "Référence", "description": "Désignation", "country": "Pays"}),
    ("european-issue-14",
     [("invoice_no", "invoice"), ("sku", "code"), ("product", "name"), ("qty", "count"), ("order_date", "date"),
      ("unit_price", "price"), ("customer", "customer"), ("country", "country")],
     {"customer": "customer", "date": "order_date", "quantity": "qty", "price": "unit_price",
      "invoice": "invoice_no", "product": "sku", "description": "product", "country": "country"}),
    ("pos-net-sales",
     [("Receipt No", "invoice"), ("Member ID", "customer"), ("Sale Date", "date"), ("Item Code", "code"),
      ("Item Description", "name"), ("Units", "count"), ("Net Sales", "money")],
     {"customer": "Member ID", "date": "Sale Date", "quantity": "Units", "amount": "Net Sales",
      "invoice": "Receipt No", "product": "Item Code", "description": "Item Description"}),
    ("crm-opportunities",
     [("Account ID", "customer"), ("Opportunity Name", "name"), ("Stage", "status"), ("Close Date", "date"),
      ("Amount", "money")],
     {"customer": "Account ID", "date": "Close Date", "amount": "Amount"}),
    ("by-meaning-only",
     [("buyer", "customer"), ("purchase_date", "date"), ("n_items", "count"), ("total_paid", "money"),
      ("Sales Rep", "status")],
     {"customer": "buyer", "date": "purchase_date", "quantity": "n_items", "amount": "total_paid"}),
    ("product-codes-and-names",
     [("customer_id", "customer"), ("order_date", "date"), ("product_name", "name"), ("product", "code"),
      ("quantity", "count"), ("unit_price", "price")],
     {"customer": "customer_id", "date": "order_date", "quantity": "quantity", "price": "unit_price",
      "product": "product", "description": "product_name"}),
    ("item-and-item-description",
     [("client", "customer"), ("date", "date"), ("item_description", "name"), ("item", "code"),
      ("units", "count"), ("Revenue EUR", "money")],
     {"customer": "client", "date": "date", "quantity": "units", "amount": "Revenue EUR", "product": "item",
      "description": "item_description"}),
]


def export_table(columns, rows: int = 40) -> pa.Table:
    return pa.table({header: pa.array([CONTENT[kind](i) for i in range(rows)], pa.string())
                     for header, kind in columns})


@pytest.mark.parametrize("columns, expected", [case[1:] for case in EXPORTS], ids=[case[0] for case in EXPORTS])
def test_real_export_headers_give_the_full_mapping(columns, expected):
    assert detect_roles(export_table(columns)) == expected


def test_names_are_never_the_product_code_when_a_code_column_exists():
    for order in ([("product", "name"), ("sku", "code")], [("sku", "code"), ("product", "name")],
                  [("article", "name"), ("article_id", "code")], [("item", "name"), ("item_code", "code")]):
        roles = detect_roles(export_table([("customer", "customer"), ("date", "date"), *order]))
        names = next(header for header, kind in order if kind == "name")
        codes = next(header for header, kind in order if kind == "code")
        assert (roles["product"], roles["description"]) == (codes, names), order


def test_the_description_is_the_wordier_column():
    table = export_table([("customer", "customer"), ("date", "date"), ("sku", "code"), ("product_name", "name")])
    longer = pa.array([f"{name} in a gift box, {i % 4 + 2} colours" for i, name in enumerate(NAMES * 6)][:40])
    table = table.append_column("item_description", longer)
    assert detect_roles(table)["description"] == "item_description"


@pytest.mark.parametrize("header, kind, role", [
    ("dollar_value", "money", "amount"), ("Net-Sales", "money", "amount"), ("TURNOVER", "money", "amount"),
    ("usd", "money", "amount"), ("GBP total", "money", "amount"), ("number_of_cds", "count", "quantity"),
    ("n_items", "count", "quantity"), ("Pieces", "count", "quantity"),
], ids=lambda value: value if isinstance(value, str) and value not in ("money", "count") else None)
def test_money_and_counts_by_meaning(header, kind, role):
    roles = detect_roles(export_table([("customer", "customer"), ("date", "date"), (header, kind)]))
    assert roles.get(role) == header


@pytest.mark.parametrize("header, kind", [
    ("dollar_value", "name"),  # named for money, but holds words
    ("freight_value", "money"),  # money, but not the sale
    ("number_of_cds", "price"),  # named for a count, but holds decimals
])
def test_the_content_must_back_the_name(header, kind):
    roles = detect_roles(export_table([("customer", "customer"), ("date", "date"), (header, kind)]))
    assert header not in roles.values()


def test_detection_notes_say_what_was_decided():
    from segmentation.columns import detection_notes

    european = export_table(EXPORTS[9][1])
    assert detection_notes(european, resolve_roles(european)) == (
        "`product` read as the product description; `sku` as the product code.",)
    cdnow = export_table(EXPORTS[1][1])
    notes = detection_notes(cdnow, resolve_roles(cdnow))
    assert any(note.startswith("`dollar_value` read as the line amount") for note in notes)
    assert "`number_of_cds` is for information only: money comes from the line amount `dollar_value` " \
           "(there is no unit price)." in notes
    guess = export_table([("customer", "customer"), ("date", "date")]).append_column(
        "value", pa.array(["12.50"] * 36 + ["n/a"] * 4))
    assert resolve_roles(guess)["amount"] == "value"  # the guess is shown ...
    assert detection_notes(guess, resolve_roles(guess)) == ()  # ... an exact alias needs no note
    unsure = guess.rename_columns(["customer", "date", "usd_spent"])
    assert resolve_roles(unsure)["amount"] == "usd_spent"
    assert detection_notes(unsure, resolve_roles(unsure)) == (
        "`usd_spent` guessed as the line amount from its name; some values do not fit, so check the "
        "mapping.",)


@pytest.mark.parametrize("columns, roles, currency", [
    ({"amount": ["£12.50", "£3.00"]}, {"amount": "amount"}, "GBP"),
    ({"Preis": ["12,50 EUR", "3 EUR"]}, {"price": "Preis"}, "EUR"),
    ({"Price (€)": ["12,50", "3"]}, {"price": "Price (€)"}, "EUR"),
    ({"amount_usd": ["12.5", "3"]}, {"amount": "amount_usd"}, "USD"),
    ({"dollar_value": ["12.5", "3"]}, {"amount": "dollar_value"}, "USD"),  # CDNOW's header
    ({"price": ["12.5", "3"], "Currency": ["CHF", "CHF"]}, {"price": "price"}, "CHF"),
    ({"price": ["12.5", "3"], "currency": ["EUR", "USD"]}, {"price": "price"}, None),  # two currencies
    ({"price": ["€12.5", "$3"]}, {"price": "price"}, None),
    ({"UnitPrice": ["2.55", "3.39"]}, {"price": "UnitPrice"}, None),  # UCI: the file does not say
    ({"Total": ["12.5", "3"], "Description": ["USB CABLE", "EUR PLUG"]}, {"amount": "Total"}, None),
], ids=["symbol-in-values", "code-in-values", "symbol-in-header", "code-in-header", "word-in-header",
        "currency-column", "mixed-column", "mixed-symbols", "silent", "code-outside-money"])
def test_currency_is_detected_where_the_file_says_it(columns, roles, currency):
    assert detect_currency(pa.table(columns), roles) == currency


@pytest.mark.parametrize("code, shown", [("GBP", "£"), ("EUR", "€"), ("USD", "$"), ("CHF", "CHF")])
def test_currency_display(code, shown):
    assert currency_display(code) == shown

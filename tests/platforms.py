"""Test files in the published export layouts of five platforms marketers sell on, from generated orders.

Each builder returns a :class:`PlatformFile`: the CSV bytes as the platform writes them, and the
truth it was written from (`orders`: one row per order or payment with who paid, when, its status,
whether it was paid and the money it brought in). Tests compute the expected customers, R, F and M
from `orders` with plain pandas; the product only ever sees the CSV.

Layouts, as each platform documents them (looked up in their own documentation and references):

* Shopify orders export (Admin → Orders → Export, "CSV for Excel, Numbers or other spreadsheet
  programs"): one row per line item; `Name` is the order number (#1001); `Email`, `Created at`
  and the `Lineitem …` columns on every row; order-level fields (`Financial Status`, `Paid at`,
  `Currency`, `Subtotal`, `Total`, `Refunded Amount`, `Billing Country`, `Cancelled at`, ...) on an
  order's first line only. `Created at` is written with the shop's UTC offset
  ("2011-01-04 10:00:00 -0500"). Financial status values: authorized, paid, partially_paid,
  partially_refunded, pending, refunded, voided, expired
  (shopify.dev/docs/api/admin-graphql/latest/enums/OrderDisplayFinancialStatus; column list as in
  the Shopify order export reference, matrixify.app/documentation/orders and
  webtoffee.com/shopify-orders-available-columns-for-export-and-import).
* WooCommerce Customer/Order CSV Export, format "Default - One Row per Item" (order fields repeated on
  each item row; `customer_id` 0 for a guest checkout, identified by `billing_email`; `item_total`
  and `item_refunded` per item; statuses completed, processing, on-hold, pending, cancelled,
  refunded, failed) (woocommerce.com Customer/Order/Coupon Export docs and the plugin's
  `wc_customer_order_csv_export_order_headers` column keys, e.g. gist.github.com/tamarazuk/46e66064a40c4a611397).
  Dates here in ISO 8601 UTC ("2011-05-01T10:51:00Z").
* Stripe Dashboard payments export (Payments → Export, "unified payments"): `id` (ch_…), `Created
  (UTC)`, `Amount` and `Amount Refunded` in major units ("12.50"), `Currency` (usd), `Status` (Paid,
  Failed, Refunded; a partial refund stays Paid with `Amount Refunded` > 0), `Customer ID`,
  `Customer Email`, `Captured`, fees; it includes failed attempts (support.stripe.com/questions/
  exporting-a-report-of-all-transactions: "the payments export includes failed transactions").
* PayPal Activity Download (Activity → Download, CSV "Completed payments"/"All activity"): `Date`
  (MM/DD/YYYY) and `Time` and `TimeZone` separately, `Name`, `Type`, `Status` (Completed, Pending,
  Refunded, Partially Refunded, Denied, Reversed), `Currency`, `Gross`, `Fee`, `Net`, `From Email
  Address`, `To Email Address`, `Transaction ID` (17 characters, may begin with C), `Item Title`,
  `Item ID`, `Quantity`, `Reference Txn ID`; a refund is its own "Payment Refund" row with a negative
  gross (developer.paypal.com/api/nvp-soap/paypal-payments-standard/admin/download-history and the
  Activity Download specification).
* Square transactions export (Dashboard → Transactions → Export → Transactions CSV): `Date`
  (MM/DD/YYYY), `Time`, `Time Zone`, money as "$12.50" and "-$1.00" (`Gross Sales`, `Discounts`,
  `Net Sales`, `Tax`, `Tip`, `Partial Refunds`, `Total Collected`, `Fees`, `Net Total`), `Transaction
  ID`, `Event Type` (Payment, Refund), `Customer ID` (blank for walk-in customers), `Customer Name`,
  `Transaction Status` (squareup.com/help Square Glossary: gross and net sales; Payments API statuses
  COMPLETED, FAILED, CANCELED, APPROVED).

The sizes are small (a few hundred rows) so the tests stay fast.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

SNAPSHOT = date(2012, 1, 1)
PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55), ("71053", "WHITE METAL LANTERN", 3.39),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", 2.75), ("22752", "SET 7 BABUSHKA NESTING BOXES", 7.65),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 4.25), ("22633", "HAND WARMER UNION JACK", 1.85),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69), ("22423", "REGENCY CAKESTAND 3 TIER", 12.75),
    ("47566", "PARTY BUNTING", 4.95), ("85099B", "JUMBO BAG RED RETROSPOT", 2.08),
]
COUNTRIES = ["US", "GB", "FR", "DE", "CA"]


@dataclass(frozen=True)
class PlatformFile:
    name: str  # file name, e.g. "shopify_orders_export.csv"
    data: bytes  # the CSV as the platform writes it
    orders: pd.DataFrame  # truth: customer, order, day, status, paid, money (see module doc)
    customer_column: str
    status_column: str
    money_columns: tuple[str, ...]


def _orders(seed: int, statuses: list[tuple[str, bool, float]], *, n_customers: int = 45) -> pd.DataFrame:
    """Orders of `n_customers` over 2011: each with 1–4 lines, a status drawn from `statuses`
    ((value, paid, weight); a paid value named '*partial*' gets a refund of part of the order)."""
    rng = np.random.default_rng(seed)
    values = [s[0] for s in statuses]
    weights = np.array([s[2] for s in statuses], float)
    rows = []
    number = 1000
    for c in range(n_customers):
        n_orders = int(rng.integers(1, 7))
        minutes = rng.choice(365 * 24 * 60 - 600, size=n_orders, replace=False)  # distinct minutes
        for minute in sorted(minutes):
            number += 1
            at = datetime(2011, 1, 1) + timedelta(minutes=int(minute), seconds=int(rng.integers(0, 60)))
            status = values[rng.choice(len(values), p=weights / weights.sum())]
            paid = dict((s[0], s[1]) for s in statuses)[status]
            lines = []
            for index in rng.choice(len(PRODUCTS), size=int(rng.integers(1, 5)), replace=False):
                code, name, price = PRODUCTS[int(index)]  # one line per product, as shops write them
                lines.append((code, name, int(rng.integers(1, 6)), price))
            gross = round(sum(q * p for _, _, q, p in lines), 2)
            refund = round(gross * float(rng.choice([0.1, 0.25, 0.5])), 2) if "partial" in status.lower() else 0.0
            rows.append({"customer": c, "order": number, "utc": at, "status": status, "paid": paid,
                         "lines": lines, "gross": gross, "refund": refund,
                         "country": COUNTRIES[c % len(COUNTRIES)]})
    return pd.DataFrame(rows)


def _email(c: int, variant: int = 0) -> str:
    """The customer's address, written as people type it: case and stray spaces vary by order."""
    base = f"customer{c}@shop-example.com"
    return [base, base.upper(), f" Customer{c}@Shop-Example.com ", base.capitalize()][variant % 4]


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def _money(value: float) -> str:
    return f"{value:.2f}"


def _dollars(value: float) -> str:  # Square: $1,234.50 and -$1.00
    return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"


# ----------------------------------------------------------------------------- Shopify

SHOPIFY_STATUSES = [("paid", True, 70), ("partially_refunded", True, 8), ("refunded", False, 8),
                    ("voided", False, 5), ("pending", False, 4), ("authorized", False, 3), ("expired", False, 2)]
_OFFSETS = {"US": -5, "CA": -5, "GB": 0, "FR": 1, "DE": 1}


def shopify(seed: int = 11) -> PlatformFile:
    orders = _orders(seed, SHOPIFY_STATUSES)
    rows = []
    for o in orders.itertuples():
        hours = _OFFSETS[o.country]
        local = o.utc + timedelta(hours=hours)
        created = f"{local:%Y-%m-%d %H:%M:%S} {'+' if hours >= 0 else '-'}{abs(hours):02d}00"
        subtotal = o.gross
        for i, (code, name, quantity, price) in enumerate(o.lines):
            first = i == 0
            rows.append({
                "Name": f"#{o.order}", "Email": _email(o.customer, o.order),
                "Financial Status": o.status if first else "",
                "Paid at": created if first and o.paid else "",
                "Fulfillment Status": ("fulfilled" if o.paid else "unfulfilled") if first else "",
                "Accepts Marketing": "no" if first else "", "Currency": "USD" if first else "",
                "Subtotal": _money(subtotal) if first else "", "Shipping": "4.90" if first else "",
                "Taxes": _money(subtotal * 0.08) if first else "",
                "Total": _money(subtotal * 1.08 + 4.9) if first else "",
                "Discount Code": "", "Discount Amount": "0.00" if first else "",
                "Shipping Method": "Standard" if first else "", "Created at": created,
                "Lineitem quantity": quantity, "Lineitem name": name, "Lineitem price": _money(price),
                "Lineitem compare at price": "", "Lineitem sku": code, "Lineitem requires shipping": "true",
                "Lineitem taxable": "true", "Lineitem fulfillment status": "pending",
                "Billing Name": f"Customer {o.customer}" if first else "",
                "Billing Country": o.country if first else "",
                "Shipping Country": o.country if first else "",
                "Cancelled at": created if first and o.status == "voided" else "",
                "Payment Method": "Shopify Payments" if first else "",
                "Refunded Amount": _money(o.refund if o.status == "partially_refunded" else
                                          (subtotal if o.status == "refunded" else 0.0)) if first else "",
                "Vendor": "Gift Shop", "Id": str(4_000_000_000 + o.order) if first else "",
                "Risk Level": "Low" if first else "", "Source": "web" if first else "",
                "Lineitem discount": "0.00",
            })
    orders = orders.assign(customer_key=[_email(c).strip().lower() for c in orders["customer"]],
                           day=[u.date() for u in orders["utc"]],  # UTC: the product converts offsets to UTC
                           money=orders["gross"] - orders["refund"])
    return PlatformFile("shopify_orders_export.csv", _csv(pd.DataFrame(rows)), orders, "Email", "Financial Status",
                        ("Lineitem quantity", "Lineitem price", "Refunded Amount"))


# ----------------------------------------------------------------------------- WooCommerce

WOO_STATUSES = [("completed", True, 60), ("processing", True, 10), ("refunded", False, 8), ("cancelled", False, 6),
                ("failed", False, 6), ("pending", False, 5), ("on-hold", False, 5)]


def woocommerce(seed: int = 12) -> PlatformFile:
    orders = _orders(seed, WOO_STATUSES)
    guests = {c for c in orders["customer"].unique() if c % 3 == 0}  # a third check out as guests
    rows = []
    for o in orders.itertuples():
        customer_id = 0 if o.customer in guests else 100 + o.customer
        refunds = [0.0] * len(o.lines)
        if o.status == "completed" and o.order % 7 == 0:  # a partial refund on the first item
            refunds[0] = round(o.lines[0][2] * o.lines[0][3] / 2, 2)
        for i, (code, name, quantity, price) in enumerate(o.lines):
            rows.append({
                "order_id": 5000 + o.order, "order_number": o.order, "order_date": f"{o.utc:%Y-%m-%dT%H:%M:%SZ}",
                "status": o.status, "shipping_total": "5.00", "shipping_tax_total": "0.00", "fee_total": "0.00",
                "tax_total": _money(o.gross * 0.2), "cart_discount": "0.00", "discount_total": "0.00",
                "order_total": _money(o.gross * 1.2 + 5), "refunded_total": _money(sum(refunds)),
                "order_currency": "EUR", "payment_method": "stripe", "shipping_method": "Flat rate",
                "customer_id": customer_id, "billing_first_name": "Customer", "billing_last_name": str(o.customer),
                "billing_email": _email(o.customer, o.order), "billing_phone": "", "billing_country": o.country,
                "shipping_country": o.country, "customer_note": "",
                "item_id": 90000 + o.order * 10 + i, "item_name": name, "item_sku": code, "item_quantity": quantity,
                "item_subtotal": _money(quantity * price), "item_subtotal_tax": _money(quantity * price * 0.2),
                "item_total": _money(quantity * price), "item_total_tax": _money(quantity * price * 0.2),
                "item_refunded": _money(refunds[i]), "item_refunded_qty": 0,
            })
        orders.loc[orders["order"] == o.order, "refund"] = refunds[0]
    orders = orders.assign(
        customer_key=[_email(c).lower() if c in guests else str(100 + c) for c in orders["customer"]],
        day=[u.date() for u in orders["utc"]], money=orders["gross"] - orders["refund"])
    return PlatformFile("woocommerce_orders.csv", _csv(pd.DataFrame(rows)), orders, "customer_id", "status",
                        ("item_total", "item_refunded"))


# ----------------------------------------------------------------------------- Stripe

STRIPE_STATUSES = [("Paid", True, 72), ("Paid partial", True, 8), ("Refunded", False, 8), ("Failed", False, 12)]


def stripe(seed: int = 13, *, currencies: tuple[str, ...] = ("usd",)) -> PlatformFile:
    """One row per charge; a failed charge is retried minutes later (the retry is what was paid)."""
    orders = _orders(seed, STRIPE_STATUSES)
    rng = np.random.default_rng(seed)
    rows = []

    def charge(o, at, status, amount, refunded, number):
        currency = currencies[number % len(currencies)]
        return {
            "id": f"ch_{number:06d}{'C' if number % 5 == 0 else 'x'}Kq8aZ2eZvKYlo2C", "Description": "Gift shop order",
            "Seller Message": "Payment complete." if status != "Failed" else "The bank declined the payment.",
            "Created (UTC)": f"{at:%Y-%m-%d %H:%M}", "Amount": _money(amount), "Amount Refunded": _money(refunded),
            "Currency": currency, "Converted Amount": _money(amount), "Converted Amount Refunded": _money(refunded),
            "Fee": _money(round(amount * 0.029 + 0.3, 2)) if status != "Failed" else "0.00", "Tax": "0.00",
            "Converted Currency": currency, "Mode": "Live", "Status": status, "Statement Descriptor": "GIFTSHOP",
            "Customer ID": f"cus_{o.customer:04d}Q7hJ2mXa", "Customer Description": f"Customer {o.customer}",
            "Customer Email": _email(o.customer), "Captured": "true" if status != "Failed" else "false",
            "Card ID": f"card_{o.customer:04d}Zx", "Card Last4": "4242", "Card Brand": "Visa",
            "Card Funding": "credit", "Card Exp Month": 12, "Card Exp Year": 2014,
            "Card Address Country": o.country, "Card Issue Country": o.country,
            "Disputed Amount": "", "Dispute Status": "", "Dispute Reason": "", "Dispute Date (UTC)": "",
            "Invoice ID": "", "Payment Source Type": "card", "Destination": "", "Transfer": "",
            "PaymentIntent ID": f"pi_{number:06d}Q",
        }

    n = 0
    for o in orders.itertuples():
        n += 1
        if rng.random() < 0.15:  # a declined attempt a few minutes before the payment that went through
            rows.append(charge(o, o.utc - timedelta(minutes=int(rng.integers(2, 9))), "Failed", o.gross, 0.0, n))
            n += 1
        status = "Paid" if o.status == "Paid partial" else o.status
        refunded = o.refund if o.status == "Paid partial" else (o.gross if o.status == "Refunded" else 0.0)
        rows.append(charge(o, o.utc, status, o.gross, refunded, n))
    orders = orders.assign(customer_key=[f"cus_{c:04d}Q7hJ2mXa" for c in orders["customer"]],
                           day=[u.date() for u in orders["utc"]], money=orders["gross"] - orders["refund"])
    return PlatformFile("stripe_payments.csv", _csv(pd.DataFrame(rows)), orders, "Customer ID", "Status",
                        ("Amount", "Amount Refunded"))


# ----------------------------------------------------------------------------- PayPal

PAYPAL_STATUSES = [("Completed", True, 72), ("Partially Refunded", True, 6), ("Refunded", False, 8),
                   ("Pending", False, 6), ("Denied", False, 4), ("Reversed", False, 4)]
_ALNUM = "ABCDEFGHJKLMNPRSTUVWXY0123456789"


def _paypal_id(rng, first: str | None = None) -> str:
    text = "".join(_ALNUM[int(i)] for i in rng.integers(0, len(_ALNUM), size=17))
    text = text[:7] + "X" + text[8:]  # always a letter inside: never C followed by digits only
    return (first + text[1:]) if first else text


def paypal(seed: int = 14) -> PlatformFile:
    """One row per payment (one item each) and a "Payment Refund" row after each refunded one."""
    orders = _orders(seed, PAYPAL_STATUSES)
    rng = np.random.default_rng(seed)
    rows = []
    days = []
    for k, o in enumerate(orders.itertuples()):
        local = o.utc - timedelta(hours=8)  # the account's time zone, PST, as written in the file
        days.append(local.date())
        code, name, _, _ = o.lines[0]
        quantity = sum(q for _, _, q, _ in o.lines)
        transaction = _paypal_id(rng, "C" if k % 4 == 0 else None)  # ids beginning with C are no cancellations
        fee = round(o.gross * 0.034 + 0.3, 2)
        base = {"Date": f"{local:%m/%d/%Y}", "Time": f"{local:%H:%M:%S}", "TimeZone": "PST",
                "Currency": "USD", "Shipping Address": "", "Address Status": "Confirmed",
                "Item Title": name, "Item ID": code, "Shipping and Handling Amount": "0.00", "Insurance Amount": "",
                "Sales Tax": "0.00", "Invoice Number": "", "Custom Number": "", "Quantity": quantity,
                "Receipt ID": "", "Balance": "", "Country": o.country, "Contact Phone Number": "",
                "Subject": "", "Note": "", "Balance Impact": "Credit"}
        rows.append({**base, "Name": f"Customer {o.customer}", "Type": "Express Checkout Payment", "Status": o.status,
                     "Gross": f"{o.gross:,.2f}", "Fee": f"{-fee:,.2f}", "Net": f"{o.gross - fee:,.2f}",
                     "From Email Address": _email(o.customer, o.order), "To Email Address": "sales@giftshop.example",
                     "Transaction ID": transaction, "Reference Txn ID": ""})
        refund = o.gross if o.status == "Refunded" else (o.refund if o.status == "Partially Refunded" else 0.0)
        if refund:
            later = local + timedelta(days=int(rng.integers(1, 10)))
            rows.append({**base, "Date": f"{later:%m/%d/%Y}", "Time": f"{later:%H:%M:%S}", "Name": "Gift Shop",
                         "Type": "Payment Refund", "Status": "Completed", "Gross": f"{-refund:,.2f}", "Fee": "0.00",
                         "Net": f"{-refund:,.2f}", "From Email Address": "sales@giftshop.example",
                         "To Email Address": _email(o.customer), "Transaction ID": _paypal_id(rng),
                         "Reference Txn ID": transaction, "Balance Impact": "Debit", "Item Title": "",
                         "Item ID": ""})
    columns = ["Date", "Time", "TimeZone", "Name", "Type", "Status", "Currency", "Gross", "Fee", "Net",
               "From Email Address", "To Email Address", "Transaction ID", "Shipping Address", "Address Status",
               "Item Title", "Item ID", "Shipping and Handling Amount", "Insurance Amount", "Sales Tax",
               "Reference Txn ID", "Invoice Number", "Custom Number", "Quantity", "Receipt ID", "Balance",
               "Country", "Contact Phone Number", "Subject", "Note", "Balance Impact"]
    # A partial refund is its own negative row: the payment counts at its gross (see README).
    orders = orders.assign(customer_key=[_email(c).lower() for c in orders["customer"]], day=days,
                           money=orders["gross"])
    return PlatformFile("paypal_activity.csv", _csv(pd.DataFrame(rows)[columns]), orders, "From Email Address",
                        "Status", ("Gross",))


# ----------------------------------------------------------------------------- Square

SQUARE_STATUSES = [("Complete", True, 72), ("Complete partial", True, 8), ("Complete refunded", True, 6),
                   ("Failed", False, 6), ("Canceled", False, 5), ("Pending", False, 3)]


def square(seed: int = 15) -> PlatformFile:
    """One row per payment and one per refund; a refund also shows in the payment's `Partial Refunds`.
    A tenth of the payments are walk-ins without a Customer ID."""
    orders = _orders(seed, SQUARE_STATUSES)
    rng = np.random.default_rng(seed)
    rows = []
    days, refunds, keys = [], [], []
    for o in orders.itertuples():
        local = o.utc - timedelta(hours=8)
        days.append(local.date())
        walk_in = o.order % 10 == 0
        keys.append(None if walk_in else f"QZ{o.customer:04d}GJ3CD5HK8WRB4ZB8KRK")
        discount = round(o.gross * 0.05, 2) if o.order % 3 == 0 else 0.0
        net = round(o.gross - discount, 2)
        refund = round(net * 0.3, 2) if o.status == "Complete partial" else (net if o.status == "Complete refunded"
                                                                              else 0.0)
        refunds.append(refund)
        status = o.status.split()[0]
        tax = round(net * 0.0875, 2)
        base = {"Time Zone": "Pacific Time (US & Canada)", "Source": "Square Point of Sale", "Card": "",
                "Card Entry Methods": "Contactless", "Cash": "$0.00", "Square Gift Card": "$0.00",
                "Other Tender": "$0.00", "Other Tender Type": "", "Other Tender Note": "",
                "Transaction ID": f"{int(rng.integers(10**9, 10**10))}TX{o.order}",
                "Card Brand": "Visa", "PAN Suffix": "1111", "Device Name": "Counter 1", "Staff Name": "Alex",
                "Staff ID": "TM1", "Details": "", "Description": ", ".join(f"{q} x {n}" for _, n, q, _ in o.lines),
                "Location": "Main Street", "Dining Option": "", "Customer ID": "" if walk_in else keys[-1],
                "Customer Name": "" if walk_in else f"Customer {o.customer}", "Customer Reference ID": "",
                "Device Nickname": "", "Deposit ID": "", "Deposit Date": "", "Deposit Details": "",
                "Fee Percentage Rate": "2.6", "Fee Fixed Rate": "$0.10", "Refund Reason": "",
                "Discount Name": "Loyalty 5%" if discount else "", "Channel": "Point of Sale"}
        fee = round(net * 0.026 + 0.1, 2) if status == "Complete" else 0.0
        rows.append({**base, "Date": f"{local:%m/%d/%Y}", "Time": f"{local:%H:%M:%S}",
                     "Gross Sales": _dollars(o.gross), "Discounts": _dollars(-discount), "Service Charges": "$0.00",
                     "Net Sales": _dollars(net), "Gift Card Sales": "$0.00", "Tax": _dollars(tax), "Tip": "$0.00",
                     "Partial Refunds": _dollars(-refund), "Total Collected": _dollars(net + tax - refund),
                     "Fees": _dollars(-fee), "Net Total": _dollars(net + tax - refund - fee),
                     "Payment ID": f"pay{o.order}", "Event Type": "Payment", "Transaction Status": status})
        if refund:
            later = local + timedelta(days=int(rng.integers(1, 5)))
            rows.append({**base, "Date": f"{later:%m/%d/%Y}", "Time": f"{later:%H:%M:%S}",
                         "Gross Sales": _dollars(-refund), "Discounts": "$0.00", "Service Charges": "$0.00",
                         "Net Sales": _dollars(-refund), "Gift Card Sales": "$0.00", "Tax": "$0.00", "Tip": "$0.00",
                         "Partial Refunds": "$0.00", "Total Collected": _dollars(-refund), "Fees": "$0.00",
                         "Net Total": _dollars(-refund), "Payment ID": f"ref{o.order}", "Event Type": "Refund",
                         "Transaction Status": "Complete", "Refund Reason": "Returned goods",
                         "Transaction ID": base["Transaction ID"] + "R"})
    columns = ["Date", "Time", "Time Zone", "Gross Sales", "Discounts", "Service Charges", "Net Sales",
               "Gift Card Sales", "Tax", "Tip", "Partial Refunds", "Total Collected", "Source", "Card",
               "Card Entry Methods", "Cash", "Square Gift Card", "Other Tender", "Other Tender Type",
               "Other Tender Note", "Fees", "Net Total", "Transaction ID", "Payment ID", "Card Brand", "PAN Suffix",
               "Device Name", "Staff Name", "Staff ID", "Details", "Description", "Event Type", "Location",
               "Dining Option", "Customer ID", "Customer Name", "Customer Reference ID", "Device Nickname",
               "Deposit ID", "Deposit Date", "Deposit Details", "Fee Percentage Rate", "Fee Fixed Rate",
               "Refund Reason", "Discount Name", "Transaction Status", "Channel"]
    discounts = [round(g * 0.05, 2) if n % 3 == 0 else 0.0 for g, n in zip(orders["gross"], orders["order"])]
    money = [round(g - d - r, 2) for g, d, r in zip(orders["gross"], discounts, refunds)]
    # A payment refunded in full brings in nothing: it does not count (its money nets to zero).
    orders = orders.assign(customer_key=keys, day=days, money=money,
                           paid=orders["paid"] & (pd.Series(money) > 0).to_numpy())
    return PlatformFile("square_transactions.csv", _csv(pd.DataFrame(rows)[columns]), orders, "Customer ID",
                        "Transaction Status", ("Net Sales", "Partial Refunds"))


BUILDERS = {"shopify": shopify, "woocommerce": woocommerce, "stripe": stripe, "paypal": paypal, "square": square}


def expected_customers(orders: pd.DataFrame, snapshot: date = SNAPSHOT) -> pd.DataFrame:
    """customer_id, recency, frequency, monetary from the paid orders alone (plain pandas)."""
    paid = orders[orders["paid"] & orders["customer_key"].notna()]
    grouped = paid.groupby("customer_key").agg(last=("day", "max"), frequency=("order", "nunique"),
                                               monetary=("money", "sum"))
    return pd.DataFrame({
        "customer_id": grouped.index.astype(str),
        "recency": [(snapshot - day).days for day in grouped["last"]],
        "frequency": grouped["frequency"].astype("int64").to_numpy(),
        "monetary": grouped["monetary"].round(2).to_numpy(),
    }).sort_values("customer_id").reset_index(drop=True)

"""Raw transactions (as a user's table holds them) with the cases engines tend to get wrong."""
from __future__ import annotations

from datetime import datetime

import pyarrow as pa

ROLES = {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
         "invoice": "InvoiceNo", "product": "StockCode", "description": "Description", "country": "Country",
         "email": "Email"}

# (CustomerID, InvoiceNo, InvoiceDate, Quantity, UnitPrice, StockCode, Description, Country)
ROWS = [
    # a plain customer, one duplicated line (counted once under 'duplicate')
    ("12346", "536365", "2011-01-18 10:01:00", 6, 2.55, "85123A", "WHITE HANGING HEART", "United Kingdom"),
    ("12346", "536365", "2011-01-18 10:01:00", 6, 2.55, "85123A", "WHITE HANGING HEART", "United Kingdom"),
    ("12346", "536366", "2011-12-09 12:50:00", 2, 1.85, "22633", "HAND WARMER", "United Kingdom"),
    # a customer whose every invoice is cancelled: no customer row
    ("12347", "C536379", "2011-05-02 09:41:00", -1, 27.5, "D", "Discount", "Iceland"),
    ("12347", "C536383", "2011-05-03 09:49:00", -3, 4.65, "35004C", "SET OF 3 COLOURED FLYING DUCKS", "Iceland"),
    # zero price (free sample) and a negative-quantity line on an uncancelled invoice
    ("12348", "536370", "2011-09-25 13:13:00", 24, 0.0, "POST", "POSTAGE", "Finland"),
    ("12348", "536371", "2011-09-25 13:14:00", 12, 0.85, "22728", "ALARM CLOCK BAKELIKE PINK", "Finland"),
    ("12348", "536372", "2011-09-26 08:00:00", -2, 0.85, "22728", "ALARM CLOCK BAKELIKE PINK", "Finland"),
    # missing customer: blank, spaces, null
    (None, "536414", "2011-12-01 11:52:00", 56, 0.0, "22139", None, "United Kingdom"),
    ("", "536415", "2011-12-01 11:57:00", 1, 3.75, "22898", "CHILDRENS APRON APPLES DESIGN", "United Kingdom"),
    ("   ", "536416", "2011-12-01 11:58:00", 1, 3.75, "22898", "  ", "United Kingdom"),
    # tiny prices: one sums to a positive total, one rounds to 0 units and the customer drops
    ("12349", "536420", "2011-11-21 09:51:00", 1, 0.001, "PADS", "PADS TO MATCH ALL CUSHIONS", "Italy"),
    ("12349", "536421", "2011-11-21 09:52:00", 3, 0.001, "PADS", "PADS TO MATCH ALL CUSHIONS", "Italy"),
    ("12350", "536422", "2011-02-02 16:01:00", 1, 0.0000001, "PADS", "PADS TO MATCH ALL CUSHIONS", "Norway"),
    # clock-change weekends (UK and EU: 2011-03-27 01:00 → 02:00, 2011-10-30 02:00 → 01:00)
    ("12351", "536430", "2011-03-26 23:30:00", 1, 10.0, "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "France"),
    ("12351", "536431", "2011-03-27 01:30:00", 1, 10.0, "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "France"),
    ("12351", "536432", "2011-03-27 02:30:00", 1, 10.0, "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "France"),
    ("12352", "536433", "2011-10-30 00:59:00", 2, 5.0, "22752", "SET 7 BABUSHKA NESTING BOXES", "Germany"),
    ("12352", "536434", "2011-10-30 01:30:00", 2, 5.0, "22752", "SET 7 BABUSHKA NESTING BOXES", "Germany"),
    ("12352", "536435", "2011-10-30 23:59:59", 2, 5.0, "22752", "SET 7 BABUSHKA NESTING BOXES", "Germany"),
    # ids as exports write them: float form, padding; same customer 12353 three ways
    ("12353.0", "536440", "2011-08-01 10:00:00", 1, 1.25, "84879", " ASSORTED COLOUR BIRD ORNAMENT ", " Spain "),
    (" 12353 ", "536441.0", "2011-08-02 10:00:00", 1, 1.25, "84879", "ASSORTED COLOUR BIRD ORNAMENT", "Spain"),
    ("12353", "c536442", "2011-08-03 10:00:00", -1, 1.25, "84879", "ASSORTED COLOUR BIRD ORNAMENT", "Spain"),
    # returns netting a customer to zero
    ("12354", "536450", "2011-04-04 10:00:00", 5, 2.0, "22423", "REGENCY CAKESTAND 3 TIER", "Belgium"),
    ("12354", "536451", "2011-04-05 10:00:00", -5, 2.0, "22423", "REGENCY CAKESTAND 3 TIER", "Belgium"),
    # the last purchase in the data (snapshot = next day), at the last second of the year's last day
    ("12355", "536460", "2011-12-09 23:59:59", 1, 99.99, "M", "Manual", "Australia"),
]


# Email per row (index into ROWS); the rest have none. Each customer's most recent non-blank
# email of the kept rows is carried: EXPECTED_EMAILS.
EMAILS = {
    0: "old@shop.example", 1: "old@shop.example", 2: "   ",  # 12346: the latest is blank → the older one
    14: "a@x.example", 16: "b@x.example",  # 12351: the latest wins
    20: "first@x.example", 21: " Second@X.example ", 22: "cancel@x.example",  # 12353: a cancelled line's is not
    25: "last@x.example",
}
EXPECTED_EMAILS = {"12346": "old@shop.example", "12348": None, "12349": None, "12351": "b@x.example",
                   "12352": None, "12353": "Second@X.example", "12354": None, "12355": "last@x.example"}


def raw_table(id_type: str = "text") -> pa.Table:
    """The rows with typed columns; ``id_type`` 'float' stores CustomerID as float64 (as pandas exports do)."""
    ids = [row[0] for row in ROWS]
    if id_type == "float":
        ids_array = pa.array([float(i) if i and i.strip() else None for i in ids], type=pa.float64())
    else:
        ids_array = pa.array(ids, type=pa.string())
    return pa.table({
        "InvoiceNo": pa.array([row[1] for row in ROWS], type=pa.string()),
        "StockCode": pa.array([row[5] for row in ROWS], type=pa.string()),
        "Description": pa.array([row[6] for row in ROWS], type=pa.string()),
        "Quantity": pa.array([row[3] for row in ROWS], type=pa.int64()),
        "InvoiceDate": pa.array([datetime.fromisoformat(row[2]) for row in ROWS], type=pa.timestamp("us")),
        "UnitPrice": pa.array([row[4] for row in ROWS], type=pa.float64()),
        "CustomerID": ids_array,
        "Country": pa.array([row[7] for row in ROWS], type=pa.string()),
        "Email": pa.array([EMAILS.get(i) for i in range(len(ROWS))], type=pa.string()),
    })


UNMAPPED_ROWS = 100


def unmapped_rows_table() -> pa.Table:
    """UNMAPPED_ROWS lines alike in every mapped column that differ only in an unmapped one (`LineNo`,
    as a line number does), plus an unmapped `Channel` that is the same everywhere: whole rows differ,
    so none of them is a duplicate."""
    n = UNMAPPED_ROWS
    return pa.table({
        "InvoiceNo": pa.array(["536365"] * n, type=pa.string()),
        "StockCode": pa.array(["85123A"] * n, type=pa.string()),
        "Description": pa.array(["WHITE HANGING HEART"] * n, type=pa.string()),
        "Quantity": pa.array([6] * n, type=pa.int64()),
        "InvoiceDate": pa.array([datetime(2011, 1, 18, 10, 1)] * n, type=pa.timestamp("us")),
        "UnitPrice": pa.array([2.55] * n, type=pa.float64()),
        "CustomerID": pa.array(["12346"] * n, type=pa.string()),
        "Country": pa.array(["United Kingdom"] * n, type=pa.string()),
        "Email": pa.array(["12346@shop.example"] * n, type=pa.string()),  # mapped (ROLES), the same everywhere
        "LineNo": pa.array(range(1, n + 1), type=pa.int64()),
        "Channel": pa.array(["web"] * n, type=pa.string()),
    })


def assert_no_line_dropped(prepared) -> None:
    """What unmapped_rows_table must give on every engine: 100 lines kept, none a duplicate."""
    assert prepared.audit.dropped["duplicate"] == 0
    assert (prepared.audit.rows_in, prepared.audit.rows_kept) == (UNMAPPED_ROWS, UNMAPPED_ROWS)
    assert prepared.customers["monetary"].tolist() == [round(UNMAPPED_ROWS * 6 * 2.55, 6)]


# A shop export in miniature (Shopify's layout): the customer is an e-mail address written in
# several ways, order-level fields (status, country, currency) only on an order's first line, a
# partial refund, a payment id beginning with "ch_" (no cancellation) next to a real cancellation,
# a failed attempt retried, and a status value nobody knows.
PLATFORM_ROLES = {"customer": "Email", "date": "Created at", "quantity": "Lineitem quantity",
                  "price": "Lineitem price", "invoice": "Name", "country": "Billing Country",
                  "status": "Financial Status", "refunded": "Refunded Amount", "currency": "Currency"}
# (Name, Email, Financial Status, Created at, Lineitem quantity, Lineitem price, Refunded Amount, Billing Country)
PLATFORM_ROWS = [
    ("#1001", "a@x.example", "paid", "2011-01-04 10:00:00", 2, 5.0, 0.0, "US"),
    ("#1001", "a@x.example", None, "2011-01-04 10:00:00", 1, 3.0, None, None),
    ("#1002", "A@X.example", "refunded", "2011-02-01 09:00:00", 1, 7.0, 7.0, "US"),
    ("#1003", " a@x.example", "partially_refunded", "2011-03-01 23:30:00", 3, 4.0, 2.0, "US"),
    ("#1003", "a@x.example", None, "2011-03-01 23:30:00", 1, 1.0, None, None),
    ("ch_1C002", "b@y.example", "failed", "2011-03-02 00:00:00", 1, 20.0, 0.0, "FR"),
    ("ch_1C003", "b@y.example", "Paid", "2011-03-02 00:05:00", 1, 20.0, 0.0, "FR"),
    ("C536379", "b@y.example", "paid", "2011-03-05 12:00:00", 1, 20.0, 0.0, "FR"),
    ("#1004", "c@z.example", "pending", "2011-04-01 08:00:00", 1, 9.0, 0.0, "DE"),
    ("#1005", "c@z.example", "on its way", "2011-04-02 08:00:00", 1, 6.0, 0.0, "DE"),
]
# Worked by hand: a@x.example paid #1001 (2×5 + 3 = 13) and #1003 (3×4 + 1 − 2 refunded = 11); b@y.example
# paid ch_1C003 (its failed attempt and the cancelled C536379 do not count); c@z.example's unknown
# status is kept. The snapshot is the day after the last kept purchase, 2011-04-03.
EXPECTED_PLATFORM = {"a@x.example": (33, 2, 24.0), "b@y.example": (32, 1, 20.0), "c@z.example": (1, 1, 6.0)}
EXPECTED_PLATFORM_STATUSES = [("paid", "counted as paid", 3), ("partially_refunded", "counted as paid", 2),
                              ("Paid", "counted as paid", 1), ("failed", "not paid: removed", 1),
                              ("pending", "not paid: removed", 1), ("refunded", "not paid: removed", 1),
                              ("on its way", "not recognised: kept", 1)]


def platform_table() -> pa.Table:
    rows = PLATFORM_ROWS
    return pa.table({
        "Name": pa.array([r[0] for r in rows], pa.string()),
        "Email": pa.array([r[1] for r in rows], pa.string()),
        "Financial Status": pa.array([r[2] for r in rows], pa.string()),
        "Created at": pa.array([datetime.fromisoformat(r[3]) for r in rows], pa.timestamp("us")),
        "Lineitem quantity": pa.array([r[4] for r in rows], pa.int64()),
        "Lineitem price": pa.array([r[5] for r in rows], pa.float64()),
        "Refunded Amount": pa.array([r[6] for r in rows], pa.float64()),
        "Billing Country": pa.array([r[7] for r in rows], pa.string()),
        "Currency": pa.array(["USD" if r[7] else None for r in rows], pa.string()),
    })


def assert_platform_result(prepared) -> None:
    """What platform_table must give on every engine."""
    got = {row.customer_id: (int(row.recency), int(row.frequency), round(float(row.monetary), 2))
           for row in prepared.customers.itertuples()}
    assert got == EXPECTED_PLATFORM
    dropped = prepared.audit.dropped
    assert (dropped["not_paid"], dropped["cancelled"]) == (3, 1)
    assert (prepared.audit.rows_in, prepared.audit.rows_kept) == (10, 6)
    assert list(prepared.audit.statuses.itertuples(index=False, name=None)) == EXPECTED_PLATFORM_STATUSES

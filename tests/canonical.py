"""Build small canonical transaction tables by hand (see docs/ARCHITECTURE.md)."""
from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from segmentation.schema import CANONICAL_SCHEMA

COLUMNS = tuple(CANONICAL_SCHEMA.names)  # the canonical schema's mapped columns
TYPES = tuple(CANONICAL_SCHEMA.types)
ROLES_QP = {"customer": "CustomerID", "date": "InvoiceDate", "quantity": "Quantity", "price": "UnitPrice",
            "invoice": "InvoiceNo", "product": "StockCode", "description": "Description", "country": "Country"}
ROLES_AMOUNT = {"customer": "client", "date": "date", "amount": "total"}


def line(customer, invoice, when, quantity=1.0, price=1.0, *, amount=None, product="P1",
         description="Mug", country="United Kingdom", email=None):
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    given = (customer, invoice, when, quantity, price, amount, product, description, country, email)
    return given + (None,) * (len(COLUMNS) - len(given))  # the optional roles (status, refunded, ...) not drawn


def table(*lines) -> pa.Table:
    return pa.table({name: pa.array([row[i] for row in lines], type=kind)
                     for i, (name, kind) in enumerate(zip(COLUMNS, TYPES))})

"""Helpers for the AppTest tests: the checked app, small hand-made transaction files, element lookups.

Every app test (tests/app, tests/hostile) builds its app with :func:`new_app`: after *every* run —
``at.run()``, ``widget.set_value(...).run()``, ``button.click().run()`` — it asserts there was no
exception and no ``st.error`` element. A test that provokes an error on purpose says so around the
runs that may show one: ``with at.expecting_errors(): ...`` (an exception still fails the run), and
then asserts which error it saw.
"""
from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # seconds per run: the first run computes the demo data's K scan


class CheckedApp(AppTest):
    """An AppTest whose every run fails the test on an exception, or on an error element unless expected."""

    _errors_expected = False

    def _run(self, widget_state=None, timeout=None) -> AppTest:  # every run (widgets call it too) ends here
        at = super()._run(widget_state, timeout)
        assert not self.exception, [e.value for e in self.exception]
        if not self._errors_expected:
            assert not self.error, [e.value for e in self.error]
        return at

    @contextlib.contextmanager
    def expecting_errors(self) -> Iterator[CheckedApp]:
        """Runs inside may show st.error (the test asserts which); an exception still fails them."""
        before, self._errors_expected = self._errors_expected, True
        try:
            yield self
        finally:
            self._errors_expected = before


def new_app(*, timeout: float = TIMEOUT) -> CheckedApp:
    """The app after its first run (on the demo data), checked after every run."""
    return CheckedApp(REPO / "app.py", default_timeout=timeout).run()


def transactions(n_customers: int = 40, seed: int = 1, *, evil: bool = False) -> pd.DataFrame:
    """Online-Retail-shaped lines: customers in three countries over six months, with dirt to clean."""
    rng = np.random.default_rng(seed)
    rows = []
    invoice = 500000
    countries = ["United Kingdom", "France", "Germany"]
    for c in range(n_customers):
        customer = f"{12000 + c}"
        country = countries[c % 3]
        n_orders = int(rng.integers(1, 12))
        for _ in range(n_orders):
            invoice += 1
            offset = pd.Timedelta(days=int(rng.integers(0, 181)), hours=int(rng.integers(8, 18)))
            day = pd.Timestamp("2023-01-01") + offset
            for line in range(int(rng.integers(1, 4))):
                rows.append({
                    "InvoiceNo": str(invoice), "StockCode": f"P{line + int(rng.integers(0, 6))}",
                    "Description": f"Product {line}", "Quantity": int(rng.integers(1, 20)),
                    "InvoiceDate": day.strftime("%Y-%m-%d %H:%M"),
                    "UnitPrice": round(float(rng.uniform(0.5, 30) * (1 + c % 5)), 2),
                    "CustomerID": customer, "Country": country,
                })
    # A customer whose only line is free: removed (zero price, or zero total when that rule is off).
    rows.append({**rows[0], "InvoiceNo": str(invoice + 1), "CustomerID": "19999", "InvoiceDate": "2023-05-05 10:00",
                 "UnitPrice": 0.0})
    frame = pd.DataFrame(rows)
    extra = [
        {**rows[0], "InvoiceNo": "C" + rows[0]["InvoiceNo"], "Quantity": -rows[0]["Quantity"]},  # cancellation
        {**rows[1], "CustomerID": ""},  # guest purchase
        rows[2],  # exact duplicate
        {**rows[3], "UnitPrice": 0.0},  # free item
    ]
    if evil:
        extra.append({**rows[4], "CustomerID": "<script>alert(1)</script>",
                      "Description": "[click](javascript:alert(1))",
                      "Country": "<img src=x onerror=alert(2)>"})
    return pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)


def to_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def by_key_prefix(elements, prefix: str):
    """The one widget whose key starts with ``prefix`` (widget keys carry the file digest)."""
    found = [e for e in elements if e.key and e.key.startswith(prefix)]
    assert len(found) == 1, f"{len(found)} widgets with key prefix {prefix!r}: {[e.key for e in elements]}"
    return found[0]


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.switch_page("views/data.py").run()
    at.file_uploader(key="w_upload").set_value((name, data, mime)).run()
    return at


def results(at: AppTest):
    return at.session_state["seg_results"]


def texts(at: AppTest) -> str:
    """All Markdown, captions, errors and infos of the last run, main area and sidebar."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "info", "success", "warning", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
        parts += [str(e.value) for e in getattr(at.sidebar, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(parts))  # as read on screen: Markdown escapes removed


FORMULA_ID = '=HYPERLINK("http://x","y")'


def demo_with_a_lapsed_customer(rows: int = 20_000, seed: int = 5) -> bytes:
    """A smaller demo shop as CSV (its customers drop out, so BG/NBD has something to fit), plus the
    biggest spender of all, named like a spreadsheet formula, whose six purchases were all in
    January 2011: valuable, and almost surely no longer active."""
    from segmentation import pipeline

    lines = pipeline.demo_file(rows, seed=seed).table.to_pandas()
    first = lines.iloc[0].to_dict()
    lapsed = [{**first, "InvoiceNo": str(900000 + i), "CustomerID": FORMULA_ID, "UnitPrice": 400.0, "Quantity": 10,
               "InvoiceDate": pd.Timestamp(f"2011-01-{2 + 3 * i:02d} 10:00")} for i in range(6)]
    return to_csv(pd.concat([lines, pd.DataFrame(lapsed)], ignore_index=True))

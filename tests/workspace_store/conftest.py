"""The workspace store on both databases it supports: embedded SQLite in a temp folder, and a fresh
database on the throwaway PostgreSQL server the suite already starts (tests/engines/postgres.py)."""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from segmentation import saved
from segmentation.scoring import add_rfm_scores
from segmentation.segments import segment_customers
from tests.test_model import planted_customers
from workspace import Store, open_store

REPO = Path(__file__).resolve().parents[2]
STORE_PASSWORD = "st0re:p@ss/word"
_databases = itertools.count(1)


def sqlite_url(folder) -> str:
    return f"sqlite:///{folder / 'workspace.sqlite3'}"


def postgres_url(pg_server) -> str:
    """A new empty database owned by a login role of its own (not the superuser)."""
    name = f"workspace_{next(_databases)}"
    with pg_server.admin() as con:
        if con.execute("SELECT 1 FROM pg_roles WHERE rolname = 'keeper'").fetchone() is None:
            con.execute(f"CREATE ROLE keeper LOGIN PASSWORD '{STORE_PASSWORD}'")
        con.execute(f"CREATE DATABASE {name} OWNER keeper")
    return pg_server.url(user="keeper", password=STORE_PASSWORD, database=name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return postgres_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    opened = open_store(store_url, quota_mb=1)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def segmentation_json() -> str:
    """A real saved segmentation (segmentation/saved.py's JSON) of hand-planted customers, K = 4."""
    customers = add_rfm_scores(planted_customers().drop(columns="planted"))
    fitted = segment_customers(customers, k=4, seed=42)
    return saved.from_segmentation(fitted, snapshot=pd.Timestamp("2011-12-10").date(), seed=42,
                                   roles={"customer": "CustomerID"}, rows_in=1234).to_json()

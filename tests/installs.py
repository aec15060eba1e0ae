"""An install of the app without the workspace's packages (``pip install '.[app]'``, no ``team`` extra),
simulated in this process: SQLAlchemy, Alembic and Authlib cannot be imported for one test."""
from __future__ import annotations

import sys

import pytest

TEAM_MODULES = ("sqlalchemy", "alembic", "authlib")  # the distribution's `team` extra


@pytest.fixture
def without_team_packages(monkeypatch):
    """``import sqlalchemy`` (``alembic``, ``authlib``) raises ImportError, as where they are not installed:
    a None entry in sys.modules for each, their already imported submodules taken out (so
    ``from sqlalchemy.engine import …`` fails too); everything is put back after the test."""
    for name in [name for name in sys.modules if name.split(".")[0] in TEAM_MODULES]:
        monkeypatch.delitem(sys.modules, name)
    for name in TEAM_MODULES:
        monkeypatch.setitem(sys.modules, name, None)
    yield

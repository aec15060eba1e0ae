"""The Data page's "Connect to a database" against a real throwaway PostgreSQL server: connect,
pick a table, see segments; wrong password and a missing table show an error without the password
and keep the previous data."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from segmentation import sources
from segmentation.demo import demo_transactions
from tests.app.app_helpers import results, texts
from tests.engines.postgres import READER_PASSWORD
from ui.sources import TableSource

pytestmark = pytest.mark.xdist_group("postgres")

PAGES = ["views/data.py", "views/choose_k.py", "views/segments.py", "views/customers.py"]
WRONG_PASSWORD = "Wr0ng:pw@secret"


@pytest.fixture(scope="module")
def sales(pg_server):
    pg_server.load_arrow("app_sales", demo_transactions(3000, seed=7))
    con = sources.connect_postgres(pg_server.url())
    try:
        table = sources.open_table(con, "app_sales")
        customers = len(sources.prepare_table(table, sources.table_roles(table)).customers)
    finally:
        con.disconnect()
    assert customers > 0
    return customers


def no_secret(text: str, password: str) -> None:
    for secret in (password, quote(password, safe=""), "s3cret", "secret"):
        assert secret not in text


def connect(at, url: str):
    at.switch_page("views/data.py").run()
    at.text_input(key="w_db_url").input(url)
    at.button(key="w_db_connect").click().run()
    assert not at.exception, at.exception
    return at


def use_table(at, name: str):
    at.selectbox(key="w_db_table").select(name)
    at.button(key="w_db_use").click().run()
    assert not at.exception, at.exception
    return at


def test_connect_pick_a_table_and_see_segments(app, pg_server, sales):
    connect(app, pg_server.url())
    assert not app.error, [e.value for e in app.error]
    assert app.text_input(key="w_db_url").value == ""  # the URL is not kept in the field
    assert "app_sales" in app.selectbox(key="w_db_table").options
    use_table(app, "app_sales")
    assert not app.error, [e.value for e in app.error]
    outcome = results(app)
    assert isinstance(outcome.spec.source, TableSource) and not outcome.stale
    assert len(outcome.prepared.customers) == sales
    assert READER_PASSWORD not in repr(outcome.spec.key())
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, app.exception
        assert results(app).spec.source.table == "app_sales"
        assert "app_sales" in texts(app)
        no_secret(texts(app), READER_PASSWORD)


def test_wrong_password_and_missing_table_keep_the_previous_data(app, pg_server, sales):
    pg_server.load_arrow("app_gone", demo_transactions(300, seed=3))
    use_table(connect(app, pg_server.url()), "app_sales")
    before = results(app)
    assert before.spec.source.table == "app_sales"

    with app.expecting_errors():
        connect(app, pg_server.url(password=WRONG_PASSWORD))
    assert len(app.error) == 1
    message = app.error[0].value
    assert "previous data is still in use" in message
    no_secret(texts(app), WRONG_PASSWORD)
    no_secret(texts(app), READER_PASSWORD)
    assert results(app).spec == before.spec and not results(app).stale

    with pg_server.admin() as admin:  # listed when connected, gone when picked
        admin.execute('DROP TABLE "app_gone"')
    with app.expecting_errors():
        use_table(app, "app_gone")
    assert len(app.error) == 1
    assert "previous data is still in use" in app.error[0].value and "'app_gone' was not found" in texts(app)
    no_secret(texts(app), READER_PASSWORD)
    after = results(app)
    assert after.spec == before.spec and len(after.prepared.customers) == sales
    app.switch_page("views/segments.py").run()
    assert not app.exception and results(app).spec.source.table == "app_sales"


def test_changes_and_outlook_clean_the_table_again_in_the_database(app, pg_server, sales):
    """The pages that query the purchases again get them from the table on this session's connection
    (TableSource.transactions), not from the first rows the Data page shows."""
    use_table(connect(app, pg_server.url()), "app_sales")
    for page in ("views/changes.py", "views/outlook.py"):
        app.switch_page(page).run()
        assert not app.exception, app.exception
        assert not app.error, [e.value for e in app.error]
        assert app.get("plotly_chart"), page
        no_secret(texts(app), READER_PASSWORD)

"""The dashboard through streamlit.testing.v1.AppTest: every page, upload, mapping, filters, K, errors."""
from __future__ import annotations

import io
import re
import tomllib
from datetime import date

import pandas as pd
import pytest

from segmentation import columns, pipeline, reading
from segmentation.errors import MappingError, SegmenterError
from segmentation.settings import MAX_UPLOAD_MB, SWITCHABLE_RULES, CleaningSettings
from tests.app.app_helpers import REPO, by_key_prefix, results, texts, to_csv, transactions, upload
from ui.sources import DEMO, FileSource

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGES = ["views/data.py", "views/choose_k.py", "views/segments.py", "views/customers.py"]


def expected_customers(data: bytes, name: str = "shop.csv", **prepare_args) -> int:
    loaded = reading.read_file(data, filename=name)
    roles = columns.resolve_roles(loaded.table, {})
    return len(pipeline.prepare(loaded, roles, **prepare_args).customers)


# ------------------------------------------------------------------------------------------
# layout and configuration
# ------------------------------------------------------------------------------------------
def test_no_pages_folder_next_to_app():
    """A pages/ folder would switch Streamlit to legacy multipage mode on a fresh server's first
    request, and a deep link would run the page without app.py's sidebar (see app.py)."""
    assert not (REPO / "pages").exists()
    assert all((REPO / page).is_file() for page in PAGES)


def test_streamlit_config_matches_settings():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert "primaryColor" in config["theme"]


def test_no_unsafe_html_anywhere_in_the_ui():
    for path in [REPO / "app.py", *REPO.glob("views/*.py"), *REPO.glob("ui/*.py")]:
        source = path.read_text()
        assert "unsafe_allow_html=True" not in source, path
        assert "st.html(" not in source, path


# ------------------------------------------------------------------------------------------
# start on demo data, every page
# ------------------------------------------------------------------------------------------
def test_starts_on_demo_data_showing_segments(app):
    outcome = results(app)
    assert outcome.spec.source == DEMO
    assert not outcome.stale
    assert app.title[0].value == "Customer segments"
    assert "built-in demo data" in texts(app)
    seg = outcome.segmentation()
    cards = [m for m in app.markdown if m.value.startswith("#### ")]
    assert len(cards) == seg.k == outcome.k == outcome.suggestion.k
    assert len(app.get("plotly_chart")) == 1  # only the open tab is drawn


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_shared_sidebar(app, page):
    app.switch_page(page).run()
    assert not app.exception, app.exception
    assert not app.error
    sidebar = "\n".join(m.value for m in app.sidebar.markdown)
    assert "customers" in sidebar
    assert app.select_slider(key="w_k_sidebar").value == results(app).k


# ------------------------------------------------------------------------------------------
# upload
# ------------------------------------------------------------------------------------------
def test_upload_replaces_the_data_everywhere(uploaded, small_csv):
    outcome = results(uploaded)
    assert isinstance(outcome.spec.source, FileSource) and outcome.spec.source.name == "shop.csv"
    assert len(outcome.prepared.customers) == expected_customers(small_csv)
    assert "shop.csv" in texts(uploaded)
    for page in PAGES:
        uploaded.switch_page(page).run()
        assert not uploaded.exception
        assert results(uploaded).spec.source.name == "shop.csv"


def test_audit_on_the_data_page_counts_every_rule(uploaded):
    audit = results(uploaded).prepared.audit
    dropped = audit.dropped
    assert dropped["cancelled"] == 1 and dropped["missing_customer"] == 1 and dropped["duplicate"] == 1
    assert audit.rows_in - sum(dropped.values()) == audit.rows_kept
    assert [m.value for m in uploaded.metric][:2] == [f"{audit.rows_in:,}", f"{audit.rows_kept:,}"]
    assert len(uploaded.get("plotly_chart")) == 1  # the audit waterfall


def test_bad_file_shows_error_and_keeps_previous_data(uploaded):
    before = results(uploaded)
    with uploaded.expecting_errors():
        upload(uploaded, "garbage.xlsx", b"PK\x03\x04 this is not a workbook", "application/octet-stream")
        assert len(uploaded.error) == 1
        message = uploaded.error[0].value
        assert "garbage" in message and "previous data is still in use" in message
        after = results(uploaded)
        assert after.spec == before.spec and not after.stale
        for page in PAGES:
            uploaded.switch_page(page).run()
            assert results(uploaded).spec.source.name == "shop.csv"
            assert all("garbage" in e.value for e in uploaded.error)  # only the upload's own error, on Data


def test_empty_file_error_has_a_hint(app):
    with app.expecting_errors():
        upload(app, "empty.csv", b"", "text/csv")
    assert len(app.error) == 1 and "How to fix:" in app.error[0].value
    assert results(app).spec.source == DEMO


def test_same_file_twice_does_not_reset_settings(uploaded, small_csv):
    toggle = by_key_prefix(uploaded.toggle, "w_rule_cancelled_")
    toggle.set_value(False).run()
    uploaded.file_uploader(key="w_upload").set_value(("shop.csv", small_csv, "text/csv")).run()
    assert "cancelled" not in results(uploaded).spec.cleaning.rules


def test_back_to_demo(uploaded):
    uploaded.button[0].click().run()  # "Back to the demo data"
    assert results(uploaded).spec.source == DEMO


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def test_workbook_sheet_choice(app):
    lines = transactions()
    notes = pd.DataFrame({"Note": ["Exported from the shop", "Q1-Q2 2023"], "By": ["Ann", "Bob"]})
    upload(app, "shop.xlsx", workbook({"Notes": notes, "Orders": lines}), XLSX)
    assert not app.exception
    outcome = results(app)
    assert outcome.spec.source.name == "shop.xlsx" and outcome.loaded.sheet == "Orders"
    sheet_box = by_key_prefix(app.selectbox, "w_sheet_")
    assert list(sheet_box.options) == ["Notes", "Orders"] and sheet_box.value == "Orders"
    # A sheet without transactions: its columns can be mapped on the Data page, a clear error
    # says what is missing, and every page keeps showing the Orders results meanwhile.
    with app.expecting_errors():
        sheet_box.set_value("Notes").run()
        outcome = results(app)
        assert outcome.stale and isinstance(outcome.error, MappingError)
        assert outcome.loaded.sheet == "Orders" and len(outcome.prepared.customers) > 0
        assert by_key_prefix(app.selectbox, "w_sheet_").value == "Notes"
        assert by_key_prefix(app.selectbox, "w_role_customer_").options == ["— not used —", "Note", "By"]
        # One status: one error saying why, and which data the other pages still show.
        assert len(app.error) == 1 and "cannot be segmented**" in app.error[0].value
        assert any("The other pages still show" in w.value for w in app.warning)
        app.switch_page("views/segments.py").run()
        assert results(app).loaded.sheet == "Orders"
        app.switch_page("views/data.py").run()
    by_key_prefix(app.selectbox, "w_sheet_").set_value("Orders").run()
    assert not results(app).stale and not app.error and results(app).loaded.sheet == "Orders"


# ------------------------------------------------------------------------------------------
# mapping
# ------------------------------------------------------------------------------------------
def test_roles_detected_and_shown(uploaded):
    roles = results(uploaded).roles
    assert roles["customer"] == "CustomerID" and roles["date"] == "InvoiceDate"
    assert by_key_prefix(uploaded.selectbox, "w_role_customer_").value == "CustomerID"
    assert by_key_prefix(uploaded.selectbox, "w_role_amount_").value == "— not used —"


def test_mapping_section_says_which_column_holds_names_and_which_codes(app):
    """The issue-14 export: `product` holds the names, `sku` the codes; the Data page says so."""
    frame = transactions().rename(columns={"InvoiceNo": "invoice_no", "StockCode": "sku", "Description": "product",
                                           "Quantity": "qty", "InvoiceDate": "order_date", "UnitPrice": "unit_price",
                                           "CustomerID": "customer", "Country": "country"})
    frame["product"] = [f"JUMBO BAG {word} PATTERNS" for word in ("RED", "BLUE", "PINK") * (len(frame) // 3)] + \
        ["JUMBO BAG RED PATTERNS"] * (len(frame) % 3)
    upload(app, "europe.csv", to_csv(frame))
    assert not app.exception and not app.error
    assert by_key_prefix(app.selectbox, "w_role_product_").value == "sku"
    assert by_key_prefix(app.selectbox, "w_role_description_").value == "product"
    assert "`product` read as the product description; `sku` as the product code." in texts(app)
    assert "Duplicates are copies of the whole row" not in texts(app)  # every column is used


def test_mapping_override_unmaps_country(uploaded):
    by_key_prefix(uploaded.selectbox, "w_role_country_").set_value("— not used —").run()
    assert not uploaded.exception
    outcome = results(uploaded)
    assert "country" not in outcome.roles and not outcome.stale
    assert outcome.prepared.customers["country"].isna().all()


def test_bad_mapping_shows_error_and_keeps_previous_results(uploaded):
    before = results(uploaded)
    with uploaded.expecting_errors():
        by_key_prefix(uploaded.selectbox, "w_role_customer_").set_value("— not used —").run()
        outcome = results(uploaded)
        assert outcome.stale and outcome.spec == before.spec
        assert any("did not work" in e.value for e in uploaded.error)
        uploaded.switch_page("views/segments.py").run()
        assert len([m for m in uploaded.markdown if m.value.startswith("#### ")]) == outcome.k
        # Fixing the mapping brings the results back up to date.
        uploaded.switch_page("views/data.py").run()
    by_key_prefix(uploaded.selectbox, "w_role_customer_").set_value("CustomerID").run()
    assert not results(uploaded).stale and not uploaded.error


# ------------------------------------------------------------------------------------------
# cleaning filters
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", SWITCHABLE_RULES)
def test_each_rule_can_be_switched_off(uploaded, rule):
    with uploaded.expecting_errors():  # switching off a rule may leave rows the later stages refuse
        by_key_prefix(uploaded.toggle, f"w_rule_{rule}_").set_value(False).run()
    outcome = results(uploaded)
    if outcome.stale:  # ... shown as an error, the previous results kept
        assert any("did not work" in e.value for e in uploaded.error)
        return
    assert not uploaded.error
    assert rule not in outcome.spec.cleaning.rules
    assert outcome.prepared.audit.dropped[rule] == 0


def test_date_range_filter(uploaded):
    widget = by_key_prefix(uploaded.date_input, "w_dates_")
    widget.set_value((date(2023, 2, 1), date(2023, 4, 30))).run()
    outcome = results(uploaded)
    assert outcome.spec.cleaning.date_from == date(2023, 2, 1) and outcome.spec.cleaning.date_to == date(2023, 4, 30)
    assert outcome.prepared.audit.dropped["outside_date_range"] > 0
    assert outcome.prepared.customers["last_purchase"].max() < pd.Timestamp("2023-05-01")


def test_country_include_and_exclude_filters(uploaded):
    by_key_prefix(uploaded.multiselect, "w_countries_include_").set_value(["France", "Germany"]).run()
    outcome = results(uploaded)
    assert set(outcome.prepared.customers["country"].dropna()) == {"France", "Germany"}
    assert outcome.prepared.audit.dropped["country_filtered"] > 0
    by_key_prefix(uploaded.multiselect, "w_countries_exclude_").set_value(["Germany"]).run()
    assert set(results(uploaded).prepared.customers["country"].dropna()) == {"France"}
    # a country is in one list at most (the settings refuse both): excluding it took it off the include list
    assert by_key_prefix(uploaded.multiselect, "w_countries_include_").value == ["France"]
    assert results(uploaded).spec.cleaning.countries_include == ("France",)


def test_snapshot_date(uploaded):
    by_key_prefix(uploaded.date_input, "w_snapshot_").set_value(date(2023, 12, 31)).run()
    outcome = results(uploaded)
    assert outcome.prepared.snapshot == date(2023, 12, 31)
    assert outcome.prepared.customers["recency"].min() >= (date(2023, 12, 31) - date(2023, 6, 30)).days


def test_net_returns_option(uploaded):
    by_key_prefix(uploaded.toggle, "w_net_").set_value(True).run()
    outcome = results(uploaded)
    assert outcome.spec.cleaning.net_returns
    assert outcome.prepared.audit.dropped["cancelled"] == 0


def test_filter_that_removes_everything_keeps_previous_results(uploaded):
    before = results(uploaded)
    with uploaded.expecting_errors():
        by_key_prefix(uploaded.multiselect, "w_countries_exclude_").set_value(
            ["France", "Germany", "United Kingdom"]).run()
    outcome = results(uploaded)
    assert outcome.stale and outcome.spec == before.spec
    assert any("previous results stay" in e.value for e in uploaded.error)


def test_settings_survive_page_switches(uploaded):
    by_key_prefix(uploaded.toggle, "w_rule_duplicate_").set_value(False).run()
    uploaded.switch_page("views/customers.py").run()
    uploaded.switch_page("views/data.py").run()
    assert by_key_prefix(uploaded.toggle, "w_rule_duplicate_").value is False
    assert "duplicate" not in results(uploaded).spec.cleaning.rules
    assert results(uploaded).spec.cleaning != CleaningSettings()


# ------------------------------------------------------------------------------------------
# K and seed
# ------------------------------------------------------------------------------------------
def test_k_change_in_sidebar_updates_cards_and_page_control(app):
    suggested = results(app).suggestion.k
    new_k = 3 if suggested != 3 else 4
    prepared_before = results(app).prepared
    app.select_slider(key="w_k_sidebar").set_value(new_k).run()
    assert not app.exception
    outcome = results(app)
    assert outcome.k == new_k
    assert outcome.prepared is not None and outcome.spec == results(app).spec
    assert outcome.prepared.customers.equals(prepared_before.customers)
    assert len([m for m in app.markdown if m.value.startswith("#### ")]) == new_k
    app.switch_page("views/choose_k.py").run()
    assert app.select_slider(key="w_k_page").value == new_k


def test_k_change_on_choose_k_page_moves_sidebar(app):
    app.switch_page("views/choose_k.py").run()
    app.select_slider(key="w_k_page").set_value(6).run()
    assert app.select_slider(key="w_k_sidebar").value == 6
    assert results(app).k == 6
    assert "Suggested: K =" in texts(app)
    app.button[0].click().run()  # "Use the suggested K"
    assert results(app).k == results(app).suggestion.k
    assert app.select_slider(key="w_k_sidebar").value == results(app).suggestion.k


def test_choose_k_page_shows_scan_charts(app):
    app.switch_page("views/choose_k.py").run()
    assert len(app.get("plotly_chart")) == 1
    assert results(app).suggestion.reason.split(" ")[0] in texts(app)


def test_seed_change(uploaded):
    uploaded.switch_page("views/choose_k.py").run()
    uploaded.number_input(key="w_seed").set_value(7).run()
    assert not uploaded.exception
    assert results(uploaded).seed == 7


# ------------------------------------------------------------------------------------------
# segments page options
# ------------------------------------------------------------------------------------------
def open_tab(at, label: str):
    at.session_state["w_segment_tab"] = label
    return at.run()


def test_segments_chart_options(uploaded):
    uploaded.switch_page("views/segments.py").run()
    uploaded.selectbox(key="w_scatter_x").set_value("frequency").run()
    uploaded.toggle(key="w_scatter_logx").set_value(True).run()
    assert "Frequency (purchases)" in uploaded.get("plotly_chart")[0].proto.spec
    for label, widget in (("3D R/F/M", "w_3d_log"), ("Segments × RFM score labels", "w_crosstab_norm")):
        open_tab(uploaded, label)
        uploaded.toggle(key=widget).set_value(False).run()
        assert not uploaded.exception and not uploaded.error
    open_tab(uploaded, "Revenue share")
    uploaded.segmented_control(key="w_revenue_kind").set_value("treemap").run()
    assert '"treemap"' in uploaded.get("plotly_chart")[0].proto.spec
    for label in ("Compared with average", "Snake plot"):
        open_tab(uploaded, label)
        assert not uploaded.exception and len(uploaded.get("plotly_chart")) == 1


def test_profile_cards_show_countries_products_and_action(uploaded):
    uploaded.switch_page("views/segments.py").run()
    text = texts(uploaded)
    assert "Top countries:" in text and "Top products:" in text and "Action:" in text


# ------------------------------------------------------------------------------------------
# customers page
# ------------------------------------------------------------------------------------------
def test_customers_table_filter_search_and_downloads(uploaded):
    uploaded.switch_page("views/customers.py").run()
    seg = results(uploaded).segmentation()
    (table,) = uploaded.dataframe
    assert len(table.value) == len(seg.customers)
    first = seg.profiles.sort_values("segment_id")["segment"].iloc[0]
    uploaded.multiselect(key="w_customer_segments").set_value([first]).run()
    assert len(uploaded.dataframe[0].value) == int((seg.customers["segment"] == first).sum())
    uploaded.multiselect(key="w_customer_segments").set_value([]).run()
    uploaded.text_input(key="w_customer_search").set_value("12003").run()
    assert list(uploaded.dataframe[0].value["customer_id"]) == ["12003"]
    buttons = uploaded.get("download_button")
    assert len(buttons) == 5
    labels = " ".join(b.proto.label for b in buttons)
    assert "CSV" in labels and "Excel" in labels
    assert [b.proto.label for b in buttons][3:] == ["Audiences — ZIP of CSV files", "Audiences — Excel"]


def test_segments_page_offers_the_report_of_what_it_shows(uploaded):
    from segmentation import audiences, report_html

    uploaded.switch_page("views/segments.py").run()
    assert not uploaded.exception and not uploaded.error
    (button,) = [b for b in uploaded.get("download_button") if b.proto.label == "Download report (HTML)"]
    outcome = results(uploaded)
    result = outcome.result()
    assert (result.k, result.seed, result.source) == (outcome.k, outcome.seed, "shop.csv")
    assert result.segmentation.profiles.equals(outcome.segmentation().profiles)
    page = report_html.render(result, source=result.source, seed=result.seed)
    for name in result.segmentation.profiles["segment"]:
        assert name in page
    assert f"{len(result.segmentation.customers):,}</b>" in page
    assert len(audiences.file_names(result.segmentation.profiles)) == outcome.k


def test_user_text_is_escaped_in_markdown(app):
    evil = to_csv(transactions(evil=True))
    upload(app, "evil.csv", evil)
    assert results(app).spec.source.name == "evil.csv"
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception
        for element in [*app.markdown, *app.caption, *app.sidebar.markdown, *app.error, *app.info]:
            value = str(element.value)
            # Escaped (\\<img, \\]\\() is shown verbatim as text; unescaped would be markup.
            assert not re.search(r"(?<!\\)<(script|img)|(?<!\\)\]\(javascript", value), value


def test_error_text_is_markdown_escaped():
    from ui.text import md

    error = SegmenterError("No column '[x](javascript:alert(1))'", "Use *this*")
    assert "](" not in md(error.message) and md(error.hint).split(" ")[1] == "\\*this\\*"

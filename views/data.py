"""Data page: load a file or a database table, check the column roles, choose the cleaning, see what was removed."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import streamlit as st

from segmentation import charts, cleaning, formats
from segmentation.columns import CURRENCY_CODES, currency_display
from segmentation.errors import SegmenterError
from segmentation.settings import CLEANING_RULES, MAX_UPLOAD_MB, ROLES
from ui import results, session, sources
from ui.errors import show_error
from ui.progress import run_step
from ui.render import labelled_selectbox
from ui.text import md

NOT_USED = "— not used —"
UPLOAD_TYPES = ["csv", "tsv", "txt", "gz", "xlsx", "parquet"]

st.title("Data")
outcome = results.results()
src = session.source()
suffix = f"{src.digest[:12]}_{src.sheet or ''}"  # widgets start afresh for every file/sheet

# --- load -----------------------------------------------------------------------------------
st.subheader("1. Load transactions")
left, right = st.columns([3, 2], gap="large")
with left:
    uploaded = st.file_uploader(
        f"Upload a CSV, TSV, Excel (.xlsx) or Parquet file — up to {MAX_UPLOAD_MB} MB",
        type=UPLOAD_TYPES,
        key="w_upload",
        help="One row per purchased line (like the UCI Online Retail file): a customer id, a date and "
             "money (quantity × unit price, or a line amount). Other columns are optional.",
    )
    if uploaded is not None and session.upload_is_new(uploaded.file_id):
        data = uploaded.getvalue()
        candidate = sources.FileSource(uploaded.name, session.digest_of(data), data=data)
        if candidate != src:
            try:  # announced before the read starts; the same step key as the app's "Reading the data"
                run_step(f"Reading {md(uploaded.name)}", sources.read_key(candidate),
                         lambda log: sources.read(candidate, log))
            except SegmenterError as error:
                session.set_failed_upload(uploaded.file_id, error)
            else:
                session.set_source(candidate)
                st.rerun()
    failed = session.failed_upload(uploaded.file_id) if uploaded is not None else None
    if failed is not None:
        show_error(failed, context=f"{uploaded.name} was not loaded — the previous data is still in use")

# One status: the file loaded here is the one being worked on; when it cannot be segmented (yet),
# this says so once, with why, and that the other pages still show the last data that worked.
not_usable = (not isinstance(outcome, SegmenterError) and outcome.error is not None
              and outcome.spec.source != src)
with right:
    loaded = sources.read(src)
    if not_usable:
        st.warning(f"Loaded **{md(src.name)}**, but it cannot be segmented yet: fix it below (what each column "
                   f"means, cleaning) or load another file. The other pages still show "
                   f"**{md(outcome.spec.source.name)}** until then.", icon=":material/warning:")
    elif src.builtin:
        st.info("Now loaded: the **built-in demo data** — a year of a gift shop's transactions. "
                "Upload your own file to segment your customers.", icon=":material/info:")
    else:
        size = "" if src.size_mb is None else f" ({src.size_mb:,.1f} MB)"
        st.success(f"Now loaded: **{md(src.name)}**{size}.", icon=":material/check_circle:")
        st.button("Back to the demo data", on_click=sources.use_demo, icon=":material/restart_alt:")
    details = [f"{loaded.table.num_rows:,} rows × {loaded.table.num_columns} columns", f"format {loaded.file_format}"]
    if loaded.encoding:
        details.append(f"encoding {md(loaded.encoding)}")
    if loaded.delimiter:
        details.append(f"delimiter {md(loaded.delimiter_name)}")
    st.caption(" · ".join(details))
    for note in loaded.notes:
        st.caption(md(note))


def _connect() -> None:
    sources.connect_database(st.session_state["w_db_url"])
    if sources.database_error() is None:
        st.session_state["w_db_url"] = ""  # the URL is not kept once connected


if not isinstance(outcome, SegmenterError) and outcome.error is not None:  # the one message (app.py leaves it here)
    show_error(outcome.error, context=f"{src.name} cannot be segmented" if not_usable
               else "Your latest change did not work — the previous results stay on screen")


with st.expander("Or connect to a database (PostgreSQL)",
                 expanded=src.in_database or sources.database_error() is not None):
    st.text_input("Connection URL", type="password", key="w_db_url",
                  placeholder="postgresql://user:password@host:5432/database",
                  help="Read-only session. The URL stays in this session's memory only: it is never shown, "
                       "logged or cached.")
    st.button("Connect", key="w_db_connect", on_click=_connect, icon=":material/database:")
    db = sources.database()
    if db is not None:
        st.caption(f"Connected to {md(db['where'])}: {len(db['tables']):,} tables and views.")
        if db["tables"]:
            st.selectbox("Table or view with the transactions", db["tables"], key="w_db_table")
            st.button("Use this table", key="w_db_use", icon=":material/table:",
                      on_click=lambda: sources.use_table(st.session_state["w_db_table"]))
    if sources.database_error() is not None:
        show_error(sources.database_error(), context="The database was not used — the previous data is still in use")

if len(loaded.sheets) > 1:
    sheet_key = f"w_sheet_{src.digest[:12]}"

    def _choose_sheet() -> None:
        chosen = st.session_state[sheet_key]
        candidate = src.with_sheet(chosen)
        try:
            sources.read(candidate)
        except SegmenterError as error:
            session.set_failed_sheet(chosen, error)
            st.session_state[sheet_key] = loaded.sheet
            return
        session.set_failed_sheet(chosen)
        session.set_source(candidate)

    session.sync_widget(sheet_key, loaded.sheet)
    st.selectbox("Sheet with the transactions", loaded.sheets, key=sheet_key, on_change=_choose_sheet,
                 help="The sheet that looked most like transactions was chosen for you.")
    sheet_error = session.failed_sheet()
    if sheet_error:
        show_error(sheet_error[1], context=f"Sheet {sheet_error[0]} cannot be read — the previous sheet stays")

with st.expander(f"Raw rows (first 100 of {loaded.table.num_rows:,})", expanded=False):
    st.dataframe(loaded.table.slice(0, 100).to_pandas(), hide_index=True, height=320)

# --- roles ----------------------------------------------------------------------------------
st.subheader("2. What each column means")
st.caption("Detected from the headers and the values. Change a box if a column was missed or taken wrongly; "
           "customer, date and money (quantity + unit price, or a line amount) are needed.")
detected = sources.detected_roles(src)
user = session.overrides()
current = {role.name: detected.get(role.name) for role in ROLES}
current.update(user)
column_names = list(loaded.table.column_names)


def _set_role(role: str, key: str) -> None:
    value = st.session_state[key]
    session.set_override(role, None if value == NOT_USED else value)


grid = st.columns(3)
for index, role in enumerate(ROLES):
    key = f"w_role_{role.name}_{suffix}"
    value = current.get(role.name)
    session.sync_widget(key, value if value in column_names else NOT_USED)
    need = {"yes": "required", "no": "optional"}.get(role.required, "quantity + price, or amount")
    grid[index % 3].selectbox(
        f"{role.label} ({need})",
        [NOT_USED] + column_names,
        key=key,
        on_change=_set_role,
        args=(role.name, key),
        help=role.help + (" (detected)" if detected.get(role.name) == value and value else ""),
    )

mapped = [(role, current.get(role.name)) for role in ROLES if current.get(role.name) in column_names]
for note in sources.mapping_notes(src, {role.name: column for role, column in mapped}):
    st.caption(md(note), help="Detected from the column names and values; change the boxes above if it is wrong.")
if mapped:
    preview = loaded.table.select([column for _, column in mapped]).slice(0, 6).to_pandas()
    preview.columns = [f"{role.label} ← {column}" for role, column in mapped]
    st.caption("Values of the mapped columns:")
    st.dataframe(preview, hide_index=True)

mapped_roles = {role.name: column for role, column in mapped}
found = sources.detected_currency(src, mapped_roles)
currency_key = f"w_currency_{suffix}"
AS_DETECTED, NO_CURRENCY = "as detected", "none"  # the choices besides an ISO code
choice = session.currency_choice()
session.sync_widget(currency_key, AS_DETECTED if choice is None else (choice or NO_CURRENCY))


def _code_label(code: str) -> str:
    return code if currency_display(code) == code else f"{currency_display(code)} {code}"


def _currency_label(option: str) -> str:
    if option == AS_DETECTED:
        return f"As the file says: {_code_label(found)}" if found else "As the file says: none found"
    return "No currency" if option == NO_CURRENCY else _code_label(option)


def _set_currency() -> None:
    option = st.session_state[currency_key]
    session.set_currency(None if option == AS_DETECTED else "" if option == NO_CURRENCY else option)


# "As the file says: …" changes with the money columns mapped, under the same value.
labelled_selectbox(
    st.columns(3)[0], "Currency", [AS_DETECTED, NO_CURRENCY, *CURRENCY_CODES], key=currency_key,
    format_func=_currency_label,
    on_change=_set_currency,
    help="Labels money on every page and in the Excel downloads. Found in the money columns' symbols, codes or "
         "headers (£12.50, 12,50 EUR, Price (€)) or a currency column; set it here when the file does not say. "
         "The numbers themselves do not change.")

# --- cleaning -------------------------------------------------------------------------------
st.subheader("3. Cleaning")
settings_now = session.cleaning()
prepared = None
if not isinstance(outcome, SegmenterError) and outcome.spec.source == src:
    prepared = outcome.prepared


def _set_rule(rule: str, key: str) -> None:
    session.set_cleaning(session.cleaning().with_rule(rule, bool(st.session_state[key])))


rules_col, filters_col = st.columns(2, gap="large")
roles_now = outcome.roles if prepared is not None else mapped_roles
cannot_apply = cleaning.inapplicable_rules(roles_now, settings_now)
labels = cleaning.rule_labels(roles_now)
with rules_col:
    st.markdown("**Rules** — each row is removed by the first rule that applies")
    for rule in CLEANING_RULES:
        if rule.switchable:
            key = f"w_rule_{rule.name}_{suffix}"
            session.sync_widget(key, rule.name in settings_now.rules)
            why_not = cannot_apply.get(rule.name)
            st.toggle(labels[rule.name] + (" — does not apply" if why_not else ""), key=key,
                      help=why_not or rule.help, on_change=_set_rule, args=(rule.name, key),
                      disabled=why_not is not None)
            if why_not:
                st.caption(md(why_not))

    def _set_net() -> None:
        session.set_cleaning(replace(session.cleaning(), net_returns=bool(st.session_state[f"w_net_{suffix}"])))

    session.sync_widget(f"w_net_{suffix}", settings_now.net_returns)
    st.toggle("Net returns against purchases", key=f"w_net_{suffix}", on_change=_set_net,
              help="Keep cancellations and returns as negative revenue instead of dropping them; customers "
                   "whose net revenue is zero or less are then removed.")
    for note in cleaning.rule_overlaps(roles_now, settings_now):
        st.info(note, icon=":material/info:")

with filters_col:
    st.markdown("**Filters**")
    if prepared is None or prepared.date_min is None:
        st.caption("Date and country filters appear once the data can be cleaned.")
    else:
        low, high = prepared.date_min, prepared.date_max
        range_key = f"w_dates_{suffix}"
        session.sync_widget(range_key, (settings_now.date_from or low, settings_now.date_to or high))

        def _set_dates() -> None:
            value = st.session_state[range_key]
            if isinstance(value, (tuple, list)) and len(value) == 2:
                start, end = value
                session.set_cleaning(replace(session.cleaning(), date_from=None if start == low else start,
                                           date_to=None if end == high else end))

        st.date_input("Purchase dates", key=range_key, min_value=low, max_value=high, on_change=_set_dates,
                      format=formats.TABLE_DATE_FORMAT,
                      help=f"The file has dates from {formats.day(low)} to {formats.day(high)}.")
        if prepared.countries:
            for which, label, help_text in (
                ("countries_include", "Only these countries",
                 "Empty: all countries. Choosing one here takes it off the list below."),
                ("countries_exclude", "Leave out these countries", "Choosing one here takes it off the list above."),
            ):
                key = f"w_{which}_{suffix}"
                session.sync_widget(key, [c for c in getattr(settings_now, which) if c in prepared.countries])

                def _set_countries(which: str = which, key: str = key) -> None:
                    # A country is in one list at most (the settings refuse both): the latest choice wins.
                    chosen = tuple(st.session_state[key])
                    other = "countries_exclude" if which == "countries_include" else "countries_include"
                    kept = tuple(c for c in getattr(session.cleaning(), other) if c not in chosen)
                    session.set_cleaning(replace(session.cleaning(), **{which: chosen, other: kept}))

                st.multiselect(label, prepared.countries, key=key, on_change=_set_countries, help=help_text)
        else:
            st.caption("No country column is mapped, so there is no country filter.")

    snap_key = f"w_snapshot_{suffix}"
    session.sync_widget(snap_key, session.snapshot())

    def _set_snapshot() -> None:
        value = st.session_state[snap_key]
        session.set_snapshot(value if isinstance(value, date) else None)

    default_snapshot = f" (now {formats.day(prepared.snapshot)})" if prepared is not None else ""
    st.date_input(
        "Snapshot date for recency" + default_snapshot,
        format=formats.TABLE_DATE_FORMAT,
        key=snap_key,
        min_value=prepared.date_min if prepared is not None and prepared.date_min else None,
        on_change=_set_snapshot,
        help="Recency counts days from the last purchase to this date. Empty: the day after the last purchase.",
    )

# --- audit ----------------------------------------------------------------------------------
st.subheader("4. What cleaning removed")
if isinstance(outcome, SegmenterError) or not_usable:
    st.info("Nothing could be cleaned yet: see the message at the top of the page.", icon=":material/info:")
else:
    audit = outcome.prepared.audit
    if outcome.stale:
        st.caption("These are the numbers of the last settings that worked.")
    table = audit.table.copy()
    cols = st.columns(3)
    cols[0].metric("Rows in", f"{audit.rows_in:,}")
    # The share is a fact, not a change: grey and without an arrow.
    cols[1].metric("Rows kept", f"{audit.rows_kept:,}",
                   delta=f"{audit.rows_kept / audit.rows_in:.1%} of rows" if audit.rows_in else None,
                   delta_color="off", delta_arrow="off")
    cols[2].metric("Customers", f"{len(outcome.prepared.customers):,}")
    chart_col, table_col = st.columns([1, 1.3], gap="medium")
    with chart_col:
        st.plotly_chart(charts.audit_figure(table, rows_in=audit.rows_in, rows_kept=audit.rows_kept),
                        key="audit_chart")
    with table_col:
        shown = table[["label", "rows", "customers", "revenue"]]
        st.dataframe(shown, hide_index=True, column_config={
            # wide enough for the longest rule name ("Customer's net revenue zero or negative")
            "label": st.column_config.TextColumn("Removed because", width=250),
            "rows": st.column_config.NumberColumn("Rows", format="%,d", width=70),
            "customers": st.column_config.NumberColumn("Customers", format="%,d", width=80,
                                                       help="Customers with at least one row removed by the rule"),
            "revenue": st.column_config.NumberColumn("Revenue", format=formats.money_format(outcome.currency()),
                                                     width=110, help="Revenue of the removed rows"),
        })
        st.caption(f"Snapshot date {formats.day(outcome.prepared.snapshot)}; data from "
                   f"{formats.day(outcome.prepared.date_min)} to {formats.day(outcome.prepared.date_max)}."
                   if outcome.prepared.date_min else "")
    statuses = audit.statuses
    status_column = outcome.prepared.roles.get("status")
    if status_column and len(statuses):
        rule = next(rule for rule in CLEANING_RULES if rule.name == "not_paid")
        st.markdown(f"**Order status** — `{md(status_column)}` decides which orders count "
                    f"(rule “{rule.label}”, {audit.dropped['not_paid']:,} rows removed)")
        st.dataframe(statuses.rename(columns={"status": "Status found", "treatment": "Treated as", "rows": "Rows"}),
                     hide_index=True, key="status_values", column_config={
                         "Rows": st.column_config.NumberColumn(format="localized", width="small",
                                                               help="Rows with this status, carried along each "
                                                                    "order from its first line")})
    for note in outcome.prepared.notes:
        st.caption(md(note))

"""Changes page: who moved between segments from one date to another, and who to win back."""
from __future__ import annotations

from datetime import date

import streamlit as st

from segmentation import charts, formats
from segmentation.errors import SegmenterError
from segmentation.migration import NEW, PRESET_DAYS
from ui import migration as changes
from ui import saved as saved_ui
from ui.errors import show_error
from ui.render import results_or_empty_state
from ui.text import md

st.title("Changes: who moved between segments")
outcome = results_or_empty_state()
prepared = outcome.prepared
snapshot = prepared.snapshot

st.markdown("Each customer's segment on two dates — recency, frequency and spend from the purchases **before** "
            "each date, with the same cleaning — under one frozen segmentation, so a move means the customer "
            "changed, not the segments.")


low = prepared.date_min or date(1970, 1, 1)
changes.restore_dates(snapshot, low)
pick = st.columns([4, 2, 2], vertical_alignment="bottom")
preset = pick[0].segmented_control("Compare with", PRESET_DAYS, key="w_changes_preset",
                                   on_change=changes.apply_preset, args=(snapshot, low),
                                   format_func=lambda days: f"{days} days ago",
                                   help="Sets the first date that many days before the snapshot; or pick any dates.")
date_a = pick[1].date_input("First date (A)", key="w_changes_a", min_value=low, max_value=snapshot,
                            format=formats.TABLE_DATE_FORMAT)
date_b = pick[2].date_input("Second date (B)", key="w_changes_b", min_value=low, max_value=snapshot,
                            format=formats.TABLE_DATE_FORMAT)
changes.remember_dates(snapshot, low, preset, date_a, date_b)

frozen = saved_ui.in_use()
try:
    moved = changes.compare(outcome, date_a, date_b, frozen.to_json() if frozen else None)
except SegmenterError as error:
    show_error(error, context="These dates cannot be compared")
    st.stop()

if frozen is None:
    st.caption(f"The {moved.segmentation.k} segments of the Segments page (fitted on the customers as of "
               f"{formats.day(snapshot)}) on both dates: each customer gets the segment their purchases before "
               "that date put them in, so the names mean the same on both sides.")
else:
    st.caption(f"Segments of the saved segmentation {md(saved_ui.name())} (K={moved.segmentation.k}) on both dates.")

top = st.columns(4)
top[0].metric(f"Customers on {formats.day(date_a)}", f"{moved.customers_a:,}")
top[1].metric(f"Customers on {formats.day(date_b)}", f"{len(moved.customers):,}")
top[2].metric("New customers", f"{moved.new_customers:,}", help="First purchase on or after the first date.")
top[3].metric("Revenue between the dates", formats.money(moved.customers["revenue_between"].sum(), outcome.currency()))

label_a, label_b = formats.day(date_a), formats.day(date_b)
sankey, matrix_tab, trend_tab = st.tabs(["Flows", "Transition matrix", "Trend"])
with sankey:
    st.plotly_chart(charts.migration_sankey(moved.matrix, date_a=label_a, date_b=label_b), key="changes_sankey")
with matrix_tab:
    st.plotly_chart(charts.migration_heatmap(moved.matrix, date_a=label_a, date_b=label_b), key="changes_heatmap")
with trend_tab:
    trend = changes.trend(outcome, moved)
    if trend.empty:
        st.info("No month has ended in this data yet, so there is no trend to draw.", icon=":material/info:")
    else:
        st.plotly_chart(charts.segment_trend_figure(trend), key="changes_trend")

st.subheader("Net change per segment")
st.dataframe(moved.sizes, hide_index=True, column_config={
    "segment_id": st.column_config.NumberColumn("#", width="small"),
    "segment": "Segment",
    "size_a": st.column_config.NumberColumn(f"Customers {label_a}", format="%,d"),
    "size_b": st.column_config.NumberColumn(f"Customers {label_b}", format="%,d"),
    "moved_in": st.column_config.NumberColumn("Moved in", help="From another segment or new.", format="%,d"),
    "new": st.column_config.NumberColumn("of them new", format="%,d"),
    "moved_out": st.column_config.NumberColumn("Moved out", format="%,d"),
    "net": st.column_config.NumberColumn("Net change", format="%,d"),
})

st.subheader("Customers of one flow")
flows = moved.matrix.sort_values("customers", ascending=False)
options = [(row["from"], row["to"]) for _, row in flows.iterrows()]
# The label names the flow only: Streamlit keeps a selection by its label, so a count in it
# stayed the previous dates' count when the dates changed (the count is said below instead).
choice = st.selectbox("Flow", options, key="w_changes_flow", format_func=lambda flow: f"{flow[0]} → {flow[1]}",
                      help="Flows with the most customers first; e.g. Champions → At Risk, for a win-back campaign.")
if choice is not None:
    chosen = moved.flow(*choice)
    st.markdown(f"**{formats.plural(len(chosen), 'customer')}**: {md(choice[0])} on {formats.day(date_a)}, "
                f"{md(choice[1])} on {formats.day(date_b)}.")
    money = formats.money_format(outcome.currency())
    st.dataframe(chosen, hide_index=True, height=260, column_config={
        name: st.column_config.NumberColumn(formats.column_label(name), format=money)
        if formats.column_kind(name) == "money" else formats.column_label(name) for name in chosen.columns})
    source_name = "new" if choice[0] == NEW else choice[0]
    st.download_button(
        f"Download these {len(chosen):,} customers — CSV", data=lambda: changes.flow_csv(moved, *choice),
        file_name=f"flow_{date_a.isoformat()}_{date_b.isoformat()}.csv", mime="text/csv", on_click="ignore",
        icon=":material/download:", key="dl_changes_flow",
        help=f"{source_name} → {choice[1]}; spreadsheet formulas in the data are neutralised.")

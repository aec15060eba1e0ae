"""Changes page: who moved between segments from one date to another, and who to win back."""
from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from segmentation import charts
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
ss = st.session_state

st.markdown("Each customer's segment on two dates — recency, frequency and spend from the purchases **before** "
            "each date, with the same cleaning — under one frozen segmentation, so a move means the customer "
            "changed, not the segments.")


def _apply_preset() -> None:
    days = ss.get("w_changes_preset")
    if days:
        ss["w_changes_b"] = snapshot
        ss["w_changes_a"] = max(low, snapshot - timedelta(days=int(days)))


low = prepared.date_min or date(1970, 1, 1)
changes.restore_dates(snapshot, low)
pick = st.columns([4, 2, 2], vertical_alignment="bottom")
preset = pick[0].segmented_control("Compare with", PRESET_DAYS, key="w_changes_preset", on_change=_apply_preset,
                                   format_func=lambda days: f"{days} days ago",
                                   help="Sets the first date that many days before the snapshot; or pick any dates.")
date_a = pick[1].date_input("First date (A)", key="w_changes_a", min_value=low, max_value=snapshot)
date_b = pick[2].date_input("Second date (B)", key="w_changes_b", min_value=low, max_value=snapshot)
changes.remember_dates(snapshot, low, preset, date_a, date_b)

frozen = saved_ui.in_use()
try:
    moved = changes.compare(outcome, date_a, date_b, frozen.to_json() if frozen else None)
except SegmenterError as error:
    show_error(error, context="These dates cannot be compared")
    st.stop()

if moved.fitted_at_a:
    st.caption(f"Segments fitted on the customers as of {date_a:%d %b %Y} (K={moved.segmentation.k}, "
               f"seed {outcome.seed}) and applied unchanged on {date_b:%d %b %Y}.")
else:
    st.caption(f"Segments of the saved segmentation {md(saved_ui.name())} (K={moved.segmentation.k}) on both dates.")

top = st.columns(4)
top[0].metric(f"Customers on {date_a:%d %b %Y}", f"{moved.customers_a:,}")
top[1].metric(f"Customers on {date_b:%d %b %Y}", f"{len(moved.customers):,}")
top[2].metric("New customers", f"{moved.new_customers:,}", help="First purchase on or after the first date.")
top[3].metric("Revenue between the dates", f"{moved.customers['revenue_between'].sum():,.0f}")

label_a, label_b = date_a.isoformat(), date_b.isoformat()
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
    "size_a": st.column_config.NumberColumn(f"Customers {label_a}"),
    "size_b": st.column_config.NumberColumn(f"Customers {label_b}"),
    "moved_in": st.column_config.NumberColumn("Moved in", help="From another segment or new."),
    "new": st.column_config.NumberColumn("of them new"),
    "moved_out": st.column_config.NumberColumn("Moved out"),
    "net": st.column_config.NumberColumn("Net change"),
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
    st.markdown(f"**{len(chosen):,} customers**: {md(choice[0])} on {date_a:%d %b %Y}, {md(choice[1])} on "
                f"{date_b:%d %b %Y}.")
    st.dataframe(chosen, hide_index=True, height=260)
    source_name = "new" if choice[0] == NEW else choice[0]
    st.download_button(
        f"Download these {len(chosen):,} customers — CSV", data=lambda: changes.flow_csv(moved, *choice),
        file_name=f"flow_{label_a}_{label_b}.csv", mime="text/csv", on_click="ignore",
        icon=":material/download:", key="dl_changes_flow",
        help=f"{source_name} → {choice[1]}; spreadsheet formulas in the data are neutralised.")

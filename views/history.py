"""History page: the runs this user recorded, newest first, reopenable; and how the segments of one
segmentation moved from run to run (sizes and revenue, change since the previous run)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from segmentation import formats
from ui import workspace as workspace_ui
from ui.text import md
from workspace import history

st.title("History")
if workspace_ui.store() is None:
    st.info(f"{workspace_ui.why_nothing_is_kept()}, so there is no history.", icon=":material/info:")
    st.stop()

runs = workspace_ui.runs()
if not runs:
    st.info("No run recorded yet. When the segments are the ones you want to keep, press **Save this run** in "
            "the sidebar: the file, the settings and each segment's size and revenue are kept here.",
            icon=":material/info:")
    st.stop()

# --- the runs ---------------------------------------------------------------------------------
st.subheader("Recorded runs")


def _line(run) -> str:
    data = md(run.source_name) + ("" if run.file_id is not None or run.source_name.startswith("Built-in demo")
                                  else " (file deleted)")
    segments = f"saved segmentation {md(run.segmentation_name)}" if run.segmentation_id is not None \
        else f"fitted, K = {run.k}"
    ahead = ("" if run.predicted_revenue is None
             else f", predicted {formats.money(run.predicted_revenue, run.currency)} in the next 90 days")
    return (f"- **{formats.day(run.recorded)} {run.recorded:%H:%M}** (run #{run.id}) — {data} — {segments} — "
            f"{formats.plural(run.customers, 'customer')}, revenue {formats.money(run.revenue, run.currency)}{ahead}")


st.markdown("\n".join(_line(run) for run in runs))
st.caption("Times in UTC, newest first.")
labels = {run.id: f"{formats.day(run.recorded)} — {run.source_name} — K = {run.k} (run #{run.id})" for run in runs}
left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
chosen = left.selectbox("Run", list(labels), format_func=lambda run_id: labels[run_id], key="w_history_run")
if middle.button("Reopen this run", key="history_reopen", icon=":material/history:"):
    workspace_ui.reopen_run(chosen)
    if workspace_ui.problem() is None:
        st.switch_page("views/segments.py")
right.button("Delete this run", key="history_delete", icon=":material/delete:",
             on_click=workspace_ui.delete_run, args=(chosen,))

# --- across runs --------------------------------------------------------------------------------
st.subheader("Segments across runs")
kinds = history.groupings(runs)
grouping = st.selectbox("Runs that used", list(kinds), format_func=lambda key: kinds[key], key="w_history_grouping",
                        help="Runs are compared when their segments mean the same thing: the same saved "
                             "segmentation, or fitted segments with the same K.")
table = history.history_table(runs, grouping)
currency = next((run.currency for run in runs if run.grouping == grouping), None)
measure = st.radio("Show", list(history.MEASURES), format_func=history.MEASURES.get, horizontal=True,
                   key="w_history_measure")
st.plotly_chart(history.history_figure(table, measure=measure, currency=currency), key="history_chart")
latest = table[table["run"] == table["run"].iloc[-1]]
if table["run"].nunique() < 2:
    st.caption("One run so far: the change since the previous run appears with the next one.")
changes = pd.DataFrame({
    "segment": latest["segment"],
    "customers": latest["customers"],
    "customers_change": latest["customers_change"].map(lambda v: "" if pd.isna(v) else f"{int(v):+,}"),
    "revenue": latest["revenue"].map(lambda v: formats.money(v, currency)),
    "revenue_change": latest["revenue_change"].map(
        lambda v: "" if pd.isna(v) else ("+" if v >= 0 else "") + formats.money(v, currency)),
})
st.markdown(f"**Latest run, {md(formats.day(latest['recorded'].iloc[0]))}, and the change since the previous one**")
st.dataframe(changes, hide_index=True, key="history_changes", column_config={
    "segment": st.column_config.TextColumn("Segment"),
    "customers": st.column_config.NumberColumn("Customers", format="localized"),
    "customers_change": st.column_config.TextColumn("Change"),
    "revenue": st.column_config.TextColumn("Revenue"),
    "revenue_change": st.column_config.TextColumn("Change "),
})

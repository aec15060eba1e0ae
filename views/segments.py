"""Segments page: who is in each segment, how they differ, and what to do with them."""
from __future__ import annotations

import streamlit as st

from segmentation import charts, formats, segments
from segmentation.stability import seed_message
from ui import saved as saved_ui
from ui.errors import reporting
from ui.prediction import HORIZON_DAYS
from ui.render import results_or_empty_state, stability_badge
from ui.text import md

st.title("Customer segments")
outcome = results_or_empty_state()

seg = outcome.segmentation()
profiles = seg.profiles
customers = seg.customers
revenue = float(customers["monetary"].sum())
currency = outcome.currency()

top = st.columns(4)
top[0].metric("Customers", f"{len(customers):,}")
known = outcome.known_suggestion()  # computed on Choose K when the data changed under a chosen K
top[1].metric("Segments (K)", f"{seg.k}", help=f"Suggested: {known.k}" if known is not None else
              "See the Choose K page for the suggested K.")
top[2].metric("Revenue", formats.money(revenue, currency))
top[3].metric("Snapshot date", formats.day(outcome.prepared.snapshot))
base = outcome.spec.source.file_stem
# Built only when clicked: the report inlines plotly.js and every chart (a few seconds, ~2 MB).
# The button's data is made when it is clicked, outside the script run: everything that reads the
# session or Streamlit's caches is gathered now (else the server logs "missing ScriptRunContext!").
report = outcome.report_result()  # K evidence not computed yet is computed on the click
st.download_button(
    "Download report (HTML)", data=lambda: report().to_html(),
    file_name=f"{base}_report_k{seg.k}.html", mime="text/html", on_click="ignore", icon=":material/download:",
    key="dl_report_html",
    help="One file with the segments, the charts and how they were made; opens offline in any browser and "
         "prints cleanly (Save as PDF).")

frozen = saved_ui.in_use()
if frozen is not None:
    st.caption(f"Segments of the saved segmentation {md(saved_ui.name())}, applied to this data.")
st.download_button(
    "Save this segmentation", icon=":material/save:", key="dl_segmentation", on_click="ignore",
    data=lambda: saved_ui.download_bytes(seg, in_use=frozen, snapshot=outcome.prepared.snapshot, seed=outcome.seed,
                                         roles=outcome.roles, cleaning=outcome.spec.cleaning,
                                         rows_in=outcome.prepared.audit.rows_in),
    file_name=f"segmentation_k{seg.k}_{outcome.prepared.snapshot:%Y-%m-%d}.json", mime="application/json",
    help="A small JSON file (scaler, centres, names, score cut points) to apply these segments to next "
         "month's data: Choose K → Use a saved segmentation, or the command line's --segmentation.")

verdict = outcome.stability_verdict()  # None until the background stability check is done
if verdict is not None and (unsure := seed_message(verdict.seed_agreement, verdict.k)):
    st.warning(unsure, icon=":material/casino:")

# --- profile cards --------------------------------------------------------------------------
st.subheader("Segment profiles")
names_explained = segments.naming_explained(customers) if frozen is None else (
    "The names come from the saved segmentation; they were given when it was fitted.")
st.caption("Segments are groups of customers who buy alike, found by K-Means on recency, frequency and spend. "
           "Each is named after its typical customer (see *How the segments are named* below).")
prediction = outcome.prediction()  # None until computed in the background, after the first segments
ahead = {} if prediction is None else {
    row.segment_id: row for row in outcome.segment_outlook(prediction, HORIZON_DAYS).itertuples()}
if prediction is None:
    st.caption("Predicted revenue and the chance still active join the cards once computed in the background "
               "(on your next click); the Outlook page has them all.")
trust = {} if verdict is None else {row.segment_id: row for row in verdict.segments.itertuples() if row.stability_band}
countries = segments.top_countries(customers, n=3)
products = outcome.top_items()
per_row = 4 if seg.k in (4, 7, 8) else 3
cards = st.columns(min(per_row, len(profiles)))
for index, row in enumerate(profiles.itertuples()):
    with cards[index % len(cards)].container(border=True, key=f"card_{row.segment_id}"):
        st.markdown(f"#### {row.segment_id}. {md(row.segment)}")
        if row.segment_id in trust:
            stability_badge(trust[row.segment_id].stability, trust[row.segment_id].stability_band,
                            resamples=verdict.resamples, whole_stable=verdict.stable_found)
        st.caption(f"{formats.plural(row.customers, 'customer')} · {row.share:.0%} of customers · "
                   f"**{row.revenue_share:.0%} of revenue**")
        if (coming := ahead.get(row.segment_id)) is not None:
            predicted = formats.money(coming.predicted_revenue, currency)
            st.markdown(f"Next {HORIZON_DAYS} days: predicted revenue **{predicted}** ({coming.revenue_share:.0%})"
                        f" · chance still active **{coming.mean_p_alive:.0%}** on average",
                        help="Predicted by the BG/NBD (purchases, chance still active) and Gamma-Gamma (spend per "
                             "purchase) models fitted on this data; see the Outlook page.")
        st.markdown(f"Typically **{formats.plural(round(row.recency_median), 'day')}** since the last purchase · "
                    f"**{formats.plural(round(row.frequency_median), 'purchase')}** · "
                    f"**{md(formats.money(row.monetary_median, currency))}** spent",
                    help="Medians of the segment's customers: days since the last purchase, number of purchases, "
                         "total spend.")
        where = countries[countries["segment_id"] == row.segment_id]
        if not where.empty:
            st.markdown("**Top countries:** " + ", ".join(
                f"{md(c)} ({s:.0%})" for c, s in zip(where["country"], where["share"], strict=True)))
        items = products[products["segment_id"] == row.segment_id] if not products.empty else products
        if not items.empty:
            names = [d if isinstance(d, str) and d.strip() else p
                     for d, p in zip(items["description"], items["product"], strict=True)]
            st.markdown("**Top products:** " + "; ".join(md(name) for name in names))
        st.markdown(f"**Action:** {md(row.action)}")
        st.caption(f"Most common RFM score label: {md(row.rfm_segment_top)}",
                   help="Each customer also has a standard label from their own R and F scores (Customers page). "
                        "The segment's name describes its typical customer; its members' own labels vary.")

with st.expander("How the segments are named"):
    st.markdown(names_explained)

# --- charts ---------------------------------------------------------------------------------
st.subheader("How the segments differ")
TABS = ["Scatter", "3D R/F/M", "Compared with average", "Snake plot", "Revenue share", "Segments × RFM score labels"]
# Only the open tab is drawn: a K change re-renders one chart, not six.
scatter, three_d, heatmap, snake, revenue_tab, crosstab = st.tabs(TABS, key="w_segment_tab", on_change="rerun")
if scatter.open:
    with scatter:
        options = list(charts.FEATURES)
        c = st.columns(4, vertical_alignment="bottom")
        x = c[0].selectbox("Horizontal axis", options, index=options.index("recency"), key="w_scatter_x",
                           format_func=charts.FEATURE_LABELS.get)
        y = c[1].selectbox("Vertical axis", options, index=options.index("monetary"), key="w_scatter_y",
                           format_func=charts.FEATURE_LABELS.get)
        log_x = c[2].toggle("Log scale (horizontal)", value=False, key="w_scatter_logx")
        log_y = c[3].toggle("Log scale (vertical)", value=True, key="w_scatter_logy")
        with reporting("Scatter plot"):
            st.plotly_chart(charts.scatter_2d(customers, x=x, y=y, log_x=log_x, log_y=log_y,
                                              max_points=charts.SCREEN_MAX_POINTS), key="scatter_2d")
if three_d.open:
    with three_d:
        log3d = st.toggle("Log scales", value=True, key="w_3d_log")
        with reporting("3D plot"):
            st.plotly_chart(charts.scatter_3d(customers, log=log3d, max_points=charts.SCREEN_MAX_POINTS),
                            key="scatter_3d")
if heatmap.open:
    with heatmap:
        st.caption("Each segment's average of each feature, as a percentage above or below the average customer. "
                   "The colour says better (blue) or worse (red) than average: for recency fewer days since the "
                   "last purchase is better, so a recency below average is blue.")
        st.plotly_chart(charts.relative_heatmap(customers), key="relative_heatmap")
if snake.open:
    with snake:
        st.caption("How far above or below the average customer each segment sits on recency, frequency and "
                   "spend (0 = the average customer), all three on one scale so they can be compared.",
                   help="Mean z-score per segment of log1p(recency), log1p(frequency) and log1p(monetary): "
                        "standard deviations from the mean of all customers.")
        st.plotly_chart(charts.snake_plot(customers), key="snake_plot")
if revenue_tab.open:
    with revenue_tab:
        kind = st.segmented_control("Show as", ["bar", "treemap"], default="bar", key="w_revenue_kind",
                                    format_func=str.capitalize, required=True)
        st.plotly_chart(charts.revenue_share_figure(profiles, kind=kind or "bar"), key="revenue_share")
if crosstab.open:
    with crosstab:
        st.caption("How the segments line up with the standard RFM score labels of their customers (each "
                   "customer's own R and F scores, 1–5).")
        normalise = st.toggle("Show shares of each segment (off: customer counts)", value=True,
                              key="w_crosstab_norm")
        st.plotly_chart(charts.crosstab_heatmap(customers, normalise=normalise), key="crosstab")

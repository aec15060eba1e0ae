"""Outlook page: what each segment is likely to buy next, who has quietly stopped buying, and how good
these predictions were on the marketer's own data."""
from __future__ import annotations

import streamlit as st

from segmentation import export, outlook, prediction_charts
from segmentation.errors import PredictionError
from ui import prediction as predicting
from ui.errors import reporting
from ui.render import results_or_empty_state
from ui.text import md

MODEL_HELP = ("Purchases and the chance of still being active come from the BG/NBD model (Fader, Hardie & Lee "
              "2005, \"Counting Your Customers the Easy Way\"), spend per purchase from the Gamma-Gamma model, "
              "both fitted by maximum likelihood on this data's purchase days (all of a customer's purchases on one "
              "day count as one).")
P_ALIVE_THRESHOLDS = tuple(i / 20 for i in range(1, 20))  # 5%, 10%, …, 95%
TOP_VALUE_SHARES = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)

st.title("Outlook: what comes next")
outcome = results_or_empty_state()
st.markdown("What each segment is likely to buy in the coming days, which valuable customers have probably "
            "stopped buying, and how good these predictions were on your own data.", help=MODEL_HELP)

try:
    with st.spinner("Predicting each customer's next purchases (a few seconds)…"):
        prediction = outcome.prediction(wait=True)
except PredictionError as error:
    st.info(f"**No predictions for this data.** {md(error.message)}"
            + (f"  \n*How to fix:* {md(error.hint)}" if error.hint else ""), icon=":material/info:")
    st.stop()
for warning in prediction.warnings:
    st.warning(md(warning), icon=":material/warning:")

# --- predicted revenue per segment ------------------------------------------------------------
st.subheader("Predicted revenue per segment")
horizon = st.segmented_control("Next", predicting.OUTLOOK_HORIZONS, default=predicting.HORIZON_DAYS,
                               format_func=lambda days: f"{days} days", key="w_outlook_horizon", required=True)
horizon = horizon or predicting.HORIZON_DAYS
ahead = outcome.segment_outlook(prediction, horizon)
top = st.columns(4)
top[0].metric(f"Predicted revenue, next {horizon} days", outlook.money(ahead["predicted_revenue"].sum(min_count=1)))
top[1].metric(f"Expected purchases, next {horizon} days", f"{ahead['expected_purchases'].sum():,.0f}",
              help="Purchase days: all of a customer's purchases on one day count as one.")
top[2].metric("Chance still active (average customer)", f"{prediction.customers['p_alive'].mean():.0%}")
top[3].metric("Customers likely inactive", f"{ahead['likely_inactive'].sum():,}",
              help="Customers whose chance of still being active is below 50%.")
if prediction.gamma_gamma is not None:  # without a spend model there is no revenue to draw
    with reporting("Predicted revenue chart"):
        st.plotly_chart(prediction_charts.segment_revenue_figure(ahead, horizon_days=horizon), key="outlook_revenue")
st.dataframe(
    ahead[["segment_id", "segment", "customers", "predicted_revenue", "revenue_share", "expected_purchases",
           "mean_p_alive", "likely_inactive"]],
    hide_index=True,
    column_config={
        "segment_id": st.column_config.NumberColumn("#", width="small"),
        "segment": "Segment",
        "customers": st.column_config.NumberColumn("Customers", format="%,d"),
        "predicted_revenue": st.column_config.NumberColumn(f"Predicted revenue, next {horizon} days",
                                                           format="%,.2f"),
        "revenue_share": st.column_config.NumberColumn("Share of predicted revenue", format="percent"),
        "expected_purchases": st.column_config.NumberColumn(f"Expected purchases, next {horizon} days",
                                                            format="%,.1f"),
        "mean_p_alive": st.column_config.NumberColumn("Chance still active (average)", format="percent"),
        "likely_inactive": st.column_config.NumberColumn("Likely inactive (chance below 50%)", format="%,d"),
    },
)

# --- chance still active ----------------------------------------------------------------------
st.subheader("Chance still active, by purchases and recency")
st.caption("For a customer first seen a given number of days ago: the more repeat purchases, the more a long "
           "silence since the last one suggests they have stopped buying. Read along a row: a customer with "
           "several purchases whose last one was long ago (left) is probably gone.")
matrix = outcome.p_alive_matrix(prediction)
with reporting("Chance-still-active matrix"):
    st.plotly_chart(prediction_charts.p_alive_heatmap(matrix.frame, observed_days=matrix.observed_days),
                    key="outlook_p_alive")

# --- valuable customers likely lapsing ----------------------------------------------------------
st.subheader("Valuable customers likely lapsing")
c = st.columns(2)
below = c[0].select_slider("Chance still active below", options=P_ALIVE_THRESHOLDS,
                           value=outlook.DEFAULT_P_ALIVE_BELOW, format_func=lambda p: f"{p:.0%}",
                           key="w_outlook_p_alive_below")
top_share = c[1].select_slider("Valuable: the top … of customers by past spend", options=TOP_VALUE_SHARES,
                               value=outlook.DEFAULT_TOP_VALUE_SHARE, format_func=lambda s: f"{s:.0%}",
                               key="w_outlook_top_share")
lapsing = outcome.lapsing_customers(prediction, p_alive_below=below, top_value_share=top_share)
st.caption(f"**{len(lapsing):,} customers** among the top {top_share:.0%} by past spend have a chance below "
           f"{below:.0%} of still being active: candidates for a win-back campaign.")
st.dataframe(
    lapsing, hide_index=True, height=320,
    column_config={
        "customer_id": st.column_config.TextColumn("Customer"),
        "email": st.column_config.TextColumn("Email"),
        "segment_id": st.column_config.NumberColumn("#", width="small"),
        "segment": "Segment",
        "recency": st.column_config.NumberColumn("Days since last purchase", format="%,d"),
        "frequency": st.column_config.NumberColumn("Purchases", format="%,d"),
        "monetary": st.column_config.NumberColumn("Spent so far", format="%,.2f"),
        "p_alive": st.column_config.NumberColumn("Chance still active", format="percent"),
        "expected_purchases": st.column_config.NumberColumn(
            f"Expected purchases in the next {predicting.HORIZON_DAYS} days", format="%,.2f"),
        "predicted_revenue": st.column_config.NumberColumn(
            f"Predicted revenue, next {predicting.HORIZON_DAYS} days", format="%,.2f"),
    },
)
base = outcome.spec.source.file_stem
st.download_button(
    f"Download these {len(lapsing):,} customers — CSV", data=lambda: export.to_csv_bytes(lapsing),
    file_name=f"{base}_lapsing_below{round(below * 100)}_top{round(top_share * 100)}.csv", mime="text/csv",
    on_click="ignore", icon=":material/download:", key="dl_outlook_lapsing", disabled=lapsing.empty,
    help="An audience to upload to an email or ads tool; spreadsheet formulas in the data are neutralised "
         "(a leading ' is added).")

# --- backtest ---------------------------------------------------------------------------------------
backtest = prediction.backtest
st.subheader(f"How good were these predictions {predicting.HORIZON_DAYS} days ago, on your data?")
if backtest is None:
    st.info(md(prediction.note or "No backtest for this data."), icon=":material/info:")
else:
    st.markdown(md(outlook.backtest_in_words(backtest)),
                help="The same models fitted on the purchases before the last "
                     f"{backtest.holdout_days} days only, then compared with what those customers did in them.")
    with reporting("Backtest chart"):
        st.plotly_chart(prediction_charts.backtest_figure(backtest.by_repeat_purchases,
                                                          holdout_days=backtest.holdout_days), key="outlook_backtest")
    st.caption("As in Fader, Hardie & Lee (2005): customers grouped by their repeat purchases before the cut, "
               "their average purchases after it, actual against predicted.")

# --- the fitted models --------------------------------------------------------------------------------
with st.expander("The fitted models"):
    st.markdown(outlook.models_in_words(prediction), help=MODEL_HELP)

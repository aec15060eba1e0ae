"""Choose K page: the evidence for each number of segments, the suggestion and why, K and seed."""
from __future__ import annotations

import streamlit as st

from segmentation import charts, formats
from segmentation.model import plain_reason
from segmentation.settings import K_SCAN_RANGE, K_SUGGEST_RANGE, STABILITY_RESAMPLES, STABLE_THRESHOLD
from ui import saved as saved_ui
from ui import session
from ui.errors import show_error
from ui.render import results_or_empty_state
from ui.text import md

st.title("Choose the number of segments")
outcome = results_or_empty_state()
if outcome.degenerate:  # too few distinct customers: the warning above the page says why
    st.info("There is nothing to compare: the data supports only one number of segments.", icon=":material/info:")
    st.stop()

st.markdown(
    f"Every number of segments from {K_SCAN_RANGE[0]} to {K_SCAN_RANGE[1]} was tried on your "
    f"{len(outcome.prepared.customers):,} customers, grouping them by how recently, how often and how much they "
    "buy. For each number two questions: **how clearly the groups separate**, and **how reliably they come "
    f"back** when the customers are resampled. A number from {K_SUGGEST_RANGE[0]} to {K_SUGGEST_RANGE[1]} is "
    "suggested: as many segments as a marketing team can act on.",
    help="K-Means on recency, frequency and monetary value, log-scaled (log1p) and standardised. Separation: "
         "inertia (its knee), silhouette, Calinski-Harabasz and Davies-Bouldin. Reliability: the mean adjusted "
         f"Rand index between refits on {STABILITY_RESAMPLES} bootstrap resamples and the fit on everyone.",
)
st.success(f"**Suggested: K = {outcome.suggestion.k}.** {md(plain_reason(outcome.scan, outcome.suggestion.k))}",
           icon=":material/lightbulb:")
st.caption(f"The measures behind it: {md(outcome.suggestion.reason)}")

frozen = saved_ui.in_use()
if frozen is not None:
    st.info(f"**K = {frozen.k} comes from the saved segmentation {md(saved_ui.name())}** (fitted on data up to "
            f"{formats.day(frozen.snapshot)}): its segments are applied to this data, so the K controls are off.",
            icon=":material/file_open:")
    st.button("Fit new segments", on_click=saved_ui.stop_using, icon=":material/model_training:",
              key="w_fit_new", help="Stop using the saved segmentation and fit segments on this data again.")

control, seed_col, reset_col = st.columns([5, 2, 2], gap="medium", vertical_alignment="bottom")
with control:
    session.sync_widget("w_k_page", outcome.k)
    st.select_slider("Number of segments (K)", options=outcome.k_values, key="w_k_page",
                     on_change=session.on_k_widget, args=("w_k_page",), disabled=frozen is not None,
                     help="K comes from the saved segmentation while one is in use." if frozen is not None else
                     "Also in the sidebar. Changing K re-fits only the segments, never re-reads the file.")
with seed_col:
    session.sync_widget("w_seed", outcome.seed)
    st.number_input("Random seed", min_value=0, max_value=2**31 - 1, step=1, key="w_seed",
                    on_change=lambda: session.set_seed(st.session_state["w_seed"]),
                    help="K-Means starts from random centres; the same seed always gives the same segments.")
with reset_col:
    st.button("Use the suggested K", on_click=session.set_k, args=(outcome.suggestion.k,),
              disabled=frozen is not None or outcome.k == outcome.suggestion.k, icon=":material/restart_alt:")

st.plotly_chart(charts.k_scan_figure(outcome.scan, suggested_k=outcome.suggestion.k, selected_k=outcome.k),
                key="k_scan_chart")
if outcome.stability is None:
    st.caption("A fifth panel, **how reliably the groups come back**, appears when the background check finishes "
               "(progress in the sidebar): the segments refitted on resamples of the customers.")
with st.expander("How to read these charts"):
    st.markdown(
        "- **Tightness** (inertia) always improves as K grows; the *knee* is where adding segments stops paying "
        "off.\n"
        "- **Clear separation** (silhouette, −1 to 1): how much closer customers are to their own segment than to "
        "the next one; higher is better.\n"
        "- **Separation against spread** (Calinski-Harabasz): distance between segments relative to the spread "
        "within them; higher is better.\n"
        "- **Overlap** (Davies-Bouldin): how much segments overlap their nearest neighbour; lower is better.\n"
        f"- **Comes back on resamples** (stability, 0 to 1): the segments refitted on {STABILITY_RESAMPLES} "
        "bootstrap resamples of the customers, compared with the fit on everyone by the adjusted Rand index "
        f"(bars: 10th–90th percentile). {STABLE_THRESHOLD:.2f} or more is stable; below it the segments are cuts "
        "that come out differently on another sample."
    )
    st.dataframe(outcome.scan, hide_index=True, column_config={
        "k": st.column_config.NumberColumn("K", format="%d"),
        "inertia": st.column_config.NumberColumn("Tightness (inertia)", format="%,.1f"),
        "silhouette": st.column_config.NumberColumn("Clear separation (silhouette)", format="%.3f"),
        "calinski_harabasz": st.column_config.NumberColumn("Separation vs spread (Calinski-Harabasz)",
                                                           format="%,.1f"),
        "davies_bouldin": st.column_config.NumberColumn("Overlap (Davies-Bouldin)", format="%.3f"),
        "stability": st.column_config.NumberColumn("Comes back (stability)", format="%.3f"),
        "stability_low": st.column_config.NumberColumn("Stability, 10th percentile", format="%.3f"),
        "stability_high": st.column_config.NumberColumn("Stability, 90th percentile", format="%.3f"),
    })


st.subheader("Use a saved segmentation")
st.caption("Apply the segments saved from an earlier month (Segments page → Save this segmentation) to this data: "
           "the same segment numbers, names and score cut points, assigned by the nearest saved centre.")


def _use_uploaded() -> None:
    upload = st.session_state.get("w_saved_upload")
    if upload is not None:
        saved_ui.use_upload(upload.name, upload.getvalue())


st.file_uploader("Saved segmentation (JSON)", type=["json"], key="w_saved_upload", on_change=_use_uploaded)
if saved_ui.error() is not None:
    show_error(saved_ui.error(), context="This file cannot be used; the current segments stay")

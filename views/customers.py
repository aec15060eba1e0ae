"""Customers page: every customer with features, scores and segment; filter, search, download."""
from __future__ import annotations

import streamlit as st

from segmentation import audiences, export, formats
from ui.prediction import HORIZON_DAYS
from ui.render import results_or_empty_state

COLUMNS = ["customer_id", "email", "segment_id", "segment", "rfm_segment", "recency", "frequency", "monetary", "tenure",
           "avg_order_value", "r_score", "f_score", "m_score", "first_purchase", "last_purchase", "country",
           "action", "margin", "borderline", "p_alive", "expected_purchases", "predicted_revenue"]

st.title("Customers")
outcome = results_or_empty_state()

seg = outcome.segmentation()
prediction = outcome.prediction()  # None until computed in the background, after the first segments
customers = seg.customers if prediction is None else outcome.customers_ahead(prediction)
currency = outcome.currency()
names = seg.profiles.sort_values("segment_id")["segment"].tolist()

c = st.columns([3, 2, 2], vertical_alignment="bottom")
chosen = c[0].multiselect("Segments", names, key="w_customer_segments", placeholder="All segments")
query = c[1].text_input("Search customer id", key="w_customer_search", placeholder="e.g. 12347")
borderline_only = c[2].toggle("Borderline customers only", key="w_customer_borderline",
                              help="The tenth of customers closest to another segment: the smallest margin "
                                   "between their own segment's centre and the next one. Another sample or seed "
                                   "could put them in the neighbouring segment.")

shown = customers
if chosen:
    shown = shown[shown["segment"].isin(chosen)]
if borderline_only:
    shown = shown[shown["borderline"]]
if query.strip():
    shown = shown[shown["customer_id"].astype(str).str.contains(query.strip(), case=False, regex=False, na=False)]
shown = shown[[col for col in COLUMNS if col in shown.columns]].sort_values(["segment_id", "monetary"],
                                                                           ascending=[True, False])

st.caption(f"{len(shown):,} of {len(customers):,} customers"
           + (" · the chance still active and the predictions join the table once computed in the background "
              "(on your next click)" if prediction is None else ""))
st.dataframe(
    shown,
    hide_index=True,
    height=460,
    column_config={
        **{name: formats.column_label(name) for name in COLUMNS},
        "customer_id": st.column_config.TextColumn(formats.column_label("customer_id")),
        "segment_id": st.column_config.NumberColumn("#", width="small"),
        "rfm_segment": st.column_config.TextColumn(
            formats.column_label("rfm_segment"), help="The standard RFM name of this customer's own R and F scores "
            "(fifths of this file's customers). The segment's name describes the segment's typical customer, so "
            "the two can differ."),
        "recency": st.column_config.NumberColumn(formats.column_label("recency"), format="%,d"),
        "frequency": st.column_config.NumberColumn(formats.column_label("frequency"), format="%,d"),
        "monetary": st.column_config.NumberColumn(formats.column_label("monetary"),
                                                  format=formats.money_format(currency)),
        "tenure": st.column_config.NumberColumn(formats.column_label("tenure"), format="%,d"),
        "avg_order_value": st.column_config.NumberColumn(formats.column_label("avg_order_value"),
                                                         format=formats.money_format(currency)),
        "r_score": "R", "f_score": "F", "m_score": "M",
        "first_purchase": st.column_config.DatetimeColumn(formats.column_label("first_purchase"),
                                                          format=formats.TABLE_DATE_FORMAT),
        "last_purchase": st.column_config.DatetimeColumn(formats.column_label("last_purchase"),
                                                         format=formats.TABLE_DATE_FORMAT),
        "margin": st.column_config.NumberColumn(
            "Margin", format="%.3f", help="How clearly the customer belongs to their segment: the distance to the "
            "second-nearest segment centre minus the distance to the nearest, in the model's scaled space. Small "
            "means close to another segment."),
        "borderline": st.column_config.CheckboxColumn("Borderline", help="Margin among the lowest 10%."),
        "p_alive": st.column_config.NumberColumn(
            "Chance still active", format="percent",
            help="Chance that the customer has not stopped buying (BG/NBD model fitted on this data)."),
        "expected_purchases": st.column_config.NumberColumn(
            f"Expected purchases, next {HORIZON_DAYS} days", format="%.2f",
            help="Purchase days: all of a customer's purchases on one day count as one (BG/NBD)."),
        "predicted_revenue": st.column_config.NumberColumn(
            f"Predicted revenue, next {HORIZON_DAYS} days", format="%,.2f",
            help="Expected purchases × expected spend per purchase (Gamma-Gamma model; the average for "
                 "customers with one purchase)."),
    },
)

st.subheader("Download")
st.caption("Spreadsheet formulas in the data are neutralised (a leading ' is added), so the files are safe to open.")
summary = seg.profiles
verdict = outcome.stability_verdict()
if verdict is not None:  # the segment summary gets each segment's stability once it is known
    summary = summary.merge(verdict.segments[["segment_id", "stability"]], on="segment_id", how="left")
base = outcome.spec.source.file_stem
suffix = f"_k{seg.k}"
label_rows = "all" if len(shown) == len(customers) else "the filtered"
d = st.columns(3)
d[0].download_button(
    f"Customers — CSV ({len(shown):,})", data=lambda: export.to_csv_bytes(shown),
    file_name=f"{base}_customers{suffix}.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
    key="dl_customers_csv", help=f"Downloads {label_rows} customers shown above.")
d[1].download_button(
    "Customers + segments — Excel",
    data=lambda: export.to_xlsx_bytes({"Customers": shown, "Segments": summary}, currency=currency),
    file_name=f"{base}_customers{suffix}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", on_click="ignore",
    icon=":material/download:", key="dl_customers_xlsx")
d[2].download_button(
    "Segment summary — CSV", data=lambda: export.to_csv_bytes(summary),
    file_name=f"{base}_segments{suffix}.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
    key="dl_segments_csv")

st.caption("Audiences: one list per segment (customer id, segment, recency, frequency, monetary"
           + (", email" if "email" in customers.columns else "") + ") to upload to an email or ads tool.")
a = st.columns(3)
a[0].download_button(
    "Audiences — ZIP of CSV files", data=lambda: audiences.audiences_zip(customers, summary),
    file_name=f"{base}_audiences{suffix}.zip", mime="application/zip", on_click="ignore",
    icon=":material/download:", key="dl_audiences_zip", help="One CSV file per segment, all customers.")
a[1].download_button(
    "Audiences — Excel", data=lambda: audiences.audiences_xlsx(customers, summary, currency=currency),
    file_name=f"{base}_audiences{suffix}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", on_click="ignore",
    icon=":material/download:", key="dl_audiences_xlsx", help="A summary sheet and one sheet per segment.")

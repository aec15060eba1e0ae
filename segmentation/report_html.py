"""A self-contained HTML report of a segmentation: one file to send, open offline and print.

What is in it: the data source and date range, the cleaning audit, the evidence for K and the
reason for it, one card per segment, what comes next when the result has a prediction (per
segment, the backtest, the fitted models), the interactive charts of the dashboard and the
methodology (definitions, snapshot, model, seed, version), so the numbers can be reproduced.

How it stays one small, safe file:
- plotly.js (from the installed plotly package) is inlined once, gzip-compressed and base64
  encoded (4.8 MB → 2 MB); so is the JSON of every chart. A short inline script inflates them
  with the browser's DecompressionStream and draws the charts. Nothing is fetched: no CDN,
  no fonts, no images, MathJax off; a Content-Security-Policy forbids any request and any
  script but that one (by its hash).
- Every piece of user text (file name, column names, customer ids, countries, products, notes)
  is HTML-escaped in the page; in the charts it is already escaped by `charts` and travels as
  base64 data, read with JSON.parse, never as markup or code.
- Scatter plots show at most `max_points` customers (a fixed-seed sample, said in the title).
- Charts are 680 px wide, the printable width of A4 and Letter, and each chart and segment
  card stays on one printed page.
"""
from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly

from . import __version__, charts, export, outlook, prediction_charts
from .formats import DATE_FORMAT, plural
from .model import FEATURES as MODEL_FEATURES
from .prediction import segment_outlook
from .segments import LAPSED_AFTER_GAPS, top_countries, top_items
from .settings import CLEANING_RULES, DEFAULT_SEED, K_SCAN_RANGE, K_SUGGEST_RANGE, N_INIT

__all__ = ["CHART_WIDTH", "render", "write_report"]

CHART_WIDTH = 680  # px: A4 (210 mm) and Letter (8.5 in) less 15 mm margins, at 96 px per inch
REPORT_TEMPLATE = "plotly"  # axes with automargin: every tick label and axis title inside its figure
_RULE_HELP = {rule.name: rule.help for rule in CLEANING_RULES}
_PLOT_CONFIG = {"displaylogo": False, "responsive": False, "typesetMath": False, "showSendToCloud": False,
                "modeBarButtonsToRemove": ["sendDataToCloud"]}


def _text(value: object) -> str:
    """User or derived text, safe as HTML element content or attribute value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return html.escape(str(value), quote=True)


def _pack(data: bytes) -> str:
    """gzip (fixed mtime: same input, same report) then base64: plain ASCII, no < > & in it."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


@functools.cache
def _plotly_js_packed() -> str:
    path = Path(go.__file__).resolve().parents[1] / "package_data" / "plotly.min.js"
    return _pack(path.read_bytes())


# The one script of the report. It inflates plotly.js and the charts' JSON and draws each chart
# into its div; data attributes on <body> say how far it got (the browser test waits on them).
_LOADER = """\
(async function () {
  const body = document.body;
  async function inflate(id) {
    const text = document.getElementById(id).textContent.trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
  const holders = document.querySelectorAll(".plotly-graph-div");
  try {
    if (typeof DecompressionStream === "undefined") throw new Error("no DecompressionStream");
    (0, eval)(await inflate("plotly-js"));
    const figures = JSON.parse(await inflate("report-figures"));
    const config = JSON.parse(document.getElementById("plot-config").textContent);
    let drawn = 0;
    for (const holder of holders) {
      const figure = figures[holder.dataset.figure];
      await Plotly.newPlot(holder, figure.data, figure.layout, config);
      drawn += 1;
    }
    body.dataset.chartsDrawn = String(drawn);
  } catch (error) {
    for (const holder of holders) {
      holder.textContent = "The interactive charts need a current browser (Chrome, Edge, Firefox, Safari " +
        "from 2023 on); the tables and text of this report are complete without them.";
      holder.classList.add("no-chart");
    }
    body.dataset.chartsError = String(error);
  }
  body.dataset.chartsDone = "true";
})();
"""


def _csp(loader: str) -> str:
    digest = base64.b64encode(hashlib.sha256(loader.encode()).digest()).decode()
    # 'unsafe-eval': plotly.js is started by eval and its WebGL charts compile code with Function.
    return ("default-src 'none'; "
            f"script-src 'sha256-{digest}' 'unsafe-eval'; "
            "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
            "base-uri 'none'; form-action 'none'")


_CSS = """\
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --accent: #4477AA; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f5f7fa;
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 760px; margin: 0 auto; padding: 24px 40px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 0 0 4px; }
p, li { margin: 4px 0; }
.muted, figcaption, .note { color: var(--muted); font-size: 13px; }
.metrics { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 16px 0; }
.metric { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.metric b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid var(--ink); }
.card { border: 1px solid var(--line); border-left: 6px solid var(--accent); border-radius: 6px;
        padding: 12px 16px; margin: 12px 0; break-inside: avoid; page-break-inside: avoid; }
.card .headline { font-weight: 600; }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px;
         background: #e3f8ff; color: #0b6e99; margin-left: 6px; vertical-align: middle; }
figure.chart { margin: 16px 0; break-inside: avoid; page-break-inside: avoid; }
.plotly-graph-div { width: 680px; max-width: 100%; }
.no-chart { border: 1px dashed var(--line); padding: 12px; color: var(--muted); }
@page { size: auto; margin: 15mm; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section.charts h2 { break-before: page; page-break-before: always; }
  .modebar-container { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
"""


def _metric(label: str, value: str) -> str:
    return f'<div class="metric"><span class="muted">{label}</span><b>{value}</b></div>'


def _date(value) -> str:
    return "—" if value is None else pd.Timestamp(value).strftime(DATE_FORMAT)


def _number(value, fmt: str = ",.0f") -> str:
    return "—" if value is None or pd.isna(value) else format(float(value), fmt)


def _header(result, source: str, title: str) -> str:
    prepared = result.prepared
    customers = result.segmentation.customers
    revenue = float(customers["monetary"].sum())
    return (
        f"<header><h1>{_text(title)}</h1>"
        f'<p class="muted">Data source: <b>{_text(source)}</b> · purchases from {_date(prepared.date_min)} '
        f"to {_date(prepared.date_max)} · snapshot {_date(prepared.snapshot)}</p></header>"
        '<div class="metrics">'
        + _metric("Customers", f"{len(customers):,}")
        + _metric("Segments (K)", f"{result.k}")
        + _metric("Revenue", f"{revenue:,.2f}")
        + _metric("Rows kept", f"{prepared.audit.rows_kept:,} of {prepared.audit.rows_in:,}")
        + "</div>"
    )


def _audit_section(result) -> str:
    audit = result.prepared.audit
    rows = []
    for row in audit.table.itertuples():
        customers = "" if pd.isna(getattr(row, "customers", None)) else f"{int(row.customers):,}"
        revenue = _number(getattr(row, "revenue", None), ",.2f")
        rows.append(f'<tr><td>{_text(row.label)}<div class="note">{_text(_RULE_HELP.get(row.rule, ""))}</div></td>'
                    f'<td><code>{_text(row.rule)}</code></td><td class="num">{int(row.rows):,}</td>'
                    f'<td class="num">{customers}</td><td class="num">{revenue}</td></tr>')
    dropped = audit.rows_in - audit.rows_kept
    share = audit.rows_kept / audit.rows_in if audit.rows_in else 0.0
    notes = "".join(f"<li>{_text(note)}</li>" for note in result.prepared.notes)
    return (
        '<section id="cleaning"><h2>Cleaning: where every row went</h2>'
        f"<p>{audit.rows_in:,} rows in; {dropped:,} dropped by the rules below (each row counted once, under "
        f"the first rule that drops it); <b>{audit.rows_kept:,} kept</b> ({share:.1%}).</p>"
        '<table><thead><tr><th>Rule</th><th>Name</th><th class="num">Rows dropped</th>'
        '<th class="num">Customers</th><th class="num">Revenue</th></tr></thead><tbody>'
        f'<tr><td>Rows in</td><td></td><td class="num">{audit.rows_in:,}</td><td></td><td></td></tr>'
        + "".join(rows)
        + f'<tr class="total"><td>Rows kept</td><td></td><td class="num">{audit.rows_kept:,}</td><td></td>'
        "<td></td></tr></tbody></table>"
        + (f'<p class="note">Notes on reading the file:</p><ul class="note">{notes}</ul>' if notes else "")
        + "</section>"
    )


def _k_section(result, figure_ids: dict[str, str]) -> str:
    scan = result.k_scan
    chosen = ("the suggested number" if result.k == result.suggestion.k
              else f"chosen by the user (suggested: K={result.suggestion.k})")
    parts = [
        '<section id="k"><h2>How many segments</h2>',
        f"<p><b>K = {result.k}</b>, {chosen}. {_text(result.suggestion.reason)}</p>",
    ]
    if not scan.empty:
        head = ('<table><thead><tr><th class="num">K</th><th class="num">Inertia</th><th class="num">Silhouette</th>'
                '<th class="num">Calinski-Harabasz</th><th class="num">Davies-Bouldin</th></tr></thead><tbody>')
        body = "".join(
            f'<tr><td class="num">{"<b>" if int(r.k) == result.k else ""}{int(r.k)}'
            f'{"</b>" if int(r.k) == result.k else ""}</td><td class="num">{_number(r.inertia, ",.1f")}</td>'
            f'<td class="num">{_number(r.silhouette, ".3f")}</td><td class="num">{_number(r.calinski_harabasz, ",.1f")}'
            f'</td><td class="num">{_number(r.davies_bouldin, ".3f")}</td></tr>'
            for r in scan.sort_values("k").itertuples()
        )
        parts.append(head + body + "</tbody></table>")
        parts.append(
            "<p class=\"note\">Higher silhouette and Calinski-Harabasz and lower Davies-Bouldin mean better separated "
            "segments; the knee of the inertia curve is where more segments stop paying off.</p>")
        parts.append(_chart(figure_ids["k_scan"], "The four measures for each K (star: suggested K)."))
    for warning in result.warnings:
        parts.append(f'<p class="note">Warning: {_text(warning)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _segment_cards(result, stability: Mapping[int, str] | None) -> str:
    segmentation = result.segmentation
    customers = segmentation.customers
    countries = top_countries(customers, n=3)
    products = top_items(customers, result.prepared.customer_products, n=3)
    cards = ['<section id="segments"><h2>The segments</h2>',
             '<p class="muted">Numbered by value: 1 is the segment whose customers spend most on average. '
             "Typical values are medians of the segment's customers.</p>"]
    for row in segmentation.profiles.sort_values("segment_id").itertuples():
        segment_id = int(row.segment_id)
        badge = ""
        if stability and segment_id in stability:
            badge = f'<span class="badge">{_text(stability[segment_id])}</span>'
        where = countries[countries["segment_id"] == segment_id]
        items = products[products["segment_id"] == segment_id] if not products.empty else products
        lines = [
            f'<article class="card" style="border-left-color: {charts.segment_color(segment_id, row.segment)}" '
            f'id="segment-{segment_id}">',
            f"<h3>{segment_id}. {_text(row.segment)}{badge}</h3>",
            f'<p class="headline">{plural(int(row.customers), "customer")} ({row.share:.0%} of customers) · '
            f"{row.revenue_share:.0%} of revenue ({_number(row.revenue, ',.2f')})</p>",
            f"<p>Typical customer: last purchase <b>{plural(round(row.recency_median), 'day')}</b> ago · "
            f"<b>{plural(round(row.frequency_median), 'purchase')}</b> · spent "
            f"<b>{_number(row.monetary_median, ',.2f')}</b></p>",
        ]
        if not where.empty:
            lines.append("<p><b>Top countries:</b> " + ", ".join(
                f"{_text(c)} ({s:.0%})" for c, s in zip(where["country"], where["share"], strict=True)) + "</p>")
        if not items.empty:
            names = [d if isinstance(d, str) and d.strip() else p
                     for d, p in zip(items["description"], items["product"], strict=True)]
            lines.append("<p><b>Top products:</b> " + "; ".join(_text(n) for n in names) + "</p>")
        lines.append(f"<p><b>Action:</b> {_text(row.action)}</p>")
        lines.append(f'<p class="note">Most common RFM score label: {_text(row.rfm_segment_top)}</p></article>')
        cards.append("".join(lines))
    cards.append("</section>")
    return "".join(cards)


def _prediction_section(result) -> tuple[str, dict[str, go.Figure]]:
    """What comes next (when the run predicted): per segment, the backtest, the fitted models."""
    prediction = getattr(result, "prediction", None)
    if prediction is None:
        return "", {}
    days = prediction.horizon_days
    ahead = segment_outlook(prediction, result.segmentation.customers).sort_values("segment_id")
    figures = {} if prediction.gamma_gamma is None else {
        "prediction_revenue": prediction_charts.segment_revenue_figure(ahead, horizon_days=days)}
    rows = "".join(
        f"<tr><td>{int(r.segment_id)}. {_text(r.segment)}</td><td class=\"num\">{int(r.customers):,}</td>"
        f'<td class="num">{_number(r.predicted_revenue, ",.2f")}</td>'
        f'<td class="num">{_number(r.revenue_share, ".1%")}</td>'
        f'<td class="num">{_number(r.expected_purchases, ",.1f")}</td><td class="num">{r.mean_p_alive:.0%}</td>'
        f'<td class="num">{int(r.likely_inactive):,}</td></tr>'
        for r in ahead.itertuples())
    parts = [
        '<section id="prediction"><h2>What comes next</h2>',
        f"<p>Predicted for the {days:,} days after the snapshot, per customer, by the BG/NBD model (purchases and "
        "the chance still active) and the Gamma-Gamma model (spend per purchase), fitted on this data's purchase "
        "days.</p>",
        '<table><thead><tr><th>Segment</th><th class="num">Customers</th>'
        f'<th class="num">Predicted revenue, next {days:,} days</th><th class="num">Share</th>'
        '<th class="num">Expected purchases</th><th class="num">Chance still active (average)</th>'
        '<th class="num">Likely inactive (below 50%)</th></tr></thead><tbody>' + rows + "</tbody></table>",
    ]
    if figures:
        parts.append(_chart("prediction_revenue", "Predicted revenue per segment; the label is its share of the "
                                                  "total."))
    backtest = prediction.backtest
    parts.append(f"<h3>How good were these predictions {days:,} days ago?</h3>")
    if backtest is None:
        parts.append(f'<p class="note">{_text(prediction.note or "No backtest for this data.")}</p>')
    else:
        figures["prediction_backtest"] = prediction_charts.backtest_figure(
            backtest.by_repeat_purchases, holdout_days=int(backtest.holdout_days))
        parts.append(f"<p>{_text(outlook.backtest_in_words(backtest))}</p>")
        parts.append(_chart("prediction_backtest", "Customers grouped by their repeat purchases before the cut: "
                                                   "their average purchases after it, actual and predicted."))
    models = html.escape(outlook.models_in_words(prediction), quote=False)
    parts.append('<p class="note">' + re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", models) + "</p>")
    for warning in prediction.warnings:
        parts.append(f'<p class="note">Warning: {_text(warning)}</p>')
    parts.append("</section>")
    return "".join(parts), figures


def _chart(figure_id: str, caption: str) -> str:
    return (f'<figure class="chart"><div class="plotly-graph-div" data-figure="{_text(figure_id)}"></div>'
            f"<figcaption>{caption}</figcaption></figure>")


def _figures(result, max_points: int | None,
             extra_charts: Sequence[tuple[str, go.Figure]]) -> tuple[dict[str, go.Figure], list[tuple[str, str]]]:
    """Every chart of the report by id, and the (id, caption) of those in the charts section."""
    segmentation = result.segmentation
    customers = segmentation.customers
    figures: dict[str, go.Figure] = {}
    if not result.k_scan.empty:
        figures["k_scan"] = charts.k_scan_figure(result.k_scan, suggested_k=result.suggestion.k,
                                                 selected_k=result.k if result.k in set(result.k_scan["k"]) else None)
    shown = [
        ("scatter", charts.scatter_2d(customers, x="recency", y="monetary", max_points=max_points),
         "Each dot is a customer: days since the last purchase against total spend (log scale)."),
        ("scatter_3d", charts.scatter_3d(customers, max_points=max_points),
         "Recency, frequency and monetary value together (log scales); drag to turn."),
        ("heatmap", charts.relative_heatmap(customers),
         "Each segment's average as a percentage above or below the average customer. Colour says better "
         "(blue) or worse (red): for recency, fewer days since the last purchase is better."),
        ("snake", charts.snake_plot(customers),
         "Standardised recency, frequency and monetary value per segment (0 = the average customer)."),
        ("revenue", charts.revenue_share_figure(segmentation.profiles),
         "Share of customers against share of revenue."),
        ("crosstab", charts.crosstab_heatmap(customers),
         "How the segments line up with their customers' own RFM score labels."),
    ]
    shown += [(f"extra_{index}", figure, caption) for index, (caption, figure) in enumerate(extra_charts)]
    captions = []
    for figure_id, figure, caption in shown:
        figures[figure_id] = figure
        captions.append((figure_id, _text(caption)))
    for figure in figures.values():
        # The report draws with plotly.js alone: its own template, not the process's default
        # (importing Streamlit makes that "streamlit", which has no automargin and leaves the
        # charts' 10 px margins to clip their axis labels — what the app's download did).
        figure.update_layout(width=CHART_WIDTH, autosize=False, template=REPORT_TEMPLATE)
    return figures, captions


def _methodology(result, seed: int | None) -> str:
    prepared = result.prepared
    roles = "".join(f"<tr><td>{_text(role)}</td><td>{_text(column)}</td></tr>"
                    for role, column in prepared.roles.items())
    seed_text = f"{seed}" if seed is not None else f"{DEFAULT_SEED} unless another was set"
    sampled = ""
    if len(prepared.customers) > 100_000:
        sampled = (" Above 100,000 customers each K of the scan is fitted on a fixed-seed sample of 50,000 "
                   "customers and every customer is assigned to the nearest centre.")
    features = ", ".join(MODEL_FEATURES)
    return (
        '<section id="methodology"><h2>Methodology</h2>'
        "<ul>"
        f"<li><b>Snapshot</b>: {_date(prepared.snapshot)} — the date recency is measured to (the day after the "
        "last purchase unless set).</li>"
        "<li><b>Recency (R)</b>: calendar days from the customer's last purchase to the snapshot.</li>"
        "<li><b>Frequency (F)</b>: number of distinct purchases (invoices) with positive revenue.</li>"
        "<li><b>Monetary (M)</b>: total revenue of the customer's kept lines (quantity × price, or the line "
        "amount).</li>"
        f"<li><b>Model</b>: K-Means on {features}, after log1p and standard scaling (scikit-learn pipeline), "
        f"{N_INIT} initialisations, random seed {seed_text}. K scanned from {K_SCAN_RANGE[0]} to {K_SCAN_RANGE[1]}; "
        f"the suggestion is the K from {K_SUGGEST_RANGE[0]} to {K_SUGGEST_RANGE[1]} most measures favour."
        f"{sampled}</li>"
        "<li><b>Segment names</b>: the standard RFM name of the segment's typical customer (the median of its "
        "customers' R and F scores, 1–5 by quintile of this data); a segment whose typical customer has not bought "
        f"for more than {LAPSED_AFTER_GAPS} times the data's usual gap between two purchases is named as lapsed; "
        "segments sharing a name are told apart by spend.</li>"
        f"<li><b>Software</b>: Segmenter {_text(__version__)}.</li>"
        "</ul>"
        "<p>Columns used:</p><table><thead><tr><th>Role</th><th>Column in the file</th></tr></thead>"
        f"<tbody>{roles}</tbody></table>"
        "</section>"
    )


def render(
    result,
    *,
    source: str | None = None,
    seed: int | None = None,
    title: str = "Customer segments",
    max_points: int | None = charts.DEFAULT_MAX_POINTS,
    stability: Mapping[int, str] | None = None,
    extra_charts: Sequence[tuple[str, go.Figure]] = (),
) -> str:
    """The report of a `pipeline.Result` as one HTML document (text).

    `source` names the data (a file name, a table); `seed` is the K-Means seed used. Optional
    sections appear when their data is given: `stability` (segment_id → badge text on the card;
    by default from ``result.stability`` when the run computed it)
    and `extra_charts` ((caption, figure) pairs after the standard charts, e.g. migration).
    """
    source = source if source is not None else "(not given)"
    if stability is None and getattr(result, "stability", None) is not None:
        # Computed with the segments (stability.py): each card gets its band and the number.
        stability = {int(row.segment_id): f"{row.stability_band} (stability {row.stability:.2f})"
                     for row in result.stability.segments.itertuples() if row.stability_band}
    figures, captions = _figures(result, max_points, extra_charts)
    prediction_section, prediction_figures = _prediction_section(result)
    for figure_id, figure in prediction_figures.items():
        figures[figure_id] = figure.update_layout(width=CHART_WIDTH, autosize=False)
    figure_json = to_json_plotly({key: fig.to_plotly_json() for key, fig in figures.items()})
    chart_section = ('<section class="charts" id="charts"><h2>How the segments differ</h2>'
                     + "".join(_chart(figure_id, caption) for figure_id, caption in captions) + "</section>")
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_text(_csp(_LOADER))}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)} — {_text(source)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _header(result, source, title),
        _audit_section(result),
        _k_section(result, {"k_scan": "k_scan"}),
        _segment_cards(result, stability),
        prediction_section,
        chart_section,
        _methodology(result, seed),
        "</main>",
        f'<script type="application/json" id="plot-config">{_json_for_script(_PLOT_CONFIG)}</script>',
        f'<script type="application/octet-stream" id="plotly-js">{_plotly_js_packed()}</script>',
        f'<script type="application/octet-stream" id="report-figures">{_pack(figure_json.encode())}</script>',
        f"<script>{_LOADER}</script>",
        "</body></html>",
    ]
    return "\n".join(page)


def _json_for_script(value) -> str:
    """JSON safe inside <script>: < > & and the two JavaScript line separators escaped."""
    text = json.dumps(value, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def write_report(path: str | os.PathLike, result, **options) -> None:
    """Render the report and write it atomically (see `render` for the options)."""
    export.write_atomic(path, render(result, **options).encode("utf-8"))

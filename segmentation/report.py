"""The `--report` JSON and the `--out` columns: a contract other tools rely on (keys and columns
are only ever added, never renamed). Light on imports: the CLI loads it before any data."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .settings import DEFAULT_SEED, OUTPUT_COLUMNS, STABILITY_COLUMNS

if TYPE_CHECKING:
    from .pipeline import Result

__all__ = ["OUTPUT_COLUMNS", "report_of"]


def report_of(result: Result, source: str, *, seed: int = DEFAULT_SEED) -> dict:
    prepared = result.prepared
    audit = prepared.audit
    profiles = result.segmentation.profiles
    return {
        "source": source,
        "rows_in": audit.rows_in,
        "rows_kept": audit.rows_kept,
        "dropped": audit.dropped,
        "audit": audit.table.to_dict(orient="records"),
        # the status values found (role `status`) and how each was treated: status, treatment, rows
        "statuses": [{"status": row.status, "treatment": row.treatment, "rows": int(row.rows)}
                     for row in audit.statuses.itertuples()],
        "customers": len(prepared.customers),
        "snapshot": prepared.snapshot.isoformat(),
        "columns": prepared.roles,
        "k": result.k,
        "k_suggested": result.suggestion.k,
        "k_reason": result.suggestion.reason,
        "seed": seed,
        "k_scan": [
            {key: (None if value != value else value) for key, value in row.items()}  # NaN → null
            | {key: None for key in STABILITY_COLUMNS if key not in row}  # null: not computed
            for row in result.k_scan.to_dict(orient="records")
        ],
        "segments": [
            {
                "segment_id": int(row.segment_id),
                "segment": row.segment,
                "action": row.action,
                "customers": int(row.customers),
                "share": float(row.share),
                "revenue": float(row.revenue),
                "revenue_share": float(row.revenue_share),
                "recency_mean": float(row.recency_mean),
                "frequency_mean": float(row.frequency_mean),
                "monetary_mean": float(row.monetary_mean),
                "recency_median": float(row.recency_median),
                "frequency_median": float(row.frequency_median),
                "monetary_median": float(row.monetary_median),
                "stability": _number_or_none(getattr(row, "stability", None)),
            }
            for row in profiles.itertuples()
        ],
        "notes": list(prepared.notes),
        "warnings": list(result.warnings),
        "seed_agreement": None if result.stability is None else result.stability.seed_agreement,
        "stability": None if result.stability is None else {
            "resamples": result.stability.resamples,
            "sample_customers": result.stability.sample_size,
            "stable_found": result.stability.stable_found,
        },
    } | _prediction_of(result)


def _prediction_of(result: Result) -> dict:
    """`prediction` when one was asked for: the models, per segment, the backtest; null with a
    warning (in `warnings`) when the purchases could not be modelled."""
    if getattr(result, "predict_days", None) is None:
        return {}
    if result.prediction is None:
        return {"prediction": None}
    return {"prediction": result.prediction.report(result.outlook)}


def _number_or_none(value) -> float | None:
    return None if value is None or value != value else float(value)

"""The façade: a source of transactions → customers with RFM features → segments.

It only calls downward (see docs/ARCHITECTURE.md): a source (reading.LoadedFile,
largefile.LargeFile, sources.EngineTable) gives its canonical Ibis table, `preparation`
cleans and aggregates it (`prepare`, what the app caches), then the K scan, the one K policy
(kpolicy.decide_k) and the segments for that K (`run`, what the CLI does).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from . import columns, saved, segments
from .engines import connect_duckdb as connect  # pipeline.connect: public, one name kept
from .export import write_atomic
from .kpolicy import decide_k, needs_evidence
from .model import SCAN_COLUMNS, DegenerateClustersWarning, KSuggestion, max_k, scan_k, segment_model, suggest_k
from .preparation import (
    CUSTOMER_COLUMNS,
    Prepared,
    Progress,
    TransactionSource,
    no_progress,
    prepare_canonical,
    prepare_expr,
)
from .reading import LoadedFile
from .segments import Segmentation
from .settings import DEFAULT_SEED, K_SCAN_RANGE, K_SUGGEST_RANGE, OUTPUT_COLUMNS, CleaningSettings
from .stability import SegmentationStability, Stability, assess, stability_scan

if TYPE_CHECKING:
    from .prediction import Prediction

__all__ = ["Progress", "Prepared", "Result", "CUSTOMER_COLUMNS", "OUTPUT_COLUMNS", "demo_file", "connect",
           "prepare", "prepare_canonical", "prepare_expr", "run", "run_prepared", "apply_prepared", "scan_for",
           "Evidence", "RunSequence"]



@dataclass(frozen=True)
class Result:
    """Everything one run gives: the prepared customers, the K scan, the suggestion, the chosen
    K and the segments (with the fitted model)."""

    prepared: Prepared
    # Quality measures per K compared (empty with fewer than 3 distinct customer profiles, or
    # when the segments come from a saved segmentation): the `k_scan` of --report and api.segment.
    k_scan: pd.DataFrame
    suggestion: KSuggestion
    k: int
    segmentation: Segmentation
    warnings: tuple[str, ...] = ()
    # Per-K stability is in `k_scan`; this holds per-segment stability, the seed check and their
    # warnings. None: not computed (run(..., stability=False)).
    stability: SegmentationStability | None = None
    seed: int = DEFAULT_SEED
    source: str | None = None  # what the data was (a file name, a table), for the HTML report
    # Set when the segments come from a saved segmentation instead of a fit (then k_scan is empty):
    # the file's segmentation and the drift of these customers from it (saved.drift).
    applied: saved.SavedSegmentation | None = None
    drift: dict | None = None
    # What comes next (prediction.Prediction) when asked for (api.segment(predict=DAYS), --predict);
    # None when not asked for, or when it could not be made (then a warning says why).
    prediction: Prediction | None = None
    predict_days: int | None = None  # the horizon asked for: set even when no prediction could be made

    def saved_segmentation(self, *, sha256: str | None = None) -> saved.SavedSegmentation:
        """The segments in use, frozen (see segmentation.saved): the fitted ones, or the saved
        segmentation they were applied from."""
        if self.applied is not None:
            return self.applied
        prepared = self.prepared
        return saved.from_segmentation(self.segmentation, snapshot=prepared.snapshot, seed=self.seed,
                                       roles=prepared.roles, cleaning=prepared.cleaning,
                                       rows_in=prepared.audit.rows_in, sha256=sha256)

    def save_segmentation(self, path, *, sha256: str | None = None) -> None:
        """Write this result's segments as a `segmenter.segmentation/1` JSON file."""
        saved.save(self.saved_segmentation(sha256=sha256), path)

    def to_html(self, path: str | os.PathLike | None = None) -> str | None:
        """The self-contained HTML report (see report_html): written atomically to `path` if
        given, else returned as text."""
        from . import report_html  # Plotly is imported only when a report is asked for

        text = report_html.render(self, source=self.source, seed=self.seed)
        if path is None:
            return text
        write_atomic(path, text.encode("utf-8"))
        return None

    @property
    def outlook(self) -> pd.DataFrame | None:
        """Per segment: customers, predicted revenue and its share, expected purchases, mean
        p_alive and customers likely inactive (prediction.segment_outlook); None without a
        prediction."""
        if self.prediction is None:
            return None
        from .prediction import segment_outlook

        return segment_outlook(self.prediction, self.segmentation.customers)

    def with_prediction(self, horizon_days: int, *, backtest: bool = True,
                        attempt: tuple[Prediction | None, str | None] | None = None) -> Result:
        """This result with `prediction` for the next `horizon_days` (prediction.attempt); when the
        purchases cannot be modelled, prediction stays None and a warning says why. `attempt`:
        prediction.attempt's answer made earlier (e.g. while a Spark session still ran)."""
        from .prediction import attempt as predict_attempt

        prediction, warning = attempt if attempt is not None else predict_attempt(self.prepared, horizon_days,
                                                                                   backtest=backtest)
        added = (warning,) if warning else prediction.warnings
        return replace(self, prediction=prediction, predict_days=horizon_days, warnings=self.warnings + added)

    @property
    def customers(self) -> pd.DataFrame:
        """One row per customer with the `--out` columns (features, scores, segment, action)."""
        if self.predict_days is None:
            return self.segmentation.customers[OUTPUT_COLUMNS]
        from .prediction import with_prediction_columns

        return with_prediction_columns(self.segmentation.customers[OUTPUT_COLUMNS], self.prediction)

    @property
    def segments(self) -> pd.DataFrame:
        """One row per segment: size, revenue, R/F/M means and medians, name and action."""
        return self.segmentation.profiles

    @property
    def audit(self):
        """Where every row went (cleaning.Audit): rows in, kept, and per rule what it removed."""
        return self.prepared.audit

    @property
    def scan(self) -> pd.DataFrame:
        """Deprecated: the old name of `k_scan` (kept for one release)."""
        warnings.warn("Result.scan is deprecated: use Result.k_scan", DeprecationWarning, stacklevel=2)
        return self.k_scan

    @property
    def snapshot(self) -> date:
        """The date recency is measured to."""
        return self.prepared.snapshot

    @property
    def model(self):
        """The fitted scikit-learn Pipeline (log1p → StandardScaler → KMeans → segment ids):
        ``model.predict(rows)`` on rows with recency, frequency and monetary columns returns
        segment ids (1 = highest mean monetary), the `segment_id` of `customers`. The plain
        K-Means pipeline, predicting cluster labels, is ``segmentation.model``. Segments applied
        from a saved segmentation: that SavedSegmentation, whose ``predict`` does the same."""
        if self.applied is not None:
            return self.applied
        return segment_model(self.segmentation.model, self.segmentation.segment_of_cluster)


def demo_file(n_rows: int = 50_000, *, seed: int = 0) -> LoadedFile:
    """The built-in demo data, as if it had been read from a file."""
    from .demo import demo_transactions  # only the demo needs the generator

    return LoadedFile(
        table=demo_transactions(n_rows, seed=seed),
        source_name=f"Built-in demo data ({n_rows:,} transactions)",
        file_format="demo",
        encoding=None,
        delimiter=None,
        sheet=None,
        sheets=(),
        notes=("Generated by Segmenter: a year of a gift shop's transactions, with the usual mess.",),
    )


def prepare(source: TransactionSource, roles: Mapping[str, str], **options) -> Prepared:
    """Parse, clean and aggregate the source into one scored row per customer.

    Every source (a file in memory, a large file DuckDB reads in place, a database or Spark
    table) gives its canonical table; the cleaning and RFM are the same. `options` are those
    of preparation.prepare_source: cleaning, snapshot, progress, with_products (revenue per
    customer × product; by default what the source says is cheap).
    """
    return source.prepare(roles, **options)


def _degenerate(customers: pd.DataFrame) -> KSuggestion | None:
    """K = the number of distinct customer profiles when there are fewer than 3 (no K scan possible)."""
    profiles = max_k(customers)
    if profiles >= 3:
        return None
    n = len(customers)
    if n == 1:
        reason = ("Only one customer is left after cleaning, so there is a single segment and nothing to "
                  "compare; load more data or relax the cleaning rules for a real segmentation.")
    elif profiles == 1:
        reason = (f"All {n:,} customers have the same recency, frequency and monetary value, so they form a "
                  "single segment; there is nothing to cluster.")
    else:
        reason = (f"The {n:,} customers have only {profiles} distinct recency/frequency/monetary profiles, "
                  f"so K is {profiles} and the K scan was skipped.")
    return KSuggestion(k=profiles, reason=reason)


def scan_for(customers: pd.DataFrame, *, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, KSuggestion]:
    """The K scan and the suggested K; with fewer than 3 distinct customer profiles the scan is
    empty and the suggestion (K = number of profiles) carries the warning to show."""
    degenerate = _degenerate(customers)
    if degenerate is not None:
        return pd.DataFrame(columns=SCAN_COLUMNS), degenerate
    scan = scan_k(customers, k_values=range(K_SCAN_RANGE[0], K_SCAN_RANGE[1] + 1), seed=seed)
    return scan, suggest_k(scan, k_range=K_SUGGEST_RANGE)


def run(
    source: TransactionSource,
    *,
    overrides: Mapping[str, str | None] | None = None,
    cleaning: CleaningSettings = CleaningSettings(),
    snapshot: date | None = None,
    k: int | str = "auto",
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    segmentation: saved.SavedSegmentation | None = None,
    stability: bool = False,
) -> Result:
    """The whole pipeline for the command line: mapping, cleaning, features, K scan, segments
    (or, given a saved `segmentation`, its segments applied instead of a fit; with `stability`, the
    bootstrap evidence that they are real: see stability.py)."""
    progress = progress or no_progress
    roles = columns.resolve_roles(source.preview().rows, overrides)
    prepared = prepare(source, roles, cleaning=cleaning, snapshot=snapshot, progress=progress)
    return run_prepared(prepared, k=k, seed=seed, progress=progress, segmentation=segmentation, stability=stability,
                        source=source.source_name)


def run_prepared(
    prepared: Prepared,
    *,
    k: int | str = "auto",
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    segmentation: saved.SavedSegmentation | None = None,
    source: str | None = None,
    stability: bool = False,
) -> Result:
    """K scan and segments for customers already prepared (from a file, a database or Spark);
    given a saved `segmentation`, no scan and no fit: its segments are applied.

    Every step of :class:`RunSequence`, in order (the CLI and the API report the K scan, so it is
    always made). With `stability`, every scanned K is bootstrapped, the suggestion prefers
    stable K, and the result carries per-segment stability, the seed check and their warnings."""
    progress = progress or no_progress
    if segmentation is not None:
        return replace(apply_prepared(prepared, segmentation, seed=seed, progress=progress), source=source)
    sequence = RunSequence(prepared.customers, seed=seed)
    progress("Comparing numbers of segments (K scan)", 0.85)
    evidence = sequence.evidence()
    degenerate = sequence.degenerate
    bootstrap = None
    if stability and degenerate is None:
        bootstrap = sequence.stability(evidence, progress=lambda step, fraction: progress(step, 0.85 + 0.09 * fraction))
        evidence = sequence.with_stability(evidence, bootstrap)
    chosen = sequence.decide(k, evidence)
    progress(f"Fitting {chosen} segments", 0.95)
    segmentation, messages = sequence.fit(chosen)
    if degenerate is not None:
        messages = (degenerate.reason,) + messages
    verdict = None
    if bootstrap is not None and segmentation.k >= 2:
        progress("Checking each segment's stability and the seed", 0.97)
        segmentation, verdict = sequence.assess(bootstrap, segmentation)
        messages += verdict.warnings
    progress("Done", 1.0)
    return Result(prepared=prepared, k_scan=evidence.scan, suggestion=evidence.suggestion, k=segmentation.k,
                  segmentation=segmentation, warnings=messages, seed=seed, source=source,
                  stability=verdict)


@dataclass(frozen=True)
class Evidence:
    """The K evidence of some customers: the K scan (with the stability columns once checked) and
    the suggested K. Empty scan: fewer than 3 distinct customer profiles, K is their number."""

    scan: pd.DataFrame
    suggestion: KSuggestion


@dataclass(frozen=True, eq=False)
class RunSequence:
    """The one run sequence for prepared customers: the K evidence (K scan → stability → the
    suggestion again), K by the one K rule (kpolicy.decide_k), the segments of that K.

    :func:`run_prepared` (the CLI, the API, ``sources``) runs every step in order;
    ``migration.fit_as_of`` and the app (ui/results.py, which caches each step and checks stability
    in the background) call the steps themselves. The K scan only feeds the suggestion: a K asked
    for is decided without it (:meth:`needs_evidence`), so the app compares K for new customers
    only where the evidence is shown."""

    customers: pd.DataFrame
    seed: int = DEFAULT_SEED

    @cached_property
    def degenerate(self) -> KSuggestion | None:
        """With fewer than 3 distinct customer profiles, their number as the K (with the reason to
        show); None otherwise. Cheap: no model is fitted."""
        return _degenerate(self.customers)

    @property
    def k_values(self) -> tuple[int, ...]:
        """The K the scan (and the stability check) compare: none for degenerate customers."""
        return () if self.degenerate is not None else tuple(range(K_SCAN_RANGE[0], K_SCAN_RANGE[1] + 1))

    def needs_evidence(self, request: int | str) -> bool:
        """Whether :meth:`decide` needs :meth:`evidence` for `request` (only "auto" on customers that
        can be compared)."""
        return needs_evidence(request) and self.degenerate is None

    def evidence(self) -> Evidence:
        """Step 1: the K scan and its suggestion (pipeline.scan_for)."""
        return Evidence(*scan_for(self.customers, seed=self.seed))

    def stability(self, evidence: Evidence, *, progress: Progress | None = None) -> Stability:
        """Step 2 (optional): every scanned K refitted on bootstrap resamples (stability.stability_scan)."""
        return stability_scan(self.customers, k_values=evidence.scan["k"], seed=self.seed,
                              progress=progress or no_progress)

    @staticmethod
    def with_stability(evidence: Evidence, stable: Stability) -> Evidence:
        """Step 3: the scan with the stability columns, and the suggestion that prefers stable K."""
        scan = evidence.scan.merge(stable.table(), on="k", how="left")
        return Evidence(scan, suggest_k(scan, k_range=K_SUGGEST_RANGE))

    def decide(self, request: int | str, evidence: Evidence | None = None) -> int:
        """Step 4: K for `request` (kpolicy.decide_k). "auto" without `evidence` computes it;
        a K asked for needs none."""
        if self.degenerate is not None:
            return decide_k(request, scan=pd.DataFrame(columns=SCAN_COLUMNS), suggestion=self.degenerate)
        if evidence is None and self.needs_evidence(request):
            evidence = self.evidence()
        return decide_k(request, scan=None if evidence is None else evidence.scan,
                        suggestion=None if evidence is None else evidence.suggestion)

    def fit(self, k: int) -> tuple[Segmentation, tuple[str, ...]]:
        """Step 5: the segments of K, with the warnings of a K above the distinct profiles."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DegenerateClustersWarning)
            segmentation = segments.segment_customers(self.customers, k=k, seed=self.seed)
        return segmentation, tuple(str(w.message) for w in caught
                                   if issubclass(w.category, DegenerateClustersWarning))

    @staticmethod
    def assess(stable: Stability, segmentation: Segmentation) -> tuple[Segmentation, SegmentationStability]:
        """Step 6 (with step 2): per-segment stability and the seed check, the profiles with their stability."""
        verdict = assess(stable, segmentation.customers, k_range=K_SUGGEST_RANGE)
        profiles = segmentation.profiles.merge(verdict.segments[["segment_id", "stability"]], on="segment_id",
                                               how="left")
        return replace(segmentation, profiles=profiles), verdict


def apply_prepared(prepared: Prepared, segmentation: saved.SavedSegmentation, *, seed: int = DEFAULT_SEED,
                   progress: Progress | None = None) -> Result:
    """A saved segmentation applied to prepared customers: nearest saved centre, frozen scores."""
    progress = progress or no_progress
    progress(f"Applying the saved {segmentation.k} segments", 0.9)
    applied, distances = segmentation.apply(prepared.customers)
    drift = saved.drift(segmentation, applied.customers["segment_id"].to_numpy(), distances)
    reason = (f"K={segmentation.k} comes from the saved segmentation (fitted on data up to "
              f"{segmentation.snapshot.isoformat()}), not from a K scan.")
    messages = (drift["warning"],) if drift["warning"] else ()
    progress("Done", 1.0)
    return Result(prepared=prepared, k_scan=pd.DataFrame(columns=SCAN_COLUMNS),
                  suggestion=KSuggestion(k=segmentation.k, reason=reason), k=segmentation.k,
                  segmentation=applied, warnings=messages, seed=seed, applied=segmentation, drift=drift)

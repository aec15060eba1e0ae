"""A saved segmentation: the fitted model as a small JSON file, and applying it to new customers.

Format `segmenter.segmentation/1` (a contract, like the report: keys are only ever added):
the log1p transform, the StandardScaler's mean and scale, the K centres in the scaled space
(centers[i] is the centre of segment_id i + 1), each segment's id, name and action, the RFM
score cut points, and how the training data was read and cleaned. Nothing is pickled and
nothing in the file is executed: loading parses JSON and checks every value.

Applying = log1p → the saved scaler → the nearest saved centre (Euclidean, in the scaled space)
→ that segment's id, name and action; RFM scores use the saved cut points, so "Champions" means
the same thing on next month's data. The same assignment is available as an Ibis expression
(`assignment_expr`) so that a database or Spark assigns its customers where they are.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from . import __version__
from .errors import SegmentationFileError
from .export import write_atomic
from .model import FEATURES
from .scoring import SCORE_DIRECTIONS, add_rfm_scores_with_edges, rfm_edges
from .segments import Segmentation, profile_segments
from .settings import SCORE_BINS, CleaningSettings
from .stability import borderline, margins

__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "DRIFT_WARNING_RATIO",
    "SavedSegmentation",
    "from_segmentation",
    "cleaning_dict",
    "loads",
    "load",
    "load_segmentation",
    "save",
    "drift",
]

FORMAT_NAME = "segmenter.segmentation"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
# A saved segmentation is a few kB; anything this large is not one (and is not parsed).
MAX_FILE_BYTES = 1_000_000
# New customers this much farther from their centres than the training customers were: the
# saved segments may no longer describe them.
DRIFT_WARNING_RATIO = 1.5
TRANSFORM = "log1p"
SEGMENT_KEYS = ("segment_id", "segment", "action", "customers", "revenue_share",
                "recency_median", "frequency_median", "monetary_median")


@dataclass(frozen=True)
class SavedSegmentation:
    """A frozen segmentation (see the module docstring). Build one with `from_segmentation`
    or `loads`/`load`; `to_dict` gives the JSON document."""

    features: tuple[str, ...]
    scaler_mean: tuple[float, ...]
    scaler_scale: tuple[float, ...]
    centers: tuple[tuple[float, ...], ...]  # K rows; centers[i] belongs to segment_id i + 1
    segments: tuple[dict, ...]  # SEGMENT_KEYS (+ mean_distance), in segment_id order
    rfm_edges: dict[str, tuple[float, ...]]
    snapshot: date
    seed: int
    roles: dict[str, str] = field(default_factory=dict)
    cleaning: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    created: str = ""
    segmenter_version: str = __version__

    @property
    def k(self) -> int:
        return len(self.centers)

    def names(self) -> dict[int, str]:
        return {int(s["segment_id"]): str(s["segment"]) for s in self.segments}

    def actions(self) -> dict[int, str]:
        return {int(s["segment_id"]): str(s["action"]) for s in self.segments}

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "created": self.created,
            "segmenter_version": self.segmenter_version,
            "features": list(self.features),
            "transform": TRANSFORM,
            "scaler": {"mean": list(self.scaler_mean), "scale": list(self.scaler_scale)},
            "centers": [list(row) for row in self.centers],
            "segments": [dict(s) for s in self.segments],
            "rfm_edges": {name: list(values) for name, values in self.rfm_edges.items()},
            "roles": dict(self.roles),
            "cleaning": dict(self.cleaning),
            "snapshot": self.snapshot.isoformat(),
            "k": self.k,
            "seed": self.seed,
            "training": dict(self.training),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    # -- applying ---------------------------------------------------------------------------
    def scaled(self, customers: pd.DataFrame) -> np.ndarray:
        """Customers' features in the saved scaled space (log1p, then the saved scaler)."""
        values = customers.loc[:, list(self.features)].to_numpy(dtype=np.float64)
        return (np.log1p(values) - np.asarray(self.scaler_mean)) / np.asarray(self.scaler_scale)

    def assign(self, customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(segment_id, distance to that segment's centre) of each customer row."""
        if customers.empty:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        scaled = self.scaled(customers)
        centers = np.asarray(self.centers, dtype=np.float64)
        squared = ((scaled[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        nearest = squared.argmin(axis=1)  # ties: the lower segment id
        return nearest.astype(np.int64) + 1, np.sqrt(squared[np.arange(len(scaled)), nearest])

    def predict(self, customers: pd.DataFrame) -> np.ndarray:
        """Segment ids of rows with the feature columns (like the fitted model's ``predict``)."""
        return self.assign(customers)[0]

    def apply(self, customers: pd.DataFrame) -> tuple[Segmentation, np.ndarray]:
        """The saved segments for a customer table (the columns of `pipeline.prepare`): RFM scores
        from the saved cut points, segment_id / segment / action from the nearest centre.
        Returns the Segmentation and each customer's distance to its centre."""
        scored = add_rfm_scores_with_edges(customers, dict(self.rfm_edges))
        segment_ids, distances = self.assign(scored)
        scored["segment_id"] = segment_ids
        scored["segment"] = scored["segment_id"].map(self.names()).astype("str")
        scored["action"] = scored["segment_id"].map(self.actions()).astype("str")
        # The --out contract's margin/borderline, as for a fit: saved scaled space, saved centres.
        centres = np.asarray(self.centers, dtype=np.float64)
        margin = margins(self.scaled(scored), centres) if len(scored) else np.zeros(0)
        scored["margin"] = margin
        scored["borderline"] = borderline(margin, tie_breaker=scored["customer_id"].astype(str).to_numpy())
        profiles = profile_segments(scored)
        segmentation = Segmentation(k=self.k, customers=scored, profiles=profiles)
        return segmentation, distances

    def assignment_expr(self, table: ir.Table) -> ir.IntegerValue:
        """The segment_id of each row of an Ibis table with the feature columns, computed by
        its engine (DuckDB, PostgreSQL, Spark): nearest centre, ties to the lower id."""
        scaled = [((table[name].cast("float64") + 1).ln() - mean) / scale
                  for name, mean, scale in zip(self.features, self.scaler_mean, self.scaler_scale)]
        distances = [sum(((value - float(c)) ** 2 for value, c in zip(scaled, center)), ibis.literal(0.0))
                     for center in self.centers]
        if len(distances) == 1:
            return ibis.literal(1, "int64")
        branches = []
        for i, d in enumerate(distances[:-1]):
            beats_rest = [d <= other for j, other in enumerate(distances) if j != i and j > i]
            beats_rest += [d < other for j, other in enumerate(distances) if j < i]
            condition = beats_rest[0]
            for part in beats_rest[1:]:
                condition = condition & part
            branches.append((condition, ibis.literal(i + 1, "int64")))
        return ibis.cases(*branches, else_=ibis.literal(len(distances), "int64"))


# ---------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------
def cleaning_dict(cleaning: CleaningSettings) -> dict:
    return {
        "rules": sorted(cleaning.rules),
        "date_from": cleaning.date_from.isoformat() if cleaning.date_from else None,
        "date_to": cleaning.date_to.isoformat() if cleaning.date_to else None,
        "countries_include": list(cleaning.countries_include),
        "countries_exclude": list(cleaning.countries_exclude),
        "net_returns": bool(cleaning.net_returns),
    }


def _timestamp_text(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat()


def from_segmentation(
    segmentation: Segmentation,
    *,
    snapshot: date,
    seed: int,
    roles: Mapping[str, str] | None = None,
    cleaning: CleaningSettings | None = None,
    rows_in: int | None = None,
    sha256: str | None = None,
    created: datetime | None = None,
) -> SavedSegmentation:
    """Freeze a fitted segmentation (`segments.segment_customers`, which keeps its model)."""
    model = segmentation.model
    if model is None or not segmentation.segment_of_cluster:
        raise SegmentationFileError(
            "This segmentation was not fitted here (it was applied from a saved file), so it has no model "
            "of its own to save.", hint="Save the file it was applied from instead, or fit new segments.")
    features = tuple(str(name) for name in getattr(model, "feature_names_in_", FEATURES))
    scaler = model.named_steps["scale"]
    kmeans = model.named_steps["kmeans"]
    # segment_of_cluster[i] is the segment of cluster i (0: a cluster left empty, no segment)
    cluster_of = {sid: cluster for cluster, sid in enumerate(segmentation.segment_of_cluster) if sid > 0}
    centers = np.asarray(kmeans.cluster_centers_, dtype=np.float64)[[cluster_of[sid] for sid in sorted(cluster_of)]]
    customers = segmentation.customers
    profiles = segmentation.profiles.set_index("segment_id")
    draft = SavedSegmentation(
        features=features,
        scaler_mean=tuple(float(v) for v in scaler.mean_),
        scaler_scale=tuple(float(v) for v in scaler.scale_),
        centers=tuple(tuple(float(v) for v in row) for row in centers),
        segments=(),
        rfm_edges={name: tuple(values) for name, values in rfm_edges(customers).items()},
        snapshot=snapshot,
        seed=int(seed),
    )
    ids, distances = draft.assign(customers)
    mean_distance = pd.Series(distances).groupby(ids).mean()
    segments = []
    for segment_id in range(1, len(centers) + 1):
        row = profiles.loc[segment_id]
        segments.append({
            "segment_id": segment_id,
            "segment": str(row["segment"]),
            "action": str(row["action"]),
            "customers": int(row["customers"]),
            "revenue_share": float(row["revenue_share"]),
            "recency_median": float(row["recency_median"]),
            "frequency_median": float(row["frequency_median"]),
            "monetary_median": float(row["monetary_median"]),
            "mean_distance": float(mean_distance.get(segment_id, 0.0)),
        })
    when = created or datetime.now(UTC)
    training = {
        "rows_in": None if rows_in is None else int(rows_in),
        "customers": len(customers),
        "first_purchase": _timestamp_text(customers["first_purchase"].min()) if "first_purchase" in customers else None,
        "last_purchase": _timestamp_text(customers["last_purchase"].max()) if "last_purchase" in customers else None,
        "sha256": sha256,
    }
    return SavedSegmentation(
        features=draft.features, scaler_mean=draft.scaler_mean, scaler_scale=draft.scaler_scale,
        centers=draft.centers, segments=tuple(segments), rfm_edges=draft.rfm_edges, snapshot=snapshot,
        seed=int(seed), roles=dict(roles or {}), cleaning=cleaning_dict(cleaning or CleaningSettings()),
        training=training, created=when.replace(microsecond=0).isoformat(),
    )


def save(saved: SavedSegmentation, path: str | os.PathLike) -> None:
    """Write the JSON file atomically (nothing is left behind on failure)."""
    write_atomic(path, saved.to_json().encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# loading: every value checked, one clear error
# ---------------------------------------------------------------------------------------------
def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class _Checker:
    def __init__(self, where: str):
        self.where = where

    def fail(self, what: str) -> SegmentationFileError:
        return SegmentationFileError(
            f"{self.where} is not a usable saved segmentation: {what}.",
            hint=f"Use a file saved by Segmenter ({FORMAT}) as it was written, or save the segmentation again.",
        )

    def number(self, value, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{name} must be a finite number, not {json.dumps(value)[:40]}")
        return float(value)

    def whole(self, value, name: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{name} must be a whole number of at least {minimum}, not {json.dumps(value)[:40]}")
        return int(value)

    def text(self, value, name: str, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.fail(f"{name} must be {'a' if empty else 'a non-empty'} text, not {json.dumps(value)[:40]}")
        return value

    def numbers(self, value, name: str, length: int) -> tuple[float, ...]:
        if not isinstance(value, list) or len(value) != length:
            got = f"{len(value)} values" if isinstance(value, list) else json.dumps(value)[:40]
            raise self.fail(f"{name} must be a list of {length} numbers, not {got}")
        return tuple(self.number(v, f"{name}[{i}]") for i, v in enumerate(value))

    def mapping(self, value, name: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(f"{name} must be an object, not {json.dumps(value)[:40]}")
        return value


def loads(data: bytes | str, *, where: str = "The saved segmentation") -> SavedSegmentation:
    """Parse and check a saved segmentation; `SegmentationFileError` names the first problem."""
    check = _Checker(where)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_FILE_BYTES:
        raise check.fail(f"it is {len(raw) / 1_000_000:,.1f} MB, and a saved segmentation is a few kB "
                         f"(at most {MAX_FILE_BYTES // 1_000_000} MB)")
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise check.fail("it is not UTF-8 text") from None
    except ValueError as error:  # json.JSONDecodeError is a ValueError, so is a NaN/Infinity
        raise check.fail(f"it is not valid JSON ({error})") from None
    top = check.mapping(document, "the file")
    form = top.get("format")
    if not isinstance(form, str) or not form.startswith(FORMAT_NAME + "/"):
        raise check.fail(f"format is {json.dumps(form)[:60]}, not {FORMAT!r}")
    version = form.rpartition("/")[2]
    if version != str(FORMAT_VERSION):
        raise check.fail(f"it is version {version} of the format and this Segmenter reads version "
                         f"{FORMAT_VERSION}")
    missing = [key for key in ("features", "transform", "scaler", "centers", "segments", "rfm_edges",
                               "snapshot", "k", "seed") if key not in top]
    if missing:
        raise check.fail(f"it has no {', '.join(missing)}")

    features = top["features"]
    if not isinstance(features, list) or not features:
        raise check.fail("features must be a non-empty list of feature names")
    for name in features:
        if name not in FEATURES:
            raise check.fail(f"feature {json.dumps(name)[:40]} is unknown; features are {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise check.fail("features lists a feature twice")
    n = len(features)
    if top["transform"] != TRANSFORM:
        raise check.fail(f"transform is {json.dumps(top['transform'])[:40]}, not {TRANSFORM!r}")

    scaler = check.mapping(top["scaler"], "scaler")
    mean = check.numbers(scaler.get("mean"), "scaler.mean", n)
    scale = check.numbers(scaler.get("scale"), "scaler.scale", n)
    if any(v <= 0 for v in scale):
        raise check.fail("scaler.scale must be positive")

    k = check.whole(top["k"], "k", minimum=1)
    centers = top["centers"]
    if not isinstance(centers, list) or len(centers) != k:
        got = f"{len(centers)} rows" if isinstance(centers, list) else json.dumps(centers)[:40]
        raise check.fail(f"centers must have k={k} rows, not {got}")
    center_rows = tuple(check.numbers(row, f"centers[{i}]", n) for i, row in enumerate(centers))

    segments = top["segments"]
    if not isinstance(segments, list) or len(segments) != k:
        got = f"{len(segments)} entries" if isinstance(segments, list) else json.dumps(segments)[:40]
        raise check.fail(f"segments must have k={k} entries, not {got}")
    checked_segments = []
    for i, entry in enumerate(segments):
        entry = check.mapping(entry, f"segments[{i}]")
        absent = [key for key in SEGMENT_KEYS if key not in entry]
        if absent:
            raise check.fail(f"segments[{i}] has no {', '.join(absent)}")
        item = {
            "segment_id": check.whole(entry["segment_id"], f"segments[{i}].segment_id", minimum=1),
            "segment": check.text(entry["segment"], f"segments[{i}].segment"),
            "action": check.text(entry["action"], f"segments[{i}].action", empty=True),
            "customers": check.whole(entry["customers"], f"segments[{i}].customers"),
        }
        for key in ("revenue_share", "recency_median", "frequency_median", "monetary_median"):
            item[key] = check.number(entry[key], f"segments[{i}].{key}")
        if "mean_distance" in entry:  # an extension of the format: absent in hand-made files
            item["mean_distance"] = check.number(entry["mean_distance"], f"segments[{i}].mean_distance")
        checked_segments.append(item)
    ids = sorted(s["segment_id"] for s in checked_segments)
    if ids != list(range(1, k + 1)):
        raise check.fail(f"segment ids must be 1..{k} once each, not {ids}")
    names = [s["segment"] for s in checked_segments]
    if len(set(names)) != len(names):
        raise check.fail("two segments have the same name")
    checked_segments.sort(key=lambda s: s["segment_id"])

    edges = check.mapping(top["rfm_edges"], "rfm_edges")
    checked_edges = {}
    for name, (_, higher) in SCORE_DIRECTIONS.items():
        values = check.numbers(edges.get(name), f"rfm_edges.{name}", SCORE_BINS - 1)
        ordered = sorted(values) if higher else sorted(values, reverse=True)
        if list(values) != ordered:
            direction = "rising" if higher else "falling"
            raise check.fail(f"rfm_edges.{name} must be {direction} (one cut point per score)")
        checked_edges[name] = values

    try:
        snapshot = date.fromisoformat(check.text(top["snapshot"], "snapshot"))
    except ValueError:
        raise check.fail(f"snapshot {top['snapshot']!r} is not a date like 2011-12-10") from None
    seed = check.whole(top["seed"], "seed")
    roles = check.mapping(top.get("roles", {}), "roles")
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in roles.items()):
        raise check.fail("roles must map role names to column names")
    return SavedSegmentation(
        features=tuple(features), scaler_mean=mean, scaler_scale=scale, centers=center_rows,
        segments=tuple(checked_segments), rfm_edges=checked_edges, snapshot=snapshot, seed=seed,
        roles=dict(roles), cleaning=dict(check.mapping(top.get("cleaning", {}), "cleaning")),
        training=dict(check.mapping(top.get("training", {}), "training")),
        created=str(top.get("created", "")), segmenter_version=str(top.get("segmenter_version", "")),
    )


def load(path: str | os.PathLike) -> SavedSegmentation:
    """Read and check a saved segmentation file (never more than MAX_FILE_BYTES of it)."""
    target = Path(path)
    where = f"File {target.name}"
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SegmentationFileError(f"Saved segmentation {target} does not exist.",
                                    hint="Check the path and the name.") from None
    except IsADirectoryError:
        raise SegmentationFileError(f"Saved segmentation {target} is a folder, not a file.",
                                    hint="Give the path of the .json file.") from None
    except OSError as error:
        raise SegmentationFileError(f"Saved segmentation {target} cannot be read: {error.strerror}.",
                                    hint="Check that the file exists and can be read.") from None
    if len(data) > MAX_FILE_BYTES:
        size = target.stat().st_size
        raise _Checker(where).fail(f"it is {size / 1_000_000:,.1f} MB, and a saved segmentation is a few kB "
                                   f"(at most {MAX_FILE_BYTES // 1_000_000} MB)")
    return loads(data, where=where)


# ---------------------------------------------------------------------------------------------
# drift: do the saved segments still describe these customers?
# ---------------------------------------------------------------------------------------------
def drift(saved: SavedSegmentation, segment_ids: np.ndarray, distances: np.ndarray) -> dict:
    """Per segment the share of customers now vs at training and the mean distance to the
    centre now vs at training; a warning when the customers sit DRIFT_WARNING_RATIO times
    farther from their centres than the training customers did."""
    ids = pd.Series(np.asarray(segment_ids, dtype=np.int64))
    distance = pd.Series(np.asarray(distances, dtype=np.float64))
    total_now = len(ids)
    total_then = sum(s["customers"] for s in saved.segments)
    rows = []
    for s in saved.segments:
        mine = distance[ids == s["segment_id"]]
        rows.append({
            "segment_id": s["segment_id"],
            "segment": s["segment"],
            "share_training": s["customers"] / total_then if total_then else None,
            "share_now": len(mine) / total_now if total_now else None,
            "mean_distance_training": s.get("mean_distance"),
            "mean_distance_now": float(mine.mean()) if len(mine) else None,
        })
    have_training = all("mean_distance" in s for s in saved.segments) and total_then > 0
    then = (sum(s["mean_distance"] * s["customers"] for s in saved.segments) / total_then
            if have_training else None)
    now = float(distance.mean()) if total_now else None
    ratio = now / then if then and now is not None else None
    warning = None
    if ratio is not None and ratio > DRIFT_WARNING_RATIO:
        warning = (f"These customers sit {ratio:.1f}× farther from the saved segment centres than the customers "
                   "the segments were fitted on: the saved segments may no longer describe these customers; "
                   "consider refitting.")
    return {"segments": rows, "mean_distance_training": then, "mean_distance_now": now,
            "distance_ratio": ratio, "warning": warning}


load_segmentation = load  # the notebook API's name: segmentation.load_segmentation(path)

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
from collections.abc import Callable, Mapping
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


# -- the document, declared: each field with its check ------------------------------------------
# A check takes the checker, the value, the field's name and the fields checked before it (the
# centres need k and the number of features) and returns the checked value.
def _features(check: _Checker, value, name: str, got: dict) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise check.fail("features must be a non-empty list of feature names")
    for feature in value:
        if feature not in FEATURES:
            raise check.fail(f"feature {json.dumps(feature)[:40]} is unknown; features are {', '.join(FEATURES)}")
    if len(set(value)) != len(value):
        raise check.fail("features lists a feature twice")
    return tuple(value)


def _transform(check: _Checker, value, name: str, got: dict) -> str:
    if value != TRANSFORM:
        raise check.fail(f"transform is {json.dumps(value)[:40]}, not {TRANSFORM!r}")
    return value


def _scaler(check: _Checker, value, name: str, got: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
    scaler = check.mapping(value, name)
    n = len(got["features"])
    mean = check.numbers(scaler.get("mean"), "scaler.mean", n)
    scale = check.numbers(scaler.get("scale"), "scaler.scale", n)
    if any(v <= 0 for v in scale):
        raise check.fail("scaler.scale must be positive")
    return mean, scale


def _rows(check: _Checker, value, name: str, k: int, unit: str) -> list:
    if not isinstance(value, list) or len(value) != k:
        got = f"{len(value)} {unit}" if isinstance(value, list) else json.dumps(value)[:40]
        raise check.fail(f"{name} must have k={k} {unit}, not {got}")
    return value


def _centers(check: _Checker, value, name: str, got: dict) -> tuple[tuple[float, ...], ...]:
    rows = _rows(check, value, name, got["k"], "rows")
    return tuple(check.numbers(row, f"{name}[{i}]", len(got["features"])) for i, row in enumerate(rows))


# One segment's entry: its keys in order, each with its check; `mean_distance` is an extension
# of the format (absent in hand-made files), checked when present.
_SEGMENT_FIELDS: dict[str, Callable[[_Checker, object, str], object]] = {
    "segment_id": lambda check, value, name: check.whole(value, name, minimum=1),
    "segment": lambda check, value, name: check.text(value, name),
    "action": lambda check, value, name: check.text(value, name, empty=True),
    "customers": lambda check, value, name: check.whole(value, name),
    **{key: lambda check, value, name: check.number(value, name)
       for key in ("revenue_share", "recency_median", "frequency_median", "monetary_median")},
}
SEGMENT_KEYS = tuple(_SEGMENT_FIELDS)
_OPTIONAL_SEGMENT_FIELDS = {"mean_distance": _SEGMENT_FIELDS["revenue_share"]}


def _segments(check: _Checker, value, name: str, got: dict) -> tuple[dict, ...]:
    k = got["k"]
    checked = []
    for i, entry in enumerate(_rows(check, value, name, k, "entries")):
        entry = check.mapping(entry, f"{name}[{i}]")
        absent = [key for key in SEGMENT_KEYS if key not in entry]
        if absent:
            raise check.fail(f"{name}[{i}] has no {', '.join(absent)}")
        fields = {**_SEGMENT_FIELDS, **{key: f for key, f in _OPTIONAL_SEGMENT_FIELDS.items() if key in entry}}
        checked.append({key: field_check(check, entry[key], f"{name}[{i}].{key}")
                        for key, field_check in fields.items()})
    ids = sorted(s["segment_id"] for s in checked)
    if ids != list(range(1, k + 1)):
        raise check.fail(f"segment ids must be 1..{k} once each, not {ids}")
    names = [s["segment"] for s in checked]
    if len(set(names)) != len(names):
        raise check.fail("two segments have the same name")
    return tuple(sorted(checked, key=lambda s: s["segment_id"]))


def _rfm_edges(check: _Checker, value, name: str, got: dict) -> dict[str, tuple[float, ...]]:
    edges = check.mapping(value, name)
    checked = {}
    for score, (_, higher) in SCORE_DIRECTIONS.items():
        values = check.numbers(edges.get(score), f"{name}.{score}", SCORE_BINS - 1)
        if list(values) != (sorted(values) if higher else sorted(values, reverse=True)):
            raise check.fail(f"{name}.{score} must be {'rising' if higher else 'falling'} (one cut point per score)")
        checked[score] = values
    return checked


def _snapshot(check: _Checker, value, name: str, got: dict) -> date:
    try:
        return date.fromisoformat(check.text(value, name))
    except ValueError:
        raise check.fail(f"snapshot {value!r} is not a date like 2011-12-10") from None


def _roles(check: _Checker, value, name: str, got: dict) -> dict[str, str]:
    roles = check.mapping(value, name)
    if not all(isinstance(key, str) and isinstance(text, str) for key, text in roles.items()):
        raise check.fail("roles must map role names to column names")
    return dict(roles)


_REQUIRED = object()
# The document's fields (after "format"), in the order they are checked: (key, check, default when
# absent, or _REQUIRED). The first problem found is the error; missing required fields are named together.
_FIELDS: tuple[tuple[str, Callable[[_Checker, object, str, dict], object], object], ...] = (
    ("features", _features, _REQUIRED),
    ("transform", _transform, _REQUIRED),
    ("scaler", _scaler, _REQUIRED),
    ("k", lambda check, value, name, got: check.whole(value, name, minimum=1), _REQUIRED),
    ("centers", _centers, _REQUIRED),
    ("segments", _segments, _REQUIRED),
    ("rfm_edges", _rfm_edges, _REQUIRED),
    ("snapshot", _snapshot, _REQUIRED),
    ("seed", lambda check, value, name, got: check.whole(value, name), _REQUIRED),
    ("roles", _roles, {}),
    ("cleaning", lambda check, value, name, got: dict(check.mapping(value, name)), {}),
    ("training", lambda check, value, name, got: dict(check.mapping(value, name)), {}),
    ("created", lambda check, value, name, got: str(value), ""),
    ("segmenter_version", lambda check, value, name, got: str(value), ""),
)


def _document(check: _Checker, raw: bytes) -> dict:
    """The JSON object of a file of the format this Segmenter reads (size, encoding, JSON, format)."""
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
    return top


def loads(data: bytes | str, *, where: str = "The saved segmentation") -> SavedSegmentation:
    """Parse and check a saved segmentation (every field of `_FIELDS`); `SegmentationFileError`
    names the first problem."""
    check = _Checker(where)
    top = _document(check, data.encode("utf-8") if isinstance(data, str) else bytes(data))
    missing = [key for key, _, default in _FIELDS if default is _REQUIRED and key not in top]
    if missing:
        raise check.fail(f"it has no {', '.join(missing)}")
    got: dict = {}
    for key, field_check, default in _FIELDS:
        got[key] = field_check(check, top.get(key, default), key, got)
    mean, scale = got.pop("scaler")
    del got["transform"], got["k"]  # the transform is fixed; k is the number of centres
    return SavedSegmentation(scaler_mean=mean, scaler_scale=scale, **got)


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

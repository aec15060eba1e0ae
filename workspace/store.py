"""The workspace store: one small object the app passes around (``Store``), every method taking the user.

One code path for the embedded default (SQLite in ``SEGMENTER_HOME``) and a team server
(``SEGMENTER_STORE=postgresql://…``): SQLAlchemy Core, the schema created and upgraded by the
Alembic migrations in ``migrations/`` when the store is opened. Every read, write and delete
filters on the user id it is given; an id of another user is answered exactly like an id that does
not exist (:class:`NotFound`). A write that must be whole (a run and its segments, a file and its
bytes) is one transaction. File names are only ever shown: contents are kept by SHA-256.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .errors import NotFound, NotOwner, QuotaExceeded, StoreError, StoreUnavailable

__all__ = ["Store", "StoredFile", "StoredSegmentation", "RunRecord", "SegmentRow", "open_store", "store_url",
           "missing_packages", "LOCAL_USER", "DEFAULT_QUOTA_MB", "OFF", "INSTALL"]

LOCAL_USER = "local"  # the one user of an app without sign-in
DEFAULT_QUOTA_MB = 1000  # per user, SEGMENTER_QUOTA_MB to change
OFF = "off"  # SEGMENTER_STORE=off: nothing is kept (the app segments as before)
MIGRATIONS = Path(__file__).parent / "migrations"
# The store's packages (the distribution's ``team`` extra; requirements.txt installs them): module -> name.
# An install of the app alone (``.[app]``) runs without them and keeps nothing.
PACKAGES = {"sqlalchemy": "SQLAlchemy", "alembic": "Alembic"}
INSTALL = "python3 -m pip install '.[app,team]'"  # or requirements.txt, which installs everything


@dataclass(frozen=True)
class StoredFile:
    id: int
    name: str
    size: int
    digest: str
    uploaded: datetime


@dataclass(frozen=True)
class StoredSegmentation:
    id: int
    owner: str
    name: str
    k: int
    shared: bool
    saved: datetime


@dataclass(frozen=True)
class SegmentRow:
    segment_id: int
    segment: str
    customers: int
    revenue: float
    predicted_revenue: float | None = None


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: what was segmented, how, and what came out (``id``/``recorded`` set by the store)."""

    source_name: str
    settings: dict
    k: int
    customers: int
    revenue: float
    segments: tuple[SegmentRow, ...]
    file_id: int | None = None
    segmentation_id: int | None = None
    segmentation_name: str | None = None
    predicted_revenue: float | None = None
    currency: str | None = None
    snapshot: str | None = None
    id: int | None = None
    recorded: datetime | None = None
    grouping: str = field(default="", compare=False)

    def __post_init__(self):
        if not self.grouping:
            # Runs are compared across the same saved segmentation (its segments mean the same thing);
            # fitted runs are compared by K.
            key = f"saved:{self.segmentation_id}" if self.segmentation_id is not None else f"fitted:k={self.k}"
            object.__setattr__(self, "grouping", key)


def store_url(environ: dict | None = None) -> str:
    """The store the environment asks for: ``SEGMENTER_STORE`` (a PostgreSQL URL, a SQLAlchemy URL or
    ``off``), else SQLite in ``SEGMENTER_HOME`` (default ``~/.segmenter``)."""
    env = os.environ if environ is None else environ
    url = env.get("SEGMENTER_STORE", "").strip()
    if url:
        return url
    home = Path(env.get("SEGMENTER_HOME") or Path.home() / ".segmenter").expanduser()
    return f"sqlite:///{home / 'workspace.sqlite3'}"


def missing_packages() -> list[str]:
    """The store's packages that cannot be imported here, by name (empty when all are installed)."""
    missing = []
    for module, name in PACKAGES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(name)
    return missing


def _driver_url(url: str) -> str:
    """psycopg 3 is the PostgreSQL driver installed (SQLAlchemy's bare postgresql:// means psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return "the configured store"
    if parsed.get_backend_name() == "sqlite":
        return f"the folder {Path(parsed.database or '').parent}"
    return f"the database {parsed.render_as_string(hide_password=True)}"


def open_store(url: str | None = None, *, quota_mb: float | None = None) -> Store:
    """Open (and create or upgrade) the store at ``url`` (default :func:`store_url`)."""
    url = url or store_url()
    if url == OFF:
        raise StoreUnavailable("Nothing is kept: the workspace store is switched off (SEGMENTER_STORE=off).")
    if quota_mb is None:
        quota_mb = float(os.environ.get("SEGMENTER_QUOTA_MB") or DEFAULT_QUOTA_MB)
    return Store(url, quota_bytes=int(quota_mb * 1_000_000))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Store:
    """The workspace of every user in one database. Thread-safe (a connection pool)."""

    def __init__(self, url: str, *, quota_bytes: int):
        if missing := missing_packages():  # before anything imports them (``.[app]`` without ``team``)
            raise StoreUnavailable(f"The workspace store needs {' and '.join(missing)}, which are not installed.",
                                   hint=f"Install them: {INSTALL}")
        import sqlalchemy as sa

        self.url = url
        self.where = _where(url)
        self.quota_bytes = quota_bytes
        self._sa = sa
        driver = _driver_url(url)
        kwargs: dict = {"pool_pre_ping": True}
        if driver.startswith("sqlite"):
            folder = Path(sa.engine.make_url(driver).database or ".").parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise self._unavailable(error) from error
            kwargs = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        else:
            kwargs["connect_args"] = {"connect_timeout": 3}
        self.engine = sa.create_engine(driver, **kwargs)
        if driver.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    # ------------------------------------------------------------------------------------------ plumbing
    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        text = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error).strip() else repr(error)
        lowered = text.lower()
        if "full" in lowered or "no space" in lowered or "quota" in lowered:
            why = "it is full"
        elif "readonly" in lowered or "read-only" in lowered or "permission" in lowered or "unable to open" in lowered:
            why = "it cannot be written"
        elif "connect" in lowered or "refused" in lowered or "timeout" in lowered or "resolve" in lowered:
            why = "it cannot be reached"
        else:
            why = "it failed"
        # Never the password: `where` is the redacted URL; the driver's words without the URL.
        return StoreUnavailable(f"The workspace could not be saved to {self.where}: {why} ({_scrub(text, self.url)}).",
                                hint="Free space or fix the folder's permissions (SEGMENTER_HOME), or check the "
                                     "database (SEGMENTER_STORE). Segmenting goes on without saving.")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator:
        """One transaction; driver and disk errors become StoreUnavailable, ours pass through."""
        try:
            with self.engine.begin() as con:
                yield con
        except StoreError:
            raise
        except (self._sa.exc.OperationalError, self._sa.exc.InterfaceError, OSError) as error:
            raise self._unavailable(error) from error

    def migrate(self) -> None:
        """Create the schema or bring it to the newest revision (Alembic), in one transaction."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._transaction() as con:
            config.attributes["connection"] = con
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self._transaction() as con:
            return MigrationContext.configure(con).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    def _ensure_user(self, con, user: str) -> None:
        from .tables import users

        _check_user(user)
        if con.execute(self._sa.select(users.c.id).where(users.c.id == user)).first() is None:
            con.execute(users.insert().values(id=user, created=_now()))

    # ------------------------------------------------------------------------------------------ files
    def add_file(self, user: str, name: str, data: bytes, *, at: datetime | None = None) -> StoredFile:
        """Keep ``data`` for ``user`` under ``name`` (its content stored once per SHA-256); the same
        content again returns the file already kept (renamed to the latest name)."""
        from .tables import blobs, files

        sa = self._sa
        digest = hashlib.sha256(data).hexdigest()
        with self._transaction() as con:
            self._ensure_user(con, user)
            row = con.execute(sa.select(files).where(files.c.user_id == user, files.c.digest == digest)).first()
            if row is not None:
                con.execute(files.update().where(files.c.id == row.id).values(name=name))
                return StoredFile(row.id, name, row.size, digest, _utc(row.uploaded))
            used = con.execute(sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0))
                               .where(files.c.user_id == user)).scalar_one()
            if used + len(data) > self.quota_bytes:
                raise QuotaExceeded(
                    f"Keeping {name} ({len(data) / 1e6:,.1f} MB) would take your files to "
                    f"{(used + len(data)) / 1e6:,.1f} MB, over your quota of {self.quota_bytes / 1e6:,.0f} MB.",
                    hint="Delete files you no longer need; the file is still used for this session.")
            if con.execute(sa.select(blobs.c.digest).where(blobs.c.digest == digest)).first() is None:
                con.execute(blobs.insert().values(digest=digest, size=len(data), data=data))
            when = at or _now()
            new_id = con.execute(files.insert().values(user_id=user, name=name, digest=digest, size=len(data),
                                                       uploaded=when)).inserted_primary_key[0]
            return StoredFile(int(new_id), name, len(data), digest, _utc(when))

    def files_of(self, user: str) -> list[StoredFile]:
        """The user's files, newest first."""
        from .tables import files

        _check_user(user)
        with self._transaction() as con:
            rows = con.execute(self._sa.select(files).where(files.c.user_id == user)
                               .order_by(files.c.uploaded.desc(), files.c.id.desc())).all()
        return [StoredFile(r.id, r.name, r.size, r.digest, _utc(r.uploaded)) for r in rows]

    def file(self, user: str, file_id: int) -> StoredFile:
        from .tables import files

        with self._transaction() as con:
            row = self._own(con, files, user, file_id, "file")
        return StoredFile(row.id, row.name, row.size, row.digest, _utc(row.uploaded))

    def file_bytes(self, user: str, file_id: int) -> bytes:
        """The content of one of the user's files."""
        from .tables import blobs, files

        with self._transaction() as con:
            row = self._own(con, files, user, file_id, "file")
            return bytes(con.execute(self._sa.select(blobs.c.data).where(blobs.c.digest == row.digest)).scalar_one())

    def delete_file(self, user: str, file_id: int) -> None:
        """Delete one of the user's files; its content is deleted too when no one else keeps it.
        Runs recorded on it stay (with its name), without the file."""
        from .tables import blobs, files, runs

        sa = self._sa
        with self._transaction() as con:
            row = self._own(con, files, user, file_id, "file")
            con.execute(files.delete().where(files.c.id == row.id, files.c.user_id == user))
            con.execute(runs.update().where(runs.c.user_id == user, runs.c.file_id == row.id).values(file_id=None))
            if con.execute(sa.select(files.c.id).where(files.c.digest == row.digest)).first() is None:
                con.execute(blobs.delete().where(blobs.c.digest == row.digest))

    def used_bytes(self, user: str) -> int:
        from .tables import files

        _check_user(user)
        with self._transaction() as con:
            return int(con.execute(self._sa.select(self._sa.func.coalesce(self._sa.func.sum(files.c.size), 0))
                                   .where(files.c.user_id == user)).scalar_one())

    # ------------------------------------------------------------------------------------------ segmentations
    def save_segmentation(self, user: str, name: str, text: str, *, at: datetime | None = None) -> StoredSegmentation:
        """Keep a saved segmentation (its ``segmenter.segmentation/1`` JSON, checked) under ``name``;
        saving again under one of the user's names replaces it (sharing stays as it was)."""
        from segmentation import saved

        from .tables import segmentations

        sa = self._sa
        frozen = saved.loads(text, where=f"Segmentation {name}")
        name = " ".join(str(name).split())
        if not name:
            raise StoreError("A saved segmentation needs a name.", hint="Type a name, e.g. 'Agreed segments 2026'.")
        when = at or _now()
        with self._transaction() as con:
            self._ensure_user(con, user)
            row = con.execute(sa.select(segmentations).where(segmentations.c.user_id == user,
                                                             segmentations.c.name == name)).first()
            if row is not None:
                con.execute(segmentations.update().where(segmentations.c.id == row.id)
                            .values(text=frozen.to_json(), k=frozen.k, saved=when))
                return StoredSegmentation(row.id, user, name, frozen.k, bool(row.shared), _utc(when))
            new_id = con.execute(segmentations.insert().values(
                user_id=user, name=name, text=frozen.to_json(), k=frozen.k, shared=False, saved=when,
            )).inserted_primary_key[0]
        return StoredSegmentation(int(new_id), user, name, frozen.k, False, _utc(when))

    def segmentations_of(self, user: str) -> list[StoredSegmentation]:
        """The user's own saved segmentations and those others shared with the team (by name)."""
        from .tables import segmentations as seg

        _check_user(user)
        with self._transaction() as con:
            rows = con.execute(self._sa.select(seg.c.id, seg.c.user_id, seg.c.name, seg.c.k, seg.c.shared, seg.c.saved)
                               .where(self._sa.or_(seg.c.user_id == user, seg.c.shared.is_(True)))
                               .order_by(seg.c.name, seg.c.id)).all()
        return [StoredSegmentation(r.id, r.user_id, r.name, r.k, bool(r.shared), _utc(r.saved)) for r in rows]

    def segmentation_text(self, user: str, segmentation_id: int) -> str:
        """The JSON of one of the user's segmentations, or of one shared with the team."""
        with self._transaction() as con:
            return self._visible_segmentation(con, user, segmentation_id).text

    def _visible_segmentation(self, con, user: str, segmentation_id: int):
        from .tables import segmentations as seg

        _check_user(user)
        row = con.execute(self._sa.select(seg.c.id, seg.c.text).where(
            seg.c.id == _as_id(segmentation_id), self._sa.or_(seg.c.user_id == user, seg.c.shared.is_(True)),
        )).first()
        if row is None:
            raise _not_found("segmentation")
        return row

    def share_segmentation(self, user: str, segmentation_id: int, shared: bool = True) -> None:
        """Share one of the user's segmentations with the team, or stop sharing it (owner only)."""
        from .tables import segmentations

        with self._transaction() as con:
            row = self._owned_segmentation(con, user, segmentation_id)
            con.execute(segmentations.update().where(segmentations.c.id == row.id, segmentations.c.user_id == user)
                        .values(shared=bool(shared)))

    def delete_segmentation(self, user: str, segmentation_id: int) -> None:
        """Delete one of the user's segmentations (owner only); runs recorded with it keep its name."""
        from .tables import segmentations

        with self._transaction() as con:
            row = self._owned_segmentation(con, user, segmentation_id)
            con.execute(segmentations.delete().where(segmentations.c.id == row.id, segmentations.c.user_id == user))

    def _owned_segmentation(self, con, user: str, segmentation_id: int):
        from .tables import segmentations as seg

        _check_user(user)
        row = con.execute(self._sa.select(seg.c.id, seg.c.user_id, seg.c.shared)
                          .where(seg.c.id == _as_id(segmentation_id))).first()
        if row is None or (row.user_id != user and not row.shared):
            raise _not_found("segmentation")
        if row.user_id != user:
            raise NotOwner("Only the person who saved this segmentation can change, unshare or delete it.",
                           hint="Save a copy under your own name to change it.")
        return row

    # ------------------------------------------------------------------------------------------ runs
    def record_run(self, user: str, run: RunRecord, *, at: datetime | None = None) -> RunRecord:
        """Record a run and its segments in one transaction: whole, or not at all."""
        from .tables import run_segments, runs

        when = at or _now()
        with self._transaction() as con:
            self._ensure_user(con, user)
            if run.file_id is not None:
                self._own(con, self._tables().files, user, run.file_id, "file")
            if run.segmentation_id is not None:
                self._visible_segmentation(con, user, run.segmentation_id)
            new_id = con.execute(runs.insert().values(
                user_id=user, recorded=when, file_id=run.file_id, source_name=run.source_name,
                settings=json.dumps(run.settings, sort_keys=True, default=str), k=int(run.k),
                segmentation_id=run.segmentation_id, segmentation_name=run.segmentation_name, grouping=run.grouping,
                customers=int(run.customers), revenue=float(run.revenue),
                predicted_revenue=None if run.predicted_revenue is None else float(run.predicted_revenue),
                currency=run.currency, snapshot=run.snapshot,
            )).inserted_primary_key[0]
            con.execute(run_segments.insert(), [
                {"run_id": new_id, "segment_id": int(s.segment_id), "user_id": user, "segment": s.segment,
                 "customers": int(s.customers), "revenue": float(s.revenue),
                 "predicted_revenue": None if s.predicted_revenue is None else float(s.predicted_revenue)}
                for s in run.segments
            ])
        return self.run(user, int(new_id))

    def runs_of(self, user: str) -> list[RunRecord]:
        """The user's recorded runs with their segments, newest first."""
        from .tables import run_segments, runs

        _check_user(user)
        sa = self._sa
        with self._transaction() as con:
            rows = con.execute(sa.select(runs).where(runs.c.user_id == user)
                               .order_by(runs.c.recorded.desc(), runs.c.id.desc())).all()
            parts = con.execute(sa.select(run_segments).where(run_segments.c.user_id == user)
                                .order_by(run_segments.c.run_id, run_segments.c.segment_id)).all()
        by_run: dict[int, list[SegmentRow]] = {}
        for p in parts:
            by_run.setdefault(p.run_id, []).append(
                SegmentRow(p.segment_id, p.segment, p.customers, p.revenue, p.predicted_revenue))
        return [_run_of(r, by_run.get(r.id, [])) for r in rows]

    def run(self, user: str, run_id: int) -> RunRecord:
        from .tables import run_segments, runs

        with self._transaction() as con:
            row = self._own(con, runs, user, run_id, "run")
            parts = con.execute(self._sa.select(run_segments).where(run_segments.c.run_id == row.id,
                                                                    run_segments.c.user_id == user)
                                .order_by(run_segments.c.segment_id)).all()
        return _run_of(row, [SegmentRow(p.segment_id, p.segment, p.customers, p.revenue, p.predicted_revenue)
                             for p in parts])

    def delete_run(self, user: str, run_id: int) -> None:
        from .tables import run_segments, runs

        with self._transaction() as con:
            row = self._own(con, runs, user, run_id, "run")
            con.execute(run_segments.delete().where(run_segments.c.run_id == row.id,
                                                    run_segments.c.user_id == user))
            con.execute(runs.delete().where(runs.c.id == row.id, runs.c.user_id == user))

    # ------------------------------------------------------------------------------------------ last state
    def remember(self, user: str, state: dict) -> None:
        """What to reopen on the user's next visit (file id and settings, JSON-able)."""
        from .tables import users

        text = json.dumps(state, sort_keys=True, default=str)
        with self._transaction() as con:
            self._ensure_user(con, user)
            con.execute(users.update().where(users.c.id == user).values(last_state=text))

    def last_state(self, user: str) -> dict | None:
        from .tables import users

        _check_user(user)
        with self._transaction() as con:
            text = con.execute(self._sa.select(users.c.last_state).where(users.c.id == user)).scalar()
        return json.loads(text) if text else None

    # ------------------------------------------------------------------------------------------ helpers
    def _tables(self):
        from . import tables

        return tables

    def _own(self, con, table, user: str, row_id: int, what: str):
        """The row ``row_id`` of ``table`` if it is the user's; NotFound otherwise (whoever has it)."""
        _check_user(user)
        row = con.execute(self._sa.select(table).where(table.c.id == _as_id(row_id), table.c.user_id == user)).first()
        if row is None:
            raise _not_found(what)
        return row


def _run_of(row, segments: list[SegmentRow]) -> RunRecord:
    return RunRecord(
        source_name=row.source_name, settings=json.loads(row.settings), k=row.k, customers=row.customers,
        revenue=row.revenue, segments=tuple(segments), file_id=row.file_id, segmentation_id=row.segmentation_id,
        segmentation_name=row.segmentation_name, predicted_revenue=row.predicted_revenue, currency=row.currency,
        snapshot=row.snapshot, id=row.id, recorded=_utc(row.recorded), grouping=row.grouping,
    )


def _not_found(what: str) -> NotFound:
    return NotFound(f"There is no such {what} in your workspace.",
                    hint=f"Pick one of the {what}s listed; it may have been deleted.")


def _as_id(value) -> int:
    """Ids are whole numbers; anything else (text from a URL, a float) is no id of anyone's."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise NotFound("There is no such item in your workspace.", hint="Pick one of the items listed.")
    return value


def _check_user(user) -> None:
    if not isinstance(user, str) or not user.strip():
        raise StoreError("No user: the workspace needs the signed-in user.")


def _scrub(text: str, url: str) -> str:
    """The driver's message without the URL's password (psycopg quotes connection details)."""
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        password = make_url(url).password
        if password:
            text = text.replace(str(password), "***")
    return text


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Write-ahead log and full sync: a kill -9 mid-save leaves the last committed state."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()

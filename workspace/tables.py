"""The workspace schema as SQLAlchemy Core tables (the migrations in ``migrations/versions`` create it).

Every row that belongs to someone carries ``user_id``; every query of :mod:`workspace.store` filters
on it. File contents live once per SHA-256 in ``blobs`` (a file kept by two users, or twice by one,
is stored once), inside the database: one transaction covers the bytes and their record.
"""
from __future__ import annotations

from sqlalchemy import (
                        Boolean,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        Integer,
                        LargeBinary,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
)

__all__ = ["metadata", "users", "blobs", "files", "segmentations", "runs", "run_segments"]

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", String(320), primary_key=True),  # the verified e-mail (or subject), or "local"
    Column("last_state", Text),  # JSON: the file and settings to reopen on the next visit
    Column("created", DateTime(timezone=True), nullable=False),
)

blobs = Table(
    "blobs", metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the content, hex
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

files = Table(
    "files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(320), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),  # shown, never used as a path
    Column("digest", String(64), ForeignKey("blobs.digest"), nullable=False, index=True),
    Column("size", Integer, nullable=False),
    Column("uploaded", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "digest", name="uq_files_user_digest"),
)

segmentations = Table(
    "segmentations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(320), ForeignKey("users.id"), nullable=False, index=True),  # the owner
    Column("name", Text, nullable=False),
    Column("text", Text, nullable=False),  # the segmenter.segmentation/1 JSON (segmentation/saved.py)
    Column("k", Integer, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("saved", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "name", name="uq_segmentations_user_name"),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(320), ForeignKey("users.id"), nullable=False, index=True),
    Column("recorded", DateTime(timezone=True), nullable=False),
    Column("file_id", Integer),  # None: the demo data, a database table, or a file deleted since
    Column("source_name", Text, nullable=False),
    Column("settings", Text, nullable=False),  # JSON: mapping, cleaning, snapshot, seed, currency
    Column("k", Integer, nullable=False),
    Column("segmentation_id", Integer),  # the saved segmentation applied, None when fitted
    Column("segmentation_name", Text),
    Column("grouping", Text, nullable=False),  # runs with the same grouping are compared on the History page
    Column("customers", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
    Column("predicted_revenue", Float),
    Column("currency", String(16)),
    Column("snapshot", String(10)),  # ISO date of the recency snapshot
)

run_segments = Table(
    "run_segments", metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", Integer, primary_key=True),
    Column("user_id", String(320), nullable=False, index=True),
    Column("segment", Text, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("revenue", Float, nullable=False),
    Column("predicted_revenue", Float),
)

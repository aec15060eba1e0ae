"""The first workspace schema: users, blobs, files, saved segmentations, runs and their segments.

Revision ID: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(320), primary_key=True),
        sa.Column("last_state", sa.Text),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(320), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), sa.ForeignKey("blobs.digest"), nullable=False, index=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("uploaded", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "digest", name="uq_files_user_digest"),
    )
    op.create_table(
        "segmentations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(320), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("saved", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_segmentations_user_name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(320), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_id", sa.Integer),
        sa.Column("source_name", sa.Text, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("segmentation_id", sa.Integer),
        sa.Column("segmentation_name", sa.Text),
        sa.Column("grouping", sa.Text, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("revenue", sa.Float, nullable=False),
        sa.Column("predicted_revenue", sa.Float),
        sa.Column("currency", sa.String(16)),
        sa.Column("snapshot", sa.String(10)),
    )
    op.create_table(
        "run_segments",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("segment_id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(320), nullable=False, index=True),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("revenue", sa.Float, nullable=False),
        sa.Column("predicted_revenue", sa.Float),
    )


def downgrade() -> None:
    for table in ("run_segments", "runs", "segmentations", "files", "blobs", "users"):
        op.drop_table(table)

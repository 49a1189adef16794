"""Projections: allowance lines, alerts, notifications and tracking records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projection_heads",
        sa.Column("project", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("clock", sa.Date, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("project", name="pk_projection_heads"),
    )
    op.create_table(
        "allowance_lines",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("budget_pence", sa.BigInteger, nullable=False),
        sa.Column("limit_pence", sa.BigInteger, nullable=True),
        sa.Column("limit_kind", sa.String(16), nullable=False),
        sa.Column("spent_pence", sa.BigInteger, nullable=False),
        sa.Column("eligible_pence", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project", "category", name="pk_allowance_lines"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, sa.Identity(always=False), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at_version", sa.Integer, nullable=False),
        sa.Column("resolved_at_version", sa.Integer, nullable=True),
        sa.Column("raised_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint(
            "project", "category", "kind", "subject", "raised_at_version", name="uq_alerts_crossing"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["project", "category", "kind", "subject"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_alerts_project_status", "alerts", ["project", "status"])
    op.create_table(
        "notifications",
        sa.Column("alert_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("alert_id", "channel", name="pk_notifications"),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_table(
        "trackers",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_trackers"),
    )


def downgrade() -> None:
    for name in ("trackers", "notifications", "alerts", "allowance_lines", "projection_heads"):
        op.drop_table(name)

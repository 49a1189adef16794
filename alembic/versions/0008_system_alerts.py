"""System alerts: the service's own troubles (a project whose projection failed, a notification
channel that is down), for administrators, with an outbox of their own.

They are not projections of the ledger: `ktpledger replay` neither deletes nor rebuilds them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "system_alerts",
        sa.Column("id", Position, sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_system_alerts"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_system_alerts_open",
        "system_alerts",
        ["kind", "subject"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "system_notifications",
        sa.Column("system_alert_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("system_alert_id", "channel", name="pk_system_notifications"),
    )
    op.create_index("ix_system_notifications_due", "system_notifications", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_system_notifications_due", table_name="system_notifications")
    op.drop_table("system_notifications")
    op.drop_index("ix_system_alerts_open", table_name="system_alerts")
    op.drop_table("system_alerts")

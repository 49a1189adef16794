"""Notifications are retried for a period, not a count, and a channel that keeps failing is noticed.

- `notifications` and `system_notifications` gain `first_attempt_at` (the first claim: the retry
  period runs from it; a resend clears it), `last_attempt_at` (the latest claim) and `failed_at`
  (when the row was given up). Rows already in the outbox keep NULLs: a pending one's retry period
  starts at its next attempt.
- `channel_health`: one row per channel that has failed, holding when its current run of failures
  began (`failing_since`, NULL once it delivers again), how many attempts that run has failed and
  the last error. `channel_down` system alerts are raised from it.

None of these are projections of the ledger: `ktpledger replay` leaves them alone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OUTBOXES = ("notifications", "system_notifications")
COLUMNS = ("first_attempt_at", "last_attempt_at", "failed_at")


def upgrade() -> None:
    for table in OUTBOXES:
        for column in COLUMNS:
            op.add_column(table, sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "channel_health",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_health"),
    )


def downgrade() -> None:
    op.drop_table("channel_health")
    for table in OUTBOXES:
        for column in reversed(COLUMNS):
            op.drop_column(table, column)

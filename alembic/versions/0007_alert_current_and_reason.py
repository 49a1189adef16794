"""Alerts keep what is true now beside what was true at the raise, and why they were resolved.

- `alerts.current`: the figures of an open sub-limit or ineligible-claim alert as the ledger now stands (JSON; NULL for line kinds, whose figures are the allowance line's; NULL
  once resolved). `detail` stays the figures at the raise, for the audit trail.
- `alerts.resolved_reason`: `closed`, `lmc_decision`, `reversal` or `no_longer_holds`.
- `alerts.quiet`: raised and resolved within one append, so never notified.

Both are projections: `ktpledger replay` rebuilds them from the ledger alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite needs no table rebuild for it.
    op.add_column("alerts", sa.Column("current", sa.Text, nullable=True))
    op.add_column("alerts", sa.Column("resolved_reason", sa.String(32), nullable=True))
    op.add_column("alerts", sa.Column("quiet", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for column in ("quiet", "resolved_reason", "current"):
        op.drop_column("alerts", column)

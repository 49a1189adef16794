"""A project whose stored events cannot be folded is quarantined: its projection head says so.

- `projection_heads.status`: `ok`, or `failed` once a recorded event of the project could not be
  read or folded; a failed project is skipped by catch-ups and the sweeper until an administrator
  retries it (`ktpledger projection retry`), and every other project carries on.
- `projection_heads.error`: the refusal naming the row (R-30) and why, while failed.
- `projection_heads.failed_version`, `failed_position`: the row that could not be folded. The
  head's own `version` and `position` stay those of the last append that folded whole.

Like the rest of the projection, `ktpledger replay` rebuilds them from the ledger alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite needs no table rebuild for it.
    op.add_column("projection_heads", sa.Column("status", sa.String(16), nullable=False, server_default="ok"))
    op.add_column("projection_heads", sa.Column("error", sa.Text, nullable=True))
    op.add_column("projection_heads", sa.Column("failed_version", sa.Integer, nullable=True))
    op.add_column("projection_heads", sa.Column("failed_position", sa.BigInteger, nullable=True))


def downgrade() -> None:
    for column in ("failed_position", "failed_version", "error", "status"):
        op.drop_column("projection_heads", column)

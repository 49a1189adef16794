"""Snapshots keep a state's claims apart from the rest (issue 18): `state_snapshots.claims`, so that
an append reads a few kilobytes of a long project's snapshot, not its every claim.

Snapshots are derived data: those written before (of another format) are deleted here; the next
appends and `ktpledger replay` write them again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM state_snapshots")
    with op.batch_alter_table("state_snapshots") as table:
        table.add_column(sa.Column("claims", sa.LargeBinary, nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    op.execute("DELETE FROM state_snapshots")
    with op.batch_alter_table("state_snapshots") as table:
        table.drop_column("claims")

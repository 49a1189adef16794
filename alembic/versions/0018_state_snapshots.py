"""Snapshots of projects' folded states (issue 18): `state_snapshots`, which an append or a
catch-up loads and folds on from, instead of folding a project's whole stream in a new process.

Derived data: empty after the upgrade (the next appends write them every `SNAPSHOT_EVERY` events;
`ktpledger replay` writes them for every long project); a snapshot of another format is ignored.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "state_snapshots",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "version", name="pk_state_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("state_snapshots")

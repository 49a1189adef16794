"""The dashboard's held uploads: an export between its preview and its confirmation.

Kept in the database, not on a server's disk, so that any of several servers may confirm what
another previewed. Not part of the ledger nor a projection: `replay` leaves it alone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_uploads",
        sa.Column("session_tag", sa.String(32), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("stored_ns", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("export", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("session_tag", "nonce", name="pk_dashboard_uploads"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_uploads")

"""Each project's portfolio row as judged for a day (issue 16): `portfolio_rows`, a cache the
portfolio (`ktpledger portfolio`, `GET /portfolio`, the dashboard's page) reads instead of judging
a thousand projects on the day's first read.

Empty after the upgrade: the first read of a day (or the hourly `ktpledger.portfolio_judge` task)
judges the rows and writes them back.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portfolio_rows",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("row", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("project", name="pk_portfolio_rows"),
    )


def downgrade() -> None:
    op.drop_table("portfolio_rows")

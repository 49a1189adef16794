"""Each project's health facts (issue 16): `project_facts`, a projection the projector writes with
the allowance lines, read by the portfolio (`ktpledger portfolio`, `GET /portfolio`).

Derived data, like every projection: empty after the upgrade, filled as each project is next
caught up, or all at once by `ktpledger replay`; until then the portfolio folds the projects it
has no facts for.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_facts",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("project", name="pk_project_facts"),
    )


def downgrade() -> None:
    op.drop_table("project_facts")

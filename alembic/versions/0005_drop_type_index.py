"""Drop `ix_events_type_position`: no query reads events by type in position order, and every
index is one more write on each append.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_type_position", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_type_position", "events", ["type", "position"])

"""Alerts one can work with: their ledger dates, and their acknowledgement (R-39).

`alerts` gains:
- `raised_on`, `resolved_on`: the dates of the events at `raised_at_version` and
  `resolved_at_version` (the ledger's dates, not the time the projection wrote the row), filled in
  here for the alerts already stored;
- `acknowledged_at_version`, `acknowledged_on`, `acknowledged_by_name`, `acknowledged_by_role`,
  `acknowledged_by_channel`, `acknowledgement_note`: the `AlertAcknowledged` event that names the
  alert (its version, date, who recorded it and its note), NULL while it is not acknowledged. No
  such event can be recorded before this revision, so nothing is filled in.

Like the rest of the projection, `ktpledger replay` rebuilds them from the ledger alone. Downgrade
drops them (the acknowledgements stay in the ledger, as events).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = (
    ("raised_on", sa.Date),
    ("resolved_on", sa.Date),
    ("acknowledged_at_version", sa.Integer),
    ("acknowledged_on", sa.Date),
    ("acknowledged_by_name", lambda: sa.String(200)),
    ("acknowledged_by_role", lambda: sa.String(16)),
    ("acknowledged_by_channel", lambda: sa.String(16)),
    ("acknowledgement_note", sa.Text),
)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite needs no table rebuild for it.
    for name, kind in COLUMNS:
        op.add_column("alerts", sa.Column(name, kind(), nullable=True))
    for column, version in (("raised_on", "raised_at_version"), ("resolved_on", "resolved_at_version")):
        op.execute(
            f"UPDATE alerts SET {column} = (SELECT events.date FROM events "
            f"WHERE events.project = alerts.project AND events.version = alerts.{version}) "
            f"WHERE alerts.{version} IS NOT NULL"
        )


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("alerts", name)

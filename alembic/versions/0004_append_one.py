"""PostgreSQL: append one event in one round trip, if the project's head is the one validated.

`ktpledger_append_one` takes the append lock, confirms that the project's latest version is the
one the event was validated against (`p_version - 1`), and inserts it; called in autocommit mode,
the lock is held until the statement commits, so positions still become visible in order. It
returns the event's position, or NULL when the head has moved (the caller then takes the general
path, which re-reads the ledger under the lock).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION ktpledger_append_one(
    p_project text, p_version integer, p_type text, p_schema_version integer, p_key text, p_date date,
    p_data text, p_recorded_at timestamptz, p_prev_hash text, p_hash text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    appended bigint;
BEGIN
    LOCK TABLE events IN EXCLUSIVE MODE;
    -- The head is `p_version - 1` exactly when that version exists (or it is the first) and
    -- `p_version` does not: ON CONFLICT DO NOTHING answers the second (and a known key) with no row.
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash
    WHERE p_version = 1
       OR EXISTS (SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1)
    ON CONFLICT DO NOTHING
    RETURNING position INTO appended;
    RETURN appended;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION ktpledger_append_one(text, integer, text, integer, text, date, text, timestamptz, text, text)"
        )

"""PostgreSQL: `ktpledger_append_one` finds the row before the new one by the order of versions.

The function of 0020 confirmed the head with `EXISTS (SELECT 1 FROM events WHERE project = p AND
version = v - 1)`. PL/pgSQL plans its statements once a session for any parameters (their generic
plan), and where the table's statistics did not tell the two unique indexes apart (a table small or
not yet analyzed when planned) PostgreSQL probed by the project alone through (project, key),
reading every row of the project to find one: a single append onto a project of 10,000 events read
10,000 rows (issue 18). It now reads the project's newest row at or below `v - 1` in the order of
versions (`ORDER BY version DESC LIMIT 1`), which only (project, version) gives, and inserts when
that row is `v - 1`: one index entry and one row, however the statement was planned. The one-round-
trip statement (`ledger_store._APPEND_ONE`) probes the same way.

Nothing else changes: the same advisory lock, the same answers (NULL when `v - 1` is missing,
unique_violation when `v` or the key is taken), SECURITY INVOKER, the same signature and grants.
Downgrade restores the function of 0020.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SIGNATURE = (
    "p_project text, p_version integer, p_type text, p_schema_version integer, p_key text, p_date date, "
    "p_data text, p_recorded_at timestamptz, p_prev_hash text, p_hash text, p_chain_version integer, "
    "p_recorded_by text"
)

APPEND_ONE = """
CREATE OR REPLACE FUNCTION ktpledger_append_one({signature}) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    appended bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1802793068, 'events'::regclass::oid::integer);
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash,
                        chain_version, recorded_by)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash, p_chain_version, p_recorded_by
    WHERE p_version = 1
       OR EXISTS ({probe})
    RETURNING position INTO appended;
    RETURN appended;
END $$
"""

BY_VERSION_ORDER = (
    "SELECT 1 FROM (SELECT version FROM events WHERE project = p_project AND version <= p_version - 1 "
    "ORDER BY version DESC LIMIT 1) AS below WHERE below.version = p_version - 1"
)
BY_EQUALITY = "SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1"  # 0020's


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, probe=BY_VERSION_ORDER))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, probe=BY_EQUALITY))

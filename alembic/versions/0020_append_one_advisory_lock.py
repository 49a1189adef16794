"""PostgreSQL: `ktpledger_append_one` excludes the other single appends by an advisory lock.

The function took the append lock (`LOCK TABLE events IN EXCLUSIVE MODE`) through the owner's
`ktpledger_lock_events()`: a SECURITY DEFINER call with its own search_path, 12-14 us of the
function's ~85 us of server time on a 2-core machine (issue 18, `pg_stat_user_functions`). It now
takes a transaction-scoped advisory lock of this schema's ledger (`pg_advisory_xact_lock`, any
role may) and inserts, which takes ROW EXCLUSIVE on `events`. The appends are still one at a time
from taking a position to committing it, so positions still become visible in order:

- two single appends: the advisory lock, taken before the insert and held to the commit;
- a single append and the general path (or anything else holding the append lock): ROW EXCLUSIVE
  conflicts with EXCLUSIVE, whichever comes first waits for the other's commit.

Nothing else changes: the head is confirmed the same way (`version - 1` exists, or it is the
first; a taken version or key raises unique_violation), the function stays SECURITY INVOKER (its
INSERT is checked against the caller's own rights) and keeps its signature, so the grants of
EXECUTE stand. A role that may connect can hold the advisory lock and delay single appends, as a
role that may SELECT can hold ACCESS SHARE and delay every append: it cannot reorder them.

Kept in PL/pgSQL: a SQL-language function is planned again on every call on PostgreSQL 15 (about
1.5 times as slow, measured). Downgrade restores the function of 0012.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from alembic import op

revision = "0020"
down_revision = "0019"
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
    {lock};
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash,
                        chain_version, recorded_by)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash, p_chain_version, p_recorded_by
    WHERE p_version = 1
       OR EXISTS (SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1)
    RETURNING position INTO appended;
    RETURN appended;
END $$
"""


def advisory_key(schema: str) -> int:
    """The advisory lock of the ledger in `schema`: a signed 64-bit number fixed when migrating,
    one a schema, so that ledgers in other schemas of the database do not wait for each other."""
    digest = hashlib.sha256(f"ktpledger_append_one {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    lock = f"PERFORM pg_advisory_xact_lock({advisory_key(schema)})"
    op.execute(APPEND_ONE.format(signature=SIGNATURE, lock=lock))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, lock="PERFORM ktpledger_lock_events()"))

"""PostgreSQL: a single append excludes the other single appends by an advisory lock of the ledger.

`ktpledger_append_one` took the append lock (`LOCK TABLE events IN EXCLUSIVE MODE`) through the
owner's `ktpledger_lock_events()`: a SECURITY DEFINER call with a search_path of its own, about
12 us of the function's ~85 us of server time on a 2-core machine (issue 18,
`pg_stat_user_functions`). It now takes the advisory lock `(1802793068, events' OID)`, the first
number "ktpl" in ASCII (`pg_advisory_xact_lock`, which any role may take), and inserts, which
takes ROW EXCLUSIVE on `events`. The one-round-trip path (`ledger_store.DirectAppender`) now sends
the same lock and insert as one statement of its own, without the function's call. Appends are
still one at a time from taking a position to committing it, so positions still become visible in
order:

- two single appends: the advisory lock, taken before the position and held to the commit;
- a single append and the general path (or anything else holding the append lock): ROW EXCLUSIVE
  conflicts with EXCLUSIVE, so whichever comes second waits for the other's commit.

Nothing else changes: the head is confirmed the same way (`version - 1` exists, or it is the
first; a taken version or key raises unique_violation), the function stays SECURITY INVOKER (its
INSERT is checked against the caller's own rights) and keeps its signature and its grants. A role
that may connect can hold the advisory lock and delay single appends, as a role that may SELECT
can hold ACCESS SHARE on `events` and delay every append; neither can reorder them.

Kept in PL/pgSQL: a SQL-language function is planned again on every call on PostgreSQL 15 (about
1.5 times as slow, measured). Downgrade restores the function of 0012.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

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

# The single appends' lock: the same as `ledger_store.DirectAppender`'s statement takes.
ADVISORY_LOCK = "PERFORM pg_advisory_xact_lock(1802793068, 'events'::regclass::oid::integer)"
APPEND_LOCK = "PERFORM ktpledger_lock_events()"

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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, lock=ADVISORY_LOCK))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, lock=APPEND_LOCK))

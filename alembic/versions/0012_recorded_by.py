"""Who recorded each event (`recorded_by`), covered by the hash chain (`chain_version` 2).

`events` gains `chain_version` (NOT NULL, 1 on every row recorded before: their hashes are of the
link document of chain version 1) and `recorded_by` (canonical JSON `{"channel","name","role"}`,
NULL on those rows). Every row appended from now on is of chain version 2: its hash covers
`recorded_by` (`ktpledger/domain/chain.py`, docs/events.md). Nothing is rewritten: old rows keep
their hashes and still verify, and a project's chain may mix both versions.

PostgreSQL: `ktpledger_append_one` takes the two new columns (a new signature: the old function is
dropped, and EXECUTE granted again to each role that held it).

Downgrade drops both columns, and refuses while any event of chain version 2 is recorded: without
its `recorded_by` that event's hash could no longer be checked, and the chain would be broken.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_SIGNATURE = (
    "p_project text, p_version integer, p_type text, p_schema_version integer, p_key text, p_date date, "
    "p_data text, p_recorded_at timestamptz, p_prev_hash text, p_hash text"
)
OLD_TYPES = "text, integer, text, integer, text, date, text, timestamptz, text, text"
NEW_SIGNATURE = OLD_SIGNATURE + ", p_chain_version integer, p_recorded_by text"
NEW_TYPES = OLD_TYPES + ", integer, text"

OLD_APPEND_ONE = """
CREATE FUNCTION ktpledger_append_one({signature}) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    appended bigint;
BEGIN
    PERFORM ktpledger_lock_events();
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash
    WHERE p_version = 1
       OR EXISTS (SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1)
    RETURNING position INTO appended;
    RETURN appended;
END $$
"""

NEW_APPEND_ONE = """
CREATE FUNCTION ktpledger_append_one({signature}) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    appended bigint;
BEGIN
    PERFORM ktpledger_lock_events();
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

# The roles other than the owner granted EXECUTE on the function (`ktpledger db grant`).
_GRANTEES = """
SELECT DISTINCT grantee FROM information_schema.role_routine_grants
WHERE routine_schema = current_schema() AND routine_name = 'ktpledger_append_one'
  AND privilege_type = 'EXECUTE' AND grantee <> grantor AND grantee <> 'PUBLIC'
"""


def _replace_append_one(drop_types: str, create: str, signature: str, new_types: str) -> None:
    bind = op.get_bind()
    grantees = list(bind.execute(sa.text(_GRANTEES)).scalars())
    op.execute(f"DROP FUNCTION ktpledger_append_one({drop_types})")
    op.execute(create.format(signature=signature))
    quote = bind.dialect.identifier_preparer.quote_identifier
    for grantee in grantees:
        op.execute(f"GRANT EXECUTE ON FUNCTION ktpledger_append_one({new_types}) TO {quote(grantee)}")


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("ALTER TABLE events ADD COLUMN chain_version INTEGER DEFAULT 1 NOT NULL")
    op.execute("ALTER TABLE events ADD COLUMN recorded_by TEXT")
    if bind.dialect.name == "postgresql":
        _replace_append_one(OLD_TYPES, NEW_APPEND_ONE, NEW_SIGNATURE, NEW_TYPES)


def downgrade() -> None:
    bind = op.get_bind()
    newer = bind.execute(sa.text("SELECT count(*) FROM events WHERE chain_version <> 1")).scalar_one()
    if newer:
        raise RuntimeError(
            f"R-30: {newer} events are of chain version 2 (their hashes cover recorded_by): downgrading "
            "below 0012 would drop who recorded them and break their chains; it is refused"
        )
    if bind.dialect.name == "postgresql":
        _replace_append_one(NEW_TYPES, OLD_APPEND_ONE, OLD_SIGNATURE, OLD_TYPES)
    op.execute("ALTER TABLE events DROP COLUMN recorded_by")
    op.execute("ALTER TABLE events DROP COLUMN chain_version")

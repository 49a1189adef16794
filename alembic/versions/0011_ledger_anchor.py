"""The ledger-wide chain's record (`ledger_chain`), and an append lock a non-owner role may take.

`ledger_chain` caches the ledger-wide chain (`ktpledger/domain/anchor.py`) one row per event, so a
checkpoint at a recorded position is one row read.

PostgreSQL: `LOCK TABLE events IN EXCLUSIVE MODE` needs UPDATE, DELETE or TRUNCATE on `events`,
which the service's role must not have (README, "Tamper evidence"). `ktpledger_lock_events()`
takes that lock and nothing else, as its owner (SECURITY DEFINER, with its search_path pinned to
this schema so a caller cannot redirect it); the lock belongs to the caller's transaction all the
same. Only roles granted EXECUTE (`ktpledger db grant ROLE`) may call it. `ktpledger_append_one`
stays SECURITY INVOKER, so its INSERT is still checked against the caller's own rights, and takes
the lock through it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SIGNATURE = (
    "p_project text, p_version integer, p_type text, p_schema_version integer, p_key text, p_date date, "
    "p_data text, p_recorded_at timestamptz, p_prev_hash text, p_hash text"
)

APPEND_ONE = """
CREATE OR REPLACE FUNCTION ktpledger_append_one({signature}) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    appended bigint;
BEGIN
    {lock};
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash
    WHERE p_version = 1
       OR EXISTS (SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1)
    RETURNING position INTO appended;
    RETURN appended;
END $$
"""


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "ledger_chain",
        sa.Column("position", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("link", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_ledger_chain"),
    )
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(sa.text("SELECT current_schema()")).scalar_one()
    quoted = bind.dialect.identifier_preparer.quote_identifier(schema)
    op.execute(
        "CREATE FUNCTION ktpledger_lock_events() RETURNS void LANGUAGE plpgsql SECURITY DEFINER "
        f"SET search_path = {quoted}, pg_temp AS $$ BEGIN LOCK TABLE events IN EXCLUSIVE MODE; END $$"
    )
    op.execute("REVOKE ALL ON FUNCTION ktpledger_lock_events() FROM PUBLIC")
    op.execute(APPEND_ONE.format(signature=SIGNATURE, lock="PERFORM ktpledger_lock_events()"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONE.format(signature=SIGNATURE, lock="LOCK TABLE events IN EXCLUSIVE MODE"))
        op.execute("DROP FUNCTION ktpledger_lock_events()")
    op.drop_table("ledger_chain")

"""The append-only ledger: the events table and the triggers that refuse UPDATE, DELETE, TRUNCATE.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

REFUSAL = "R-30: the ledger is append-only; record a correcting event (a reversal) instead"

POSTGRES_TRIGGERS = [
    f"""
    CREATE FUNCTION ktpledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSAL} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ktpledger_refuse_change()
    """,
    """
    CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ktpledger_refuse_change()
    """,
    # ALWAYS: the triggers fire even with session_replication_role = replica.
    "ALTER TABLE events ENABLE ALWAYS TRIGGER events_refuse_update_delete",
    "ALTER TABLE events ENABLE ALWAYS TRIGGER events_refuse_truncate",
]

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, '{REFUSAL} (UPDATE on events)'); END
    """,
    f"""
    CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, '{REFUSAL} (DELETE on events)'); END
    """,
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "events",
        sa.Column("position", position, sa.Identity(always=False), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_events"),
        sa.UniqueConstraint("project", "version", name="uq_events_project_version"),
        sa.UniqueConstraint("project", "key", name="uq_events_project_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TABLE events")
        op.execute("DROP FUNCTION ktpledger_refuse_change()")
    else:
        op.execute("DROP TABLE events")

"""PostgreSQL: `ktpledger_append_one` inserts without ON CONFLICT.

ON CONFLICT DO NOTHING makes PostgreSQL insert speculatively, probing all three unique indexes
before and confirming after the insert: about 40 us of the call's time on a 2-core machine. The
call holds the append lock, so the only conflicts left are a head that moved in another process
(its version is then taken) or a key it recorded there; both now raise unique_violation, which the
caller takes as "use the general path", as it took a NULL before. A head that does not exist yet
(version - 1 missing) still returns NULL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SIGNATURE = (
    "p_project text, p_version integer, p_type text, p_schema_version integer, p_key text, p_date date, "
    "p_data text, p_recorded_at timestamptz, p_prev_hash text, p_hash text"
)

BODY = """
    LOCK TABLE events IN EXCLUSIVE MODE;
    INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, hash)
    SELECT p_project, p_version, p_type, p_schema_version, p_key, p_date, p_data, p_recorded_at, p_prev_hash,
           p_hash
    WHERE p_version = 1
       OR EXISTS (SELECT 1 FROM events WHERE project = p_project AND version = p_version - 1)
    {on_conflict}RETURNING position INTO appended;
    RETURN appended;
"""


def function(on_conflict: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION ktpledger_append_one({SIGNATURE}) RETURNS bigint LANGUAGE plpgsql AS $$\n"
        "DECLARE\n    appended bigint;\nBEGIN" + BODY.format(on_conflict=on_conflict) + "END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function(""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function("ON CONFLICT DO NOTHING\n    "))

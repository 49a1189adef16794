"""PostgreSQL roles: migrations run as the tables' owner; the service runs as a role that may only
INSERT and SELECT the ledger (README, "Tamper evidence").

A table's owner can do anything to it: `ALTER TABLE events DISABLE TRIGGER`, then UPDATE or
DELETE. The service's role is granted exactly `SERVICE_PRIVILEGES`: on `events` and
`ledger_chain` INSERT and SELECT only, so it can neither change nor delete an event, nor
truncate the ledger, nor disable the triggers that refuse it. The append lock (`LOCK TABLE events
IN EXCLUSIVE MODE`, which needs UPDATE, DELETE or TRUNCATE) it takes through the owner's
`ktpledger_lock_events()` (migration 0011).

Every table of the schema must be listed here (a test checks it): a migration that adds a table
adds its line, and `ktpledger db upgrade` grants the roles it finds on `events` again after
migrating, so they keep working.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ktpledger.adapters import digest_tables, token_tables, upload_tables
from ktpledger.adapters.database import Database
from ktpledger.adapters.tables import metadata

# Their tables are on `metadata` once imported: every table of the schema must be listed below.
TABLE_MODULES = (digest_tables, token_tables, upload_tables)

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")

SERVICE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "events": ("SELECT", "INSERT"),  # the ledger: appended to and read, never changed
    "ledger_chain": ("SELECT", "INSERT"),  # the ledger-wide chain's record: only ever extended
    "alembic_version": ("SELECT",),  # commands check that the schema is at head
    # Projections and their bookkeeping: derived from the ledger, rebuilt by `replay` (DELETE).
    "projection_heads": DML,
    "allowance_lines": DML,
    "project_facts": DML,  # the portfolio's health facts (issue 16): replay rebuilds them
    "portfolio_rows": DML,  # the portfolio's rows of the day (issue 16): a cache readers refill
    "state_snapshots": DML,  # projects' folded states (issue 18): derived, replay rebuilds them
    "alerts": DML,
    "notifications": DML,
    "trackers": DML,
    "system_alerts": DML,
    "system_notifications": DML,
    "channel_health": DML,  # delivery bookkeeping: a channel's failing streak
    "api_tokens": ("SELECT", "INSERT", "UPDATE"),  # revoking a token is an UPDATE; none is deleted
    "dashboard_uploads": DML,  # exports held between a dashboard preview and its confirmation
    "digests": DML,  # digest notifications (migration 0016): composed, sent, retried
}

FUNCTIONS = (
    "ktpledger_lock_events()",
    "ktpledger_append_one(text, integer, text, integer, text, date, text, timestamptz, text, text, integer, text)",
)

_OWNER = text(
    "SELECT r.rolname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_roles r ON r.oid = c.relowner WHERE n.nspname = current_schema() AND c.relname = 'events'"
)
_GRANTED = text(
    "SELECT DISTINCT r.rolname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "CROSS JOIN LATERAL aclexplode(c.relacl) AS a JOIN pg_roles r ON r.oid = a.grantee "
    "WHERE n.nspname = current_schema() AND c.relname = 'events' AND a.privilege_type = 'INSERT' "
    "AND a.grantee <> c.relowner ORDER BY 1"
)


class RoleError(ValueError):
    """A grant that cannot be made: says why and what to do."""


def unlisted_tables() -> list[str]:
    """Tables of the schema without a line in `SERVICE_PRIVILEGES` (a programming error)."""
    return sorted(set(metadata.tables) - set(SERVICE_PRIVILEGES))


def grant_statements(role: str, schema: str, quote: object) -> list[str]:
    """The statements that give `role` exactly the service's privileges (and take away any other
    it had on these tables). `quote` quotes an identifier (the dialect's)."""
    assert callable(quote)
    who, where = quote(role), quote(schema)
    statements = [f"GRANT USAGE ON SCHEMA {where} TO {who}"]
    for table, privileges in sorted(SERVICE_PRIVILEGES.items()):
        statements.append(f"REVOKE ALL ON TABLE {where}.{quote(table)} FROM {who}")
        statements.append(f"GRANT {', '.join(privileges)} ON TABLE {where}.{quote(table)} TO {who}")
    # Identity columns draw on sequences; USAGE allows nextval, never setval.
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {where} TO {who}")
    statements += [f"GRANT EXECUTE ON FUNCTION {where}.{function} TO {who}" for function in FUNCTIONS]
    return statements


def grant(connection: Connection, role: str) -> list[str]:
    """Give `role` the service's privileges on the current schema (PostgreSQL, run as the owner of
    the tables); returns the statements run. Refuses the owner itself, whose privileges a REVOKE
    would take away."""
    if connection.dialect.name != "postgresql":
        raise RoleError(
            "roles and grants are PostgreSQL's: an SQLite ledger is guarded by its file's permissions"
        )
    missing = unlisted_tables()
    if missing:
        raise RoleError(f"no service privileges are declared for {', '.join(missing)} (adapters/roles.py)")
    owner = connection.execute(_OWNER).scalar_one_or_none()
    if owner is None:
        raise RoleError("this schema has no events table: run `ktpledger db upgrade` first")
    if role == owner:
        raise RoleError(
            f"{role} owns the ledger's tables: grant the service's privileges to another role, "
            "the one the service connects as"
        )
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        raise RoleError(f"there is no role {role!r}: create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    statements = grant_statements(role, schema, connection.dialect.identifier_preparer.quote)
    for statement in statements:
        connection.exec_driver_sql(statement)
    return statements


def granted_roles(connection: Connection) -> list[str]:
    """The roles other than the owner that may INSERT into `events`: the service's roles, whose
    grants `db upgrade` renews after migrating."""
    if connection.dialect.name != "postgresql":
        return []
    return list(connection.execute(_GRANTED).scalars())


def grant_on(database: Database, role: str) -> list[str]:
    """`grant` in a transaction of its own on `database`; the statements run."""
    with database.engine.begin() as connection:
        return grant(connection, role)


def renew_on(database: Database, also: list[str] | None = None) -> list[str]:
    """Grant the service's privileges again, in one transaction, to every role that had them and
    to `also`; the roles granted."""
    with database.engine.begin() as connection:
        names = sorted(set(granted_roles(connection)) | set(also or ()))
        for role in names:
            grant(connection, role)
    return names

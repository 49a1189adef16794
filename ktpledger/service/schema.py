"""Creating and migrating the schema with Alembic, to head. Alembic is imported only to migrate or
to read what a quick look (`schema_head`) could not: checking a database at head, as every command
does first, never imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ktpledger.adapters.database import Database
from ktpledger.adapters.schema_head import SCHEMA_HEAD, stored_revision

__all__ = [
    "SchemaNotReady",
    "alembic_config",
    "current_revision",
    "ensure_schema",
    "grant_service_role",
    "head_revision",
    "migrate",
    "migrations_directory",
    "renew_grants",
    "upgrade",
]


def alembic_config() -> Any:  # alembic.config.Config: only the adapters name Alembic
    from ktpledger.adapters.migrations import alembic_config as config

    return config()


def current_revision(database: Database) -> str | None:
    from ktpledger.adapters.migrations import current_revision as current

    return current(database)


def head_revision() -> str | None:
    from ktpledger.adapters.migrations import head_revision as head

    return head()


def migrate(database: Database, direction: Literal["upgrade", "downgrade"], target: str) -> None:
    from ktpledger.adapters.migrations import migrate as run

    run(database, direction, target)


def migrations_directory() -> Path:
    from ktpledger.adapters.migrations import migrations_directory as directory

    return directory()


class SchemaNotReady(RuntimeError):
    """The database has no ktpledger schema, or an older one."""


def upgrade(database: Database) -> tuple[str | None, str | None]:
    """Migrate to head; returns (revision before, revision after)."""
    before = current_revision(database)
    migrate(database, "upgrade", "head")
    return before, current_revision(database)


def ensure_schema(database: Database, *, create_embedded: bool = True) -> None:
    """Make sure the schema is at head. The embedded SQLite default is migrated on first use;
    a PostgreSQL database must be migrated on purpose (`ktpledger db upgrade`)."""
    if stored_revision(database) == SCHEMA_HEAD or current_revision(database) == head_revision():
        return
    if create_embedded and database.embedded:
        upgrade(database)
        return
    raise SchemaNotReady(
        f"the database at {database.shown_url} is not at the "
        "current ktpledger schema: run `ktpledger db upgrade` first"
    )


def grant_service_role(database: Database, role: str) -> list[str]:
    """PostgreSQL, as the tables' owner: give `role` the service's privileges and no more (it may
    only INSERT and SELECT the ledger); returns the statements run. A `roles.RoleError` says why not."""
    from ktpledger.adapters import roles

    return roles.grant_on(database, role)


def renew_grants(database: Database, also: list[str] | None = None) -> list[str]:
    """After a migration: grant the service's privileges again to every role that had them (and to
    `also`), so tables a migration added or recreated are covered; returns the roles granted."""
    from ktpledger.adapters import roles

    return roles.renew_on(database, also)

"""Creating and migrating the schema with Alembic, to head."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from ktpledger.adapters import roles
from ktpledger.adapters.database import Database

# The top-level alembic/ folder, which the package links to as ktpledger/_migrations so that a
# wheel carries it and an installed ktpledger finds it without a checkout.
MIGRATIONS = "ktpledger._migrations"


class SchemaNotReady(RuntimeError):
    """The database has no ktpledger schema, or an older one."""


def migrations_directory() -> Path:
    """The folder of env.py and versions/ in the installed package. Alembic reads its scripts from
    files, so this is a real folder (pip unpacks wheels): a namespace package's `files()` is no
    path itself, its files are."""
    return Path(str(resources.files(MIGRATIONS).joinpath("env.py"))).parent


def alembic_config() -> Config:
    # No alembic.ini: it is the developers' `alembic` command's, and holds nothing env.py reads.
    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(database: Database, direction: Literal["upgrade", "downgrade"], target: str) -> None:
    """Run Alembic's `upgrade` or `downgrade` to `target` ("head", "base", "+1", a revision...) in
    one transaction on `database`'s engine."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, target)


def upgrade(database: Database) -> tuple[str | None, str | None]:
    """Migrate to head; returns (revision before, revision after)."""
    before = current_revision(database)
    migrate(database, "upgrade", "head")
    return before, current_revision(database)


def ensure_schema(database: Database, *, create_embedded: bool = True) -> None:
    """Make sure the schema is at head. The embedded SQLite default is migrated on first use;
    a PostgreSQL database must be migrated on purpose (`ktpledger db upgrade`)."""
    if current_revision(database) == head_revision():
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
    with database.engine.begin() as connection:
        return roles.grant(connection, role)


def renew_grants(database: Database, also: list[str] | None = None) -> list[str]:
    """After a migration: grant the service's privileges again to every role that had them (and to
    `also`), so tables a migration added or recreated are covered; returns the roles granted."""
    with database.engine.begin() as connection:
        names = sorted(set(roles.granted_roles(connection)) | set(also or ()))
        for role in names:
            roles.grant(connection, role)
    return names

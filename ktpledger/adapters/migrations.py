"""Alembic, the schema's migrations: where they are, and running them on a database.

The service asks for "the schema at head" (`service/schema.py`); how Alembic does it is here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from ktpledger.adapters.database import Database

# The top-level alembic/ folder, which the package links to as ktpledger/_migrations so that a
# wheel carries it and an installed ktpledger finds it without a checkout.
MIGRATIONS = "ktpledger._migrations"


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

"""The schema revision this version of ktpledger runs on, and the one a database is at, read
without Alembic: every command checks the schema before it works, and importing Alembic to compare
two revision numbers cost each command about a third of a second (issue 18, item 4). Migrating
(`service/schema.upgrade`) is still Alembic's."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ktpledger.adapters.database import Database
from ktpledger.adapters.errors import BackendError

# The newest migration's revision (alembic/versions): a migration that adds one raises this too
# (tests/ledger/test_migrations.py holds it equal to Alembic's head).
SCHEMA_HEAD = "0022"


def stored_revision(database: Database) -> str | None:
    """The revision `alembic_version` records, or None when it cannot be read that simply (no
    table yet, the database down, more than one row): the caller asks Alembic then."""
    try:
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except (SQLAlchemyError, BackendError):  # the engine's handler words driver errors as BackendError
        return None
    return str(rows[0][0]) if len(rows) == 1 else None

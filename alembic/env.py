"""Alembic environment: runs migrations on the connection ktpledger hands it, or on
KTPLEDGER_DATABASE_URL when called as plain `alembic upgrade head`."""

from __future__ import annotations

from sqlalchemy import create_engine

from alembic import context
from ktpledger.adapters.tables import metadata
from ktpledger.settings import Settings

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("ktpledger migrations run online only: `ktpledger db upgrade`")
run_migrations_online()

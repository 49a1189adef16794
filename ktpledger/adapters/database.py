"""Engines and transactions for both backends: SQLite (embedded default) and PostgreSQL.

A write transaction on PostgreSQL takes `LOCK TABLE events IN EXCLUSIVE MODE` before it reads the
heads it validates against and holds it to commit. That serialises appends (readers are not
blocked), so positions are assigned and become visible in the same order: a reader that bookmarks
"after position P" never misses an event that commits later with a lower number. On SQLite a write
transaction is `BEGIN IMMEDIATE`, which takes the database's one write lock for the same effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

WRITE_OPTION = "ktpledger_write"


def build_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, set up for the ledger's locking on its backend."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("an in-memory SQLite ledger would vanish with its process: give a file path")
    # One connection per checkout: SQLite connections are cheap and a file lock is per connection.
    kwargs.setdefault("poolclass", NullPool)
    engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is too late and DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One engine and the two kinds of transaction the ledger needs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction, rolled back at the end."""
        with self.engine.connect() as connection, connection.begin() as transaction:
            yield connection
            transaction.rollback()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the append lock; rolled back unless the block commits it
        with `connection.commit()`."""
        with self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            transaction = connection.begin()
            try:
                if self.dialect == "postgresql":
                    connection.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")
                yield connection
            finally:
                if transaction.is_active:
                    transaction.rollback()

    @contextmanager
    def projection(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """A write transaction on the projection tables (never the append lock); rolled back unless
        the block commits it. `exclusive` keeps every catch-up out, for a full rebuild."""
        with self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            transaction = connection.begin()
            try:
                if exclusive and self.dialect == "postgresql":
                    connection.exec_driver_sql(
                        "LOCK TABLE projection_heads, allowance_lines, alerts IN EXCLUSIVE MODE"
                    )
                yield connection
            finally:
                if transaction.is_active:
                    transaction.rollback()

    def dispose(self) -> None:
        self.engine.dispose()

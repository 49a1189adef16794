"""What differs between the backends' SQL for the projection store; the rest is shared.

SQLite and PostgreSQL differ in three things here: an insert that ignores or updates a row already
there (each dialect's own `INSERT ... ON CONFLICT`), the lock on the heads a catch-up takes (`FOR
UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database's one write lock), and
reading many projects' new events (one `unnest` join on PostgreSQL, a probe per project on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters.projection_store import Row


class PipelineFailed(Exception):
    """A statement sent in a pipeline failed, reported when the pipeline ended."""


class Backend:
    """What differs between the backends; the rest of the SQL is shared."""

    def __init__(self) -> None:
        # Each upsert statement built once: building one (its `excluded` columns above all) cost a
        # catch-up more than SQLAlchemy's compiled cache saves; a catch-up upserts three tables.
        self._upserts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}

    def insert(self, table: Table) -> Any:
        raise NotImplementedError

    @contextmanager
    def pipelined(self, connection: Connection) -> Iterator[None]:
        """Statements sent without waiting for each one's answer (`ProjectionUnit.pipelined`)."""
        yield

    def locked(self, query: Select[Any]) -> Select[Any]:
        return query

    def locked_if_free(self, query: Select[Any]) -> Select[Any]:
        """`locked`, leaving out the rows another transaction holds (SQLite has one writer)."""
        return query

    def insert_ignore(self, table: Table) -> Any:
        return self.insert(table).on_conflict_do_nothing()

    def upsert(
        self, connection: Connection, table: Table, rows: Sequence[Row], keys: tuple[str, ...]
    ) -> None:
        if not rows:
            return
        columns = tuple(name for name in rows[0] if name not in keys)
        shape = (table.name, keys, columns)
        upsert = self._upserts.get(shape)
        if upsert is None:
            statement = self.insert(table)
            upsert = self._upserts[shape] = statement.on_conflict_do_update(
                index_elements=list(keys), set_={name: statement.excluded[name] for name in columns}
            )
        # One statement shape whatever the number of rows (compiled once, cached), run as executemany.
        connection.execute(upsert, list(rows))


class SqliteBackend(Backend):
    def insert(self, table: Table) -> Any:
        return sqlite.insert(table)


class PostgresBackend(Backend):
    def insert(self, table: Table) -> Any:
        return postgresql.insert(table)

    @contextmanager
    def pipelined(self, connection: Connection) -> Iterator[None]:
        # psycopg's pipeline mode: each statement is sent at once and its answer read when asked
        # for (a read, a commit) or at the end, so writes that need no answer share a round trip.
        driver: Any = connection.connection.driver_connection
        failure = connection.dialect.loaded_dbapi.Error
        try:
            try:
                with driver.pipeline():
                    yield
            except failure as error:
                # Surfaced at the pipeline's end, outside SQLAlchemy (which wraps any error it sees).
                raise PipelineFailed(str(error)) from error
        except BaseException:
            # A statement failed (or the block raised) with others sent after it: roll back here,
            # out of the pipeline, so the connection goes back to the pool with no transaction.
            with suppress(failure):
                driver.rollback()
            raise

    def locked(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update()

    def locked_if_free(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)


BACKENDS: dict[str, Backend] = {"sqlite": SqliteBackend(), "postgresql": PostgresBackend()}


def backend_of(dialect: str) -> Backend:
    """The backend of a database dialect's name; ValueError for one ktpledger does not support."""
    backend = BACKENDS.get(dialect)
    if backend is None:
        raise ValueError(f"no projection store for a {dialect} database")
    return backend

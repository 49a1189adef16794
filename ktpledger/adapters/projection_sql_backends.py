"""What differs between the backends' SQL for the projection store; the rest is shared.

SQLite and PostgreSQL differ in three things here: an insert that ignores or updates a row already
there (each dialect's own `INSERT ... ON CONFLICT`), the lock on the heads a catch-up takes (`FOR
UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the database's one write lock), and
reading many projects' new events (one `unnest` join on PostgreSQL, a probe per project on SQLite).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import driver_errors
from ktpledger.adapters.projection_store import Row
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.statuses import FAILED, OPEN


class PipelineFailed(Exception):
    """A statement sent in a pipeline failed, reported when the pipeline ended."""


class Backend:
    """What differs between the backends; the rest of the SQL is shared."""

    def __init__(self) -> None:
        # Each upsert statement built once: building one (its `excluded` columns above all) cost a
        # catch-up more than SQLAlchemy's compiled cache saves; a catch-up upserts three tables.
        self._upserts: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}
        # Likewise each table's insert that ignores a row already there (alerts raised, their
        # notifications queued: a catch-up that raises builds both).
        self._ignores: dict[str, Any] = {}

    def insert(self, table: Table) -> Any:
        raise NotImplementedError

    @contextmanager
    def pipelined(self, connection: Connection) -> Iterator[None]:
        """Statements sent without waiting for each one's answer (`ProjectionUnit.pipelined`)."""
        yield

    def flush(self, connection: Connection) -> None:
        """Send the writes `pipelined` holds back (before a commit); none held here."""

    def locked(self, query: Select[Any]) -> Select[Any]:
        return query

    def locked_if_free(self, query: Select[Any]) -> Select[Any]:
        """`locked`, leaving out the rows another transaction holds (SQLite has one writer)."""
        return query

    def locked_heads(self, connection: Connection, names: Sequence[str]) -> list[Any] | None:
        """The heads rows of `names` (project, version, status, error), locked in name order, by
        the driver's own SQL; None where the shared query (`SqlHeads.lock`) is to be used."""
        return None

    def locked_heads_and_free(
        self, connection: Connection, names: Sequence[str], free: Sequence[str]
    ) -> tuple[list[Any], list[Any]] | None:
        """`locked_heads(names)`, then the (project, version) of those of `free` that no other
        transaction holds and are not quarantined, locked if free (`SqlHeads.lock_free`): one
        statement; None where the two are to be asked apart."""
        return None

    def events_and_open_alerts(
        self, connection: Connection, versions: Mapping[str, int], names: Sequence[str]
    ) -> tuple[dict[str, list[RecordedEvent]], list[Any]] | None:
        """`ledger_store.streams_after(versions)` and `open_alert_rows(names)` in one round trip;
        None where they are to be asked apart."""
        return None

    def open_alert_rows(self, connection: Connection, names: Sequence[str]) -> list[Any] | None:
        """The open alerts of `names` (project, category, kind, subject, current) by the driver's
        own SQL; None where the shared query (`SqlAlerts.open_figures`) is to be used."""
        return None

    def set_current(self, connection: Connection, rows: Sequence[Row]) -> bool:
        """Write open alerts' current figures (rows of p, c, k, s and current: `SqlAlerts.set_current`)
        by the driver's own SQL, held back like the upserts while `pipelined`; False where the
        shared executemany is to be used."""
        return False

    def insert_ignore(self, table: Table) -> Any:
        statement = self._ignores.get(table.name)
        if statement is None:
            statement = self._ignores[table.name] = self.insert(table).on_conflict_do_nothing()
        return statement

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
                    # The upserts are held back and sent together, one statement (`flush`).
                    connection.info[_HELD] = []
                    try:
                        yield
                        self.flush(connection)
                    finally:
                        connection.info.pop(_HELD, None)
            except failure as error:
                # Surfaced at the pipeline's end, outside SQLAlchemy (which wraps any error it sees).
                raise PipelineFailed(str(error)) from error
        except BaseException:
            # A statement failed (or the block raised) with others sent after it: roll back here,
            # out of the pipeline, so the connection goes back to the pool with no transaction.
            with suppress(failure):
                driver.rollback()
            raise

    def flush(self, connection: Connection) -> None:
        # The held upserts, each a data-modifying WITH of one statement: a catch-up's lines, facts
        # and heads one statement, not three (each statement cost a catch-up its own execution
        # in SQLAlchemy, psycopg and the server). Never two of one table in a statement (those
        # would not see each other's rows): `upsert` sends what is held before a second.
        held: list[tuple[str, str, str]] | None = connection.info.get(_HELD)
        if not held:
            return
        *before, last = [sql for _, _, sql in held]
        documents = tuple(document for _, document, _ in held)
        if before:
            steps = ", ".join(f"u{n} AS ({step})" for n, step in enumerate(before))
            last = f"WITH {steps} {last}"
        held.clear()
        # Within `pipelined` (the only place anything is held), on the driver's own cursor: nothing
        # is read back, and an error surfaces at the pipeline's end, where `pipelined` takes it.
        driver: Any = connection.connection.driver_connection
        driver.execute(last, documents)

    def upsert(
        self, connection: Connection, table: Table, rows: Sequence[Row], keys: tuple[str, ...]
    ) -> None:
        if not rows:
            return
        columns = tuple(rows[0])
        shape = (table.name, keys, columns)
        sql = self._upserts.get(shape)
        if sql is None:
            quote = connection.dialect.identifier_preparer.quote
            listed = ", ".join(quote(name) for name in columns)
            updates = ", ".join(
                f"{quote(name)} = EXCLUDED.{quote(name)}" for name in columns if name not in keys
            )
            sql = self._upserts[shape] = (
                f"INSERT INTO {quote(table.name)} ({listed}) SELECT {listed} "
                f"FROM json_populate_recordset(NULL::{quote(table.name)}, %s) "
                f"ON CONFLICT ({', '.join(quote(name) for name in keys)}) DO UPDATE SET {updates}"
            )
        # One row a key, the last given (as an executemany's upserts one after another leave it):
        # one statement may not update a row twice.
        last = {tuple(row[name] for name in keys): row for row in rows}
        document = json.dumps(
            [{name: row[name] for name in columns} for row in last.values()],
            default=_json_value,
            ensure_ascii=False,
        )
        held: list[tuple[str, str, str]] | None = connection.info.get(_HELD)
        if held is None:
            connection.exec_driver_sql(sql, (document,))
            return
        if any(name == table.name for name, _, _ in held):
            self.flush(connection)
        held.append((table.name, document, sql))

    def set_current(self, connection: Connection, rows: Sequence[Row]) -> bool:
        # One statement whatever the number of alerts, held back with the upserts and sent with the
        # commit: as an executemany each alert was a statement of its own, 14% of a worker's time
        # under month steps (every claim moves the open time-based alerts' figures).
        if connection.dialect.paramstyle not in ("format", "pyformat"):
            return False
        last = {(row["p"], row["c"], row["k"], row["s"]): row for row in rows}  # one update a row
        document = json.dumps(list(last.values()), ensure_ascii=False)
        held: list[tuple[str, str, str]] | None = connection.info.get(_HELD)
        if held is None:
            connection.exec_driver_sql(_SET_CURRENT, (document,))
            return True
        if any(name == "alerts" for name, _, _ in held):
            self.flush(connection)
        held.append(("alerts", document, _SET_CURRENT))
        return True

    def locked(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update()

    def locked_heads(self, connection: Connection, names: Sequence[str]) -> list[Any] | None:
        # Every catch-up's first statement: the driver's own SQL costs a fraction of SQLAlchemy's
        # compiled execution of the same select with its expanding IN (issue 18).
        if connection.dialect.paramstyle not in ("format", "pyformat"):
            return None
        return _driver_rows(connection, _LOCKED_HEADS, (list(names),))

    def locked_heads_and_free(
        self, connection: Connection, names: Sequence[str], free: Sequence[str]
    ) -> tuple[list[Any], list[Any]] | None:
        # A catch-up that takes in other wake-ups' projects (workers/due.py) locked its own and
        # then those: two statements, each a round trip, SQLAlchemy's compiled execution for the
        # second (issue 18: 5% of a worker's CPU at 2,000 events/s). One statement here: each
        # locking WITH is run as its branch of the UNION ALL is read, the named first (waiting, in
        # name order), then the free ones (skipping those held, so never waiting).
        if connection.dialect.paramstyle not in ("format", "pyformat"):
            return None
        locked: list[Any] = []
        taken: list[Any] = []
        for project, version, status, error, named in _driver_rows(
            connection, _LOCKED_HEADS_AND_FREE, (list(names), list(free), FAILED)
        ):
            if named:
                locked.append((project, version, status, error))
            else:
                taken.append((project, version))
        return locked, taken

    def events_and_open_alerts(
        self, connection: Connection, versions: Mapping[str, int], names: Sequence[str]
    ) -> tuple[dict[str, list[RecordedEvent]], list[Any]] | None:
        # Both read by a catch-up once its heads are locked, the open alerts for the projects it
        # folds on from elsewhere (most catch-ups, with two workers): sent together in psycopg's
        # pipeline mode, one round trip where there were two (each a wake-up after which the
        # worker's CPU caches are cold), on the driver's own cursors (SQLAlchemy's execution of
        # a statement costs about 30 us of CPU more).
        read = ledger_store.pg_streams_after(versions)
        if read is None or connection.dialect.paramstyle not in ("format", "pyformat"):
            return None
        if not names:  # the events alone: no pipeline to enter and leave
            return ledger_store.streams_of_rows(connection.dialect, _driver_rows(connection, *read)), []
        driver: Any = connection.connection.driver_connection
        with driver_errors(connection, read[0]):
            with driver.pipeline():
                events_cursor = driver.execute(*read)
                alerts_cursor = driver.execute(_OPEN_ALERTS, (list(names), OPEN))
            rows = events_cursor.fetchall()
            open_rows = alerts_cursor.fetchall()
        return ledger_store.streams_of_rows(connection.dialect, rows), open_rows

    def open_alert_rows(self, connection: Connection, names: Sequence[str]) -> list[Any] | None:
        # Read by a catch-up for every project it folds on from elsewhere (kept behind, or cold).
        if connection.dialect.paramstyle not in ("format", "pyformat"):
            return None
        return _driver_rows(connection, _OPEN_ALERTS, (list(names), OPEN))

    def locked_if_free(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)


_HELD = "ktpledger_held_upserts"  # in `Connection.info` while `pipelined`: (table, document, SQL)
_LOCKED_HEADS = (
    "SELECT project, version, status, error FROM projection_heads WHERE project = ANY(%s) "
    "ORDER BY project FOR UPDATE"
)

# The named heads' CTE is read to its end before the free ones' (the UNION ALL's branches in
# order): every named lock is taken, or waited for, before any free one is tried.
_LOCKED_HEADS_AND_FREE = (
    "WITH named AS (SELECT project, version, status, error FROM projection_heads "
    "WHERE project = ANY(%s) ORDER BY project FOR UPDATE), "
    "free AS (SELECT project, version, status, error FROM projection_heads "
    "WHERE project = ANY(%s) AND status <> %s ORDER BY project FOR UPDATE SKIP LOCKED) "
    "SELECT project, version, status, error, true FROM named "
    "UNION ALL SELECT project, version, status, error, false FROM free"
)

# The open alert of each row by its key (the partial unique index `ix_alerts_open`).
_SET_CURRENT = (
    "UPDATE alerts AS a SET current = d.current "
    "FROM json_to_recordset(%s) AS d(p text, c text, k text, s text, current text) "
    f"WHERE a.project = d.p AND a.category = d.c AND a.kind = d.k AND a.subject = d.s AND a.status = '{OPEN}'"
)

_OPEN_ALERTS = (
    "SELECT project, category, kind, subject, current FROM alerts WHERE project = ANY(%s) AND status = %s"
)


def _driver_rows(connection: Connection, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
    """The rows of `sql` run on the driver's own cursor, its errors raised as the engine's would
    be (`driver_errors`): a catch-up's locks and reads, each of which cost about 30 us of CPU more
    through SQLAlchemy's execution of driver SQL."""
    driver: Any = connection.connection.driver_connection
    with driver_errors(connection, sql):
        return list(driver.execute(sql, parameters).fetchall())


def _json_value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no JSON for a {type(value).__name__} in an upserted row")


BACKENDS: dict[str, Backend] = {"sqlite": SqliteBackend(), "postgresql": PostgresBackend()}


def backend_of(dialect: str) -> Backend:
    """The backend of a database dialect's name; ValueError for one ktpledger does not support."""
    backend = BACKENDS.get(dialect)
    if backend is None:
        raise ValueError(f"no projection store for a {dialect} database")
    return backend

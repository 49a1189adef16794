"""The projection store on SQLAlchemy Core: `SqliteProjectionStore` and `PostgresProjectionStore`
behind the one port (`projection_store.ProjectionStore`). They share the repositories
(`projection_sql_repositories.py`) and differ in their backend (`projection_sql_backends.py`);
`projection_store(database)` picks the class by the database's dialect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import ClassVar

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.exc import DBAPIError

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.errors import BackendDataError, BackendError, DatabaseUnavailable
from ktpledger.adapters.errors import translated as backend_error
from ktpledger.adapters.projection_sql_backends import BACKENDS, Backend, PipelineFailed
from ktpledger.adapters.projection_sql_repositories import (
    SqlAlerts,
    SqlEvents,
    SqlFacts,
    SqlHeads,
    SqlLines,
    SqlOutbox,
    SqlPortfolioRows,
    SqlSnapshots,
    SqlSystemAlerts,
    SqlTracker,
    in_list,
    open_figures_of,
)
from ktpledger.adapters.projection_store import PROJECTION_TABLES, ProjectionStore, ProjectionStoreError, Row
from ktpledger.adapters.tables import alerts, allowance_lines, project_facts, projection_heads
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.recorded import RecordedEvent

WRITE_CHUNK = 5000  # rows per INSERT when a whole projection is rebuilt
_TABLES = {table.name: table for table in (projection_heads, allowance_lines, alerts, project_facts)}
assert tuple(_TABLES) == PROJECTION_TABLES


@contextmanager
def translated() -> Iterator[None]:
    """Backend errors leave the store as ktpledger's. A database that cannot be reached
    (`DatabaseUnavailable`) or a value it refuses (`BackendDataError`) leaves as it is: the CLI and
    the API answer those (exit 1, HTTP 503 or 422). Any other leaves as `ProjectionStoreError`, the
    backend's error its cause. The engines `build_engine` makes raise ktpledger's errors already; a
    driver error from an engine made otherwise is translated here the same way."""
    try:
        yield
    except (DatabaseUnavailable, BackendDataError):
        raise
    except PipelineFailed as error:
        raise ProjectionStoreError(f"the projection store failed: {error}") from error
    except BackendError as error:
        raise ProjectionStoreError(f"the projection store failed: {error.driver_message}") from error
    except DBAPIError as error:
        found = backend_error(error)
        if isinstance(found, (DatabaseUnavailable, BackendDataError)):
            raise found from error.orig
        raise ProjectionStoreError(f"the projection store failed: {error.orig}") from error


class SqlProjectionUnit:
    """One transaction on the projections, on the caller's connection."""

    def __init__(
        self, connection: Connection, backend: Backend, commit: Callable[[], None] | None = None
    ) -> None:
        self._connection, self._backend = connection, backend
        self._commit = commit or connection.commit
        self.heads = SqlHeads(connection, backend)
        self.lines = SqlLines(connection, backend)
        self.facts = SqlFacts(connection, backend)
        self.portfolio_rows = SqlPortfolioRows(connection, backend)
        self.alerts = SqlAlerts(connection, backend)
        self.outbox = SqlOutbox(connection, backend)
        self.system_alerts = SqlSystemAlerts(connection, backend)
        self.tracker = SqlTracker(connection, backend)
        self.events = SqlEvents(connection, backend)
        self.snapshots = SqlSnapshots(connection)

    def commit(self) -> None:
        self._backend.flush(self._connection)  # what `pipelined` holds back goes first
        self._commit()

    def pipelined(self) -> AbstractContextManager[None]:
        return self._backend.pipelined(self._connection)

    def read_new(
        self, versions: Mapping[str, int], open_of: Sequence[str]
    ) -> tuple[dict[str, list[RecordedEvent]], dict[str, dict[AlertKey, str]]]:
        both = self._backend.events_and_open_alerts(self._connection, versions, open_of)
        if both is None:
            return self.events.after(versions), self.alerts.open_figures(open_of)
        found, rows = both
        return found, open_figures_of(rows)

    def rebuild_project(
        self, project: str, alerts_rows: Sequence[Row], lines: Sequence[Row], facts: Sequence[Row] = ()
    ) -> None:
        for table in (allowance_lines, alerts, project_facts):
            self._connection.execute(delete(table).where(table.c.project == project))
        self._insert_alerts(alerts_rows)
        if lines:
            self._connection.execute(allowance_lines.insert(), list(lines))
        self._insert(project_facts, facts)

    def rebuild_all(
        self,
        alerts_rows: Sequence[Row],
        lines: Sequence[Row],
        heads: Sequence[Row],
        facts: Sequence[Row] = (),
    ) -> None:
        for table in (allowance_lines, alerts, projection_heads, project_facts):
            self._connection.execute(delete(table))
        self._insert_alerts(alerts_rows)
        self._insert(allowance_lines, lines)
        self._insert(projection_heads, heads)
        self._insert(project_facts, facts)

    def _insert_alerts(self, rows: Sequence[Row]) -> None:
        # Alerts that keep their id go in first, so the database numbers the new ones after them.
        self._insert(alerts, [row for row in rows if "id" in row])
        self._insert(alerts, [row for row in rows if "id" not in row])

    def _insert(self, table: Table, rows: Sequence[Row]) -> None:
        for start in range(0, len(rows), WRITE_CHUNK):
            self._connection.execute(table.insert(), list(rows[start : start + WRITE_CHUNK]))

    def stored(self, table: str, projects: Sequence[str]) -> list[Row]:
        chosen = _TABLES[table]
        query = select(chosen).where(in_list(chosen.c.project, "projects"))
        return [dict(row._mapping) for row in self._connection.execute(query, {"projects": list(projects)})]

    def projects_in(self, table: str) -> list[str]:
        return list(self._connection.execute(select(_TABLES[table].c.project).distinct()).scalars())


class SqlProjectionStore:
    """The projections in the database's tables; see the subclasses for what differs."""

    backend: ClassVar[Backend]

    def __init__(self, database: Database, *, owns_database: bool = False) -> None:
        self.database = database
        self._owns_database = owns_database

    @property
    def shown_url(self) -> str:
        return self.database.shown_url

    @contextmanager
    def read(self) -> Iterator[SqlProjectionUnit]:
        with translated(), self.database.read() as connection:
            yield SqlProjectionUnit(connection, self.backend)

    @contextmanager
    def write(self, *, exclusive: bool = False, durable: bool = True) -> Iterator[SqlProjectionUnit]:
        with translated(), self.database.projection(exclusive=exclusive) as connection:
            commit = functools.partial(self.database.commit_projection, connection, durable=durable)
            yield SqlProjectionUnit(connection, self.backend, commit)

    def opener(self) -> Callable[[], ProjectionStore] | None:
        return functools.partial(open_url, self.database.engine.url.render_as_string(hide_password=False))

    def close(self) -> None:
        if self._owns_database:
            self.database.dispose()


class SqliteProjectionStore(SqlProjectionStore):
    backend = BACKENDS["sqlite"]


class PostgresProjectionStore(SqlProjectionStore):
    backend = BACKENDS["postgresql"]


_STORES: dict[str, type[SqlProjectionStore]] = {
    "sqlite": SqliteProjectionStore,
    "postgresql": PostgresProjectionStore,
}


def projection_store(database: Database, *, owns_database: bool = False) -> SqlProjectionStore:
    """The projection store of `database`'s backend."""
    kind = _STORES.get(database.dialect)
    if kind is None:
        raise ValueError(f"no projection store for a {database.dialect} database")
    return kind(database, owns_database=owns_database)


def open_url(url: str) -> ProjectionStore:
    """A store on a database of its own (another process's): closing the store disposes of it."""
    return projection_store(Database(build_engine(url)), owns_database=True)

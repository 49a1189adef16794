"""Reading and appending ledger rows with SQLAlchemy Core; nothing here updates or deletes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select

from ktpledger.adapters.tables import events
from ktpledger.domain.recorded import RecordedEvent

COLUMNS = (
    events.c.position,
    events.c.project,
    events.c.version,
    events.c.type,
    events.c.schema_version,
    events.c.key,
    events.c.date,
    events.c.data,
    events.c.recorded_at,
    events.c.prev_hash,
    events.c.hash,
)

_HEADS = (
    select(events.c.project, func.max(events.c.version))
    .where(events.c.project.in_(bindparam("projects", expanding=True)))
    .group_by(events.c.project)
)
_STREAM_AFTER = (
    select(*COLUMNS)
    .where(events.c.project == bindparam("project"), events.c.version > bindparam("after"))
    .order_by(events.c.version)
)


def to_recorded(row: Row[Any]) -> RecordedEvent:
    return RecordedEvent(*row)


def heads(connection: Connection, projects: Iterable[str]) -> dict[str, int]:
    """The latest version of each named project that has events."""
    names = sorted(set(projects))
    if not names:
        return {}
    return {project: version for project, version in connection.execute(_HEADS, {"projects": names})}


def stream(connection: Connection, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
    """The project's events after `after_version`, oldest first."""
    rows = connection.execute(_STREAM_AFTER, {"project": project, "after": after_version})
    return [to_recorded(row) for row in rows]


def insert(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows (one executemany); the database assigns positions."""
    if rows:
        connection.execute(events.insert(), list(rows))


def read_after(connection: Connection, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
    """Up to `limit` events after global position `position`, in position order."""
    query = select(*COLUMNS).where(events.c.position > position).order_by(events.c.position).limit(limit)
    return [to_recorded(row) for row in connection.execute(query)]


def head_position(connection: Connection) -> int:
    """The highest position recorded (0 for an empty ledger)."""
    return int(connection.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one())


def projects(connection: Connection) -> list[str]:
    """Every project reference that has events, sorted."""
    query = select(events.c.project).where(events.c.version == 1).order_by(events.c.project)
    return list(connection.execute(query).scalars())


def all_streams(connection: Connection, *, batch: int = 5000) -> Iterator[RecordedEvent]:
    """Every event ordered by project and version, read in batches (for `verify`)."""
    last: tuple[str, int] = ("", 0)
    while True:
        query = (
            select(*COLUMNS)
            .where(
                (events.c.project > last[0]) | ((events.c.project == last[0]) & (events.c.version > last[1]))
            )
            .order_by(events.c.project, events.c.version)
            .limit(batch)
        )
        rows = [to_recorded(row) for row in connection.execute(query)]
        if not rows:
            return
        yield from rows
        last = (rows[-1].project, rows[-1].version)

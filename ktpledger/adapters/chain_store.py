"""The ledger-wide chain's entries as the ledger holds them (`events`) and as they were recorded
when the chain was last extended (`ledger_chain`), read in position order and in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_

from ktpledger.adapters.database import driver_errors
from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.tables import events, ledger_chain
from ktpledger.domain.anchor import ChainEntry, ChainPoint

BATCH = 10_000  # rows a query


# Read through the driver's own cursor, in the transaction under way: millions of rows are read by
# `verify --against`, and SQLAlchemy's result rows cost more than the reading.
_PAGES = {
    table: {
        style: f"SELECT position, project, version, hash{extra} FROM {table} WHERE {{where}} ORDER BY position "
        f"LIMIT {marker}"
        for style, marker in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
    }
    for table, extra in (("events", ""), ("ledger_chain", ", events, link"))
}


def _paged(
    connection: Connection, table: str, after: int | None, upto: int | None, batch: int
) -> Iterator[tuple[Any, ...]]:
    """Rows (position, project, version, hash[, events, link]) of `table` with after < position <=
    upto, in position order. `after` None: from the very first, whatever its position (an event
    inserted with position 0 or below is still an event)."""
    style = connection.dialect.paramstyle
    marker = "?" if style == "qmark" else "%s"
    template = _PAGES[table][style]
    driver = connection.connection.driver_connection
    assert driver is not None
    while True:
        conditions, values = [], []
        if after is not None:
            conditions.append(f"position > {marker}")
            values.append(after)
        if upto is not None:
            conditions.append(f"position <= {marker}")
            values.append(upto)
        statement = template.format(where=" AND ".join(conditions) or "TRUE")
        cursor = driver.cursor()
        try:
            cursor.execute(statement, (*values, batch))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        yield from rows
        if len(rows) < batch:
            return
        after = int(rows[-1][0])


def entries(
    connection: Connection, *, after: int | None = None, upto: int | None = None, batch: int = BATCH
) -> Iterator[ChainEntry]:
    """The ledger's events as chain entries, in position order."""
    for position, project, version, digest in _paged(connection, "events", after, upto, batch):
        yield ChainEntry(position, project, version, digest)


def recorded(connection: Connection, *, upto: int | None = None, batch: int = BATCH) -> Iterator[ChainEntry]:
    """The recorded chain's entries, in position order."""
    for position, project, version, digest, _, _ in _paged(connection, "ledger_chain", None, upto, batch):
        yield ChainEntry(position, project, version, digest)


def recorded_point(connection: Connection, *, at_or_before: int | None = None) -> ChainPoint | None:
    """The recorded chain at its last entry (at or before a position), or None."""
    query = select(ledger_chain.c.position, ledger_chain.c.events, ledger_chain.c.link)
    if at_or_before is not None:
        query = query.where(ledger_chain.c.position <= at_or_before)
    row = connection.execute(query.order_by(ledger_chain.c.position.desc()).limit(1)).first()
    return None if row is None else ChainPoint(int(row.position), int(row.events), row.link)


_PG_RECORD = (
    "INSERT INTO ledger_chain (position, events, project, version, hash, link) "
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::integer[], %s::text[], %s::text[]) "
    "ON CONFLICT DO NOTHING"
)
_SQLITE_RECORD = "INSERT OR IGNORE INTO ledger_chain (position, events, project, version, hash, link) VALUES (?, ?, ?, ?, ?, ?)"


def record(connection: Connection, links: Sequence[tuple[ChainEntry, ChainPoint]]) -> None:
    """Add entries with their links, in one statement; an entry recorded already (another process
    extending the chain at the same time, from the same rows) is left as it is."""
    if not links:
        return
    rows = [
        (entry.position, point.events, entry.project, entry.version, entry.hash, point.head)
        for entry, point in links
    ]
    dialect = connection.dialect.name
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        try:
            with connection.begin_nested():  # COPY is 3-4x faster than any INSERT, but cannot skip a row
                _copy(connection, rows)
        except WriteConflict:  # another process recorded some of them meanwhile
            columns = [list(column) for column in zip(*rows, strict=True)]
            connection.exec_driver_sql(_PG_RECORD, tuple(columns))
    elif dialect == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        connection.exec_driver_sql(_PG_RECORD, tuple(columns))
    elif dialect == "sqlite":
        connection.exec_driver_sql(_SQLITE_RECORD, rows)
    else:
        names = ("position", "events", "project", "version", "hash", "link")
        connection.execute(ledger_chain.insert(), [dict(zip(names, row, strict=True)) for row in rows])


_COPY = "COPY ledger_chain (position, events, project, version, hash, link) FROM STDIN"


def _copy(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    # The ignore: `driver_connection` is typed Optional; a checked-out connection's is psycopg's.
    driver = connection.connection.driver_connection
    with driver_errors(connection, _COPY), driver.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)


def forget(connection: Connection) -> int:
    """Delete the whole record (to rebuild it from the ledger): rows deleted."""
    return int(connection.execute(delete(ledger_chain)).rowcount or 0)


def count_after(connection: Connection, position: int) -> int:
    """Events after `position`."""
    query = select(func.count()).select_from(events).where(events.c.position > position)
    return int(connection.execute(query).scalar_one())


def head_position(connection: Connection) -> int | None:
    """The highest position in the ledger, or None if it is empty."""
    value = connection.execute(select(func.max(events.c.position))).scalar_one_or_none()
    return None if value is None else int(value)


def positions_of(connection: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Where the ledger holds each (project, version) now."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, int], int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(events.c.project, events.c.version, events.c.position).where(
            tuple_(events.c.project, events.c.version).in_(chunk)
        )
        for row in connection.execute(query):
            found[(row.project, int(row.version))] = int(row.position)
    return found

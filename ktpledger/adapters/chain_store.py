"""The ledger-wide chain's entries as the ledger holds them (`events`) and as they were recorded
when the chain was last extended (`ledger_chain`), read in position order and in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters.tables import events, ledger_chain
from ktpledger.domain.anchor import ChainEntry, ChainPoint

BATCH = 10_000  # rows a query


def _paged(
    connection: Connection, table: Any, after: int | None, upto: int | None, batch: int
) -> Iterator[Any]:
    """Rows of `table` (events or ledger_chain) with after < position <= upto, in position order.
    `after` None: from the very first, whatever its position (an event inserted with position 0 or
    below is still an event)."""
    columns = [table.c.position, table.c.project, table.c.version, table.c.hash]
    if table is ledger_chain:
        columns += [ledger_chain.c.events, ledger_chain.c.link]
    while True:
        query = select(*columns).order_by(table.c.position).limit(batch)
        if after is not None:
            query = query.where(table.c.position > after)
        if upto is not None:
            query = query.where(table.c.position <= upto)
        rows = connection.execute(query).all()
        yield from rows
        if len(rows) < batch:
            return
        after = int(rows[-1].position)


def entries(
    connection: Connection, *, after: int | None = None, upto: int | None = None, batch: int = BATCH
) -> Iterator[ChainEntry]:
    """The ledger's events as chain entries, in position order."""
    for row in _paged(connection, events, after, upto, batch):
        yield ChainEntry(int(row.position), row.project, int(row.version), row.hash)


def recorded(connection: Connection, *, upto: int | None = None, batch: int = BATCH) -> Iterator[ChainEntry]:
    """The recorded chain's entries, in position order."""
    for row in _paged(connection, ledger_chain, None, upto, batch):
        yield ChainEntry(int(row.position), row.project, int(row.version), row.hash)


def recorded_point(connection: Connection, *, at_or_before: int | None = None) -> ChainPoint | None:
    """The recorded chain at its last entry (at or before a position), or None."""
    query = select(ledger_chain.c.position, ledger_chain.c.events, ledger_chain.c.link)
    if at_or_before is not None:
        query = query.where(ledger_chain.c.position <= at_or_before)
    row = connection.execute(query.order_by(ledger_chain.c.position.desc()).limit(1)).first()
    return None if row is None else ChainPoint(int(row.position), int(row.events), row.link)


def record(connection: Connection, links: Sequence[tuple[ChainEntry, ChainPoint]]) -> None:
    """Add entries with their links; an entry recorded already (another process extending the
    chain at the same time, from the same rows) is left as it is."""
    if not links:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            "position": entry.position,
            "events": point.events,
            "project": entry.project,
            "version": entry.version,
            "hash": entry.hash,
            "link": point.head,
        }
        for entry, point in links
    ]
    connection.execute(insert(ledger_chain).on_conflict_do_nothing(), rows)


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

"""Reading and appending ledger rows with SQLAlchemy Core; nothing here updates or deletes.

The append path (`heads`, `insert`) is the hot one and speaks each backend's own SQL: the heads of
a batch's projects are one index probe each, and on PostgreSQL a large batch goes in by COPY. The
values stored are exactly those SQLAlchemy's own INSERT would bind (its bind processors are applied).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select, text, tuple_
from sqlalchemy.engine import Dialect

from ktpledger.adapters.database import driver_errors, lock_events
from ktpledger.adapters.tables import EVENTS_FACTS_PREDICATE, events
from ktpledger.domain.input_rules import text_problem
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
    events.c.chain_version,
    events.c.recorded_by,
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


_BUT_CLAIMS = (
    select(*COLUMNS)
    .where(events.c.project == bindparam("project"), events.c.type != "SpendClaimed")
    .order_by(events.c.version)
)


def stream_but_claims(connection: Connection, project: str) -> list[RecordedEvent]:
    """The project's events but its claims (`SpendClaimed`), oldest first: what the month-end
    figures fold as of each month, the claims being held by the projector's state."""
    if text_problem(project) is not None:
        return []
    return [to_recorded(row) for row in connection.execute(_BUT_CLAIMS, {"project": project}).mappings()]


_STREAMS = (
    select(*COLUMNS)
    .where(events.c.project.in_(bindparam("projects", expanding=True)))
    .order_by(events.c.project, events.c.version)
)
STREAMS_CHUNK = 500  # projects per query when loading many streams

# One index probe per project (the unique index on project, version), however long its stream.
# PostgreSQL: the names as one JSON array (`json.dumps`, at C speed), not an array psycopg builds
# element by element in Python (1.2 ms of CPU a batch of 1,000, against 0.2: issue 18).
# PostgreSQL's heads in the order of versions (`ORDER BY version DESC LIMIT 1`), not `max(version)`:
# psycopg prepares a query from its sixth call on a connection and PostgreSQL plans a prepared one
# generically from its sixth execution; planned so on a table small or not yet analyzed, `max`
# went through (project, key) and read the whole project (issue 18; the single append's probe,
# `_APPEND_ONE`, has the story). Only (project, version) gives this order: one index entry each.
_PG_HEADS = (
    "SELECT p.project, (SELECT e.version FROM events AS e WHERE e.project = p.project "
    "ORDER BY e.version DESC LIMIT 1) FROM json_array_elements_text(%s::json) AS p(project)"
)
_SQLITE_HEADS = (
    "SELECT p.value, (SELECT max(e.version) FROM events AS e WHERE e.project = p.value) "
    "FROM json_each(?) AS p"
)

_ONE_HEAD = {
    "postgresql": "SELECT version FROM events WHERE project = %s ORDER BY version DESC LIMIT 1",
    "sqlite": "SELECT max(version) FROM events WHERE project = ?",
}

# The columns an append writes, in order; the database assigns `position`.
INSERT_COLUMNS = (
    "project",
    "version",
    "type",
    "schema_version",
    "key",
    "date",
    "data",
    "recorded_at",
    "prev_hash",
    "hash",
    "chain_version",
    "recorded_by",
)
COPY_FROM_ROWS = 16  # PostgreSQL: COPY a batch of at least this many rows, INSERT a smaller one
_COPY = f"COPY events ({', '.join(INSERT_COLUMNS)}) FROM STDIN"


def to_recorded(row: RowMapping) -> RecordedEvent:
    """One ledger row, its columns read by name (a select of `COLUMNS`, or SQL naming them)."""
    return RecordedEvent(
        position=row["position"],
        project=row["project"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        key=row["key"],
        date=row["date"],
        data=row["data"],
        recorded_at=row["recorded_at"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        chain_version=row["chain_version"],
        recorded_by=row["recorded_by"],
    )


_READERS: dict[tuple[str, str], Callable[[Sequence[Any]], RecordedEvent]] = {}


def row_reader(dialect: Dialect) -> Callable[[Sequence[Any]], RecordedEvent]:
    """A ledger row as a driver's cursor gives it (the values of `COLUMNS`, in order) read as
    `to_recorded` reads SQLAlchemy's: each column's result processor applied (SQLite keeps dates
    and times as text; psycopg gives them typed), for a hot read that goes to the driver itself.

    The event is made without the frozen dataclass's `__init__` (an `object.__setattr__` a field,
    13 of them), its fields set as that `__init__` sets them, and only the columns that have a
    processor are passed through one: 1.5 us a row where it was 2.7, for every event a cold start
    folds past its snapshot and every catch-up reads (issue 18)."""
    cache_key = (dialect.name, dialect.driver)
    reader = _READERS.get(cache_key)
    if reader is None:
        processors = [
            (index, process)
            for index, column in enumerate(COLUMNS)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
        names = _RECORDED_FIELDS
        new = object.__new__

        def reader(row: Sequence[Any]) -> RecordedEvent:
            values = list(row)
            for index, process in processors:
                value = values[index]
                if value is not None:
                    values[index] = process(value)
            made: RecordedEvent = new(RecordedEvent)
            made.__dict__.update(zip(names, values, strict=True))
            return made

        _READERS[cache_key] = reader
    return reader


# `RecordedEvent`'s fields, in order: the columns of `COLUMNS` by the same names (`row_reader`).
_RECORDED_FIELDS = tuple(field.name for field in dataclasses.fields(RecordedEvent))
if tuple(column.name for column in COLUMNS) != _RECORDED_FIELDS:
    raise RuntimeError("RecordedEvent's fields are not the ledger's columns, in order")


def heads(connection: Connection, projects: Iterable[str], *, lock: bool = False) -> dict[str, int]:
    """The latest version of each named project that has events. With `lock`, take the append lock
    first (`lock_events`, in a `Database.write(lock=False)` transaction), in the same round trip.
    A name no project holds (`stream`'s reader typing) has none, and is never sent."""
    names = sorted(name for name in set(projects) if text_problem(name) is None)
    query = _heads_query(connection.dialect.name, names)
    if query is None:  # another backend: portable SQL, after the lock
        if lock:
            lock_events(connection)
        if not names:
            return {}
        rows: Iterable[Sequence[Any]] = connection.execute(_HEADS, {"projects": names})
    elif lock:
        rows = lock_events(connection, query)
    elif not names:
        return {}
    else:
        rows = connection.exec_driver_sql(query[0], tuple(query[1])).fetchall()
    if len(names) == 1:  # the one-project query returns the version alone
        rows = [(names[0], row[0]) for row in rows]
    return {project: version for project, version in rows if version is not None}


def _heads_query(dialect: str, names: list[str]) -> tuple[str, Sequence[Any]] | None:
    if dialect not in _ONE_HEAD:
        return None
    if len(names) == 1:
        return _ONE_HEAD[dialect], (names[0],)
    if dialect == "postgresql":
        return _PG_HEADS, (json.dumps(names, ensure_ascii=False),)
    return _SQLITE_HEADS, (json.dumps(names),)


def stream(connection: Connection, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
    """The project's events after `after_version`, oldest first. A name holding a character no
    project name holds (a reader's typing: a lone surrogate, a NUL, a control character) has none,
    and is never sent to the database, whose driver could not even encode some of them."""
    if text_problem(project) is not None:
        return []
    rows = connection.execute(_STREAM_AFTER, {"project": project, "after": after_version}).mappings()
    return [to_recorded(row) for row in rows]


def streams(connection: Connection, projects: Iterable[str]) -> dict[str, list[RecordedEvent]]:
    """The whole stream of each named project that has events, oldest first, in a few queries."""
    names = sorted(set(projects))
    found: dict[str, list[RecordedEvent]] = {}
    for start in range(0, len(names), STREAMS_CHUNK):
        chunk = names[start : start + STREAMS_CHUNK]
        for row in connection.execute(_STREAMS, {"projects": chunk}).mappings():
            item = to_recorded(row)
            found.setdefault(item.project, []).append(item)
    return found


# PostgreSQL: every project's events after its own version in one query, the pairs as two arrays.
# Whole streams: joined, which the planner may answer by reading the table once. Each as text with
# the places of its two arrays left open: SQLAlchemy's bound names for `text`, the driver's own
# placeholders for a catch-up's read (`streams_after`).
_PG_STREAMS_FORM = (
    f"SELECT {', '.join('e.' + column.name for column in COLUMNS)} FROM events e "
    "JOIN unnest(CAST({projects} AS text[]), CAST({afters} AS integer[])) AS s(project, after) "
    "ON e.project = s.project AND e.version > s.after ORDER BY e.project, e.version"
)
# After saved versions (a catch-up's few new events): one index range each, forced by LATERAL
# (OFFSET 0 keeps the planner from flattening it back into the join). Joined, the planner guessed
# a third of each stream and read the whole table from about 10 projects on: 10 ms a catch-up of
# 20 projects at 20,000 events against 0.6 ms, growing with the ledger.
_PG_STREAMS_AFTER_FORM = (
    f"SELECT {', '.join('e.' + column.name for column in COLUMNS)} "
    "FROM unnest(CAST({projects} AS text[]), CAST({afters} AS integer[])) AS s(project, after) "
    "CROSS JOIN LATERAL (SELECT * FROM events WHERE events.project = s.project "
    "AND events.version > s.after ORDER BY events.version OFFSET 0) AS e "
    "ORDER BY e.project, e.version"
)
_PG_STREAMS = text(_PG_STREAMS_FORM.format(projects=":projects", afters=":afters"))
_PG_STREAMS_AFTER = text(_PG_STREAMS_AFTER_FORM.format(projects=":projects", afters=":afters"))
_PG_STREAMS_SQL = _PG_STREAMS_FORM.format(projects="%s", afters="%s")
_PG_STREAMS_AFTER_SQL = _PG_STREAMS_AFTER_FORM.format(projects="%s", afters="%s")


# SQLite: the same, the pairs as one JSON array of [project, version] read by `json_each`: each
# pair one range of the unique index on (project, version). A query a project was 1,000 round trips
# of SQLAlchemy's execution for a cold batch over 1,000 projects (`record`, 2026-12-06).
_SQLITE_STREAMS_AFTER = text(
    f"SELECT {', '.join('e.' + column.name for column in COLUMNS)} FROM json_each(:pairs) AS s "
    "JOIN events e ON e.project = json_extract(s.value, '$[0]') AND e.version > json_extract(s.value, '$[1]') "
    "ORDER BY e.project, e.version"
).columns(*COLUMNS)


def streams_after(connection: Connection, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
    """Each named project's events after its version in `versions` (0: its whole stream), oldest
    first; a project with none is left out. One query on PostgreSQL and SQLite, one a project
    elsewhere; a name no project holds (`stream`) is never sent."""
    found: dict[str, list[RecordedEvent]] = {}
    if connection.dialect.name == "postgresql":
        if connection.dialect.paramstyle in ("format", "pyformat"):
            # A catch-up's read, every catch-up: sent by the driver's own SQL and read by
            # `row_reader`, not SQLAlchemy's compiled execution and its mappings (issue 18).
            read = pg_streams_after(versions)
            if read is not None:
                found = streams_of_rows(connection.dialect, connection.exec_driver_sql(*read).fetchall())
            return found
        wanted = {name: after for name, after in versions.items() if text_problem(name) is None}
        if wanted:
            parameters = {"projects": list(wanted), "afters": list(wanted.values())}
            query = _PG_STREAMS_AFTER if any(wanted.values()) else _PG_STREAMS
            for row in connection.execute(query, parameters).mappings():
                found.setdefault(row["project"], []).append(to_recorded(row))
        return found
    if connection.dialect.name == "sqlite":
        pairs = [[name, after] for name, after in versions.items() if text_problem(name) is None]
        if pairs:
            for row in connection.execute(_SQLITE_STREAMS_AFTER, {"pairs": json.dumps(pairs)}).mappings():
                found.setdefault(row["project"], []).append(to_recorded(row))
        return found
    for name, after in versions.items():
        rest = stream(connection, name, after_version=after)
        if rest:
            found[name] = rest
    return found


def pg_streams_after(versions: Mapping[str, int]) -> tuple[str, tuple[list[str], list[int]]] | None:
    """`streams_after`'s PostgreSQL read of `versions` as the driver's SQL and its parameters (None
    when no name could be a project's), for a caller that may send it beside another statement in
    one round trip; its rows are read by `streams_of_rows`."""
    wanted = {name: after for name, after in versions.items() if text_problem(name) is None}
    if not wanted:
        return None
    sql = _PG_STREAMS_AFTER_SQL if any(wanted.values()) else _PG_STREAMS_SQL
    return sql, (list(wanted), list(wanted.values()))


def streams_of_rows(dialect: Dialect, rows: Iterable[Sequence[Any]]) -> dict[str, list[RecordedEvent]]:
    """The rows of `pg_streams_after`'s read (a driver's own, in order) by project."""
    read = row_reader(dialect)
    found: dict[str, list[RecordedEvent]] = {}
    for values in rows:
        item = read(values)
        found.setdefault(item.project, []).append(item)
    return found


_KEYS_CHUNK = 500  # keys per query
# By (project, key) pairs, each one probe of the unique index: an IN over projects and another over
# keys would let the planner probe every project with every key.
_RECORDED_KEYS = select(*COLUMNS).where(
    tuple_(events.c.project, events.c.key).in_(bindparam("pairs", expanding=True))
)


# SQLite: the pairs as one JSON array read by `json_each`, each one probe of the unique index. Its
# planner scans the whole table for a row-value IN (`EXPLAIN QUERY PLAN`: "SCAN events"), once a
# chunk of 500 pairs: 1 s a batch of 10,000 keys on a ledger of 100,000 events (2026-12-06).
_SQLITE_RECORDED_KEYS = text(
    f"SELECT {', '.join('e.' + column.name for column in COLUMNS)} FROM json_each(:pairs) AS k "
    "JOIN events e ON e.project = json_extract(k.value, '$[0]') AND e.key = json_extract(k.value, '$[1]')"
).columns(*COLUMNS)

# PostgreSQL: the pairs as two arrays, each one probe of the unique index on (project, key),
# forced by LATERAL (OFFSET 0 keeps the planner from flattening it back into a join); a thousand
# pairs OR-ed cost the planner more (30-35 ms) than the probes. Joined, the planner hashed the
# pairs and read the whole table whenever its statistics were behind the ledger (a new or fast-
# growing one): 19-43 ms a batch of 1,000 keys at 30,000 events, growing with the ledger, against
# 2-3 ms for the probes (issue 18).
# The pairs go as one JSON array of [project, key] (`json.dumps`, at C speed): two arrays built
# by psycopg element by element in Python cost 1.2 ms of CPU a batch of 1,000 pairs, against 0.2.
# Sent by the driver's own SQL (`exec_driver_sql`): SQLAlchemy's compiled-statement execution cost
# some 0.3 ms of CPU a batch more (issue 18).
_PG_RECORDED_KEYS = (
    f"SELECT {', '.join('e.' + column.name for column in COLUMNS)} "
    "FROM json_array_elements(CAST(%s AS json)) AS k(pair) "
    "CROSS JOIN LATERAL (SELECT * FROM events WHERE events.project = k.pair ->> 0 "
    "AND events.key = k.pair ->> 1 OFFSET 0) AS e"
)


def recorded_keys(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], RecordedEvent]:
    """The recorded event of each (project, key) the ledger holds: what an append's idempotency
    asks (R-30), of the unique index on (project, key), instead of every key held in memory."""
    # Printable together (the usual case, one test at C speed), neither has a problem.
    wanted = sorted(
        {
            pair
            for pair in pairs
            if (pair[0] + pair[1]).isprintable()
            or (text_problem(pair[0]) is None and text_problem(pair[1]) is None)
        }
    )
    found: dict[tuple[str, str], RecordedEvent] = {}
    if connection.dialect.name == "postgresql" and connection.dialect.paramstyle in ("format", "pyformat"):
        if wanted:  # one query, each pair one probe
            found_by = (json.dumps(wanted, ensure_ascii=False),)
            # The columns are `COLUMNS`, in the order of `RecordedEvent`'s fields.
            for values in connection.exec_driver_sql(_PG_RECORDED_KEYS, found_by).fetchall():
                item = RecordedEvent(*values)
                found[(item.project, item.key)] = item
        return found
    if connection.dialect.name == "sqlite":
        if wanted:
            parameters = {"pairs": json.dumps([list(pair) for pair in wanted])}
            for row in connection.execute(_SQLITE_RECORDED_KEYS, parameters).mappings():
                item = to_recorded(row)
                found[(item.project, item.key)] = item
        return found
    for start in range(0, len(wanted), _KEYS_CHUNK):
        part = wanted[start : start + _KEYS_CHUNK]
        for row in connection.execute(_RECORDED_KEYS, {"pairs": part}).mappings():
            item = to_recorded(row)
            found[(item.project, item.key)] = item
    return found


# The events that change a project's facts and terms (its offer, its period, open or closed, its
# invoices and payments, R-44, and grant claims, R-45: `month_ends.FACT_TYPES`): folded without the
# claims, they give alerts, the project list and the rewording of a refusal their state. Read
# through the partial index of those events alone (`ix_events_facts`, migration 0022), whose
# predicate, as written there (`tables.EVENTS_FACTS_PREDICATE`), names the types.
_FACTS = (
    select(*COLUMNS)
    .where(events.c.project.in_(bindparam("projects", expanding=True)), text(EVENTS_FACTS_PREDICATE))
    .order_by(events.c.project, events.c.version)
)


def fact_streams(connection: Connection, projects: Iterable[str]) -> dict[str, list[RecordedEvent]]:
    """Each project's offer, amendments, LMC decisions, closures and reopenings (not its claims):
    enough for its facts."""
    names = sorted(set(projects))
    found: dict[str, list[RecordedEvent]] = {}
    for start in range(0, len(names), STREAMS_CHUNK):
        for row in connection.execute(_FACTS, {"projects": names[start : start + STREAMS_CHUNK]}).mappings():
            item = to_recorded(row)
            found.setdefault(item.project, []).append(item)
    return found


def insert(connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows (dicts of `INSERT_COLUMNS`); the database assigns positions. A version or key
    recorded first by another writer is a `WriteConflict`, whichever way the rows go in.

    On PostgreSQL (psycopg) a batch of at least `COPY_FROM_ROWS` goes in by COPY, sent some
    `COPY_CHUNK` characters at a time as `rows` yields them: given rows as they are made
    (`ledger_deciding.decide`), the server inserts the first while the rest are being made."""
    dialect = connection.dialect
    bound = _bound(dialect)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        made = iter(rows)
        first = list(islice(made, COPY_FROM_ROWS))
        if len(first) >= COPY_FROM_ROWS:
            _copy(connection, chain(first, made))
            return
        rows = first  # all of them: fewer came
    made_rows = list(rows)
    if not made_rows:
        return
    values = [bound(row) for row in made_rows]
    statement = _insert_sql(dialect)
    if statement is None:
        connection.execute(events.insert(), made_rows)
    elif dialect.driver == "psycopg":  # the driver itself: SQLAlchemy's execution costs more than the INSERT
        # The ignore: `driver_connection` is typed Optional; a checked-out connection's is psycopg's.
        with driver_errors(connection, statement), connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            if len(values) == 1:
                cursor.execute(statement, values[0])
            else:
                cursor.executemany(statement, values)
    else:
        connection.exec_driver_sql(statement, values if len(values) > 1 else values[0])


_BINDERS: dict[tuple[str, str], Callable[[dict[str, Any]], tuple[Any, ...]]] = {}


def _bound(dialect: Dialect) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row as the driver is handed it by SQLAlchemy's INSERT: each column's bind processor applied
    (SQLite stores dates and times as text in SQLAlchemy's format; psycopg takes them as they are)."""
    cache_key = (dialect.name, dialect.driver)
    binder = _BINDERS.get(cache_key)
    if binder is None:
        processors = [
            (name, events.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in INSERT_COLUMNS
        ]
        if all(process is None for _, process in processors):

            def binder(row: dict[str, Any]) -> tuple[Any, ...]:
                return tuple([row[name] for name in INSERT_COLUMNS])

        else:

            def binder(row: dict[str, Any]) -> tuple[Any, ...]:
                return tuple(
                    [
                        row[name] if process is None or row[name] is None else process(row[name])
                        for name, process in processors
                    ]
                )

        _BINDERS[cache_key] = binder
    return binder


def _insert_sql(dialect: Dialect) -> str | None:
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if marker is None:
        return None
    return f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES ({', '.join([marker] * len(INSERT_COLUMNS))})"


def _copy(connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """COPY rows into events (psycopg 3), in the transaction under way; a driver error is raised as
    ktpledger's, as from an INSERT (a unique violation is a `WriteConflict`: `driver_errors`).

    The COPY text is written here (`copy_chunks`), some `COPY_CHUNK` characters a `write`, not row
    by row by psycopg's `write_row`: its formatting and a flush every 32 KB were a fifth of a
    batch's CPU (issue 18). psycopg binds no column of `events` through SQLAlchemy (no bind
    processor), so the values are the rows' own, as `write_row` was given them."""
    # The ignore: `driver_connection` is typed Optional; a checked-out connection's is psycopg's.
    driver = connection.connection.driver_connection
    with driver_errors(connection, _COPY), driver.cursor() as cursor, cursor.copy(_COPY) as copy:  # type: ignore[union-attr]
        for text in copy_chunks(rows):
            copy.write(text)


COPY_CHUNK = 32 * 1024  # characters of COPY text a write: psycopg's own buffer size


def copy_chunks(rows: Iterable[dict[str, Any]], size: int = COPY_CHUNK) -> Iterator[str]:
    """The COPY text of `rows` (`copy_line`), in pieces of about `size` characters, each made as
    soon as its rows are: the server inserts the first while the rest are being made."""
    lines: list[str] = []
    length = 0
    instant: object = None
    instant_text = ""
    days: dict[Any, str] = {}  # a batch's dates repeat: each written once (0.4 us a row)
    for row in rows:
        if row["recorded_at"] is not instant:  # a batch's rows share one: written once (1 us a row)
            instant = row["recorded_at"]
            instant_text = _copy_value(instant)
        day = days.get(row["date"])
        if day is None:
            day = days[row["date"]] = _copy_value(row["date"])
        line = copy_line(row, instant_text, day)
        lines.append(line)
        length += len(line)
        if length >= size:
            yield "".join(lines)
            lines, length = [], 0
    if lines:
        yield "".join(lines)


# The characters COPY's text format reads specially in a value (a backslash starts an escape; tab,
# newline and carriage return end a value or a row), and the one PostgreSQL stores in no text.
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NUL = "\x00"


def copy_line(row: Mapping[str, Any], recorded_at: str | None = None, day: str | None = None) -> str:
    """One row of `INSERT_COLUMNS` as a line of COPY's text format: values separated by tabs, None
    as \\N, text with its backslashes, tabs, newlines and carriage returns escaped, numbers in
    decimal, a date and a datetime in ISO 8601 (what psycopg's text dumpers write); a NUL is
    refused as psycopg refuses it (`psycopg.DataError`).

    A ledger row's values are of known types, and its text rarely holds a character to escape:
    the row is joined as it is and checked once, and escaped value by value only if it must be.
    `recorded_at` and `day` are the row's own written so already (`_copy_value`), if the caller
    has them."""
    by = row["recorded_by"]
    if recorded_at is None:
        recorded_at = _copy_value(row["recorded_at"])
    if day is None:
        day = _copy_value(row["date"])
    try:
        text = "\t".join(
            (
                row["project"],
                str(row["version"]),
                row["type"],
                str(row["schema_version"]),
                row["key"],
                day,
                row["data"],
                recorded_at,
                row["prev_hash"],
                row["hash"],
                str(row["chain_version"]),
                "" if by is None else by,
            )
        )
    except (TypeError, AttributeError):  # a value of another type: each converted on its own
        return "\t".join([_copy_value(row[name]) for name in INSERT_COLUMNS]) + "\n"
    if (
        "\\" in text
        or "\n" in text
        or "\r" in text
        or _NUL in text
        or text.count("\t") != len(INSERT_COLUMNS) - 1
    ):
        return "\t".join([_copy_value(row[name]) for name in INSERT_COLUMNS]) + "\n"
    return text + "\\N\n" if by is None else text + "\n"


def _copy_value(value: Any) -> str:
    """One value in COPY's text format (`copy_line`)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if _NUL in value:
            from psycopg import DataError

            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        text: str = value
        for special, escaped in _COPY_ESCAPES.items():
            if special in text:
                text = text.replace(special, escaped)
        return text
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    return str(value)


def read_after(connection: Connection, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
    """Up to `limit` events after global position `position`, in position order."""
    query = select(*COLUMNS).where(events.c.position > position).order_by(events.c.position).limit(limit)
    return [to_recorded(row) for row in connection.execute(query).mappings()]


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
        rows = [to_recorded(row) for row in connection.execute(query).mappings()]
        if not rows:
            return
        yield from rows
        last = (rows[-1].project, rows[-1].version)


# The statement of `DirectAppender`, prepared on its connection under a name of its own, and the
# types of its parameters (OIDs: text, int4, text, int4, text, date, text, timestamptz, text, text,
# int4, text). It does what `ktpledger_append_one` does (migrations 0020, 0021) without the function's
# call: the single appends' advisory lock, then the insert if the project's newest row at or below
# `version - 1` is that version with the hash the row names as its predecessor's (a version or key
# taken raises unique_violation). The hash, not only the version: the row is made on a state this
# process cached, and however that state came to differ from the ledger (a database restored from
# another history while the process ran, say), the chain must never name a row the ledger does not
# hold. The lock is the row the insert's values are projected from, so it is held before the
# position is taken, whatever order the planner evaluates the rest in. No RETURNING: the command's
# row count says whether the row went in (RETURNING position cost about 5 us a call more, measured),
# and the position is not needed.
#
# The predecessor is read as the newest row at or below `version - 1` (`ORDER BY version DESC LIMIT
# 1`), not by `version = $2 - 1`: PostgreSQL plans a prepared statement once for any parameters (its
# generic plan, from the sixth call on a connection), and where the table's statistics did not tell
# the two unique indexes apart (a table small or not yet analyzed when planned), it probed by
# project alone through (project, key) and read every row of the project to find one: 201 rows for
# the 201st single append onto a project, 40-100 us of the server's time a call in the benchmark's
# shapes and growing with the project (issue 18, `bench/ingest.py`). Only (project, version) gives
# that order, so the probe reads one index entry and one row, however the table was planned
# (tests/ledger/test_append_one.py holds it to one row).
_APPEND_ONE_NAME = b"ktpledger_append_row"
_APPEND_ONE = (
    b"INSERT INTO events (project, version, type, schema_version, key, date, data, recorded_at, prev_hash, "
    b"hash, chain_version, recorded_by) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 "
    b"FROM (SELECT pg_advisory_xact_lock(1802793068, 'events'::regclass::oid::integer)) AS locked "
    b"WHERE $2 = 1 OR EXISTS (SELECT 1 FROM (SELECT version, hash FROM events WHERE project = $1 "
    b"AND version <= $2 - 1 ORDER BY version DESC LIMIT 1) AS below WHERE below.version = $2 - 1 "
    b"AND below.hash = $9)"
)
_APPEND_ONE_TYPES = (25, 23, 25, 23, 25, 1082, 25, 1184, 25, 25, 23, 25)
_UNIQUE_VIOLATION = b"23505"
_DUPLICATE_PREPARED = b"42P05"  # the statement is prepared on this connection already
_NO_SUCH_PREPARED = b"26000"  # it is not (any more): prepared again, once
# libpq's own numbers (psycopg.pq.ExecStatus, DiagnosticField), psycopg being imported only when used.
_COMMAND_OK, _FATAL_ERROR = 1, 7
_SQLSTATE = ord("C")


class DirectAppender:
    """PostgreSQL: a single append in one statement (`_APPEND_ONE`, as `ktpledger_append_one` of
    migration 0020 does it) on one psycopg connection in autocommit mode, with no SQLAlchemy in
    between: the statement prepared once, each call one `PQexecPrepared` on libpq itself
    (psycopg's `pgconn`), its parameters written as text here. The statement's own, rather than
    the function's call: a PL/pgSQL call and its inner statement cost about 13 us more of the
    server's time than the one statement (measured on this 2-core machine, issue 18).

    psycopg's cursor (its query conversion, prepared-statement bookkeeping and the wait it runs in
    Python) cost about 12 us of CPU and 30-40 us of wall time a call more, measured on this 2-core
    machine (issue 18); libpq waits for the answer with the interpreter's lock released, so the
    other threads run meanwhile. The values stored are the same: the text psycopg's own text
    dumpers write (integers in decimal, a date and an aware datetime in ISO 8601), read by the
    server as the function's typed parameters."""

    def __init__(self, driver_connection: Any) -> None:
        self._pgconn = driver_connection.pgconn
        self._encoding: str = driver_connection.info.encoding
        self._prepared = False

    def append(self, row: dict[str, Any]) -> bool:
        """Append one row in one round trip if the project's head is still `version - 1`, the row
        its `prev_hash` names: whether it was recorded; False when the head has moved (or is not
        that row) or the key was recorded elsewhere (the
        caller then decides on the general path). Any other error is raised (a `psycopg.Error`)."""
        values = self._values(row)
        if not self._prepared:
            self._prepare()
        result = self._pgconn.exec_prepared(_APPEND_ONE_NAME, values)
        if result.status == _FATAL_ERROR and result.error_field(_SQLSTATE) == _NO_SUCH_PREPARED:
            self._prepare()  # deallocated by someone else meanwhile (DEALLOCATE ALL)
            result = self._pgconn.exec_prepared(_APPEND_ONE_NAME, values)
        return self.recorded(result)

    def send_append(self, row: dict[str, Any]) -> None:
        """Queue `append`'s statement on a connection about to enter pipeline mode, to go with
        another (`PostgresLedgerRecorder.append_one` with a totals snapshot); its result is given
        to `recorded`. Call `prepare` first, outside the pipeline."""
        self._pgconn.send_query_prepared(_APPEND_ONE_NAME, self._values(row))

    def prepare(self) -> None:
        """Prepare the statement on this connection unless done (libpq waits for the answer with
        the interpreter's lock released)."""
        if not self._prepared:
            self._prepare()

    def recorded(self, result: Any) -> bool:
        """Whether the statement's `result` says the row went in; False on unique_violation (the
        head moved, or the key was recorded elsewhere); any other error raised."""
        if result.status != _COMMAND_OK:
            if result.error_field(_SQLSTATE) == _UNIQUE_VIOLATION:
                return False
            raise _error_of(result, self._encoding)
        return bool(result.command_tuples)

    def _values(self, row: dict[str, Any]) -> list[bytes | None]:
        encoding = self._encoding
        by = row["recorded_by"]
        return [
            row["project"].encode(encoding),
            str(row["version"]).encode(),
            row["type"].encode(encoding),
            str(row["schema_version"]).encode(),
            row["key"].encode(encoding),
            row["date"].isoformat().encode(),
            row["data"].encode(encoding),
            row["recorded_at"].isoformat().encode(),
            row["prev_hash"].encode(encoding),
            row["hash"].encode(encoding),
            str(row["chain_version"]).encode(),
            None if by is None else by.encode(encoding),
        ]

    def _prepare(self) -> None:
        self.prepared_by(self._pgconn.prepare(_APPEND_ONE_NAME, _APPEND_ONE, list(_APPEND_ONE_TYPES)))

    @property
    def prepared(self) -> bool:
        return self._prepared

    def send_prepare(self) -> None:
        """Queue the statement's PREPARE on a connection in pipeline mode, to go with another
        query (`PostgresLedgerRecorder.cold_start`); its result is given to `prepared_by`."""
        self._pgconn.send_prepare(_APPEND_ONE_NAME, _APPEND_ONE, list(_APPEND_ONE_TYPES))

    def prepared_by(self, result: Any) -> None:
        if result.status != _COMMAND_OK and result.error_field(_SQLSTATE) != _DUPLICATE_PREPARED:
            raise _error_of(result, self._encoding)
        self._prepared = True


def _error_of(result: Any, encoding: str) -> Exception:
    """psycopg's exception for a failed libpq result (what its cursor would have raised)."""
    from psycopg.errors import error_from_result

    return error_from_result(result, encoding=encoding)

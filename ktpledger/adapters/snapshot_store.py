"""The `state_snapshots` table: projects' folded states as bytes (`domain/snapshot.py`), read and
written with SQLAlchemy Core in the caller's transaction. Nothing here reads the bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, delete, func, or_, select, tuple_
from sqlalchemy.engine import Dialect

from ktpledger.adapters.database import driver_errors
from ktpledger.adapters.ledger_store import COLUMNS, row_reader
from ktpledger.adapters.tables import state_snapshots
from ktpledger.domain.input_rules import text_problem
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot

KEPT_PER_PROJECT = 2  # the newest two: a catch-up a little behind the appends still finds one
_CHUNK = 500  # projects per query


def _kept(*columns: Any) -> Select[Any]:
    return (
        select(state_snapshots.c.project, state_snapshots.c.version, *columns)
        .where(
            state_snapshots.c.project.in_(bindparam("projects", expanding=True)),
            state_snapshots.c.format == bindparam("format"),
        )
        .order_by(state_snapshots.c.project, state_snapshots.c.version.desc())
    )


# A totals snapshot (`snapshot.totals_snapshot_of`) keeps no claims: its claims column is empty,
# which a full snapshot's never is (its claims are pickled, three dicts even when empty).
_HOLDS_CLAIMS = func.length(state_snapshots.c.claims) > 0
_VERSIONS = _kept().where(_HOLDS_CLAIMS)  # of the full snapshots: their claims are read next
_STATES = _kept(state_snapshots.c.state)  # a state without its claims: a few kilobytes


def newest(
    connection: Connection, limits: Mapping[str, int], of_format: str, *, claims: bool = True
) -> dict[str, StoredSnapshot]:
    """Each named project's newest snapshot of `of_format` at or before its version in `limits`;
    without its claims' bytes unless `claims` (an append reads them only if it needs them:
    `claims_of`), in which case the newest that holds them (not a totals snapshot)."""
    names = sorted(limits)
    found: dict[str, StoredSnapshot] = {}
    for start in range(0, len(names), _CHUNK):
        chunk = names[start : start + _CHUNK]
        if not claims:  # every kept state of each, in one query: they are small
            for project, version, state in connection.execute(
                _STATES, {"projects": chunk, "format": of_format}
            ):
                if project not in found and 0 < version <= limits[project]:
                    found[project] = StoredSnapshot(project, int(version), of_format, bytes(state))
            continue
        chosen: dict[str, int] = {}
        for project, version in connection.execute(_VERSIONS, {"projects": chunk, "format": of_format}):
            if project not in chosen and 0 < version <= limits[project]:
                chosen[project] = int(version)
        if not chosen:
            continue
        # The claims of the chosen ones only: hundreds of kilobytes for a long project.
        pairs = tuple_(state_snapshots.c.project, state_snapshots.c.version)
        rows = connection.execute(
            select(
                state_snapshots.c.project,
                state_snapshots.c.version,
                state_snapshots.c.state,
                state_snapshots.c.claims,
            ).where(pairs.in_(list(chosen.items())))
        )
        for project, version, state, held in rows:
            found[project] = StoredSnapshot(project, int(version), of_format, bytes(state), bytes(held))
    return found


@dataclass(frozen=True)
class ColdStart:
    """What a process that holds no state of a project reads to build one (`start_of`): the
    project's head (0: no events), its newest snapshot at or before the head (without its claims'
    bytes), and its events from that snapshot's version on (the snapshot's own row first, to check
    its hash against), or its whole stream when there is none."""

    head: int
    snapshot: StoredSnapshot | None
    events: list[RecordedEvent]


def _start_sql(marker: Callable[[str], str]) -> str:
    """`start_of`'s statement, its parameters named by `marker` (the driver's paramstyle).

    The head and the events are each read in the order of versions (`ORDER BY version`), which
    only the (project, version) index gives, whatever plan PostgreSQL made of the statement
    (`ledger_store._APPEND_ONE` has why): by `max(version)` and a bare range, a generic plan made
    on a small table read the whole project twice, 620 rows to start a project of 310 from its
    snapshot at 300, where 12 do (issue 18; tests/ledger/test_append_one.py)."""
    project, of_format = marker("project"), marker("format")
    events_columns = ", ".join(f"e.{column.name}" for column in COLUMNS)
    no_event = ", ".join("NULL" for _ in COLUMNS)
    return (
        f"WITH head AS (SELECT version FROM events WHERE project = {project} ORDER BY version DESC LIMIT 1), "
        "newest AS (SELECT version, state FROM state_snapshots "
        f"WHERE project = {project} AND format = {of_format} AND version > 0 "
        "AND version <= (SELECT version FROM head) ORDER BY version DESC LIMIT 1) "
        f"(SELECT {events_columns}, NULL AS head, NULL AS snapshot_version, NULL AS snapshot_state "
        f"FROM events AS e WHERE e.project = {project} "
        "AND e.version >= COALESCE((SELECT version FROM newest), 1) AND e.version <= (SELECT version FROM head) "
        "ORDER BY e.version) "
        f"UNION ALL SELECT {no_event}, (SELECT version FROM head), (SELECT version FROM newest), "
        "(SELECT state FROM newest) "
        "ORDER BY version NULLS FIRST"
    )


# SQLite's `start_of`: three plain statements, each bounded by the head the first one read. SQLite
# runs in this process, so a statement costs no round trip, and it ran `START_SQL` (its CTEs
# evaluated once per use: the head four times, the snapshot three) in 24 us against 19 for these,
# 131 against 88 as a cold append runs it, just after other work (issue 18). No transaction is
# needed around them: events are never changed, the snapshot is read with its state in one
# statement, and what another writer commits meanwhile lies past the head, which bounds both reads.
_SQLITE_HEAD = "SELECT max(version) FROM events WHERE project = ?"
_SQLITE_NEWEST = (
    "SELECT version, state FROM state_snapshots WHERE project = ? AND format = ? "
    "AND version > 0 AND version <= ? ORDER BY version DESC LIMIT 1"
)
_SQLITE_EVENTS = (
    f"SELECT {', '.join(column.name for column in COLUMNS)} FROM events "
    "WHERE project = ? AND version >= ? AND version <= ? ORDER BY version"
)

# PostgreSQL's: one statement, which reads one snapshot of the database: on a connection in
# autocommit mode it needs no transaction around it. A new process's first append onto a project
# read its head, its snapshot and the events after it in a read transaction: BEGIN, three queries
# and ROLLBACK, five round trips on PostgreSQL, where the append itself is one (issue 18). The
# events' upper bound (the head, which no event passes) is for PostgreSQL's planner: with both
# bounds unknown when it plans, it takes them for a narrow range and reads the index; with the
# lower one alone it counted a third of the project's events, and once the table was analyzed read
# a project of 10,000 events whole (a sequential scan: 0.8 ms of the server's time against 0.07).
# (SQLite's statements as one text, as a driver error names them.)
START_SQL = {
    "postgresql": _start_sql(lambda name: f"%({name})s"),
    "sqlite": f"{_SQLITE_HEAD}; {_SQLITE_NEWEST}; {_SQLITE_EVENTS}",
}
# The same, for libpq itself: its parameters by number (project, format).
START_SQL_NUMBERED = _start_sql(lambda name: {"project": "$1", "format": "$2"}[name])


def start_of(cursor: Any, dialect: Dialect, project: str, of_format: str) -> ColdStart:
    """`ColdStart` of `project` on a driver's `cursor` of `dialect`'s backend (a connection in
    autocommit mode, or a transaction under way): by `START_SQL`, one statement, on PostgreSQL;
    a statement each for the head, the snapshot and the events on SQLite. Driver errors are the
    caller's to handle. A name no project holds (`ledger_store.stream`) is never sent."""
    if text_problem(project) is not None:
        return ColdStart(0, None, [])
    if dialect.name == "sqlite":
        return _sqlite_start(cursor, dialect, project, of_format)
    cursor.execute(START_SQL[dialect.name], {"project": project, "format": of_format})
    return started(cursor.fetchall(), dialect, project, of_format)


def _sqlite_start(cursor: Any, dialect: Dialect, project: str, of_format: str) -> ColdStart:
    (head,) = cursor.execute(_SQLITE_HEAD, (project,)).fetchone()
    if not head:
        return ColdStart(0, None, [])
    newest = cursor.execute(_SQLITE_NEWEST, (project, of_format, head)).fetchone()
    snapshot = (
        None if newest is None else StoredSnapshot(project, int(newest[0]), of_format, bytes(newest[1]))
    )
    rows = cursor.execute(
        _SQLITE_EVENTS, (project, 1 if snapshot is None else snapshot.version, head)
    ).fetchall()
    read = row_reader(dialect)
    return ColdStart(int(head), snapshot, [read(row) for row in rows])


def started(rows: Sequence[Sequence[Any]], dialect: Dialect, project: str, of_format: str) -> ColdStart:
    """`ColdStart` of the rows of `START_SQL` (typed by the driver)."""
    if not rows:
        raise RuntimeError("the state's start was read without its head row")
    first = rows[0]
    width = len(COLUMNS)
    head, version, state = first[width:]
    snapshot = None if version is None else StoredSnapshot(project, int(version), of_format, bytes(state))
    read = row_reader(dialect)
    return ColdStart(int(head or 0), snapshot, [read(row[:width]) for row in rows[1:]])


def claims_of(connection: Connection, project: str, version: int, of_format: str) -> bytes | None:
    """The claims' bytes of one kept snapshot; None when it is no longer kept."""
    held = connection.execute(
        select(state_snapshots.c.claims).where(
            state_snapshots.c.project == project,
            state_snapshots.c.version == version,
            state_snapshots.c.format == of_format,
        )
    ).scalar()
    return None if held is None else bytes(held)


def save(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """Write `snapshots` (one replacing another of its project and version) and keep only the
    newest `KEPT_PER_PROJECT` of each of their projects, and the newest `KEPT_PER_PROJECT` full
    ones (a totals snapshot's claims are folded on from the full one before it).

    In three statements a chunk of projects however many snapshots: a batch that takes a hundred
    projects past a multiple of `TOTALS_EVERY` saved theirs three statements each, 300 round
    trips that cost PostgreSQL appends more than the batch's own rows (issue 18). On PostgreSQL,
    a batch's totals snapshots in one (`_save_totals`)."""
    if _totals_alone(connection, snapshots):
        _save_totals(connection, snapshots, now)
        return
    if connection.dialect.name == "sqlite" and connection.dialect.driver == "pysqlite" and snapshots:
        _save_on_sqlite(connection, snapshots, now)
        return
    for start in range(0, len(snapshots), _CHUNK):
        chunk = snapshots[start : start + _CHUNK]
        pairs = tuple_(state_snapshots.c.project, state_snapshots.c.version)
        connection.execute(delete(state_snapshots).where(pairs.in_([(s.project, s.version) for s in chunk])))
        connection.execute(state_snapshots.insert(), _rows(chunk, now))
        connection.execute(
            delete(state_snapshots).where(pairs.in_(_not_kept(sorted({s.project for s in chunk}))))
        )


# A batch's totals snapshots on PostgreSQL, in one statement (`save`'s three, each a statement of a
# hundred parameters or rows, were a tenth of the time of a batch of 1,000 claims over 100 projects
# that took them all past a multiple of `TOTALS_EVERY`: issue 18). Each replaces one of its own
# version, as `save` does; of each project's older snapshots, the totals ones but the newest before
# it are deleted: its newest `KEPT_PER_PROJECT` (2) are kept whatever their kind, as `_not_kept`
# keeps them, and full ones are left to the next full snapshot's `save`, which keeps their newest
# two. The DELETE and the subquery see the table as it was before the statement. Parameters: the
# projects, versions and states (arrays of one element a snapshot), the format and the time.
SAVE_TOTALS_SQL = (
    "WITH given AS (SELECT * FROM unnest(%(projects)s::text[], %(versions)s::int4[], %(states)b::bytea[]) "
    "AS g (project, version, state)), "
    "gone AS (DELETE FROM state_snapshots AS s USING given AS g WHERE s.project = g.project "
    "AND length(s.claims) = 0 AND s.version < (SELECT max(k.version) FROM state_snapshots AS k "
    "WHERE k.project = g.project AND k.version < g.version)) "
    "INSERT INTO state_snapshots (project, version, format, state, claims, written_at) "
    "SELECT project, version, %(format)s, state, '', %(now)s FROM given "
    "ON CONFLICT (project, version) DO UPDATE SET format = EXCLUDED.format, state = EXCLUDED.state, "
    "claims = EXCLUDED.claims, written_at = EXCLUDED.written_at"
)


def _totals_alone(connection: Connection, snapshots: Sequence[StoredSnapshot]) -> bool:
    """Whether `_save_totals` can save `snapshots`: PostgreSQL through psycopg, and totals
    snapshots only (no claims), of one format, a project each (a statement's ON CONFLICT may
    not touch a row twice)."""
    dialect = connection.dialect
    return (
        dialect.name == "postgresql"
        and dialect.driver == "psycopg"
        and bool(snapshots)
        and not any(snapshot.claims for snapshot in snapshots)
        and len({snapshot.format for snapshot in snapshots}) == 1
        and len({snapshot.project for snapshot in snapshots}) == len(snapshots)
    )


def _save_totals(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """`SAVE_TOTALS_SQL` on the driver's own cursor, in the transaction under way."""
    parameters = {
        "projects": [snapshot.project for snapshot in snapshots],
        "versions": [snapshot.version for snapshot in snapshots],
        "states": [snapshot.state for snapshot in snapshots],
        "format": snapshots[0].format,
        "now": now,
    }
    # The ignore: a checked-out connection's `driver_connection` is never None (typed Optional).
    driver = connection.connection.driver_connection
    with driver_errors(connection, SAVE_TOTALS_SQL), driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(SAVE_TOTALS_SQL, parameters)


# `save` on SQLite, as plain statements on the driver's own cursor, each prepared once a connection
# (sqlite3 keeps them): SQLAlchemy's, built and compiled on every save (a tuple IN list and
# `_not_kept`'s window query), cost a batch's totals snapshots some 60 us each. And `_not_kept`'s
# window query copied each kept full snapshot's claims (hundreds of kilobytes) into its sorter to
# rank them by kind: the next transaction on the connection ran 2.3x slower after it (a writer's
# single append 0.67-0.72 ms against 0.30, this machine's charge for the caches it displaced),
# where `length(claims)` read on its own is taken from the row's header, its bytes untouched. A
# snapshot replaces one of its project and version (`OR REPLACE`: the primary key); then each
# project's snapshots are read newest first, version and kind (every project in one statement),
# and those `_not_kept` leaves out (`_pruned`) deleted (issue 18).
_SQLITE_SAVE = (
    "INSERT OR REPLACE INTO state_snapshots (project, version, format, state, claims, written_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# The saved projects' snapshots, version and kind, in one statement whatever their number (the
# projects one JSON array: the statement's text, and so its preparation, is always the same).
_SQLITE_KINDS = (
    "SELECT project, version, length(claims) > 0 FROM state_snapshots "
    "WHERE project IN (SELECT value FROM json_each(?)) ORDER BY project, version DESC"
)
_SQLITE_DELETE = "DELETE FROM state_snapshots WHERE project = ? AND version = ?"


def _save_on_sqlite(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """`save` on sqlite3's own cursor, in the transaction under way."""
    written_at = _written_at(connection.dialect, now)
    rows = [(s.project, s.version, s.format, s.state, s.claims, written_at) for s in snapshots]
    # The ignore: a checked-out connection's `driver_connection` is never None (typed Optional).
    driver = connection.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors(connection, _SQLITE_SAVE):
            cursor.executemany(_SQLITE_SAVE, rows)
        with driver_errors(connection, _SQLITE_KINDS):
            found = cursor.execute(_SQLITE_KINDS, (json.dumps(sorted({s.project for s in snapshots})),))
            kinds: dict[str, list[tuple[int, int]]] = {}
            for project, version, full in found:
                kinds.setdefault(project, []).append((version, full))
        doomed = [(project, version) for project, held in kinds.items() for version in _pruned(held)]
        if doomed:
            with driver_errors(connection, _SQLITE_DELETE):
                cursor.executemany(_SQLITE_DELETE, doomed)
    finally:
        cursor.close()


def _written_at(dialect: Dialect, now: datetime) -> Any:
    """`now` as SQLAlchemy writes `written_at` on `dialect` (its reads parse it back), for a
    statement on the driver's own cursor."""
    bind = state_snapshots.c.written_at.type.dialect_impl(dialect).bind_processor(dialect)
    return now if bind is None else bind(now)


def _pruned(kinds: Sequence[tuple[int, int]]) -> list[int]:
    """Of one project's snapshots, (version, holds claims) newest first, the versions `_not_kept`
    leaves out: outside the newest `KEPT_PER_PROJECT`, and not one of the newest
    `KEPT_PER_PROJECT` full ones."""
    pruned = []
    full_ones = 0
    for overall, (version, full) in enumerate(kinds, start=1):
        full_ones += bool(full)
        if overall > KEPT_PER_PROJECT and (not full or full_ones > KEPT_PER_PROJECT):
            pruned.append(version)
    return pruned


def _not_kept(projects: list[str]) -> Select[Any]:
    """(project, version) of the snapshots of `projects` kept by neither rule: outside the newest
    `KEPT_PER_PROJECT` of the project, and not one of its newest `KEPT_PER_PROJECT` full ones."""
    newest_first = state_snapshots.c.version.desc()
    ranked = (
        select(
            state_snapshots.c.project,
            state_snapshots.c.version,
            func.row_number()
            .over(partition_by=state_snapshots.c.project, order_by=newest_first)
            .label("overall"),
            # Ranked among the project's snapshots of its own kind (full, or totals alone).
            func.row_number()
            .over(partition_by=(state_snapshots.c.project, _HOLDS_CLAIMS), order_by=newest_first)
            .label("of_kind"),
            case((_HOLDS_CLAIMS, 1), else_=0).label("full"),
        )
        .where(state_snapshots.c.project.in_(projects))
        .subquery()
    )
    return select(ranked.c.project, ranked.c.version).where(
        ranked.c.overall > KEPT_PER_PROJECT,
        or_(ranked.c.full == 0, ranked.c.of_kind > KEPT_PER_PROJECT),
    )


# A totals snapshot sent with a single append (PostgreSQL's direct connection, autocommit, in the
# same round trip and a transaction of its own: `PostgresLedgerRecorder.append_one`), in one
# statement that only inserts (replacing one of its own version): it deletes nothing, so it never
# waits on the rows an append's `save` deletes, nor they on it. The older ones are deleted by the
# next `save` of the project (a full snapshot's, at the latest): some `SNAPSHOT_EVERY / TOTALS_EVERY`
# rows of a few kilobytes a project meanwhile. Its parameters: project, version, format (text,
# int4, text) and the state's bytes (bytea, sent in binary).
KEEP_TOTALS_SQL = (
    "INSERT INTO state_snapshots (project, version, format, state, claims, written_at) "
    "VALUES ($1, $2, $3, $4, '', now()) "
    "ON CONFLICT (project, version) DO UPDATE SET format = EXCLUDED.format, state = EXCLUDED.state, "
    "claims = EXCLUDED.claims, written_at = EXCLUDED.written_at"
)
KEEP_TOTALS_TYPES = (25, 23, 25, 17)


# A catch-up's totals snapshots at the heads it moved (`keep_heads`), on PostgreSQL in one statement
# sent in the catch-up's pipeline: each is kept unless a snapshot of its version and format is kept
# already (an append's, full or totals, is the same state; a full one keeps its claims), and the
# totals snapshot its writer kept of the project before (its version in `previous`, 0 for none) is
# deleted, unless it is the same version; full snapshots are never deleted. Parameters: projects,
# versions, previous versions and states (arrays of one element a snapshot), the format and the time.
KEEP_HEADS_SQL = (
    "WITH given AS (SELECT * FROM unnest(%(projects)s::text[], %(versions)s::int4[], "
    "%(previous)s::int4[], %(states)b::bytea[]) AS g (project, version, previous, state)), "
    "gone AS (DELETE FROM state_snapshots AS s USING given AS g WHERE s.project = g.project "
    "AND s.version = g.previous AND s.version <> g.version AND length(s.claims) = 0) "
    "INSERT INTO state_snapshots (project, version, format, state, claims, written_at) "
    "SELECT project, version, %(format)s, state, '', %(now)s FROM given "
    "ON CONFLICT (project, version) DO UPDATE SET format = EXCLUDED.format, state = EXCLUDED.state, "
    "claims = EXCLUDED.claims, written_at = EXCLUDED.written_at "
    "WHERE state_snapshots.format <> EXCLUDED.format"
)
# SQLite's: the previous one deleted (`_SQLITE_DROP_TOTALS`), then each kept as `KEEP_HEADS_SQL` keeps it.
_SQLITE_DROP_TOTALS = "DELETE FROM state_snapshots WHERE project = ? AND version = ? AND length(claims) = 0"
_SQLITE_KEEP_HEAD = (
    "INSERT INTO state_snapshots (project, version, format, state, claims, written_at) "
    "VALUES (?, ?, ?, ?, x'', ?) ON CONFLICT (project, version) DO UPDATE SET format = excluded.format, "
    "state = excluded.state, claims = excluded.claims, written_at = excluded.written_at "
    "WHERE state_snapshots.format <> excluded.format"
)


def keep_heads(
    connection: Connection, snapshots: Sequence[StoredSnapshot], previous: Mapping[str, int], now: datetime
) -> None:
    """Keep `snapshots` (totals snapshots at the heads a catch-up moved, a project each: the
    projection workers write them, so that a new process's first append onto a project folds few
    events or none past its newest snapshot: issue 18), each unless a snapshot of its project,
    version and format is kept already, and delete the totals snapshot of each project at its
    version in `previous` (the one its writer kept before; never a full snapshot, nor the one
    just written). Nothing else is deleted: a catch-up waits on no row an append's `save` deletes
    but that one, and an append waits on no row a catch-up holds but that one, so the two cannot
    deadlock; `save` prunes the rest. On another driver than psycopg's or sqlite3's (none this
    package sets up) nothing is kept: derived data, a new process folds on from the appends' own."""
    if not snapshots:
        return
    if len({s.project for s in snapshots}) != len(snapshots) or len({s.format for s in snapshots}) != 1:
        raise ValueError("keep_heads keeps one snapshot a project, all of one format")
    dialect = connection.dialect
    # The ignore: a checked-out connection's `driver_connection` is never None (typed Optional).
    driver = connection.connection.driver_connection
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        parameters = {
            "projects": [s.project for s in snapshots],
            "versions": [s.version for s in snapshots],
            "previous": [previous.get(s.project, 0) for s in snapshots],
            "states": [s.state for s in snapshots],
            "format": snapshots[0].format,
            "now": now,
        }
        # No answer is read: within a catch-up's pipeline it shares the commit's round trip.
        with driver_errors(connection, KEEP_HEADS_SQL):
            driver.execute(KEEP_HEADS_SQL, parameters)  # type: ignore[union-attr]
    elif dialect.name == "sqlite" and dialect.driver == "pysqlite":
        gone = [
            (s.project, previous[s.project])
            for s in snapshots
            if previous.get(s.project, 0) and previous[s.project] != s.version
        ]
        written_at = _written_at(dialect, now)
        kept = [(s.project, s.version, s.format, s.state, written_at) for s in snapshots]
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            with driver_errors(connection, _SQLITE_DROP_TOTALS):
                cursor.executemany(_SQLITE_DROP_TOTALS, gone)
            with driver_errors(connection, _SQLITE_KEEP_HEAD):
                cursor.executemany(_SQLITE_KEEP_HEAD, kept)
        finally:
            cursor.close()


def replace_all(connection: Connection, snapshots: Sequence[StoredSnapshot], now: datetime) -> None:
    """Every snapshot replaced by `snapshots` (at most one a project: replay's), in a few statements."""
    connection.execute(delete(state_snapshots))
    for start in range(0, len(snapshots), _CHUNK):
        connection.execute(state_snapshots.insert(), _rows(snapshots[start : start + _CHUNK], now))


def _rows(snapshots: Sequence[StoredSnapshot], now: datetime) -> list[dict[str, Any]]:
    """`snapshots` as rows of `state_snapshots`, written at `now`."""
    return [
        {
            "project": s.project,
            "version": s.version,
            "format": s.format,
            "state": s.state,
            "claims": s.claims,
            "written_at": now,
        }
        for s in snapshots
    ]


def every(connection: Connection) -> Iterator[StoredSnapshot]:
    """Every snapshot, by project and version (`verify --projections` checks each)."""
    query = select(
        state_snapshots.c.project,
        state_snapshots.c.version,
        state_snapshots.c.format,
        state_snapshots.c.state,
        state_snapshots.c.claims,
    ).order_by(state_snapshots.c.project, state_snapshots.c.version)
    for project, version, written_format, state, claims in connection.execute(query):
        yield StoredSnapshot(project, int(version), written_format, bytes(state), bytes(claims))

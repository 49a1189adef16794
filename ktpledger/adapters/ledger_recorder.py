"""The ledger's recorder: the one interface the ledger service appends and reads through, and one
class per backend behind it (`recorder_for` picks it by the database's dialect).

Both backends append on the general path: an `AppendSession`, one write transaction that takes
the append lock with its first read (`Database.write`, `ledger_store.heads`). PostgreSQL also has a
one-round-trip path for a single event (`append_one`: one statement that takes the single
appends' lock, confirms the head and inserts, as `ktpledger_append_one` of migration 0020 does), on
a connection of its own. Errors are ktpledger's (`adapters/errors.py`): a row another
writer recorded first is a `WriteConflict`.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.pool import PoolProxiedConnection

from ktpledger.adapters import ledger_store, snapshot_store
from ktpledger.adapters.database import Database, driver_errors, lock_events
from ktpledger.adapters.snapshot_store import START_SQL_NUMBERED, ColdStart, start_of, started
from ktpledger.domain.input_rules import text_problem
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot

Row = dict[str, Any]  # a new ledger row: `ledger_store.INSERT_COLUMNS` by name


class AppendSession(Protocol):
    """One append transaction. Its first read takes the append lock, held to the end: what is
    read in it is the ledger as it stands. Nothing is kept unless `commit` is called."""

    def heads(self, projects: Iterable[str]) -> dict[str, int]:
        """The latest version of each named project that has events."""
        ...

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        """The project's events after `after_version`, oldest first."""
        ...

    def streams(self, projects: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        """The whole stream of each named project that has events (a few queries for many)."""
        ...

    def streams_after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        """Each named project's events after its version in `versions` (0: the whole stream)."""
        ...

    def recorded_keys(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RecordedEvent]:
        """The recorded event of each (project, key) the ledger holds (idempotency, R-30)."""
        ...

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        """`LedgerRecorder.cold_start` in this transaction: what a state not cached is built from."""
        ...

    def snapshots(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        """Each named project's newest snapshot of `of_format` at or before its version in `limits`,
        without its claims' bytes (`LedgerRecorder.snapshot_claims` reads them when asked)."""
        ...

    def save_snapshots(self, snapshots: Sequence[StoredSnapshot]) -> None:
        """Keep `snapshots` with the rows of this transaction (derived data: see `snapshot_store`)."""
        ...

    def insert(self, rows: Iterable[Row]) -> None:
        """Append `rows`, each taken as it is yielded (rows still being made may stream in); a
        version or key another writer recorded first is a `WriteConflict`."""
        ...

    def commit(self) -> None: ...


class LedgerRecorder(Protocol):
    """Where the ledger's rows are kept: appended to, never changed, read back."""

    @property
    def appends_one_directly(self) -> bool:
        """Whether `append_one` can record an event (else it always answers False)."""
        ...

    @property
    def direct_appends(self) -> int:
        """How many `append_one` calls can run at once, each in one round trip (0: none)."""
        ...

    def appending(self) -> AbstractContextManager[AppendSession]:
        """An append transaction (the general path), rolled back unless committed."""
        ...

    def reading(self) -> AbstractContextManager[AppendSession]:
        """A read transaction with an append session's reads, taking no lock: what it reads may
        be behind the head by the time it is used (a state to try `append_one` on, which confirms
        the head). Its writes are refused."""
        ...

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        """What a process holding no state of `project` builds one from: its head, its newest
        snapshot of `of_format` at or before it (without its claims) and its events from that
        snapshot's version on (its whole stream without one), read together without the lock, in
        one statement where the backend allows (one round trip on PostgreSQL). Like `reading`,
        it may be behind the head by the time it is used."""
        ...

    def append_one(self, row: Row, totals: StoredSnapshot | None = None) -> bool:
        """Append one row in one round trip if its project's head is still `row["version"] - 1`:
        whether it was recorded; False when that does not hold (the head moved, the key was
        recorded elsewhere) or the path cannot be used just now. False records nothing: the caller
        then decides on the general path.

        With `totals`, a totals snapshot (`snapshot.totals_snapshot_of`) of the state the row was
        made on (its events all committed), that snapshot is written too, in the same round trip
        and a transaction of its own, whether or not the row goes in. Derived data: it may be
        skipped (the next crossing of `TOTALS_EVERY`, or the full snapshot's, writes another), and
        a later read checks it against its row's hash."""
        ...

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        """The project's events after `after_version`, oldest first, read in a transaction of their own."""
        ...

    def full_snapshot(self, project: str, version: int, of_format: str) -> StoredSnapshot | None:
        """The project's newest kept snapshot of `of_format` at or before `version` that holds its
        claims (not a totals snapshot), claims and all, read in a transaction of its own."""
        ...

    def snapshot_claims(self, project: str, version: int, of_format: str) -> bytes | None:
        """The claims' bytes of a kept snapshot, read in a transaction of their own (a state read
        from its snapshot asks for them later, if ever); None when it is no longer kept."""
        ...

    def projects(self) -> list[str]:
        """Every project reference that has events, sorted."""
        ...

    def read_after(self, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` events after global position `position`, in position order."""
        ...

    def every_event(self) -> AbstractContextManager[Iterator[RecordedEvent]]:
        """Every event by project and version, read in batches in one read transaction."""
        ...

    def fact_streams(self, projects: Sequence[str]) -> tuple[dict[str, list[RecordedEvent]], dict[str, int]]:
        """Each project's offer, LMC decisions and closure (`ledger_store.fact_streams`), and the
        head of each, read in one transaction."""
        ...

    def close(self) -> None:
        """Give back what the recorder holds of its own (a connection); it may be used again."""
        ...


class _SqlSession:
    """An `AppendSession` on a `Database.write(lock=False)` transaction; with `locking` false, on a
    read transaction (`LedgerRecorder.reading`): no lock is taken, and nothing can be written."""

    def __init__(self, connection: Connection, *, locking: bool = True) -> None:
        self._connection = connection
        self._locked = not locking  # a reading session never takes the lock
        self._writes = locking

    def heads(self, projects: Iterable[str]) -> dict[str, int]:
        # The append lock goes with the first read, in the same round trip.
        found = ledger_store.heads(self._connection, projects, lock=not self._locked)
        self._locked = True
        return found

    def _lock(self) -> None:
        if not self._locked:
            lock_events(self._connection)
            self._locked = True

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        self._lock()
        return ledger_store.stream(self._connection, project, after_version=after_version)

    def streams(self, projects: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        self._lock()
        return ledger_store.streams(self._connection, projects)

    def streams_after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        self._lock()
        return ledger_store.streams_after(self._connection, versions)

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        """`LedgerRecorder.cold_start` in this transaction (under the lock in an append), on the
        driver's own cursor where `snapshot_store.start_of` reads the backend (one statement on
        PostgreSQL, three plain ones on SQLite), in place of several through SQLAlchemy."""
        self._lock()
        connection = self._connection
        dialect = connection.dialect
        if _START_DRIVERS.get(dialect.name) != dialect.driver:
            return _read_start(connection, project, of_format)
        # The ignore: a checked-out connection's `driver_connection` is never None (typed Optional).
        driver = connection.connection.driver_connection
        with driver_errors(connection, snapshot_store.START_SQL[dialect.name]):
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                return start_of(cursor, dialect, project, of_format)
            finally:
                cursor.close()

    def recorded_keys(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RecordedEvent]:
        self._lock()
        return ledger_store.recorded_keys(self._connection, pairs)

    def snapshots(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        self._lock()
        return snapshot_store.newest(self._connection, limits, of_format, claims=False)

    def save_snapshots(self, snapshots: Sequence[StoredSnapshot]) -> None:
        self._writing()
        snapshot_store.save(self._connection, snapshots, datetime.now(UTC))

    def insert(self, rows: Iterable[Row]) -> None:
        self._writing()
        ledger_store.insert(self._connection, rows)

    def _writing(self) -> None:
        if not self._writes:
            raise RuntimeError("a reading session writes nothing: append in `LedgerRecorder.appending`")
        self._lock()

    def commit(self) -> None:
        self._connection.commit()


def _read_start(connection: Connection, project: str, of_format: str) -> ColdStart:
    """`ColdStart` of `project` a query at a time, in the transaction under way (any backend)."""
    head = ledger_store.heads(connection, [project]).get(project, 0)
    if not head:
        return ColdStart(0, None, [])
    snapshot = snapshot_store.newest(connection, {project: head}, of_format, claims=False).get(project)
    after = snapshot.version - 1 if snapshot is not None else 0
    events = ledger_store.streams_after(connection, {project: after}).get(project, [])
    return ColdStart(head, snapshot, events)


# The drivers `snapshot_store.start_of` reads through, by backend.
_START_DRIVERS = {"postgresql": "psycopg", "sqlite": "pysqlite"}


class _SqlRecorder:
    """What both backends share: the general append path and every read, on SQLAlchemy Core."""

    appends_one_directly = False

    @property
    def direct_appends(self) -> int:
        return 0

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def appending(self) -> Iterator[AppendSession]:
        with self.database.write(lock=False) as connection:
            yield _SqlSession(connection)

    @contextmanager
    def reading(self) -> Iterator[AppendSession]:
        with self.database.read() as connection:
            yield _SqlSession(connection, locking=False)

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        if self.database.dialect == "sqlite":
            # sqlite3 as set up here runs in autocommit mode (`build_engine`): `start_of`'s three
            # statements need no transaction around them (each read is bounded by the head the
            # first one read), so no BEGIN or ROLLBACK of SQLAlchemy's.
            try:
                raw = self.database.engine.raw_connection()
            except Exception:  # noqa: BLE001 - no connection: the general read below says why
                return self._read_start(project, of_format)
            try:
                cursor = raw.cursor()
                try:
                    return start_of(cursor, self.database.engine.dialect, project, of_format)
                finally:
                    cursor.close()
            except Exception:  # noqa: BLE001 - any failure (a lock, ...): the general read says it in its words
                pass
            finally:
                raw.close()
        return self._read_start(project, of_format)

    def _read_start(self, project: str, of_format: str) -> ColdStart:
        """`cold_start` in a read transaction, a query at a time (any backend)."""
        with self.database.read() as connection:
            return _read_start(connection, project, of_format)

    def append_one(self, row: Row, totals: StoredSnapshot | None = None) -> bool:
        return False

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        with self.database.read() as connection:
            return ledger_store.stream(connection, project, after_version=after_version)

    def full_snapshot(self, project: str, version: int, of_format: str) -> StoredSnapshot | None:
        with self.database.read() as connection:
            return snapshot_store.newest(connection, {project: version}, of_format).get(project)

    def snapshot_claims(self, project: str, version: int, of_format: str) -> bytes | None:
        with self.database.read() as connection:
            return snapshot_store.claims_of(connection, project, version, of_format)

    def projects(self) -> list[str]:
        with self.database.read() as connection:
            return ledger_store.projects(connection)

    def read_after(self, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
        with self.database.read() as connection:
            return ledger_store.read_after(connection, position, limit=limit)

    @contextmanager
    def every_event(self) -> Iterator[Iterator[RecordedEvent]]:
        with self.database.read() as connection:
            yield ledger_store.all_streams(connection)

    def fact_streams(self, projects: Sequence[str]) -> tuple[dict[str, list[RecordedEvent]], dict[str, int]]:
        with self.database.read() as connection:
            return ledger_store.fact_streams(connection, projects), ledger_store.heads(connection, projects)

    def close(self) -> None:
        return None


class SQLiteLedgerRecorder(_SqlRecorder):
    """SQLite: the general path only. An append transaction (`BEGIN IMMEDIATE`, the database's one
    write lock) is in-process and cheap: there is no round trip to save."""


# A process's connections for `append_one`: a server's threads append at once, and a request that
# found the one connection busy took the general path (a transaction of its own, under the ledger's
# guard): 60% of them at 32 clients, measured. Beyond these, a busy process takes the general path.
DIRECT_CONNECTIONS = 4

_Direct = tuple[PoolProxiedConnection, ledger_store.DirectAppender]

# How many forks made this process (0 in the one started): a recorder's connections belong to the
# process of the count it was made with. Read on every `append_one`, where `os.getpid()` was a
# system call each time, twice (0.3-0.9 us each on this 2-core machine, measured).
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class PostgresLedgerRecorder(_SqlRecorder):
    """PostgreSQL: the general path, and `append_one` in one round trip on a connection of this
    recorder's own in autocommit mode (up to `DIRECT_CONNECTIONS` a process, kept out of the pool's
    churn)."""

    appends_one_directly = True

    @property
    def direct_appends(self) -> int:
        return DIRECT_CONNECTIONS  # read when asked, as `_take` reads it: the two agree

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        # The idle connections and how many are open, of the process `_forks` counted: a connection
        # must not cross a fork, so a child process opens its own and never uses (nor closes) its
        # parent's.
        self._forks = _forks
        self._idle: list[_Direct] = []
        self._opened = 0
        self._direct_lock = threading.Lock()

    @property
    def direct_connection(self) -> object | None:
        """The connection `append_one` would use next in this process, if open (for tests)."""
        with self._direct_lock:
            return self._idle[-1][0] if self._idle and self._forks == _forks else None

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        """On a connection of `append_one`'s (autocommit: no BEGIN nor ROLLBACK), which the append
        that follows then finds idle and takes: one round trip where a read transaction took five,
        and no checkout of its own. The read transaction's way when none is free, or on failure."""
        direct = self._take()
        if direct is None:
            return self._read_start(project, of_format)
        raw, appender = direct
        try:  # the ignore: as in `_take`, the raw connection has a driver connection
            if appender.prepared:
                with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                    found = start_of(cursor, self.database.engine.dialect, project, of_format)
            else:
                found = self._start_and_prepare(raw.driver_connection, appender, project, of_format)
        except Exception:  # noqa: BLE001 - the connection may be broken: drop it, the general read says why
            self._discard(raw)
            return self._read_start(project, of_format)
        self._give_back(direct)
        return found

    def _start_and_prepare(
        self, driver: Any, appender: ledger_store.DirectAppender, project: str, of_format: str
    ) -> ColdStart:
        """`start_of` on a connection whose `append_one` statement is not prepared yet (a new
        process's): the PREPARE goes with the read, in one round trip (libpq's pipeline mode),
        where it was a round trip of its own before the first append, as long as the append."""
        if text_problem(project) is not None:
            return ColdStart(0, None, [])
        pgconn = driver.pgconn
        encoding = driver.info.encoding
        parameters = [project.encode(encoding), of_format.encode(encoding)]
        prepared, read = _pipelined(  # a sync each: a PREPARE done before (42P05) fails alone
            pgconn,
            appender.send_prepare,
            lambda: pgconn.send_query_params(START_SQL_NUMBERED.encode(encoding), parameters),
        )
        appender.prepared_by(prepared)
        if read.status != _TUPLES_OK:
            raise RuntimeError(f"the state's start was not read: {read.error_message!r}")
        from psycopg.adapt import Transformer

        loading = Transformer(driver)
        loading.set_pgresult(read)
        rows = loading.load_rows(0, read.ntuples, tuple)
        return started(rows, self.database.engine.dialect, project, of_format)

    def append_one(self, row: Row, totals: StoredSnapshot | None = None) -> bool:
        """False also when every connection is busy in other threads or anything fails (a failed
        connection is discarded; the general path then says what is wrong, in its own words). A
        `totals` snapshot goes in the append's round trip (`_append_keeping`); on a connection
        whose append is not prepared yet, the PREPARE goes first."""
        direct = self._take()
        if direct is None:
            return False
        raw, appender = direct
        try:
            if totals is None:
                recorded = appender.append(row)
            else:
                appender.prepare()
                recorded = self._append_keeping(raw.driver_connection, appender, row, totals)
        except Exception:  # noqa: BLE001 - the connection may be broken: drop it, the general path retries
            self._discard(raw)
            return False
        self._give_back(direct)
        return recorded

    @staticmethod
    def _append_keeping(
        driver: Any, appender: ledger_store.DirectAppender, row: Row, totals: StoredSnapshot
    ) -> bool:
        """The totals snapshot's INSERT (`snapshot_store.KEEP_TOTALS_SQL`) and the append in one
        round trip (libpq's pipeline mode), each its own transaction (a sync after each): where a
        round trip of its own after the append cost one single append in `TOTALS_EVERY` some
        0.3-0.4 ms (issue 18). Whether the row went in; the snapshot's failure is not the append's.
        Waited for on the socket with the interpreter's lock released (`_result_ready`).

        The snapshot's transaction commits without waiting for its WAL to reach the disk
        (`_QUICK_COMMIT`): the append's commit, right after it, flushes the WAL up to its own record
        and so the snapshot's with it. One flush a round trip where there were two, which took the
        pair to about twice a single append's time (issue 18). Should the append fail and the
        server then crash before its WAL is flushed, the snapshot may be lost: derived data, which
        the next multiple of `TOTALS_EVERY` writes again."""
        pgconn = driver.pgconn
        encoding = driver.info.encoding
        parameters = [
            totals.project.encode(encoding),
            str(totals.version).encode(),
            totals.format.encode(encoding),
            totals.state,
        ]

        def send_totals() -> int:
            pgconn.send_query_params(_QUICK_COMMIT, None)
            pgconn.send_query_params(
                snapshot_store.KEEP_TOTALS_SQL.encode(encoding),
                parameters,
                list(snapshot_store.KEEP_TOTALS_TYPES),
                [0, 0, 0, 1],  # the state's bytes in binary
            )
            return 2

        _, appended = _pipelined(pgconn, send_totals, lambda: appender.send_append(row))
        return appender.recorded(appended)

    def _take(self) -> _Direct | None:
        with self._direct_lock:
            if self._forks != _forks:  # a forked child: its parent's connections are not its own
                self._forks, self._idle, self._opened = _forks, [], 0
            if self._idle:
                return self._idle.pop()
            if self._opened >= DIRECT_CONNECTIONS:
                return None
            self._opened += 1
        try:
            raw = self.database.engine.raw_connection()
        except Exception:  # noqa: BLE001 - no direct connection: the general path appends, or says why not
            self._forget()
            return None
        try:  # the ignore: `driver_connection` is typed Optional; a raw connection has one
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            return raw, ledger_store.DirectAppender(raw.driver_connection)
        except Exception:  # noqa: BLE001 - as above: the general path takes the append
            self._discard(raw)
            return None

    def _give_back(self, direct: _Direct) -> None:
        with self._direct_lock:
            if self._forks == _forks:
                self._idle.append(direct)

    def _discard(self, raw: PoolProxiedConnection) -> None:
        raw.invalidate()
        self._forget()

    def _forget(self) -> None:
        with self._direct_lock:
            self._opened = max(self._opened - 1, 0)

    def close(self) -> None:
        with self._direct_lock:
            idle = self._idle if self._forks == _forks else []
            self._idle, self._opened = [], 0
        for raw, _ in idle:
            try:  # the ignore: as in `_take`, the raw connection has a driver connection
                raw.driver_connection.autocommit = False  # type: ignore[union-attr]
                raw.close()
            except Exception:  # noqa: BLE001 - closing at exit: a broken connection is thrown away
                raw.invalidate()


_TUPLES_OK = 2  # libpq's ExecStatus (psycopg.pq), psycopg being imported only when used

# Sent first in a transaction whose commit need not wait for the disk (derived data): to its end,
# its commit returns once its WAL is written, not flushed (`synchronous_commit`, local to it).
_QUICK_COMMIT = b"SELECT set_config('synchronous_commit', 'off', true)"


def _pipelined(pgconn: Any, *senders: Callable[[], int | None]) -> list[Any]:
    """Each sender's statements in one round trip (libpq's pipeline mode), a sync after each
    sender's: each sender's its own transaction (autocommit), one that fails failing alone. A sender
    says how many statements it queued (None: one). The result of each sender's last statement,
    in order."""
    pgconn.enter_pipeline_mode()
    try:
        counts = []
        for send in senders:
            counts.append(send() or 1)
            pgconn.pipeline_sync()
        _flushed(pgconn)
        results = []
        for count in counts:
            queued = [_next_result(pgconn) for _ in range(count + 1)]  # its statements, then its sync
            if queued[-1] is None or queued[-1].status != _PIPELINE_SYNC:
                raise RuntimeError("libpq's pipeline gave results out of step with the statements sent")
            results.append(queued[-2])
        end = _next_result(pgconn)
    finally:
        pgconn.exit_pipeline_mode()
    if end is not None:
        raise RuntimeError("libpq's pipeline gave more results than were asked for")
    return results


def _flushed(pgconn: Any) -> None:
    """Send what libpq still holds of the pipeline (psycopg's connections are non-blocking, so a
    sync's flush may leave some), waiting on the socket with the interpreter's lock released."""
    while pgconn.flush():
        select.select([], [pgconn.socket], [])


def _result_ready(pgconn: Any) -> Any:
    """The pipeline's next result, waited for on the socket (`select` releases the interpreter's
    lock): psycopg's binary `get_result` blocks in libpq holding it, and the PREPARE of the
    append's INSERT waits for the append lock (its parsing takes ROW EXCLUSIVE on `events`), which
    another thread of this process may hold and could then never release (a test's deadlock)."""
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()


def _next_result(pgconn: Any) -> Any:
    """The next result of a pipeline: a query's, then None at its end; a sync's alone."""
    result = _result_ready(pgconn)
    if result is not None and result.status != _PIPELINE_SYNC:
        end = _result_ready(pgconn)
        if end is not None:
            raise RuntimeError("libpq's pipeline gave a query two results")
    return result


_PIPELINE_SYNC = 10


def recorder_for(database: Database) -> LedgerRecorder:
    """The recorder of `database`'s backend (another backend SQLAlchemy speaks gets the general
    path, on portable SQL, as SQLite's)."""
    if database.dialect == "postgresql":
        return PostgresLedgerRecorder(database)
    return SQLiteLedgerRecorder(database)

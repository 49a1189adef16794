"""Engines and transactions for both backends: SQLite (embedded default) and PostgreSQL.

A write transaction on PostgreSQL takes `LOCK TABLE events IN EXCLUSIVE MODE` before it reads the
heads it validates against and holds it to commit (through `ktpledger_lock_events()`, migration
0011, so a service role that may only INSERT and SELECT the ledger can take it). That serialises appends (readers are not
blocked), so positions are assigned and become visible in the same order: a reader that bookmarks
"after position P" never misses an event that commits later with a lower number. On SQLite a write
transaction is `BEGIN IMMEDIATE`, which takes the database's one write lock for the same effect.

Appends are latency-bound on PostgreSQL, so the append transaction saves round trips: with psycopg,
BEGIN, the LOCK and the first read under it go to the server together (a pipeline), and a pooled
connection is pinged before use only when it has been idle for a while.

Driver errors stop here: every engine `build_engine` makes raises ktpledger's own errors
(`adapters/errors.py`) for a bad URL, a connect, a statement or a commit that fails.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from ktpledger.adapters.errors import BackendError, bad_url, translated

WRITE_OPTION = "ktpledger_write"
# `LOCK TABLE events IN EXCLUSIVE MODE`, taken as the table's owner: the statement itself needs
# UPDATE, DELETE or TRUNCATE on `events`, which the service's role does not have (migration 0011).
LOCK_EVENTS = "SELECT ktpledger_lock_events()"
PING_AFTER_IDLE = 1.0  # seconds a pooled connection may rest before it is pinged on checkout
_IDLE_SINCE = "ktpledger_idle_since"
_OWN_BEGIN = "ktpledger_own_begin"


def build_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, set up for the ledger's locking on its backend, that raises ktpledger's
    errors (`BadDatabaseUrl` for an URL it cannot use; see `_translate_errors`)."""
    try:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url, **kwargs)
        else:
            pre_ping = kwargs.pop("pool_pre_ping", None)
            engine = create_engine(url, pool_pre_ping=bool(pre_ping), **kwargs)
            if pre_ping is None:
                _ping_when_idle(engine)
    except ArgumentError as error:  # does not parse, or names a dialect not installed
        raise bad_url(error) from error
    _translate_errors(engine)
    return engine


def _translate_errors(engine: Engine) -> None:
    """Every driver error of `engine` (connecting, executing, committing) raised as ktpledger's
    `BackendError` (`errors.translated`), from the driver's error, after SQLAlchemy has done its
    own handling (a lost connection is invalidated as before)."""

    @event.listens_for(engine, "handle_error")
    def _handle_error(context: ExceptionContext) -> BackendError | None:
        wrapped = context.sqlalchemy_exception
        # A failed pre-ping is the pool's to answer (it catches SQLAlchemy's error and reconnects).
        if context.is_pre_ping or not isinstance(wrapped, DBAPIError):
            return None
        return translated(wrapped)


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping`, but a connection checked in less than
    `PING_AFTER_IDLE` seconds ago is not pinged: a burst of appends pays no extra round trip each,
    and a connection that died while resting (a server restart, an idle timeout) is still replaced."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (up to three times).
            raise DisconnectionError(f"connection lost while idle: {error}") from error


def lock_events(
    connection: Connection, then: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, ...]]:
    """Take the append lock in a write transaction opened with `Database.write(lock=False)`, then
    run `then` (a driver-level query and its parameters) under it; returns the rows of `then`.

    PostgreSQL: `LOCK TABLE events IN EXCLUSIVE MODE` (`LOCK_EVENTS`). With psycopg, BEGIN, the LOCK and `then` go
    as one simple-protocol query (`then`'s parameters bound client-side, as psycopg quotes them):
    one round trip where there would be three. SQLite: the transaction's `BEGIN IMMEDIATE` already
    holds the lock, so only `then` runs.
    """
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return _lock_events_psycopg(connection, then)
    if dialect.name == "postgresql":
        connection.exec_driver_sql(LOCK_EVENTS)
    if then is None:
        return []
    return [tuple(row) for row in connection.exec_driver_sql(then[0], tuple(then[1])).fetchall()]


def _lock_events_psycopg(
    connection: Connection, then: tuple[str, Sequence[Any]] | None
) -> list[tuple[Any, ...]]:
    import psycopg
    from psycopg.pq import TransactionStatus

    record = connection.connection
    # The ignores below: SQLAlchemy types `driver_connection` Optional (None once detached) and Any;
    # a checked-out connection of the psycopg dialect has psycopg's.
    driver = record.driver_connection
    statements = [LOCK_EVENTS]
    with driver_errors(connection, LOCK_EVENTS), psycopg.ClientCursor(driver) as cursor:  # type: ignore[arg-type]
        if then is not None:
            statements.append(cursor.mogrify(then[0], then[1]))
        if not driver.autocommit and driver.info.transaction_status == TransactionStatus.IDLE:  # type: ignore[union-attr]
            # psycopg would send a BEGIN of its own first, a round trip alone: send it with the rest
            # instead. The connection is in autocommit mode (no implicit BEGIN) until the
            # transaction ends; `Database.write` then restores it.
            driver.autocommit = True  # type: ignore[union-attr]
            record.info[_OWN_BEGIN] = True
            statements.insert(0, "BEGIN")
        cursor.execute("; ".join(statements), prepare=False)
        if then is None:
            return []
        for _ in range(len(statements) - 1):
            cursor.nextset()  # to the result of `then`, the last statement
        return [tuple(row) for row in cursor.fetchall()]


def _end_own_begin(connection: Connection) -> None:
    """Back to the driver's usual mode after a transaction `lock_events` began itself; a connection
    that cannot be put back (it was lost mid-transaction) is discarded rather than pooled."""
    if connection.invalidated or not connection.connection.info.pop(_OWN_BEGIN, False):
        return
    try:  # the ignore: a checked-out connection's `driver_connection` is never None (typed Optional)
        connection.connection.driver_connection.autocommit = False  # type: ignore[union-attr]
    except Exception as error:  # noqa: BLE001 - never pool a connection left in autocommit mode
        connection.invalidate(error)


@contextmanager
def driver_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Raise an error of the driver, used directly, as an engine's statement would have raised it
    (a `WriteConflict` for a unique violation...), invalidating the connection if it was lost."""
    dialect = connection.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        raw = connection.connection.dbapi_connection
        lost = dialect.is_disconnect(error, raw, None)
        if lost:
            connection.invalidate(error)
        wrapped = DBAPIError.instance(
            statement, None, error, dbapi_error, connection_invalidated=lost, dialect=dialect
        )
        raise (translated(wrapped) if isinstance(wrapped, DBAPIError) else wrapped) from error


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("an in-memory SQLite ledger would vanish with its process: give a file path")
    # Pooled connections keep SQLite's parsed schema between transactions: a connection opened per
    # checkout cost ~350 us of each single append. Overflow is unbounded, as SQLite's own locks, not
    # the pool, decide who waits; connections beyond the pool's five close when they come back.
    # The connection given back last is taken first: in WAL mode a connection drops its page cache
    # whenever another one has written since its last transaction, so handing them out in turn
    # (the pool's default) had each append of a lone writer read its pages afresh; the same one
    # each time made a single append 9% faster (0.27 -> 0.245 ms, 3 alternated runs; issue 18).
    kwargs.setdefault("poolclass", QueuePool)
    if kwargs["poolclass"] is QueuePool:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", -1)
        kwargs.setdefault("pool_use_lifo", True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **kwargs)
    keeper = _WalKeeper(engine) if engine.dialect.driver == "pysqlite" else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["pid"] = os.getpid()
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is too late and DEFERRED).
        dbapi_connection.isolation_level = None
        _configure_sqlite(dbapi_connection)
        if keeper is not None:
            keeper.ensure()

    @event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        # An SQLite connection must not cross a fork: the child drops (never closes) the parent's
        # pooled connections and opens its own.
        if record.info.get("pid") != os.getpid():
            # SQLAlchemy's own recipe (Pooling: "Using Connection Pools with Multiprocessing"). The
            # interfaces declare `dbapi_connection` under empty __slots__; their implementations
            # (_ConnectionRecord, _ConnectionFairy) hold it, so mypy sees no slot for it.
            record.dbapi_connection = proxy.dbapi_connection = None  # type: ignore[misc]
            raise DisconnectionError("an SQLite connection opened before a fork is not used after it")

    if keeper is not None:

        @event.listens_for(engine, "engine_disposed")
        def _on_disposed(_engine: Engine) -> None:
            keeper.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _configure_sqlite(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


class _WalKeeper:
    """One idle connection to an engine's SQLite file, open while the engine is in use.

    When the last connection to a WAL database closes, SQLite checkpoints the WAL into the database
    (with an fsync) and deletes it: about a millisecond, whatever the transaction did, each time a
    process's only connection comes back closed (with no pool, or the pool's last overflow, or a
    pool a caller disabled). While the keeper is open no other close is the
    last one: the WAL is checkpointed as SQLite otherwise does (every 1000 pages, and when the keeper
    closes), and an append costs what its own commit costs. Locking and durability are unchanged:
    the keeper never starts a transaction. An open SQLite connection must not cross a fork, so every
    keeper is closed before the process forks and reopened by the next checkout; the engine's
    disposal closes it for good."""

    def __init__(self, engine: Engine) -> None:
        arguments, options = engine.dialect.create_connect_args(engine.url)
        self._connect: Callable[[], Any] = lambda: engine.dialect.loaded_dbapi.connect(
            *arguments, **{**options, "timeout": 60, "check_same_thread": False}
        )
        self._connection: Any = None
        _KEEPERS.add(self)

    def ensure(self) -> None:
        if self._connection is not None:
            return
        with _KEEPER_LOCK:
            if self._connection is None:
                connection = self._connect()
                connection.isolation_level = None
                _configure_sqlite(connection)
                self._connection = connection

    def close(self) -> None:
        with _KEEPER_LOCK:
            self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


_KEEPERS: weakref.WeakSet[_WalKeeper] = weakref.WeakSet()
_KEEPER_LOCK = threading.Lock()


def _close_keepers_before_fork() -> None:
    _KEEPER_LOCK.acquire()  # held across the fork: no keeper opens meanwhile
    for keeper in list(_KEEPERS):
        try:
            keeper._close()
        except Exception:  # noqa: BLE001 - a keeper that cannot close must not stop the fork
            keeper._connection = None


os.register_at_fork(
    before=_close_keepers_before_fork,
    after_in_parent=_KEEPER_LOCK.release,
    after_in_child=_KEEPER_LOCK.release,
)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names, or None (another database, an in-memory one, a bad URL)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # building the engine reports it
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        if "mode=memory" in name:
            return None
        name = name.removeprefix("file:").split("?", 1)[0]
    return Path(name)


def shown_url(url: str) -> str:
    """`url` for messages: its password hidden (as given when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class Database:
    """One engine and the two kinds of transaction the ledger needs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @property
    def embedded(self) -> bool:
        """An embedded database (SQLite: a file of this process's own, created and migrated on
        first use), as against a server's, which is set up on purpose (`ktpledger db upgrade`)."""
        return self.dialect == "sqlite"

    @property
    def has_roles(self) -> bool:
        """Whether the database has roles to grant privileges to (PostgreSQL; SQLite has none)."""
        return self.dialect == "postgresql"

    @property
    def shown_url(self) -> str:
        """The database's URL for messages: its password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def ping(self) -> None:
        """One round trip to the database (`/health`): raises `DatabaseUnavailable` if it is away."""
        with self.read() as connection:
            connection.exec_driver_sql("SELECT 1")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction, rolled back at the end."""
        with self.engine.connect() as connection, connection.begin() as transaction:
            yield connection
            transaction.rollback()

    @contextmanager
    def write(self, *, lock: bool = True) -> Iterator[Connection]:
        """A write transaction holding the append lock; rolled back unless the block commits it
        with `connection.commit()`. With `lock=False` the block must take the lock itself, before
        it reads anything, with `lock_events` (which can send its first read along with it)."""
        with self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            transaction = connection.begin()
            try:
                if lock:
                    lock_events(connection)
                yield connection
            finally:
                try:
                    if transaction.is_active:
                        transaction.rollback()
                finally:
                    _end_own_begin(connection)

    @contextmanager
    def projection(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """A write transaction on the projection tables (never the append lock); rolled back unless
        the block commits it. `exclusive` keeps every catch-up out, for a full rebuild."""
        with self.engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            transaction = connection.begin()
            try:
                if self.dialect == "postgresql" and exclusive:
                    connection.exec_driver_sql(
                        "LOCK TABLE projection_heads, allowance_lines, alerts IN EXCLUSIVE MODE"
                    )
                yield connection
            finally:
                if transaction.is_active:
                    transaction.rollback()

    def commit_projection(self, connection: Connection, *, durable: bool = True) -> None:
        """Commit a `projection` transaction. `durable=False` lets PostgreSQL acknowledge the commit
        before its WAL reaches the disk: for derived rows only, which a crash can at worst take back
        to an earlier consistent state that the next catch-up redoes from the ledger. Said just
        before the commit, so that a catch-up that finds nothing to write (and commits nothing)
        does not pay the round trip."""
        if not durable and self.dialect == "postgresql":
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
        connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()

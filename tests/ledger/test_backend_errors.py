"""Driver errors reach the callers of the adapters as ktpledger's own (adapters/errors.py), each
from the driver's error and saying what happened: a bad URL, a server away, a refused value, a
conflicting write, on the paths that go through SQLAlchemy and those that use the driver directly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from ktpledger.adapters import ledger_store, snapshot_store
from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.errors import (
    BackendDataError,
    BackendError,
    BadDatabaseUrl,
    DatabaseUnavailable,
    WriteConflict,
)
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import parse_event
from ktpledger.domain.snapshot import StoredSnapshot
from ktpledger.service.ledger import Ledger, new_row
from ktpledger.service.schema import ensure_schema, upgrade
from tests.conftest import free_port
from tests.ledger.factory import PROJECT, claim, offer


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database holding the offer and one claim of PROJECT (versions 1 and 2)."""
    opened = Database(build_engine(database_url))
    upgrade(opened)
    ledger = Ledger(opened)
    ledger.append([offer(), claim("c1")])
    ledger.close()
    yield opened
    opened.dispose()


def rows_after(database: Database, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chained rows of `events` appended onto PROJECT's head, as the ledger would insert them."""
    state = Ledger(database).state(PROJECT)
    now = datetime.now(UTC)
    rows = []
    for item in events:
        event = parse_event(item)
        row = new_row(event, state, now, format_instant(now))
        state.apply(event, row["version"], row["hash"])
        rows.append(row)
    return rows


@pytest.mark.parametrize("url", ["not a database url", "nosuchbackend://host/db"])
def test_a_url_that_cannot_be_used_is_a_bad_database_url(url: str) -> None:
    with pytest.raises(BadDatabaseUrl) as caught:
        build_engine(url)
    error = caught.value
    assert isinstance(error, BackendError)
    assert error.__cause__ is not None and type(error.__cause__).__module__.startswith("sqlalchemy")
    assert str(error.__cause__) in error.message  # SQLAlchemy's words say what is wrong with it


def test_a_server_that_is_not_there_is_unavailable() -> None:
    database = Database(build_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"))
    try:
        with pytest.raises(DatabaseUnavailable) as caught, database.read() as connection:
            connection.execute(text("SELECT 1"))
        error = caught.value
        assert isinstance(error.__cause__, psycopg.OperationalError)
        assert error.driver_message == str(error.__cause__)
        assert error.message.startswith("cannot use the database: ")
        # the schema check of every command meets it first, in the same words
        with pytest.raises(DatabaseUnavailable):
            ensure_schema(database)
    finally:
        database.dispose()


def test_an_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    database = Database(build_engine(f"sqlite:///{tmp_path}/no/such/folder/ledger.db"))
    try:
        with pytest.raises(DatabaseUnavailable) as caught, database.read() as connection:
            connection.execute(text("SELECT 1"))
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_value_postgresql_refuses_is_a_data_error(postgres_url: str) -> None:
    """PostgreSQL stores no NUL in text: through SQLAlchemy and through the driver used directly."""
    database = Database(build_engine(postgres_url))
    try:
        upgrade(database)
        with pytest.raises(BackendDataError) as through_sqlalchemy, database.write() as connection:
            connection.execute(text("SELECT CAST(:value AS text)"), {"value": "a\x00b"})
        [row] = rows_after(database, [offer()])
        with pytest.raises(BackendDataError) as direct, database.write() as connection:
            ledger_store.insert(connection, [{**row, "key": "a\x00b"}])
        for caught in (through_sqlalchemy, direct):
            assert isinstance(caught.value.__cause__, psycopg.DataError)
            assert (
                caught.value.message == f"the database cannot store this input: {caught.value.driver_message}"
            )
    finally:
        database.dispose()


@pytest.mark.parametrize("count", [1, 2, ledger_store.COPY_FROM_ROWS])
def test_a_row_recorded_first_by_another_writer_is_a_write_conflict(database: Database, count: int) -> None:
    """Version 3 of PROJECT taken by another writer: the rows chained onto version 2 conflict, by
    INSERT, by executemany, and by COPY (PostgreSQL, a batch of `COPY_FROM_ROWS`)."""
    rows = rows_after(database, [claim(f"mine-{n}") for n in range(count)])
    [theirs] = rows_after(database, [claim("theirs")])
    with database.write() as connection:
        ledger_store.insert(connection, [theirs])
        connection.commit()
    with pytest.raises(WriteConflict) as caught, database.write() as connection:
        ledger_store.insert(connection, rows)
        connection.commit()
    cause = caught.value.__cause__
    assert isinstance(cause, sqlite3.IntegrityError | psycopg.errors.UniqueViolation)
    assert caught.value.message.startswith("the database refused a conflicting write: ")
    with database.read() as connection:
        assert [item.key for item in ledger_store.stream(connection, PROJECT)] == ["offer", "c1", "theirs"]


@pytest.mark.parametrize(
    "count",
    [0, 1, ledger_store.COPY_FROM_ROWS - 1, ledger_store.COPY_FROM_ROWS, ledger_store.COPY_FROM_ROWS + 3],
)
def test_rows_given_as_they_are_made_are_all_inserted(database: Database, count: int) -> None:
    """`insert` takes rows from an iterator as it yields them (the ledger streams a batch into the
    COPY as it decides it): however many, each is stored once, in order, whichever way they go in."""
    rows = rows_after(database, [claim(f"mine-{n}") for n in range(count)])
    taken: list[int] = []

    def made() -> Iterator[dict[str, Any]]:
        for row in rows:
            taken.append(row["version"])
            yield row

    with database.write() as connection:
        ledger_store.insert(connection, made())
        connection.commit()
    assert taken == [row["version"] for row in rows]
    with database.read() as connection:
        stored = ledger_store.stream(connection, PROJECT)
    assert [item.key for item in stored] == ["offer", "c1"] + [f"mine-{n}" for n in range(count)]
    assert [item.hash for item in stored[2:]] == [row["hash"] for row in rows]


@pytest.mark.parametrize("claims", [b"", b"claims"], ids=["totals", "full"])
def test_a_snapshot_the_database_refuses_saves_none_of_its_batch_and_keeps_those_before(
    database: Database, claims: bytes
) -> None:
    """`snapshot_store.save` through each backend's own path (SQLite's plain statements on the
    driver, PostgreSQL's one statement for totals snapshots): a snapshot the database refuses (no
    state: the column is NOT NULL) is the backend's error from the driver's, and the transaction
    holds nothing of the batch; the snapshots kept before are as they were."""
    now = datetime.now(UTC)
    kept = StoredSnapshot(PROJECT, 1, "f", b"state 1", b"claims 1")
    with database.write() as connection:
        snapshot_store.save(connection, [kept], now)
        connection.commit()
    good = StoredSnapshot(PROJECT, 2, "f", b"state 2", claims)
    bad = StoredSnapshot("KTP-OTHER", 2, "f", None, claims)  # type: ignore[arg-type]
    with pytest.raises(BackendError) as caught, database.write() as connection:
        snapshot_store.save(connection, [good, bad], now)
    assert caught.value.driver_message and isinstance(caught.value.__cause__, (sqlite3.Error, psycopg.Error))
    with database.read() as connection:
        assert list(snapshot_store.every(connection)) == [kept]


def test_a_head_snapshot_the_database_refuses_keeps_none_of_its_catch_up_s(database: Database) -> None:
    """`snapshot_store.keep_heads` (a catch-up's totals snapshots at the heads it moved) on each
    backend: two of one project are refused before anything is sent; one the database refuses
    (no state) is the backend's error from the driver's, and the transaction keeps none of them;
    the snapshots kept before are as they were."""
    now = datetime.now(UTC)
    kept = StoredSnapshot(PROJECT, 1, "f", b"state 1", b"")
    with database.write() as connection:
        snapshot_store.keep_heads(connection, [kept], {}, now)
        connection.commit()
    good = StoredSnapshot(PROJECT, 2, "f", b"state 2")
    with pytest.raises(ValueError, match="one snapshot a project"), database.write() as connection:
        snapshot_store.keep_heads(connection, [good, good], {PROJECT: 1}, now)
    bad = StoredSnapshot("KTP-OTHER", 2, "f", None)  # type: ignore[arg-type]
    with pytest.raises(BackendError) as caught, database.write() as connection:
        snapshot_store.keep_heads(connection, [good, bad], {PROJECT: 1}, now)
    assert caught.value.driver_message and isinstance(caught.value.__cause__, (sqlite3.Error, psycopg.Error))
    with database.read() as connection:
        assert list(snapshot_store.every(connection)) == [kept]

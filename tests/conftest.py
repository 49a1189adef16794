"""Fixtures for both backends. The PostgreSQL and Redis tests fail rather than skip when CI=true."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ktpledger.adapters.database import Database, build_engine
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "KTPLEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _redis_url() -> str:
    """KTPLEDGER_TEST_REDIS_URL, else database 15 of the local Redis; under pytest-xdist (`make
    test` runs one worker per core) each worker its own database counting down from 15 (gw0: 15,
    gw1: 14, ...), so one worker's flush or Celery queue never reaches another's."""
    given = os.environ.get("KTPLEDGER_TEST_REDIS_URL")
    if given:
        return given
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    return f"redis://127.0.0.1:6379/{15 - index % 12}"  # 15 down to 4; a local Redis has 16


REDIS_URL = _redis_url()


def unavailable(service: str, error: BaseException) -> None:
    """Skip on a developer's machine; fail in CI, where the service must be there."""
    message = f"{service} is not available: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests of the services and tools .ci/run provides must run)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> str:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means the service is missing
        unavailable("PostgreSQL on 127.0.0.1:5432 (database test)", error)
    finally:
        engine.dispose()
    return POSTGRES_URL


# A test that uses an `app` (or `sqlite_app`) fixture on SQLite starts from a ledger already migrated to head, a copy
# of one migrated once per test process: migrating each test's file took some 70 ms, a minute and
# more of the suite. Its `upgrade` then finds the schema at head. (On PostgreSQL a database made
# from a migrated template measured slower over the suite than a fresh schema migrated: making and
# dropping a database costs the server as much as the migration saves.)
MIGRATED_FOR = {"app", "sqlite_app"}


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite ledger migrated to head, its write-ahead log folded in (the file is copied)."""
    path = tmp_path_factory.mktemp("migrated") / "ledger.db"
    application = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    try:
        upgrade(application.database)
    finally:
        application.close()
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    path = tmp_path / "ledger.db"
    if MIGRATED_FOR.intersection(request.fixturenames):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


def _upgraded(url: str) -> Iterator[Database]:
    database = Database(build_engine(url))
    try:
        upgrade(database)
        yield database
    finally:
        database.dispose()


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    """A SQLite ledger opened on `sqlite_url`, migrated to head, disposed after the test."""
    yield from _upgraded(sqlite_url)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[Database]:
    """A PostgreSQL ledger in `postgres_url`'s fresh schema, migrated to head, disposed after the test."""
    yield from _upgraded(postgres_url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each ledger contract test runs once per backend."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    application = bootstrap(Settings(database_url=database_url))
    upgrade(application.database)
    yield application
    application.close()

"""Fixtures for both backends. The PostgreSQL and Redis tests fail rather than skip when CI=true."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


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

"""The API answers ktpledger's backend errors as it answered the driver's: a database that cannot be
used is 503 with Retry-After, a value the database refuses is 422 (R-30) naming why."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError, OperationalError

from ktpledger.adapters.errors import translated
from ktpledger.api import errors
from ktpledger.api.app import create_app
from ktpledger.bootstrap import bootstrap
from ktpledger.settings import Settings
from tests.conftest import free_port


def answering(error: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_a_database_that_cannot_be_used_is_503_with_retry_after() -> None:
    unavailable = translated(OperationalError("SELECT 1", None, ConnectionRefusedError("connection refused")))
    reply = answering(unavailable).get("/fail")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert reply.json() == {
        "error": {"rule": "database", "message": "the ledger's database cannot be used just now; try again"}
    }


def test_a_value_the_database_refuses_is_422_naming_why() -> None:
    refused = translated(DataError("INSERT", None, ValueError("text fields cannot contain NUL (0x00) bytes")))
    reply = answering(refused).get("/fail")
    assert reply.status_code == 422
    assert reply.json() == {
        "error": {
            "rule": "R-30",
            "message": "the database cannot store this input: text fields cannot contain NUL (0x00) bytes",
        }
    }


def test_a_server_that_is_not_there_is_a_clean_503() -> None:
    application = bootstrap(
        Settings(database_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    )
    try:
        with TestClient(create_app(application), raise_server_exceptions=False) as client:
            reply = client.get("/health")
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["rule"] == "database"
    finally:
        application.close()

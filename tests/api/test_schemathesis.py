"""Property-based run of the OpenAPI schema (schemathesis) against the ASGI app on SQLite, with a
valid admin token and the demo ledger: no input the schema allows may cause a server error."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from ktpledger.api.app import create_app
from ktpledger.api.auth import create_token
from ktpledger.bootstrap import App
from ktpledger.settings import Settings
from tests.api import demo

EXAMPLES_PER_OPERATION = 120  # per operation and mode: about half a minute in all here


@pytest.fixture
def ledger(sqlite_app: App) -> App:
    results = sqlite_app.ledger.append(demo.all_events())
    assert all(result.status == "recorded" for result in results)
    return sqlite_app


@pytest.fixture
def admin_headers(ledger: App) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(ledger.database, 'admin', None, 'schemathesis')}"}


@pytest.fixture
def api(ledger: App) -> FastAPI:
    return create_app(ledger)


# The schema is the app's own OpenAPI document, made without a database (of the app object only
# its settings are read, for the request limits, until a request comes). Each case is then sent to
# the `api` fixture's app.
# (schemathesis.pytest.from_fixture does not work with pytest 9.2, whose nodes lost `_nodeid`.)
# Both modes: inputs the schema allows, and inputs it does not (a 4xx, never a 5xx, either way).
CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "all"}})
schema = schemathesis.openapi.from_dict(
    create_app(cast(App, SimpleNamespace(settings=Settings()))).openapi(), config=CONFIG
)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_input_is_a_server_error(
    case: schemathesis.Case, api: FastAPI, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=api, headers=admin_headers, checks=[not_a_server_error])

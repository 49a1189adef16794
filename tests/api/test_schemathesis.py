"""Property-based run of the OpenAPI schema (schemathesis) against the ASGI app on SQLite, with a
valid admin token and the demo ledger:

- no input, allowed by the schema or not, causes a server error (`not_a_server_error`);
- the schema is as strict as the server: every input the schema allows is accepted
  (`positive_data_acceptance`), except where the refusal depends on what the ledger holds, which
  no schema can say. Those refusals are accepted per operation, each checked to be one of them
  (`only_state_dependent_refusals`):
  - a project path or `?project=` naming a project the ledger does not have: 404 (R-31);
  - `POST /events`: 422 with a per-event result, when an event is refused for the ledger's state
    (an unknown project, a second grant offer, a line its project's methodology lacks, a budget
    over a maximum, a date outside the period, a key recorded with other content, a closed
    project ...): each refused event must parse on its own (`parse_event`), so its form is right;
  - a claim pack for a quarter outside the project's period, or before its grant offer, and
    allowances as of a day before the grant offer: 422;
  - the drill-down (`/transactions`) of a line its project does not have, or `from` after `to`: 422;
  - `POST /alerts/{alert_id}/acknowledgement`: 404 for an id no alert has, 422 for an alert
    acknowledged already (R-39);
  - `POST /imports`: 404 for an unknown project, 422 for an export or a profile refused for what
    the files hold (no schema says what a file's content is);
  - `/costing` with a virtual business and London weighting, or fec-only parameters on a non-fec
    costing: 422 (query parameters cannot depend on each other in OpenAPI).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event
from ktpledger.service.access import create_token
from ktpledger.service.json_input import parse_json
from tests.api import demo
from tests.api.openapi_document import openapi_document

EXAMPLES_PER_OPERATION = 80  # per operation, both modes: about 40 s in all here
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
PROJECT_PATHS = "^/projects/\\{project\\}/"


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


def accepts(*statuses: str) -> dict[str, Any]:
    return {"positive_data_acceptance": {"expected-statuses": list(statuses)}}


# The schema is the app's own OpenAPI document, made without a database (of the app object only
# its settings are read, for the request limits, until a request comes). Each case is then sent to
# the `api` fixture's app.
# (schemathesis.pytest.from_fixture does not work with pytest 9.2, whose nodes lost `_nodeid`.)
# Both modes: inputs the schema allows, and inputs it does not (a 4xx, never a 5xx, either way).
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all"},
        "checks": accepts("2xx"),  # an admin token: never 401 or 403
        "operations": [
            {"include-name": "GET /projects/{project}/claim-pack", "checks": accepts("200", "404", "422")},
            {"include-name": "GET /projects/{project}/allowances", "checks": accepts("200", "404", "422")},
            {"include-name": "GET /projects/{project}/transactions", "checks": accepts("200", "404", "422")},
            {"include-path-regex": PROJECT_PATHS, "checks": accepts("200", "404")},
            {"include-name": "GET /alerts", "checks": accepts("200", "404")},
            {"include-name": "POST /events", "checks": accepts("200", "422")},
            {"include-name": "POST /imports", "checks": accepts("200", "404", "422")},
            {"include-name": "GET /costing", "checks": accepts("200", "422")},
            {"include-name": "POST /notifications/resend", "checks": accepts("200", "422")},
            {
                "include-name": "POST /alerts/{alert_id}/acknowledgement",
                "checks": accepts("200", "404", "422"),
            },
        ],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


# Refusals of a grant offer that parses that are about its form all the same, which the schema
# says: the offer's date before the first rule set, months out of range, a virtual business with
# London weighting, the derived overheads line, lines or parameters of the other methodology.
FORM_REFUSALS = (
    "no KTP costs guidance ktpledger knows was in force",
    "months must be between",
    "cannot claim London weighting",
    "knowledge_base_overheads is derived from the other lines and must not be given",
    "the lines of a ",
    "applies to fec projects only",
)


def refused_for_its_form(raw: object, error: dict[str, Any]) -> str | None:
    """Why a refused event's form alone was wrong (so the schema should have refused it), or None
    when the refusal depends on the ledger's state."""
    try:
        parse_event(parse_json(json.dumps(raw)))  # read as the server reads it: numbers as decimals
    except RuleViolation as violation:
        return f"{violation.rule}: {violation.message}"
    message = f"{error.get('rule')}: {error.get('message')}"
    return message if any(form in message for form in FORM_REFUSALS) else None


def only_state_dependent_refusals(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """A 404 or 422 to a request the schema allows must be one the ledger's state explains."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return None
    name = case.operation.label
    body = json.loads(response.content or b"null")
    if name == "POST /imports":
        # The export's and the profile's contents are files: what is in them, no schema says.
        assert response.status_code in (404, 422), response.status_code
        assert "rows" in body or body["error"]["rule"].startswith("R-"), body
        return None
    if name == "POST /alerts/{alert_id}/acknowledgement":
        # Which ids the ledger has alerts for, and which are acknowledged already, no schema says.
        message = str(body["error"]["message"])
        assert body["error"]["rule"] == "R-39", body
        assert (response.status_code == 404 and "there is no alert" in message) or (
            response.status_code == 422 and "acknowledged already" in message
        ), (response.status_code, message)
        return None
    if response.status_code == 404:
        project = (case.path_parameters or {}).get("project") or (case.query or {}).get("project")
        assert isinstance(project, str) and REFERENCE.fullmatch(project), f"{name}: 404 for {project!r}"
        return None
    if name == "POST /events" and response.status_code == 422:
        submitted = case.body if isinstance(case.body, list) else [case.body]
        for result in body:
            if result.get("status") == "rejected":
                why = refused_for_its_form(submitted[result["line"] - 1], result.get("error") or {})
                assert why is None, f"the schema allows an event the server refuses for its form: {why}"
        return None
    message = str((body or {}).get("error", {}).get("message", ""))
    if name == "GET /projects/{project}/claim-pack" and response.status_code == 422:
        assert "outside the project's period" in message or "had no grant offer by" in message, message
        return None
    if name == "GET /projects/{project}/allowances" and response.status_code == 422:
        assert "had no grant offer on" in message, message
        return None
    if name == "GET /projects/{project}/transactions" and response.status_code == 422:
        # A category of the other methodology (or the derived line), or `from` after `to`.
        assert "unknown category" in message or "give from on or before to" in message, message
        return None
    if name == "POST /notifications/resend" and response.status_code == 422:
        assert "has no notification" in message, message  # alert ids the ledger has no rows for
        return None
    if name == "GET /costing" and response.status_code == 422:
        assert "cannot claim London weighting" in message or "applies to fec projects only" in message, (
            message
        )
        return None
    return None


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_input_is_a_server_error_and_the_schema_is_as_strict_as_the_server(
    case: schemathesis.Case, api: FastAPI, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        app=api,
        headers=admin_headers,
        checks=[not_a_server_error, positive_data_acceptance, only_state_dependent_refusals],
    )

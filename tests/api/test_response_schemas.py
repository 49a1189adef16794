"""Each JSON answer is what `/openapi.json` says it is: the response models (api/schemas.py,
api/statement_schemas.py) describe the bodies the read models write, checked body by body on the
demo ledger, with no field the schema does not name."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from tests.api import demo
from tests.api.conftest import bearer

pytestmark = pytest.mark.usefixtures("recorded")

PROJECTS = (demo.MAIN, demo.SECOND, demo.CLOSED)
COSTING = "/costing?methodology=fec&business_type=sme&months=24&salary=40000&supervisor_cost=80000"


def response_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The schema of the JSON answer of `method path` with `status`, able to resolve its $refs."""
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def check(document: dict[str, Any], client: TestClient, token: str, method: str, url: str, path: str) -> Any:
    response = client.request(method, url, headers=bearer(token))
    assert response.status_code == 200, (url, response.text)
    body = response.json()
    validator = jsonschema_rs.validator_for(response_schema(document, path, method, 200))
    errors = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]
    assert not errors, (url, errors[:5])
    return body


def test_every_json_answer_matches_its_response_schema(client: TestClient, tokens: dict[str, str]) -> None:
    document = client.get("/openapi.json").json()
    admin = tokens["admin"]
    assert check(document, client, admin, "get", "/projects", "/projects")
    for project in PROJECTS:
        for url, path in (
            (f"/projects/{project}/events", "/projects/{project}/events"),
            (f"/projects/{project}/allowances", "/projects/{project}/allowances"),
            (f"/projects/{project}/summary", "/projects/{project}/summary"),
            (f"/projects/{project}/summary?today=2030-01-01", "/projects/{project}/summary"),
            (f"/projects/{project}/reconciliation", "/projects/{project}/reconciliation"),
            (f"/projects/{project}/transactions", "/projects/{project}/transactions"),
            (f"/projects/{project}/transactions?from=2025-03-01", "/projects/{project}/transactions"),
        ):
            check(document, client, admin, "get", url, path)
    check(
        document,
        client,
        admin,
        "get",
        f"/projects/{demo.MAIN}/allowances?as_of=2025-06-30",
        "/projects/{project}/allowances",
    )
    pack = "/projects/{project}/claim-pack"
    for quarter in ("2025Q1", "2025Q3"):
        check(document, client, admin, "get", f"/projects/{demo.MAIN}/claim-pack?quarter={quarter}", pack)
    alerts = check(document, client, admin, "get", "/alerts?all=true&today=2030-01-01", "/alerts")
    assert any(alert["id"] is None for alert in alerts)  # the calendar's findings are checked too
    check(document, client, admin, "get", "/alerts", "/alerts")
    check(document, client, admin, "get", COSTING, "/costing")
    check(document, client, admin, "get", "/notifications?status=all", "/notifications")
    check(document, client, admin, "get", "/system-alerts?all=true", "/system-alerts")
    check(document, client, admin, "get", "/projections/failed", "/projections/failed")
    retry = "/projects/{project}/projection/retry"
    check(document, client, admin, "post", f"/projects/{demo.MAIN}/projection/retry", retry)
    check(document, client, admin, "get", "/health", "/health")


def test_every_json_route_declares_its_response_schema(client: TestClient) -> None:
    """No JSON answer of a 200 is left without a schema (the dashboard's pages are not in the document)."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation["responses"]["200"].get("content", {})
            assert content.get("application/json", {}).get("schema"), (method, path)

"""Grant claims over HTTP (R-45), on both databases: finance and admin record `ClaimSubmitted` with
`POST /events`, lmc and viewer may not; a claim not made from the project's head is refused; the
claim pack of the submitted quarter and the reconciliation match their response schemas."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.domain.claims import claim_worked
from ktpledger.service.access import create_token
from tests.api.conftest import bearer
from tests.ledger.factory import PROJECT, claim, event, offer


def body_errors(client: TestClient, path: str, body: Any) -> list[str]:
    document = client.get("/openapi.json").json()
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]


def test_claims_over_http(client: TestClient, tokens: dict[str, str], app: App) -> None:
    admin, finance = bearer(tokens["admin"]), bearer(tokens["finance"])
    story = [
        offer(date="2024-12-01", start="2025-01-01"),
        claim("cons-q1", "500.00", date="2025-02-10"),
    ]
    assert client.post("/events", json=story, headers=admin).status_code == 200
    stream = app.ledger.stream(PROJECT)
    worked = claim_worked(PROJECT, ((item.event(), item.version, item.hash) for item in stream), "2025Q1")
    worked = worked.with_narratives(dict.fromkeys(worked.lines, "as planned"))
    submitted = event("ClaimSubmitted", "claim-1", "2025-04-05", worked.data(1, stream[-1].position))
    for role in ("lmc", "viewer"):
        response = client.post("/events", json=submitted, headers=bearer(tokens[role]))
        assert response.status_code == 403, (role, response.text)
    stale = event("ClaimSubmitted", "claim-0", "2025-04-05", {**submitted["data"], "version": 1})
    response = client.post("/events", json=stale, headers=finance)
    assert response.status_code == 422
    assert response.json()[0]["error"]["rule"] == "R-45"
    response = client.post("/events", json=submitted, headers=finance)
    assert response.status_code == 200, response.text
    paid = event("GrantPayment", "pay-1", "2025-05-01", {"amount": "100.00", "claim": 1})
    assert client.post("/events", json=paid, headers=finance).status_code == 200
    pack = client.get(f"/projects/{PROJECT}/claim-pack?quarter=2025Q1", headers=finance).json()
    assert pack["submitted"]["number"] == 1
    assert not body_errors(client, "/projects/{project}/claim-pack", pack)
    statement = client.get(f"/projects/{PROJECT}/reconciliation", headers=finance).json()
    assert statement["receivables"]["grant"]["claims"][0]["paid"] == "100.00"
    assert not body_errors(client, "/projects/{project}/reconciliation", statement)


def test_claim_approvals_over_http(client: TestClient, tokens: dict[str, str], app: App) -> None:
    """R-46: finance and admin record `ClaimApproved` with `POST /events`, lmc and viewer may not
    (403, nothing recorded); `GET /projects/{p}/claims` is the claim history for any role granted
    the project, as `ktpledger claim history --format json`, matching its response schema."""
    admin, finance = bearer(tokens["admin"]), bearer(tokens["finance"])
    story = [offer(date="2024-12-01", start="2025-01-01"), claim("cons-q1", "500.00", date="2025-02-10")]
    assert client.post("/events", json=story, headers=admin).status_code == 200
    stream = app.ledger.stream(PROJECT)
    worked = claim_worked(PROJECT, ((item.event(), item.version, item.hash) for item in stream), "2025Q1")
    worked = worked.with_narratives(dict.fromkeys(worked.lines, "as planned"))
    submitted = event("ClaimSubmitted", "claim-1", "2025-04-05", worked.data(1, stream[-1].position))
    assert client.post("/events", json=submitted, headers=finance).status_code == 200
    # consumables 500.00 at 67%: 335.00 claimed; approved for 300.00 with a note.
    approval = event(
        "ClaimApproved",
        "approve-1",
        "2025-04-20",
        {"claim": 1, "amount": "300.00", "note": "receipt missing"},
    )
    version = app.ledger.stream(PROJECT)[-1].version
    for role in ("lmc", "viewer"):
        response = client.post("/events", json=approval, headers=bearer(tokens[role]))
        assert response.status_code == 403, (role, response.text)
    assert app.ledger.stream(PROJECT)[-1].version == version
    without_note = event("ClaimApproved", "approve-0", "2025-04-20", {"claim": 1, "amount": "300.00"})
    response = client.post("/events", json=without_note, headers=finance)
    assert response.status_code == 422
    error = response.json()[0]["error"]
    assert error["rule"] == "R-46" and error["message"].startswith("a note is required"), error
    response = client.post("/events", json=approval, headers=finance)
    assert response.status_code == 200, response.text
    paid = event("GrantPayment", "pay-1", "2025-05-01", {"amount": "300.01", "claim": 1})
    response = client.post("/events", json=paid, headers=finance)
    assert response.status_code == 422 and "300.00 outstanding on claim 1" in response.text

    viewer = bearer(create_token(app.database, "viewer", [PROJECT], "viewer of the project"))
    response = client.get(f"/projects/{PROJECT}/claims", headers=viewer)
    assert response.status_code == 200, response.text
    history = response.json()
    assert not body_errors(client, "/projects/{project}/claims", history)
    assert [(row["claimed"], row["approved"], row["outstanding"]) for row in history["claims"]] == [
        ("335.00", "300.00", "300.00")
    ]
    assert (history["claimed_total"], history["final_adjustment"]) == ("335.00", "0.00")
    other = bearer(create_token(app.database, "viewer", ["KTP-OTHER"], "viewer of another project"))
    assert client.get(f"/projects/{PROJECT}/claims", headers=other).status_code == 403
    assert client.get("/projects/KTP-NONE/claims", headers=admin).status_code == 404
    statement = client.get(f"/projects/{PROJECT}/reconciliation", headers=viewer).json()
    assert statement["receivables"]["grant"]["claims"][0]["approved"] == "300.00"
    assert not body_errors(client, "/projects/{project}/reconciliation", statement)

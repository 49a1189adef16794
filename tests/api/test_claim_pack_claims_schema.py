"""The claim pack's `draft_claim` and `submitted.prior_period_items` over HTTP (R-45), on both
databases: the draft of the quarter not yet claimed, then the claim as submitted with its late
items, each matching the claim pack's response schema in /openapi.json."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.domain.claims import claim_worked
from tests.api.conftest import bearer
from tests.api.test_claims_api import body_errors
from tests.ledger.factory import PROJECT, claim, event, offer, reversal

PACK = "/projects/{project}/claim-pack"


def submit(client: TestClient, app: App, headers: dict[str, str], quarter: str, key: str, on: str) -> None:
    stream = app.ledger.stream(PROJECT)
    worked = claim_worked(PROJECT, ((item.event(), item.version, item.hash) for item in stream), quarter)
    worked = worked.with_narratives(dict.fromkeys(worked.lines, "as planned"))
    number = len([item for item in stream if item.type == "ClaimSubmitted"]) + 1
    made = event("ClaimSubmitted", key, on, worked.data(number, stream[-1].position))
    response = client.post("/events", json=made, headers=headers)
    assert response.status_code == 200, response.text


def test_draft_and_submitted_claims_match_the_schema(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    admin, finance = bearer(tokens["admin"]), bearer(tokens["finance"])
    story = [offer(date="2024-12-01", start="2025-01-01"), claim("cons-q1", "500.00", date="2025-02-10")]
    assert client.post("/events", json=story, headers=admin).status_code == 200
    submit(client, app, finance, "2025Q1", "claim-1", "2025-04-05")
    late = [
        claim("late", "150.00", category="travel_subsistence", date="2025-03-20"),
        reversal("rev-cons", "cons-q1", "100.00", date="2025-03-25"),
    ]
    assert client.post("/events", json=late, headers=admin).status_code == 200
    draft = client.get(f"/projects/{PROJECT}/claim-pack?quarter=2025Q2", headers=finance).json()
    assert draft["submitted"] is None
    assert [item["kind"] for item in draft["draft_claim"]["prior_period_items"]] == ["claim", "reversal"]
    assert not body_errors(client, PACK, draft)
    submit(client, app, finance, "2025Q2", "claim-2", "2025-07-02")
    made = client.get(f"/projects/{PROJECT}/claim-pack?quarter=2025Q2", headers=finance).json()
    assert made["draft_claim"] is None
    assert made["submitted"]["prior_period_items"] == draft["draft_claim"]["prior_period_items"]
    assert made["submitted"]["prior_period"] == "33.50"  # 150.00 x 0.67 - 100.00 x 0.67
    assert not body_errors(client, PACK, made)
    # An item that is not as the schema says is caught by it.
    wrong = {**made, "submitted": {**made["submitted"], "prior_period_items": [{"kind": "late"}]}}
    assert body_errors(client, PACK, wrong)

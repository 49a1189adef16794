"""Access control: 401 without or with a bad token, 403 when the role or the project forbids it, and
nothing recorded on a 403, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ktpledger.adapters.token_tables import api_tokens
from ktpledger.adapters.tokens import hash_token, list_tokens, revoke_token
from ktpledger.bootstrap import App
from ktpledger.service.access import RECORDS, Role, create_token
from tests.api import demo
from tests.api.conftest import bearer, dashboard_post
from tests.ledger.factory import claim, decision, event, offer, reversal

pytestmark = pytest.mark.usefixtures("recorded")

READS = [
    "/projects",
    f"/projects/{demo.MAIN}/events",
    f"/projects/{demo.MAIN}/allowances",
    f"/projects/{demo.MAIN}/summary",
    "/alerts",
    f"/projects/{demo.MAIN}/reconciliation",
    f"/projects/{demo.MAIN}/claim-pack?quarter=2025Q1",
    "/costing?methodology=fec&business_type=sme&months=12&salary=45000",
]

# One valid event of each type for the main project (recorded in this order they are all accepted).
EXAMPLES: dict[str, dict[str, Any]] = {
    "GrantOffered": offer("KTP-0500"),
    "LMCDecision": decision(
        "lmc-x", "2025-06-25", project=demo.MAIN, kind="extension", months=3, costed=False
    ),
    "SpendClaimed": claim("claim-x", "20.00", project=demo.MAIN, date="2025-06-25"),
    "ClaimReversed": reversal("rev-x", "sensors", "2.35", project=demo.MAIN, date="2025-06-26"),
    "ParentalLeaveCost": event(
        "ParentalLeaveCost", "pl-x", "2025-06-26", {"amount": "300.00", "description": "cover"}, demo.MAIN
    ),
    "GrantPayment": event("GrantPayment", "pay-x", "2025-06-27", {"amount": "100.00"}, demo.MAIN),
    "ProjectClosed": event("ProjectClosed", "close-x", "2025-06-30", {}, demo.SECOND),
    "OfferAmended": event(
        "OfferAmended", "amend-x", "2025-06-28", {"reason": "typo", "title": "Machine vision QA"}, demo.MAIN
    ),
    "ProjectReopened": event("ProjectReopened", "reopen-x", "2025-06-28", {"reason": "late"}, demo.CLOSED),
    "SpendProfileSet": event(
        "SpendProfileSet",
        "profile-x",
        "2025-06-25",
        {"lines": {"travel_subsistence": {"rule": "even"}}, "minute": "LMC 2025-06 item 3"},
        demo.MAIN,
    ),
}


def stream_lengths(app: App) -> dict[str, int]:
    return {name: len(app.ledger.stream(name)) for name in app.ledger.projects()}


@pytest.mark.parametrize("path", READS)
def test_every_route_but_health_needs_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["rule"] == "access"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer",
        "Token abc",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_token_is_401(client: TestClient, header: str) -> None:
    response = client.get("/projects", headers={"Authorization": header})
    assert response.status_code == 401
    assert (
        client.post("/events", json=EXAMPLES["SpendClaimed"], headers={"Authorization": header}).status_code
        == 401
    )


def test_post_without_a_token_is_401_and_records_nothing(client: TestClient, app: App) -> None:
    before = stream_lengths(app)
    assert client.post("/events", json=EXAMPLES["SpendClaimed"]).status_code == 401
    assert stream_lengths(app) == before


@pytest.mark.parametrize("role", ["admin", "finance", "lmc", "viewer"])
@pytest.mark.parametrize("path", READS)
def test_every_role_reads(client: TestClient, tokens: dict[str, str], role: str, path: str) -> None:
    assert client.get(path, headers=bearer(tokens[role])).status_code == 200


@pytest.mark.parametrize("role", ["admin", "finance", "lmc", "viewer"])
@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_who_records_what(
    client: TestClient, tokens: dict[str, str], app: App, role: str, event_type: str
) -> None:
    before = stream_lengths(app)
    response = client.post("/events", json=EXAMPLES[event_type], headers=bearer(tokens[role]))
    allowed = event_type in RECORDS[Role(role)]
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()[0]["status"] == "recorded"
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["rule"] == "access"
        assert stream_lengths(app) == before


def test_only_admin_offers_amends_closes_and_reopens() -> None:
    for role in Role:
        for event_type in ("GrantOffered", "OfferAmended", "ProjectClosed", "ProjectReopened"):
            assert (event_type in RECORDS[role]) == (role is Role.ADMIN), (role, event_type)
    assert RECORDS[Role.VIEWER] == frozenset()


def test_a_list_with_one_forbidden_event_records_nothing(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    before = stream_lengths(app)
    body = [
        claim("fine-1", "10.00", project=demo.MAIN, date="2025-06-20"),
        claim("fine-2", "11.00", project=demo.MAIN, date="2025-06-21"),
        EXAMPLES["LMCDecision"],  # finance may not record an LMC decision
    ]
    response = client.post("/events", json=body, headers=bearer(tokens["finance"]))
    assert response.status_code == 403
    assert "event 3" in response.json()["error"]["message"]
    assert stream_lengths(app) == before


def test_a_project_token_cannot_touch_other_projects(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    token = tokens["admin@main"]
    # Reads of its own project work; of another (or an unknown one) are 403, not 404.
    assert client.get(f"/projects/{demo.MAIN}/allowances", headers=bearer(token)).status_code == 200
    for path in ("events", "allowances", "summary", "reconciliation", "claim-pack?quarter=2025Q1"):
        for project in (demo.SECOND, "KTP-UNKNOWN"):
            response = client.get(f"/projects/{project}/{path}", headers=bearer(token))
            assert response.status_code == 403, (project, path)
    assert client.get(f"/alerts?project={demo.SECOND}", headers=bearer(token)).status_code == 403
    # Lists show only its projects.
    assert [row["project"] for row in client.get("/projects", headers=bearer(token)).json()] == [demo.MAIN]
    assert {alert["project"] for alert in client.get("/alerts?all=true", headers=bearer(token)).json()} <= {
        demo.MAIN
    }
    # Writes to another project are refused whole, even mixed with allowed ones.
    before = stream_lengths(app)
    body = [
        claim("mine", "1.00", project=demo.MAIN, date="2025-06-20"),
        claim("theirs", "1.00", project=demo.SECOND, date="2025-06-20"),
    ]
    response = client.post("/events", json=body, headers=bearer(token))
    assert response.status_code == 403
    assert stream_lengths(app) == before
    # ...and a new project's offer is another project too.
    assert client.post("/events", json=offer("KTP-0777"), headers=bearer(token)).status_code == 403
    assert "KTP-0777" not in app.ledger.projects()


@pytest.mark.parametrize("role", ["finance", "lmc", "viewer"])
def test_project_tokens_of_each_role(client: TestClient, tokens: dict[str, str], role: str) -> None:
    token = tokens[f"{role}@main"]
    assert client.get(f"/projects/{demo.MAIN}/events", headers=bearer(token)).status_code == 200
    assert client.get(f"/projects/{demo.SECOND}/events", headers=bearer(token)).status_code == 403


def test_a_revoked_token_stops_working(client: TestClient, app: App) -> None:
    token = create_token(app.database, "viewer", None, "to revoke")
    assert client.get("/projects", headers=bearer(token)).status_code == 200
    [made] = [item for item in list_tokens(app.database) if item["label"] == "to revoke"]
    assert revoke_token(app.database, int(str(made["id"])))
    assert not revoke_token(app.database, int(str(made["id"])))
    assert client.get("/projects", headers=bearer(token)).status_code == 401


def test_only_the_hash_is_stored(app: App) -> None:
    token = create_token(app.database, "finance", [demo.MAIN, demo.SECOND], "hash check")
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with app.database.read() as connection:
        rows = connection.execute(select(api_tokens)).all()
    row = next(r for r in rows if r.label == "hash check")
    assert row.token_hash == hash_token(token) and len(row.token_hash) == 64
    assert all(token not in str(tuple(r)) for r in rows)
    assert row.projects == f"{demo.MAIN},{demo.SECOND}"
    assert row.role == "finance" and row.revoked_at is None


def test_the_cookie_reads_but_never_writes(client: TestClient, tokens: dict[str, str], app: App) -> None:
    login = dashboard_post(client, "/dashboard/login", {"token": tokens["admin"]})
    assert login.status_code == 303
    assert client.get("/projects").status_code == 200  # the cookie, sent back over https
    before = stream_lengths(app)
    response = client.post("/events", json=EXAMPLES["SpendClaimed"])
    assert response.status_code == 401
    assert stream_lengths(app) == before

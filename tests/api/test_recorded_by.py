"""`recorded_by` over HTTP, on SQLite and PostgreSQL: `POST /events` records the token's label and
role with channel `api`, `POST /imports` with channel `import`; `GET /projects/{p}/events` shows it
as `ktpledger events --format json` does; the dashboard names who recorded each decision."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.conftest import bearer
from tests.api.test_dashboard import sign_in
from tests.api.test_imports import post as post_import
from tests.ledger.factory import PROJECT, claim, decision, offer


def events(client: TestClient, token: str) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{PROJECT}/events", headers=bearer(token))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_post_events_records_the_tokens_label_and_role(client: TestClient, app: App) -> None:
    admin = create_token(app.database, "admin", None, "Programme office")
    finance = create_token(app.database, "finance", [PROJECT], "Jo in finance")
    unlabelled = create_token(app.database, "finance", None)
    assert client.post("/events", json=offer(), headers=bearer(admin)).status_code == 200
    response = client.post("/events", json=[claim("c1"), claim("c2")], headers=bearer(finance))
    assert response.status_code == 200, response.text
    assert client.post("/events", json=claim("c3"), headers=bearer(unlabelled)).status_code == 200
    # The same key and content from another token: a duplicate, recorded_by left as it was.
    again = client.post("/events", json=claim("c1"), headers=bearer(admin))
    assert [r["status"] for r in again.json()] == ["duplicate"]
    shown = events(client, finance)
    assert [e["recorded_by"] for e in shown[:3]] == [
        {"name": "Programme office", "role": "admin", "channel": "api"},
        {"name": "Jo in finance", "role": "finance", "channel": "api"},
        {"name": "Jo in finance", "role": "finance", "channel": "api"},
    ]
    by = shown[3]["recorded_by"]
    assert by["role"] == "finance" and by["channel"] == "api" and by["name"].startswith("token ")
    assert {e["chain_version"] for e in shown} == {2}
    assert app.ledger.verify() == (4, None)


def test_post_imports_records_with_channel_import(client: TestClient, app: App) -> None:
    app.ledger.append([offer(), offer("KTP-0099", title="Another project")])
    finance = create_token(app.database, "finance", None, "finance")
    response = post_import(client, finance)
    assert response.status_code == 200, response.text
    imported = [e["recorded_by"] for e in events(client, finance)[1:]]
    assert imported == [{"name": "finance", "role": "finance", "channel": "import"}] * 8


def test_the_dashboard_and_the_summary_say_who_recorded_a_decision(client: TestClient, app: App) -> None:
    app.ledger.append([offer()])
    lmc = create_token(app.database, "lmc", None, "LMC chair")
    moved = {
        "from": "consumables",
        "to": "additional_associate_support",
        "amount": "100.00",
        "minute": "LMC 1",
    }
    body = decision("d1", "2025-01-10", kind="virement", **moved)
    response = client.post("/events", json=body, headers=bearer(lmc))
    assert response.status_code == 200, response.text
    summary = client.get(f"/projects/{PROJECT}/summary", headers=bearer(lmc)).json()
    assert [d["recorded_by"] for d in summary["decisions"]] == [
        {"name": "LMC chair", "role": "lmc", "channel": "api"}
    ]
    sign_in(client, lmc)
    page = client.get(f"/dashboard/projects/{PROJECT}")
    assert page.status_code == 200
    assert "Recorded by LMC chair" in page.text

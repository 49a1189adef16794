"""`POST /alerts/{alert_id}/acknowledgement` on both backends (R-39): who may, the alert shown
acknowledged by `GET /alerts` and on the dashboard apart from the open ones, every refusal with the
standard error body, and the same event over `POST /events`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.domain.events import MAX_TEXT_LENGTH
from tests.api import demo
from tests.api.conftest import DEMO_TODAY, bearer
from tests.ledger.factory import claim, offer

pytestmark = pytest.mark.usefixtures("recorded")


def open_alerts(client: TestClient, token: str, project: str = demo.MAIN) -> list[dict[str, Any]]:
    response = client.get("/alerts", params={"project": project}, headers=bearer(token))
    assert response.status_code == 200
    return [alert for alert in response.json() if alert["id"] is not None]


def post(client: TestClient, token: str, alert_id: int | str, body: Any) -> Any:
    return client.post(f"/alerts/{alert_id}/acknowledgement", json=body, headers=bearer(token))


def refused(response: Any, status: int, rule: str | None = "R-39") -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if rule is not None:
        assert error["rule"] == rule, error
    return str(error["message"])


@pytest.mark.parametrize("role", ["lmc", "finance", "admin", "lmc@main"])
def test_lmc_finance_and_admin_acknowledge_with_a_note(
    client: TestClient, tokens: dict[str, str], role: str
) -> None:
    first = open_alerts(client, tokens["viewer"])[0]
    assert first["acknowledged"] is None and first["raised_on"] is not None
    response = post(client, tokens[role], first["id"], {"note": "Asked the LMC for a virement"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["project"]) == ("recorded", demo.MAIN)
    label = f"{role.split('@')[0]} for {'tests' if '@' not in role else demo.MAIN}"
    expected = {
        "on": DEMO_TODAY.isoformat(),
        "by": {"name": label, "role": role.split("@")[0], "channel": "api"},
        "note": "Asked the LMC for a virement",
        "version": body["version"],
    }
    assert body["alert"]["acknowledged"] == expected
    [now] = [a for a in open_alerts(client, tokens["viewer"]) if a["id"] == first["id"]]
    assert now == body["alert"]
    events = client.get(f"/projects/{demo.MAIN}/events", headers=bearer(tokens["viewer"])).json()
    assert events[-1]["type"] == "AlertAcknowledged" and events[-1]["recorded_by"] == expected["by"]


def test_refusals(client: TestClient, tokens: dict[str, str], app: App) -> None:
    first = open_alerts(client, tokens["viewer"])[0]
    alert = first["id"]
    assert "lmc, finance or admin" in refused(post(client, tokens["viewer"], alert, {"note": "x"}), 403, None)
    assert "not granted" in refused(
        post(client, tokens["lmc@main"], another_projects_alert(app), {"note": "x"}), 403, None
    )
    assert "there is no alert 99999" in refused(post(client, tokens["lmc"], 99999, {"note": "x"}), 404)
    refused(post(client, tokens["lmc"], alert, {"note": "   "}), 422)
    refused(post(client, tokens["lmc"], alert, {"note": "x" * (MAX_TEXT_LENGTH + 1)}), 422)
    refused(post(client, tokens["lmc"], alert, {"note": "x", "other": 1}), 422, None)
    refused(post(client, tokens["lmc"], alert, {}), 422, None)
    refused(post(client, tokens["lmc"], "x", {"note": "x"}), 422, None)
    assert client.post(f"/alerts/{alert}/acknowledgement", json={"note": "x"}).status_code == 401
    assert open_alerts(client, tokens["viewer"])[0]["acknowledged"] is None  # nothing was recorded
    assert post(client, tokens["finance"], alert, {"note": "first"}).status_code == 200
    message = refused(post(client, tokens["lmc"], alert, {"note": "second"}), 422)
    assert "acknowledged already" in message and "finance for tests" in message


def another_projects_alert(app: App) -> int:
    """An alert of a project other than the main one: travel at 84% of its budget (2,100 of 2,500)."""
    other = "KTP-0500"
    results = app.ledger.append(
        [
            offer(other),
            claim("t1", "2100.00", category="travel_subsistence", date="2024-10-15", project=other),
        ]
    )
    assert [result.status for result in results] == ["recorded", "recorded"]
    return next(int(a["id"]) for a in app.projector.alerts(other) if a["kind"] == "threshold")


def test_post_events_takes_the_event_with_the_same_roles(client: TestClient, tokens: dict[str, str]) -> None:
    first = open_alerts(client, tokens["viewer"])[0]
    event = {
        "type": "AlertAcknowledged",
        "project": demo.MAIN,
        "key": "ack-1",
        "date": DEMO_TODAY.isoformat(),
        "data": {
            "category": first["category"],
            "kind": first["kind"],
            "subject": first["detail"].get("threshold", first["detail"].get("sub_limit", "")),
            "raised_at_version": first["raised_at_version"],
            "note": "seen",
        },
    }
    assert client.post("/events", json=event, headers=bearer(tokens["viewer"])).status_code == 403
    response = client.post("/events", json=event, headers=bearer(tokens["lmc"]))
    assert response.status_code == 200, response.text
    [now] = [a for a in open_alerts(client, tokens["viewer"]) if a["id"] == first["id"]]
    assert now["acknowledged"]["note"] == "seen"
    bad = {**event, "key": "ack-2", "data": {**event["data"], "raised_at_version": 1}}
    response = client.post("/events", json=bad, headers=bearer(tokens["lmc"]))
    assert response.status_code == 422 and response.json()[0]["error"]["rule"] == "R-39"


def test_the_dashboard_shows_the_acknowledged_apart_with_who_when_and_the_note(
    client: TestClient, tokens: dict[str, str]
) -> None:
    alerts = open_alerts(client, tokens["viewer"])
    first = alerts[0]
    page = client.get(f"/dashboard/projects/{demo.MAIN}", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200
    assert "Acknowledged" not in page.text and "at version" not in page.text
    assert post(client, tokens["lmc"], first["id"], {"note": "Asked the LMC <today>"}).status_code == 200
    page = client.get(f"/dashboard/projects/{demo.MAIN}", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200
    open_part, acknowledged = page.text.split("<h3>Acknowledged")
    assert f'data-alert="{first["id"]}"' in acknowledged.split("</ul>")[0]
    assert f'data-alert="{first["id"]}"' not in open_part.split("<h2>Open alerts")[1]
    assert "Acknowledged 30 June 2025 by lmc for tests (lmc): Asked the LMC &lt;today&gt;" in acknowledged
    assert "raised " in acknowledged

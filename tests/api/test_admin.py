"""The administrators' routes and dashboard section: failed deliveries, resending them, system
alerts. Admin tokens only: every other role is refused (403), no token is 401."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ktpledger.adapters.tables import notifications
from ktpledger.bootstrap import App
from ktpledger.service.system_alerts import CHANNEL_DOWN, PROJECTION_FAILED, raise_system_alert
from tests.api.conftest import bearer
from tests.api.test_dashboard import sign_in
from tests.notify.conftest import T0, insert_alert, notification

OTHER_ROLES = ("finance", "lmc", "viewer", "admin@main")


@pytest.fixture
def troubles(app: App) -> dict[str, int]:
    """A failed webhook notification, a long-pending e-mail one, and two open system alerts."""
    alert_id = insert_alert(app.database, ("webhook", "email"))
    with app.database.projection() as connection:
        connection.execute(
            update(notifications)
            .where(notifications.c.alert_id == alert_id, notifications.c.channel == "webhook")
            .values(
                status="failed",
                attempts=300,
                first_attempt_at=T0,
                last_attempt_at=T0.replace(day=17),
                failed_at=T0.replace(day=17),
                last_error="webhook https://hooks.example answered HTTP <503>",
            )
        )
        found = {
            kind: raise_system_alert(
                connection,
                kind=kind,
                subject=subject,
                detail={},
                message=f"{kind} about {subject}: <b>look</b>",
                channels=("log",),
                now=T0,
            )
            for kind, subject in ((PROJECTION_FAILED, "KTP-0042"), (CHANNEL_DOWN, "webhook"))
        }
        connection.commit()
    assert all(found.values())
    return {"alert": alert_id, **{kind: int(value or 0) for kind, value in found.items()}}


def test_failed_deliveries_are_listed_for_an_admin(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int]
) -> None:
    response = client.get("/notifications?status=failed", headers=bearer(tokens["admin"]))
    assert response.status_code == 200
    [row] = response.json()
    assert (row["alert_id"], row["channel"], row["status"], row["attempts"]) == (
        troubles["alert"],
        "webhook",
        "failed",
        300,
    )
    assert row["last_error"] == "webhook https://hooks.example answered HTTP <503>"
    everything = client.get("/notifications", headers=bearer(tokens["admin"])).json()
    assert {(r["outbox"], r["channel"], r["status"]) for r in everything} == {
        ("alert", "webhook", "failed"),
        ("alert", "email", "pending"),
        ("system", "log", "pending"),
    }
    bad = client.get("/notifications?status=lost", headers=bearer(tokens["admin"]))
    assert bad.status_code == 422 and bad.json()["error"]["rule"] == "R-41"


@pytest.mark.parametrize("role", OTHER_ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/notifications?status=failed", None),
        ("POST", "/notifications/resend", {"all_failed": True}),
        ("GET", "/system-alerts?all=true", None),
    ],
)
def test_only_admin_tokens_for_every_project_may_use_them(
    client: TestClient,
    tokens: dict[str, str],
    troubles: dict[str, int],
    app: App,
    role: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    response = client.request(method, path, json=body, headers=bearer(tokens[role]))
    assert response.status_code == 403
    assert response.json()["error"]["rule"] == "access"
    assert client.request(method, path, json=body).status_code == 401
    assert notification(app.database, troubles["alert"], "webhook")["status"] == "failed"


def test_resend_over_http(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int], app: App
) -> None:
    admin = bearer(tokens["admin"])
    response = client.post("/notifications/resend", json={"alerts": [troubles["alert"]]}, headers=admin)
    assert response.status_code == 200
    answer = response.json()
    assert answer["resent"] == 1
    assert answer["rows"] == [
        {"outbox": "alert", "id": troubles["alert"], "channel": "webhook", "status": "failed"}
    ]
    assert [(s["channel"], s["status"]) for s in answer["skipped"]] == [("email", "pending")]
    row = notification(app.database, troubles["alert"], "webhook")
    assert (row["status"], row["first_attempt_at"], row["failed_at"]) == ("pending", None, None)
    assert client.get("/notifications?status=failed", headers=admin).json() == []


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({}, "R-41"),
        ({"alerts": [987654]}, "R-41"),
        ({"alerts": ["x"]}, "R-30"),
        ({"alerts": [0]}, "R-30"),
        ({"all_failed": True, "channel": "sms"}, "R-41"),
        ([1, 2], "R-30"),
    ],
)
def test_bad_resend_requests_are_refused_and_change_nothing(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int], app: App, body: Any, rule: str
) -> None:
    response = client.post("/notifications/resend", json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 422
    assert response.json()["error"]["rule"] == rule
    assert notification(app.database, troubles["alert"], "webhook")["status"] == "failed"


def test_the_cookie_never_resends(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int]
) -> None:
    sign_in(client, tokens["admin"])
    assert client.get("/system-alerts").status_code == 200  # reads take the cookie
    assert client.post("/notifications/resend", json={"all_failed": True}).status_code == 401


def test_system_alerts_for_an_admin(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int]
) -> None:
    found = client.get("/system-alerts", headers=bearer(tokens["admin"])).json()
    assert [(a["id"], a["kind"], a["subject"]) for a in found] == [
        (troubles[PROJECTION_FAILED], PROJECTION_FAILED, "KTP-0042"),
        (troubles[CHANNEL_DOWN], CHANNEL_DOWN, "webhook"),
    ]
    assert client.get("/system-alerts?all=maybe", headers=bearer(tokens["admin"])).status_code == 422


@pytest.mark.usefixtures("recorded")
def test_the_dashboard_shows_administrators_what_needs_them(
    client: TestClient, tokens: dict[str, str], troubles: dict[str, int]
) -> None:
    sign_in(client, tokens["admin"])
    page = client.get("/dashboard").text
    assert 'id="admin"' in page
    assert f'data-delivery="alert-{troubles["alert"]}-webhook"' in page  # failed
    assert f'data-delivery="alert-{troubles["alert"]}-email"' in page  # pending since 2025: long
    assert f'data-system-alert="{troubles[PROJECTION_FAILED]}"' in page
    assert f'data-system-alert="{troubles[CHANNEL_DOWN]}"' in page
    assert "answered HTTP &lt;503&gt;" in page and "<b>look</b>" not in page  # escaped
    for role in ("finance", "lmc", "viewer"):
        sign_in(client, tokens[role])
        page = client.get("/dashboard").text
        assert 'id="admin"' not in page and "data-delivery" not in page and "HTTP &lt;503&gt;" not in page


@pytest.mark.usefixtures("recorded")
def test_the_admin_section_says_when_there_is_nothing_to_do(
    client: TestClient, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["admin"])
    page = client.get("/dashboard").text
    assert "No open system alerts." in page
    assert "No failed or long-pending notifications." in page

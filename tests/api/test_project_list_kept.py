"""`GET /projects` is kept per process (`project_summary.ListCache`, `service/listing_inputs.py`):
what it answers is never staler than the ledger and the projector's rows (an event recorded, a
projection quarantined without an event, another day), a token limited to some projects never sees
another's row from the kept list, and the body is the bytes `JSONResponse` wrote of the rows before
they were kept. On both backends."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.adapters.projection_sql import projection_store
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service import project_summary
from ktpledger.service.access import Principal, authenticate, create_token
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.api import demo
from tests.api.conftest import DEMO_TODAY, ROLES, bearer
from tests.ledger.factory import claim, offer


def rows(response: Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {row["project"]: row for row in response.json()}


def listed_afresh(app: App, token: str, today: str | None = None) -> bytes:
    """The list as `JSONResponse` writes it of rows made with nothing kept (as before the cache)."""
    who = authenticate(app.database, token)
    assert who is not None
    project_summary.LISTINGS.of(app.database).clear()
    day = DEMO_TODAY if today is None else date.fromisoformat(today)
    made = project_summary.project_list(app, who, today=day)
    project_summary.LISTINGS.of(app.database).clear()
    return bytes(JSONResponse([row.to_json() for row in made]).body)


def test_an_event_recorded_after_a_read_is_listed(
    client: TestClient, tokens: dict[str, str], app: App, recorded: object
) -> None:
    viewer = bearer(tokens["viewer"])
    first = client.get("/projects", headers=viewer)
    assert client.get("/projects", headers=viewer).content == first.content  # the kept list
    before = rows(first)[demo.SECOND]

    # Far over the consumables line (2,000): the projector raises an alert as it catches up.
    [result] = app.ledger.append(
        [claim("kit-2", "9000.00", category="consumables", date="2025-06-20", project=demo.SECOND)]
    )
    assert result.status == "recorded"
    after = rows(client.get("/projects", headers=viewer))[demo.SECOND]

    assert after["version"] == before["version"] + 1
    assert after["projection"] == {"status": "ok", "version": before["version"] + 1}
    assert after["open_alerts"] > before["open_alerts"]
    assert client.get("/projects", headers=viewer).content == listed_afresh(app, tokens["viewer"])


def test_a_new_project_and_another_day_are_listed(
    client: TestClient, tokens: dict[str, str], app: App, recorded: object
) -> None:
    admin = bearer(tokens["admin"])
    assert sorted(rows(client.get("/projects", headers=admin))) == [demo.CLOSED, demo.MAIN, demo.SECOND]

    app.ledger.append([offer("KTP-0001", title="A newer project")])
    listed = client.get("/projects", headers=admin)
    assert list(rows(listed)) == ["KTP-0001", demo.CLOSED, demo.MAIN, demo.SECOND]
    assert listed.content == listed_afresh(app, tokens["admin"])

    later = rows(client.get("/projects", params={"today": "2026-12-01"}, headers=admin))
    assert later[demo.SECOND]["period"]["phase"] == "ended"  # ended January 2026, not closed
    assert rows(client.get("/projects", headers=admin))[demo.SECOND]["period"]["phase"] != "ended"
    again = client.get("/projects", params={"today": "2026-12-01"}, headers=admin)
    assert again.content == listed_afresh(app, tokens["admin"], "2026-12-01")


def test_a_projection_quarantined_without_an_event_is_listed(
    client: TestClient, tokens: dict[str, str], app: App, recorded: object
) -> None:
    viewer = bearer(tokens["viewer"])
    assert rows(client.get("/projects", headers=viewer))[demo.SECOND]["projection"]["status"] == "ok"
    with projection_store(app.database).write() as unit:
        [head] = unit.heads.of([demo.SECOND])
        failed = {"status": "failed", "error": "a row stopped it", "failed_version": head["version"] + 1}
        unit.heads.put([{**head, **failed, "failed_position": 999}])
        unit.commit()

    shown = rows(client.get("/projects", headers=viewer))[demo.SECOND]["projection"]
    assert shown == {"version": shown["version"], **failed, "failed_position": 999}
    assert client.get("/projects", headers=viewer).content == listed_afresh(app, tokens["viewer"])


def test_a_limited_token_sees_only_its_projects_from_the_kept_list(
    client: TestClient, tokens: dict[str, str], app: App, recorded: object
) -> None:
    everyone = rows(client.get("/projects", headers=bearer(tokens["admin"])))  # the whole list kept
    assert len(everyone) == 3
    for role in ROLES:
        limited = client.get("/projects", headers=bearer(tokens[f"{role}@main"]))
        assert rows(limited) == {demo.MAIN: everyone[demo.MAIN]}
        assert limited.content == listed_afresh(app, tokens[f"{role}@main"])

    app.ledger.append([offer("KTP-0001", title="Not granted")])  # the kept list changes
    assert len(rows(client.get("/projects", headers=bearer(tokens["viewer"])))) == 4
    assert list(rows(client.get("/projects", headers=bearer(tokens["viewer@main"])))) == [demo.MAIN]
    nothing = project_summary.project_list_json(app, unknown_only(app), today=DEMO_TODAY)
    assert nothing == b"[]"


def unknown_only(app: App) -> Principal:
    """A principal granted only a project with no events."""
    who = authenticate(app.database, create_token(app.database, "viewer", ["KTP-9999"], "none"))
    assert who is not None
    return who


def test_the_ledger_moving_then_the_projector_are_each_listed(
    client: TestClient, tokens: dict[str, str], app: App, recorded: object, database_url: str
) -> None:
    """An event recorded while the projector sleeps is listed from the ledger (its version, the
    projection behind it); the projector catching up later, with no new event, is listed too."""
    viewer = bearer(tokens["viewer"])
    before = rows(client.get("/projects", headers=viewer))
    sleeping = bootstrap(Settings(database_url=database_url, today=DEMO_TODAY), wakeup=Asleep())
    try:
        [result] = sleeping.ledger.append(
            [claim("kit-2", "9000.00", category="consumables", date="2025-06-20", project=demo.SECOND)]
        )
    finally:
        sleeping.close()
    assert result.status == "recorded"

    behind = rows(client.get("/projects", headers=bearer(tokens["viewer@main"])))  # a limited token first
    assert behind == {demo.MAIN: before[demo.MAIN]}
    behind = rows(client.get("/projects", headers=viewer))
    version = before[demo.SECOND]["version"]
    assert behind[demo.SECOND]["version"] == version + 1
    assert behind[demo.SECOND]["projection"] == {"status": "ok", "version": version}
    assert behind[demo.SECOND]["open_alerts"] == before[demo.SECOND]["open_alerts"]
    assert {name: behind[name] for name in (demo.MAIN, demo.CLOSED)} == {
        name: before[name] for name in (demo.MAIN, demo.CLOSED)
    }

    app.projector.catch_up(demo.SECOND)
    caught_up = rows(client.get("/projects", headers=viewer))[demo.SECOND]
    assert caught_up["projection"] == {"status": "ok", "version": version + 1}
    assert caught_up["open_alerts"] > behind[demo.SECOND]["open_alerts"]
    assert client.get("/projects", headers=viewer).content == listed_afresh(app, tokens["viewer"])

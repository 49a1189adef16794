"""Over HTTP, a project with a recorded event ktpledger cannot read: the list (`GET /projects`, the
dashboard) carries on for every project and flags it, its own reads are a 409 naming the row (never
a 500), its stream is listed with the row marked, and an admin sees and retries it. Each kind of
poison (tests/projections/poison.py), on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from tests.api.conftest import bearer
from tests.projections.poison import HEALTHY, KINDS, OFFER_KINDS, POISONED, poison, record_healthy


@pytest.fixture(params=KINDS)
def scene(request: pytest.FixtureRequest, app: App) -> tuple[str, int, int]:
    """Healthy projects and a poisoned one, caught up: (kind, bad version, bad position)."""
    kind = str(request.param)
    record_healthy(app)
    position = poison(app, kind)
    app.projector.catch_up_many([POISONED, *HEALTHY])
    return kind, 1 if kind in OFFER_KINDS else 3, position


def names_the_row(error: dict[str, Any], version: int, position: int) -> bool:
    return (
        error["rule"] == "R-30"
        and error["event"]
        == {**error["event"], "project": POISONED, "version": version, "position": position}
        and f"recorded event {version} of project {POISONED} (position {position}," in error["message"]
    )


def test_the_project_list_carries_on_and_flags_the_quarantined_project(
    client: TestClient, tokens: dict[str, str], scene: tuple[str, int, int]
) -> None:
    kind, version, position = scene
    response = client.get("/projects", headers=bearer(tokens["viewer"]))

    assert response.status_code == 200
    rows = {row["project"]: row for row in response.json()}
    assert sorted(rows) == sorted([POISONED, *HEALTHY])
    for project in HEALTHY:
        assert (rows[project]["status"], rows[project]["projection"]) == (
            "open",
            {"status": "ok", "version": 2},
        )
    flagged = rows[POISONED]
    assert flagged["projection"]["status"] == "failed"
    assert (flagged["projection"]["failed_version"], flagged["projection"]["failed_position"]) == (
        version,
        position,
    )
    assert f"(position {position}," in flagged["projection"]["error"]
    if kind in OFFER_KINDS:  # its facts cannot be read either
        assert flagged["status"] == "unreadable" and names_the_row(flagged["error"], version, position)


@pytest.mark.parametrize(
    "path",
    [
        f"/projects/{POISONED}/allowances",
        f"/projects/{POISONED}/allowances?as_of=2025-12-31",
        f"/projects/{POISONED}/summary",
        f"/projects/{POISONED}/reconciliation",
        f"/projects/{POISONED}/claim-pack?quarter=2025Q1",
    ],
    ids=["allowances", "allowances-as-of", "summary", "reconciliation", "claim-pack"],
)
def test_a_read_of_the_project_is_a_409_naming_the_row(
    client: TestClient, tokens: dict[str, str], scene: tuple[str, int, int], path: str
) -> None:
    _, version, position = scene
    response = client.get(path, headers=bearer(tokens["viewer"]))
    assert response.status_code == 409
    assert names_the_row(response.json()["error"], version, position)


def test_its_stream_is_listed_with_the_row_marked_and_the_other_reads_carry_on(
    client: TestClient, tokens: dict[str, str], scene: tuple[str, int, int]
) -> None:
    _, version, position = scene
    headers = bearer(tokens["viewer"])
    response = client.get(f"/projects/{POISONED}/events", headers=headers)
    assert response.status_code == 200
    marked = [row for row in response.json() if "unreadable" in row]
    assert [row["version"] for row in marked] == [version]
    assert names_the_row(marked[0]["unreadable"], version, position)

    assert client.get("/alerts?all=true", headers=headers).status_code == 200
    assert client.get(f"/alerts?project={POISONED}", headers=headers).status_code == 200
    for project in HEALTHY:
        assert client.get(f"/projects/{project}/summary", headers=headers).status_code == 200


def test_the_dashboard_lists_every_project_and_shows_the_error_on_the_project_page(
    client: TestClient, tokens: dict[str, str], scene: tuple[str, int, int]
) -> None:
    _, version, position = scene
    headers = bearer(tokens["viewer"])
    named = f"recorded event {version} of project {POISONED} (position {position},"

    for page in ("/dashboard", "/dashboard/panel"):
        response = client.get(page, headers=headers)
        assert response.status_code == 200
        assert 'data-flag="projection_failed"' in response.text and named in response.text
        assert all(f'data-project="{project}"' in response.text for project in HEALTHY)

    response = client.get(f"/dashboard/projects/{POISONED}", headers=headers)
    assert response.status_code == 409 and named in response.text
    assert client.get(f"/dashboard/projects/{POISONED}/panel", headers=headers).status_code == 409
    assert client.get(f"/dashboard/projects/{HEALTHY[0]}", headers=headers).status_code == 200


def test_an_admin_sees_the_quarantined_projects_and_retries_one(
    client: TestClient, tokens: dict[str, str], scene: tuple[str, int, int]
) -> None:
    _, version, position = scene
    admin, viewer = bearer(tokens["admin"]), bearer(tokens["viewer"])

    assert client.get("/projections/failed", headers=viewer).status_code == 403
    response = client.get("/projections/failed", headers=admin)
    assert response.status_code == 200
    [item] = response.json()
    assert (item["project"], item["failed_version"], item["failed_position"]) == (POISONED, version, position)
    assert client.get("/projections/failed", headers=bearer(tokens["admin@main"])).json() == []

    retry = f"/projects/{POISONED}/projection/retry"
    assert client.post(retry, headers=viewer).status_code == 403
    assert client.post(retry, headers=bearer(tokens["admin@main"])).status_code == 403
    response = client.post(retry, headers=admin)
    assert response.status_code == 200
    result = response.json()
    assert (result["status"], result["was"]) == ("failed", "failed")  # the row is still unreadable
    assert names_the_row(result["error"], version, position)
    assert client.post("/projects/KTP-NOPE/projection/retry", headers=admin).status_code == 404
    response = client.post(f"/projects/{HEALTHY[0]}/projection/retry", headers=admin)
    assert response.json() == {
        "project": HEALTHY[0],
        "status": "ok",
        "was": "ok",
        "version": 2,
        "error": None,
    }

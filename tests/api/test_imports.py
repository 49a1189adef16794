"""`POST /imports` on SQLite and PostgreSQL: the multipart form of an export and its profile, the
same document and fates as `ktpledger import --format json`, who may import, and each refusal.

The project is the factory's KTP-0042 (fec, 2024-10-01 for 24 months); the export is the Agresso
fixture of tests/imports (worked by hand in tests/imports/test_import_fixtures.py): eight rows to
record (six claims, two credits), a blank row and a totals row skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api.app import create_app
from ktpledger.bootstrap import App, bootstrap
from ktpledger.serve_settings import ServeLimits
from ktpledger.service.access import create_token
from ktpledger.service.imports import plan_import
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.api.conftest import bearer
from tests.imports.helpers import fixture
from tests.ledger.factory import PROJECT, offer

AGRESSO = fixture("agresso_2025_01.csv")
PROFILE = fixture("agresso.toml")
SAP = fixture("sap_fbl3n_2025_02.csv")
SAP_PROFILE = fixture("sap.toml")


@pytest.fixture
def project(app: App) -> App:
    results = app.ledger.append([offer(), offer("KTP-0099", title="Another project")])
    assert [result.status for result in results] == ["recorded", "recorded"]
    return app


@pytest.fixture
def token(project: App) -> dict[str, str]:
    made = {
        role: create_token(project.database, role, None, role)
        for role in ("admin", "finance", "lmc", "viewer")
    }
    made["finance@other"] = create_token(project.database, "finance", ["KTP-0099"], "finance of another")
    return made


def post(
    client: TestClient,
    token: str,
    export: Path = AGRESSO,
    profile: Path | str = PROFILE,
    **fields: str,
) -> Response:
    files: dict[str, Any] = {"file": (export.name, export.read_bytes(), "text/csv")}
    data = {"project": PROJECT, **fields}
    if isinstance(profile, Path):
        files["profile"] = (profile.name, profile.read_bytes(), "application/toml")
    else:
        data["profile"] = profile
    return client.post("/imports", files=files, data=data, headers=bearer(token))


def keys(app: App, project: str = PROJECT) -> list[str]:
    return [event.key for event in app.ledger.stream(project)]


def fates(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(row["row"], row["status"]) for row in body["rows"]]


def test_a_dry_run_previews_then_the_real_run_records_exactly_that_then_all_is_duplicate(
    client: TestClient, token: dict[str, str], project: App
) -> None:
    preview = post(client, token["finance"], dry_run="true")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["dry_run"] is True and body["recorded_anything"] is False
    assert body["counts"] == {"would record": 8, "skipped": 2}
    # consumables 1,200.00 + 1,399.99 + 12.00 + 12.00 = 2,623.99, less the 200.00 credit note;
    # travel 84.50 + 1,050.00 = 1,134.50, less the 84.50 rail refund
    assert body["categories"] == [
        {"category": "travel_subsistence", "claimed": "1134.50", "reversed": "84.50", "net": "1050.00"},
        {"category": "consumables", "claimed": "2623.99", "reversed": "200.00", "net": "2423.99"},
    ]
    assert keys(project) == ["offer"]
    # The same document as the service gives `ktpledger import --format json`.
    same = plan_import(
        project.ledger, PROJECT, AGRESSO.read_bytes(), AGRESSO.name, PROFILE.read_text("utf-8")
    )
    assert body == same.to_json()

    done = post(client, token["finance"])
    assert done.status_code == 200, done.text
    recorded = done.json()
    assert recorded["dry_run"] is False and recorded["recorded_anything"] is True
    assert fates(recorded) == [
        (row, "recorded" if status == "would record" else status) for row, status in fates(body)
    ]
    assert [row["event"] for row in recorded["rows"]] == [row["event"] for row in body["rows"]]
    assert keys(project) == [
        "offer",
        *(row["key"] for row in body["rows"] if row["status"] == "would record"),
    ]
    lines = client.get(f"/projects/{PROJECT}/allowances", headers=bearer(token["finance"])).json()["lines"]
    spent = {line["category"]: line["spent"] for line in lines}
    assert (spent["consumables"], spent["travel_subsistence"]) == ("2423.99", "1050.00")

    again = post(client, token["admin"])
    assert again.status_code == 200
    assert again.json()["counts"] == {"duplicate": 8, "skipped": 2}
    assert len(keys(project)) == 9


def test_the_profile_may_be_sent_as_text(client: TestClient, token: dict[str, str]) -> None:
    response = post(client, token["finance"], profile=PROFILE.read_text("utf-8"), dry_run="1")
    assert response.status_code == 200, response.text
    assert response.json()["profile"] == "agresso"


def test_a_rejected_row_is_422_with_the_plan_and_nothing_recorded_unless_skip_rejected(
    client: TestClient, token: dict[str, str], project: App
) -> None:
    refused = post(client, token["finance"], export=SAP, profile=SAP_PROFILE)
    assert refused.status_code == 422
    body = refused.json()
    assert body["recorded_anything"] is False
    assert body["counts"] == {"would record": 5, "rejected": 1, "skipped": 1}
    rejected = [row for row in body["rows"] if row["status"] == "rejected"]
    assert [row["row"] for row in rejected] == [7]
    assert rejected[0]["error"]["rule"] == "R-33" and "999999" in rejected[0]["error"]["message"]
    assert keys(project) == ["offer"]

    partly = post(client, token["finance"], export=SAP, profile=SAP_PROFILE, skip_rejected="true")
    assert partly.status_code == 422
    assert partly.json()["counts"] == {"recorded": 5, "rejected": 1, "skipped": 1}
    assert len(keys(project)) == 6


@pytest.mark.parametrize("role", ["lmc", "viewer", "finance@other"])
def test_only_a_token_that_records_spend_for_the_project_imports(
    client: TestClient, token: dict[str, str], project: App, role: str
) -> None:
    response = post(client, token[role], dry_run="true")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["rule"] == "access"
    assert keys(project) == ["offer"]


def test_no_token_is_401(client: TestClient, project: App) -> None:
    response = client.post("/imports", files={"file": ("a.csv", b"x", "text/csv")}, data={"project": PROJECT})
    assert response.status_code == 401


def test_an_unknown_project_is_404(client: TestClient, token: dict[str, str]) -> None:
    response = post(client, token["admin"], project="KTP-NOPE", dry_run="true")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["rule"] == "R-31"


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({}, {"project": PROJECT}, "file"),
        ({"file": ("a.csv", b"a,b\n1,2\n", "text/csv")}, {"project": PROJECT}, "profile"),
        ({"file": ("a.csv", b"a\n", "text/csv"), "profile": ("p.toml", b"", "text/plain")}, {}, "project"),
        (
            {"file": ("a.csv", b"a\n", "text/csv"), "profile": ("p.toml", b"", "text/plain")},
            {"project": PROJECT, "dry_run": "perhaps"},
            "dry_run",
        ),
        (
            {"file": ("a.csv", b"a\n", "text/csv"), "profile": ("p.toml", b"", "text/plain")},
            {"project": PROJECT, "colour": "blue"},
            "colour",
        ),
        (
            {"file": ("a.csv", b"a\n", "text/csv"), "profile": ("p.toml", b"\xff\xfe\x00", "text/plain")},
            {"project": PROJECT},
            "profile",
        ),
    ],
)
def test_a_bad_form_is_422_naming_the_field_and_records_nothing(
    client: TestClient,
    token: dict[str, str],
    project: App,
    files: dict[str, Any],
    data: dict[str, str],
    field: str,
) -> None:
    response = client.post("/imports", files=files or None, data=data, headers=bearer(token["admin"]))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["rule"] == "R-30" and field in error["message"], error
    assert keys(project) == ["offer"]


def test_a_body_that_is_not_a_form_is_422(client: TestClient, token: dict[str, str]) -> None:
    response = client.post("/imports", json={"project": PROJECT}, headers=bearer(token["admin"]))
    assert response.status_code == 422
    assert response.json()["error"]["rule"] == "R-30"


def test_a_bad_profile_is_422_naming_its_field(
    client: TestClient, token: dict[str, str], project: App
) -> None:
    bad = PROFILE.read_text("utf-8").replace('amount = "Amount"', 'amount = "Amount (GBP)"')
    response = post(client, token["finance"], profile=bad)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["rule"].startswith("R-3") and "Amount (GBP)" in error["message"]
    assert keys(project) == ["offer"]


def test_an_export_over_the_body_limit_is_413(database_url: str) -> None:
    settings = Settings(database_url=database_url, limits=ServeLimits(max_body_bytes=64 * 1024))
    application = bootstrap(settings)
    try:
        upgrade(application.database)
        application.ledger.append([offer()])
        admin = create_token(application.database, "admin", None, "admin")
        with TestClient(create_app(application), base_url="https://testserver") as client:
            big = b"Trans Date,Amount\n" + b"06/01/2025,1.00\n" * 8000
            response = client.post(
                "/imports",
                files={
                    "file": ("big.csv", big, "text/csv"),
                    "profile": ("p.toml", PROFILE.read_bytes(), "text/plain"),
                },
                data={"project": PROJECT},
                headers=bearer(admin),
            )
        assert response.status_code == 413
        assert response.json()["error"]["rule"] == "R-30"
        assert [event.key for event in application.ledger.stream(PROJECT)] == ["offer"]
    finally:
        application.close()

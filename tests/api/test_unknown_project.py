"""Over HTTP an unknown project stays 404 (R-31); its suggestions are only projects the caller's
token may read, and the database is never named (issue 10, A)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.conftest import bearer
from tests.ledger.factory import offer

READS = [
    "/projects/KTP-0043/events",
    "/projects/KTP-0043/allowances",
    "/projects/KTP-0043/summary",
    "/projects/KTP-0043/reconciliation",
    "/projects/KTP-0043/claim-pack?quarter=2025Q1",
]
TO_ADMIN = 'unknown project "KTP-0043": it has no events; did you mean KTP-0042?'
# The same token-holder may not read KTP-0042: it is never suggested to them.
TO_ONE_PROJECT = 'unknown project "KTP-0043": it has no events; there are no projects you may read'


@pytest.fixture
def grants(app: App) -> dict[str, str]:
    [result] = app.ledger.append([offer("KTP-0042")])
    assert result.status == "recorded"
    return {
        "admin": create_token(app.database, "admin"),
        "only 0043": create_token(app.database, "viewer", ["KTP-0043"]),
    }


@pytest.mark.parametrize("path", READS)
def test_suggestions_are_only_projects_the_token_may_read(
    client: TestClient, grants: dict[str, str], path: str
) -> None:
    for who, message in (("admin", TO_ADMIN), ("only 0043", TO_ONE_PROJECT)):
        response = client.get(path, headers=bearer(grants[who]))
        assert response.status_code == 404
        assert response.json() == {"error": {"rule": "R-31", "message": message}}


def test_the_dashboard_page_says_the_same(client: TestClient, grants: dict[str, str]) -> None:
    page = client.get("/dashboard/projects/KTP-0043", headers=bearer(grants["only 0043"]))
    assert page.status_code == 404
    assert "there are no projects you may read" in page.text
    assert "KTP-0042" not in page.text
    page = client.get("/dashboard/projects/KTP-0043", headers=bearer(grants["admin"]))
    assert page.status_code == 404
    assert "did you mean KTP-0042?" in page.text
    assert "sqlite" not in page.text and "postgresql" not in page.text

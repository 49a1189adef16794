"""The security headers (`api/app.SecurityHeaders`) on the API's answers, its refusals and the
dashboard's pages; none on FastAPI's documentation pages, no `no-store` on static files."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ktpledger.api.app import DASHBOARD_POLICY, DOCUMENT_POLICY
from tests.api.conftest import bearer
from tests.ledger.factory import offer


def test_api_answers_and_refusals_carry_them(client: TestClient, tokens: dict[str, str]) -> None:
    answers = [
        client.get("/health"),
        client.post("/events", json=offer("KTP-0900"), headers=bearer(tokens["admin"])),
        client.post("/events", json=offer("KTP-0901")),  # 401
        client.post("/events", content=b"x" * (5 * 1024 * 1024), headers=bearer(tokens["admin"])),  # 413
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 413]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["content-security-policy"] == DOCUMENT_POLICY
        assert answer.headers["cache-control"] == "no-store"
        assert len(answer.headers.get_list("content-security-policy")) == 1


def test_dashboard_pages_static_files_and_docs(client: TestClient) -> None:
    page = client.get("/dashboard/login")
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["content-security-policy"] == DASHBOARD_POLICY
    assert page.headers["cache-control"] == "no-store"
    static = client.get("/dashboard/static/dashboard.css")
    assert static.status_code == 200 and static.headers["content-security-policy"] == DASHBOARD_POLICY
    assert static.headers.get("cache-control") != "no-store"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers and "x-frame-options" not in docs.headers

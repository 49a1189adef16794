"""Bad input is a 4xx naming the rule, never a 500 (the test client re-raises any server error)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from ktpledger.api import routes
from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from ktpledger.serve_settings import ServeLimits
from tests.api import demo
from tests.api.conftest import bearer
from tests.ledger.factory import claim

pytestmark = pytest.mark.usefixtures("recorded")


def post_raw(client: TestClient, token: str, body: bytes) -> tuple[int, object]:
    response = client.post(
        "/events", content=body, headers={**bearer(token), "Content-Type": "application/json"}
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "SpendClaimed", ',
        b"",
        b"not json",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
)
def test_a_malformed_body_is_400_r30(
    client: TestClient, tokens: dict[str, str], app: App, body: bytes
) -> None:
    before = len(app.ledger.stream(demo.MAIN))
    status, document = post_raw(client, tokens["admin"], body)
    assert status == 400
    assert isinstance(document, dict)
    assert document["error"]["rule"] == "R-30"
    assert document["error"]["message"]
    assert len(app.ledger.stream(demo.MAIN)) == before


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"42", "R-30"),
        (b'"text"', "R-30"),
        (b"null", "R-30"),
        (b"[1, 2]", "R-30"),
        (b'{"type": "Nope", "project": "KTP-0042", "key": "k", "date": "2025-01-01"}', "R-30"),
        (
            b'{"type": "SpendClaimed", "project": "KTP-0042", "key": "k", "date": "2025-02-30", "data": {}}',
            "R-30",
        ),
        (
            (
                b'{"type": "SpendClaimed", "project": "KTP-0042", "key": "k", "date": "2025-02-03",'
                b' "data": {"category": "consumables", "amount": 1.5e3, "description": "x"}}'
            ),
            None,
        ),
        (
            b'{"type": "SpendClaimed", "project": "KTP-NEW", "key": "k", "date": "2025-02-03", "data": {}}',
            None,
        ),
    ],
)
def test_events_that_are_not_valid_are_rejected_with_their_rule(
    client: TestClient, tokens: dict[str, str], body: bytes, rule: str | None
) -> None:
    status, document = post_raw(client, tokens["admin"], body)
    assert status in (200, 422)
    assert isinstance(document, list)
    if rule is not None:
        assert status == 422
        assert document[0]["status"] == "rejected"
        assert document[0]["error"]["rule"] == rule


def test_an_empty_list_records_nothing(client: TestClient, tokens: dict[str, str]) -> None:
    assert post_raw(client, tokens["admin"], b"[]") == (200, [])


def test_a_body_too_large_is_413(app: App, tokens: dict[str, str]) -> None:
    small = replace(app, settings=app.settings.with_limits(ServeLimits(max_body_bytes=100)))
    with TestClient(create_app(small)) as client:
        status, document = post_raw(client, tokens["admin"], b"[" + b" " * 200 + b"]")
        assert status == 413
        assert isinstance(document, dict) and document["error"]["rule"] == "R-30"
        assert "at most 100 bytes" in document["error"]["message"]
        assert post_raw(client, tokens["admin"], b"[" + b" " * 98 + b"]") == (200, [])


def test_too_many_events_is_413(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "MAX_EVENTS", 2)
    status, _ = post_raw(client, tokens["admin"], b"[{}, {}, {}]")
    assert status == 413


@pytest.mark.parametrize(
    "path",
    [
        "/projects/KTP-9999/events",
        "/projects/KTP-9999/allowances",
        "/projects/KTP-9999/summary",
        "/projects/KTP-9999/reconciliation",
        "/projects/KTP-9999/reconciliation?format=pdf",
        "/projects/KTP-9999/claim-pack?quarter=2025Q1",
        "/projects/%3Cscript%3E/events",
        "/projects/a%2Fb/allowances",
    ],
)
def test_an_unknown_project_is_404_r31(client: TestClient, tokens: dict[str, str], path: str) -> None:
    response = client.get(path, headers=bearer(tokens["admin"]))
    assert response.status_code == 404
    assert response.json()["error"]["rule"] == "R-31"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (f"/projects/{demo.MAIN}/allowances?as_of=yesterday", "R-40"),
        (f"/projects/{demo.MAIN}/allowances?as_of=2025-02-30", "R-40"),
        (f"/projects/{demo.MAIN}/allowances?as_of=2020-01-01", "R-31"),  # before its grant offer
        (f"/projects/{demo.MAIN}/claim-pack", "R-42"),
        (f"/projects/{demo.MAIN}/claim-pack?quarter=2025Q5", "R-42"),
        (f"/projects/{demo.MAIN}/claim-pack?quarter=Q1", "R-42"),
        (f"/projects/{demo.MAIN}/claim-pack?quarter=2030Q1", "R-33"),
        (f"/projects/{demo.MAIN}/reconciliation?format=docx", "R-42"),
        (f"/projects/{demo.MAIN}/claim-pack?quarter=2025Q1&format=txt", "R-42"),
        ("/alerts?all=perhaps", "R-41"),
        ("/costing", "R-01"),
        ("/costing?methodology=fec&business_type=sme&months=12", "R-10"),
        ("/costing?methodology=neither&business_type=sme&months=12&salary=1", "R-01"),
        ("/costing?methodology=fec&business_type=charity&months=12&salary=1", "R-03"),
        ("/costing?methodology=fec&business_type=sme&months=twelve&salary=1", "R-02"),
        ("/costing?methodology=fec&business_type=sme&months=0&salary=45000", "R-02"),
        ("/costing?methodology=fec&business_type=sme&months=999&salary=45000", "R-02"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=lots", "R-22"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=-1", "R-22"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=1.234", "R-22"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=1&supervisor_fte=2", "R-16"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=1&london=maybe", "R-10"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=1&virtual=true&london=true", "R-11"),
        ("/costing?methodology=fec&business_type=sme&months=12&salary=1&grant_rate=7", "R-03"),
    ],
)
def test_bad_parameters_are_422_naming_the_rule(
    client: TestClient, tokens: dict[str, str], path: str, rule: str
) -> None:
    response = client.get(path, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["rule"] == rule, error
    assert error["message"]


def test_an_unknown_route_is_a_json_404(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/nowhere", headers=bearer(tokens["admin"]))
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_wrong_method_is_405_not_500(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.delete("/events", headers=bearer(tokens["admin"])).status_code == 405
    assert client.put(f"/projects/{demo.MAIN}/events", headers=bearer(tokens["admin"])).status_code == 405


ODD = [
    "",
    " ",
    "0",
    "-1",
    "1e999",
    "NaN",
    "2025-13-01",
    "%00",
    "\u00e9\u00e8",
    "'; DROP TABLE events; --",
    "9" * 400,
]


def test_odd_values_anywhere_are_never_a_server_error(client: TestClient, tokens: dict[str, str]) -> None:
    headers = bearer(tokens["admin"])
    templates = [
        "/projects/{v}/events",
        "/projects/{v}/allowances",
        f"/projects/{demo.MAIN}/allowances?as_of={{v}}",
        "/alerts?project={v}",
        "/alerts?all={v}",
        f"/projects/{demo.MAIN}/reconciliation?format={{v}}",
        f"/projects/{demo.MAIN}/claim-pack?quarter={{v}}",
        "/costing?methodology=fec&business_type=sme&months={v}&salary={v}",
        "/costing?methodology=fec&business_type=sme&months=12&salary=45000&supervisor_cost={v}&support_rate={v}",
        "/costing?methodology=non_fec&business_type=sme&months=12&salary=45000&estates={v}&grant_rate={v}",
    ]
    for template, value in itertools.product(templates, ODD):
        response = client.get(template.format(v=value), headers=headers)
        assert response.status_code < 500, (template, value, response.text)


@pytest.mark.parametrize("text", ["a\x00b", "\ud7ff", "é" * 200, "x" * 201, " "])
def test_odd_text_in_events_is_never_a_server_error(
    client: TestClient, tokens: dict[str, str], app: App, text: str
) -> None:
    body = claim(text, "1.00", project=demo.MAIN, date="2025-06-20")
    body["data"]["description"] = text
    response = client.post("/events", json=body, headers=bearer(tokens["admin"]))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        document = response.json()
        error = document["error"] if isinstance(document, dict) else document[0]["error"]
        assert error["rule"] == "R-30"


AMEND = b'{"type": "OfferAmended", "project": "KTP-0042", "key": "amend", "date": "2025-06-20", "data": '
REOPEN = b'{"type": "ProjectReopened", "project": "KTP-0042", "key": "reopen", "date": "2025-06-20", "data": '


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (AMEND + b'{"title": "t"}}', "R-37"),  # no reason
        (AMEND + b'{"reason": "r"}}', "R-37"),  # nothing to amend
        (AMEND + b'{"reason": "r", "methodology": "non_fec"}}', "R-30"),  # not an amendable field
        (AMEND + b'{"reason": "r", "months": "24"}}', "R-37"),
        (AMEND + b'{"reason": "r", "budget": {"consumables": 1.5}}}', "R-37"),
        (AMEND + b'{"reason": "r", "start": null}}', "R-37"),
        (AMEND + b'{"reason": "r", "budget": {"associate_employment": "1"}}}', "R-37"),  # below the spend
        (REOPEN + b"{}}", "R-38"),
        (REOPEN + b'{"reason": "r"}}', "R-38"),  # the project is open
    ],
)
def test_bad_amendments_and_reopenings_are_422_with_their_rule(
    client: TestClient, tokens: dict[str, str], app: App, body: bytes, rule: str
) -> None:
    before = len(app.ledger.stream(demo.MAIN))
    status, document = post_raw(client, tokens["admin"], body)
    assert status == 422, document
    assert isinstance(document, list) and document[0]["status"] == "rejected"
    assert document[0]["error"]["rule"] == rule, document
    assert len(app.ledger.stream(demo.MAIN)) == before

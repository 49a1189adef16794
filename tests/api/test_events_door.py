"""`POST /events` judges every event of a body at the door on its own (issue 11, items 1 and 2): the
bad one is rejected naming its rule and field, never a 500, and the events beside it are recorded
(the test client re-raises any server error)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from tests.api.conftest import bearer
from tests.ledger.door_cases import AFTER, BEFORE, CASES, Case, as_bytes
from tests.ledger.factory import PROJECT, claim, offer


def post(client: TestClient, token: str, body: bytes) -> tuple[int, Any]:
    response = client.post(
        "/events", content=body, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    return response.status_code, response.json()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bad_input_is_one_rejection_and_the_rest_is_recorded(
    app: App, client: TestClient, tokens: dict[str, str], case: Case
) -> None:
    body = b"[" + b",\n".join([BEFORE, *case.lines, AFTER]) + b"]"
    status, results = post(client, tokens["admin"], body)
    judged = results[-2]
    if case.rule is None:
        assert status == 200 and judged["status"] == "recorded", judged
    else:
        assert status == 422
        assert judged["status"] == "rejected" and judged["error"]["rule"] == case.rule, judged
        for words in case.words:
            assert words in judged["error"]["message"], judged
    assert [result["line"] for result in results] == list(range(1, len(case.lines) + 3))
    others = [results[0], *results[1:-2], results[-1]]
    assert all(result["status"] == "recorded" for result in others), others
    keys = [item.key for item in app.ledger.stream(PROJECT)]
    assert keys[0] == "offer" and keys[-1] == "after-the-case"


def test_one_bad_event_alone_is_a_422_not_a_500(client: TestClient, tokens: dict[str, str]) -> None:
    for case in CASES:
        if case.rule is not None and len(case.lines) == 1:
            status, results = post(client, tokens["admin"], case.lines[0])
            assert status == 422 and results[0]["error"]["rule"] == case.rule, (case.name, results)


def test_a_byte_order_mark_opens_a_body(client: TestClient, tokens: dict[str, str]) -> None:
    status, results = post(client, tokens["admin"], b"\xef\xbb\xbf[" + BEFORE + b"," + AFTER + b"]")
    assert status == 200 and [result["status"] for result in results] == ["recorded", "recorded"]


def test_a_poison_offer_is_refused_and_the_readers_stay_well(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    """The campaign's year-9999 offer, sent beside a healthy project's events: refused at the door,
    so the project list, the dashboard and replay go on working, and the healthy project is there."""
    poison = offer("KTP-POISON", start="9999-06-01")
    body = b"[" + b",".join([as_bytes(poison), BEFORE, as_bytes(claim("healthy", "10.00"))]) + b"]"
    status, results = post(client, tokens["admin"], body)
    assert status == 422
    assert [result["status"] for result in results] == ["rejected", "recorded", "recorded"]
    listed = client.get("/projects", headers=bearer(tokens["admin"]))
    assert listed.status_code == 200 and [row["project"] for row in listed.json()] == [PROJECT]
    assert client.get("/", headers=bearer(tokens["admin"])).status_code == 200
    app.projector.replay()
    allowances = client.get(f"/projects/{PROJECT}/allowances", headers=bearer(tokens["admin"])).json()
    spent = {line["category"]: line["spent"] for line in allowances["lines"]}
    assert spent["consumables"] == "10.00"

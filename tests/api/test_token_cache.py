"""`POST /events` keeps the tokens it found active for KTPLEDGER_TOKEN_CACHE_SECONDS
(`api/security.VerifiedTokens`): a wrong token is always refused, a revoked one once that bound has
passed (at once with 0), and a kept token never speaks for another. The clock is the cache's own,
moved by hand: nothing here waits or judges a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ktpledger.adapters.tokens import list_tokens, revoke_token
from ktpledger.api.app import create_app
from ktpledger.api.security import VerifiedTokens
from ktpledger.bootstrap import App
from ktpledger.serve_settings import ServeLimits, serve_limits
from ktpledger.service.access import Principal, Role, create_token
from tests.api.conftest import bearer
from tests.ledger.factory import PROJECT, claim, offer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client_of(app: App, clock: Clock, seconds: float) -> Iterator[TestClient]:
    api = create_app(app)
    api.state.verified_tokens = VerifiedTokens(seconds, clock=clock)
    with TestClient(api) as test_client:
        yield test_client


@pytest.fixture
def client(app: App, clock: Clock) -> Iterator[TestClient]:
    """The API with the default bound (1 s) on the test's clock, and the project on the ledger."""
    assert app.ledger.append([offer()])[0].status == "recorded"
    yield from client_of(app, clock, ServeLimits().token_cache_seconds)


def post(client: TestClient, token: str, key: str, **headers: str) -> int:
    response = client.post("/events", json=claim(key, "1.00"), headers={**bearer(token), **headers})
    assert response.status_code < 500, response.text
    return response.status_code


def revoke(app: App, label: str) -> None:
    [made] = [item for item in list_tokens(app.database) if item["label"] == label]
    assert revoke_token(app.database, int(str(made["id"])))


def test_a_wrong_token_is_refused_even_beside_a_kept_one(client: TestClient, app: App) -> None:
    token = create_token(app.database, "finance", None, "kept")
    assert post(client, token, "c1") == 200
    assert post(client, token[:-1] + ("A" if token[-1] != "A" else "B"), "c2") == 401
    assert post(client, token + "x", "c3") == 401
    assert post(client, "", "c4") == 401
    response = client.post("/events", json=claim("c5", "1.00"))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "this needs a token: send Authorization: Bearer TOKEN"
    # The dashboard's cookie never records, kept token or not.
    client.cookies.set("ktpledger_token", token)
    assert client.post("/events", json=claim("c6", "1.00")).status_code == 401
    assert [e.key for e in app.ledger.stream(PROJECT)] == ["offer", "c1"]


def test_a_revoked_token_is_refused_once_the_bound_has_passed(
    client: TestClient, app: App, clock: Clock
) -> None:
    token = create_token(app.database, "finance", None, "to revoke")
    assert post(client, token, "c1") == 200
    revoke(app, "to revoke")
    # The documented bound: a process that found it active less than a second ago still takes it...
    clock.now += 0.5
    assert post(client, token, "c2") == 200
    # ...and looks it up again once the second has passed since it was found active: refused.
    clock.now += 0.5
    response = client.post("/events", json=claim("c3", "1.00"), headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "the token is unknown or has been revoked"
    clock.now += 10
    assert post(client, token, "c4") == 401


def test_a_token_never_kept_is_refused_at_once_when_revoked(client: TestClient, app: App) -> None:
    token = create_token(app.database, "finance", None, "never used")
    revoke(app, "never used")
    assert post(client, token, "c1") == 401


def test_with_no_cache_a_revoked_token_is_refused_at_once(app: App, clock: Clock) -> None:
    assert app.ledger.append([offer()])[0].status == "recorded"
    token = create_token(app.database, "finance", None, "no cache")
    for client in client_of(app, clock, 0):
        assert post(client, token, "c1") == 200
        revoke(app, "no cache")
        assert post(client, token, "c2") == 401


def test_a_kept_token_speaks_only_for_itself(client: TestClient, app: App) -> None:
    """Two tokens of different roles and grants, each kept: each keeps its own role and projects."""
    admin = create_token(app.database, "admin", None, "admin")
    lmc = create_token(app.database, "lmc", None, "lmc")
    elsewhere = create_token(app.database, "finance", ["KTP-0999"], "elsewhere")
    assert post(client, admin, "c1") == 200
    assert post(client, lmc, "c2") == 403  # an LMC token records no claims
    assert post(client, elsewhere, "c3") == 403  # not granted this project
    assert post(client, admin, "c4") == 200
    assert post(client, lmc, "c5") == 403
    assert [e.key for e in app.ledger.stream(PROJECT)] == ["offer", "c1", "c4"]
    assert '"role":"admin"' in (app.ledger.stream(PROJECT)[-1].recorded_by or "").replace(" ", "")


def principal_of(number: int) -> Principal:
    return Principal(token_id=number, role=Role.VIEWER, projects=None)


def test_the_cache_is_bounded_and_keeps_no_token(clock: Clock) -> None:
    cache = VerifiedTokens(1.0, size=2, clock=clock)
    cache.put("one", principal_of(1))
    cache.put("two", principal_of(2))
    assert cache.get("one") == principal_of(1)  # now the most recently used
    cache.put("three", principal_of(3))  # "two" is dropped
    assert cache.get("two") is None
    assert cache.get("one") == principal_of(1) and cache.get("three") == principal_of(3)
    assert all(len(key) == 32 and b"one" not in key for key in cache._kept)  # SHA-256 digests only
    clock.now += 1.0
    assert cache.get("one") is None and not cache._kept.get(VerifiedTokens.key("one"))
    nothing = VerifiedTokens(0, clock=clock)
    nothing.put("one", principal_of(1))
    assert nothing.get("one") is None


def test_the_bound_is_a_setting() -> None:
    assert ServeLimits().token_cache_seconds == 1.0
    assert serve_limits({"KTPLEDGER_TOKEN_CACHE_SECONDS": "0"}).token_cache_seconds == 0
    assert serve_limits({"KTPLEDGER_TOKEN_CACHE_SECONDS": "2.5"}).token_cache_seconds == 2.5
    for bad in ("-1", "61", "soon"):
        with pytest.raises(
            ValueError, match="KTPLEDGER_TOKEN_CACHE_SECONDS must be a number of seconds 0 or above"
        ):
            serve_limits({"KTPLEDGER_TOKEN_CACHE_SECONDS": bad})
    with pytest.raises(ValueError, match="must be 0 or above"):
        ServeLimits(token_cache_seconds=-1)

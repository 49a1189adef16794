"""`ktpledger serve` settles its heap after each response (`api/app.SettledHeap`): what the process
holds for good is frozen out of the collector's walks, at most every second (`SurvivorsFrozen`)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ktpledger.api.app import SettledHeap, create_app
from ktpledger.bootstrap import App


class Survivors:
    def __init__(self) -> None:
        self.settled = 0

    def settle(self) -> None:
        self.settled += 1


def test_each_response_is_followed_by_a_settle_even_a_refusal(app: App) -> None:
    survivors = Survivors()
    with TestClient(create_app(app, survivors=survivors), base_url="https://testserver") as client:  # type: ignore[arg-type]
        assert client.get("/health").status_code == 200
        assert survivors.settled == 1
        assert client.post("/events", content=b"{").status_code in (400, 401, 422)
        assert survivors.settled == 2


def test_only_an_app_given_survivors_settles(app: App) -> None:
    """`create_app` without `survivors` (the tests', an embedding's) leaves the collector alone."""
    layers = [layer.cls for layer in create_app(app).user_middleware]
    assert SettledHeap not in layers
    given = [layer.cls for layer in create_app(app, survivors=Survivors()).user_middleware]  # type: ignore[arg-type]
    assert SettledHeap in given

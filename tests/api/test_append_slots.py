"""`POST /events` runs at most as many appends at once in a process as the ledger's recorder keeps
connections for one-round-trip appends (PostgreSQL: `Ledger.direct_appends`): one more would find
them all busy and take the general path, a transaction of several round trips under the ledger's
guard and the table's lock, that the other appends wait for. On SQLite (no such connections) the
threadpool alone bounds them, as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.adapters import ledger_recorder
from ktpledger.adapters.ledger_recorder import DIRECT_CONNECTIONS
from ktpledger.api.app import create_app
from ktpledger.api.routes import appending_at_once
from ktpledger.bootstrap import App
from ktpledger.service.access import create_token
from tests.api.conftest import bearer
from tests.ledger.factory import claim, offer

CLIENTS = 3 * DIRECT_CONNECTIONS


class Counted:
    """`Ledger.append` that counts the calls under way at once (each held a moment)."""

    def __init__(self, append: Callable[..., Any]) -> None:
        self.append = append
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.02)  # long enough for the others to come in, were they let
            return self.append(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_appends_at_once_are_bounded_by_the_recorders_direct_connections(app: App) -> None:
    token = create_token(app.database, "admin", None, "slots")
    projects = [f"KTP-S{n:03d}" for n in range(CLIENTS)]
    assert app.ledger.append([offer(project) for project in projects])[0].status == "recorded"
    counted = Counted(app.ledger.append)
    app.ledger.append = counted  # type: ignore[method-assign]
    with TestClient(create_app(app)) as client:

        def post(project: str) -> int:
            body = [claim(f"{project}-1", "1.00", project=project)]
            return client.post("/events", json=body, headers=bearer(token)).status_code

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(post, projects))
    assert statuses == [200] * CLIENTS
    if app.ledger.recorder.appends_one_directly:  # PostgreSQL
        assert appending_at_once(app) == DIRECT_CONNECTIONS
        assert counted.most <= DIRECT_CONNECTIONS
    else:
        assert appending_at_once(app) is None
    assert [len(app.ledger.stream(project)) for project in projects] == [2] * CLIENTS


def test_appends_at_once_are_the_ledgers_direct_appends(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """The route asks the ledger how many single appends it runs at once in one round trip, so a
    recorder keeping fewer connections bounds the route with it."""
    monkeypatch.setattr(ledger_recorder, "DIRECT_CONNECTIONS", 2)
    if app.ledger.recorder.appends_one_directly:  # PostgreSQL
        assert app.ledger.direct_appends == 2
        assert appending_at_once(app) == 2
    else:
        assert app.ledger.direct_appends == 0
        assert appending_at_once(app) is None

"""`ktpledger serve` with a broker sends the appends' wake-ups from a thread of its own
(`api/wakeups.SentAfterResponse`): every project is woken, those gathered while a send is under
way go together, nothing is lost at shutdown, and a failing dispatcher fails no request. The
embedded default (projections caught up in the request) is left as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ktpledger.api.app import create_app
from ktpledger.api.wakeups import SentAfterResponse
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.access import create_token
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.api.conftest import bearer
from tests.ledger.factory import claim, offer

WAIT = 30.0  # seconds a test waits for the sending thread at most (it never judges a time)


class Dispatcher:
    """A broker's dispatcher that records what it was asked to wake, and can be held."""

    def __init__(self) -> None:
        self.sent: list[set[str]] = []
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()
        self.fail = False

    def projects_changed(self, projects: set[str]) -> None:
        self.entered.set()
        assert self.open.wait(WAIT)
        if self.fail:
            raise RuntimeError("the broker is away")
        self.sent.append(set(projects))

    def woken(self) -> set[str]:
        return set().union(*self.sent)


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher()


@pytest.fixture
def brokered(database_url: str, dispatcher: Dispatcher) -> Iterator[App]:
    application = bootstrap(Settings(database_url=database_url), wakeup=dispatcher)
    upgrade(application.database)
    yield application
    application.close()


def test_every_project_is_woken_after_the_response_and_the_rest_at_shutdown(
    brokered: App, dispatcher: Dispatcher
) -> None:
    token = create_token(brokered.database, "admin")
    with TestClient(create_app(brokered, wakeups_after_response=True)) as client:
        dispatcher.open.clear()  # the broker is slow: the requests do not wait for it
        first = client.post("/events", json=offer("KTP-0101"), headers=bearer(token))
        assert first.status_code == 200
        assert dispatcher.entered.wait(WAIT)  # the thread is sending KTP-0101 and waits
        for project in ("KTP-0102", "KTP-0103"):
            assert client.post("/events", json=offer(project), headers=bearer(token)).status_code == 200
        assert dispatcher.sent == []
        dispatcher.open.set()
    # The app's shutdown sent what was left: the two gathered meanwhile in one wake-up.
    assert dispatcher.sent == [{"KTP-0101"}, {"KTP-0102", "KTP-0103"}]


def test_without_the_option_or_a_broker_nothing_changes(brokered: App, dispatcher: Dispatcher) -> None:
    token = create_token(brokered.database, "admin")
    with TestClient(create_app(brokered)) as client:
        assert client.post("/events", json=offer("KTP-0201"), headers=bearer(token)).status_code == 200
        assert dispatcher.sent == [{"KTP-0201"}]  # sent in the request, as before


def test_the_embedded_default_still_catches_up_in_the_request(app: App) -> None:
    token = create_token(app.database, "admin")
    before = app.ledger.on_appended
    with TestClient(create_app(app, wakeups_after_response=True)) as client:
        assert app.ledger.on_appended == before
        assert client.post("/events", json=offer("KTP-0301"), headers=bearer(token)).status_code == 200
        assert (
            client.post(
                "/events", json=claim("c1", "10.00", project="KTP-0301"), headers=bearer(token)
            ).status_code
            == 200
        )
        # Read at once after the write: the projection has it.
        assert app.projector.allowances("KTP-0301").version == 2


def test_a_failing_dispatcher_fails_no_request(brokered: App, dispatcher: Dispatcher) -> None:
    token = create_token(brokered.database, "admin")
    dispatcher.fail = True
    with TestClient(create_app(brokered, wakeups_after_response=True)) as client:
        assert client.post("/events", json=offer("KTP-0401"), headers=bearer(token)).status_code == 200
        assert dispatcher.entered.wait(WAIT)
    dispatcher.fail = False
    assert client.post("/events", json=offer("KTP-0402"), headers=bearer(token)).status_code == 200
    # After shutdown a wake-up is sent by its caller, as without the thread.
    assert dispatcher.sent == [{"KTP-0402"}]


def test_sent_after_response_alone() -> None:
    sent: list[set[str]] = []
    done = threading.Event()

    def send(projects: set[str]) -> None:
        sent.append(projects)
        done.set()

    after = SentAfterResponse(send)
    assert after.close()  # nothing was started: nothing to wait for
    after = SentAfterResponse(send)
    after.projects_changed({"KTP-0001", "KTP-0002"})
    assert done.wait(WAIT)
    after.projects_changed({"KTP-0003"})
    assert after.close()
    assert set().union(*sent) == {"KTP-0001", "KTP-0002", "KTP-0003"}
    after.projects_changed({"KTP-0004"})  # after close: sent at once, in the caller
    assert sent[-1] == {"KTP-0004"}


def test_under_load_sends_are_spaced_and_shutdown_sends_at_once() -> None:
    """A send after a quiet spell goes at once; the next waits out the spacing (here an hour on a
    clock that never moves) while projects gather, and the shutdown sends them without waiting."""
    sent: list[set[str]] = []
    first = threading.Event()

    def send(projects: set[str]) -> None:
        sent.append(projects)
        first.set()

    after = SentAfterResponse(send, spacing=3600.0, clock=lambda: 0.0)
    after.projects_changed({"KTP-0001"})
    assert first.wait(WAIT)
    after.projects_changed({"KTP-0002"})
    after.projects_changed({"KTP-0003", "KTP-0001"})
    assert sent == [{"KTP-0001"}]
    assert after.close()
    assert sent == [{"KTP-0001"}, {"KTP-0001", "KTP-0002", "KTP-0003"}]

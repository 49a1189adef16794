"""The embedded default delivers alerts on a thread of its own: appends never wait for a channel."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from ktpledger.bootstrap import bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import BackgroundDelivery
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer
from tests.notify.conftest import SECRET, WebhookServer

WAIT = 30.0  # seconds a test waits for something that should happen at once; only a bug runs it out


class GatedDelivery:
    """A delivery run that blocks until the test opens the gate, counting its runs."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.runs = 0

    def __call__(self) -> None:
        self.runs += 1
        self.started.release()
        assert self.gate.wait(WAIT), "the test never opened the gate"


def test_a_request_returns_while_a_run_is_still_going() -> None:
    delivery = GatedDelivery()
    background = BackgroundDelivery(delivery)
    background.request()
    assert delivery.started.acquire(timeout=WAIT)  # the first run is going, and blocked
    background.request()  # returns although the run has not finished
    delivery.gate.set()
    assert background.close()


def test_requests_during_a_run_make_exactly_one_more_run() -> None:
    delivery = GatedDelivery()
    background = BackgroundDelivery(delivery)
    background.request()
    assert delivery.started.acquire(timeout=WAIT)
    for _ in range(5):
        background.request()
    delivery.gate.set()
    assert background.close()
    assert delivery.runs == 2


def test_close_runs_what_was_asked_and_later_requests_are_ignored() -> None:
    runs: list[int] = []
    background = BackgroundDelivery(lambda: runs.append(1))
    assert background.close()  # nothing asked: nothing to run
    assert runs == []
    background = BackgroundDelivery(lambda: runs.append(1))
    background.request()
    assert background.close()
    assert runs == [1]
    background.request()
    assert background.close()
    assert runs == [1]


def test_a_stuck_channel_does_not_hold_close_for_ever(caplog: pytest.LogCaptureFixture) -> None:
    delivery = GatedDelivery()
    background = BackgroundDelivery(delivery, close_timeout=0.2)
    background.request()
    assert delivery.started.acquire(timeout=WAIT)
    assert background.close() is False
    assert "still running" in caplog.text
    delivery.gate.set()  # let the daemon thread finish


def test_a_failing_run_is_logged_and_the_next_request_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    done = threading.Semaphore(0)

    def flaky() -> None:
        calls.append(1)
        done.release()
        if len(calls) == 1:
            raise OSError("smtp down")

    background = BackgroundDelivery(flaky)
    background.request()
    assert done.acquire(timeout=WAIT)
    background.request()
    assert done.acquire(timeout=WAIT)
    assert background.close()
    assert len(calls) == 2
    assert "alert delivery failed" in caplog.text


def test_an_append_does_not_wait_for_a_slow_webhook(
    sqlite_url: str, webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KTPLEDGER_NOTIFY", "webhook")
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_URL", webhook_server.url)
    monkeypatch.setenv("KTPLEDGER_WEBHOOK_SECRET", SECRET)
    webhook_server.gate = threading.Event()
    app = bootstrap(Settings(database_url=sqlite_url, notify_channels=("webhook",)))
    try:
        upgrade(app.database)
        # over budget at once: consumables' budget is 4,000 in the factory's offer
        results = app.ledger.append([offer(), claim("big", "4300.00")])
        assert [r.status for r in results] == ["recorded", "recorded"]
        # the append has returned while the webhook is still holding its request
        assert webhook_server.accepted() == []
        assert app.projector.alerts("KTP-0042")
        webhook_server.gate.set()
    finally:
        app.close()  # waits for the delivery that was asked for
    kinds: set[Any] = {hit.alert["kind"] for hit in webhook_server.accepted()}
    assert "over_budget" in kinds


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_its_own_delivery_thread() -> None:
    runs: list[int] = []
    background = BackgroundDelivery(lambda: runs.append(os.getpid()))
    background.request()  # the parent's thread exists from here on
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            background.request()
            code = 0 if background.close() and os.getpid() in runs else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert background.close()
    assert runs == [os.getpid()]

"""The in-process wake-up of the embedded default (no broker)."""

from __future__ import annotations

import logging
from typing import Any

from ktpledger.service.projections import CatchUp
from ktpledger.service.wakeup import InProcess, PausedAfterFailure, chunks


class FakeProjector:
    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def catch_up_many(self, projects: list[str]) -> list[CatchUp]:
        self.calls.append(projects)
        if self.fail:
            raise RuntimeError("database went away")
        return [CatchUp(p, 0, 1, [len(self.calls)], 0) for p in projects]


def test_every_append_gives_delivery_a_turn_even_without_new_alerts() -> None:
    delivered: list[list[int]] = []
    projector = FakeProjector()
    wakeup = InProcess(projector, delivered.append)  # type: ignore[arg-type]
    wakeup.projects_changed({"B", "A"})
    wakeup.projects_changed(set())
    assert projector.calls == [["A", "B"]]
    assert delivered == [[1, 1], []]  # the second turn retries earlier failures whose back-off passed


def test_a_failing_projection_or_delivery_never_fails_the_append(caplog: Any) -> None:
    def broken(_: list[int]) -> None:
        raise OSError("smtp down")

    InProcess(FakeProjector(fail=True), broken).projects_changed({"A"})  # type: ignore[arg-type]
    assert "did not catch up" in caplog.text and "alert delivery failed" in caplog.text


def test_wake_ups_are_sorted_chunks() -> None:
    assert chunks({"c", "a", "b"}, size=2) == [["a", "b"], ["c"]]
    assert chunks(set()) == []


class Broker:
    """A broker client that is away while `down`, as Celery's send_task is: it raises."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[list[str]] = []
        self.tries = 0

    def send(self, message: list[str]) -> None:
        self.tries += 1
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append(message)


def test_after_a_failed_send_no_wake_up_is_tried_for_the_pause(caplog: Any) -> None:
    caplog.set_level(logging.INFO, "ktpledger.wakeup")
    broker, now = Broker(), [100.0]
    send = PausedAfterFailure(broker.send, pause=5.0, clock=lambda: now[0])
    send([["A"], ["B"]])
    assert broker.sent == [["A"], ["B"]]

    broker.down = True
    send([["C"], ["D"]])  # the first fails; the rest of the append's messages are not tried
    assert broker.tries == 3
    for step in (1.0, 2.0, 1.9):  # 4.9 s later: still paused, nothing tried, nothing raised
        now[0] += step
        send([["E"]])
    assert broker.tries == 3
    assert "no wake-up is sent for 5 s" in caplog.text

    broker.down = False
    now[0] += 0.2  # the pause is over: tried again
    send([["F"]])
    assert broker.sent == [["A"], ["B"], ["F"]]
    assert "after 3 wake-ups skipped" in caplog.text


def test_a_send_that_keeps_failing_is_tried_once_a_pause() -> None:
    broker, now = Broker(), [0.0]
    broker.down = True
    send = PausedAfterFailure(broker.send, pause=5.0, clock=lambda: now[0])
    for _ in range(100):  # 100 appends over 10 s of an outage
        send([["A"]])
        now[0] += 0.1
    assert broker.tries == 2  # at 0 s and at 5 s: not 100 waits for the client's retries

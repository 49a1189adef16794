"""A worker's catch-ups hand the alerts they raise to a delivery thread of the worker's own
(workers/tasks.py `RaisedDeliveries`), not to a task queued behind the catch-ups; no broker here."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import workers.tasks as tasks


def test_gathered_alerts_are_delivered_on_a_thread_and_none_is_lost() -> None:
    delivered: list[list[int]] = []
    started = threading.Event()
    release = threading.Event()

    def deliver_ids(ids: list[int]) -> None:
        started.set()
        release.wait(10)  # the first run is still going while more are gathered
        delivered.append(ids)

    raised = tasks.RaisedDeliveries(deliver_ids)
    raised.add([3, 1])
    assert started.wait(10)
    raised.add([2])
    raised.add([2, 5])
    release.set()
    raised.close()  # waits for the run asked for
    assert delivered[0] == [1, 3]
    assert sorted(i for ids in delivered for i in ids) == [1, 2, 3, 5]
    assert len(delivered) == 2  # what came during the first run went in one more


@dataclass
class Result:
    raised: list[int]
    from_version: int = 0
    to_version: int = 1
    project: str = "KTP-1"
    failed: str | None = None


@dataclass
class FakeProjector:
    results: list[Result] = field(default_factory=list)

    def catch_up_many(self, names: list[str], also: list[str]) -> list[Result]:
        return self.results


@dataclass
class FakeApp:
    projector: FakeProjector


def test_a_catch_up_that_raises_hands_them_over_without_sending_a_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gathered: list[list[int]] = []

    class Gatherer:
        def add(self, ids: list[int]) -> None:
            gathered.append(ids)

    def no_task(*_: Any) -> None:
        raise AssertionError("a deliver task was sent")

    app = FakeApp(FakeProjector([Result([7, 8]), Result([]), Result([9])]))
    monkeypatch.setattr(tasks, "application", lambda: app)
    monkeypatch.setattr(tasks, "raised_deliveries", lambda: Gatherer())
    monkeypatch.setattr(tasks.deliver, "delay", no_task)
    answer = tasks.catch_up(["KTP-1", "KTP-2", "KTP-3"])
    assert gathered == [[7, 8, 9]]
    assert answer["raised"] == [7, 8, 9]


def test_a_catch_up_settles_the_heap_after_its_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """After each catch-up, out of its transaction, the worker freezes what survived
    (`SurvivorsFrozen.settle`, at most every second): its collections stay short."""
    order: list[str] = []

    class Projector:
        def catch_up_many(self, names: list[str], also: list[str]) -> list[Result]:
            order.append("catch-up")
            return [Result([])]

    class Survivors:
        def settle(self) -> None:
            order.append("settle")

    monkeypatch.setattr(tasks, "application", lambda: FakeApp(Projector()))  # type: ignore[arg-type]
    monkeypatch.setattr(tasks, "survivors", lambda: Survivors())
    tasks.catch_up(["KTP-1"])
    tasks.catch_up(["KTP-2"])
    assert order == ["catch-up", "settle"] * 2


def test_a_delivery_waits_for_a_quiet_gap_between_catch_ups() -> None:
    """Deliveries yield to catch-ups (`CatchUpsFirst`): none goes while a catch-up runs, and what
    was gathered goes once the worker has had none running for `quiet` seconds, a few at a time."""
    delivered: list[list[int]] = []
    done = threading.Event()

    def deliver_ids(ids: list[int]) -> None:
        delivered.append(ids)
        if sum(len(turn) for turn in delivered) == 5:
            done.set()

    turns = tasks.CatchUpsFirst(quiet=0.01, patience=600)
    raised = tasks.RaisedDeliveries(deliver_ids, turns, turn_alerts=2)
    with turns.catching_up():
        raised.add([5, 4, 3, 2, 1])
        assert not done.wait(0.3)  # a catch-up is running: nothing goes, however long it takes
        assert delivered == []
    assert done.wait(10)  # the catch-up ended: the worker is quiet
    assert delivered == [[1, 2], [3, 4], [5]]
    raised.close()


def test_a_worker_never_quiet_still_delivers_after_its_patience() -> None:
    delivered = threading.Event()
    turns = tasks.CatchUpsFirst(quiet=0.01, patience=0.05)
    raised = tasks.RaisedDeliveries(lambda ids: delivered.set(), turns)
    with turns.catching_up():
        raised.add([1])
        assert delivered.wait(10)  # the catch-up never ended
    raised.close()


def test_a_stopping_worker_delivers_what_it_gathered_without_waiting_for_a_gap() -> None:
    delivered: list[list[int]] = []
    turns = tasks.CatchUpsFirst(quiet=0.01, patience=600)
    raised = tasks.RaisedDeliveries(delivered.append, turns)
    with turns.catching_up():
        raised.add([1, 2])
        raised.close()  # the worker stops: the run asked for goes now
    assert delivered == [[1, 2]]


def test_a_catch_up_task_marks_itself_running_for_the_delivery_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    turns = tasks.CatchUpsFirst()

    class Watching(FakeProjector):
        def catch_up_many(self, names: list[str], also: list[str]) -> list[Result]:
            seen.append(turns._running)
            return []

    monkeypatch.setattr(tasks, "application", lambda: FakeApp(Watching()))
    monkeypatch.setattr(tasks, "catch_up_turns", lambda: turns)
    tasks.catch_up(["KTP-1"])
    assert seen == [1] and turns._running == 0


def test_past_its_patience_a_delivery_rests_after_each_turn_while_catch_ups_run() -> None:
    """A delivery beside the catch-ups (its patience over) takes at most `share` of the time: after
    a turn it rests, unless the worker goes quiet meanwhile."""
    turns = tasks.CatchUpsFirst(quiet=0.01, patience=0, share=0.25)
    returned = threading.Event()

    def wait() -> None:
        turns.wait_turn(time.monotonic())
        returned.set()

    with turns.catching_up():
        turns.wait_turn(time.monotonic())  # patience over, no turn taken yet: at once
        turns.took(100.0)  # a turn of 100 s: a rest of 300 s
        waiting = threading.Thread(target=wait)
        waiting.start()
        assert not returned.wait(0.3)  # resting, however long the catch-ups take
    assert returned.wait(10)  # the worker went quiet: its turn
    waiting.join(10)

"""A worker's catch-ups hand the alerts they raise to a delivery thread of the worker's own
(workers/tasks.py `RaisedDeliveries`), not to a task queued behind the catch-ups; no broker here."""

from __future__ import annotations

import threading
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

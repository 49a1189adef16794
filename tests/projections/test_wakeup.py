"""The in-process wake-up of the embedded default (no broker)."""

from __future__ import annotations

from typing import Any

from ktpledger.service.projections import CatchUp
from ktpledger.service.wakeup import InProcess, chunks


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

"""`collector_paused`: the cyclic collector is off inside the block and back as it was after it,
however blocks nest or overlap across threads. `SurvivorsFrozen`: a long-lived process freezes what
survived at most every second and collects everything once every ten minutes."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ktpledger.service.collector import SurvivorsFrozen, collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_running_again_after_even_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("the job failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_blocks_resume_it_only_when_the_last_ends() -> None:
    gc.enable()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())  # the first block still runs: still paused
        second_done.set()

    worker = threading.Thread(target=second)
    worker.start()
    with collector_paused():
        first_in.set()
        assert second_done.wait(5)
    worker.join(5)
    assert seen == [False, False]
    assert gc.isenabled()


class FakeCollector:
    """The `gc` calls `SurvivorsFrozen` makes, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def collect(self, generation: int = 2) -> int:
        self.calls.append(f"collect({generation})")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


def test_survivors_are_frozen_at_once_then_at_most_every_freeze_every() -> None:
    now = [100.0]
    collector = FakeCollector()
    survivors = SurvivorsFrozen(
        clock=lambda: now[0], collector=collector, freeze_every=1.0, collect_all_every=600.0
    )
    survivors.settle()  # the first time: at once (start-up's objects)
    assert collector.calls == ["collect(1)", "freeze"]
    now[0] = 100.9
    survivors.settle()  # within a second of the last: nothing
    assert collector.calls == ["collect(1)", "freeze"]
    now[0] = 101.0
    survivors.settle()
    assert collector.calls == ["collect(1)", "freeze"] * 2


def test_everything_is_unfrozen_and_collected_once_every_collect_all_every() -> None:
    now = [0.0]
    collector = FakeCollector()
    survivors = SurvivorsFrozen(
        clock=lambda: now[0], collector=collector, freeze_every=1.0, collect_all_every=600.0
    )
    survivors.settle()
    collector.calls.clear()
    now[0] = 599.0
    survivors.settle()
    assert collector.calls == ["collect(1)", "freeze"]
    collector.calls.clear()
    now[0] = 600.0  # ten minutes since it was made: a cycle frozen alive and dropped since is collected
    survivors.settle()
    assert collector.calls == ["unfreeze", "collect(2)", "freeze"]
    collector.calls.clear()
    now[0] = 600.5  # and it counts as a freeze
    survivors.settle()
    assert collector.calls == []
    now[0] = 1199.0
    survivors.settle()
    assert collector.calls == ["collect(1)", "freeze"]


def test_frozen_objects_leave_the_collectors_walk_and_are_still_freed() -> None:
    """With the real `gc`: what survived a settle is in the permanent generation (no collection
    walks it), and an object dropped afterwards is still freed by reference counting."""
    import weakref

    class Held:
        pass

    survivors = SurvivorsFrozen()
    held = Held()
    gone = weakref.ref(held)
    try:
        survivors.settle()
        assert gc.get_freeze_count() > 0
        del held
        assert gone() is None
    finally:
        gc.unfreeze()

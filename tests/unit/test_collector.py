"""`collector_paused`: the cyclic collector is off inside the block and back as it was after it,
however blocks nest or overlap across threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ktpledger.service.collector import collector_paused


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

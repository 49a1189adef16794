"""Pausing Python's cyclic garbage collector while a bulk job builds many long-lived objects; and
keeping a long-lived process's collections short (`SurvivorsFrozen`).

An import of 100,000 rows makes a few objects per row (the row, its event, its ledger row, the
folded claim) that all live until the job ends. Each collection of the oldest generation walks
every one of them, and CPython starts one each time that generation has grown by a quarter: the
walks cost as much as the import itself (bench/imports.py: 8,800 rows/s with the collector,
18,000 without, on PostgreSQL). None of those objects is cyclic garbage, so nothing is lost by not
looking for it; reference counting still frees everything else as it goes, and the collector runs
again as usual when the job ends.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class _Pauses:
    """How many jobs run with the collector paused (the server imports in several threads), and
    whether it ran before the first of them began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.was_enabled = True


_pauses = _Pauses()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused; it resumes when the last such block ends,
    if it was running when the first began."""
    with _pauses.lock:
        if _pauses.running == 0:
            _pauses.was_enabled = gc.isenabled()
            gc.disable()
        _pauses.running += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.running -= 1
            if _pauses.running == 0 and _pauses.was_enabled:
                gc.enable()


# How often a long-lived process moves what has survived into the collector's permanent generation
# (`SurvivorsFrozen`), and how often it collects everything, frozen or not, once.
FREEZE_EVERY = 1.0  # seconds
COLLECT_ALL_EVERY = 600.0  # seconds


class Collector(Protocol):
    """What `SurvivorsFrozen` uses of the `gc` module (a fake in tests)."""

    def collect(self, generation: int = 2) -> int: ...

    def freeze(self) -> None: ...

    def unfreeze(self) -> None: ...


class SurvivorsFrozen:
    """A long-lived process (a worker) holds ever more objects that live for good: its caches of
    project states, hundreds of thousands of folded claims. CPython collects the oldest generation
    whenever it has grown by a quarter since the last such collection, and each collection walks
    every object in it, the interpreter stopped meanwhile: in a worker at 2,000 events/s, four
    collections in 20 s, of 39, 63, 85 and 100 ms, growing with the caches, each one stopping a
    catch-up (perhaps holding its projects' locks, which the other worker then waits for) and all
    the events behind it (bench/lag.py, 2026-12-06, issue 18).

    So at most every `freeze_every` seconds (`settle`, called between two pieces of work) the young
    generations are collected (a few thousand objects, about a millisecond) and whatever survives is
    frozen (`gc.freeze`: moved into the permanent generation, which no collection walks; a constant
    time). A collection of the oldest generation then walks only what survived since. Objects frozen
    are still freed by reference counting as ever; only a cycle frozen while alive and dropped later
    would stay, so every `collect_all_every` seconds everything is unfrozen and collected once (one
    pause as long as before, every ten minutes, not every few seconds)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        collector: Collector = gc,
        freeze_every: float = FREEZE_EVERY,
        collect_all_every: float = COLLECT_ALL_EVERY,
    ) -> None:
        self._clock = clock
        self._gc = collector
        self._freeze_every = freeze_every
        self._collect_all_every = collect_all_every
        self._frozen_at: float | None = None
        self._all_at = clock()

    def settle(self) -> None:
        """Freeze what survived, if `freeze_every` has passed since last time (at once the first
        time); collect everything once `collect_all_every` has passed. Call it between two pieces
        of work, holding nothing another process waits for."""
        now = self._clock()
        if now - self._all_at >= self._collect_all_every:
            self._gc.unfreeze()
            self._gc.collect()
            self._gc.freeze()
            self._all_at = self._frozen_at = now
        elif self._frozen_at is None or now - self._frozen_at >= self._freeze_every:
            self._gc.collect(1)
            self._gc.freeze()
            self._frozen_at = now

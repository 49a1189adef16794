"""Pausing Python's cyclic garbage collector while a bulk job builds many long-lived objects.

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
from collections.abc import Iterator
from contextlib import contextmanager


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

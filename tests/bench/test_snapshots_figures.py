"""bench/snapshots.py's figures of fixed measurements (nothing is timed): the two cold appends
from a snapshot judged against a warm append (< 2x), the fold without one beside it, unjudged."""

from __future__ import annotations

from dataclasses import replace

from bench import snapshots
from bench.figures import Figure

FOUND = {"warm": 2.0, "load": 1.5, "cold": 3.0, "halfway": 5.0, "whole": 40.0}
JUDGED = Figure("", None, "ms", floor=2.0, target="< 2x floor", higher_is_better=False)  # both cold ones


def test_the_cold_appends_are_judged_against_the_warm_one() -> None:
    cold, halfway, least, whole = snapshots.as_figures(FOUND, 10_000, "SQLite")
    assert cold == replace(
        JUDGED,
        name="cold first append, SQLite",
        value=3.0,
        note="a new process's first append onto 10,000 events, 10 events past its snapshot; floor: a warm append",
    )
    assert halfway == replace(
        JUDGED,
        name="cold, 250 past, SQLite",
        value=5.0,
        note="the same, 250 events past the newest snapshot (half of SNAPSHOT_EVERY): they are read and folded",
    )
    assert whole == Figure(
        "cold, no snapshot, SQLite",
        40.0,
        "ms",
        floor=2.0,
        higher_is_better=False,
        note="the same append folding the whole stream (before snapshots)",
    )
    assert least == replace(
        JUDGED,
        name="cold floor, SQLite",
        value=3.5,  # the state read, 1.5 ms, and the warm append, 2.0
        note="a new process's state read at a snapshot with nothing after it (1.50 ms: head, snapshot, its "
        "row checked, in one read), plus a warm append: what any cold append pays at least, so when this "
        "row misses 2x, every cold append does",
    )
    assert (cold.met, halfway.met, least.met, whole.met) == (True, False, True, None)  # 1.5x, 2.5x, 1.75x

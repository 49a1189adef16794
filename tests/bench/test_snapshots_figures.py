"""bench/snapshots.py's figures of fixed measurements (nothing is timed): the cold appends from a
snapshot (the projection worker behind, or caught up but for two appends) judged against a warm
append (< 2x); the warm append just after a batch and the fold without a snapshot beside them,
unjudged."""

from __future__ import annotations

from dataclasses import replace

from bench import snapshots
from bench.figures import Figure, out_of_reach

FOUND = {
    "warm": 2.0,
    "warm after batch": 3.2,
    "load": 1.5,
    "cold": 3.0,
    "halfway": 5.0,
    "caught up": 3.8,
    "whole": 40.0,
}
JUDGED = Figure("", None, "ms", floor=2.0, target="< 2x floor", higher_is_better=False)  # both cold ones


def test_the_cold_appends_are_judged_against_the_warm_one() -> None:
    cold, halfway, caught_up, least, after_batch, whole = snapshots.as_figures(FOUND, 10_000, "SQLite")
    assert cold == replace(
        JUDGED,
        name="cold first append, SQLite",
        value=3.0,
        note="a new process's first append onto 10,000 events, 10 events past its snapshot; floor: a warm append",
    )
    assert halfway == replace(
        JUDGED,
        name="cold, 275 past, SQLite",
        value=5.0,
        note="the same, 275 events past the newest full snapshot (about half of SNAPSHOT_EVERY), 25 past a "
        "totals snapshot (about half of TOTALS_EVERY; at most 49): they are read and folded",
    )
    assert caught_up == replace(
        JUDGED,
        name="cold, projections caught up, SQLite",
        value=3.8,
        note="the same, 275 past the newest full snapshot, the projection worker having caught the project "
        "up but for the last two appends (within its lag: `make bench`'s lag rows): it keeps a totals "
        "snapshot at the head it moved (`catch_up.HEAD_SNAPSHOT_EVERY`), so the cold append folds those two",
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
    # The warm append as the first after a batch: shown beside the warm floor (1.6x here), not judged.
    assert (after_batch.name, after_batch.value, after_batch.floor) == (
        "warm after a batch, SQLite",
        3.2,
        2.0,
    )
    assert after_batch.target == "" and after_batch.note.startswith("not judged: the warm append itself")
    assert (cold.met, halfway.met, caught_up.met, least.met, after_batch.met, whole.met) == (
        True,
        False,
        True,
        True,
        None,
        None,
    )


def test_the_physical_floor_bounds_every_cold_append_and_says_when_it_misses_too() -> None:
    """PostgreSQL's physical floor (plain psycopg: a pooled connection's read, then an INSERT,
    against a warm INSERT): a row of its own, shown and not judged (plain psycopg's ratio is not
    ours); every cold row's bound is the warm append plus the plain read's round trip (timed where
    a cold append is, not the tight loop's), so that a cold row that sum misses too says it is out
    of reach."""
    found = {
        **FOUND,
        "physical cold": 2.9,
        "physical warm": 0.4,
        "physical read": 2.5,
        "physical read, tight": 1.25,
    }  # (2 + 2.5) / 2: out of reach
    cold, halfway, caught_up, least, _, _, physical = snapshots.as_figures(found, 10_000, "PostgreSQL")
    assert physical.name == "physical floor, PostgreSQL"
    assert (physical.value, physical.floor, physical.met) == (2.9, 0.4, None)
    assert (
        "(2.50 ms, the cold rows' bound with the warm append, timed where a cold append is; 1.25 ms in a "
        "tight loop)" in physical.note
    )
    for figure in (cold, halfway, caught_up, least):
        assert figure.bound == 2.0 + 2.5
    assert out_of_reach(halfway).startswith("OUT OF REACH: the warm append plus a plain read's round trip")
    # A plain read quicker than the warm append: 2x is within reach, and no row says otherwise.
    met = snapshots.as_figures({**found, "physical read": 1.5}, 10_000, "PostgreSQL")
    assert [figure.bound for figure in met[:4]] == [3.5, 3.5, 3.5, 3.5]
    assert all(out_of_reach(figure) == "" for figure in met)

"""Snapshots (issue 18, item 1): a new process's first append onto a project with 10,000 events,
beside a warm process's append onto it, measured in the same run; and the same first append with
no snapshot to start from (the whole stream folded), to show what the snapshot saves.

    .venv/bin/python bench/snapshots.py                 # SQLite, 10,000 events
    .venv/bin/python bench/snapshots.py --events 20000 --postgres

Each measurement is the median of a bounded number of appends. Target: cold < 2x warm.

A loaded state's claims are read only when something asks for them (`snapshot.DeferredClaims`),
and are kept in a column of their own: the first append reads the snapshot's totals (about 2 KB),
not its 10,000 claims (about 450 KB, some 20 ms to read back, which is what a cold append cost
before, 2026-12-05).

Each cold append is measured a given number of events past the project's newest snapshot: a batch
takes the project to the next multiple of `SNAPSHOT_EVERY` (a snapshot at its head), then that many
more are appended, then a new `Ledger` appends one. What a cold append still pays beside a warm one:
one read (`LedgerRecorder.cold_start`: the head, the newest snapshot's state and the events from
its row on, in one statement; on PostgreSQL with the append's PREPARE in the same round trip, on
the connection the append then uses), the snapshot's state unpickled, its row checked against its
hash, and the events after it folded (the append's state must reach the head). Before 2026-12-06
the read was a transaction of three queries (five round trips on PostgreSQL) and the PREPARE one
more. The events after the snapshot are the part that grows: full snapshots are written every
`SNAPSHOT_EVERY` (500) versions, totals snapshots (no claims) every `TOTALS_EVERY` (50) between
them, so a cold append folds up to 49 events, about 25 on average ("cold, 275 past": 275 past the
full snapshot, 25 past a totals one; before totals snapshots it folded all 275, up to 499).

Once the projection worker has caught a project up it keeps a totals snapshot at the head it moved
(`catch_up.HEAD_SNAPSHOT_EVERY`): "cold, projections caught up" is the same cold append as "cold, 275
past", the worker having caught up but for the writer's last two appends (within its lag), so that
it folds those two; before 2026-12-07 only the appends' own snapshots were there (every
`TOTALS_EVERY` versions), and a cold append folded 25 events on average.

On PostgreSQL, the physical floor: plain psycopg on a connection from the pool (as the cold append's
is), the snapshot's row and the events after it in one round trip, then a plain INSERT, against a
warm plain INSERT (`physical_floor`): two round trips where a warm append is one, the second not
prepared. Its row is shown, not judged: plain psycopg's cold/warm ratio says nothing of ours, whose
warm append also parses, checks and hashes. What bounds every cold row is the warm append plus the
plain read's round trip alone: a cold append does all a warm one does and must read the state before
it can judge the event, so when that sum misses 2x, the rows say OUT OF REACH. That read is timed
where a cold append is (after the same batches and warm appends, alternately with the cold appends
NEAR past): timed in a tight loop, as the bound was until 2026-12-06, it took about half as long
(0.29-0.37 ms against 0.54-0.62, three runs that day), the server's and this process's caches warm
for it as they never are for a cold append (the tight loop's figure is in the physical floor's note).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.scratch import ledger_url
from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.ledger_store import COLUMNS, INSERT_COLUMNS
from ktpledger.domain import snapshot as snapshot_module
from ktpledger.domain.snapshot import SNAPSHOT_EVERY
from ktpledger.service import ledger_deciding
from ktpledger.service.ledger import Ledger
from ktpledger.service.projections import Projector
from ktpledger.service.schema import upgrade
from tests.ledger.factory import offer

PROJECT = "KTP-BENCH-SNAP"
RUNS = 9  # appends timed per figure (the median is reported)
NEAR = 10  # events past the newest full snapshot in the first cold figure: a few
# `snapshot.TOTALS_EVERY`, or the default where it is not defined (code before totals snapshots, for
# an A/B run of this script): the past events are appended in batches that end on its multiples.
TOTALS_EVERY: int = getattr(snapshot_module, "TOTALS_EVERY", 50)
# ... and in the second: about half of SNAPSHOT_EVERY, what a cold append met on average before
# totals snapshots (250 at 2026-12-06), and half of TOTALS_EVERY (rounded down) past the newest
# totals snapshot, what it meets on average now (at worst TOTALS_EVERY - 1).
PAST = SNAPSHOT_EVERY // 2 + TOTALS_EVERY // 2


def claim(number: int) -> dict[str, Any]:
    month = 1 + number % 12
    data: dict[str, Any] = {"category": "consumables", "amount": "1.00", "description": f"item {number}"}
    if number % 3 == 0:  # a tagged claim the state counts under a sub-limit
        data = {
            "category": "travel_subsistence",
            "amount": "0.10",
            "description": f"trip {number}",
            "tags": ["conference"],
        }
    return {
        "type": "SpendClaimed",
        "project": PROJECT,
        "key": f"c{number}",
        "date": f"2025-{month:02d}-15",
        "data": data,
    }


@contextmanager
def database(postgres: bool) -> Iterator[Database]:
    """A fresh ledger (`scratch.ledger_url`), opened."""
    with ledger_url(postgres) as url:
        chosen = Database(build_engine(url))
        try:
            yield chosen
        finally:
            chosen.dispose()


def measure(events: int, postgres: bool) -> dict[str, float]:
    """Median ms of a warm append, a cold first append from a snapshot, and one without any."""
    with database(postgres) as db:
        upgrade(db)
        ledger = Ledger(db)
        ledger.append([offer(PROJECT)])
        for start in range(1, events, 2000):
            ledger.append([claim(n) for n in range(start, min(start + 2000, events))])
        next_claim = events

        def one(on: Ledger) -> float:
            nonlocal next_claim
            started = time.perf_counter()
            result = on.append([claim(next_claim)])[0]
            elapsed = time.perf_counter() - started
            assert result.status == "recorded", result
            next_claim += 1
            return elapsed * 1000

        warm = [one(ledger) for _ in range(RUNS)]
        # The same warm process's first append after its batches (the cold appends' writer's): not a
        # floor, what this machine charges code that has not just run (`as_figures`).
        after_batch: list[float] = []
        ledger.close()

        def cold(past: int, then: Callable[[], float] | None = None, *, caught_up: bool = False) -> float:
            """A new process's first append, `past` events after the project's newest snapshot;
            just before it, a warm append (kept in `warm`): the two are measured alternately, so
            a change of load on the machine weighs on both alike. With `then`, what it times in
            the cold append's place (the plain read of the bound). With `caught_up`, the
            projection worker catches the project up (untimed) after the batches, before the two
            single appends: it keeps a totals snapshot at the head it moved, two events behind
            the head the cold append meets (the two within the worker's lag), and the cold
            append follows the warm one as in every other row (right after the catch-up's own
            work, it ran 0.2 ms slower: this machine's charge for the caches that work displaced,
            which a worker's catch-up in a process of its own does not displace)."""
            nonlocal next_claim
            writer = Ledger(db)
            try:
                head = next_claim  # the offer, then claim n at version n + 1
                # To the next multiple of SNAPSHOT_EVERY in one batch: a snapshot at its head; then
                # the events past it, to the last multiple of TOTALS_EVERY in one (a totals snapshot
                # at its head), the rest up to two in one, the last two one at a time (the second a
                # warm append).
                totals = past - past % TOTALS_EVERY
                for batch in (SNAPSHOT_EVERY - head % SNAPSHOT_EVERY, totals, max(past - totals - 2, 0)):
                    if batch:
                        writer.append([claim(n) for n in range(next_claim, next_claim + batch)])
                        next_claim += batch
                if caught_up:
                    projector.catch_up(PROJECT)
                after_batch.append(one(writer))
                warm.append(one(writer))
            finally:
                writer.close()
            if then is not None:
                return then()
            fresh = Ledger(db)
            try:
                return one(fresh)
            finally:
                fresh.close()

        def loaded() -> float:
            """A new process's state read at a snapshot with no events after it (what every cold
            append pays before its own work: the head, the snapshot and its row read, checked;
            on PostgreSQL the append's PREPARE too), in ms."""
            fresh = Ledger(db)
            try:
                started = time.perf_counter()
                fresh._warm_up(PROJECT)  # the read `append` starts with, timed on its own
                took = time.perf_counter() - started
                assert fresh.states.get(PROJECT) is not None, "the state was not loaded"
                return took * 1000
            finally:
                fresh.close()

        writer = Ledger(db)  # to the next snapshot: the project's head is a snapshot's version
        try:
            if next_claim % SNAPSHOT_EVERY:
                upto = next_claim + SNAPSHOT_EVERY - next_claim % SNAPSHOT_EVERY
                writer.append([claim(n) for n in range(next_claim, upto)])
                next_claim = upto
        finally:
            writer.close()
        at_snapshot = statistics.median(loaded() for _ in range(RUNS))
        colds: list[float] = []
        reads: list[float] = []  # the bound's plain read, where a cold append would be, alternately
        for _ in range(RUNS):
            colds.append(cold(NEAR))
            if postgres:
                reads.append(cold(NEAR, lambda: plain_read(db)))
        from_snapshot = statistics.median(colds)
        # Just after the cold appends NEAR past the snapshot (and the bound's reads): NEAR events after it.
        floors = physical_floor(db, 3 * RUNS) if postgres else None  # cheap: a steadier median
        halfway = statistics.median(cold(PAST) for _ in range(RUNS))  # what a cold append meets on average
        # The same, once the projection worker has caught the project up (its first catch-up, of the
        # whole stream, untimed and before any of them).
        projector = Projector(db)
        projector.catch_up(PROJECT)
        after_catch_up = statistics.median(cold(PAST, caught_up=True) for _ in range(RUNS))
        with no_snapshots(db):
            whole = statistics.median(cold(PAST) for _ in range(3))
    found = {
        "warm": statistics.median(warm),
        "warm after batch": statistics.median(after_batch),
        "load": at_snapshot,
        "cold": from_snapshot,
        "halfway": halfway,
        "caught up": after_catch_up,
        "whole": whole,
    }
    if floors is not None:
        found["physical cold"], found["physical warm"], found["physical read, tight"] = floors
        found["physical read"] = statistics.median(reads)
    return found


# The physical floor (PostgreSQL, plain psycopg): what any cold append must send, read back and write.
_FLOOR_TABLE = "floor_events"  # a copy of `events`' shape and indexes: the ledger is not touched
_FLOOR_INSERT = (
    f"INSERT INTO {_FLOOR_TABLE} ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('%s' for _ in INSERT_COLUMNS)})"
)
# The newest snapshot's totals row by project, and the events after it: two simple indexed statements
# sent together (a client-side bound cursor sends both in one round trip).
_FLOOR_READ = (
    "SELECT version, state FROM state_snapshots WHERE project = %(project)s "
    "ORDER BY version DESC LIMIT 1; "
    f"SELECT {', '.join(column.name for column in COLUMNS)} FROM events WHERE project = %(project)s AND version > "
    "(SELECT max(version) FROM state_snapshots WHERE project = %(project)s) ORDER BY version"
)


def plain_read(db: Database) -> float:
    """Ms of the physical floor's read alone (`_FLOOR_READ`, one round trip) on a connection from
    the pool, as a cold append's is: timed where a cold append would be (`measure`), the bound's."""
    import psycopg

    raw = db.engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        driver.autocommit = True
        started = time.perf_counter()
        with psycopg.ClientCursor(driver) as cursor:
            cursor.execute(_FLOOR_READ, {"project": PROJECT})
            cursor.fetchall()
            assert cursor.nextset(), "the events after the snapshot were not read"
            cursor.fetchall()
        return (time.perf_counter() - started) * 1000
    finally:
        driver.autocommit = False  # as the pool lends it
        raw.close()


def physical_floor(db: Database, runs: int) -> tuple[float, float, float]:
    """Median ms of the physical floor of a cold append, of a warm plain INSERT, and of the floor's
    read alone (its first round trip), measured alternately: on a connection as fresh as the cold append's (`PostgresLedgerRecorder._take`:
    `engine.raw_connection()`, the pool's; in this run a server session used before, as the cold
    append's is: a new process would open one too, some ms more on both), one round trip that
    reads the project's newest snapshot row and the events after it, then one plain INSERT (not
    prepared: a new process has prepared nothing); beside one plain INSERT, prepared, on a
    connection kept checked out (warm). No hashing, folding nor checking: plain psycopg only."""
    import psycopg

    def row(number: int) -> tuple[Any, ...]:
        values: dict[str, Any] = {
            "project": PROJECT,
            "version": number,
            "type": "SpendClaimed",
            "schema_version": 1,
            "key": f"floor-{number}",
            "date": date(2025, 1, 15),
            "data": '{"amount":"1.00","category":"consumables","description":"item"}',
            "recorded_at": datetime.now(UTC),
            "prev_hash": "0" * 64,
            "hash": f"{number:064d}",
            "chain_version": 2,
            "recorded_by": None,
        }
        return tuple(values[name] for name in INSERT_COLUMNS)

    warm_raw = db.engine.raw_connection()
    try:
        warm = warm_raw.driver_connection
        assert warm is not None
        warm.autocommit = True
        warm.execute(f"CREATE TABLE IF NOT EXISTS {_FLOOR_TABLE} (LIKE events INCLUDING ALL)")
        numbers = iter(range(1, 4 * runs + 10))
        for _ in range(3):  # warm: its INSERT prepared, as the warm append's is
            warm.execute(_FLOOR_INSERT, row(next(numbers)), prepare=True)
        colds: list[float] = []
        warms: list[float] = []
        reads: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            warm.execute(_FLOOR_INSERT, row(next(numbers)), prepare=True)
            warms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            fresh_raw = db.engine.raw_connection()
            try:
                fresh = fresh_raw.driver_connection
                assert fresh is not None
                fresh.autocommit = True
                with psycopg.ClientCursor(fresh) as cursor:
                    cursor.execute(_FLOOR_READ, {"project": PROJECT})
                    snapshot_row = cursor.fetchall()
                    assert cursor.nextset(), "the events after the snapshot were not read"
                    cursor.fetchall()
                    assert snapshot_row, "no snapshot row"
                    reads.append((time.perf_counter() - started) * 1000)
                    cursor.execute(_FLOOR_INSERT, row(next(numbers)))
                colds.append((time.perf_counter() - started) * 1000)
            finally:
                fresh.autocommit = False
                fresh_raw.close()
    finally:
        warm_raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        warm_raw.close()
    return statistics.median(colds), statistics.median(warms), statistics.median(reads)


@contextmanager
def no_snapshots(db: Database) -> Iterator[None]:
    """Appends that neither find nor write a snapshot: the fold of the whole stream."""
    original: Callable[..., Any] = ledger_deciding.snapshot_states
    ledger_deciding.snapshot_states = lambda *args: {}  # type: ignore[assignment]
    due = ledger_deciding.snapshots_due
    ledger_deciding.snapshots_due = lambda *args: []  # type: ignore[assignment]
    # A cold start (`LedgerRecorder.cold_start`) asks for snapshots of a format none is written in.
    read_format = ledger_deciding.SNAPSHOT_FORMAT_NOW
    ledger_deciding.SNAPSHOT_FORMAT_NOW = "none"
    try:
        yield
    finally:
        ledger_deciding.snapshot_states = original  # type: ignore[assignment]
        ledger_deciding.snapshots_due = due  # type: ignore[assignment]
        ledger_deciding.SNAPSHOT_FORMAT_NOW = read_format


def as_figures(found: dict[str, float], events: int, backend: str) -> list[figures.Figure]:
    physical_cold, physical_warm = found.get("physical cold"), found.get("physical warm")
    # Every cold append's bound: the warm append (its checks, hash and INSERT, all of which a cold
    # append does too) plus the plain read's round trip (what a cold append must wait for before it
    # can judge the event). When that misses 2x, no code could meet the target on this machine.
    physical_read = found.get("physical read")
    tight_read = found.get("physical read, tight")
    tight = "" if tight_read is None else f"; {tight_read:.2f} ms in a tight loop"
    bound = None if physical_read is None else found["warm"] + physical_read

    def cold(name: str, value: float, note: str) -> figures.Figure:
        """A cold append from a snapshot, judged against a warm one (its floor): < 2x."""
        return figures.Figure(
            name,
            value,
            "ms",
            floor=found["warm"],
            target="< 2x floor",
            higher_is_better=False,
            note=note,
            bound=bound,
            bound_name="" if bound is None else "the warm append plus a plain read's round trip",
        )

    def shown(name: str, value: float, note: str) -> figures.Figure:
        """A row beside the warm append (its floor), not judged."""
        return figures.Figure(name, value, "ms", floor=found["warm"], higher_is_better=False, note=note)

    physical = []
    if physical_cold is not None:
        physical.append(
            figures.Figure(
                f"physical floor, {backend}",
                physical_cold,
                "ms",
                floor=physical_warm,
                higher_is_better=False,
                note="plain psycopg on a connection as fresh as the cold append's (the pool's): the "
                "newest snapshot's row by project and the events after it in one round trip "
                f"({physical_read or 0:.2f} ms, the cold rows' bound with the warm append, timed where a cold "
                f"append is{tight}), then a plain INSERT; floor: a warm plain INSERT, prepared. Not judged: "
                "plain psycopg's own ratio",
            )
        )
    return [
        cold(
            f"cold first append, {backend}",
            found["cold"],
            f"a new process's first append onto {events:,} events, {NEAR} events past its snapshot; floor: "
            "a warm append",
        ),
        cold(
            f"cold, {PAST} past, {backend}",
            found["halfway"],
            f"the same, {PAST} events past the newest full snapshot (about half of SNAPSHOT_EVERY), "
            f"{PAST % TOTALS_EVERY} past a totals snapshot (about half of TOTALS_EVERY; at most "
            f"{TOTALS_EVERY - 1}): they are read and folded",
        ),
        cold(
            f"cold, projections caught up, {backend}",
            found["caught up"],
            f"the same, {PAST} past the newest full snapshot, the projection worker having caught the "
            "project up but for the last two appends (within its lag: `make bench`'s lag rows): it keeps "
            "a totals snapshot at the head it moved (`catch_up.HEAD_SNAPSHOT_EVERY`), so the cold "
            "append folds those two",
        ),
        cold(
            f"cold floor, {backend}",
            found["load"] + found["warm"],
            f"a new process's state read at a snapshot with nothing after it ({found['load']:.2f} ms: "
            "head, snapshot, its row checked, in one read), plus a warm append: what any cold append pays at "
            "least, so when this row misses 2x, every cold append does",
        ),
        shown(
            f"warm after a batch, {backend}",
            found["warm after batch"],
            "not judged: the warm append itself, with its state cached, as the first append after "
            "the writer's batches (the floor follows an append like it). What it pays over the floor is "
            "this machine's charge for code and data not used in the last few milliseconds; a cold "
            "append runs its reading code (the snapshot, the rows, the fold) in that state",
        ),
        shown(
            f"cold, no snapshot, {backend}",
            found["whole"],
            "the same append folding the whole stream (before snapshots)",
        ),
        *physical,
    ]


def brief() -> list[figures.Figure]:
    found = as_figures(measure(10_000, postgres=False), 10_000, "SQLite")
    if figures.postgres_reachable():
        found += as_figures(measure(10_000, postgres=True), 10_000, "PostgreSQL")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    found = as_figures(measure(args.events, args.postgres), args.events, backend)
    print(figures.table([("snapshots", figure) for figure in found]))


if __name__ == "__main__":
    main()

"""The ledger service speaks only to its recorder port: on an in-memory recorder it appends,
decides duplicates and refusals, chains and verifies, and retries a conflicting write, without
a database (cosmicpython's fakes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.ledger_recorder import DIRECT_CONNECTIONS, AppendSession
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import parse_event
from ktpledger.service.ledger import INTEGRITY_RETRIES, Ledger, new_row
from tests.ledger.factory import PROJECT, claim, decision, offer
from tests.ledger.fake_recorder import FakeRecorder


@pytest.fixture
def unused_database(tmp_path: Path) -> Database:
    """A database the ledger is given but must never open: its file is never created."""
    return Database(build_engine(f"sqlite:///{tmp_path}/never-opened.db"))


def test_the_ledger_appends_and_reads_through_its_recorder_alone(
    unused_database: Database, tmp_path: Path
) -> None:
    recorder = FakeRecorder()
    changed: list[set[str]] = []
    ledger = Ledger(unused_database, on_appended=changed.append, recorder=recorder)
    results = ledger.append([offer(), claim("c1", "10.00"), claim("c1", "10.00"), claim("c1", "11.00")])
    assert [(r.status, r.version) for r in results] == [
        ("recorded", 1),
        ("recorded", 2),
        ("duplicate", 2),
        ("rejected", None),
    ]
    assert results[3].error is not None and results[3].error.rule == "R-30"
    assert changed == [{PROJECT}]
    ledger.append([decision("ext", kind="extension", months=3)])
    assert [row.version for row in ledger.stream(PROJECT)] == [1, 2, 3]
    assert ledger.projects() == [PROJECT]
    assert [row.key for row in ledger.read_after(1)] == ["c1", "ext"]
    assert ledger.facts([PROJECT])[PROJECT].version == 3
    assert ledger.state(PROJECT).version == 3
    assert ledger.verify() == (3, None)
    ledger.close()
    assert recorder.closed == 1
    assert not (tmp_path / "never-opened.db").exists()


def test_a_conflicting_write_is_decided_again_against_the_ledger(unused_database: Database) -> None:
    recorder = FakeRecorder()
    ledger = Ledger(unused_database, recorder=recorder)
    ledger.append([offer()])
    recorder.conflicts = INTEGRITY_RETRIES - 1
    [result] = ledger.append([claim("c1")])
    assert (result.status, result.version) == ("recorded", 2)
    assert recorder.sessions == 1 + INTEGRITY_RETRIES


def test_a_write_that_keeps_conflicting_is_raised_and_nothing_is_recorded(unused_database: Database) -> None:
    recorder = FakeRecorder()
    ledger = Ledger(unused_database, recorder=recorder)
    ledger.append([offer()])
    recorder.conflicts = INTEGRITY_RETRIES
    with pytest.raises(WriteConflict):
        ledger.append([claim("c1")])
    assert [row.key for row in ledger.stream(PROJECT)] == ["offer"]
    [again] = ledger.append([claim("c1")])  # its cached state was dropped: decided afresh
    assert (again.status, again.version) == ("recorded", 2)


def test_a_warm_single_event_goes_in_one_call_when_the_recorder_can(unused_database: Database) -> None:
    recorder = FakeRecorder(appends_one_directly=True)
    ledger = Ledger(unused_database, recorder=recorder)
    # A project not cached: its state is read without the append lock (a reading session), then
    # the event goes in by `append_one`: no append transaction.
    ledger.append([offer()])
    assert (recorder.readings, recorder.sessions) == (1, 0)
    for n in range(1, 4):
        [result] = ledger.append([claim(f"c{n}")])
        assert (result.status, result.version) == ("recorded", n + 1)
    assert (recorder.readings, recorder.sessions) == (1, 0)  # warm now: each by `append_one` alone
    # another writer moves the head: `append_one` answers False, the general path decides
    now = datetime.now(UTC)
    recorder._commit([new_row(parse_event(claim("theirs")), ledger.state(PROJECT), now, format_instant(now))])
    [result] = ledger.append([claim("c4")])
    assert (result.status, result.version) == ("recorded", 6)
    assert recorder.sessions == 1
    assert ledger.verify() == (6, None)
    # A new process (a new Ledger on the same rows): one read, then one call; the state it read is
    # the fold of the stream, so a claim it refuses is refused with the same words.
    cold = Ledger(unused_database, recorder=recorder)
    [result] = cold.append([claim("c5")])
    assert (result.status, result.version) == ("recorded", 7)
    assert (recorder.readings, recorder.sessions) == (2, 1)
    [late] = cold.append([claim("c6", date="2030-01-01")])  # after the project's end
    assert late.status == "rejected" and late.error is not None and late.error.rule == "R-33"
    assert [row.version for row in recorder.stream(PROJECT)] == [1, 2, 3, 4, 5, 6, 7]


def test_the_ledger_says_how_many_single_appends_it_runs_at_once_in_one_round_trip(
    unused_database: Database,
) -> None:
    assert Ledger(unused_database, recorder=FakeRecorder()).direct_appends == 0
    direct = Ledger(unused_database, recorder=FakeRecorder(appends_one_directly=True))
    assert direct.direct_appends == DIRECT_CONNECTIONS


def test_an_event_already_parsed_is_judged_like_its_mapping(unused_database: Database) -> None:
    """An import's plan hands `Ledger.append` the events it parsed: the same rules and idempotency."""
    ledger = Ledger(unused_database, recorder=FakeRecorder())
    parsed = [parse_event(item) for item in (offer(), claim("c1", "10.00"), claim("c1", "10.00"))]
    late = parse_event(claim("c2", "5.00", date="2030-01-01"))  # after the project's end
    results = ledger.append([*parsed, late, claim("c1", "11.00")])
    assert [result.status for result in results] == [
        "recorded",
        "recorded",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert results[3].error is not None and results[3].error.rule == "R-33"
    assert results[4].error is not None and results[4].error.rule == "R-30"
    assert [row.key for row in ledger.stream(PROJECT)] == ["offer", "c1"]


def test_a_batch_is_decided_and_inserted_with_the_collector_paused(unused_database: Database) -> None:
    """A batch's many long-lived objects (events, rows, folded claims) are not walked by the cyclic
    collector while it is appended (issue 18: a quarter of a batch's time); it runs again after,
    also after an append that failed."""
    import gc

    recorder = FakeRecorder()
    ledger = Ledger(unused_database, recorder=recorder)
    collecting: list[bool] = []
    original = recorder.appending

    def appending() -> AbstractContextManager[AppendSession]:
        collecting.append(gc.isenabled())
        return original()

    recorder.appending = appending  # type: ignore[method-assign]
    assert gc.isenabled()
    ledger.append([offer(), claim("c1"), claim("c2")])
    assert collecting == [False]
    assert gc.isenabled()
    recorder.conflicts = INTEGRITY_RETRIES
    with pytest.raises(WriteConflict):
        ledger.append([claim("c3"), claim("c4")])
    assert gc.isenabled()


def test_a_batchs_rows_are_inserted_as_they_are_decided(
    unused_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of a batch reach the session's `insert` as each is decided, not once all are (on
    PostgreSQL they stream into the COPY while the rest are decided: issue 18); results and the
    rows inserted are as before, a refused event in the middle included."""
    from ktpledger.service import ledger_deciding

    recorder = FakeRecorder()
    ledger = Ledger(unused_database, recorder=recorder)
    ledger.append([offer()])
    steps: list[str] = []
    making = ledger_deciding.new_row

    def logged(*args: object, **kwargs: object) -> dict[str, object]:
        row = making(*args, **kwargs)  # type: ignore[arg-type]
        steps.append(f"made {row['key']}")
        return row

    monkeypatch.setattr(ledger_deciding, "new_row", logged)
    original = recorder.appending

    @contextmanager
    def appending() -> Iterator[AppendSession]:
        with original() as session:
            inserting = session.insert

            def insert(rows: Iterable[dict[str, object]]) -> None:
                def taken() -> Iterator[dict[str, object]]:
                    for row in rows:
                        steps.append(f"inserted {row['key']}")
                        yield row

                inserting(taken())  # type: ignore[arg-type]

            session.insert = insert  # type: ignore[method-assign]
            yield session

    recorder.appending = appending  # type: ignore[method-assign]
    results = ledger.append([claim("c1"), claim("c2", date="2023-01-02"), claim("c3")])
    assert [(r.status, r.version) for r in results] == [("recorded", 2), ("rejected", None), ("recorded", 3)]
    assert steps == ["made c1", "inserted c1", "made c3", "inserted c3"]
    assert [row.key for row in ledger.stream(PROJECT)] == ["offer", "c1", "c3"]


def test_a_lone_event_is_tried_in_one_call_once_and_otherwise_judged_as_in_a_batch(
    unused_database: Database,
) -> None:
    """A single submission goes straight to `append_one`; one it does not record (a key recorded
    before) is decided on the general path without a second try; a lone refusal while parsing is
    worded as in a batch, and an event already parsed goes in as its mapping would."""
    recorder = FakeRecorder(appends_one_directly=True)
    ledger = Ledger(unused_database, recorder=recorder)
    ledger.append([offer()])
    [first] = ledger.append([claim("c1", "10.00")])
    assert (first.status, first.version, recorder.direct_tries, recorder.sessions) == ("recorded", 2, 2, 0)
    [again] = ledger.append([claim("c1", "10.00")])  # the unique index on (project, key) refuses it
    assert (again.status, again.version) == ("duplicate", 2)
    assert (recorder.direct_tries, recorder.sessions) == (3, 1)  # one try, then the general path
    [parsed] = ledger.append((parse_event(claim("c2", "5.00")),))
    assert (parsed.status, parsed.version, recorder.direct_tries) == ("recorded", 3, 4)
    [unreadable] = ledger.append([{"type": "SpendClaimed", "project": PROJECT, "key": "c3", "date": "nope"}])
    assert (unreadable.status, unreadable.key, unreadable.project) == ("rejected", "c3", PROJECT)
    assert unreadable.error is not None and unreadable.error.field == "date"
    assert recorder.direct_tries == 4
    assert [row.version for row in recorder.stream(PROJECT)] == [1, 2, 3]

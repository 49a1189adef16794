"""PostgreSQL's one-round-trip append of a single event onto a warm project (migration 0004)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ktpledger.adapters import ledger_recorder, ledger_store
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, decision, offer
from tests.ledger.plans import rows_read_from_events

pytestmark = pytest.mark.postgres


class Quiet:
    def projects_changed(self, projects: set[str]) -> None:
        return None


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[App, App]]:
    """Two applications on one database, as two processes would be."""
    first = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    second = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    upgrade(first.database)
    yield first, second
    first.close()
    second.close()


def no_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(ledger_store, "insert", refuse)


def test_a_warm_single_append_takes_one_round_trip_and_chains(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = pair
    first.ledger.append([offer(), claim("c1")])
    no_general_path(monkeypatch)
    for n in range(2, 6):
        [result] = first.ledger.append([claim(f"c{n}")])
        assert (result.status, result.version) == ("recorded", n + 1)
    stream = first.ledger.stream(PROJECT)
    assert [e.version for e in stream] == list(range(1, 7))
    assert first.ledger.verify() == (6, None)


def test_a_head_moved_by_another_process_falls_back_to_the_general_path(pair: tuple[App, App]) -> None:
    first, second = pair
    first.ledger.append([offer(), claim("c1")])  # first's cache is warm at version 2
    second.ledger.append([claim("c2")])  # version 3, unknown to first's cache
    [result] = first.ledger.append([claim("c3")])
    assert (result.status, result.version) == ("recorded", 4)
    assert first.ledger.verify() == (4, None)


def test_a_refusal_by_a_lagging_cache_is_confirmed_against_the_ledger(pair: tuple[App, App]) -> None:
    first, second = pair
    first.ledger.append([offer(), claim("c1")])  # the period ends 2026-09-30
    second.ledger.append([decision("ext", kind="extension", months=3)])
    [late] = first.ledger.append([claim("late", date="2026-11-15")])  # admitted by the extension
    assert (late.status, late.version) == ("recorded", 4)


def test_duplicates_and_conflicts_still_answer_as_before(pair: tuple[App, App]) -> None:
    first, _ = pair
    first.ledger.append([offer(), claim("c1", "10.00")])
    assert first.ledger.append([claim("c1", "10.00")])[0].status == "duplicate"
    again = first.ledger.append([claim("c1", "11.00")])[0]
    assert again.status == "rejected" and again.error is not None and again.error.rule == "R-30"


def test_a_key_recorded_by_another_process_is_a_duplicate_and_keeps_the_connection(
    pair: tuple[App, App],
) -> None:
    first, second = pair
    first.ledger.append([offer(), claim("c1")])
    first.ledger.append([claim("c2")])  # opens first's one-round-trip connection
    connection = first.ledger.recorder.direct_connection
    assert connection is not None
    second.ledger.append([claim("c3", "10.00")])  # version 4, unknown to first's cache
    # first sends version 4 with key c3: a unique violation, answered on the general path
    [again] = first.ledger.append([claim("c3", "10.00")])
    assert (again.status, again.version) == ("duplicate", 4)
    [other] = first.ledger.append([claim("c3", "11.00")])
    assert other.status == "rejected" and other.error is not None and other.error.rule == "R-30"
    # a unique violation is an answer, not a broken connection: the same one serves the next call
    [next_one] = first.ledger.append([claim("c5")])
    assert (next_one.status, next_one.version) == ("recorded", 5)
    assert first.ledger.recorder.direct_connection is connection
    assert first.ledger.verify() == (5, None)


def test_a_single_append_not_recorded_is_decided_on_the_general_path_from_the_state_as_it_was(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached state is folded on only once the statement says the row went in
    (`Ledger._append_one`): not recorded, the general path decides the event from it, unchanged."""
    first, _ = pair
    first.ledger.append([offer(), claim("c1")])
    first.ledger.append([claim("c2")])  # warm, version 3
    states = first.ledger.states
    monkeypatch.setattr(first.ledger.recorder, "append_one", lambda *_: False)
    inserted: list[int] = []
    real_insert = ledger_store.insert
    monkeypatch.setattr(
        ledger_store, "insert", lambda connection, rows: inserted.append(1) or real_insert(connection, rows)
    )
    [general] = first.ledger.append([claim("c3")])
    assert (general.status, general.version) == ("recorded", 4) and inserted == [1]
    monkeypatch.undo()
    state = states.get(PROJECT)
    assert state is not None and state.version == 4
    [after] = first.ledger.append([claim("c4")])
    assert (after.status, after.version) == ("recorded", 5)
    assert first.ledger.verify() == (5, None)


def test_an_interrupted_single_append_leaves_the_cached_state_as_it_was(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = pair
    first.ledger.append([offer(), claim("c1")])
    first.ledger.append([claim("c2")])

    def interrupted(*_: Any) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(first.ledger.recorder, "append_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        first.ledger.append([claim("c3")])
    state = first.ledger.states.get(PROJECT)
    assert state is not None and state.version == 3
    monkeypatch.undo()
    [again] = first.ledger.append([claim("c3")])
    assert (again.status, again.version) == ("recorded", 4)
    assert first.ledger.verify() == (4, None)


def test_the_statement_confirms_the_hash_its_row_names(postgres_url: str) -> None:
    """A row whose `prev_hash` is not the hash of row `version - 1` is not recorded, though that
    row exists: a row made on a cached state that is not the ledger's must never chain onto a row
    the ledger does not hold."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        app.ledger.append([offer(), claim("c1")])
        head = app.ledger.stream(PROJECT)[-1]
        with app.database.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = True
            appender = ledger_store.DirectAppender(raw)
            row = {**a_row(PROJECT, 3, "c2", "e" * 64), "date": head.date}
            assert appender.append(row) is False
            assert appender.append({**row, "prev_hash": head.hash}) is True
            raw.autocommit = False
        assert [e.key for e in app.ledger.stream(PROJECT)][-1] == "c2"
    finally:
        app.close()


def test_the_function_raises_unique_violation_rather_than_skipping(postgres_url: str) -> None:
    """Migration 0006: no ON CONFLICT, so a taken version is an error the caller sees."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        app.ledger.append([offer(), claim("c1")])
        [row] = [r for r in app.ledger.stream(PROJECT) if r.version == 2]
        with app.database.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = True
            appender = ledger_store.DirectAppender(raw)
            taken = {
                "project": PROJECT,
                "version": 2,
                "type": "SpendClaimed",
                "schema_version": 1,
                "key": "another",
                "date": row.date,
                "data": row.data,
                "recorded_at": row.recorded_at,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
                "chain_version": row.chain_version,
                "recorded_by": row.recorded_by,
            }
            assert appender.append(taken) is False  # version 2 is taken
            assert appender.append({**taken, "version": 4}) is False  # version 3 does not exist
            raw.autocommit = False
        assert [e.version for e in app.ledger.stream(PROJECT)] == [1, 2]
    finally:
        app.close()


@pytest.fixture
def planned_early(postgres_url: str) -> Iterator[tuple[App, Any]]:
    """A migrated, empty ledger and a psycopg connection of its own (autocommit) whose statements
    are planned once for any parameters (`plan_cache_mode = force_generic_plan`): what PostgreSQL
    does with a prepared statement from its sixth execution (psycopg prepares a query from its
    sixth call), from the statistics of when it first plans it, here while the ledger is empty."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        with app.database.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = True
            raw.execute("SET plan_cache_mode = force_generic_plan")
            try:
                yield app, raw
            finally:
                raw.execute("RESET plan_cache_mode")
                raw.autocommit = False
    finally:
        app.close()


def explained(raw: Any, execute: str, parameters: list[Any]) -> dict[str, Any]:
    """The plan (JSON) of `EXECUTE` of a prepared statement, run and rolled back."""
    import psycopg

    with raw.transaction(force_rollback=True):
        cursor = psycopg.ClientCursor(raw)
        [(plan,)] = cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}", parameters).fetchall()
    return dict(plan[0]["Plan"])


@pytest.mark.parametrize("claims", [3, 60])
def test_the_statement_reads_one_row_to_confirm_the_head_however_it_was_planned(
    planned_early: tuple[App, Any], claims: int
) -> None:
    """The single append's statement prepared while the ledger is empty: confirming the head of a
    project of `claims` events reads one row, not the project's. Probed by `version = $2 - 1`, the
    plan went through (project, key) and read every row of the project (issue 18)."""
    app, raw = planned_early
    ledger_store.DirectAppender(raw).prepare()
    app.ledger.append([offer(), *(claim(f"c{n}") for n in range(1, claims + 1))])
    head = app.ledger.stream(PROJECT)[-1]
    row = {**a_row(PROJECT, head.version + 1, "next", head.hash), "date": head.date}
    values = [row[name] for name in ledger_store.INSERT_COLUMNS]
    placeholders = ", ".join(["%s"] * len(values))
    plan = explained(raw, f"EXECUTE {ledger_store._APPEND_ONE_NAME.decode()} ({placeholders})", values)
    [inserted] = [inner for inner in plan["Plans"] if inner["Parent Relationship"] == "Outer"]
    assert inserted["Actual Rows"] == 1  # the row the INSERT was given: the head was confirmed
    assert rows_read_from_events(plan) == 1


def test_a_cold_start_reads_the_events_after_its_snapshot_however_it_was_planned(
    planned_early: tuple[App, Any],
) -> None:
    """`START_SQL` prepared while the ledger is empty: a project of 310 events with a snapshot at
    300 is started from its head (one row) and the events from the snapshot's on (11), not by
    reading all 310 twice (issue 18)."""
    from ktpledger.adapters.snapshot_store import START_SQL_NUMBERED
    from ktpledger.domain.snapshot import SNAPSHOT_FORMAT_NOW

    app, raw = planned_early
    raw.execute(f"PREPARE cold_start (text, text) AS {START_SQL_NUMBERED}")
    app.ledger.append([offer(), *(claim(f"c{n}") for n in range(1, 300))])  # a snapshot at 300
    for n in range(300, 310):
        app.ledger.append([claim(f"c{n}")])
    plan = explained(raw, "EXECUTE cold_start (%s, %s)", [PROJECT, SNAPSHOT_FORMAT_NOW])
    assert plan["Actual Rows"] == 12  # the head's row, then versions 300 to 310
    assert rows_read_from_events(plan) == 1 + 11


def test_a_projects_head_is_one_row_read_however_it_was_planned(planned_early: tuple[App, Any]) -> None:
    """One project's head (`_ONE_HEAD`, read under no lock) prepared while the ledger is empty:
    one row read, not its whole stream (by `max(version)` it read all 60 through (project, key))."""
    import psycopg

    app, raw = planned_early
    raw.execute(f"PREPARE head (text) AS {ledger_store._ONE_HEAD['postgresql'].replace('%s', '$1')}")
    app.ledger.append([offer(), *(claim(f"c{n}") for n in range(1, 60))])
    assert rows_read_from_events(explained(raw, "EXECUTE head (%s)", [PROJECT])) == 1
    assert psycopg.ClientCursor(raw).execute("EXECUTE head (%s)", [PROJECT]).fetchall() == [(60,)]


def test_threads_appending_at_once_each_take_a_connection_of_their_own(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's threads: while one connection is busy another thread takes a second one, not
    the general path; every event is recorded once, chained."""
    first, _ = pair
    recorder = first.ledger.recorder
    assert isinstance(recorder, ledger_recorder.PostgresLedgerRecorder)
    projects = ["KTP-T1", "KTP-T2"]
    first.ledger.append([offer(project) for project in projects])
    inside = threading.Barrier(2, timeout=10)
    original = ledger_store.DirectAppender.append
    held = threading.local()

    def meeting(appender: ledger_store.DirectAppender, row: dict[str, Any]) -> bool:
        if not getattr(held, "met", False):  # each thread's first append waits for the other's
            held.met = True
            inside.wait()
        return original(appender, row)

    monkeypatch.setattr(ledger_store.DirectAppender, "append", meeting)
    no_general_path(monkeypatch)
    results: list[Any] = []

    def appends(project: str) -> None:
        for n in range(5):
            results.extend(first.ledger.append([claim(f"c{n}", project=project)]))

    threads = [threading.Thread(target=appends, args=(project,)) for project in projects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.project, r.status, r.version) for r in results) == [
        (project, "recorded", n) for project in projects for n in range(2, 7)
    ]
    assert recorder._opened == 2
    assert first.ledger.verify() == (12, None)


def test_beyond_the_bound_a_thread_takes_the_general_path(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = pair
    recorder = first.ledger.recorder
    assert isinstance(recorder, ledger_recorder.PostgresLedgerRecorder)
    monkeypatch.setattr(ledger_recorder, "DIRECT_CONNECTIONS", 1)
    first.ledger.append([offer("KTP-A"), offer("KTP-B")])
    a_inside, b_done = threading.Event(), threading.Event()
    original = ledger_store.DirectAppender.append

    def held_open(appender: ledger_store.DirectAppender, row: dict[str, Any]) -> bool:
        a_inside.set()
        assert b_done.wait(10)
        return original(appender, row)

    monkeypatch.setattr(ledger_store.DirectAppender, "append", held_open)
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.extend(first.ledger.append([claim("a1", project="KTP-A")]))
    )
    thread.start()
    assert a_inside.wait(10)  # KTP-A's append holds the one connection
    [b] = first.ledger.append([claim("b1", project="KTP-B")])  # the general path: it does not wait
    b_done.set()
    thread.join()
    assert (b.status, b.version) == ("recorded", 2)
    assert [(r.status, r.version) for r in results] == [("recorded", 2)]
    assert recorder._opened == 1
    assert first.ledger.verify() == (4, None)


def test_the_one_round_trip_stores_exactly_what_the_general_path_would(
    pair: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-round-trip append writes its parameters as text on libpq itself (issue 18): a
    non-ASCII project key, data and `recorded_by`, the date and the instant to the microsecond
    are stored as given, and the chain verifies; the same events appended on the general path by
    the other process store the same values."""
    from ktpledger.domain.recorded import RecordedBy

    first, second = pair
    by = RecordedBy("J\u00f6rg \u2603", "finance", "api")
    first.ledger.append([offer(), claim("c1")], recorded_by=by)
    second.ledger.append([offer("KTP-0043"), claim("c1", project="KTP-0043")], recorded_by=by)
    monkeypatch.setattr(ledger_store, "insert", lambda *_: (_ for _ in ()).throw(AssertionError("general")))
    text = 'caf\u00e9 \U0001f600 "q" \\ tab\tend'
    [result] = first.ledger.append([claim("k\u00e9-2", "12.5", description=text)], recorded_by=by)
    assert (result.status, result.version) == ("recorded", 3)
    monkeypatch.undo()
    second.ledger.append([claim("k\u00e9-2", "12.5", description=text, project="KTP-0043")], recorded_by=by)
    ours, theirs = first.ledger.stream(PROJECT)[-1], second.ledger.stream("KTP-0043")[-1]
    for name in ("version", "type", "schema_version", "key", "date", "data", "chain_version", "recorded_by"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.key == "k\u00e9-2" and "caf\u00e9 \U0001f600" in ours.data
    assert ours.recorded_by == by.canonical()
    # The instant stored is the one hashed, to the microsecond: else the chain would not verify.
    assert first.ledger.verify() == (6, None)


def test_the_one_round_trip_survives_its_statement_being_deallocated(postgres_url: str) -> None:
    """The statement is prepared on the connection under a name of its own: a second appender on
    the same connection finds it prepared, and one deallocated meanwhile is prepared again. Any
    error but a unique violation is raised as psycopg's."""
    import psycopg

    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        app.ledger.append([offer()])
        [row] = app.ledger.stream(PROJECT)
        with app.database.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.autocommit = True
            fields = {
                "project": PROJECT,
                "type": "SpendClaimed",
                "schema_version": 1,
                "date": row.date,
                "data": '{"amount":"1.00","category":"consumables","description":"d","tags":[]}',
                "recorded_at": row.recorded_at,
                "prev_hash": row.hash,
                "hash": "f" * 64,
                "chain_version": 2,
                "recorded_by": None,
            }

            def chained(version: int, key: str) -> dict[str, Any]:
                """Row `version`, naming row `version - 1`'s hash (the statement confirms it)."""
                before = row.hash if version == 2 else f"{version - 1:064d}"
                return {
                    **fields,
                    "version": version,
                    "key": key,
                    "prev_hash": before,
                    "hash": f"{version:064d}",
                }

            assert ledger_store.DirectAppender(raw).append(chained(2, "a")) is True
            again = ledger_store.DirectAppender(raw)  # the statement is prepared already
            assert again.append(chained(3, "b")) is True
            raw.execute("DEALLOCATE ALL")
            assert again.append(chained(4, "c")) is True
            with pytest.raises(psycopg.Error):
                again.append({**chained(5, "d"), "hash": "f" * 65})  # too long
            assert again.append(chained(5, "d")) is True
            raw.autocommit = False
        assert [e.key for e in app.ledger.stream(PROJECT)] == ["offer", "a", "b", "c", "d"]
    finally:
        app.close()


# --- one at a time from taking a position to committing it (migration 0020) ------------------------


def a_row(project: str, version: int, key: str, after: str = "a" * 64) -> dict[str, Any]:
    """A row for `ktpledger_append_one` (its hashes are not checked there; these tests never verify),
    naming `after` as its predecessor's hash (the one-round-trip statement confirms it)."""
    from datetime import UTC, date, datetime

    return {
        "project": project,
        "version": version,
        "type": "SpendClaimed",
        "schema_version": 1,
        "key": key,
        "date": date(2025, 1, 15),
        "data": '{"amount":"1.00","category":"consumables","description":"d","tags":[]}',
        "recorded_at": datetime.now(UTC),
        "prev_hash": after,
        "hash": "b" * 64,
        "chain_version": 2,
        "recorded_by": None,
    }


def head_hash(app: App, project: str) -> str:
    """The hash of the project's newest row: what a row after it names (`a_row`'s `after`)."""
    return app.ledger.stream(project)[-1].hash


def waits_for_a_lock(app: App, pid: int) -> bool:
    """Whether backend `pid` comes to wait for a lock (polled, up to 10 s)."""
    import time

    query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s"
    with app.database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.autocommit = True
        try:
            for _ in range(1000):
                if raw.execute(query, (pid,)).fetchone() == ("Lock",):
                    return True
                time.sleep(0.01)
            return False
        finally:
            raw.autocommit = False


def held_off(app: App, holder: Any, waiter: Any, then: Callable[[], Any]) -> Any:
    """Run `then` on connection `waiter` in a thread while `holder`'s transaction is open: it must
    come to wait for a lock and still be waiting; once `holder` commits, its answer."""
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(then()))
    thread.start()
    try:
        assert waits_for_a_lock(app, waiter.info.backend_pid)
        assert thread.is_alive() and answers == []
    finally:
        holder.execute("COMMIT")
        thread.join()
    assert len(answers) == 1
    return answers[0]


@pytest.fixture
def two_connections(postgres_url: str) -> Iterator[tuple[App, Any, Any]]:
    """An application with projects KTP-A and KTP-B offered, and two psycopg connections of its
    own in autocommit mode (as the one-round-trip path's)."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        app.ledger.append([offer("KTP-A"), offer("KTP-B")])
        with app.database.engine.connect() as one, app.database.engine.connect() as two:
            first, second = one.connection.driver_connection, two.connection.driver_connection
            first.autocommit = second.autocommit = True
            yield app, first, second
            first.autocommit = second.autocommit = False
    finally:
        app.close()


def by_the_function(connection: Any, row: dict[str, Any]) -> int | None:
    """`ktpledger_append_one` called as a process of the release before 0020 calls it: the
    position, or None."""
    from ktpledger.adapters.ledger_store import INSERT_COLUMNS

    query = f"SELECT ktpledger_append_one({', '.join(['%s'] * len(INSERT_COLUMNS))})"
    found = connection.execute(query, [row[name] for name in INSERT_COLUMNS]).fetchone()
    return None if found is None else found[0]


def by_the_statement(connection: Any, row: dict[str, Any]) -> bool:
    return ledger_store.DirectAppender(connection).append(row)


@pytest.mark.parametrize("holding", [by_the_statement, by_the_function])
def test_single_appends_take_positions_one_at_a_time(
    two_connections: tuple[App, Any, Any], holding: Callable[[Any, dict[str, Any]], object]
) -> None:
    """A single append whose transaction is still open (begun by hand around the call here; in
    use, the statement's own) holds off another process's single append, on another project,
    until it commits: each takes its position and commits it before the next takes one, so a
    reader following positions never sees a later one before an earlier one (migration 0020).
    The function `ktpledger_append_one` takes the same lock as the one-round-trip statement."""
    app, first, second = two_connections
    a_row_, b_row = (a_row(p, 2, p[-1].lower(), head_hash(app, p)) for p in ("KTP-A", "KTP-B"))
    first.execute("BEGIN")
    a = holding(first, a_row_)
    b = held_off(app, first, second, lambda: by_the_statement(second, b_row))
    assert a and b
    [a_position, b_position] = [app.ledger.stream(project)[-1].position for project in ("KTP-A", "KTP-B")]
    assert b_position > a_position


def test_the_function_still_confirms_the_head(two_connections: tuple[App, Any, Any]) -> None:
    """`ktpledger_append_one` (kept for a process of the previous release while one upgrades)
    answers as before: NULL when `version - 1` is missing, unique_violation when it is taken."""
    import psycopg

    _, first, _ = two_connections
    assert by_the_function(first, a_row("KTP-A", 3, "gap")) is None
    assert by_the_function(first, a_row("KTP-A", 2, "a")) is not None
    with pytest.raises(psycopg.errors.UniqueViolation):
        by_the_function(first, a_row("KTP-A", 2, "again"))


def test_the_general_paths_lock_holds_off_a_single_append(two_connections: tuple[App, Any, Any]) -> None:
    app, first, second = two_connections
    row = a_row("KTP-B", 2, "b", head_hash(app, "KTP-B"))
    first.execute("BEGIN")
    first.execute("SELECT ktpledger_lock_events()")
    b = held_off(app, first, second, lambda: ledger_store.DirectAppender(second).append(row))
    assert b is True


def test_an_open_single_append_holds_off_the_general_paths_lock(
    two_connections: tuple[App, Any, Any],
) -> None:
    app, first, second = two_connections
    row = a_row("KTP-A", 2, "a", head_hash(app, "KTP-A"))
    first.execute("BEGIN")
    assert ledger_store.DirectAppender(first).append(row) is True
    locked = held_off(
        app, first, second, lambda: second.execute("BEGIN; SELECT ktpledger_lock_events(); COMMIT")
    )
    assert locked is not None


def function_body(app: App) -> str:
    """The source of `ktpledger_append_one` as the database holds it."""
    from sqlalchemy import text

    query = text(
        "SELECT prosrc FROM pg_proc WHERE proname = 'ktpledger_append_one' "
        "AND pronamespace = current_schema()::regnamespace"
    )
    with app.database.engine.connect() as connection:
        return str(connection.execute(query).scalar_one())


def test_downgrading_0020_gives_back_the_function_of_0012(postgres_url: str) -> None:
    from ktpledger.service.schema import migrate

    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        assert "pg_advisory_xact_lock(" in function_body(app)
        migrate(app.database, "downgrade", "0019")
        old = function_body(app)
        assert "PERFORM ktpledger_lock_events();" in old and "advisory" not in old
        app.ledger.append([offer(), claim("c1")])
        [single] = app.ledger.append([claim("c2")])
        assert (single.status, single.version) == ("recorded", 3)
    finally:
        app.close()


def test_0021_finds_the_row_before_by_the_order_of_versions_and_downgrades_to_0020(postgres_url: str) -> None:
    from ktpledger.service.schema import migrate

    app = bootstrap(Settings(database_url=postgres_url), wakeup=Quiet())
    try:
        upgrade(app.database)
        new = function_body(app)
        assert "ORDER BY version DESC LIMIT 1" in new and "pg_advisory_xact_lock(" in new
        migrate(app.database, "downgrade", "0020")
        old = function_body(app)
        assert "ORDER BY" not in old and "version = p_version - 1" in old and "pg_advisory_xact_lock(" in old
    finally:
        app.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_a_connection_of_its_own(pair: tuple[App, App]) -> None:
    """A connection must not cross a fork: the child does not see its parent's (nor close it), it
    opens its own; the parent keeps appending on the one it had."""
    first, _ = pair
    first.ledger.append([offer(), claim("c1")])
    first.ledger.append([claim("c2")])  # opens first's one-round-trip connection
    connection = first.ledger.recorder.direct_connection
    assert connection is not None
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            seen = first.ledger.recorder.direct_connection
            [result] = first.ledger.append([claim("c3")])
            own = first.ledger.recorder.direct_connection
            code = (
                0
                if (seen, result.version, own is not None and own is not connection) == (None, 4, True)
                else 2
            )
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert first.ledger.recorder.direct_connection is connection
    [result] = first.ledger.append([claim("c4")])  # the head moved in the child: the general path
    assert (result.status, result.version) == ("recorded", 5)
    [result] = first.ledger.append([claim("c5")])
    assert (result.status, result.version) == ("recorded", 6)
    assert first.ledger.recorder.direct_connection is connection
    assert first.ledger.verify() == (6, None)

"""The ledger recorder (adapters/ledger_recorder.py) behaves the same behind its one interface on
both backends: what an append session commits is read back alike, what it does not commit is not
there, a conflicting row is a `WriteConflict`, and `append_one` either records the row or says None
and records nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from psycopg.pq import TransactionStatus

from ktpledger.adapters import snapshot_store
from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.ledger_recorder import (
    LedgerRecorder,
    PostgresLedgerRecorder,
    SQLiteLedgerRecorder,
    recorder_for,
)
from ktpledger.adapters.snapshot_store import START_SQL, ColdStart
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.snapshot import StoredSnapshot
from ktpledger.service.ledger import fold, new_row
from ktpledger.service.schema import upgrade
from tests.ledger.factory import PROJECT, claim, decision, offer

OTHER = "KTP-0043"


@pytest.fixture
def recorder(database_url: str) -> Iterator[LedgerRecorder]:
    database = Database(build_engine(database_url))
    upgrade(database)
    chosen = recorder_for(database)
    yield chosen
    chosen.close()
    database.dispose()


def chained(events: list[dict[str, Any]], state: ProjectState | None = None) -> list[dict[str, Any]]:
    """The rows of `events` (all of one project) chained onto `state` (or a new project)."""
    state = state or ProjectState(project=events[0]["project"])
    now = datetime.now(UTC)
    rows = []
    for item in events:
        event = parse_event(item)
        row = new_row(event, state, now, format_instant(now))
        state.apply(event, row["version"], row["hash"])
        rows.append(row)
    return rows


def record(recorder: LedgerRecorder, rows: list[dict[str, Any]]) -> None:
    with recorder.appending() as session:
        session.heads({row["project"] for row in rows})
        session.insert(rows)
        session.commit()


def test_each_backend_has_its_recorder(database_url: str) -> None:
    database = Database(build_engine(database_url))
    try:
        chosen = recorder_for(database)
        expected = PostgresLedgerRecorder if database.dialect == "postgresql" else SQLiteLedgerRecorder
        assert type(chosen) is expected
        assert chosen.appends_one_directly is (expected is PostgresLedgerRecorder)
    finally:
        database.dispose()


def test_what_a_session_commits_is_read_back(recorder: LedgerRecorder) -> None:
    ours = chained([offer(), claim("c1"), decision("d1", kind="extension", months=3), claim("c2")])
    theirs = chained([offer(OTHER)])
    record(recorder, ours + theirs)

    assert recorder.projects() == [PROJECT, OTHER]
    stream = recorder.stream(PROJECT)
    assert [(item.version, item.key, item.hash) for item in stream] == [
        (row["version"], row["key"], row["hash"]) for row in ours
    ]
    assert [item.position for item in recorder.read_after(0)] == [1, 2, 3, 4, 5]
    assert [item.key for item in recorder.read_after(2, limit=2)] == ["d1", "c2"]
    with recorder.every_event() as every_event:
        assert [(item.project, item.version) for item in every_event] == [
            (PROJECT, 1),
            (PROJECT, 2),
            (PROJECT, 3),
            (PROJECT, 4),
            (OTHER, 1),
        ]
    facts, heads = recorder.fact_streams([PROJECT, OTHER, "KTP-NONE"])
    assert {name: [item.key for item in items] for name, items in facts.items()} == {
        PROJECT: ["offer", "d1"],
        OTHER: ["offer"],
    }
    assert heads == {PROJECT: 4, OTHER: 1}
    with recorder.appending() as session:
        assert session.heads([PROJECT, OTHER, "KTP-NONE"]) == {PROJECT: 4, OTHER: 1}
        assert session.heads([PROJECT]) == {PROJECT: 4}  # a second read, under the lock already held
        assert [item.key for item in session.stream(PROJECT, after_version=2)] == ["d1", "c2"]
        assert {
            name: len(items) for name, items in session.streams([PROJECT, OTHER, "KTP-NONE"]).items()
        } == {
            PROJECT: 4,
            OTHER: 1,
        }
        # Each project's events after its own version, oldest first: whole streams (all from 0)
        # and after saved versions (PostgreSQL reads these one index range a project) alike.
        for versions, expected in [
            ({OTHER: 0, PROJECT: 0}, {PROJECT: [1, 2, 3, 4], OTHER: [1]}),
            ({OTHER: 0, PROJECT: 2, "KTP-NONE": 0}, {PROJECT: [3, 4], OTHER: [1]}),
            ({PROJECT: 1, OTHER: 1}, {PROJECT: [2, 3, 4]}),
            ({PROJECT: 4}, {}),
        ]:
            after = session.streams_after(versions)
            assert {name: [item.version for item in items] for name, items in after.items()} == expected
    assert fold(PROJECT, stream).version == 4


def test_what_a_session_does_not_commit_is_not_recorded(recorder: LedgerRecorder) -> None:
    with recorder.appending() as session:
        session.heads([PROJECT])
        session.insert(chained([offer()]))
    with pytest.raises(RuntimeError), recorder.appending() as session:
        session.insert(chained([offer()]))  # the lock is taken even without a read first
        raise RuntimeError("the caller failed before committing")
    assert recorder.stream(PROJECT) == []
    assert recorder.projects() == []


def test_a_version_recorded_first_is_a_write_conflict_and_nothing_of_the_batch_is_kept(
    recorder: LedgerRecorder,
) -> None:
    [first, _] = rows = chained([offer(), claim("c1")])
    record(recorder, [first])
    with pytest.raises(WriteConflict), recorder.appending() as session:
        session.heads([PROJECT])
        session.insert(chained([offer(OTHER)]) + rows)
        session.commit()
    assert recorder.projects() == [PROJECT]
    assert [item.key for item in recorder.stream(PROJECT)] == ["offer"]


def test_append_one_records_the_row_or_answers_false_and_records_nothing(recorder: LedgerRecorder) -> None:
    """On PostgreSQL `append_one` records a row chained onto the head in one round trip; SQLite
    has no such path. Either way False records nothing, and a moved head or a taken key is False."""
    rows = chained([offer(), claim("c1"), claim("c2"), claim("c3")])
    record(recorder, rows[:2])
    state = fold(PROJECT, recorder.stream(PROJECT))
    [onto_head] = chained([claim("c2")], state)
    recorded = recorder.append_one(onto_head)
    if recorder.appends_one_directly:
        assert recorded is True and recorder.stream(PROJECT)[-1].key == "c2"
    else:
        assert recorded is False
        record(recorder, [onto_head])
    assert recorder.append_one(rows[3] | {"version": 2}) is False  # version 2 is taken
    assert recorder.append_one(rows[3] | {"version": 5}) is False  # version 4 is not there
    assert [item.key for item in recorder.stream(PROJECT)] == ["offer", "c1", "c2"]
    recorder.close()  # gives back the path's connection; the recorder can be used again
    [next_one] = chained([claim("c4")], fold(PROJECT, recorder.stream(PROJECT)))
    recorded = recorder.append_one(next_one)
    if recorder.appends_one_directly:
        assert recorded is True and recorder.stream(PROJECT)[-1].key == "c4"
    else:
        assert recorded is False and len(recorder.stream(PROJECT)) == 3


def test_a_reading_session_reads_without_the_lock_and_writes_nothing(recorder: LedgerRecorder) -> None:
    """`reading`: the reads of an append session (heads, streams) in a read transaction; an append
    session can take the lock meanwhile (nothing waits for the reader), and a write is refused."""
    rows = chained([offer(), claim("c1")])
    record(recorder, rows)
    with recorder.reading() as reader:
        assert reader.heads([PROJECT, OTHER]) == {PROJECT: 2}
        with recorder.appending() as writer:  # would wait, on SQLite too, if the reader held the lock
            assert writer.heads([PROJECT]) == {PROJECT: 2}
        assert [event.key for event in reader.streams_after({PROJECT: 1})[PROJECT]] == ["c1"]
        with pytest.raises(RuntimeError, match="reading session writes nothing"):
            reader.insert(chained([offer(project=OTHER)]))
    assert [event.key for event in recorder.stream(OTHER)] == []


def save(recorder: LedgerRecorder, snapshot: StoredSnapshot) -> None:
    with recorder.appending() as session:
        session.heads([snapshot.project])
        session.save_snapshots([snapshot])
        session.commit()


def test_a_cold_start_reads_the_head_the_newest_snapshot_and_the_events_from_it(
    recorder: LedgerRecorder,
) -> None:
    """`cold_start`: a project's head, its newest snapshot of the format asked at or before the
    head (without its claims), and its events from the snapshot's own row on, typed as `stream`
    reads them; the whole stream without a snapshot; nothing for a project without events."""
    rows = chained([offer(), claim("c1"), claim("c2"), claim("c3"), claim("c4")])
    record(recorder, rows + chained([offer(OTHER)]))
    stream = recorder.stream(PROJECT)
    assert recorder.cold_start(PROJECT, "f") == ColdStart(5, None, stream)
    save(recorder, StoredSnapshot(PROJECT, 2, "f", b"state 2", b"claims 2"))
    save(recorder, StoredSnapshot(PROJECT, 3, "f", b"state 3", b"claims 3"))
    save(recorder, StoredSnapshot(PROJECT, 4, "other format", b"state 4", b"claims 4"))
    found = recorder.cold_start(PROJECT, "f")
    assert found == ColdStart(5, StoredSnapshot(PROJECT, 3, "f", b"state 3"), stream[2:])
    assert [type(item.date) for item in found.events] == [date] * 3
    assert [type(item.recorded_at) for item in found.events] == [datetime] * 3
    with recorder.appending() as session:  # the same read in an append, under the lock
        session.heads([PROJECT])
        assert session.cold_start(PROJECT, "f") == found
    assert recorder.cold_start(OTHER, "f") == ColdStart(1, None, recorder.stream(OTHER))
    save(recorder, StoredSnapshot(PROJECT, 6, "f", b"ahead of the head", b"claims 6"))  # kept: 4 and 6
    assert recorder.cold_start(PROJECT, "f") == ColdStart(5, None, stream)
    assert recorder.cold_start("KTP-NONE", "f") == ColdStart(0, None, [])
    assert recorder.cold_start("KTP-\ud800", "f") == ColdStart(0, None, [])


def test_a_full_snapshot_is_the_newest_that_holds_claims_and_is_kept_beside_totals_ones(
    recorder: LedgerRecorder,
) -> None:
    """`full_snapshot`: of the format asked, at or before the version asked, not a totals snapshot
    (no claims kept); kept while two newer totals ones are (a totals one's claims are read on from it)."""
    record(recorder, chained([offer(), claim("c1"), claim("c2"), claim("c3")]))
    full = StoredSnapshot(PROJECT, 1, "f", b"state 1", b"claims 1")
    save(recorder, full)
    for version in (2, 3, 4):
        save(recorder, StoredSnapshot(PROJECT, version, "f", f"totals {version}".encode(), b""))
    assert recorder.full_snapshot(PROJECT, 4, "f") == full
    assert recorder.full_snapshot(PROJECT, 4, "other format") is None
    assert recorder.cold_start(PROJECT, "f").snapshot == StoredSnapshot(PROJECT, 4, "f", b"totals 4")


def kept_snapshots(recorder: LedgerRecorder) -> dict[str, list[tuple[int, bytes]]]:
    """Each project's kept snapshots, oldest first: (version, state)."""
    assert isinstance(recorder, (PostgresLedgerRecorder, SQLiteLedgerRecorder))
    kept: dict[str, list[tuple[int, bytes]]] = {}
    with recorder.database.read() as connection:
        for snapshot in snapshot_store.every(connection):
            kept.setdefault(snapshot.project, []).append((snapshot.version, snapshot.state))
    return kept


def test_a_batch_s_totals_snapshots_are_saved_together_and_each_project_keeps_its_newest_two(
    recorder: LedgerRecorder,
) -> None:
    """A batch's totals snapshots of many projects, saved together (on PostgreSQL in one
    statement): each replaces one of its own version, each project keeps its newest two whatever
    their kind, its full ones are kept until newer full ones replace them, and a project the batch
    did not touch keeps all it had."""
    third = "KTP-0044"
    record(recorder, chained([offer()]) + chained([offer(OTHER)]) + chained([offer(third)]))

    def saved(*snapshots: StoredSnapshot) -> None:
        with recorder.appending() as session:
            session.heads([snapshot.project for snapshot in snapshots])
            session.save_snapshots(list(snapshots))
            session.commit()

    saved(StoredSnapshot(PROJECT, 100, "f", b"full 100", b"claims 100"))
    saved(StoredSnapshot(third, 10, "f", b"totals 10"), StoredSnapshot(third, 20, "f", b"totals 20"))
    saved(StoredSnapshot(third, 30, "f", b"totals 30"))
    for version in (150, 200, 250):
        saved(
            StoredSnapshot(PROJECT, version, "f", f"totals {version}".encode()),
            StoredSnapshot(OTHER, version, "f", f"totals {version}".encode()),
        )
    saved(
        StoredSnapshot(PROJECT, 250, "f", b"totals 250 again"), StoredSnapshot(OTHER, 260, "f", b"totals 260")
    )
    kept = kept_snapshots(recorder)
    assert kept[PROJECT] == [(100, b"full 100"), (200, b"totals 200"), (250, b"totals 250 again")]
    assert kept[OTHER] == [(250, b"totals 250"), (260, b"totals 260")]
    assert kept[third] == [(20, b"totals 20"), (30, b"totals 30")]
    assert recorder.full_snapshot(PROJECT, 250, "f") == StoredSnapshot(
        PROJECT, 100, "f", b"full 100", b"claims 100"
    )
    saved(StoredSnapshot(PROJECT, 500, "f", b"full 500", b"claims 500"))  # a full one prunes as before
    assert kept_snapshots(recorder)[PROJECT] == [
        (100, b"full 100"),
        (250, b"totals 250 again"),
        (500, b"full 500"),
    ]


def test_a_totals_snapshot_sent_with_a_single_append_is_kept_whether_or_not_the_row_goes_in(
    recorder: LedgerRecorder,
) -> None:
    """On PostgreSQL, `append_one` with a totals snapshot writes it in the append's round trip, in
    a transaction of its own: kept beside the full one before it, replacing one of its version,
    and kept too when the row does not go in (the head moved). SQLite has no such path: nothing
    is written."""
    rows = chained([offer(), claim("c1"), claim("c2"), claim("c3")])
    record(recorder, rows[:3])
    full = StoredSnapshot(PROJECT, 1, "f", b"state 1", b"claims 1")
    save(recorder, full)
    save(recorder, StoredSnapshot(PROJECT, 3, "f", b"totals 3 before"))
    refused = recorder.append_one(rows[3] | {"version": 3}, StoredSnapshot(PROJECT, 3, "f", b"totals 3"))
    assert refused is False  # version 3 is taken: the row is not recorded
    directly = recorder.appends_one_directly
    newest = b"totals 3" if directly else b"totals 3 before"
    assert recorder.cold_start(PROJECT, "f").snapshot == StoredSnapshot(PROJECT, 3, "f", newest)
    appended = recorder.append_one(rows[3], StoredSnapshot(PROJECT, 3, "f", b"totals 3 again"))
    assert appended is directly
    assert [item.key for item in recorder.stream(PROJECT)] == [
        "offer",
        "c1",
        "c2",
        *(["c3"] if directly else []),
    ]
    newest = b"totals 3 again" if directly else b"totals 3 before"
    assert recorder.cold_start(PROJECT, "f").snapshot == StoredSnapshot(PROJECT, 3, "f", newest)
    assert recorder.full_snapshot(PROJECT, 3, "f") == full


def test_postgres_commits_a_totals_snapshot_without_waiting_for_the_disk_and_the_append_as_before(
    postgres_database: Database,
) -> None:
    """The totals snapshot sent with a single append commits with `synchronous_commit` off (the
    append's commit, right after it, flushes the WAL for both); the append itself, and the
    connection's later statements, keep the session's setting."""
    database = postgres_database
    recorder = recorder_for(database)
    assert isinstance(recorder, PostgresLedgerRecorder)
    try:
        with database.engine.begin() as connection:  # each insert notes the setting it ran under
            connection.exec_driver_sql("CREATE TABLE seen (what text, setting text)")
            connection.exec_driver_sql(
                "CREATE FUNCTION note_setting() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO seen VALUES (TG_TABLE_NAME, current_setting('synchronous_commit')); "
                "RETURN NEW; END $$"
            )
            for table in ("events", "state_snapshots"):
                connection.exec_driver_sql(
                    f"CREATE TRIGGER note_setting BEFORE INSERT ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION note_setting()"
                )
        rows = chained([offer(), claim("c1"), claim("c2")])
        record(recorder, rows[:2])
        assert recorder.append_one(rows[2], StoredSnapshot(PROJECT, 2, "f", b"totals 2")) is True
        assert recorder.append_one(chained([claim("c3")], fold(PROJECT, recorder.stream(PROJECT)))[0])
        with database.engine.connect() as connection:
            seen = connection.exec_driver_sql("SELECT what, setting FROM seen").all()
        assert seen == [
            ("events", "on"),
            ("events", "on"),
            ("state_snapshots", "off"),
            ("events", "on"),
            ("events", "on"),
        ]
    finally:
        recorder.close()


def test_postgres_appends_one_whose_totals_snapshot_fails_and_keeps_its_connection(
    postgres_database: Database,
) -> None:
    """A totals snapshot the database refuses (here a format longer than its column) fails alone,
    in its own transaction: the row goes in, and the connection goes on to the next append."""
    database = postgres_database
    recorder = recorder_for(database)
    assert isinstance(recorder, PostgresLedgerRecorder)
    try:
        rows = chained([offer(), claim("c1"), claim("c2"), claim("c3")])
        record(recorder, rows[:2])
        assert recorder.append_one(rows[2], StoredSnapshot(PROJECT, 2, "f" * 41, b"totals 2")) is True
        direct = recorder.direct_connection
        assert direct is not None  # given back, not thrown away
        assert recorder.append_one(rows[3]) is True
        assert recorder.direct_connection is direct
        assert [row.version for row in recorder.stream(PROJECT)] == [1, 2, 3, 4]
        assert recorder.cold_start(PROJECT, "f" * 41).snapshot is None
    finally:
        recorder.close()


def test_postgres_reads_a_cold_start_on_the_direct_connection_the_append_then_takes(
    postgres_database: Database,
) -> None:
    """On PostgreSQL, `cold_start` is one statement on a connection of `append_one`'s, in
    autocommit mode (no transaction of its own), left idle for the append that follows; with none
    free it reads in a read transaction instead, alike."""
    database = postgres_database
    recorder = recorder_for(database)
    assert isinstance(recorder, PostgresLedgerRecorder)
    try:
        record(recorder, chained([offer(), claim("c1")]))
        assert recorder.direct_connection is None
        found = recorder.cold_start(PROJECT, "f")
        assert found == ColdStart(2, None, recorder.stream(PROJECT))
        direct = recorder.direct_connection
        assert direct is not None
        # The append's statement was prepared with the read (the same round trip).
        assert recorder._idle[-1][1].prepared
        assert direct.driver_connection.info.transaction_status == TransactionStatus.IDLE  # type: ignore[attr-defined]
        state = fold(PROJECT, found.events, ProjectState(project=PROJECT))
        recorded = recorder.append_one(chained([claim("c2")], state)[0])
        assert recorded is True and recorder.direct_connection is direct
        assert recorder.cold_start(PROJECT, "f") == ColdStart(3, None, recorder.stream(PROJECT))  # prepared
        recorder._take = lambda: None  # type: ignore[method-assign]  # every connection busy
        assert recorder.cold_start(PROJECT, "f") == ColdStart(3, None, recorder.stream(PROJECT))
    finally:
        recorder.close()


def test_postgres_plans_a_cold_start_s_events_on_their_index_once_analyzed(
    postgres_database: Database,
) -> None:
    """`START_SQL` reads the events from the snapshot's version on by the (project, version) index,
    planned as a few rows, also once the table is analyzed and one project holds all of it: with
    the events' lower bound alone (its value unknown when planned) the planner counted a third of
    them, and on a table a little wider than this read it whole, 10,000 rows for a dozen (0.8 ms
    of the server's time against 0.07)."""
    database = postgres_database
    with database.engine.connect() as connection:
        connection.exec_driver_sql(
            "INSERT INTO events (project, version, type, schema_version, key, date, data, "
            "recorded_at, prev_hash, hash, chain_version) SELECT %(project)s, n, 'SpendClaimed', 1, "
            '\'c\' || n, DATE \'2025-01-15\', \'{"amount":"1.00","category":"consumables","description":"item \' '
            '|| n || \'","tags":[]}\', now(), md5(n::text) || md5(n::text), md5(n::text) || md5(n::text), 2 '
            "FROM generate_series(1, 10000) AS n",
            {"project": PROJECT},
        )
        connection.exec_driver_sql("ANALYZE events")
        plan = connection.exec_driver_sql(
            "EXPLAIN " + START_SQL["postgresql"], {"project": PROJECT, "format": "f"}
        ).fetchall()
        connection.rollback()
    shown = "\n".join(line for (line,) in plan)
    # The scan of the events after the snapshot, estimated (a third of 10,000 without the bound).
    scan = next(line for (line,) in plan if " on events e " in line)
    estimated = int(re.search(r"rows=(\d+)", scan).group(1))  # type: ignore[union-attr]
    assert estimated < 100 and "Seq Scan" not in scan, shown


def test_keys_and_streams_of_many_projects_are_read_whole_and_typed(recorder: LedgerRecorder) -> None:
    """An append's reads of many projects at once (the keys of a batch, the streams after the
    versions cached) give the rows exactly as a project's own stream does, dates and times typed;
    a pair or name the ledger does not hold gives nothing."""
    ours = chained([offer(), claim("c1"), claim("c2")])
    theirs = chained([offer(OTHER), claim("c1", project=OTHER)])
    record(recorder, ours + theirs)
    stream = {PROJECT: recorder.stream(PROJECT), OTHER: recorder.stream(OTHER)}
    with recorder.appending() as session:
        session.heads([PROJECT, OTHER])
        found = session.recorded_keys([(PROJECT, "c2"), (OTHER, "c1"), (PROJECT, "c9"), ("KTP-NONE", "c1")])
        assert found == {(PROJECT, "c2"): stream[PROJECT][2], (OTHER, "c1"): stream[OTHER][1]}
        after = session.streams_after({PROJECT: 1, OTHER: 0, "KTP-NONE": 0, "KTP-\ud800": 0})
        assert after == {PROJECT: stream[PROJECT][1:], OTHER: stream[OTHER]}


def test_sqlite_reads_many_keys_and_streams_by_the_index_not_a_scan(tmp_path: Any) -> None:
    """SQLite's planner scans the whole ledger for a row-value IN over (project, key) pairs: the
    keys of a batch and the streams of many projects are each read by probes of a unique index."""
    import sqlite3

    from ktpledger.adapters import ledger_store

    database = Database(build_engine(f"sqlite:///{tmp_path / 'plan.db'}"))
    upgrade(database)
    try:
        statements: list[str] = []
        with database.write() as connection:
            raw = connection.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            raw.set_trace_callback(statements.append)
            ledger_store.recorded_keys(connection, [(PROJECT, "c1"), (OTHER, "c2")])
            ledger_store.streams_after(connection, {PROJECT: 1, OTHER: 0})
            raw.set_trace_callback(None)
            reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
            assert len(reads) == 2
            for sql in reads:
                plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + sql)]
                assert not [step for step in plan if step.startswith("SCAN e")], (sql, plan)
    finally:
        database.dispose()


@pytest.mark.postgres
def test_postgres_reads_a_batch_of_keys_by_the_index_not_a_scan(postgres_database: Database) -> None:
    """An append looks its batch's keys up in the ledger (R-30): each pair one probe of the unique
    index on (project, key), whatever the planner's statistics say. Joined to the pairs, it hashed
    them and read the whole table while the statistics were behind the ledger (a new one, or one
    grown fast: a `record` into a fresh database), a scan a batch that grows with the ledger."""
    from sqlalchemy import event

    from ktpledger.adapters import ledger_store

    database = postgres_database
    now = datetime.now(UTC)
    rows = [
        {
            "project": f"KTP-{number % 50:04d}",
            "version": number // 50 + 1,
            "type": "SpendClaimed",
            "schema_version": 1,
            "key": f"k{number}",
            "date": now.date(),
            "data": "{}",
            "recorded_at": now,
            "prev_hash": "",
            "hash": "0" * 64,
            "chain_version": 2,
            "recorded_by": None,
        }
        for number in range(3000)
    ]
    with database.write() as connection:
        ledger_store.insert(connection, rows)
        connection.commit()
    pairs = [(f"KTP-{number % 50:04d}", f"new{number}") for number in range(1000)]
    pairs += [("KTP-0007", "k7"), ("KTP-0008", "k58")]
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    with database.read() as connection:
        event.listen(connection, "before_cursor_execute", capture)
        found = ledger_store.recorded_keys(connection, pairs)
        event.remove(connection, "before_cursor_execute", capture)
        assert sorted(found) == [("KTP-0007", "k7"), ("KTP-0008", "k58")]
        ((statement, parameters),) = seen
        plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "Seq Scan on events" not in plan, plan
    assert "uq_events_project_key" in plan, plan


def test_keys_and_heads_of_any_text_are_found(recorder: LedgerRecorder) -> None:
    """The pairs and names of a batch travel as JSON text on both backends: a key holding quotes,
    backslashes, what reads as JSON's own escapes, and characters beyond ASCII and the BMP is
    found as recorded, and a name or key that is not recorded is not found."""
    odd = ['q"uote', "back\\slash", "\\u0041", "\\n", "caf\u00e9 \U0001f600", "[1, 2]", "'"]
    rows = chained([offer(), *[claim(key) for key in odd]])
    record(recorder, rows)
    with recorder.appending() as session:
        assert session.heads([PROJECT, OTHER, 'KTP-"x"']) == {PROJECT: len(odd) + 1}
        found = session.recorded_keys([(PROJECT, key) for key in [*odd, "\\u0042", 'q"uotes']])
        assert sorted(found) == sorted((PROJECT, key) for key in odd)
        assert {pair: item.key for pair, item in found.items()} == {(PROJECT, key): key for key in odd}

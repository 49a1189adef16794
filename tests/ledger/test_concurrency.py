"""Many writers at once: versions without gaps, one winner per check, readers that never skip."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import pytest

from ktpledger.adapters import ledger_store
from ktpledger.bootstrap import App, bootstrap
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer, reversal

PROCESSES = 6


def _append_in_process(url: str, items: list[dict[str, Any]], start_at: float) -> list[dict[str, Any]]:
    application = bootstrap(Settings(database_url=url))
    try:
        time.sleep(max(0.0, start_at - time.time()))  # all processes start appending together
        return [application.ledger.append([item])[0].to_json() for item in items]
    finally:
        application.close()


def run_processes(url: str, batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    with context.Pool(len(batches)) as pool:
        outcomes = pool.starmap(_append_in_process, [(url, batch, start_at) for batch in batches])
    return [result for outcome in outcomes for result in outcome]


@pytest.mark.slow
def test_concurrent_processes_get_versions_without_gaps(app: App) -> None:
    app.ledger.append([offer()])
    batches = [[claim(f"p{p}-c{i}", "10.00") for i in range(8)] for p in range(PROCESSES)]
    results = run_processes(app.settings.database_url, batches)
    assert {r["status"] for r in results} == {"recorded"}
    assert sorted(r["version"] for r in results) == list(range(2, 2 + PROCESSES * 8))
    stream = app.ledger.stream(PROJECT)
    assert [e.version for e in stream] == list(range(1, 2 + PROCESSES * 8))
    assert app.ledger.verify() == (len(stream), None)


@pytest.mark.slow
def test_concurrent_resubmission_records_once(app: App) -> None:
    app.ledger.append([offer()])
    results = run_processes(app.settings.database_url, [[claim("same", "42.00")] for _ in range(PROCESSES)])
    assert sorted(r["status"] for r in results) == ["duplicate"] * (PROCESSES - 1) + ["recorded"]
    assert {r["version"] for r in results} == {2}
    assert len(app.ledger.stream(PROJECT)) == 2


@pytest.mark.slow
def test_concurrent_reversals_cannot_both_pass_one_check(app: App) -> None:
    app.ledger.append([offer(), claim("c1", "100.00")])
    batches = [[reversal(f"r{p}", "c1", "30.00")] for p in range(PROCESSES)]
    results = run_processes(app.settings.database_url, batches)
    assert sorted(r["status"] for r in results) == ["recorded"] * 3 + ["rejected"] * (PROCESSES - 3)
    assert app.ledger.state(PROJECT).spent["consumables"] == 10


def test_a_reader_following_positions_never_skips_an_event(app: App) -> None:
    app.ledger.append([offer(f"P-{w}") for w in range(4)])
    stop = threading.Event()
    seen: list[int] = []

    def follow() -> None:
        bookmark = 0
        while not stop.is_set() or app.ledger.read_after(bookmark):
            for item in app.ledger.read_after(bookmark, limit=50):
                seen.append(item.position)
                bookmark = item.position

    def write(worker: int) -> None:
        writer = bootstrap(app.settings)
        try:
            for i in range(40):
                writer.ledger.append([claim(f"c{i}", project=f"P-{worker}")])
        finally:
            writer.close()

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join(timeout=30)
    with app.database.read() as connection:
        every = [e.position for e in ledger_store.read_after(connection, 0, limit=10_000)]
    assert seen == every  # in order, each once, none skipped


@pytest.mark.postgres
def test_an_open_transaction_holds_back_later_commits(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a sequence number is taken at insert but visible at commit. The append lock
    makes a second writer wait, so it cannot commit a higher position while a lower one is open."""
    from ktpledger.service.schema import upgrade

    first, second = (
        bootstrap(Settings(database_url=postgres_url)),
        bootstrap(Settings(database_url=postgres_url)),
    )
    try:
        upgrade(first.database)
        first.ledger.append([offer("A"), offer("B")])
        with first.database.read() as connection:
            bookmark = ledger_store.head_position(connection)
        inserted, release = threading.Event(), threading.Event()
        insert = ledger_store.insert

        def held_insert(connection: Any, made: Any) -> None:
            rows = list(made)  # the rows as the ledger makes them (an iterator)
            insert(connection, rows)
            if rows and rows[0]["project"] == "A":
                inserted.set()
                assert release.wait(20)

        monkeypatch.setattr(ledger_store, "insert", held_insert)
        # Two events: a batch takes the general path, whose transaction the patched insert holds open.
        slow = threading.Thread(
            target=first.ledger.append, args=([claim("a1", project="A"), claim("a2", project="A")],)
        )
        slow.start()
        assert inserted.wait(20)
        fast = threading.Thread(target=second.ledger.append, args=([claim("b1", project="B")],))
        fast.start()
        time.sleep(0.5)
        assert fast.is_alive(), "the second writer must wait for the open transaction"
        assert first.ledger.read_after(bookmark) == []
        release.set()
        slow.join(20)
        fast.join(20)
        after = first.ledger.read_after(bookmark)
        assert [(e.project, e.key) for e in after] == [("A", "a1"), ("A", "a2"), ("B", "b1")]
        assert after[0].position < after[1].position < after[2].position
    finally:
        release.set()
        first.close()
        second.close()


def test_threads_sharing_one_ledger_get_versions_without_gaps(app: App) -> None:
    """An API server appends from many threads through one Ledger (and one cache)."""
    app.ledger.append([offer()])

    def write(worker: int) -> None:
        for i in range(25):
            [result] = app.ledger.append([claim(f"t{worker}-{i}", "1.00")])
            assert result.status == "recorded", result

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stream = app.ledger.stream(PROJECT)
    assert [e.version for e in stream] == list(range(1, 102))
    assert app.ledger.verify() == (101, None)
    assert app.ledger.state(PROJECT).spent["consumables"] == 100

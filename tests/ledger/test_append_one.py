"""PostgreSQL's one-round-trip append of a single event onto a warm project (migration 0004)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ktpledger.adapters import ledger_store
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, decision, offer

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
            assert appender.append(taken) is None  # version 2 is taken
            assert appender.append({**taken, "version": 4}) is None  # version 3 does not exist
            raw.autocommit = False
        assert [e.version for e in app.ledger.stream(PROJECT)] == [1, 2]
    finally:
        app.close()

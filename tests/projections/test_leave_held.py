"""Two workers never queue on one project's lock (`catch_up_many(..., leave_held=True)`): a
wake-up for a project another catch-up holds is left to the holder, and the holder looks at the
ledger once it lets go, so the events of the wake-up it was left are projected all the same."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service import catch_up as catching_up
from ktpledger.service.projections import CatchUp, Projector
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(postgres_url: str) -> Iterator[App]:
    found = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(found.database)
    yield found
    found.close()


class PausedAfterReading:
    """A projection store whose first catch-up stops once it has read its events (its heads
    locked) until `go` is set: a catch-up caught in the middle, as another worker's may be."""

    def __init__(self, store: ProjectionStore) -> None:
        self._store = store
        self.armed = False  # the next catch-up stops
        self.reading = threading.Event()
        self.go = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def write(self, **options: Any) -> Iterator[Any]:
        with self._store.write(**options) as unit:
            if self.armed:
                self.armed = False
                after = unit.events.after

                def paused(versions: Any) -> Any:
                    read = after(versions)
                    self.reading.set()
                    assert self.go.wait(30)
                    return read

                unit.events.after = paused
            yield unit


def held_while(app: App, holder: Projector, store: PausedAfterReading) -> tuple[list[Any], threading.Thread]:
    """Start the holder's catch-up of PROJECT on a thread; return once it holds the head, having
    read the events so far."""
    found: list[Any] = []
    store.armed = True
    thread = threading.Thread(target=lambda: found.append(holder.catch_up_many([PROJECT], leave_held=True)))
    thread.start()
    assert store.reading.wait(30)
    return found, thread


def versions(results: list[CatchUp]) -> list[tuple[str, int, int, bool]]:
    return [(r.project, r.from_version, r.to_version, r.wake_again) for r in results]


def test_a_wake_up_left_to_the_holder_is_projected_by_the_holder(app: App) -> None:
    app.ledger.append([offer()])
    paused = PausedAfterReading(projection_store(app.database))
    holder = Projector(app.database, store=paused)  # type: ignore[arg-type]
    other = Projector(app.database)
    holder.catch_up_many([PROJECT])  # v1, kept folded by the holder
    found, thread = held_while(app, holder, paused)
    # Recorded while the holder's catch-up holds the head, after it read: its wake-up goes to the
    # other worker, which leaves the project to the holder at once instead of waiting.
    app.ledger.append([claim("c1", "100.00", category="travel_subsistence")])
    left: list[list[CatchUp]] = []
    waker = threading.Thread(target=lambda: left.append(other.catch_up_many([PROJECT], leave_held=True)))
    waker.start()
    waker.join(10)
    assert left == [[]]  # not waited for, not caught up there
    paused.go.set()
    thread.join(30)
    # The holder looked again once it let go: the claim is projected.
    assert [versions(found[0])] == [[(PROJECT, 1, 2, False)]]
    assert other.states([PROJECT]) == {PROJECT: {"status": "ok", "version": 2}}


def test_one_still_behind_after_the_last_look_is_handed_back_to_be_woken_again(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catching_up, "SETTLE_ROUNDS", 0)
    app.ledger.append([offer()])
    paused = PausedAfterReading(projection_store(app.database))
    holder = Projector(app.database, store=paused)  # type: ignore[arg-type]
    holder.catch_up_many([PROJECT])
    found, thread = held_while(app, holder, paused)
    app.ledger.append([claim("c1", "100.00", category="travel_subsistence")])
    paused.go.set()
    thread.join(30)
    assert [versions(found[0])] == [[(PROJECT, 1, 1, True)]]
    assert holder.states([PROJECT]) == {PROJECT: {"status": "ok", "version": 1}}


def test_a_catch_up_that_waits_for_held_heads_is_as_before(app: App) -> None:
    app.ledger.append([offer()])
    paused = PausedAfterReading(projection_store(app.database))
    holder = Projector(app.database, store=paused)  # type: ignore[arg-type]
    holder.catch_up_many([PROJECT])
    _found, thread = held_while(app, holder, paused)
    app.ledger.append([claim("c1", "100.00", category="travel_subsistence")])
    waited: list[list[CatchUp]] = []
    waiter = threading.Thread(target=lambda: waited.append(Projector(app.database).catch_up_many([PROJECT])))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waits on the holder's lock
    paused.go.set()
    thread.join(30)
    waiter.join(30)
    assert [versions(waited[0])] == [[(PROJECT, 1, 2, False)]]


def test_lock_unheld_names_the_held_heads_and_creates_new_ones(app: App) -> None:
    app.ledger.append([offer(), offer("KTP-HELD")])
    store = projection_store(app.database)
    Projector(app.database, store=store).catch_up_many([PROJECT, "KTP-HELD"])
    now = datetime.now(UTC)
    with store.write() as holder:
        holder.heads.lock(["KTP-HELD"], now)
        with store.write() as unit:  # a second connection: waits for nothing
            heads, held = unit.heads.lock_unheld([PROJECT, "KTP-HELD", "KTP-NEW"], now)
            assert {name: head.version for name, head in heads.items()} == {PROJECT: 1, "KTP-NEW": 0}
            assert held == ["KTP-HELD"]

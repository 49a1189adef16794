"""A worker does not keep its other projects waiting on one project's lock
(`catch_up_many(..., leave_held=True)`): a project another catch-up holds is handed back unread,
to be woken again, so the events it was woken for are projected all the same, even those its
holder did not read."""

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
from ktpledger.service.projections import CatchUp, Projector
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer

pytestmark = pytest.mark.postgres
TS, OTHER = "travel_subsistence", "KTP-OTHER"


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


def test_a_project_held_elsewhere_is_handed_back_unread_while_the_others_are_caught_up(app: App) -> None:
    app.ledger.append([offer(), offer(OTHER)])
    paused = PausedAfterReading(projection_store(app.database))
    holder = Projector(app.database, store=paused)  # type: ignore[arg-type]
    other = Projector(app.database)
    holder.catch_up_many([PROJECT, OTHER])  # v1 each
    found, thread = held_while(app, holder, paused)
    # Recorded once the holder has read: its wake-up goes to the other worker.
    app.ledger.append([claim("c1", "100.00", category=TS), claim("o1", "100.00", category=TS, project=OTHER)])
    done: list[list[CatchUp]] = []
    waker = threading.Thread(
        target=lambda: done.append(other.catch_up_many([OTHER, PROJECT], leave_held=True))
    )
    waker.start()
    waker.join(10)
    # Not waited for: OTHER caught up, PROJECT handed back to be woken again.
    assert [versions(done[0])] == [[(OTHER, 1, 2, False), (PROJECT, 0, 0, True)]]
    paused.go.set()
    thread.join(30)
    assert [versions(found[0])] == [[(PROJECT, 1, 1, False)]]  # read before the claim came
    assert other.states([PROJECT]) == {PROJECT: {"status": "ok", "version": 1}}
    # Woken again (the worker's message): the claim the holder never read is projected.
    assert versions(other.catch_up_many([PROJECT], leave_held=True)) == [(PROJECT, 1, 2, False)]


@pytest.mark.parametrize("leave_held", [False, True])
def test_with_every_named_project_held_elsewhere_the_catch_up_waits_for_them(
    app: App, leave_held: bool
) -> None:
    app.ledger.append([offer()])
    paused = PausedAfterReading(projection_store(app.database))
    holder = Projector(app.database, store=paused)  # type: ignore[arg-type]
    holder.catch_up_many([PROJECT])
    _found, thread = held_while(app, holder, paused)
    app.ledger.append([claim("c1", "100.00", category=TS)])
    waited: list[list[CatchUp]] = []
    waiter = threading.Thread(
        target=lambda: waited.append(Projector(app.database).catch_up_many([PROJECT], leave_held=leave_held))
    )
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waits on the holder's lock: nothing else to do
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

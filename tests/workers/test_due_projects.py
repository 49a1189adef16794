"""The projects announced as due (workers/due.py): a wake-up adds them, a catch-up takes them in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ktpledger.bootstrap import App, bootstrap
from ktpledger.service.projections import CatchUp
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.conftest import free_port
from tests.ledger.factory import claim, offer
from workers import tasks
from workers.app import QUEUE
from workers.dispatch import CeleryWakeUp
from workers.due import DUE_KEY, DueProjects


def test_with_a_broker_that_is_not_redis_nothing_is_kept() -> None:
    for url in (None, "memory://", "amqp://guest@127.0.0.1//"):
        due = DueProjects(url)
        due.add(["KTP-1"])  # connects to nothing
        assert due.take() == []


@pytest.mark.redis
def test_projects_added_are_taken_once_each_up_to_the_limit(redis_url: str) -> None:
    due = DueProjects(redis_url)
    try:
        due.add(["KTP-3", "KTP-1"])
        due.add(["KTP-2", "KTP-1"])  # a set: KTP-1 is due once
        first = due.take(2)
        rest = due.take(2)
        assert len(first) == 2 and first == sorted(first)
        assert sorted(first + rest) == ["KTP-1", "KTP-2", "KTP-3"]
        assert due.take() == []
    finally:
        due.close()


def test_redis_away_takes_nothing_and_an_add_fails_for_the_sender_to_pause() -> None:
    due = DueProjects(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    assert due.take() == []
    with pytest.raises(Exception, match=r"(?i)connect"):
        due.add(["KTP-1"])


@pytest.mark.redis
def test_the_celery_dispatcher_announces_each_message_s_projects(redis_url: str) -> None:
    import redis

    wake = CeleryWakeUp(Settings(database_url="sqlite://", broker_url=redis_url))
    wake.projects_changed({"KTP-2", "KTP-1"})
    client = redis.Redis.from_url(redis_url)
    try:
        assert sorted(client.smembers(DUE_KEY)) == [b"KTP-1", b"KTP-2"]
        assert client.llen(QUEUE) == 1  # the message that names them, as before
    finally:
        client.close()
        wake.due.close()


class Gathered:
    """Raised alerts handed over for delivery: none sent here."""

    def add(self, ids: list[int]) -> None:
        return None


@pytest.fixture
def projecting(
    postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[App, App, DueProjects]]:
    """A ledger to append to (wake-ups off), the worker task's application and its due set."""
    ledger = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(ledger.database)
    worker = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    due = DueProjects(redis_url)
    monkeypatch.setattr(tasks, "application", lambda: worker)
    monkeypatch.setattr(tasks, "due_projects", lambda: due)
    monkeypatch.setattr(tasks, "raised_deliveries", lambda: Gathered())
    yield ledger, worker, due
    due.close()
    worker.close()
    ledger.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_catch_up_takes_in_the_due_projects_its_process_keeps_folded(
    projecting: tuple[App, App, DueProjects],
) -> None:
    ledger, worker, due = projecting
    ledger.ledger.append([offer("KTP-A"), offer("KTP-B"), offer("KTP-C")])
    assert tasks.catch_up(["KTP-A", "KTP-B"])["events"] == 2  # both kept folded at v1 here
    ledger.ledger.append(
        [
            claim("a1", "100.00", project="KTP-A"),
            claim("b1", "200.00", project="KTP-B"),
            claim("c1", "300.00", project="KTP-C"),
        ]
    )
    due.add(["KTP-B", "KTP-C"])  # as the dispatcher announced them with their own messages

    # KTP-B is taken in; KTP-C is not kept here and waits for its own message.
    answer = tasks.catch_up(["KTP-A"])
    assert (answer["projects"], answer["events"], answer["quarantined"]) == (2, 2, [])
    assert due.take() == []  # taken, whether caught up here or left to its message
    assert worker.projector.states(["KTP-A", "KTP-B", "KTP-C"]) == {
        "KTP-A": {"status": "ok", "version": 2},
        "KTP-B": {"status": "ok", "version": 2},
        "KTP-C": {"status": "ok", "version": 0},
    }
    # KTP-B's own message, when it comes, finds nothing new.
    assert worker.projector.catch_up_many(["KTP-B"]) == [CatchUp("KTP-B", 2, 2, [], 0)]

"""A catch-up whose wake-up names a project another unit holds (PostgreSQL: the other worker is
catching it up) catches the free ones up first and commits them, then waits for the held one
(`catch_up.catch_up_many`): the free projects' lag is not the holder's catch-up. And the writes
a catch-up sends with its commit in one pipeline (`unit.pipelined()`) fail as any write does."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ktpledger.adapters.errors import BackendDataError
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.bootstrap import bootstrap
from ktpledger.service.projections import CatchUp, Projector
from ktpledger.service.schema import upgrade
from ktpledger.service.wakeup import Asleep
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, offer

HELD = "KTP-HELD"


@pytest.mark.postgres
def test_the_free_projects_are_caught_up_while_a_held_one_is_waited_for(postgres_url: str) -> None:
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(app.database)
    try:
        store = projection_store(app.database)
        projector = Projector(app.database, store=store)
        app.ledger.append([offer(), offer(HELD)])
        assert [r.to_version for r in projector.catch_up_many([PROJECT, HELD])] == [1, 1]
        app.ledger.append([claim("c1", project=PROJECT), claim("h1", project=HELD)])
        results: list[list[CatchUp]] = []
        with store.write() as holder:
            holder.heads.lock([HELD], datetime.now(UTC))  # another worker's catch-up, under way
            worker = threading.Thread(target=lambda: results.append(projector.catch_up_many([HELD, PROJECT])))
            worker.start()
            deadline = datetime.now(UTC).timestamp() + 20
            while projector.states([PROJECT])[PROJECT]["version"] < 2:  # bounded: 20 s
                assert datetime.now(UTC).timestamp() < deadline, "the free project waited for the held one"
                worker.join(0.05)
            assert worker.is_alive()  # still waiting for the held one
            assert projector.states([HELD])[HELD]["version"] == 1
        worker.join(20)
        [caught] = results
        assert [(r.project, r.from_version, r.to_version, r.failed) for r in caught] == [
            (PROJECT, 1, 2, None),
            (HELD, 1, 2, None),
        ]  # in name order, as ever
    finally:
        app.close()


@pytest.mark.postgres
def test_a_write_failing_in_a_pipeline_leaves_nothing_and_the_connection_clean(postgres_url: str) -> None:
    """`unit.pipelined()` (psycopg's pipeline mode, the writes a catch-up sends with its commit):
    a statement refused there is the store's error as ever, nothing of the unit is kept, and the
    pooled connection goes back with no transaction (the next unit on it reads)."""
    app = bootstrap(Settings(database_url=postgres_url), wakeup=Asleep())
    upgrade(app.database)
    try:
        store = projection_store(app.database)
        now = datetime.now(UTC)
        move = {"version": 1, "position": 1, "clock": None, "updated_at": now}
        with pytest.raises(BackendDataError), store.write() as unit, unit.pipelined():
            unit.heads.advance([{"project": "KTP-A", **move}])
            unit.heads.advance([{"project": "K" * 100, **move}])  # longer than the column
            unit.commit()
        for _ in range(3):  # whichever pooled connection comes back
            with store.read() as unit:
                assert unit.heads.of(["KTP-A"]) == []
        with store.write() as unit, unit.pipelined():
            unit.heads.advance([{"project": "KTP-A", **move}])
            unit.commit()
        with store.read() as unit:
            assert [row["version"] for row in unit.heads.of(["KTP-A"])] == [1]
    finally:
        app.close()

"""A catch-up's alert changes written together (`projection_alerts.AlertWrites`, issue 18): a few
statements a catch-up whatever the number of raises and resolutions, the same rows, ids and
notifications as writing each in turn, and each in turn again when the database is not as the fold
was seeded. On the fake store, SQLite and PostgreSQL (the store port's `world` fixture)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from ktpledger.adapters.tables import notifications
from ktpledger.service.projections import CatchUp
from tests.ledger.factory import PROJECT, claim, offer, reversal
from tests.projections.test_store_port import TS, DatabaseWorld, World, alerts_of, outbox, threshold, world

__all__ = ["world"]  # the fixture, for pytest
CO = "consumables"


def statements_of(world: DatabaseWorld) -> list[str]:
    said: list[str] = []
    event.listen(world.app.database.engine, "before_cursor_execute", lambda *a: said.append(a[2]))
    return said


def raise_two_alerts(world: World) -> None:
    world.record([offer()])  # v1
    world.record([claim("t1", "2100.00", category=TS, date="2024-10-15")])  # v2: travel 84%: threshold
    world.record(  # v3, v4: a second computer, over the cap of one: sub_limit
        [
            claim("c1", "900.00", date="2024-10-20", tags=["computer"]),
            claim("c2", "800.00", date="2024-10-20", tags=["computer"]),
        ]
    )


@pytest.mark.parametrize("world", ["sqlite", "postgres"], indirect=True)
def test_a_catch_up_writes_its_raises_and_resolutions_in_one_statement_each(world: World) -> None:
    assert isinstance(world, DatabaseWorld)
    raise_two_alerts(world)
    said = statements_of(world)
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 0, 4, [1, 2], 0)
    inserts = [s for s in said if s.startswith("INSERT INTO alerts")]
    queued = [s for s in said if s.startswith("INSERT INTO notifications")]
    assert (len(inserts), len(queued)) == (1, 1), said  # one each a raise, before
    world.record([reversal("r1", "t1", date="2024-10-25"), reversal("r2", "c2", date="2024-10-25")])  # v5, v6
    said.clear()
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 4, 6, [], 2)
    resolving = [s for s in said if s.startswith("UPDATE alerts SET") and "resolved_at_version" in s]
    assert len(resolving) == 1, said  # one executemany: one statement a resolution, before
    assert [a[5:9] for a in alerts_of(world)] == [
        ("resolved", 2, 5, "reversal"),
        ("resolved", 4, 6, "reversal"),
    ]


def test_a_raise_resolved_and_raised_again_within_one_catch_up_is_written_as_in_turn(world: World) -> None:
    world.record([offer()])  # v1
    world.record([claim("t1", "1500.00", category=TS, date="2024-10-15")])  # v2: 60%
    world.record([claim("t2", "600.00", category=TS, date="2024-10-16")])  # v3: 84%: threshold raised
    world.record([reversal("r1", "t2", date="2024-10-17")])  # v4: 60%: resolved
    world.record([claim("t3", "700.00", category=TS, date="2024-10-18")])  # v5: 88%: raised again

    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 0, 5, [1, 2], 1)
    assert [a[0:3] + a[5:] for a in alerts_of(world)] == [
        (1, TS, "threshold", "resolved", 3, 4, "reversal"),
        (2, TS, "threshold", "open", 5, None, None),
    ]
    assert alerts_of(world)[1][3] == threshold("2200.00")
    # The second raise comes within 24 h of the first one's resolution, in this very catch-up.
    assert outbox(world, [1, 2]) == {1: {"pending"}, 2: {"suppressed"}}
    if isinstance(world, DatabaseWorld):
        with world.app.database.engine.connect() as connection:
            why = connection.execute(select(notifications.c.last_error).where(notifications.c.alert_id == 2))
            assert why.scalar_one() == "raised again within 24 h of alert 1 resolving: notified once"
    # Resolved in a later catch-up, raised again in the one after: the resolution read back.
    world.record([reversal("r3", "t3", date="2024-10-19")])  # v6
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 5, 6, [], 1)
    world.record([claim("t4", "700.00", category=TS, date="2024-10-20")])  # v7
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 6, 7, [3], 0)
    assert outbox(world, [3]) == {3: {"suppressed"}}


def test_a_database_not_as_the_fold_was_seeded_is_written_each_change_in_turn(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """An open alert the warm fold does not know (written behind its back): the batch finds its
    raise refused, rolls back and catches up again writing each change in turn, as before."""
    world.record([offer()])  # v1
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 0, 1, [], 0)
    now = datetime.now(UTC)
    with world.store.write() as unit:
        stray = {
            "project": PROJECT, "category": TS, "kind": "threshold", "subject": "0.80", "detail": "{}",
            "current": None, "status": "open", "raised_at_version": 1, "resolved_at_version": None,
            "raised_at": now, "resolved_at": None, "resolved_reason": None, "quiet": False,
            "raised_on": None, "resolved_on": None, "acknowledged_at_version": None, "acknowledged_on": None,
            "acknowledged_by_name": None, "acknowledged_by_role": None, "acknowledged_by_channel": None,
            "acknowledgement_note": None,
        }  # fmt: skip
        assert unit.alerts.add_many([stray]) == {(PROJECT, TS, "threshold", "0.80", 1): 1}
        unit.commit()
    raise_two_alerts_after_offer(world)
    with caplog.at_level(logging.WARNING, logger="ktpledger.service.catch_up"):
        # The threshold's raise is refused (its alert is open already); the sub_limit's is written
        # (under a new id: a refused or rolled back insert may take one from the sequence).
        caught = world.projector.catch_up(PROJECT)
    assert "each alert change in turn" in caplog.text
    [sub_limit] = caught.raised
    assert caught == CatchUp(PROJECT, 1, 4, [sub_limit], 0)
    assert [a[0:3] + a[5:7] for a in alerts_of(world)] == [
        (1, TS, "threshold", "open", 1),
        (sub_limit, CO, "sub_limit", "open", 4),
    ]
    assert outbox(world, [1, sub_limit]) == {sub_limit: {"pending"}}
    world.record([reversal("r1", "t1", date="2024-10-25")])  # v5: the stray one is resolved, as in turn
    assert world.projector.catch_up(PROJECT) == CatchUp(PROJECT, 4, 5, [], 1)
    assert alerts_of(world)[0][5:8] == ("resolved", 1, 5)


def raise_two_alerts_after_offer(world: World) -> None:
    world.record([claim("t1", "2100.00", category=TS, date="2024-10-15")])  # v2
    world.record(
        [
            claim("c1", "900.00", date="2024-10-20", tags=["computer"]),
            claim("c2", "800.00", date="2024-10-20", tags=["computer"]),
        ]
    )  # v3, v4

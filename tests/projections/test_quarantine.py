"""Quarantine (README, "Quarantine"): a project whose recorded events cannot be folded never stops
another's projection, replay or page. Each kind of poison (tests/projections/poison.py) is written
straight into the ledger, past every check, on both backends.

Figures, by hand. Each healthy project: the factory's offer (travel 2,500, consumables 4,000, ...),
a 100.00 consumables claim (v2), then a 250.00 one (v3) that only a catch-up folds in: consumables
spent 350.00 = 35,000 pence, nothing ineligible. The poisoned project of a claim kind folds its
offer (v1) and a 2,100.00 travel claim (v2: 84% of 2,500, a threshold 0.80 alert), and stops at its
v3: its projection is that of v2 (travel spent 210,000 pence), its head version 2, failed at v3.
An offer kind stops at v1: no lines, no alerts, head version 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from ktpledger.adapters.tables import alerts, allowance_lines, projection_heads, system_notifications
from ktpledger.bootstrap import App, bootstrap
from ktpledger.service import projections
from ktpledger.service.projections import comparable
from ktpledger.service.system_alerts import PROJECTION_FAILED, read_system_alerts
from ktpledger.service.wakeup import InProcess
from ktpledger.settings import Settings
from tests.ledger.factory import claim
from tests.projections.poison import (
    CLAIM_KINDS,
    HEALTHY,
    KINDS,
    OFFER_KINDS,
    POISONED,
    TRAVEL,
    bad_offer,
    poison,
    record_healthy,
    write_event,
)

CO = "consumables"


class Quiet:
    """No wake-ups: appends that only a later catch-up folds in."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


@pytest.fixture
def quiet(database_url: str, app: App) -> Iterator[App]:
    """A second App on the same database whose appends wake nothing."""
    other = bootstrap(Settings(database_url=database_url), wakeup=Quiet())
    yield other
    other.close()


def heads(app: App) -> dict[str, dict[str, Any]]:
    with app.database.read() as connection:
        rows = connection.execute(select(projection_heads)).mappings().all()
    return {row["project"]: {k: v for k, v in row.items() if k != "updated_at"} for row in rows}


def lines(app: App, project: str) -> dict[str, tuple[int, int]]:
    """(spent, eligible) in pence of each projected allowance line."""
    with app.database.read() as connection:
        rows = connection.execute(select(allowance_lines).where(allowance_lines.c.project == project)).all()
    return {row.category: (row.spent_pence, row.eligible_pence) for row in rows}


def projected_alerts(app: App) -> list[tuple[Any, ...]]:
    with app.database.read() as connection:
        rows = connection.execute(select(alerts)).mappings().all()
    return comparable(
        {**row, "detail": json.loads(row["detail"]), "current": row["current"] and json.loads(row["current"])}
        for row in rows
    )


def failed_alerts(app: App) -> list[dict[str, Any]]:
    return [alert for alert in read_system_alerts(app.database) if alert["kind"] == PROJECTION_FAILED]


def wake_poisoned_with_healthy(app: App, quiet: App, kind: str) -> int:
    """The scene: healthy projects and the poisoned one; a claim per healthy project that only a
    catch-up folds in; then one wake-up naming them all, as a worker gets it. The poisoned row's
    position."""
    record_healthy(app)
    position = poison(app, kind)
    results = quiet.ledger.append([claim("c2", "250.00", project=project) for project in HEALTHY])
    assert [r.status for r in results] == ["recorded", "recorded"]
    InProcess(app.projector).projects_changed({POISONED, *HEALTHY})  # one message: sorted, 3 projects
    return position


@pytest.mark.parametrize("kind", KINDS)
def test_a_poison_project_is_quarantined_and_the_rest_of_its_wake_up_catches_up(
    app: App, quiet: App, kind: str
) -> None:
    position = wake_poisoned_with_healthy(app, quiet, kind)

    for project in HEALTHY:
        assert heads(app)[project]["version"] == 3
        assert heads(app)[project]["status"] == "ok"
        assert lines(app, project)[CO] == (35_000, 35_000)

    head = heads(app)[POISONED]
    failed_version = 1 if kind in OFFER_KINDS else 3
    assert (head["status"], head["failed_version"], head["failed_position"]) == (
        "failed",
        failed_version,
        position,
    )
    assert f"recorded event {failed_version} of project {POISONED} (position {position}," in head["error"]
    if kind in OFFER_KINDS:
        assert (head["version"], head["position"], lines(app, POISONED)) == (0, 0, {})
    else:
        assert head["version"] == 2
        assert lines(app, POISONED)[TRAVEL] == (210_000, 210_000)
        assert lines(app, POISONED)[CO] == (0, 0)
        assert [(a[0], a[1], a[2], a[5], a[6]) for a in projected_alerts(app) if a[0] == POISONED] == [
            (POISONED, TRAVEL, "threshold", "open", 2)
        ]

    [alert] = failed_alerts(app)
    assert (alert["subject"], alert["status"]) == (POISONED, "open")
    assert alert["detail"]["error"]["event"] == {
        "project": POISONED,
        "version": failed_version,
        "position": position,
        "type": {"unknown_type": "GrantWithdrawn"}.get(
            kind, "GrantOffered" if kind in OFFER_KINDS else "SpendClaimed"
        ),
    }
    with app.database.read() as connection:
        channels = connection.execute(
            select(system_notifications.c.channel).where(
                system_notifications.c.system_alert_id == alert["id"]
            )
        ).all()
    assert [tuple(row) for row in channels] == [("log",)]

    # Later wake-ups and the sweeper leave it alone; waiting for projections does not wait for it.
    again = app.projector.catch_up_many([POISONED, *HEALTHY])
    assert [(r.project, r.to_version - r.from_version, r.failed is not None) for r in again] == [
        ("KTP-H1", 0, False),
        ("KTP-H2", 0, False),
        (POISONED, 0, True),
    ]
    assert len(failed_alerts(app)) == 1  # raised once
    assert app.projector.lagging() == []
    assert app.projector.behind() == 0
    assert [item["project"] for item in app.projector.quarantined()] == [POISONED]


@pytest.mark.parametrize("kind", KINDS)
def test_replay_equals_the_live_projection_with_a_poison_project(app: App, quiet: App, kind: str) -> None:
    wake_poisoned_with_healthy(app, quiet, kind)
    live = (heads(app), projected_alerts(app), {p: lines(app, p) for p in (POISONED, *HEALTHY)})

    _, replayed = app.projector.replay()

    assert replayed == 3
    assert (heads(app), projected_alerts(app), {p: lines(app, p) for p in (POISONED, *HEALTHY)}) == live
    assert len(failed_alerts(app)) == 1  # the one open already: not raised again


def test_the_parallel_replay_quarantines_as_the_live_path_does(
    app: App, quiet: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    wake_poisoned_with_healthy(app, quiet, "not_decimal")
    live = (heads(app), projected_alerts(app), {p: lines(app, p) for p in (POISONED, *HEALTHY)})
    monkeypatch.setattr(projections, "PARALLEL_REPLAY_FROM", 0)

    app.projector.replay(processes=2)  # `_fold_in_process` in two spawned processes

    assert (heads(app), projected_alerts(app), {p: lines(app, p) for p in (POISONED, *HEALTHY)}) == live


def test_replay_raises_projection_failed_for_a_project_that_fails(app: App) -> None:
    record_healthy(app)
    position = poison(app, "missing_field")  # written past the projector: no catch-up has seen it
    assert failed_alerts(app) == []

    app.projector.replay()

    [alert] = failed_alerts(app)
    assert alert["subject"] == POISONED
    assert alert["detail"]["error"]["event"]["position"] == position
    assert heads(app)[POISONED]["status"] == "failed"


@pytest.mark.parametrize("kind", CLAIM_KINDS)
def test_an_append_for_a_poison_project_is_refused_naming_the_row_and_the_others_are_recorded(
    app: App, quiet: App, kind: str
) -> None:
    record_healthy(app)
    position = poison(app, kind)

    results = app.ledger.append(
        [claim("c9", "5.00", project="KTP-H1"), claim("c9", "5.00", project=POISONED)]
    )

    assert [(r.project, r.status) for r in results] == [("KTP-H1", "recorded"), (POISONED, "rejected")]
    error = results[1].error
    assert error is not None and error.rule == "R-30"
    assert f"recorded event 3 of project {POISONED} (position {position}," in error.message
    assert results[1].to_json()["error"]["event"]["version"] == 3
    # Alone, on PostgreSQL's one-round-trip path for a warm project too: refused the same way.
    [alone] = quiet.ledger.append([claim("c10", "5.00", project=POISONED)])
    assert (alone.status, alone.error and alone.error.rule) == ("rejected", "R-30")
    [again] = app.ledger.append([claim("c10", "5.00", project=POISONED)])
    assert again.status == "rejected"


def test_a_new_event_the_fold_cannot_take_is_refused_and_the_rest_of_the_batch_recorded(app: App) -> None:
    """Whatever the door lets through, an append never crashes: an extension taking a period that
    ends 9999-06-30 past the calendar's last year is refused, the healthy project's claim recorded."""
    record_healthy(app)
    late = replace(bad_offer("year_9999"), project="KTP-LATE")
    late = replace(late, payload=replace(late.payload, start=date(9999, 1, 1), months=6))
    write_event(app, late)  # folds: its period ends 9999-06-30
    extension = {
        "type": "LMCDecision",
        "project": "KTP-LATE",
        "key": "ext",
        "date": "2025-01-10",
        "data": {"kind": "extension", "months": 12},
    }

    results = app.ledger.append([claim("c9", "5.00", project="KTP-H2"), extension])

    assert [r.status for r in results] == ["recorded", "rejected"]
    assert results[1].error is not None and results[1].error.rule.startswith("R-")
    assert heads(app)["KTP-H2"]["version"] == 3

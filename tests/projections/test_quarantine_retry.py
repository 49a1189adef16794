"""Retrying a quarantined project (`ktpledger projection retry`, `Projector.retry`), its status
(`ktpledger projection status`), replay resolving what now folds, and `--wait` not waiting for a
quarantined project. On both backends.

Figures, by hand. `refused_offer`: an offer dated 2020-01-01 (period 2020-04-01 for 24 months),
then a 10.00 consumables claim (v2): consumables spent 1,000 pence once a rule set of 2019 reads
it. `not_json`: the claim kind's stream (tests/projections/poison.py) whose v3 is rewritten as a
50.00 travel claim dated 2025-01-15: travel 2,100.00 + 50.00 = 215,000 pence (86%: the v2 threshold
0.80 alert stays open), consumables 10.00 (v4) = 1,000 pence.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from ktpledger.adapters.tables import alerts, allowance_lines, projection_heads
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.cli.root import wait_for_projections
from ktpledger.domain import rules
from ktpledger.domain.chain import canonical_json
from ktpledger.domain.events import Event, SpendClaimed
from ktpledger.domain.rules import Category
from ktpledger.service.system_alerts import PROJECTION_FAILED, read_system_alerts
from ktpledger.settings import Settings
from tests.ledger.factory import claim
from tests.projections.poison import HEALTHY, POISONED, TRAVEL, poison, record, record_healthy, write_event


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def head(app: App, project: str) -> tuple[str, int, int | None]:
    with app.database.read() as connection:
        row = connection.execute(
            select(
                projection_heads.c.status, projection_heads.c.version, projection_heads.c.failed_version
            ).where(projection_heads.c.project == project)
        ).one()
    return row.status, row.version, row.failed_version


def spent(app: App, project: str) -> dict[str, int]:
    with app.database.read() as connection:
        rows = connection.execute(select(allowance_lines).where(allowance_lines.c.project == project)).all()
    return {row.category: row.spent_pence for row in rows if row.spent_pence}


def failed_alerts(app: App, *, include_resolved: bool = False) -> list[dict[str, object]]:
    return [
        alert
        for alert in read_system_alerts(app.database, include_resolved=include_resolved)
        if alert["kind"] == PROJECTION_FAILED
    ]


def rule_set_of_2019(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule changes: a rule set in force from 2019 now reads the 2020 offer."""
    earlier = replace(rules.GUIDANCE_2023, name="guidance of 2019 (test)", in_force_from=date(2019, 1, 1))
    monkeypatch.setattr(rules, "RULE_SETS", (earlier, rules.GUIDANCE_2023))


def quarantine_refused_offer(app: App) -> None:
    record_healthy(app)
    poison(app, "refused_offer")
    write_event(
        app,
        Event(POISONED, "c1", date(2020, 6, 15), SpendClaimed(Category.CONSUMABLES, Decimal("10.00"), "x")),
    )
    app.projector.catch_up_many([POISONED, *HEALTHY])
    assert head(app, POISONED) == ("failed", 0, 1)


def test_a_retry_fails_while_the_rule_refuses_the_offer_and_folds_once_it_reads_it(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarantine_refused_offer(app)

    code, out, err = run_cli(database_url, "projection", "retry", POISONED, "--format", "json")
    assert code == 1
    [result] = json.loads(out)
    assert (result["status"], result["was"], result["version"]) == ("failed", "failed", 0)
    assert result["error"]["event"] == {
        "project": POISONED,
        "version": 1,
        "position": result["error"]["event"]["position"],
        "type": "GrantOffered",
    }
    assert "R-31" in err and f"recorded event 1 of project {POISONED}" in err
    assert head(app, POISONED) == ("failed", 0, 1)
    [alert] = failed_alerts(app)

    rule_set_of_2019(monkeypatch)
    code, out, err = run_cli(database_url, "projection", "retry", POISONED)

    assert code == 0, err
    assert out == f"{POISONED}: was quarantined; folds now, projected to version 2\n"
    assert head(app, POISONED) == ("ok", 2, None)
    assert spent(app, POISONED) == {"consumables": 1_000}
    assert failed_alerts(app) == []
    [resolved] = failed_alerts(app, include_resolved=True)
    assert (resolved["id"], resolved["status"], resolved["resolved_reason"]) == (
        alert["id"],
        "resolved",
        "retried: folds now",
    )
    # Catch-ups take it up again.
    record(app, [claim("c2", "20.00", project=POISONED, date="2020-07-01")])
    assert head(app, POISONED) == ("ok", 3, None)
    assert spent(app, POISONED) == {"consumables": 3_000}


def test_a_retry_folds_a_row_made_readable_keeping_the_alerts_recorded(app: App, database_url: str) -> None:
    record_healthy(app)
    position = poison(app, "not_json")
    app.projector.catch_up_many([POISONED])
    with app.database.read() as connection:
        [threshold_id] = connection.execute(select(alerts.c.id).where(alerts.c.project == POISONED)).scalars()
    assert head(app, POISONED) == ("failed", 2, 3)

    fixed = canonical_json({"category": TRAVEL, "amount": "50.00", "description": "rewritten", "tags": []})
    with app.database.engine.begin() as connection:  # a hand edit: the append-only triggers dropped
        if app.database.dialect == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete"))
        else:
            connection.execute(text("DROP TRIGGER events_refuse_update"))
        connection.execute(
            text("UPDATE events SET data = :data WHERE position = :position"),
            {"data": fixed, "position": position},
        )

    code, out, err = run_cli(database_url, "projection", "retry", "--all", "--format", "json")

    assert code == 0, err
    assert json.loads(out) == [
        {"project": POISONED, "status": "ok", "was": "failed", "version": 4, "error": None}
    ]
    assert head(app, POISONED) == ("ok", 4, None)
    assert spent(app, POISONED) == {TRAVEL: 215_000, "consumables": 1_000}
    with app.database.read() as connection:
        kept = connection.execute(
            select(alerts.c.id, alerts.c.kind, alerts.c.status, alerts.c.raised_at_version)
            .where(alerts.c.project == POISONED)
            .order_by(alerts.c.id)
        ).all()
    # The threshold alert keeps its id; the rewritten claim (v3, month 4 of the period) carries
    # 2,150.00 in 4 months to 12,900.00 at the end date, over the 2,500 budget: a forecast alert.
    # Issue 15: v3 (2025-01-15) passes 2024Q4's end, by which travel had 2,100.00 spent against
    # 312.50 planned (2,500 x 3/24): ahead_of_profile. v4, consumables 10.00 dated 2025-01-20:
    # nothing spent by 2024Q4's end against 500.00 (behind_profile), and a forecast of
    # 10 + 3,333.33 = 3,343.33, 656.67 short of 4,000 (forecast_underspend).
    assert [tuple(row)[1:] for row in kept] == [
        ("threshold", "open", 2),
        ("ahead_of_profile", "open", 3),
        ("forecast_overspend", "open", 3),
        ("behind_profile", "open", 4),
        ("forecast_underspend", "open", 4),
    ]
    assert kept[0].id == threshold_id
    assert failed_alerts(app) == []


def test_projection_status_lists_the_quarantined_projects_with_their_errors(
    app: App, database_url: str
) -> None:
    code, out, _ = run_cli(database_url, "projection", "status", "--format", "json")
    assert (code, json.loads(out)) == (0, {"quarantined": [], "behind": 0})
    record_healthy(app)
    position = poison(app, "unknown_type")
    app.projector.catch_up_many([POISONED])

    code, out, _ = run_cli(database_url, "projection", "status", "--format", "json")

    assert code == 1
    [item] = json.loads(out)["quarantined"]
    assert (item["project"], item["version"], item["failed_version"], item["failed_position"]) == (
        POISONED,
        2,
        3,
        position,
    )
    assert 'unknown event type "GrantWithdrawn"' in item["error"]
    code, out, _ = run_cli(database_url, "projection", "status")
    assert code == 1 and f"{POISONED}: recorded event 3 of project {POISONED} (position {position}" in out


def test_retry_refuses_an_unknown_project_and_a_missing_argument(app: App, database_url: str) -> None:
    record_healthy(app)
    code, out, _ = run_cli(database_url, "projection", "retry", "KTP-H3", "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-31"
    assert run_cli(database_url, "projection", "retry")[0] == 2
    assert run_cli(database_url, "projection", "retry", "KTP-H1", "--all")[0] == 2
    code, out, _ = run_cli(database_url, "projection", "retry", "--all")
    assert (code, out) == (0, "no projection is quarantined\n")


def test_replay_resolves_projection_failed_for_a_project_that_folds_now(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarantine_refused_offer(app)
    rule_set_of_2019(monkeypatch)

    app.projector.replay()

    assert head(app, POISONED) == ("ok", 2, None)
    [resolved] = failed_alerts(app, include_resolved=True)
    assert (resolved["status"], resolved["resolved_reason"]) == ("resolved", "replayed: folds now")


def test_waiting_for_projections_does_not_wait_for_a_quarantined_project(
    app: App, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quarantine_refused_offer(app)
    # As with a broker: `--wait` polls until the projections have folded every event in.
    brokered = bootstrap(
        Settings(database_url=database_url, broker_url="redis://127.0.0.1:1/0"), wakeup=app.wakeup
    )
    try:
        wait_for_projections(brokered, True, timeout=3.0)  # before quarantine: Exit(1) after 3 s
    finally:
        brokered.close()
    assert f"warning: the projection of {POISONED} is quarantined at version 0" in capsys.readouterr().err

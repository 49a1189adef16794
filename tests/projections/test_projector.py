"""The Projector on both backends: allowances and alerts as docs/cli.md gives them, catch-up that
is safe to repeat, replay equal to the incremental run, `--as-of`, the CLI, and the database's
own refusal of duplicate alerts. Every figure is worked out by hand from docs/rules.md.

The story (tests.ledger.factory's offer: fec SME 67%, 24 months from 2024-10-01, offered
2024-09-02; travel 2,500, consumables 4,000, development 4,000):

  v1 offer                                         2024-09-02
  v2 t1  travel 1,500.00                            2024-10-15
  v3 t2  travel 1,100.40 -> 2,600.40 > 2,500        2024-11-15  threshold 0.80, 0.90, over_budget
  v4 c1  consumables 900.00, computer               2024-10-20
  v5 c2  consumables 800.00, computer (second)      2024-11-20  sub_limit computer
  v6 approve travel exceedance to 3,500             2024-11-25
  v7 virement consumables -> travel 1,000            2024-11-26  travel 3,500: 74.3%: all three end
  v8 c2 reversed in full                            2024-11-28  sub_limit computer ends
  v9 h1  development 800.00, higher_degree_fee      2024-11-29  sub_limit higher_degree_fee
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.tables import alerts as alerts_table
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.projections import comparable
from tests.ledger.factory import PROJECT, claim, decision, offer, reversal

TS, CO, AD = "travel_subsistence", "consumables", "associate_development"
ALERT_FIELDS = {
    "id",
    "project",
    "category",
    "kind",
    "detail",
    "status",
    "raised_at_version",
    "resolved_at_version",
    # ktpledger's additions (README): the figures now, why it was resolved, whether it was sent
    "current",
    "resolved_reason",
    "notified",
    # the ledger's dates of the raise and resolution, and the acknowledgement
    "subject",
    "raised_on",
    "resolved_on",
    "acknowledged",
}
LINE_FIELDS = {"category", "budget", "limit", "limit_kind", "spent", "remaining", "eligible", "ineligible"}


def story() -> list[dict[str, Any]]:
    virement = decision("v1", "2024-11-26", kind="virement", to=TS, amount="1000", minute="LMC 2")
    virement["data"]["from"] = CO
    return [
        offer(),
        claim("t1", "1500.00", category=TS, date="2024-10-15"),
        claim("t2", "1100.40", category=TS, date="2024-11-15"),
        claim("c1", "900.00", date="2024-10-20", tags=["computer"]),
        claim("c2", "800.00", date="2024-11-20", tags=["computer"]),
        decision(
            "a1",
            "2024-11-25",
            kind="approve_exceedance",
            category=TS,
            limit="3500",
            justification="trials at three sites",
            approved_by="KTP adviser",
        ),
        virement,
        reversal("r1", "c2", date="2024-11-28"),
        claim("h1", "800.00", category=AD, date="2024-11-29", tags=["higher_degree_fee"]),
    ]


def record(app: App, events: list[dict[str, Any]]) -> None:
    results = app.ledger.append(events)
    assert [r.status for r in results] == ["recorded"] * len(events), [r.to_json() for r in results]


def line(
    category: str, budget: str, limit: str | None, kind: str, spent: str, eligible: str
) -> dict[str, Any]:
    """A contract line; remaining and ineligible follow by subtraction (worked in the comments)."""
    return {
        "category": category,
        "budget": budget,
        "limit": limit,
        "limit_kind": kind,
        "spent": spent,
        "remaining": f"{Decimal(budget) - Decimal(spent):.2f}",
        "eligible": eligible,
        "ineligible": f"{Decimal(spent) - Decimal(eligible):.2f}",
    }


# After v9: travel budget 2,500 + 1,000 = 3,500 (limit 3,500 approved), spent 2,600.40, remaining
# 899.60; consumables 4,000 - 1,000 = 3,000 (limit 4,000), spent 900 + 800 - 800 = 900; development
# 800 of fees, 100 over the 700 cap: eligible 700, ineligible 100, remaining 3,200.
EXPECTED_LINES = [
    line("associate_employment", "100000.00", "110000.00", "maximum", "0.00", "0.00"),
    line(AD, "4000.00", "4000.00", "maximum", "800.00", "700.00"),
    line(TS, "3500.00", "3500.00", "standard", "2600.40", "2600.40"),
    line(CO, "3000.00", "4000.00", "standard", "900.00", "900.00"),
    line("knowledge_base_supervisor", "16000.00", "16000.00", "standard", "0.00", "0.00"),
    line("associate_estates", "0.00", "10000.00", "maximum", "0.00", "0.00"),
    line("additional_associate_support", "36000.00", "36000.00", "budget", "0.00", "0.00"),
]

# (category, kind, subject-bearing detail, status, raised_at_version, resolved_at_version), in raising
# order (within one event, by category, kind, subject).
EXPECTED_ALERTS = [
    (TS, "over_budget", {"spent": "2600.40", "budget": "2500.00", "excess": "100.40"}, "resolved", 3, 7),
    (TS, "threshold", {"threshold": "0.80", "spent": "2600.40", "budget": "2500.00"}, "resolved", 3, 7),
    (TS, "threshold", {"threshold": "0.90", "spent": "2600.40", "budget": "2500.00"}, "resolved", 3, 7),
    (
        CO,
        "sub_limit",
        {"sub_limit": "computer", "rule": "R-15", "computers": 2, "cap": 1, "ineligible": "800.00"},
        "resolved",
        5,
        8,
    ),
    (
        AD,
        "sub_limit",
        {
            "sub_limit": "higher_degree_fee",
            "rule": "R-12",
            "claimed": "800.00",
            "cap": "700.00",
            "ineligible": "100.00",
        },
        "open",
        9,
        None,
    ),
]


def summary(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The alerts with each detail cut down to the fields EXPECTED_ALERTS names."""
    result = []
    for alert, expected in zip(alerts, EXPECTED_ALERTS, strict=True):
        wanted = expected[2]
        result.append(
            (
                alert["category"],
                alert["kind"],
                {name: alert["detail"].get(name) for name in wanted},
                alert["status"],
                alert["raised_at_version"],
                alert["resolved_at_version"],
            )
        )
    return result


def count_alert_rows(app: App) -> int:
    return len(app.projector.alerts(include_resolved=True))


def test_allowances_have_the_contract_shape_and_figures(app: App) -> None:
    record(app, story())
    document = app.projector.allowances(PROJECT).to_json()
    assert set(document) >= {"project", "as_of", "end", "grant_rate", "lines"}
    assert document["project"] == PROJECT
    assert document["as_of"] is None
    assert document["end"] == "2026-09-30"  # 24 months from 2024-10-01, last day
    assert document["grant_rate"] == "0.67"
    for found in document["lines"]:
        assert set(found) == LINE_FIELDS
        assert float(found["eligible"]) + float(found["ineligible"]) == pytest.approx(float(found["spent"]))
    assert document["lines"] == EXPECTED_LINES
    json.dumps(document)  # a JSON document as it stands


def test_alerts_shapes_open_and_all(app: App) -> None:
    record(app, story())
    every = app.projector.alerts(PROJECT, include_resolved=True)
    for alert in every:
        assert set(alert) == ALERT_FIELDS
        assert alert["project"] == PROJECT
        assert isinstance(alert["id"], int) and isinstance(alert["detail"], dict)
    assert [a["id"] for a in every] == sorted(a["id"] for a in every)
    assert summary(every) == EXPECTED_ALERTS
    assert [a for a in every if a["status"] == "open"] == app.projector.alerts(PROJECT)
    assert app.projector.alerts() == app.projector.alerts(PROJECT)
    assert app.projector.alerts(include_resolved=True) == every
    assert app.projector.alerts("KTP-NONE", include_resolved=True) == []


def test_catching_up_again_changes_nothing(app: App) -> None:
    record(app, story())
    lines = app.projector.allowances(PROJECT).to_json()
    alerts = app.projector.alerts(include_resolved=True)
    for _ in range(3):
        result = app.projector.catch_up(PROJECT)
        assert (result.from_version, result.to_version, result.raised, result.resolved) == (9, 9, [], 0)
    assert app.projector.allowances(PROJECT).to_json() == lines
    assert app.projector.alerts(include_resolved=True) == alerts
    assert count_alert_rows(app) == len(EXPECTED_ALERTS)


def test_replay_gives_the_same_allowances_and_alerts_as_the_incremental_run(app: App) -> None:
    record(app, story())
    record(
        app,
        [
            offer("KTP-0043", virtual=True),
            claim("a1", "99.99", category=TS, project="KTP-0043", tags=["associate_travel"]),
        ],
    )
    incremental_lines = {p: app.projector.allowances(p).to_json() for p in (PROJECT, "KTP-0043")}
    incremental_alerts = app.projector.alerts(include_resolved=True)
    assert ("KTP-0043", TS, "ineligible_claim") in {
        (a["project"], a["category"], a["kind"]) for a in incremental_alerts
    }
    assert app.projector.replay() == (11, 2)
    assert {p: app.projector.allowances(p).to_json() for p in (PROJECT, "KTP-0043")} == incremental_lines
    assert comparable(app.projector.alerts(include_resolved=True)) == comparable(incremental_alerts)
    # and replaying twice is the same again; catching up after it has nothing to do
    app.projector.replay()
    assert comparable(app.projector.alerts(include_resolved=True)) == comparable(incremental_alerts)
    assert app.projector.catch_up(PROJECT).raised == []
    assert count_alert_rows(app) == len(incremental_alerts)


def test_a_lagging_projection_catches_up_to_the_same_result(app: App) -> None:
    class Lost:
        def projects_changed(self, projects: set[str]) -> None:
            pass

    lagging = bootstrap(app.settings, wakeup=Lost())
    try:
        events = story()
        record(app, events[:2])
        record(lagging, events[2:])
        assert app.projector.lagging() == [PROJECT]
        assert app.projector.allowances(PROJECT).version == 2
        result = app.projector.catch_up(PROJECT)
        assert (result.from_version, result.to_version) == (2, 9)
        assert app.projector.lagging() == []
        assert app.projector.allowances(PROJECT).to_json()["lines"] == EXPECTED_LINES
        assert summary(app.projector.alerts(include_resolved=True)) == EXPECTED_ALERTS
    finally:
        lagging.close()


def test_allowances_as_of_a_past_date_by_the_events_dates(app: App) -> None:
    record(app, story())
    # On 2024-11-16 the events dated so far are v1..v4 (offer, t1, t2, c1): travel 2,600.40 over a
    # budget of 2,500 (no approval or virement yet): eligible 2,500, ineligible 100.40, remaining
    # -100.40; consumables 900 of 4,000; development nothing yet.
    report = app.projector.allowances(PROJECT, as_of=date(2024, 11, 16)).to_json()
    assert report["as_of"] == "2024-11-16"
    assert report["end"] == "2026-09-30"
    lines = {found["category"]: found for found in report["lines"]}
    assert lines[TS] == line(TS, "2500.00", "2500.00", "standard", "2600.40", "2500.00")
    assert lines[TS]["remaining"] == "-100.40" and lines[TS]["ineligible"] == "100.40"
    assert lines[CO] == line(CO, "4000.00", "4000.00", "standard", "900.00", "900.00")
    assert lines[AD] == line(AD, "4000.00", "4000.00", "maximum", "0.00", "0.00")
    # On the offer's own day: the offered budget and nothing spent
    report = app.projector.allowances(PROJECT, as_of=date(2024, 9, 2)).to_json()
    assert all(found["spent"] == "0.00" for found in report["lines"])
    assert {found["category"]: found["budget"] for found in report["lines"]}[TS] == "2500.00"
    # A day far ahead: everything, the same figures as the projection
    assert app.projector.allowances(PROJECT, as_of=date(2030, 1, 1)).to_json()["lines"] == EXPECTED_LINES
    with pytest.raises(RuleViolation) as caught:
        app.projector.allowances(PROJECT, as_of=date(2024, 9, 1))
    assert caught.value.rule == "R-31"


def test_an_unknown_project_is_refused(app: App) -> None:
    with pytest.raises(RuleViolation) as caught:
        app.projector.allowances("KTP-NONE")
    assert caught.value.rule == "R-31"
    with pytest.raises(RuleViolation) as caught:
        app.projector.allowances("KTP-NONE", as_of=date(2025, 1, 1))
    assert caught.value.rule == "R-31"


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_prints_what_the_projector_holds(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    record(app, story())
    code, out, _ = run_cli(database_url, "allowances", PROJECT, "--format", "json")
    assert code == 0
    assert json.loads(out) == app.projector.allowances(PROJECT).to_json()
    assert json.loads(out)["lines"] == EXPECTED_LINES
    code, out, _ = run_cli(database_url, "allowances", PROJECT, "--as-of", "2024-11-16", "--format", "json")
    assert code == 0
    assert json.loads(out) == app.projector.allowances(PROJECT, as_of=date(2024, 11, 16)).to_json()
    code, out, err = run_cli(database_url, "allowances", PROJECT, "--as-of", "2024-09-01", "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-31" and "R-31" in err
    code, out, err = run_cli(database_url, "allowances", "KTP-NONE", "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-31"
    day = "2025-01-19"  # inside the period, before 2024Q4's claim is due (R-45): no calendar finding
    code, out, _ = run_cli(database_url, "alerts", "--all", "--today", day, "--format", "json")
    assert code == 0
    every = json.loads(out)
    assert every == read_alerts(app.database, include_resolved=True, today=date.fromisoformat(day))
    # the projection's rows, each with what every reader adds (its message from its figures)
    reader_fields = {"message", "raised_message"}
    assert [{k: v for k, v in a.items() if k not in reader_fields} for a in every] == app.projector.alerts(
        include_resolved=True
    )
    assert summary(every) == EXPECTED_ALERTS
    code, out, _ = run_cli(database_url, "alerts", "--today", day, "--format", "json")
    assert code == 0 and [a["id"] for a in json.loads(out)] == [a["id"] for a in app.projector.alerts()]
    code, out, _ = run_cli(database_url, "alerts", PROJECT, "--today", day, "--format", "json")
    assert code == 0 and [a["kind"] for a in json.loads(out)] == ["sub_limit"]
    # After the end date (2026-09-30), not closed: the calendar adds its finding.
    code, out, _ = run_cli(database_url, "alerts", PROJECT, "--today", "2026-12-01", "--format", "json")
    kinds = [a["kind"] for a in json.loads(out)]
    assert code == 0 and [k for k in kinds if k != "claim_overdue"] == ["sub_limit", "ended_not_closed"]
    assert kinds.count("claim_overdue") == 8  # every quarter 2024Q3..2026Q3, none claimed
    code, out, _ = run_cli(database_url, "replay")
    assert code == 0 and "replayed 9 events of 1 projects" in out
    assert comparable(app.projector.alerts(include_resolved=True)) == comparable(every)
    code, out, _ = run_cli(database_url, "allowances", PROJECT, "--format", "json")
    assert code == 0 and json.loads(out)["lines"] == EXPECTED_LINES
    code, out, _ = run_cli(database_url, "alerts", "--all", "--today", day, "--format", "json")
    assert code == 0 and comparable(json.loads(out)) == comparable(every)


def alert_row(version: int, status: str = "open", subject: str = "0.80") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "project": "KTP-DIRECT",
        "category": CO,
        "kind": "threshold",
        "subject": subject,
        "detail": "{}",
        "status": status,
        "raised_at_version": version,
        "resolved_at_version": None if status == "open" else version + 1,
        "raised_at": now,
        "resolved_at": None if status == "open" else now,
    }


def insert_alert(app: App, row: dict[str, Any]) -> None:
    with app.database.engine.begin() as connection:
        connection.execute(insert(alerts_table), row)


def test_the_database_refuses_a_second_open_alert_and_a_second_alert_for_one_crossing(app: App) -> None:
    insert_alert(app, alert_row(1))
    with pytest.raises(WriteConflict):
        insert_alert(app, alert_row(2))  # a second open alert for (project, category, kind, subject)
    with pytest.raises(WriteConflict):
        insert_alert(app, alert_row(1, status="resolved"))  # the same crossing again
    insert_alert(app, alert_row(3, status="resolved"))  # a resolved alert of another crossing is fine
    insert_alert(app, alert_row(1, subject="0.90"))  # another subject is another alert
    rows = app.projector.alerts("KTP-DIRECT", include_resolved=True)
    assert [(r["status"], r["raised_at_version"]) for r in rows] == [
        ("open", 1),
        ("resolved", 3),
        ("open", 1),
    ]


def test_the_database_refuses_a_copy_of_an_alert_the_projector_raised(app: App) -> None:
    record(app, story())
    open_alert = app.projector.alerts(PROJECT)[0]
    row = alert_row(open_alert["raised_at_version"], subject="higher_degree_fee")
    row.update(project=PROJECT, category=AD, kind="sub_limit")
    with pytest.raises(WriteConflict):
        insert_alert(app, row)
    row.update(raised_at_version=99)
    with pytest.raises(WriteConflict):
        insert_alert(app, row)  # still open twice
    assert count_alert_rows(app) == len(EXPECTED_ALERTS)


def test_a_parallel_replay_equals_the_incremental_result(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large ledgers are replayed by several processes; the result is the same."""
    from ktpledger.service import projections

    for n in range(6):
        project = f"KTP-P{n}"
        app.ledger.append(
            [offer(project)]
            + [
                claim(f"c{i}", f"{700 + 37 * i}.00", project=project, date=f"2025-{1 + i % 9:02d}-15")
                for i in range(8)
            ]
        )
    lines = {f"KTP-P{n}": app.projector.allowances(f"KTP-P{n}").to_json() for n in range(6)}
    alerts = comparable(app.projector.alerts(include_resolved=True))
    monkeypatch.setattr(projections, "PARALLEL_REPLAY_FROM", 0)
    assert app.projector.replay(processes=2) == (54, 6)
    assert {p: app.projector.allowances(p).to_json() for p in lines} == lines
    assert comparable(app.projector.alerts(include_resolved=True)) == alerts
    ids = [alert["id"] for alert in app.projector.alerts(include_resolved=True)]
    assert ids == sorted(ids)


def test_replay_keeps_the_ids_of_alerts_it_rebuilds(app: App) -> None:
    """Notifications refer to alerts by id: a rebuild must not orphan them."""
    app.ledger.append([offer(), claim("big", "3900.00", category=CO)])
    before = {
        (a["category"], a["kind"], json.dumps(a["detail"], sort_keys=True)): a["id"]
        for a in app.projector.alerts(include_resolved=True)
    }
    assert before
    app.projector.replay()
    after = {
        (a["category"], a["kind"], json.dumps(a["detail"], sort_keys=True)): a["id"]
        for a in app.projector.alerts(include_resolved=True)
    }
    assert after == before
    app.ledger.append([claim("more", "200.00", category=CO)])  # new crossings still get new ids
    ids = [a["id"] for a in app.projector.alerts(include_resolved=True)]
    assert len(ids) == len(set(ids)) and max(ids) > max(before.values())

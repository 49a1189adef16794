"""Acknowledging an alert (R-39) on both backends: the service function the CLI, the API and a form
call, the event recorded through the ledger as any other, its refusals, the projection's columns
(folded live and by replay, equal), the alerts' ledger dates, and the command line.

The story is tests/projections/test_projector.py's (worked there by hand):
  v3 (2024-11-15) travel 2,600.40 > 2,500: over_budget, threshold 0.80, 0.90, resolved at v7
     (2024-11-26, the virement takes the budget to 3,500);
  v5 (2024-11-20) sub_limit computer on consumables, resolved at v8 (2024-11-28, the reversal);
  v9 (2024-11-29) sub_limit higher_degree_fee on associate_development, open.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import inspect, select

from ktpledger.adapters.database import Database, build_engine
from ktpledger.adapters.migrations import head_revision
from ktpledger.adapters.tables import projection_heads
from ktpledger.bootstrap import App, bootstrap
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import MAX_TEXT_LENGTH
from ktpledger.domain.recorded import RecordedBy
from ktpledger.service.acknowledgements import UnknownAlert, acknowledge
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.projection_check import check_projections
from ktpledger.service.projections import comparable
from ktpledger.service.schema import current_revision, migrate, upgrade
from ktpledger.service.statements import quarter_pack
from ktpledger.settings import Settings
from tests.ledger.factory import PROJECT, claim, event, offer
from tests.projections.test_projector import AD, CO, TS, record, run_cli, story

ANN = RecordedBy("Ann Lee", "lmc", "api")
DAY = date(2024, 12, 2)


def alert_id(app: App, category: str, kind: str, *, raised: int) -> int:
    for alert in app.projector.alerts(include_resolved=True):
        if (alert["category"], alert["kind"], alert["raised_at_version"]) == (category, kind, raised):
            return int(alert["id"])
    raise AssertionError(f"no {kind} alert on {category} raised at {raised}")


def shown(app: App, identifier: int) -> dict[str, Any]:
    [found] = [
        a for a in read_alerts(app.database, include_resolved=True, today=DAY) if a["id"] == identifier
    ]
    return found


def stream_length(app: App) -> int:
    return len(app.ledger.stream(PROJECT))


def acknowledgement(raised: int, note: str = "seen", **data: Any) -> dict[str, Any]:
    fields = {
        "category": AD,
        "kind": "sub_limit",
        "subject": "higher_degree_fee",
        "raised_at_version": raised,
    }
    return event(
        "AlertAcknowledged", f"ack-{raised}-{note[:10]}", "2024-12-02", {**fields, **data, "note": note}
    )


def test_an_open_alert_acknowledged_shows_who_when_and_the_note_and_moves_nothing(app: App) -> None:
    record(app, story())
    fees = alert_id(app, AD, "sub_limit", raised=9)
    lines = app.projector.allowances(PROJECT).to_json()
    with app.database.engine.connect() as connection:
        clock = connection.execute(select(projection_heads.c.clock)).scalar_one()
    before = app.projector.alerts(include_resolved=True)

    done = acknowledge(app.ledger, fees, "  Fees over the cap: the university pays the 100.00  ", ANN, on=DAY)

    assert (done.result.status, done.result.version) == ("recorded", 10)
    assert done.alert.id == fees and done.alert.acknowledged is not None
    found = shown(app, fees)
    assert found["acknowledged"] == {
        "on": "2024-12-02",
        "by": {"name": "Ann Lee", "role": "lmc", "channel": "api"},
        "note": "Fees over the cap: the university pays the 100.00",  # trimmed, as every text
        "version": 10,
    }
    assert (found["raised_on"], found["resolved_on"], found["status"]) == ("2024-11-29", None, "open")
    assert done.alert.to_json() == found
    # The event is in the ledger, as any other, with who recorded it.
    recorded = app.ledger.stream(PROJECT)[-1]
    assert (recorded.type, recorded.version, recorded.date) == ("AlertAcknowledged", 10, DAY)
    assert json.loads(recorded.data) == {
        "category": AD,
        "kind": "sub_limit",
        "subject": "higher_degree_fee",
        "raised_at_version": 9,
        "note": "Fees over the cap: the university pays the 100.00",
    }
    assert recorded.recorder() == ANN.to_json()
    # No figure moved, no alert was raised or resolved, and the ledger's clock (2024-11-29, the latest
    # fact) stayed where it was although the acknowledgement is dated 2024-12-02.
    assert app.projector.allowances(PROJECT).to_json() == {**lines, "version": 10}
    after = app.projector.alerts(include_resolved=True)
    assert [a for a in after if a["id"] != fees] == [a for a in before if a["id"] != fees]
    with app.database.engine.connect() as connection:
        assert connection.execute(select(projection_heads.c.clock)).scalar_one() == clock
    assert str(clock) == "2024-11-29"


def test_a_resolved_alert_may_be_acknowledged_and_its_dates_are_the_ledgers(app: App) -> None:
    record(app, story())
    over = alert_id(app, TS, "over_budget", raised=3)
    found = shown(app, over)
    assert (found["raised_on"], found["resolved_on"], found["acknowledged"]) == (
        "2024-11-15",
        "2024-11-26",
        None,
    )
    acknowledge(app.ledger, over, "The LMC's virement of 26 November covered it", ANN, on=DAY)
    assert shown(app, over)["acknowledged"]["note"] == "The LMC's virement of 26 November covered it"
    computer = shown(app, alert_id(app, CO, "sub_limit", raised=5))
    assert (computer["raised_on"], computer["resolved_on"]) == ("2024-11-20", "2024-11-28")


def test_an_alert_is_acknowledged_once(app: App) -> None:
    record(app, story())
    fees = alert_id(app, AD, "sub_limit", raised=9)
    acknowledge(app.ledger, fees, "first", ANN, on=DAY)
    with pytest.raises(RuleViolation) as refused:
        acknowledge(app.ledger, fees, "second", RecordedBy("Bo", "finance", "api"), on=DAY)
    assert (refused.value.rule, refused.value.field) == ("R-39", "alert")
    assert "acknowledged already on 2 December 2024 by Ann Lee" in refused.value.message
    # As an event of its own (POST /events, ktpledger record): the domain refuses it, under the lock.
    [result] = app.ledger.append([acknowledgement(9, "second, by hand")])
    assert result.status == "rejected" and result.error is not None
    assert (result.error.rule, result.error.field) == ("R-39", "raised_at_version")
    assert "acknowledged already" in result.error.message
    assert stream_length(app) == 10
    assert shown(app, fees)["acknowledged"]["note"] == "first"


def test_refusals_name_r39_and_record_nothing(app: App) -> None:
    record(app, story())
    record(
        app, [offer("KTP-0043"), claim("x1", "2100.00", category=TS, project="KTP-0043", date="2024-10-15")]
    )
    fees = alert_id(app, AD, "sub_limit", raised=9)
    theirs = next(a["id"] for a in app.projector.alerts() if a["project"] == "KTP-0043")

    def refusal(identifier: int, note: str, **options: Any) -> RuleViolation:
        with pytest.raises(RuleViolation) as refused:
            acknowledge(app.ledger, identifier, note, ANN, on=options.pop("on", DAY), **options)
        assert refused.value.rule == "R-39", refused.value
        return refused.value

    unknown = refusal(999, "note")
    assert isinstance(unknown, UnknownAlert) and unknown.field == "alert"
    assert refusal(theirs, "note", project=PROJECT).field == "alert"  # an alert of another project
    assert isinstance(refusal(theirs, "note", projects=[PROJECT]), UnknownAlert)  # one the caller cannot see
    assert refusal(fees, "   ").field == "note"
    assert refusal(fees, "x" * (MAX_TEXT_LENGTH + 1)).field == "note"
    assert refusal(fees, "note", on=date(2024, 11, 28)).field == "date"  # before the raise (2024-11-29)
    assert stream_length(app) == 9
    assert all(a["acknowledged"] is None for a in app.projector.alerts(include_resolved=True))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"raised_at_version": 8}, "raised_at_version"),  # version 8 raised no fee alert
        ({"raised_at_version": 99}, "raised_at_version"),  # past the project's head (the domain)
        ({"subject": "conference"}, "raised_at_version"),  # no such alert at version 9
        ({"kind": "ended_not_closed"}, "kind"),  # never stored, never acknowledged
        ({"category": "catering"}, "category"),
        ({"raised_at_version": 0}, "raised_at_version"),
    ],
)
def test_an_acknowledgement_recorded_as_an_event_must_name_an_alert_the_project_raised(
    app: App, data: dict[str, Any], field: str
) -> None:
    record(app, story())
    [result] = app.ledger.append([acknowledgement(9, **data)])
    assert result.status == "rejected" and result.error is not None
    assert (result.error.rule, result.error.field) == ("R-39", field), result.error
    assert stream_length(app) == 9


def test_another_projects_alert_cannot_be_acknowledged_by_an_event(app: App) -> None:
    record(app, story())
    record(app, [offer("KTP-0043")])
    raw = {**acknowledgement(9), "project": "KTP-0043"}  # the crossing is KTP-0042's
    [result] = app.ledger.append([raw])
    assert result.status == "rejected" and result.error is not None and result.error.rule == "R-39"


def test_a_closed_projects_alert_may_be_acknowledged(app: App) -> None:
    record(app, story())
    record(app, [event("ProjectClosed", "close", "2024-11-30", {})])
    fees = alert_id(app, AD, "sub_limit", raised=9)  # a finding of the reconciliation: still open
    done = acknowledge(app.ledger, fees, "the university pays it", ANN, on=DAY)
    assert done.result.version == 11 and shown(app, fees)["acknowledged"]["version"] == 11


def test_replay_from_the_ledger_alone_equals_the_live_projection(app: App) -> None:
    record(app, story())
    over = alert_id(app, TS, "over_budget", raised=3)
    fees = alert_id(app, AD, "sub_limit", raised=9)
    acknowledge(app.ledger, over, "covered by the virement", ANN, on=DAY)
    acknowledge(app.ledger, fees, "the university pays it", RecordedBy("Bo", None, "cli"), on=DAY)
    # Travel crosses its new budget of 3,500: the same kind of alert raised again, a new crossing.
    record(app, [claim("t3", "1000.00", category=TS, date="2024-12-10")])
    again = alert_id(app, TS, "over_budget", raised=12)
    live = app.projector.alerts(include_resolved=True)
    assert shown(app, again)["acknowledged"] is None
    assert [a["id"] for a in live if a["acknowledged"]] == [over, fees]
    assert check_projections(app.database).ok
    assert app.projector.replay() == (12, 1)
    replayed = app.projector.alerts(include_resolved=True)
    assert comparable(replayed) == comparable(live)
    assert replayed == live  # the ids are kept too
    assert check_projections(app.database).ok


def test_the_command_line_acknowledges_and_lists_the_acknowledged_apart(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    record(app, story())
    fees = alert_id(app, AD, "sub_limit", raised=9)
    # Before 2024Q4's claim is due (2025-01-30: claim_due from 2025-01-20, claim_overdue after, R-45).
    code, out, _ = run_cli(database_url, "alerts", PROJECT, "--today", "2025-01-19")
    assert code == 0 and "raised 29 November 2024" in out and "acknowledged" not in out
    assert "v9" not in out
    code, out, err = run_cli(
        database_url,
        "--as",
        "Cy Reed",
        "acknowledge",
        str(fees),
        "--note",
        "asked the LMC",
        "--date",
        "2024-12-02",
    )
    assert code == 0, err
    assert f"alert {fees} of {PROJECT} acknowledged on 2 December 2024 (version 10)" in out
    code, out, _ = run_cli(database_url, "alerts", PROJECT, "--today", "2025-01-19")
    assert code == 0
    waiting, seen = out.split("\nacknowledged\n")
    assert "no alerts waiting for acknowledgement" in waiting
    assert "2 December 2024 by Cy Reed: asked the LMC" in seen and "raised 29 November 2024" in seen
    code, out, _ = run_cli(database_url, "alerts", PROJECT, "--today", "2025-01-19", "--format", "json")
    assert json.loads(out)[0]["acknowledged"]["by"] == {"name": "Cy Reed", "role": None, "channel": "cli"}
    code, out, err = run_cli(
        database_url, "acknowledge", str(fees), "--note", "again", "--date", "2024-12-03"
    )
    assert code == 1 and "R-39" in err and "acknowledged already" in err
    code, out, err = run_cli(database_url, "acknowledge", "999", "--note", "x", "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-39"
    code, _, err = run_cli(database_url, "acknowledge", str(fees), "--note", "")
    assert code == 1 and "R-39" in err


def test_migration_0013_fills_in_the_dates_of_the_alerts_already_stored(database_url: str) -> None:
    first = bootstrap(Settings(database_url=database_url))
    try:
        upgrade(first.database)
        record(first, story())
        live = first.projector.alerts(include_resolved=True)
    finally:
        first.close()
    database = Database(build_engine(database_url))
    try:
        migrate(database, "downgrade", "0012")
        with database.engine.connect() as connection:
            assert "raised_on" not in {column["name"] for column in inspect(connection).get_columns("alerts")}
        upgrade(database)
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()
    again = bootstrap(Settings(database_url=database_url))
    try:
        assert again.projector.alerts(include_resolved=True) == live
        assert check_projections(again.database).ok
    finally:
        again.close()
    assert [(a["raised_on"], a["resolved_on"]) for a in live] == [
        ("2024-11-15", "2024-11-26"),
        ("2024-11-15", "2024-11-26"),
        ("2024-11-15", "2024-11-26"),
        ("2024-11-20", "2024-11-28"),
        ("2024-11-29", None),
    ]


def test_the_claim_pack_marks_the_alerts_acknowledged_by_the_quarters_end(app: App) -> None:
    record(app, story())
    fees = alert_id(app, AD, "sub_limit", raised=9)
    acknowledge(app.ledger, fees, "the university pays the fees over the cap", ANN, on=DAY)
    pack = quarter_pack(app.database, PROJECT, "2024Q4")
    # At the quarter's end (2024-12-31) the fee sub-limit holds (acknowledged on 2024-12-02); the
    # forecast alerts the quarter's end raises (month 3) are not acknowledged.
    marked = {(a.category, a.kind): a.to_json()["acknowledged"] for a in pack.alerts_open_at_quarter_end}
    assert marked[(AD, "sub_limit")] == {
        "on": "2024-12-02",
        "note": "the university pays the fees over the cap",
    }
    assert all(seen is None for key, seen in marked.items() if key != (AD, "sub_limit"))
    [fee_alert] = [a for a in pack.alerts_open_at_quarter_end if a.kind == "sub_limit"]
    assert (
        fee_alert.acknowledgement_text
        == "Acknowledged 2 December 2024: the university pays the fees over the cap"
    )
    assert ClaimPack.from_json(pack.to_json()) == pack
    # A pack written before acknowledgements reads back as not acknowledged.
    document = pack.to_json()
    for alert in document["alerts_open_at_quarter_end"]:
        del alert["acknowledged"]
    assert all(a.acknowledged_on is None for a in ClaimPack.from_json(document).alerts_open_at_quarter_end)

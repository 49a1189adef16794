"""Corrections recorded through the service, on SQLite and PostgreSQL alike: `OfferAmended` (R-37)
and `ProjectReopened` (R-38), read back by every reader, and replay equal to the live projection.

The offer (`factory.offer`): fec, SME at 0.67, 24 months from 2024-10-01, consumables 4,000 (a
standard), additional associate support 36,000 (a plain budget), the business's contribution
162,500 x 0.33 = 53,625.00."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D  # noqa: N817 - short, for figures worked by hand
from typing import Any

from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.service.access import COMMAND_LINE
from ktpledger.service.project_summary import project_list, project_summary
from ktpledger.service.projection_check import check_projections
from ktpledger.service.projections import comparable
from ktpledger.service.statements import quarter_pack, reconciliation
from tests.ledger.factory import PROJECT, claim, decision, event, offer
from tests.ledger.test_ledger_contract import append_one, assert_refused

AAS, CO = "additional_associate_support", "consumables"
TITLE = "Machine vision for bakery quality assurance"


def amend(key: str, date_: str = "2025-03-03", **data: Any) -> dict[str, Any]:
    return event("OfferAmended", key, date_, {"reason": "the offer letter says otherwise", **data})


def record(app: App, *items: dict[str, Any]) -> None:
    results = app.ledger.append(list(items))
    assert all(result.status == "recorded" for result in results), [r.to_json() for r in results]


def allowance_lines(app: App) -> dict[str, dict[str, Any]]:
    return {line["category"]: line for line in app.projector.allowances(PROJECT).to_json()["lines"]}


def reconciled(app: App) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    document = reconciliation(app.database, PROJECT)
    return document, {line["category"]: line for line in document["lines"]}


def run(app: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", app.settings.database_url, *args], env={})
    return result.exit_code, result.stdout


def replay_equals_live(app: App) -> None:
    """`ktpledger verify --projections` passes on the live projections, and `ktpledger replay`
    rebuilds the same alerts and lines from the ledger alone."""
    assert check_projections(app.database).ok
    code, out = run(app, "verify", "--projections")
    assert code == 0, out
    live_alerts = comparable(app.projector.alerts(include_resolved=True))
    live_lines = app.projector.allowances(PROJECT).to_json()
    code, out = run(app, "replay")
    assert code == 0 and "replayed" in out, out
    assert comparable(app.projector.alerts(include_resolved=True)) == live_alerts
    assert app.projector.allowances(PROJECT).to_json() == live_lines


def test_a_title_a_line_typo_and_a_start_date_are_corrected(app: App) -> None:
    record(
        app,
        offer(),
        claim("c1", "1000.00", category=CO, date="2024-11-20"),
        claim("a1", "3000.00", category=AAS, date="2024-12-15"),
    )
    vire = decision(
        "lmc-1", "2025-01-10", kind="virement", **{"from": CO, "to": AAS, "amount": "500", "minute": "LMC 1"}
    )
    record(app, vire)
    record(app, amend("fix-title", title=TITLE))
    record(app, amend("fix-line", budget={AAS: "37000"}))  # a typo: the letter says 37,000
    record(app, amend("fix-start", "2025-03-04", start="2024-11-01"))
    # Allowances: additional support 37,000 + the virement's 500 = 37,500, 3,000 spent;
    # consumables 4,000 - 500 = 3,500, 1,000 spent.
    found = allowance_lines(app)
    assert (found[AAS]["budget"], found[AAS]["spent"], found[AAS]["remaining"]) == (
        "37500.00",
        "3000.00",
        "34500.00",
    )
    assert (found[CO]["budget"], found[CO]["spent"]) == ("3500.00", "1000.00")
    # The reconciliation's original budget is the amended offer's; the virement stays on top.
    document, lines = reconciled(app)
    assert lines[AAS]["original_budget"] == "37000.00"
    # The amendment is noted with no amount: original 37,000 + 500 = final 37,500.
    assert [(change["kind"], change["amount"]) for change in lines[AAS]["changes"]] == [
        ("virement", "500.00"),
        ("offer_amended", "0.00"),
    ]
    assert (
        lines[AAS]["changes"][1]["note"]
        == "offer amended from 36,000.00 to 37,000.00: the offer letter says otherwise"
    )
    assert lines[AAS]["final_budget"] == "37500.00"
    assert (document["start"], document["end"], document["title"]) == ("2024-11-01", "2026-10-31", TITLE)
    assert document["final"] is False
    # The project list and the dashboard's summary show the amended offer.
    [row] = project_list(app, COMMAND_LINE, today=date(2025, 3, 31))
    assert row.facts is not None and row.facts.title == TITLE and row.facts.start == date(2024, 11, 1)
    summary = project_summary(app, PROJECT, today=date(2025, 3, 31))
    assert summary.facts.title == TITLE and summary.facts.end == date(2026, 10, 31)
    assert [d.kind for d in summary.decisions] == [
        "virement",
        "offer_amended",
        "offer_amended",
        "offer_amended",
    ]
    assert (
        summary.decisions[2].summary.startswith("Offer amended: ")
        and "37,000" in summary.decisions[2].summary
    )
    assert summary.decisions[1].minute == "the offer letter says otherwise"

    # A claim pack covers the events dated up to its quarter's end: 2024Q4's shows the offer as first
    # recorded (the virement and the amendments came in 2025), 2025Q1's the amended one.
    def pack_budget(quarter: str) -> str:
        pack = quarter_pack(app.database, PROJECT, quarter).to_json()
        return str({line["category"]: line for line in pack["lines"]}[AAS]["budget"])

    assert (pack_budget("2024Q4"), pack_budget("2025Q1")) == ("36000.00", "37500.00")
    # Both offers and every amendment stay in the ledger.
    types = [item.type for item in app.ledger.stream(PROJECT)]
    assert types.count("GrantOffered") == 1 and types.count("OfferAmended") == 3
    assert app.ledger.verify() == (len(types), None)
    replay_equals_live(app)


def test_refusals_record_nothing(app: App) -> None:
    record(app, offer(), claim("c1", "3000.00", category=CO, date="2024-10-15"))
    # Lowering the business's contribution: 152,500 x 0.33 = 50,325.00 < 53,625.00.
    assert_refused(app, amend("a1", budget={"associate_employment": "90000"}), "R-37", words="53,625.00")
    # A claim that would fall before the corrected start.
    assert_refused(app, amend("a2", start="2024-11-01"), "R-37", words="outside the amended period")
    # A line below what was claimed against it.
    assert_refused(app, amend("a3", budget={CO: "2000", AAS: "38000"}), "R-37", words="already claimed")
    # Bad input at the door: never a 500, nothing recorded.
    assert_refused(app, event("OfferAmended", "a4", "2025-03-03", {"title": "t"}), "R-37", words="reason")
    assert_refused(
        app, event("OfferAmended", "a5", "2025-03-03", {"reason": "r"}), "R-37", words="at least one"
    )
    assert_refused(app, event("OfferAmended", "a6", "2025-03-03", {"reason": "r", "x": 1}), "R-30", words="x")
    assert_refused(app, event("OfferAmended", "a7", "2025-03-03", {"reason": "r", "months": "2"}), "R-37")
    assert_refused(app, event("ProjectReopened", "r0", "2025-03-03", {}), "R-38", words="reason")
    # A reopening of an open project.
    assert_refused(
        app, event("ProjectReopened", "r1", "2025-03-03", {"reason": "r"}), "R-38", words="not closed"
    )
    record(app, event("ProjectClosed", "close", "2026-10-15", {}))
    # An amendment and a virement on a closed project.
    assert_refused(app, amend("a8", "2026-10-20", title=TITLE), "R-37", words="reopen it")
    vire = decision(
        "lmc-9", "2026-10-20", kind="virement", **{"from": CO, "to": AAS, "amount": "100", "minute": "m"}
    )
    assert_refused(app, vire, "R-36", words="closed")


def test_reopen_claim_late_and_close_again(app: App) -> None:
    record(
        app,
        offer(),
        claim("c1", "3300.00", category=CO, date="2025-01-15"),
        event("ProjectClosed", "close", "2026-10-15", {}),
    )
    assert reconciled(app)[0]["final"] is True
    record(
        app, event("ProjectReopened", "reopen", "2026-11-02", {"reason": "a September invoice arrived late"})
    )
    document, _ = reconciled(app)
    assert document["final"] is False and document["closed_on"] is None
    # A cost incurred after the end is still refused; one incurred inside the period is accepted.
    assert_refused(app, claim("after", "10.00", category=CO, date="2026-10-05"), "R-33", words="outside")
    record(app, claim("late", "250.00", category=CO, date="2026-09-20"))
    record(app, event("ProjectClosed", "close-2", "2026-11-05", {}))
    document, lines = reconciled(app)
    # 3,550.00 claimed, all within the 4,000 budget; grant 3,550 x 0.67 = 2,378.50.
    assert document["final"] is True and document["closed_on"] == "2026-11-05"
    assert (lines[CO]["claimed"], lines[CO]["eligible"], lines[CO]["grant"]) == (
        "3550.00",
        "3550.00",
        "2378.50",
    )
    # The 80% threshold (3,300 of 4,000) resolved at closure, was raised again at the reopening,
    # and resolved again at the second closure.
    thresholds = [
        alert
        for alert in app.projector.alerts(PROJECT, include_resolved=True)
        if alert["kind"] == "threshold" and alert["category"] == CO
    ]
    assert [(a["raised_at_version"], a["resolved_at_version"], a["resolved_reason"]) for a in thresholds] == [
        (2, 3, "closed"),
        (4, 6, "closed"),
    ]
    replay_equals_live(app)


def test_an_amendment_resolving_an_alert_replays_the_same(app: App) -> None:
    record(app, offer(), claim("c1", "3300.00", category=CO, date="2025-01-15"))
    record(app, amend("raise", budget={CO: "4500"}, justifications={CO: "the sensors cost more"}))
    [threshold] = [
        alert
        for alert in app.projector.alerts(PROJECT, include_resolved=True)
        if alert["kind"] == "threshold" and alert["category"] == CO
    ]
    # 3,300 of 4,500 is 73%: the 80% threshold no longer holds.
    assert threshold["status"] == "resolved" and threshold["resolved_reason"] == "offer_amended"
    assert allowance_lines(app)[CO]["limit"] == "4500.00"
    replay_equals_live(app)


def test_the_events_command_shows_them_readably(app: App) -> None:
    record(
        app,
        offer(),
        event("ProjectClosed", "close", "2026-10-15", {}),
        event("ProjectReopened", "reopen", "2026-11-02", {"reason": "late invoice"}),
        amend("fix", "2026-11-03", title=TITLE, budget={AAS: "36500"}),
    )
    code, out = run(app, "events", PROJECT)
    assert code == 0, out
    assert "reopened: late invoice" in out
    assert "amends budget.additional_associate_support=36500.00, title" in out
    assert (
        append_one(app, amend("fix", "2026-11-03", title=TITLE, budget={AAS: "36500"}))["status"]
        == "duplicate"
    )
    assert D(allowance_lines(app)[AAS]["budget"]) == D(36500)

"""Grant claims through the command line, the ledger and the claim pack, on both databases (R-45):
a project claimed quarter by quarter, a submission refused without its narratives, a duplicate, a
late cost that never changes the submitted pack and is the next claim's prior-period adjustment.

The factory's offer at 67% (SME, fec), 24 months from 2025-01-01, no recorded profile: consumables
(4,000) are forecast at 500.00 a quarter, travel (2,500) at 312.50, the associate (100,000) at
12,500.00. In 2025Q1: associate 12,500.00 (on its forecast), consumables 500.00 (on it), travel
nothing: every other line needs a narrative.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.service.statements import reconciliation
from tests.ledger.factory import claim, event, offer

PROJECT = "KTP-0042"
OTHER_LINES = (
    "additional_associate_support",
    "associate_development",
    "knowledge_base_supervisor",
    "travel_subsistence",
)


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def narratives(*lines: str) -> list[str]:
    return [part for line in lines for part in ("--narrative", f"{line}=not started yet")]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    monkeypatch.delenv("KTPLEDGER_TODAY", raising=False)


def submit(url: str, quarter: str, on: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(
        url, "claim", "submit", PROJECT, "--quarter", quarter, "--date", on, "--format", "json", *extra
    )
    return code, (json.loads(out) if code == 0 else {}), err


def pack(url: str, quarter: str) -> dict[str, Any]:
    code, out, err = run_cli(url, "claim-pack", PROJECT, "--quarter", quarter, "--format", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def clock(url: str, today: str) -> list[tuple[str, str]]:
    code, out, err = run_cli(url, "alerts", PROJECT, "--today", today, "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    rows = found if isinstance(found, list) else found["alerts"]
    return sorted((row["kind"], row["subject"]) for row in rows if row["kind"].startswith("claim_"))


def test_a_project_claimed_quarter_by_quarter(app: App, database_url: str) -> None:
    record(
        app,
        [
            offer(date="2024-12-01", start="2025-01-01"),
            claim("ae-q1", "12500.00", category="associate_employment", date="2025-03-31"),
            claim("cons-q1", "500.00", date="2025-02-10"),
        ],
    )
    # Refused without the narratives: each line named with its variance and what to pass.
    code, _, err = submit(database_url, "2025Q1", "2025-04-05")
    assert code == 1
    assert (
        "R-45" in err and "travel_subsistence: actual 0.00 against forecast 312.50, variance -312.50" in err
    )
    assert "--narrative travel_subsistence=TEXT" in err and "consumables" not in err
    # A dry run with them shows the claim and records nothing.
    code, shown, err = submit(database_url, "2025Q1", "2025-04-05", "--dry-run", *narratives(*OTHER_LINES))
    assert code == 0, err
    assert (shown["status"], shown["number"], shown["grant"]) == ("would record", 1, "8710.00")
    assert shown["lines"]["consumables"] == {
        "actual": "500.00",
        "forecast": "500.00",
        "variance": "0.00",
        "narrative": None,
        "narrative_required": False,
        "eligible": "500.00",
        "grant": "335.00",
        "prior_period": "0.00",
    }
    assert shown["lines"]["travel_subsistence"]["narrative"] == "not started yet"
    assert clock(database_url, "2025-05-01") == [("claim_overdue", "2025Q1")]
    before = pack(database_url, "2025Q1")
    assert before["submitted"] is None
    code, shown, err = submit(database_url, "2025Q1", "2025-04-05", *narratives(*OTHER_LINES))
    assert code == 0, err
    assert (shown["status"], shown["version"]) == ("recorded", 4)
    # The same claim again is a duplicate.
    code, again, err = submit(database_url, "2025Q1", "2025-04-05", *narratives(*OTHER_LINES))
    assert code == 0, err
    assert again["status"] == "duplicate"
    submitted = pack(database_url, "2025Q1")
    assert submitted["submitted"]["number"] == 1
    assert submitted["submitted"]["grant"] == "8710.00"
    assert submitted["submitted"]["ledger"]["version"] == 3
    assert clock(database_url, "2025-05-01") == []
    assert clock(database_url, "2025-07-25") == [("claim_due", "2025Q2")]
    assert clock(database_url, "2025-08-01") == [("claim_overdue", "2025Q2")]
    # A late cost dated in the claimed quarter never changes the submitted pack ...
    record(app, [claim("late", "150.00", category="travel_subsistence", date="2025-03-20")])
    later = pack(database_url, "2025Q1")
    assert later == submitted  # the whole document, its ledger position and checkpoint too
    # ... it is the next claim's prior-period adjustment, labelled on its line.
    record(app, [claim("cons-q2", "500.00", date="2025-05-10")])
    code, _, err = submit(database_url, "2025Q2", "2025-07-02")
    assert code == 1 and "travel_subsistence" in err
    code, q2, err = submit(
        database_url, "2025Q2", "2025-07-02", *narratives(*OTHER_LINES, "associate_employment")
    )
    assert code == 0, err
    assert q2["number"] == 2
    assert q2["lines"]["travel_subsistence"]["prior_period"] == "100.50"
    assert q2["lines"]["travel_subsistence"]["actual"] == "0.00"
    assert (q2["prior_period"], q2["quarter_grant"], q2["grant"]) == ("100.50", "335.00", "435.50")
    # A grant payment naming claim 1 (GrantPayment schema version 2): the statement shows claimed,
    # paid and outstanding per claim.
    record(app, [event("GrantPayment", "pay-1", "2025-08-10", {"amount": "8000.00", "claim": 1})])
    [row] = [item for item in app.ledger.stream(PROJECT) if item.key == "pay-1"]
    assert row.schema_version == 2
    statement = reconciliation(app.database, PROJECT)
    # Claim approvals: neither claim is approved yet, so `approved` and `approved_on` are null.
    assert statement["receivables"]["grant"]["claims"] == [
        {"number": 1, "quarter": "2025Q1", "submitted_on": "2025-04-05", "claimed": "8710.00", "approved": None,
         "approved_on": None, "paid": "8000.00", "outstanding": "710.00"},
        {"number": 2, "quarter": "2025Q2", "submitted_on": "2025-07-02", "claimed": "435.50", "approved": None,
         "approved_on": None, "paid": "0.00", "outstanding": "435.50"},
    ]  # fmt: skip
    # Claimed once each and in order.
    code, _, err = submit(database_url, "2025Q4", "2026-01-05")
    assert code == 1 and "next claim is for 2025Q3" in err

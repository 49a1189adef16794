"""Claim approvals (R-46) through the command line, the ledger, the claim history and the
reconciliation, on both databases: one claim approved in full, one for less with a note (refused
without it), payments matched to claims and held to what was approved, the final adjustment, and
bad input refused field by field with nothing recorded.

Worked by hand. The factory's offer at 67% (SME, fec), 24 months from 2025-01-01:

- claim 1 (2025Q1): associate 12,500.00 and consumables 500.00: grant 8,375.00 + 335.00 = 8,710.00;
  approved in full on 2025-04-20, paid 8,000.00 on 2025-05-01: outstanding 710.00;
- claim 2 (2025Q2): consumables 500.00: grant 335.00; 100.00 paid on 2025-07-20 before approval
  (outstanding then 335.00 - 100.00 = 235.00); the project is closed on 2025-07-22 and the claim is
  approved on 2025-07-25 for 300.00 with a note (the approval of a closed project's claim is taken,
  as its payments are): outstanding 300.00 - 100.00 = 200.00, so a payment of 250.00 is refused and
  one of 200.00 clears it;
- a late travel cost of 150.00 dated 2025-06-20 recorded after claim 2: grant 150.00 x 0.67 = 100.50,
  on no claim; the reconciliation's grant is 8,375.00 + (500.00 + 500.00) x 0.67 + 100.50 = 9,145.50,
  the claims' 8,710.00 + 335.00 = 9,045.00, so the final adjustment is 9,145.50 - 9,045.00 = 100.50;
- a grant payment of 50.00 naming no claim is unallocated. Grant paid: 8,000 + 100 + 200 + 50 = 8,350.00.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.reports import render
from ktpledger.service.statements import reconciliation, reconciliation_statement
from tests.ledger.factory import claim, event, offer
from tests.reports.long_csv import csv_sections

PROJECT = "KTP-0042"
OTHER_LINES = (
    "additional_associate_support",
    "associate_development",
    "knowledge_base_supervisor",
    "travel_subsistence",
)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    monkeypatch.delenv("KTPLEDGER_TODAY", raising=False)


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def refused(app: App, item: dict[str, Any]) -> tuple[str, str | None, str]:
    [result] = app.ledger.append([item])
    assert result.error is not None, result.to_json()
    return result.error.rule, result.error.field, result.error.message


def submit(url: str, quarter: str, on: str, *lines: str) -> None:
    narratives = [part for line in lines for part in ("--narrative", f"{line}=not started yet")]
    code, _, err = run_cli(
        url, "claim", "submit", PROJECT, "--quarter", quarter, "--date", on, "--format", "json", *narratives
    )
    assert code == 0, err


def approve(url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(url, "claim", "approve", PROJECT, "--format", "json", *args)
    return code, (json.loads(out) if out.strip() else {}), err


def history(url: str) -> dict[str, Any]:
    code, out, err = run_cli(url, "claim", "history", PROJECT, "--format", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def version_of(app: App) -> int:
    return app.ledger.stream(PROJECT)[-1].version


def test_claims_approved_paid_and_reconciled(app: App, database_url: str) -> None:
    record(
        app,
        [
            offer(date="2024-12-01", start="2025-01-01"),
            claim("ae-q1", "12500.00", category="associate_employment", date="2025-03-31"),
            claim("cons-q1", "500.00", date="2025-02-10"),
        ],
    )
    submit(database_url, "2025Q1", "2025-04-05", *OTHER_LINES)
    before = version_of(app)

    # Bad input, field by field: R-46 named with the field, exit 1, nothing recorded.
    cases = [
        (("--claim", "9", "--amount", "100.00", "--date", "2025-04-20"), "claim", "has no claim 9"),
        (("--claim", "1", "--amount", "-5.00", "--date", "2025-04-20"), "amount", "amount"),
        (("--claim", "1", "--amount", "1.234", "--date", "2025-04-20"), "amount", "amount"),
        (
            ("--claim", "1", "--amount", "8710.01", "--date", "2025-04-20"),
            "amount",
            "amount 8,710.01 is more than the 8,710.00 of grant claim 1 claimed",
        ),
        (
            ("--claim", "1", "--amount", "8710.00", "--date", "2025-04-04"),
            "date",
            "date 2025-04-04: an approval cannot precede claim 1 of 2025-04-05",
        ),
        (
            ("--claim", "1", "--amount", "8000.00", "--date", "2025-04-20"),
            "note",
            "a note is required: 8,000.00 is less than the 8,710.00 claimed on claim 1",
        ),
    ]
    for args, field, words in cases:
        code, shown, err = approve(database_url, *args)
        assert code == 1, (args, err)
        assert err.startswith("error: R-46: ") and words in err and field in err, (args, err)
        assert shown["error"]["rule"] == "R-46", args
    # Options the command line cannot read: a claim that is no number (exit 2, naming --claim),
    # no amount, a date that is no date.
    code, _, err = approve(database_url, "--claim", "one", "--amount", "1.00")
    assert code == 2 and "--claim" in err
    code, _, err = approve(database_url, "--claim", "1")
    assert code == 2 and "--amount" in err
    code, _, err = approve(database_url, "--claim", "1", "--amount", "1.00", "--date", "2025-13-01")
    assert code == 1 and "date" in err
    assert version_of(app) == before

    # A dry run shows the approval and records nothing.
    args = ("--claim", "1", "--amount", "8710.00", "--date", "2025-04-20", "--approved-by", "J. Smith")
    code, shown, err = approve(database_url, *args, "--dry-run")
    assert code == 0, err
    assert (shown["status"], shown["key"], shown["approved"], shown["outstanding"]) == (
        "would record",
        f"claim-approval-{PROJECT}-1",
        "8710.00",
        "8710.00",
    )
    assert version_of(app) == before
    # Claim 1 approved in full; the same approval again is a duplicate, another one refused.
    code, shown, err = approve(database_url, *args)
    assert code == 0, err
    assert (shown["status"], shown["version"], shown["claimed"]) == ("recorded", before + 1, "8710.00")
    code, shown, err = approve(database_url, *args)
    assert (code, shown["status"]) == (0, "duplicate"), err
    code, out, err = run_cli(database_url, "claim", "approve", PROJECT, *args)
    assert code == 0, err
    assert out.startswith(
        f"{PROJECT}: claim 1 (2025Q1) approved for 8,710.00 of 8,710.00 claimed, dated 2025-04-20: duplicate"
    )
    code, shown, err = approve(database_url, "--claim", "1", "--amount", "8700.00", "--note", "less")
    assert code == 1 and "R-46" in err and "claim 1 was approved already on 2025-04-20" in err
    assert refused(app, event("ClaimApproved", "again", "2025-04-21", {"claim": 1, "amount": "8710.00"})) == (
        "R-46",
        "claim",
        (
            "claim 1 was approved already on 2025-04-20 for 8,710.00: a claim is approved once; what the "
            "monitoring officer changes later is settled on the final claim (final_adjustment)"
        ),
    )
    assert version_of(app) == before + 1

    record(app, [event("GrantPayment", "pay-1", "2025-05-01", {"amount": "8000.00", "claim": 1})])
    record(app, [claim("cons-q2", "500.00", date="2025-05-10")])
    submit(database_url, "2025Q2", "2025-07-02", *OTHER_LINES, "associate_employment")
    record(
        app,
        [
            claim("late", "150.00", category="travel_subsistence", date="2025-06-20"),
            event("GrantPayment", "pay-2a", "2025-07-20", {"amount": "100.00", "claim": 2}),
            event("ProjectClosed", "close", "2025-07-22", {}),
        ],
    )
    # Before approval, claim 2's outstanding is claimed - paid: 335.00 - 100.00.
    assert [row["outstanding"] for row in history(database_url)["claims"]] == ["710.00", "235.00"]
    before = version_of(app)
    # Claim 2 approved for less: not below what is paid, and only with a note.
    code, shown, err = approve(
        database_url, "--claim", "2", "--amount", "50.00", "--note", "x", "--date", "2025-07-25"
    )
    assert code == 1 and "R-46: amount 50.00 is less than the 100.00 already paid against claim 2" in err
    code, shown, err = approve(database_url, "--claim", "2", "--amount", "300.00", "--date", "2025-07-25")
    assert code == 1 and "R-46: a note is required: 300.00 is less than the 335.00 claimed on claim 2" in err
    # The door says the same, naming the field.
    assert refused(app, event("ClaimApproved", "a2", "2025-07-25", {"claim": 2, "amount": "300.00"}))[:2] == (
        "R-46",
        "note",
    )
    assert refused(app, event("ClaimApproved", "a2", "2025-07-01", {"claim": 2, "amount": "335.00"}))[:2] == (
        "R-46",
        "date",
    )
    assert refused(app, event("ClaimApproved", "a2", "2025-07-25", {"claim": 2, "amount": "335.01"}))[:2] == (
        "R-46",
        "amount",
    )
    assert version_of(app) == before
    code, shown, err = approve(
        database_url,
        "--claim",
        "2",
        "--amount",
        "300.00",
        "--note",
        "consumables receipt missing",
        "--date",
        "2025-07-25",
    )
    assert code == 0, err  # after the closure, as grant payments are
    assert (shown["approved"], shown["paid"], shown["outstanding"]) == ("300.00", "100.00", "200.00")

    # A payment above what is outstanding on the approved claim is refused, naming both amounts.
    assert refused(app, event("GrantPayment", "pay-2b", "2025-08-01", {"amount": "250.00", "claim": 2})) == (
        "R-45",
        "amount",
        (
            "250.00 is more than the 200.00 outstanding on claim 2: record what pays this claim (the rest "
            "without naming one)"
        ),
    )
    record(
        app,
        [
            event("GrantPayment", "pay-2b", "2025-08-01", {"amount": "200.00", "claim": 2}),
            event("GrantPayment", "pay-x", "2025-08-05", {"amount": "50.00"}),
        ],
    )
    stream = app.ledger.stream(PROJECT)
    versions = {item.key: item.version for item in stream}

    found = history(database_url)
    assert found["claims"] == [
        {"number": 1, "quarter": "2025Q1", "submitted_on": "2025-04-05", "claimed": "8710.00",
         "quarter_grant": "8710.00", "prior_period": "0.00", "approved": "8710.00", "approved_on": "2025-04-20",
         "approved_by": "J. Smith", "note": None, "paid": "8000.00", "outstanding": "710.00",
         "payments": [{"date": "2025-05-01", "amount": "8000.00", "version": versions["pay-1"]}]},
        {"number": 2, "quarter": "2025Q2", "submitted_on": "2025-07-02", "claimed": "335.00",
         "quarter_grant": "335.00", "prior_period": "0.00", "approved": "300.00", "approved_on": "2025-07-25",
         "approved_by": None, "note": "consumables receipt missing", "paid": "300.00", "outstanding": "0.00",
         "payments": [{"date": "2025-07-20", "amount": "100.00", "version": versions["pay-2a"]},
                      {"date": "2025-08-01", "amount": "200.00", "version": versions["pay-2b"]}]},
    ]  # fmt: skip
    assert found["totals"] == {
        "claimed": "9045.00",
        "approved": "9010.00",
        "paid": "8300.00",
        "outstanding": "710.00",
    }
    assert found["unallocated_payments"] == [
        {"date": "2025-08-05", "amount": "50.00", "version": versions["pay-x"]}
    ]
    assert (found["unallocated_paid"], found["grant"], found["claimed_total"], found["final_adjustment"]) == (
        "50.00",
        "9145.50",
        "9045.00",
        "100.50",
    )

    statement = reconciliation(app.database, PROJECT)
    assert statement["totals"]["grant"] == "9145.50" and statement["grant_paid"] == "8350.00"
    grant = statement["receivables"]["grant"]
    assert grant["claims"] == [
        {"number": 1, "quarter": "2025Q1", "submitted_on": "2025-04-05", "claimed": "8710.00",
         "approved": "8710.00", "approved_on": "2025-04-20", "paid": "8000.00", "outstanding": "710.00"},
        {"number": 2, "quarter": "2025Q2", "submitted_on": "2025-07-02", "claimed": "335.00",
         "approved": "300.00", "approved_on": "2025-07-25", "paid": "300.00", "outstanding": "0.00"},
    ]  # fmt: skip
    assert (grant["claimed_total"], grant["final_adjustment"]) == ("9045.00", "100.50")

    # The table shows the same figures.
    code, out, err = run_cli(database_url, "claim", "history", PROJECT)
    assert code == 0, err
    assert "8,710.00" in out and "300.00" in out and "final adjustment" in out and "100.50" in out

    # Each rendering of the reconciliation has a "Grant claims" block with the approved figures.
    made = reconciliation_statement(app.database, PROJECT)
    csv_text = render(made, "csv").decode("utf-8")
    sections = csv_sections(render(made, "csv"))  # the long CSV (section,row,field,value), pivoted
    claims = next(section for section in sections if section[0][0] == "claim")
    assert claims == [
        ["claim", "claim_quarter", "claim_submitted_on", "claim_claimed", "claim_approved", "claim_approved_on",
         "claim_paid", "claim_outstanding"],
        ["1", "2025Q1", "2025-04-05", "8710.00", "8710.00", "2025-04-20", "8000.00", "710.00"],
        ["2", "2025Q2", "2025-07-02", "335.00", "300.00", "2025-07-25", "300.00", "0.00"],
    ]  # fmt: skip
    assert (
        "receivables,1,grant_claimed_total,9045.00\r\nreceivables,1,grant_final_adjustment,100.50\r\n"
        in csv_text
    )
    html = render(made, "html").decode("utf-8")
    assert "Grant claims" in html and "consumables receipt" not in html and "25 July 2025" in html
    assert render(made, "xlsx")[:2] == b"PK" and render(made, "pdf")[:4] == b"%PDF"


def test_a_claim_approved_over_json(app: App) -> None:
    """What the door refuses before any state is read: R-46 naming the field."""
    record(app, [offer(date="2024-12-01", start="2025-01-01")])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount": "1.00"}, "claim"),
        ({"claim": 0, "amount": "1.00"}, "claim"),
        ({"claim": "1", "amount": "1.00"}, "claim"),
        ({"claim": 1}, "amount"),
        ({"claim": 1, "amount": 1.5}, "amount"),
        ({"claim": 1, "amount": "1.00", "note": ""}, "note"),
        ({"claim": 1, "amount": "1.00", "approved_by": 7}, "approved_by"),
        ({"claim": 1, "amount": "1.00"}, "claim"),  # the project has no claim 1
    ]
    before = version_of(app)
    for data, field in cases:
        rule, named, _ = refused(app, event("ClaimApproved", "approve", "2025-04-20", data))
        assert (rule, named) == ("R-46", field), data
    assert version_of(app) == before

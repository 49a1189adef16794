"""The business's invoices through the command line, the ledger and the reconciliation, on both
databases (R-44): a 24-month project invoiced quarter by quarter, a late cost as a prior-period
adjustment, a part payment, an overdue invoice with --today, the receivables in every format.

The factory's offer at 67% (SME, fec), started 2025-01-01: its business total at the offer is
53,625.00 (tests/domain/test_invoices.py). Hand-worked figures:
- 2025Q1: associate 12,000.00 (business 3,960.00) and consumables 333.33 (grant 223.33, business
  110.00): INV-1 4,070.00, paid in full.
- 2025Q2: associate 12,000.00 (3,960.00), and a rail fare of 150.00 dated 2025-03-20 that arrived
  after INV-1 (grant 100.50, business 49.50): INV-2 = 3,960.00 + 49.50 prior period = 4,009.50,
  dated 2025-07-03, due 2025-08-02; 2,000.00 paid on 2025-07-20.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.service.statements import reconciliation
from tests.ledger.factory import claim, event, offer
from tests.reports.long_csv import csv_sections

PROJECT = "KTP-0042"


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    monkeypatch.delenv("KTPLEDGER_TODAY", raising=False)


def test_a_project_invoiced_quarter_by_quarter(app: App, database_url: str) -> None:
    record(
        app,
        [
            offer(date="2024-12-01", start="2025-01-01"),
            claim("ae-q1", "12000.00", category="associate_employment", date="2025-03-31"),
            claim("cons-q1", "333.33", date="2025-02-10"),
        ],
    )
    # A dry run shows the invoice and records nothing.
    code, out, err = run_cli(
        database_url, "invoice", PROJECT, "--quarter", "2025Q1", "--date", "2025-04-05", "--number", "INV-1",
        "--dry-run", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["status"], shown["amount"], shown["quarter_costs"]) == (
        "would record",
        "4070.00",
        "4070.00",
    )
    assert (shown["due"], shown["final_quarter"], shown["offer_business"]) == (
        "2025-05-05",
        False,
        "53625.00",
    )
    assert not app.ledger.state(PROJECT).invoices
    code, out, err = run_cli(
        database_url, "invoice", PROJECT, "--quarter", "2025Q1", "--date", "2025-04-05", "--number", "INV-1"
    )
    assert code == 0, err
    assert "amount due" in out and "4,070.00" in out and "recorded (version 4)" in out
    # The same invoice again is a duplicate: nothing new is recorded.
    code, out, err = run_cli(
        database_url, "invoice", PROJECT, "--quarter", "2025Q1", "--date", "2025-04-05", "--number", "INV-1",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert (json.loads(out)["status"], json.loads(out)["version"]) == ("duplicate", 4)
    code, out, err = run_cli(
        database_url, "invoice-payment", PROJECT, "--invoice", "INV-1", "--amount", "4070.00", "--date", "2025-04-30"
    )  # fmt: skip
    assert code == 0, err
    # Asked for again once paid, it is still the same invoice, a duplicate: worked out without the
    # invoice and its payment (it once failed on the payment of an invoice it had left out).
    for dry in ([], ["--dry-run"]):
        code, out, err = run_cli(
            database_url, "invoice", PROJECT, "--quarter", "2025Q1", "--date", "2025-04-05", "--number", "INV-1",
            "--format", "json", *dry,
        )  # fmt: skip
        assert code == 0, err
        assert "4070.00" in out and "Traceback" not in err
    assert app.ledger.state(PROJECT).version == 5  # the offer, two claims, the invoice, its payment
    record(
        app,
        [
            claim("ae-q2", "12000.00", category="associate_employment", date="2025-05-31"),
            claim("rail-q1", "150.00", category="travel_subsistence", date="2025-03-20"),
        ],
    )
    code, out, err = run_cli(
        database_url, "invoice", PROJECT, "--quarter", "2025Q2", "--date", "2025-07-03", "--number", "INV-2",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    second = json.loads(out)
    assert (second["quarter_costs"], second["prior_period"], second["amount"]) == (
        "3960.00",
        "49.50",
        "4009.50",
    )
    assert second["invoiced_before"] == "4070.00"
    # A part payment of 2,000.00, through `record` this time.
    record(
        app,
        [
            event("BusinessPaymentReceived", "bp-2", "2025-07-20", {"invoice": "INV-2", "amount": "2000.00"}),
        ],
    )
    # The ledger refuses what R-44 refuses, naming the field.
    refusals = {
        "again": (
            ("invoice", PROJECT, "--quarter", "2025Q2", "--date", "2025-07-05", "--number", "X"),
            "quarter",
        ),
        "in advance": (("invoice", PROJECT, "--quarter", "2025Q3", "--date", "2025-09-01"), "not in arrears"),
        "overpaid": (
            ("invoice-payment", PROJECT, "--invoice", "INV-2", "--amount", "2009.51"),
            "2,009.50 outstanding",
        ),
        "unknown": (("invoice-payment", PROJECT, "--invoice", "INV-9", "--amount", "1.00"), "has no invoice"),
    }
    for name, (args, words) in refusals.items():
        code, out, err = run_cli(database_url, *args, "--format", "json")
        assert code == 1, (name, out, err)
        assert json.loads(out)["error"]["rule"] == "R-44", name
        assert words in json.loads(out)["error"]["message"], name
    assert len(app.ledger.state(PROJECT).invoices) == 2

    # The clock: INV-2 is due on 2025-08-02, and overdue after it, until it is paid.
    def invoice_alerts(today: str) -> list[dict[str, Any]]:
        code, out, err = run_cli(database_url, "alerts", PROJECT, "--today", today, "--format", "json")
        assert code == 0, err
        return [alert for alert in json.loads(out) if alert["kind"].startswith("invoice_")]

    assert invoice_alerts("2025-07-22") == []
    [due] = invoice_alerts("2025-07-23")
    assert (due["kind"], due["source"], due["detail"]["outstanding"]) == ("invoice_due", "clock", "2009.50")
    [overdue] = invoice_alerts("2025-08-10")
    assert overdue["kind"] == "invoice_overdue"
    assert overdue["message"] == (
        "Invoice INV-2 to the business for 2025Q2 (£4,009.50, £2,000.00 paid) was due on 2 August 2025, "
        "8 days before 10 August 2025: £2,009.50 is outstanding (R-44)."
    )

    # The reconciliation shows both receivables.
    document = reconciliation(app.database, PROJECT)
    owed = document["receivables"]
    assert owed["grant"] == {
        "due": document["totals"]["grant"],
        "received": "0.00",
        "outstanding": document["balance_due"],
        "claims": [],  # no grant claim submitted
        # nothing claimed, so the final claim is the whole of the statement's grant
        "claimed_total": "0.00",
        "final_adjustment": document["totals"]["grant"],
    }
    business = owed["business"]
    assert [(i["number"], i["amount"], i["paid"], i["outstanding"]) for i in business["invoices"]] == [
        ("INV-1", "4070.00", "4070.00", "0.00"),
        ("INV-2", "4009.50", "2000.00", "2009.50"),
    ]
    assert (business["invoiced"], business["received"], business["outstanding"]) == (
        "8079.50",
        "6070.00",
        "2009.50",
    )
    # 3,960 x 2 + 110.00 + 49.50 = 8,079.50 of the eligible costs' business share: all invoiced.
    assert document["totals"]["business"] == "8079.50"
    assert business["offer_check"] == {
        "rule": "R-32",
        "offer_total": "53625.00",
        "share_of_eligible": "8079.50",
        "top_up": "45545.50",
        "contribution_due": "53625.00",
        "invoiced_at_least_offer": False,
    }
    assert business["not_yet_invoiced"] == "45545.50"
    code, out, _ = run_cli(database_url, "reconcile", PROJECT, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert ["receivables", "1", "business_outstanding", "2009.50"] in rows  # the long CSV
    invoices = next(section for section in csv_sections(out.encode("utf-8")) if section[0][0] == "invoice")
    assert ["INV-2", "2025Q2", "2025-07-03", "2025-08-02", "4009.50", "3960.00", "49.50", "0.00", "0.00", "2000.00", "2009.50"] in invoices  # fmt: skip
    code, out, _ = run_cli(database_url, "reconcile", PROJECT, "--format", "html")
    assert "<h2>Receivables</h2>" in out and "INV-2" in out


def test_the_invoice_command_refuses_bad_input(app: App, database_url: str) -> None:
    record(app, [offer(date="2024-12-01", start="2025-01-01")])
    for args, rule in (
        (("--quarter", "2025Q5"), "R-44"),
        (("--quarter", "2025Q1", "--date", "2025-13-01"), "R-40"),
        (("--quarter", "2025Q1", "--date", "2025-04-02", "--payment-days", "-1"), "R-44"),
        (("--quarter", "2024Q4", "--date", "2025-04-02"), "R-44"),
    ):
        code, out, _ = run_cli(database_url, "invoice", PROJECT, *args, "--format", "json")
        assert code == 1 and json.loads(out)["error"]["rule"] == rule, args
    code, out, _ = run_cli(database_url, "invoice", "KTP-NONE", "--quarter", "2025Q1", "--format", "json")
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-31"
    code, out, _ = run_cli(
        database_url, "invoice-payment", PROJECT, "--invoice", "A", "--amount", "-5", "--format", "json"
    )
    assert code == 1 and json.loads(out)["error"]["rule"] == "R-44"

"""The sections an auditor asks for, in the HTML and PDF: who prepared the report and from what,
the note that an independent accountant's report is required, the grant payments by date, the
transactions per category, the LMC's decisions with their minutes, the parental-leave costs one by
one and the certification the finance officer signs. Read from the statement and the
`AuditAppendix` passed alongside it; every value escaped (`page.esc`)."""

from __future__ import annotations

from decimal import Decimal

from ktpledger.domain.labels import category_label
from ktpledger.reports.cells import Statement, label, long_day, percent, pounds
from ktpledger.reports.page_parts import Column, esc, facts, table
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix
from ktpledger.service.transactions import Transaction

DECISION_LABELS = {
    "virement": "Virement",
    "approve_exceedance": "Exceedance approved",
    "extension": "Extension",
    "budget_revision": "Budget revision",
    "offer_amended": "Offer amended",
    "project_reopened": "Project reopened",
}


def recorder_name(recorded_by: object) -> str:
    if isinstance(recorded_by, dict):
        name = recorded_by.get("name")
        return "" if name is None else str(name)
    return ""


def grant_total(statement: Statement) -> Decimal:
    """The grant the threshold is judged on: the reconciliation's grant share plus the parental
    leave reimbursable; a claim pack's cumulative grant to the quarter's end."""
    if isinstance(statement, ClaimPack):
        return statement.totals["cumulative"] * statement.grant_rate
    return statement.totals["grant"] + statement.parental_leave_reimbursable


def independent_report_needed(statement: Statement, appendix: AuditAppendix | None) -> bool:
    if appendix is None or appendix.prepared.independent_report_threshold is None:
        return False
    return grant_total(statement) > appendix.prepared.independent_report_threshold


def extensions(appendix: AuditAppendix | None) -> list[tuple[str, object]]:
    """The period's extensions, each as the LMC agreed it: "Extension of 3 month(s), no-cost
    (1 October 2026: LMC5 item 2)"; the period's end date already includes them."""
    if appendix is None:
        return []
    agreed = [
        f"{decision.summary} ({long_day(decision.date)}"
        + (f": {decision.minute})" if decision.minute else ")")
        for decision in appendix.decisions
        if decision.kind == "extension"
    ]
    return [("Extensions", "; ".join(agreed))] if agreed else []


def prepared_facts(statement: Statement, appendix: AuditAppendix | None) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [("Innovate UK project reference", statement.project)]
    if appendix is not None:
        rows += [
            ("Prepared by", appendix.prepared.by),
            ("Prepared on", long_day(appendix.prepared.on)),
        ]
    rows += [
        ("Ledger position", statement.ledger.position),
        ("Project version", statement.ledger.version),
        ("Head hash", statement.ledger.head_hash),
    ]
    return rows


def independent_report_note(statement: Statement, appendix: AuditAppendix | None) -> list[str]:
    if appendix is None or not independent_report_needed(statement, appendix):
        return []
    threshold = appendix.prepared.independent_report_threshold
    assert threshold is not None
    return [
        (
            '<p class="status draft"><b>An independent accountant\'s report is required</b>: the grant, '
            f"{esc(pounds(grant_total(statement)))}, is above {esc(pounds(threshold))} "
            "(KTPLEDGER_INDEPENDENT_REPORT_THRESHOLD). The final claim goes with the report of an "
            "independent accountant as well as the finance officer's statement below.</p>"
        )
    ]


PAYMENTS = (Column("Date received", 25), Column("Amount", 25, number=True), Column("Claim paid", 20))


def payments_section(appendix: AuditAppendix | None) -> list[str]:
    if appendix is None:
        return []
    if not appendix.payments:  # a total of no rows would stand alone under its header row
        return ["<h2>Grant payments received</h2>", "<p>No grant payment is recorded.</p>"]
    rows: list[list[object]] = [
        [
            long_day(paid.on),
            pounds(paid.amount),
            "not allocated" if paid.claim is None else f"claim {paid.claim}",
        ]
        for paid in appendix.payments
    ]
    total = sum((paid.amount for paid in appendix.payments), Decimal("0.00"))
    rows.append(["Total received", pounds(total), ""])
    return ["<h2>Grant payments received</h2>", table(PAYMENTS, rows, totals=1, width=70)]


TRANSACTIONS = (
    Column("Date", 11),
    Column("Description", 27),
    Column("Amount", 10, number=True),
    Column("Eligibility", 10),
    Column("Eligible", 9, number=True),
    Column("Why not eligible", 21),
    Column("Recorded by", 12),
)


def _transaction_row(row: Transaction) -> list[object]:
    reasons = "; ".join(f"{reason.text} ({pounds(reason.amount)})" for reason in row.reasons)
    description = row.description if row.kind == "claim" else f"Reversal of {row.reverses}: {row.description}"
    return [
        long_day(row.date),
        description,
        pounds(row.amount),
        label({}, row.eligibility or ""),
        "" if row.eligible is None else pounds(row.eligible),
        reasons,
        recorder_name(row.recorded_by),
    ]


def transactions_section(appendix: AuditAppendix | None, *, title: str) -> list[str]:
    listed = None if appendix is None else appendix.transactions
    if listed is None:
        return []
    parts = [f"<h2>{esc(title)}</h2>"]
    for line in listed.lines:
        if line.derived:
            continue
        rows = [_transaction_row(row) for row in line.transactions]
        if not rows:
            continue
        rows.append(["Total", "", pounds(line.totals.net), "", pounds(line.totals.eligible), "", ""])
        parts += [f"<h3>{esc(category_label(line.category.value))}</h3>", table(TRANSACTIONS, rows, totals=1)]
    if len(parts) == 1:
        parts.append("<p>No spend is recorded.</p>")
    return parts


DECISIONS = (
    Column("Date", 11),
    Column("Decision", 14),
    Column("What it did", 30),
    Column("Minute", 25),
    Column("Approved by", 10),
    Column("Recorded by", 10),
)


def decisions_section(appendix: AuditAppendix | None) -> list[str]:
    if appendix is None:
        return []
    rows: list[list[object]] = [
        [
            long_day(decision.date),
            label(DECISION_LABELS, decision.kind or ""),
            decision.summary,
            " ".join(part for part in (decision.minute, decision.justification) if part),
            decision.approved_by,
            recorder_name(decision.recorded_by),
        ]
        for decision in appendix.decisions
    ]
    return [
        "<h2>LMC decisions and offer amendments</h2>",
        table(DECISIONS, rows) if rows else "<p>No LMC decision or offer amendment is recorded.</p>",
    ]


LEAVE = (
    Column("Date", 15),
    Column("Description", 50),
    Column("Amount", 15, number=True),
    Column("Recorded by", 20),
)


def parental_leave_items(statement: Statement, appendix: AuditAppendix | None) -> list[str]:
    if appendix is None or isinstance(statement, ClaimPack):
        return []
    if not appendix.parental_leave:
        return ["<p>No parental-leave cost is recorded.</p>"]
    rows: list[list[object]] = [
        [long_day(item.on), item.description, pounds(item.amount), item.recorded_by]
        for item in appendix.parental_leave
    ]
    rows.append(["Total incurred", "", pounds(statement.parental_leave_incurred), ""])
    return ["<p>The costs one by one (R-35):</p>", table(LEAVE, rows, totals=1, width=90)]


BLANK = "_" * 40  # a line to write on


def certification(statement: Statement, appendix: AuditAppendix | None) -> list[str]:
    """The finance officer's statement (the accountant's statement of the final claim)."""
    if isinstance(statement, ClaimPack):
        what = f"the grant claim for {statement.quarter} of {statement.project}"
    else:
        what = f"the end-of-grant statement of {statement.project}"
    rate = percent(statement.grant_rate)
    text = (
        f"I certify that {what} is a true and fair statement of the costs incurred on the project "
        f"in accordance with the terms and conditions of the grant offer; that the costs were "
        f"incurred in the period of the project; that the grant is claimed at the grant rate of "
        f"{rate}; and that proper records are held to support it."
    )
    rows = [
        ("Name of the finance officer", BLANK),
        ("Position", BLANK),
        ("Organisation", statement.terms.knowledge_base),
        ("Signature", BLANK),
        ("Date", BLANK),
    ]
    if appendix is not None:
        rows.append(
            ("Prepared by, from the ledger", f"{appendix.prepared.by}, {long_day(appendix.prepared.on)}")
        )
    return [
        "<h2>Certification by the finance officer</h2>",
        f"<p>{esc(text)}</p>",
        facts(rows, css="facts signature"),
    ]

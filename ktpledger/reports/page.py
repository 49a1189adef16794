"""HTML: one template for both statements, and the body the PDF is drawn from.

Every value from the statement goes through `html.escape`; written for people: the guidance's
names of the lines, money as "£100,000.00", the rate as "67%", dates as "31 March 2026" (the JSON
and CSV keep the codes and plain figures). The page is self-contained (inline CSS, no scripts, no
external assets). The body keeps to what fpdf2's HTML renderer understands, so the PDF is the same content: headings, paragraphs and
tables whose cells each hold one piece of text (`align`, `width` and `bgcolor` attributes for the
PDF, classes for the browser's CSS).
"""

from __future__ import annotations

from decimal import Decimal
from string import Template

from ktpledger.domain.anchor import FORMAT as CHECKPOINT_FORMAT
from ktpledger.domain.anchor import Checkpoint
from ktpledger.domain.labels import category_label, kind_label
from ktpledger.domain.rules import LimitKind
from ktpledger.reports.audit_sections import (
    certification,
    decisions_section,
    extensions,
    independent_report_note,
    parental_leave_items,
    payments_section,
    prepared_facts,
    transactions_section,
)
from ktpledger.reports.cells import (
    BUSINESS_TYPE_LABELS,
    CHANGE_LABELS,
    LIMIT_SHORT,
    METHODOLOGY_LABELS,
    Statement,
    detail_words,
    label,
    long_day,
    percent,
    pounds,
    reasons_words,
    signed_pounds,
)
from ktpledger.reports.page_parts import EMPTY, Column, esc, facts, table
from ktpledger.reports.tabular import form_totals, maybe_amount, maybe_day, narrative_cell, variance_percent
from ktpledger.service.claim_models import DraftClaim, SubmittedClaim
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.report_appendix import AuditAppendix
from ktpledger.service.statement_models import LedgerPosition, ProjectTerms, ReconciliationStatement

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; font-size: 14px; color: #1a1a1a; margin: 2em auto;
       max-width: 80em; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
p.subtitle { font-size: 1.15em; margin-top: 0; }
p.status { padding: 0.5em 0.8em; border-left: 4px solid #2f6f3e; background: #eef6f0; }
p.status.draft { border-left-color: #b7791f; background: #fdf6e7; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; float: none; }  /* align= is for the PDF */
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
th { background: #d9e1f2; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f2f2f2; border-top: 2px solid #999; }
table.facts { width: auto; }
table.facts td:first-child { font-weight: bold; padding-right: 2em; }
p.footer { margin-top: 2em; font-size: 0.85em; color: #555; border-top: 1px solid #ccc; padding-top: 0.5em; }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
$body
</body>
</html>
"""
)


def _period(terms: ProjectTerms) -> str:
    return f"{long_day(terms.start)} to {long_day(terms.end)} ({terms.months} months)"


def _parties(terms: ProjectTerms, grant_rate: str) -> list[tuple[str, object]]:
    flags = [name for name, on in (("virtual", terms.virtual), ("london", terms.london)) if on]
    return [
        ("Knowledge base", terms.knowledge_base),
        ("Business", terms.business),
        ("Methodology", label(METHODOLOGY_LABELS, terms.methodology.value)),
        (
            "Business type",
            label(BUSINESS_TYPE_LABELS, terms.business_type.value)
            + (f" ({', '.join(flags)})" if flags else ""),
        ),
        ("Period", _period(terms)),
        ("Grant rate", grant_rate),
    ]


def _footer(ledger: LedgerPosition, checkpoint: Checkpoint, extra: str = "") -> str:
    return (
        '<p class="footer">Made from the ledger alone, at ledger position '
        f"{esc(ledger.position)}, project version {esc(ledger.version)}, head hash "
        f"{esc(ledger.head_hash)}.{esc(extra) if extra else ''} "
        "Amounts are in pounds sterling, exactly as the JSON statement gives them.</p>"
        + _checkpoint(checkpoint)
    )


def _checkpoint(checkpoint: Checkpoint) -> str:
    """The checkpoint of the whole ledger the report carries, field by field (a reader can type it
    back as JSON for `ktpledger verify --against`)."""
    signature = checkpoint.signature
    if signature is not None:
        signed_by = (
            f"signed ({esc(signature.algorithm)}) with key {esc(signature.key_id)}: "
            f"signature {esc(signature.value)}"
        )
    else:
        signed_by = "UNSIGNED: no checkpoint key was configured, so it cannot prove who made it"
    point = checkpoint.point
    return (
        f'<p class="footer">Checkpoint of the whole ledger ({esc(CHECKPOINT_FORMAT)}) at position '
        f"{esc(point.position)}: {esc(point.events)} events, chain head "
        f"{esc(point.head)}; {signed_by}. Check the ledger against it with "
        "ktpledger verify --against.</p>"
    )


RECONCILIATION_LINES = (
    Column("Category", 19),
    Column("Limit", 8),
    Column("Original budget", 9, number=True),
    Column("Final budget", 9, number=True),
    Column("Claimed", 8, number=True),
    Column("Eligible", 8, number=True),
    Column("Ineligible", 8, number=True),
    Column("Ineligible reasons", 15),
    Column("Grant", 8, number=True),
    Column("Business", 8, number=True),
)
CHANGES = (
    Column("Category", 22),
    Column("Version", 8, number=True),
    Column("Date", 10),
    Column("Kind", 14),
    Column("Amount", 10, number=True),
    Column("Note", 36),
)


def reconciliation_body(statement: ReconciliationStatement, appendix: AuditAppendix | None = None) -> str:
    """The reconciliation's content (R-42), for the page and for the PDF."""
    final = statement.final
    heading = "End-of-grant reconciliation" if final else "Reconciliation: statement so far"
    if final:
        state = f"Final statement: the project closed on {long_day(statement.closed_on) or 'its end date'}."
    else:
        state = "Statement so far, not final: the project is still open and these figures may change."
    lines = statement.lines
    totals = {name: pounds(amount) for name, amount in statement.totals.items()}
    rows: list[list[object]] = [
        [
            category_label(line.category.value),
            LIMIT_SHORT[line.limit_kind.value],
            pounds(line.original_budget),
            pounds(line.final_budget),
            pounds(line.claimed),
            pounds(line.eligible),
            pounds(line.ineligible),
            reasons_words(line.ineligible_reasons),
            pounds(line.grant),
            pounds(line.business),
        ]
        for line in lines
    ]
    rows.append(
        [
            "Total",
            "",
            totals.get("original_budget"),
            totals.get("final_budget"),
            totals.get("claimed"),
            totals.get("eligible"),
            totals.get("ineligible"),
            "",
            totals.get("grant"),
            totals.get("business"),
        ]
    )
    changes = [
        [
            category_label(line.category.value),
            change.version,
            long_day(change.date),
            label(CHANGE_LABELS, change.kind),
            signed_pounds(change.amount),
            change.note,
        ]
        for line in lines
        for change in line.changes
    ]
    found = [
        [category_label(item.category.value), item.rule, pounds(item.amount), item.message]
        for item in statement.findings
    ]
    reimbursable = pounds(statement.parental_leave_reimbursable)
    grant_rate = percent(statement.grant_rate)
    parts = [
        f"<h1>{esc(heading)}: {esc(statement.project)}</h1>",
        f'<p class="subtitle"><b>{esc(statement.terms.title)}</b></p>',
        f'<p class="status{"" if final else " draft"}">{esc(state)}</p>',
        *independent_report_note(statement, appendix),
        "<h2>Parties and period</h2>",
        facts([*_parties(statement.terms, grant_rate), *extensions(appendix)]),
        "<h2>Prepared from the ledger</h2>",
        facts(prepared_facts(statement, appendix)),
        "<h2>Budget lines</h2>",
        table(RECONCILIATION_LINES, rows, totals=1),
        *(
            [
                (
                    "<p>KB overheads are derived (R-19): they are earned from the eligible spend of "
                    "Associate employment and Academic &amp; secretarial support, never claimed, so their claimed and "
                    "ineligible are £0.00 and their eligible amount is all grant. The eligible total includes them; the "
                    "claimed total does not.</p>"
                )
            ]
            if any(line.limit_kind is LimitKind.DERIVED for line in lines)
            else []
        ),
        "<h2>Findings: ineligible spend</h2>",
        table(FINDINGS, found) if found else "<p>No spend was found ineligible.</p>",
        "<h2>LMC changes to the budget and offer amendments</h2>",
        table(CHANGES, changes)
        if changes
        else "<p>No LMC decision or offer amendment changed a budget line.</p>",
        "<h2>Parental leave</h2>",
        facts(
            [
                ("Incurred by the knowledge base", pounds(statement.parental_leave_incurred)),
                (f"Reimbursable at the grant rate ({grant_rate})", reimbursable),
            ],
            numbers=True,
        ),
        *parental_leave_items(statement, appendix),
        "<h2>Settlement</h2>",
        facts(
            [
                ("Grant share of eligible spend", totals.get("grant")),
                ("Parental leave reimbursable", reimbursable),
                ("Grant paid to date", pounds(statement.grant_paid)),
                ("Balance due", pounds(statement.balance_due)),
            ],
            css="facts settlement",
            numbers=True,
        ),
        "<p>Balance due = grant share + parental leave reimbursable - grant paid"
        + (": negative, so more grant has been paid than is due." if statement.balance_due < 0 else ".")
        + "</p>",
        *payments_section(appendix),
        *_receivables(statement),
        *_grant_claims(statement),
        *decisions_section(appendix),
        *transactions_section(appendix, title="Transactions by category"),
        *certification(statement, appendix),
        _footer(statement.ledger, statement.checkpoint),
    ]
    return "\n".join(parts)


INVOICES = (
    Column("Invoice", 13),
    Column("Quarter", 6),
    Column("Date", 10),
    Column("Due", 10),
    Column("Amount", 8, number=True),
    Column("Quarter's costs", 9, number=True),
    Column("Prior period", 8, number=True),
    Column("Credit", 7, number=True),
    Column("Top-up", 7, number=True),
    Column("Paid", 11, number=True),
    Column("Outstanding", 11, number=True),
)


def _receivables(statement: ReconciliationStatement) -> list[str]:
    """The two receivables (R-44): the grant's and the business's, its invoices, the R-32 check."""
    owed = statement.receivables
    if owed is None:
        return []
    rows = [
        [
            invoice.number,
            invoice.quarter,
            long_day(invoice.invoiced_on),
            long_day(invoice.due),
            pounds(invoice.amount),
            pounds(invoice.quarter_costs),
            pounds(invoice.prior_period),
            pounds(invoice.prior_period_credit),
            pounds(invoice.offer_top_up),
            pounds(invoice.paid),
            pounds(invoice.outstanding),
        ]
        for invoice in owed.invoices
    ]
    met = owed.invoiced >= owed.offer_business
    return [
        "<h2>Receivables</h2>",
        facts(
            [
                ("Grant due (grant share + parental leave reimbursable)", pounds(owed.grant_due)),
                ("Grant received", pounds(owed.grant_received)),
                ("Grant outstanding", pounds(owed.grant_due - owed.grant_received)),
                ("Business invoiced", pounds(owed.invoiced)),
                ("Business paid", pounds(owed.received)),
                ("Business outstanding", pounds(owed.invoiced - owed.received)),
                ("Business contribution not yet invoiced", pounds(owed.contribution_due - owed.invoiced)),
            ],
            numbers=True,
        ),
        "<h3>The business's invoices</h3>",
        table(INVOICES, rows) if rows else "<p>No invoice to the business is recorded.</p>",
        "<p>The business's contribution at the grant offer (R-32): "
        + esc(pounds(owed.offer_business))
        + "; its share of the eligible costs: "
        + esc(pounds(owed.business_share))
        + (
            f"; the final invoice tops it up by {esc(pounds(owed.top_up))}"
            if owed.top_up
            else "; no top-up is needed"
        )
        + (". Invoiced at least the offer's total." if met else ". Not yet invoiced up to the offer's total.")
        + "</p>",
    ]


GRANT_CLAIMS = (
    Column("Claim", 8),
    Column("Quarter", 10),
    Column("Submitted", 12),
    Column("Claimed", 14, number=True),
    Column("Approved", 14, number=True),
    Column("Approved on", 12),
    Column("Paid", 15, number=True),
    Column("Outstanding", 15, number=True),
)


def _grant_claims(statement: ReconciliationStatement) -> list[str]:
    """The grant's claims (R-45): claimed, approved (R-46), paid and outstanding per claim, and the
    final adjustment, what the final claim still claims (or repays) to reach the statement's grant."""
    owed = statement.receivables
    if owed is None:
        return []
    rows = [
        [
            claim["number"],
            claim["quarter"],
            long_day(maybe_day(claim["submitted_on"])),
            _maybe_pounds(maybe_amount(claim["claimed"])),
            _maybe_pounds(maybe_amount(claim.get("approved"))),
            long_day(maybe_day(claim.get("approved_on"))),
            _maybe_pounds(maybe_amount(claim["paid"])),
            _maybe_pounds(maybe_amount(claim["outstanding"])),
        ]
        for claim in owed.claims
    ]
    parts = [
        "<h3>Grant claims</h3>",
        table(GRANT_CLAIMS, rows) if rows else "<p>No grant claim is submitted.</p>",
    ]
    if owed.claimed_total is not None and owed.final_adjustment is not None:
        parts.append(
            "<p>Grant claimed in all: "
            + esc(pounds(owed.claimed_total))
            + "; the statement's grant less that, the final adjustment (still to claim, or to repay if "
            "negative): " + esc(pounds(owed.final_adjustment)) + ".</p>"
        )
    return parts


CLAIM_PACK_LINES = (
    Column("Category", 20),
    Column("Limit", 8),
    Column("In quarter", 9, number=True),
    Column("Cumulative", 9, number=True),
    Column("Budget", 9, number=True),
    Column("Remaining", 9, number=True),
    Column("Eligible", 9, number=True),
    Column("Ineligible", 8, number=True),
    Column("Forecast", 9, number=True),
    Column("Forecast over budget", 10),
)
CLAIM = (
    Column("Category", 40),
    Column("Eligible added in the quarter", 30, number=True),
    Column("Grant", 30, number=True),
)
ALERTS = (Column("Category", 20), Column("Kind", 16), Column("At the quarter's end", 64))
FINDINGS = (Column("Category", 20), Column("Rule", 6), Column("Amount", 10, number=True), Column("Why", 64))


def claim_pack_body(pack: ClaimPack, appendix: AuditAppendix | None = None) -> str:
    """The quarterly claim pack's content, for the page and for the PDF."""
    totals = {name: pounds(amount) for name, amount in pack.totals.items()}
    rows: list[list[object]] = [
        [
            category_label(line.category.value),
            LIMIT_SHORT[line.limit_kind.value],
            pounds(line.in_quarter),
            pounds(line.cumulative),
            pounds(line.budget),
            pounds(line.remaining),
            pounds(line.eligible),
            pounds(line.ineligible),
            pounds(line.forecast),
            "yes" if line.forecast_over_budget else "no",
        ]
        for line in pack.lines
    ]
    rows.append(
        [
            "Total",
            "",
            totals.get("in_quarter"),
            totals.get("cumulative"),
            totals.get("budget"),
            "",
            totals.get("eligible"),
            totals.get("ineligible"),
            totals.get("forecast"),
            "",
        ]
    )
    added: list[list[object]] = [
        [category_label(category.value), pounds(amount), _maybe_money(pack.grant_added.get(category))]
        for category, amount in pack.eligible_added.items()
    ]
    added.append(["Grant to claim", EMPTY, pounds(pack.grant)])
    alerts = [
        [
            category_label(alert.category),
            kind_label(alert.kind),
            " ".join(
                part
                for part in (alert.message or detail_words(alert.detail), alert.acknowledgement_text)
                if part
            ),
        ]
        for alert in pack.alerts_open_at_quarter_end
    ]
    quarter = pack.quarter
    parts = [
        f"<h1>Quarterly claim pack {esc(quarter)}: {esc(pack.project)}</h1>",
        f'<p class="subtitle"><b>{esc(pack.terms.title)}</b></p>',
        *independent_report_note(pack, appendix),
        *claim_form(pack),
        "<h2>Parties and period</h2>",
        facts(
            [
                *_parties(pack.terms, percent(pack.grant_rate)),
                ("Quarter", f"{quarter}: {long_day(pack.start)} to {long_day(pack.end)}"),
                ("Month of the project", f"{pack.month} of {pack.terms.months}"),
            ]
        ),
        "<h2>Prepared from the ledger</h2>",
        facts(prepared_facts(pack, appendix)),
        "<h2>Budget lines at the quarter's end</h2>",
        table(CLAIM_PACK_LINES, rows, totals=1),
        "<h2>Claim for the quarter</h2>",
        table(CLAIM, added, totals=1, width=60),
        "<h2>Alerts open at the quarter's end</h2>",
        table(ALERTS, alerts) if alerts else "<p>No alert was open at the quarter's end.</p>",
        *transactions_section(appendix, title="Transactions in the quarter by category"),
        *certification(pack, appendix),
        _footer(
            pack.ledger,
            pack.checkpoint,
            f" The pack holds the {pack.events_in_pack} events dated up to {long_day(pack.end)}.",
        ),
    ]
    return "\n".join(parts)


FORM_LINES = (
    Column("Category", 16),
    Column("Forecast", 7, number=True),
    Column("Actual", 7, number=True),
    Column("Variance", 7, number=True),
    Column("Variance % of forecast", 7, number=True),
    Column("Narrative", 26),
    Column("Eligible", 7, number=True),
    Column("Grant for the quarter", 8, number=True),
    Column("Prior-period adj.", 7, number=True),
    Column("Grant claimed", 8, number=True),
)
FORM_ITEMS = (
    Column("Version", 8, number=True),
    Column("Date", 11),
    Column("Category", 24),
    Column("Key", 27),
    Column("Kind", 10),
    Column("Amount", 12, number=True),
)
FORM_ADJUSTMENTS = (Column("Category", 60), Column("Prior-period adjustment", 40, number=True))


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value}%"


def claim_form(pack: ClaimPack) -> list[str]:
    """The quarter's grant claim (R-45) in the shape of Innovate UK's quarterly claim: as submitted,
    else as a draft of the ledger as it now stands (said so), else nothing."""
    claim: SubmittedClaim | DraftClaim | None = pack.submitted or pack.draft_claim
    if claim is None:
        return []
    ledger = claim.ledger
    heading: list[tuple[str, object]] = [
        ("Claim number", claim.number),
        ("Quarter", f"{pack.quarter}: {long_day(pack.start)} to {long_day(pack.end)}"),
    ]
    if isinstance(claim, SubmittedClaim):
        title = f"Grant claim {claim.number} for {pack.quarter}, as submitted"
        status = (
            f"Submitted on {long_day(claim.submitted_on)} (recorded at project version {claim.version}); "
            "frozen as submitted: costs recorded since go on the next claim as prior-period adjustments."
        )
        heading.append(("Date submitted", long_day(claim.submitted_on)))
    else:
        title = f"DRAFT grant claim {claim.number} for {pack.quarter}: not submitted"
        status = (
            "Draft, not submitted: the claim as the ledger now stands (as claim submit --dry-run shows "
            "it); it changes as costs are recorded. A narrative marked required is needed to submit it."
        )
    made = "Made from" if isinstance(claim, SubmittedClaim) else "Would be made from"
    heading += [
        ("Final quarter", "yes" if pack.final_quarter else "no"),
        (f"{made}: ledger position", ledger.position),
        (f"{made}: project version", ledger.version),
        (f"{made}: head hash", ledger.head_hash),
    ]
    rows: list[list[object]] = [
        [
            category_label(line.category.value),
            pounds(line.forecast),
            pounds(line.actual),
            pounds(line.variance),
            _percent(line.variance_percent),
            narrative_cell(line),
            pounds(line.eligible),
            pounds(line.grant),
            pounds(line.prior_period),
            pounds(line.claimed),
        ]
        for line in claim.lines
    ]
    total = form_totals(claim)
    rows.append(
        [
            "Total",
            pounds(total["forecast"]),
            pounds(total["actual"]),
            pounds(total["variance"]),
            _percent(variance_percent(total["variance"], total["forecast"])),
            "",
            pounds(total["eligible"]),
            pounds(total["grant"]),
            pounds(total["prior_period"]),
            pounds(total["claimed"]),
        ]
    )
    items = [
        [
            item.version,
            long_day(item.date),
            category_label(item.category.value),
            item.key,
            item.kind,
            pounds(item.amount),
        ]
        for item in claim.prior_period_items
    ]
    adjustments: list[list[object]] = [
        [category_label(line.category.value), pounds(line.prior_period)]
        for line in claim.lines
        if line.prior_period
    ]
    adjustments.append(["Total", pounds(claim.prior_period)])
    no_items = (
        "No late items: this is the first claim."
        if claim.number == 1
        else "No spend claim or reversal dated before the quarter was recorded since the previous claim was made."
    )
    return [
        f"<h2>{esc(title)}</h2>",
        f'<p class="status{"" if isinstance(claim, SubmittedClaim) else " draft"}">{esc(status)}</p>',
        facts(heading),
        (
            "<p>Per category: variance = actual - forecast; a variance over 10% of the forecast needs a "
            "narrative. Grant claimed = grant for the quarter + prior-period adjustment.</p>"
        ),
        table(FORM_LINES, rows, totals=1),
        f"<h2>Prior-period adjustments of claim {esc(claim.number)}</h2>",
        (
            "<p>Spend claims and reversals recorded since the previous claim was made and dated before "
            "the quarter (amounts are spend; a reversal's is negative):</p>"
        ),
        table(FORM_ITEMS, items, width=92) if items else f"<p>{esc(no_items)}</p>",
        "<p>The adjustment per category (grant), as the claim has it:</p>",
        table(FORM_ADJUSTMENTS, adjustments, totals=1, width=50),
    ]


def _maybe_money(amount: Decimal | None) -> str:
    return EMPTY if amount is None else pounds(amount)


def _maybe_pounds(amount: Decimal | None) -> str:
    return "" if amount is None else pounds(amount)


def page_title(statement: Statement) -> str:
    if isinstance(statement, ClaimPack):
        return f"{statement.project} claim pack {statement.quarter}: {statement.terms.title}"
    what = "reconciliation" if statement.final else "statement so far"
    return f"{statement.project} {what}: {statement.terms.title}"


def body(statement: Statement, appendix: AuditAppendix | None = None) -> str:
    if isinstance(statement, ClaimPack):
        return claim_pack_body(statement, appendix)
    return reconciliation_body(statement, appendix)


def html_page(statement: Statement, appendix: AuditAppendix | None = None) -> str:
    return PAGE.substitute(title=esc(page_title(statement)), style=STYLE, body=body(statement, appendix))

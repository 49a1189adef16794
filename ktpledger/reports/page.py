"""HTML: one template for both statements, and the body the PDF is drawn from.

Every value from the statement goes through `html.escape`; figures are written as the JSON writes
them. The page is self-contained (inline CSS, no scripts, no external assets). The body keeps to
what fpdf2's HTML renderer understands, so the PDF is the same content: headings, paragraphs and
tables whose cells each hold one piece of text (`align`, `width` and `bgcolor` attributes for the
PDF, classes for the browser's CSS).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from decimal import Decimal
from string import Template

from ktpledger.domain.anchor import FORMAT as CHECKPOINT_FORMAT
from ktpledger.domain.anchor import Checkpoint
from ktpledger.domain.rules import LimitKind
from ktpledger.reports.cells import Statement, detail_text, money_text, rate_text, reasons_text, signed
from ktpledger.reports.tabular import form_totals, narrative_cell, variance_percent
from ktpledger.service.claim_models import DraftClaim, SubmittedClaim
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import LedgerPosition, ProjectTerms, ReconciliationStatement

EMPTY = "-"  # a cell is never empty: fpdf2 drops empty cells and would shift the row

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

TOTAL_BG = "#f2f2f2"


def esc(value: object) -> str:
    """Every value from the statement, escaped; None and "" become a visible dash."""
    text = "" if value is None else str(value)
    return html.escape(text if text.strip() else EMPTY, quote=True)


class Column:
    """A table column: its heading, its share of the width (for the PDF) and whether it is a figure."""

    def __init__(self, heading: str, width: int, *, number: bool = False) -> None:
        self.heading = heading
        self.width = width
        self.number = number


def table(
    columns: Sequence[Column], rows: Iterable[Sequence[object]], *, totals: int = 0, width: int = 100
) -> str:
    """A table with a header row; the last `totals` rows are shaded and bold."""
    rows = list(rows)
    head = "".join(
        f'<th width="{column.width}%"'
        + (' class="num" align="right"' if column.number else ' align="left"')
        + f">{esc(column.heading)}</th>"
        for column in columns
    )
    body = []
    for index, row in enumerate(rows):
        total = index >= len(rows) - totals
        cells = []
        for column, value in zip(columns, row, strict=True):
            text = esc(value)
            if total:
                text = f"<b>{text}</b>"
            cells.append(
                f'<td class="num" align="right">{text}</td>' if column.number else f"<td>{text}</td>"
            )
        attributes = f' class="total" bgcolor="{TOTAL_BG}"' if total else ""
        body.append(f"<tr{attributes}>{''.join(cells)}</tr>")
    opening = "<table>" if width == 100 else f'<table width="{width}%" align="left" style="width: {width}%">'
    return opening + "\n<tr>" + head + "</tr>\n" + "\n".join(body) + "\n</table>"


def facts(rows: Iterable[tuple[str, object]], *, css: str = "facts", numbers: bool = False) -> str:
    """A two-column table of name and value, without a header row."""
    cell = '<td class="num" align="right">' if numbers else "<td>"
    body = "\n".join(f"<tr><td><b>{esc(name)}</b></td>{cell}{esc(value)}</td></tr>" for name, value in rows)
    return f'<table class="{css}" width="60%" align="left">\n{body}\n</table>'


def _period(terms: ProjectTerms) -> str:
    return f"{terms.start} to {terms.end} ({terms.months} months)"


def _parties(terms: ProjectTerms, grant_rate: str) -> list[tuple[str, object]]:
    flags = [name for name, on in (("virtual", terms.virtual), ("london", terms.london)) if on]
    return [
        ("Knowledge base", terms.knowledge_base),
        ("Business", terms.business),
        ("Methodology", terms.methodology.value),
        ("Business type", terms.business_type.value + (f" ({', '.join(flags)})" if flags else "")),
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


def reconciliation_body(statement: ReconciliationStatement) -> str:
    """The reconciliation's content (R-42), for the page and for the PDF."""
    final = statement.final
    heading = "End-of-grant reconciliation" if final else "Reconciliation: statement so far"
    if final:
        state = f"Final statement: the project closed on {statement.closed_on or 'its end date'}."
    else:
        state = "Statement so far, not final: the project is still open and these figures may change."
    lines = statement.lines
    totals = {name: money_text(amount) for name, amount in statement.totals.items()}
    rows: list[list[object]] = [
        [
            line.category.value,
            line.limit_kind.value,
            money_text(line.original_budget),
            money_text(line.final_budget),
            money_text(line.claimed),
            money_text(line.eligible),
            money_text(line.ineligible),
            reasons_text(line.ineligible_reasons),
            money_text(line.grant),
            money_text(line.business),
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
        [line.category.value, change.version, change.date, change.kind, signed(change.amount), change.note]
        for line in lines
        for change in line.changes
    ]
    found = [
        [item.category.value, item.rule, money_text(item.amount), item.message] for item in statement.findings
    ]
    reimbursable = money_text(statement.parental_leave_reimbursable)
    grant_rate = rate_text(statement.grant_rate)
    parts = [
        f"<h1>{esc(heading)}: {esc(statement.project)}</h1>",
        f'<p class="subtitle"><b>{esc(statement.terms.title)}</b></p>',
        f'<p class="status{"" if final else " draft"}">{esc(state)}</p>',
        "<h2>Parties and period</h2>",
        facts(_parties(statement.terms, grant_rate)),
        "<h2>Budget lines</h2>",
        table(RECONCILIATION_LINES, rows, totals=1),
        *(
            [
                (
                    "<p>knowledge_base_overheads is derived (R-19): it is earned from the eligible spend of "
                    "associate_employment and academic_secretarial_support, never claimed, so its claimed and "
                    "ineligible are 0 and its eligible amount is all grant. The eligible total includes it; the "
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
                ("Incurred by the knowledge base", money_text(statement.parental_leave_incurred)),
                (f"Reimbursable at the grant rate ({grant_rate})", reimbursable),
            ],
            numbers=True,
        ),
        "<h2>Settlement</h2>",
        facts(
            [
                ("Grant share of eligible spend", totals.get("grant")),
                ("Parental leave reimbursable", reimbursable),
                ("Grant paid to date", money_text(statement.grant_paid)),
                ("Balance due", money_text(statement.balance_due)),
            ],
            css="facts settlement",
            numbers=True,
        ),
        "<p>Balance due = grant share + parental leave reimbursable - grant paid"
        + (": negative, so more grant has been paid than is due." if statement.balance_due < 0 else ".")
        + "</p>",
        *_receivables(statement),
        *_grant_claims(statement),
        _footer(statement.ledger, statement.checkpoint),
    ]
    return "\n".join(parts)


INVOICES = (
    Column("Invoice", 12),
    Column("Quarter", 7),
    Column("Date", 9),
    Column("Due", 9),
    Column("Amount", 9, number=True),
    Column("Quarter's costs", 9, number=True),
    Column("Prior period", 9, number=True),
    Column("Credit", 8, number=True),
    Column("Top-up", 8, number=True),
    Column("Paid", 10, number=True),
    Column("Outstanding", 10, number=True),
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
            invoice.invoiced_on,
            invoice.due,
            money_text(invoice.amount),
            money_text(invoice.quarter_costs),
            money_text(invoice.prior_period),
            money_text(invoice.prior_period_credit),
            money_text(invoice.offer_top_up),
            money_text(invoice.paid),
            money_text(invoice.outstanding),
        ]
        for invoice in owed.invoices
    ]
    met = owed.invoiced >= owed.offer_business
    return [
        "<h2>Receivables</h2>",
        facts(
            [
                ("Grant due (grant share + parental leave reimbursable)", money_text(owed.grant_due)),
                ("Grant received", money_text(owed.grant_received)),
                ("Grant outstanding", money_text(owed.grant_due - owed.grant_received)),
                ("Business invoiced", money_text(owed.invoiced)),
                ("Business paid", money_text(owed.received)),
                ("Business outstanding", money_text(owed.invoiced - owed.received)),
                ("Business contribution not yet invoiced", money_text(owed.contribution_due - owed.invoiced)),
            ],
            numbers=True,
        ),
        "<h3>The business's invoices</h3>",
        table(INVOICES, rows) if rows else "<p>No invoice to the business is recorded.</p>",
        "<p>The business's contribution at the grant offer (R-32): "
        + esc(money_text(owed.offer_business))
        + "; its share of the eligible costs: "
        + esc(money_text(owed.business_share))
        + (
            f"; the final invoice tops it up by {esc(money_text(owed.top_up))}"
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
            claim["submitted_on"],
            claim["claimed"],
            claim.get("approved"),
            claim.get("approved_on"),
            claim["paid"],
            claim["outstanding"],
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
            + esc(money_text(owed.claimed_total))
            + "; the statement's grant less that, the final adjustment (still to claim, or to repay if "
            "negative): " + esc(money_text(owed.final_adjustment)) + ".</p>"
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


def claim_pack_body(pack: ClaimPack) -> str:
    """The quarterly claim pack's content, for the page and for the PDF."""
    totals = {name: money_text(amount) for name, amount in pack.totals.items()}
    rows: list[list[object]] = [
        [
            line.category.value,
            line.limit_kind.value,
            money_text(line.in_quarter),
            money_text(line.cumulative),
            money_text(line.budget),
            money_text(line.remaining),
            money_text(line.eligible),
            money_text(line.ineligible),
            money_text(line.forecast),
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
        [category.value, money_text(amount), _maybe_money(pack.grant_added.get(category))]
        for category, amount in pack.eligible_added.items()
    ]
    added.append(["Grant to claim", EMPTY, money_text(pack.grant)])
    alerts = [
        [
            alert.category,
            alert.kind,
            " ".join(
                part
                for part in (alert.message or detail_text(alert.detail), alert.acknowledgement_text)
                if part
            ),
        ]
        for alert in pack.alerts_open_at_quarter_end
    ]
    quarter = pack.quarter
    parts = [
        f"<h1>Quarterly claim pack {esc(quarter)}: {esc(pack.project)}</h1>",
        f'<p class="subtitle"><b>{esc(pack.terms.title)}</b></p>',
        *claim_form(pack),
        "<h2>Parties and period</h2>",
        facts(
            [
                *_parties(pack.terms, rate_text(pack.grant_rate)),
                ("Quarter", f"{quarter}: {pack.start} to {pack.end}"),
                ("Month of the project", f"{pack.month} of {pack.terms.months}"),
            ]
        ),
        "<h2>Budget lines at the quarter's end</h2>",
        table(CLAIM_PACK_LINES, rows, totals=1),
        "<h2>Claim for the quarter</h2>",
        table(CLAIM, added, totals=1, width=60),
        "<h2>Alerts open at the quarter's end</h2>",
        table(ALERTS, alerts) if alerts else "<p>No alert was open at the quarter's end.</p>",
        _footer(
            pack.ledger,
            pack.checkpoint,
            f" The pack holds the {pack.events_in_pack} events dated up to {pack.end}.",
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
        ("Quarter", f"{pack.quarter}: {pack.start} to {pack.end}"),
    ]
    if isinstance(claim, SubmittedClaim):
        title = f"Grant claim {claim.number} for {pack.quarter}, as submitted"
        status = (
            f"Submitted on {claim.submitted_on} (recorded at project version {claim.version}); "
            "frozen as submitted: costs recorded since go on the next claim as prior-period adjustments."
        )
        heading.append(("Date submitted", claim.submitted_on))
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
            line.category.value,
            money_text(line.forecast),
            money_text(line.actual),
            money_text(line.variance),
            _percent(line.variance_percent),
            narrative_cell(line),
            money_text(line.eligible),
            money_text(line.grant),
            money_text(line.prior_period),
            money_text(line.claimed),
        ]
        for line in claim.lines
    ]
    total = form_totals(claim)
    rows.append(
        [
            "Total",
            money_text(total["forecast"]),
            money_text(total["actual"]),
            money_text(total["variance"]),
            _percent(variance_percent(total["variance"], total["forecast"])),
            "",
            money_text(total["eligible"]),
            money_text(total["grant"]),
            money_text(total["prior_period"]),
            money_text(total["claimed"]),
        ]
    )
    items = [
        [item.version, item.date, item.category.value, item.key, item.kind, money_text(item.amount)]
        for item in claim.prior_period_items
    ]
    adjustments: list[list[object]] = [
        [line.category.value, money_text(line.prior_period)] for line in claim.lines if line.prior_period
    ]
    adjustments.append(["Total", money_text(claim.prior_period)])
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
    return EMPTY if amount is None else money_text(amount)


def page_title(statement: Statement) -> str:
    if isinstance(statement, ClaimPack):
        return f"{statement.project} claim pack {statement.quarter}: {statement.terms.title}"
    what = "reconciliation" if statement.final else "statement so far"
    return f"{statement.project} {what}: {statement.terms.title}"


def body(statement: Statement) -> str:
    if isinstance(statement, ClaimPack):
        return claim_pack_body(statement)
    return reconciliation_body(statement)


def html_page(statement: Statement) -> str:
    return PAGE.substitute(title=esc(page_title(statement)), style=STYLE, body=body(statement))

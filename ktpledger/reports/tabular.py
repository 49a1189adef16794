"""The statements as tables of typed cells: what the CSV and the workbook are both written from.

A `Block` is a run of rows: a table with a header row, or a list of `name, value` rows (no
header). Figures are the read models' `Decimal`s, to the penny as the JSON writes them, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from ktpledger.domain.anchor import FORMAT as CHECKPOINT_FORMAT
from ktpledger.domain.anchor import Checkpoint
from ktpledger.reports.cells import (
    Value,
    change_words,
    changes_text,
    detail_text,
    detail_words,
    money,
    rate,
    reasons_text,
    reasons_words,
)
from ktpledger.service.claim_models import ClaimedLine, DraftClaim, SubmittedClaim
from ktpledger.service.pack_models import ClaimPack, PackLine
from ktpledger.service.report_appendix import AuditAppendix
from ktpledger.service.statement_models import LedgerPosition, ProjectTerms, ReconciliationStatement

RECONCILIATION_COLUMNS = (
    "category",
    "limit_kind",
    "original_budget",
    "changes",
    "final_budget",
    "claimed",
    "eligible",
    "ineligible",
    "ineligible_reasons",
    "grant",
    "business",
)
RECONCILIATION_TOTALS = (
    "original_budget",
    "final_budget",
    "claimed",
    "eligible",
    "ineligible",
    "grant",
    "business",
)

CLAIM_PACK_COLUMNS = (
    "category",
    "limit_kind",
    "in_quarter",
    "cumulative",
    "budget",
    "remaining",
    "eligible",
    "ineligible",
    "forecast",
    "forecast_over_budget",
)
CLAIM_PACK_FIGURES = ("in_quarter", "cumulative", "budget", "remaining", "eligible", "ineligible", "forecast")
CLAIM_PACK_TOTALS = ("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast")

CHANGE_COLUMNS = ("category", "version", "date", "kind", "amount", "note")
CLAIM_COLUMNS = ("claim_category", "eligible_added", "grant_added")
ALERT_COLUMNS = ("alert_category", "alert_kind", "alert_detail", "alert_message")
# the business's invoices
INVOICE_COLUMNS = (
    "invoice",
    "invoice_quarter",
    "invoice_date",
    "invoice_due",
    "invoice_amount",
    "quarter_costs",
    "prior_period",
    "prior_period_credit",
    "offer_top_up",
    "paid",
    "outstanding",
)
# the grant's claims and their approvals, as `receivables.grant.claims` writes them
GRANT_CLAIM_COLUMNS = (
    "claim",
    "claim_quarter",
    "claim_submitted_on",
    "claim_claimed",
    "claim_approved",
    "claim_approved_on",
    "claim_paid",
    "claim_outstanding",
)
FINDING_COLUMNS = ("finding_category", "finding_reason", "finding_amount", "finding_rule", "finding_message")

Row = tuple[Value, ...]


@dataclass(frozen=True)
class Block:
    """Rows under an optional header; the last `totals` rows are totals (bold in the workbook)."""

    name: str
    header: tuple[str, ...] | None
    rows: tuple[Row, ...]
    totals: int = 0
    key: str = ""  # its name in the CSV's `section` column: the key of the dict it is returned in


def keyed(blocks: dict[str, Block]) -> dict[str, Block]:
    """Each block with its key set to its name in `blocks`."""
    return {key: replace(block, key=key) for key, block in blocks.items()}


def status(statement: ReconciliationStatement) -> str:
    return "final" if statement.final else "statement so far"


def _parties(project: str, terms: ProjectTerms) -> list[Row]:
    return [
        ("project", project),
        ("title", terms.title),
        ("knowledge_base", terms.knowledge_base),
        ("business", terms.business),
        ("methodology", terms.methodology.value),
        ("business_type", terms.business_type.value),
        ("virtual", terms.virtual),
        ("london", terms.london),
        ("start", terms.start),
        ("end", terms.end),
        ("months", terms.months),
    ]


def _ledger(ledger: LedgerPosition, checkpoint: Checkpoint) -> list[Row]:
    return [
        ("ledger_position", ledger.position),
        ("ledger_version", ledger.version),
        ("head_hash", ledger.head_hash),
        *_checkpoint(checkpoint),
    ]


def _checkpoint(checkpoint: Checkpoint) -> list[Row]:
    """The checkpoint of the whole ledger, a row per field."""
    signature = checkpoint.signature
    signed: tuple[str, str, str] = ("unsigned", "unsigned", "unsigned")
    if signature is not None:
        signed = (signature.algorithm, signature.key_id, signature.value)
    algorithm, key_id, value = signed
    return [
        ("checkpoint_format", CHECKPOINT_FORMAT),
        ("checkpoint_position", checkpoint.point.position),
        ("checkpoint_events", checkpoint.point.events),
        ("checkpoint_chain_head", checkpoint.point.head),
        ("checkpoint_algorithm", algorithm),
        ("checkpoint_key_id", key_id),
        ("checkpoint_signature", value),
    ]


def reconciliation_blocks(
    statement: ReconciliationStatement, *, for_people: bool = False
) -> dict[str, Block]:
    """`about`, `lines` (with the total row), `settlement`, `changes` (one row per LMC change) and
    `findings`. `for_people` (the workbook): a line's changes and ineligible reasons in words, money
    as "£500.00" and dates written out; else (the CSV) in the codes and figures the JSON has."""
    changes_of = (
        (lambda found: "; ".join(change_words(change) for change in found)) if for_people else changes_text
    )
    reasons_of = reasons_words if for_people else reasons_text
    about: list[Row] = [
        ("report", "reconciliation"),
        *_parties(statement.project, statement.terms),
        ("status", status(statement)),
        ("closed_on", statement.closed_on),
        ("grant_rate", rate(statement.grant_rate)),
        *_ledger(statement.ledger, statement.checkpoint),
    ]
    lines: list[Row] = []
    changes: list[Row] = []
    for line in statement.lines:
        category = line.category.value
        lines.append(
            (
                category,
                line.limit_kind.value,
                money(line.original_budget),
                changes_of(line.changes),
                money(line.final_budget),
                money(line.claimed),
                money(line.eligible),
                money(line.ineligible),
                reasons_of(line.ineligible_reasons),
                money(line.grant),
                money(line.business),
            )
        )
        changes.extend(
            (category, change.version, change.date, change.kind, money(change.amount), change.note)
            for change in line.changes
        )
    total = {name: money(statement.totals[name]) for name in RECONCILIATION_TOTALS}
    lines.append(
        (
            "total",
            None,
            total["original_budget"],
            None,
            total["final_budget"],
            total["claimed"],
            total["eligible"],
            total["ineligible"],
            None,
            total["grant"],
            total["business"],
        )
    )
    settlement: list[Row] = [
        ("parental_leave_incurred", money(statement.parental_leave_incurred)),
        ("parental_leave_reimbursable", money(statement.parental_leave_reimbursable)),
        ("grant_paid", money(statement.grant_paid)),
        ("balance_due", money(statement.balance_due)),
    ]
    found: list[Row] = [
        (item.category.value, item.reason, money(item.amount), item.rule, item.message)
        for item in statement.findings
    ]
    receivable, invoices = _receivables(statement)
    receivable.extend(_claim_totals(statement))
    return keyed(
        {
            "about": Block("About", None, tuple(about)),
            "lines": Block("Reconciliation", RECONCILIATION_COLUMNS, tuple(lines), totals=1),
            "receivables": Block("Receivables", None, tuple(receivable)),
            "invoices": Block("Business invoices", INVOICE_COLUMNS, tuple(invoices)),
            "claims": Block("Grant claims", GRANT_CLAIM_COLUMNS, tuple(_grant_claims(statement))),
            "settlement": Block("Settlement", None, tuple(settlement), totals=1),
            "changes": Block("LMC changes", CHANGE_COLUMNS, tuple(changes)),
            "findings": Block("Findings", FINDING_COLUMNS, tuple(found)),
        }
    )


def _receivables(statement: ReconciliationStatement) -> tuple[list[Row], list[Row]]:
    """The two receivables as `name, value` rows (R-44), and the business's invoices."""
    owed = statement.receivables
    if owed is None:
        return [], []
    rows: list[Row] = [
        ("grant_due", money(owed.grant_due)),
        ("grant_received", money(owed.grant_received)),
        ("grant_outstanding", money(owed.grant_due - owed.grant_received)),
        ("business_invoiced", money(owed.invoiced)),
        ("business_received", money(owed.received)),
        ("business_outstanding", money(owed.invoiced - owed.received)),
        ("business_not_yet_invoiced", money(owed.contribution_due - owed.invoiced)),
        ("business_offer_total", money(owed.offer_business)),
        ("business_share_of_eligible", money(owed.business_share)),
        ("business_top_up", money(owed.top_up)),
        ("business_invoiced_at_least_offer", owed.invoiced >= owed.offer_business),
    ]
    invoices: list[Row] = [
        (
            invoice.number,
            invoice.quarter,
            invoice.invoiced_on,
            invoice.due,
            money(invoice.amount),
            money(invoice.quarter_costs),
            money(invoice.prior_period),
            money(invoice.prior_period_credit),
            money(invoice.offer_top_up),
            money(invoice.paid),
            money(invoice.outstanding),
        )
        for invoice in owed.invoices
    ]
    return rows, invoices


def maybe_day(text: object) -> date | None:
    return None if text is None else date.fromisoformat(str(text))


def maybe_amount(text: object) -> Decimal | None:
    return None if text is None else money(Decimal(str(text)))


def _grant_claims(statement: ReconciliationStatement) -> list[Row]:
    """Each submitted grant claim (R-45): claimed, approved and its date (R-46; empty until
    approved), paid and outstanding, from `receivables.grant.claims`."""
    owed = statement.receivables
    if owed is None:
        return []
    return [
        (
            int(claim["number"]),
            str(claim["quarter"]),
            maybe_day(claim["submitted_on"]),
            maybe_amount(claim["claimed"]),
            maybe_amount(claim.get("approved")),
            maybe_day(claim.get("approved_on")),
            maybe_amount(claim["paid"]),
            maybe_amount(claim["outstanding"]),
        )
        for claim in owed.claims
    ]


def _claim_totals(statement: ReconciliationStatement) -> list[Row]:
    """The grant of every submitted claim and the final adjustment (R-46), as `name, value` rows
    (none in a statement written before them)."""
    owed = statement.receivables
    if owed is None or owed.claimed_total is None or owed.final_adjustment is None:
        return []
    return [
        ("grant_claimed_total", money(owed.claimed_total)),
        ("grant_final_adjustment", money(owed.final_adjustment)),
    ]


def pack_figures(line: PackLine) -> tuple[Decimal, ...]:
    """A pack line's figures in the order of CLAIM_PACK_FIGURES."""
    figures = (
        line.in_quarter,
        line.cumulative,
        line.budget,
        line.remaining,
        line.eligible,
        line.ineligible,
        line.forecast,
    )
    return tuple(money(figure) for figure in figures)


def claim_pack_blocks(pack: ClaimPack, *, for_people: bool = False) -> dict[str, Block]:
    """`about`, `lines` (with the total row), `claim` (eligible added per line, then the grant) and
    `alerts` (open at the quarter's end); with a submitted or a draft claim, its blocks too
    (`claim_form_blocks`: `form_heading`, `form_lines`, `form_items`, `form_adjustments`)."""
    about: list[Row] = [
        ("report", "claim_pack"),
        *_parties(pack.project, pack.terms),
        ("quarter", pack.quarter),
        ("from", pack.start),
        ("to", pack.end),
        ("month", pack.month),
        ("grant_rate", rate(pack.grant_rate)),
        ("events_in_pack", pack.events_in_pack),
        *_ledger(pack.ledger, pack.checkpoint),
    ]
    if pack.submitted is not None:  # grant claims: the quarter's claim as submitted, frozen
        about += [
            ("submitted_claim", pack.submitted.number),
            ("submitted_on", pack.submitted.submitted_on),
            ("submitted_prior_period", money(pack.submitted.prior_period)),
            ("submitted_grant", money(pack.submitted.grant)),
        ]
    lines: list[Row] = [
        (
            line.category.value,
            line.limit_kind.value,
            *pack_figures(line),
            line.forecast_over_budget,
        )
        for line in pack.lines
    ]
    total: dict[str, Decimal | None] = dict.fromkeys(CLAIM_PACK_FIGURES)
    for name in CLAIM_PACK_TOTALS:
        total[name] = money(pack.totals[name])
    lines.append(("total", None, *(total[name] for name in CLAIM_PACK_FIGURES), None))
    claimed: list[Row] = [
        (category.value, money(amount), money(pack.grant_added[category]))
        for category, amount in pack.eligible_added.items()
    ]
    claimed.append(("grant", None, money(pack.grant)))
    alerts: list[Row] = [
        (
            alert.category,
            alert.kind,
            detail_words(alert.detail) if for_people else detail_text(alert.detail),
            " ".join(part for part in (alert.message, alert.acknowledgement_text) if part),
        )
        for alert in pack.alerts_open_at_quarter_end
    ]
    return keyed(
        {
            **claim_form_blocks(pack),
            "about": Block("About", None, tuple(about)),
            "lines": Block("Claim pack", CLAIM_PACK_COLUMNS, tuple(lines), totals=1),
            "claim": Block("Claim", CLAIM_COLUMNS, tuple(claimed), totals=1),
            "alerts": Block("Alerts", ALERT_COLUMNS, tuple(alerts)),
        }
    )


# The quarter's grant claim in the shape of Innovate UK's quarterly claim: a heading, a row
# per category, the total; then the late items of the prior-period adjustment and its totals.
FORM_LINE_COLUMNS = (
    "claim_category",
    "forecast",
    "actual",
    "variance",
    "variance_percent",
    "narrative",
    "eligible",
    "grant",
    "prior_period_adjustment",
    "grant_claimed",
)
FORM_ITEM_COLUMNS = ("item_version", "item_date", "item_category", "item_key", "item_kind", "item_amount")
FORM_ADJUSTMENT_COLUMNS = ("adjustment_category", "prior_period_adjustment")
NARRATIVE_REQUIRED = "required"
CLAIM_FORM_BLOCKS = ("form_heading", "form_lines", "form_items", "form_adjustments")


def variance_percent(variance: Decimal, forecast: Decimal) -> Decimal | None:
    """The variance as a percentage of the forecast, to one place (None when nothing was forecast)."""
    return ClaimedLine.percent(variance, forecast)


def narrative_cell(line: ClaimedLine) -> str | None:
    """The line's narrative; "required" when it needs one and has none (a draft); else nothing."""
    if line.narrative:
        return line.narrative
    return NARRATIVE_REQUIRED if line.narrative_required else None


def form_totals(claim: SubmittedClaim | DraftClaim) -> dict[str, Decimal]:
    """The claim's total row: each figure summed over the lines."""
    names = ("forecast", "actual", "variance", "eligible", "grant", "prior_period", "claimed")
    return {name: sum((getattr(line, name) for line in claim.lines), Decimal("0.00")) for name in names}


def claim_form_blocks(pack: ClaimPack) -> dict[str, Block]:
    """The submitted claim's blocks, else the draft's, else none."""
    claim: SubmittedClaim | DraftClaim | None = pack.submitted or pack.draft_claim
    if claim is None:
        return {}
    submitted = isinstance(claim, SubmittedClaim)
    heading: list[Row] = [
        # The CSV's first row says what the document is, whichever block comes first.
        ("report", "claim_pack"),
        ("claim_status", "submitted" if submitted else "draft, not submitted"),
        ("claim_number", claim.number),
        ("claim_quarter", pack.quarter),
        ("claim_from", pack.start),
        ("claim_to", pack.end),
    ]
    if isinstance(claim, SubmittedClaim):
        heading.append(("claim_submitted_on", claim.submitted_on))
    heading += [
        ("claim_final_quarter", pack.final_quarter),
        ("claim_ledger_position", claim.ledger.position),
        ("claim_ledger_version", claim.ledger.version),
        ("claim_head_hash", claim.ledger.head_hash),
    ]
    if isinstance(claim, SubmittedClaim):
        heading.append(("claim_recorded_at_version", claim.version))
    rows: list[Row] = [
        (
            line.category.value,
            money(line.forecast),
            money(line.actual),
            money(line.variance),
            line.variance_percent,
            narrative_cell(line),
            money(line.eligible),
            money(line.grant),
            money(line.prior_period),
            money(line.claimed),
        )
        for line in claim.lines
    ]
    total = form_totals(claim)
    rows.append(
        (
            "total",
            money(total["forecast"]),
            money(total["actual"]),
            money(total["variance"]),
            variance_percent(total["variance"], total["forecast"]),
            None,
            money(total["eligible"]),
            money(total["grant"]),
            money(total["prior_period"]),
            money(total["claimed"]),
        )
    )
    items: list[Row] = [
        (item.version, item.date, item.category.value, item.key, item.kind, money(item.amount))
        for item in claim.prior_period_items
    ]
    adjustments: list[Row] = [
        (line.category.value, money(line.prior_period)) for line in claim.lines if line.prior_period
    ]
    adjustments.append(("total", money(claim.prior_period)))
    title = "Claim as submitted" if submitted else "Draft claim (not submitted)"
    return {
        "form_heading": Block(title, None, tuple(heading)),
        "form_lines": Block(f"{title}: lines", FORM_LINE_COLUMNS, tuple(rows), totals=1),
        "form_items": Block("Prior-period adjustments: late items", FORM_ITEM_COLUMNS, tuple(items)),
        "form_adjustments": Block(
            "Prior-period adjustments", FORM_ADJUSTMENT_COLUMNS, tuple(adjustments), totals=1
        ),
    }


# What an auditor asks for beyond the statement's figures (`AuditAppendix`), as tables.
PAYMENT_COLUMNS = ("payment_date", "payment_amount", "payment_claim", "payment_version")
TRANSACTION_COLUMNS = (
    "category",
    "date",
    "version",
    "key",
    "kind",
    "description",
    "amount",
    "eligibility",
    "eligible",
    "ineligible",
    "reasons",
    "reverses",
    "recorded_by",
)
DECISION_COLUMNS = (
    "decision_date",
    "decision_version",
    "decision_kind",
    "summary",
    "minute",
    "justification",
    "approved_by",
    "recorded_by",
)
LEAVE_COLUMNS = ("leave_date", "leave_version", "description", "amount", "recorded_by")


def _recorder(recorded_by: object) -> str | None:
    if isinstance(recorded_by, dict) and recorded_by.get("name") is not None:
        return str(recorded_by["name"])
    return None


def appendix_blocks(appendix: AuditAppendix | None) -> dict[str, Block]:
    """`prepared` (by, on, the independent accountant's report threshold), `payments`,
    `decisions`, `parental_leave` and `transactions` (one row per claim or reversal, each line's
    rows in order); none without an appendix."""
    if appendix is None:
        return {}
    prepared = appendix.prepared
    about: list[Row] = [("prepared_by", prepared.by), ("prepared_on", prepared.on)]
    if prepared.independent_report_threshold is not None:
        about.append(("independent_report_threshold", money(prepared.independent_report_threshold)))
    payments: list[Row] = [
        (paid.on, money(paid.amount), paid.claim, paid.version) for paid in appendix.payments
    ]
    decisions: list[Row] = [
        (
            item.date,
            item.version,
            item.kind,
            item.summary,
            item.minute,
            item.justification,
            item.approved_by,
            _recorder(item.recorded_by),
        )
        for item in appendix.decisions
    ]
    leave: list[Row] = [
        (item.on, item.version, item.description, money(item.amount), item.recorded_by)
        for item in appendix.parental_leave
    ]
    listed: list[Row] = []
    if appendix.transactions is not None:
        for line in appendix.transactions.lines:
            listed.extend(
                (
                    row.category.value,
                    row.date,
                    row.version,
                    row.key,
                    row.kind,
                    row.description,
                    money(row.amount),
                    row.eligibility,
                    None if row.eligible is None else money(row.eligible),
                    None if row.ineligible is None else money(row.ineligible),
                    "; ".join(
                        f"{reason.reason} {money(reason.amount)}: {reason.text}" for reason in row.reasons
                    )
                    or None,
                    row.reverses,
                    _recorder(row.recorded_by),
                )
                for row in line.transactions
            )
    return keyed(
        {
            "prepared": Block("Prepared", None, tuple(about)),
            "payments": Block("Grant payments", PAYMENT_COLUMNS, tuple(payments)),
            "decisions": Block("LMC decisions", DECISION_COLUMNS, tuple(decisions)),
            "parental_leave": Block("Parental leave", LEAVE_COLUMNS, tuple(leave)),
            "transactions": Block("Transactions", TRANSACTION_COLUMNS, tuple(listed)),
        }
    )

"""The response models of the statements, the costing tables and the administrators' routes: what
`/openapi.json` says each JSON answer holds (as `api/schemas.py` does for the reads; the routes
answer with the read models' JSON as it is, these only describe it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from ktpledger.api.schemas import Money, Rate, Shown

Amounts = dict[str, Money]  # by category or reason


class LedgerOut(Shown):
    """The ledger the statement was made from."""

    version: int
    position: int
    head_hash: str


class CheckpointOut(Shown):
    """The checkpoint of the whole ledger at the statement's position (signed when a key is set)."""

    format: str
    position: int
    events: int
    chain_head: str
    signature: dict[str, Any] | None


class ChangeOut(Shown):
    version: int
    date: date | None
    kind: str
    amount: Money
    note: str


class ReconciledLineOut(Shown):
    category: str
    limit_kind: str
    original_budget: Money
    changes: list[ChangeOut]
    final_budget: Money
    claimed: Money
    eligible: Money
    ineligible: Money
    ineligible_reasons: Amounts
    grant: Money
    business: Money


class ParentalLeaveOut(Shown):
    incurred: Money
    reimbursable: Money


class ReconciliationTotalsOut(Shown):
    original_budget: Money
    final_budget: Money
    claimed: Money
    eligible: Money
    ineligible: Money
    grant: Money
    business: Money


class FindingOut(Shown):
    category: str
    reason: str
    amount: Money
    rule: str
    message: str


# --- the two receivables (R-44) ----------------------------------------------------------------


class InvoiceOut(Shown):
    """One of the business's invoices: what it asked, what it is made of, what is paid."""

    number: str
    quarter: str
    due: date  # before `date`, which names the type otherwise
    date: date
    amount: Money
    quarter_costs: Money
    prior_period: Money
    prior_period_credit: Money
    offer_top_up: Money
    paid: Money
    outstanding: Money


# --- grant claims (R-45) -------------------------------------------------------------------------
class ClaimReceivableOut(Shown):
    """R-45: a submitted grant claim, what it claimed, what was approved on it (R-46), what is paid
    against it and outstanding."""

    number: int
    quarter: str
    submitted_on: date
    claimed: Money
    approved: Money | None = Field(None, description="R-46: the grant approved; null until approved")
    approved_on: date | None = Field(None, description="R-46: the approval's date; null until approved")
    paid: Money
    outstanding: Money = Field(description="approved (or, until approved, claimed) less paid")


# --- claim approvals: the claim history ----------------------------------------------------
class ClaimPaymentOut(Shown):
    """A grant payment: its date, amount and the project's version that recorded it."""

    date: date
    amount: Money
    version: int


class ClaimHistoryRowOut(ClaimReceivableOut):
    """One claim of the claim history: the reconciliation's row and more."""

    quarter_grant: Money
    prior_period: Money
    approved_by: str | None
    note: str | None
    payments: list[ClaimPaymentOut]


class ClaimTotalsOut(Shown):
    claimed: Money
    approved: Money
    paid: Money
    outstanding: Money


class ClaimHistoryOut(Shown):
    """`GET /projects/{project}/claims`, as `ktpledger claim history --format json` (R-45, R-46)."""

    project: str
    claims: list[ClaimHistoryRowOut]
    totals: ClaimTotalsOut
    unallocated_payments: list[ClaimPaymentOut] = Field(description="grant payments naming no claim")
    unallocated_paid: Money
    grant: Money = Field(description="the reconciliation's grant (totals.grant)")
    claimed_total: Money
    final_adjustment: Money = Field(
        description="grant - claimed_total: still to claim, or to repay if below 0"
    )


class ClaimLineOut(Shown):
    actual: Money
    forecast: Money
    variance: Money
    narrative: str | None
    narrative_required: bool
    eligible: Money
    grant: Money
    prior_period: Money = Field(description="the prior-period adjustment (late costs of claimed quarters)")


class ClaimLedgerOut(Shown):
    position: int
    version: int
    head_hash: str


class PriorPeriodItemOut(Shown):
    """A spend claim or reversal recorded since the previous claim was made and dated before the
    claim's quarter: a late item of its prior-period adjustment."""

    version: int
    date: date
    category: str
    key: str
    kind: Literal["claim", "reversal"]
    amount: Money = Field(description="the change to the line's spend: a reversal's is negative")


class SubmittedClaimOut(Shown):
    """R-45: the quarter's claim as its ClaimSubmitted froze it."""

    number: int
    date: str
    version: int
    ledger: ClaimLedgerOut
    lines: dict[str, ClaimLineOut]
    quarter_grant: Money
    prior_period: Money
    grant: Money
    prior_period_items: list[PriorPeriodItemOut] = Field(
        [], description="the late items of the prior-period adjustment (none on a first claim)"
    )


class DraftClaimOut(Shown):
    """R-45: the quarter's claim as the ledger now stands, not submitted (`claim submit --dry-run`'s
    figures, no narratives yet)."""

    number: int
    ledger: ClaimLedgerOut
    lines: dict[str, ClaimLineOut]
    quarter_grant: Money
    prior_period: Money
    grant: Money
    prior_period_items: list[PriorPeriodItemOut]


class GrantReceivableOut(Shown):
    due: Money = Field(description="totals.grant + parental_leave.reimbursable")
    received: Money = Field(description="grant_paid")
    outstanding: Money = Field(description="balance_due")
    claims: list[ClaimReceivableOut] = Field(default=[], description="R-45: each submitted claim")
    claimed_total: Money | None = Field(None, description="R-46: the grant of every submitted claim")
    final_adjustment: Money | None = Field(
        None, description="R-46: totals.grant - claimed_total, still to claim (below 0: to repay)"
    )


class OfferCheckOut(Shown):
    """R-32: the business's contribution never below its total at the grant offer."""

    rule: Literal["R-32"]
    offer_total: Money
    share_of_eligible: Money
    top_up: Money
    contribution_due: Money
    invoiced_at_least_offer: bool


class BusinessReceivableOut(Shown):
    invoices: list[InvoiceOut]
    invoiced: Money
    received: Money
    outstanding: Money
    not_yet_invoiced: Money
    offer_check: OfferCheckOut


class ReceivablesOut(Shown):
    """What the knowledge base is owed: by Innovate UK (the grant) and by the business (R-44)."""

    grant: GrantReceivableOut
    business: BusinessReceivableOut


class InvoicesOut(Shown):
    """`GET /projects/{project}/invoices`: the business's invoices with what is paid and outstanding."""

    project: str
    invoices: list[InvoiceOut]
    invoiced: Money
    received: Money
    outstanding: Money


class StatementHead(Shown):
    """What both statements say of the project first: the grant offer's terms."""

    project: str
    title: str
    knowledge_base: str
    business: str
    methodology: str
    business_type: str
    virtual: bool
    london: bool
    start: date
    end: date
    months: int


class ReconciliationOut(StatementHead):
    """`ktpledger reconcile --format json` (R-42): final once the project is closed."""

    final: bool
    closed_on: date | None
    grant_rate: Rate
    ledger: LedgerOut
    checkpoint: CheckpointOut
    lines: list[ReconciledLineOut]
    parental_leave: ParentalLeaveOut
    totals: ReconciliationTotalsOut
    grant_paid: Money
    balance_due: Money
    findings: list[FindingOut]
    receivables: ReceivablesOut | None = Field(
        None, description="R-44: the grant's and the business's receivables"
    )


class PackLineOut(Shown):
    category: str
    limit_kind: str
    in_quarter: Money
    cumulative: Money
    budget: Money
    eligible: Money
    ineligible: Money
    forecast: Money
    remaining: Money
    forecast_over_budget: bool


class PackTotalsOut(Shown):
    in_quarter: Money
    cumulative: Money
    budget: Money
    eligible: Money
    ineligible: Money
    forecast: Money


class ClaimOut(Shown):
    eligible_added: Amounts
    grant_added: Amounts
    grant: Money


class PackAcknowledgedOut(Shown):
    """An alert's acknowledgement recorded by the quarter's end (R-39)."""

    on: date
    note: str


class PackAlertOut(Shown):
    category: str
    kind: str
    detail: dict[str, Any]
    message: str
    acknowledged: PackAcknowledgedOut | None = None


class ClaimPackOut(StatementHead):
    """`ktpledger claim-pack --format json`: a quarter's claim."""

    quarter: str
    from_: date = Field(alias="from")
    to: date
    final_quarter: bool
    grant_rate: Rate
    ledger: LedgerOut
    checkpoint: CheckpointOut
    events_in_pack: int
    month: int
    lines: list[PackLineOut]
    totals: PackTotalsOut
    claim: ClaimOut
    alerts_open_at_quarter_end: list[PackAlertOut]
    submitted: SubmittedClaimOut | None = Field(
        None, description="R-45: the quarter's claim as submitted, frozen; null while not claimed"
    )
    draft_claim: DraftClaimOut | None = Field(
        None,
        description="R-45: while not claimed, the quarter's claim as the ledger now stands; null once "
        "submitted or when the quarter is not the next to claim",
    )


class CostingLineOut(Shown):
    category: str
    limit_kind: str
    limit: Money | None
    requested: Money
    cut: Money
    eligible: Money
    grant: Money
    business: Money
    note: str | None = None


class RuleSetOut(Shown):
    name: str
    in_force_from: date


class CostingTotalsOut(Shown):
    eligible: Money
    grant: Money
    business: Money


class CostingOut(Shown):
    """`ktpledger costing --format json`: lines in the guidance tables' order, and their totals."""

    methodology: str
    business_type: str
    months: int
    london: bool
    virtual: bool
    grant_rate: Rate
    rule_set: RuleSetOut
    lines: list[CostingLineOut]
    totals: CostingTotalsOut


class DeliveryOut(Shown):
    """A notification of an alert (`outbox` alert) or a system alert (`outbox` system) on a channel."""

    outbox: Literal["alert", "system"]
    alert_id: int | None
    system_alert_id: int | None
    project: str | None
    category: str | None
    kind: str | None
    subject: str | None
    channel: str
    status: str
    attempts: int
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    delivery_id: str | None
    long_pending: bool


class ResentOut(Shown):
    outbox: Literal["alert", "system"]
    id: int
    channel: str
    status: str
    reason: str | None = Field(None, description="why it was left alone (skipped only)")


class ResendOut(Shown):
    resent: int
    rows: list[ResentOut]
    skipped: list[ResentOut]


class SystemAlertOut(Shown):
    id: int
    kind: str
    subject: str
    message: str
    detail: dict[str, Any]
    status: Literal["open", "resolved"]
    raised_at: datetime
    resolved_at: datetime | None
    resolved_reason: str | None

"""The statements as typed read models: the reconciliation (R-42) here, a quarter's claim pack in
`pack_models`, and the parts they share (the project's terms, the ledger position).

`service/statements.py` builds them from the ledger; each has one JSON presenter, `to_json()`, the
document (docs/cli.md) that the command line and the HTTP API write, and the report renderers read
the models themselves. Money is a `Decimal` as the ledger computed it; `to_json()` alone writes it
as text ("1234.50"), and `from_json()` alone reads such a document back (`statement_fields`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.anchor import Checkpoint, CheckpointError, parse_checkpoint
from ktpledger.domain.money import format_money
from ktpledger.domain.rules import BusinessType, Category, LimitKind, Methodology
from ktpledger.service.statement_fields import Fields, document_fields

TOTALS = ("original_budget", "final_budget", "claimed", "eligible", "ineligible", "grant", "business")
RATE_PLACES = Decimal("0.01")
# What a document must have to be read as a reconciliation (else "not a reconciliation document").
RECONCILIATION_KEYS = (
    "project",
    "final",
    "grant_rate",
    "ledger",
    "lines",
    "parental_leave",
    "totals",
    "grant_paid",
    "balance_due",
)


def rate_shown(rate: Decimal) -> Decimal:
    """A grant rate as read models hold it: to two places, as every reader writes it ("0.67")."""
    return rate.quantize(RATE_PLACES)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def amounts_json(amounts: Mapping[Any, Decimal]) -> dict[str, str]:
    return {str(name): format_money(amount) for name, amount in amounts.items()}


def named_amounts(fields: Fields, names: tuple[str, ...]) -> dict[str, Decimal]:
    """Each of `names` from an object of figures, in that order (as the services build them)."""
    return {name: fields.amount(name) for name in names}


def checkpoint_of(fields: Fields) -> Checkpoint:
    try:
        return parse_checkpoint(fields.part("checkpoint").document)
    except CheckpointError as error:
        raise ValueError(f"checkpoint: {error}") from error


@dataclass(frozen=True)
class LedgerPosition:
    """The ledger a statement was made from: its project's head version, the ledger position and
    the head event's hash."""

    version: int
    position: int
    head_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "position": self.position, "head_hash": self.head_hash}

    @classmethod
    def from_fields(cls, fields: Fields) -> LedgerPosition:
        return cls(fields.whole("version"), fields.whole("position"), fields.text("head_hash"))


@dataclass(frozen=True)
class ProjectTerms:
    """What the grant offer says of the project, with its end date as decisions leave it."""

    title: str
    knowledge_base: str
    business: str
    methodology: Methodology
    business_type: BusinessType
    virtual: bool
    london: bool
    start: date
    end: date
    months: int

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "knowledge_base": self.knowledge_base,
            "business": self.business,
            "methodology": self.methodology.value,
            "business_type": self.business_type.value,
            "virtual": self.virtual,
            "london": self.london,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": self.months,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> ProjectTerms:
        return cls(
            title=fields.text("title"),
            knowledge_base=fields.text("knowledge_base"),
            business=fields.text("business"),
            methodology=fields.choice("methodology", Methodology),
            business_type=fields.choice("business_type", BusinessType),
            virtual=fields.flag("virtual"),
            london=fields.flag("london"),
            start=fields.day("start"),
            end=fields.day("end"),
            months=fields.whole("months"),
        )


@dataclass(frozen=True)
class LineChange:
    """One LMC decision's effect on a reconciled line; `date` None when the decision has none."""

    version: int
    date: date | None
    kind: str
    amount: Decimal
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": _day(self.date),
            "kind": self.kind,
            "amount": format_money(self.amount),
            "note": self.note,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> LineChange:
        return cls(
            version=fields.whole("version"),
            date=fields.maybe_day("date"),
            kind=fields.text("kind"),
            amount=fields.amount("amount"),
            note=fields.text("note"),
        )


@dataclass(frozen=True)
class StatementLine:
    """One line of the reconciliation: its budget from offer to end, what was claimed on it and
    how that splits into eligible (grant and business shares) and ineligible, by reason."""

    category: Category
    limit_kind: LimitKind
    original_budget: Decimal
    changes: tuple[LineChange, ...]
    final_budget: Decimal
    claimed: Decimal
    eligible: Decimal
    ineligible: Decimal
    ineligible_reasons: Mapping[str, Decimal]
    grant: Decimal
    business: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "limit_kind": self.limit_kind.value,
            "original_budget": format_money(self.original_budget),
            "changes": [change.to_json() for change in self.changes],
            "final_budget": format_money(self.final_budget),
            "claimed": format_money(self.claimed),
            "eligible": format_money(self.eligible),
            "ineligible": format_money(self.ineligible),
            "ineligible_reasons": amounts_json(self.ineligible_reasons),
            "grant": format_money(self.grant),
            "business": format_money(self.business),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> StatementLine:
        return cls(
            category=fields.choice("category", Category),
            limit_kind=fields.choice("limit_kind", LimitKind),
            original_budget=fields.amount("original_budget"),
            changes=tuple(LineChange.from_fields(change) for change in fields.parts("changes")),
            final_budget=fields.amount("final_budget"),
            claimed=fields.amount("claimed"),
            eligible=fields.amount("eligible"),
            ineligible=fields.amount("ineligible"),
            ineligible_reasons=fields.amounts("ineligible_reasons"),
            grant=fields.amount("grant"),
            business=fields.amount("business"),
        )


@dataclass(frozen=True)
class StatementFinding:
    """Ineligible spend the statement reports, with why, the rule and a sentence for people."""

    category: Category
    reason: str
    amount: Decimal
    rule: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "reason": self.reason,
            "amount": format_money(self.amount),
            "rule": self.rule,
            "message": self.message,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> StatementFinding:
        return cls(
            category=fields.choice("category", Category),
            reason=fields.text("reason"),
            amount=fields.amount("amount"),
            rule=fields.text("rule"),
            message=fields.text("message"),
        )


# --- the two receivables (R-44) ----------------------------------------------------------------


@dataclass(frozen=True)
class StatementInvoice:
    """One of the business's invoices as the statement lists it: what it asked and what is paid."""

    number: str
    quarter: str
    invoiced_on: date
    due: date
    amount: Decimal
    quarter_costs: Decimal
    prior_period: Decimal
    prior_period_credit: Decimal
    offer_top_up: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "quarter": self.quarter,
            "date": self.invoiced_on.isoformat(),
            "due": self.due.isoformat(),
            "amount": format_money(self.amount),
            "quarter_costs": format_money(self.quarter_costs),
            "prior_period": format_money(self.prior_period),
            "prior_period_credit": format_money(self.prior_period_credit),
            "offer_top_up": format_money(self.offer_top_up),
            "paid": format_money(self.paid),
            "outstanding": format_money(self.outstanding),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> StatementInvoice:
        return cls(
            number=fields.text("number"),
            quarter=fields.text("quarter"),
            invoiced_on=fields.day("date"),
            due=fields.day("due"),
            amount=fields.amount("amount"),
            quarter_costs=fields.amount("quarter_costs"),
            prior_period=fields.amount("prior_period"),
            prior_period_credit=fields.amount("prior_period_credit"),
            offer_top_up=fields.amount("offer_top_up"),
            paid=fields.amount("paid"),
        )


@dataclass(frozen=True)
class Receivables:
    """What the knowledge base is owed, by whom: the grant (its share of the eligible costs and the
    parental leave reimbursable, less the grant paid: `balance_due`) and the business (its
    invoices, paid and outstanding), with the R-32 check that the business's contribution does
    not fall below its total at the grant offer (the final invoice's top-up, `domain/invoices.py`)."""

    grant_due: Decimal
    grant_received: Decimal
    invoices: tuple[StatementInvoice, ...]
    business_share: Decimal  # the business's share of the eligible costs (totals.business)
    offer_business: Decimal  # the business's total at the grant offer
    # Grant claims: each submitted claim with its grant claimed, approved (R-46; None until
    # then), paid (the grant payments naming it) and outstanding, as `grant.claims` writes it
    # (`ClaimRecord.row`).
    claims: tuple[Mapping[str, Any], ...] = ()
    # Claim approvals: the grant of every submitted claim, and the final adjustment, the
    # statement's grant less that (`ClaimHistory.final_adjustment`). None in a document written
    # before them.
    claimed_total: Decimal | None = None
    final_adjustment: Decimal | None = None

    @property
    def invoiced(self) -> Decimal:
        return sum((invoice.amount for invoice in self.invoices), Decimal("0.00"))

    @property
    def received(self) -> Decimal:
        return sum((invoice.paid for invoice in self.invoices), Decimal("0.00"))

    @property
    def contribution_due(self) -> Decimal:
        return max(self.business_share, self.offer_business)

    @property
    def top_up(self) -> Decimal:
        return max(Decimal("0.00"), self.offer_business - self.business_share)

    def _claim_totals(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.claimed_total is not None:
            found["claimed_total"] = format_money(self.claimed_total)
        if self.final_adjustment is not None:
            found["final_adjustment"] = format_money(self.final_adjustment)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "grant": {
                "due": format_money(self.grant_due),
                "received": format_money(self.grant_received),
                "outstanding": format_money(self.grant_due - self.grant_received),
                "claims": [dict(claim) for claim in self.claims],
                **self._claim_totals(),
            },
            "business": {
                "invoices": [invoice.to_json() for invoice in self.invoices],
                "invoiced": format_money(self.invoiced),
                "received": format_money(self.received),
                "outstanding": format_money(self.invoiced - self.received),
                "not_yet_invoiced": format_money(self.contribution_due - self.invoiced),
                "offer_check": {
                    "rule": "R-32",
                    "offer_total": format_money(self.offer_business),
                    "share_of_eligible": format_money(self.business_share),
                    "top_up": format_money(self.top_up),
                    "contribution_due": format_money(self.contribution_due),
                    "invoiced_at_least_offer": self.invoiced >= self.offer_business,
                },
            },
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> Receivables:
        grant = fields.part("grant")
        business = fields.part("business")
        check = business.part("offer_check")
        return cls(
            grant_due=grant.amount("due"),
            grant_received=grant.amount("received"),
            invoices=tuple(StatementInvoice.from_fields(item) for item in business.parts("invoices")),
            business_share=check.amount("share_of_eligible"),
            offer_business=check.amount("offer_total"),
            claims=_claims_of(grant.document.get("claims")),
            claimed_total=grant.amount("claimed_total") if "claimed_total" in grant.document else None,
            final_adjustment=grant.amount("final_adjustment")
            if "final_adjustment" in grant.document
            else None,
        )


def _claims_of(raw: object) -> tuple[Mapping[str, Any], ...]:
    """`receivables.grant.claims` as written (absent in a statement written before claims, R-45)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise ValueError("receivables.grant.claims: expected a list of objects")
    return tuple(raw)


@dataclass(frozen=True)
class ReconciliationStatement:
    """`ktpledger reconcile PROJECT`: final once the project is closed, the statement so far before.
    `totals` holds each of TOTALS, in that order."""

    project: str
    terms: ProjectTerms
    final: bool
    closed_on: date | None
    grant_rate: Decimal
    ledger: LedgerPosition
    checkpoint: Checkpoint
    lines: tuple[StatementLine, ...]
    parental_leave_incurred: Decimal
    parental_leave_reimbursable: Decimal
    totals: Mapping[str, Decimal]
    grant_paid: Decimal
    balance_due: Decimal
    findings: tuple[StatementFinding, ...]
    receivables: Receivables | None = None  # R-44; None in a document written before it

    def to_json(self) -> dict[str, Any]:
        document = self._json()
        if self.receivables is not None:
            document["receivables"] = self.receivables.to_json()
        return document

    def _json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            **self.terms.to_json(),
            "final": self.final,
            "closed_on": _day(self.closed_on),
            "grant_rate": f"{self.grant_rate:.2f}",
            "ledger": self.ledger.to_json(),
            "checkpoint": self.checkpoint.to_json(),
            "lines": [line.to_json() for line in self.lines],
            "parental_leave": {
                "incurred": format_money(self.parental_leave_incurred),
                "reimbursable": format_money(self.parental_leave_reimbursable),
            },
            "totals": amounts_json(self.totals),
            "grant_paid": format_money(self.grant_paid),
            "balance_due": format_money(self.balance_due),
            "findings": [found.to_json() for found in self.findings],
        }

    @classmethod
    def from_json(cls, document: object) -> ReconciliationStatement:
        """The statement `to_json` wrote, or a ValueError naming the field that is not as it writes it."""
        fields = document_fields(document, "reconciliation", RECONCILIATION_KEYS)
        leave = fields.part("parental_leave")
        return cls(
            project=fields.text("project"),
            terms=ProjectTerms.from_fields(fields),
            final=fields.flag("final"),
            closed_on=fields.maybe_day("closed_on"),
            grant_rate=fields.amount("grant_rate"),
            ledger=LedgerPosition.from_fields(fields.part("ledger")),
            checkpoint=checkpoint_of(fields),
            lines=tuple(StatementLine.from_fields(line) for line in fields.parts("lines")),
            parental_leave_incurred=leave.amount("incurred"),
            parental_leave_reimbursable=leave.amount("reimbursable"),
            totals=named_amounts(fields.part("totals"), TOTALS),
            grant_paid=fields.amount("grant_paid"),
            balance_due=fields.amount("balance_due"),
            findings=tuple(StatementFinding.from_fields(found) for found in fields.parts("findings")),
            receivables=Receivables.from_fields(fields.part("receivables"))
            if "receivables" in fields.document
            else None,
        )

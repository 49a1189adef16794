"""The statements as typed read models: the reconciliation (R-42) and a quarter's claim pack.

`service/statements.py` builds them from the ledger; each has one JSON presenter, `to_json()`, the
document (docs/cli.md) that the command line, the HTTP API and the report renderers all write.
Money is a `Decimal` as the ledger computed it; `to_json()` alone writes it as text ("1234.50").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.anchor import Checkpoint
from ktpledger.domain.money import format_money
from ktpledger.domain.rules import BusinessType, Category, LimitKind, Methodology

TOTALS = ("original_budget", "final_budget", "claimed", "eligible", "ineligible", "grant", "business")
PACK_FIGURES = ("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast")
RATE_PLACES = Decimal("0.01")


def rate_shown(rate: Decimal) -> Decimal:
    """A grant rate as read models hold it: to two places, as every reader writes it ("0.67")."""
    return rate.quantize(RATE_PLACES)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _amounts(amounts: Mapping[Any, Decimal]) -> dict[str, str]:
    return {str(name): format_money(amount) for name, amount in amounts.items()}


@dataclass(frozen=True)
class LedgerPosition:
    """The ledger a statement was made from: its project's head version, the ledger position and
    the head event's hash."""

    version: int
    position: int
    head_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "position": self.position, "head_hash": self.head_hash}


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
            "ineligible_reasons": _amounts(self.ineligible_reasons),
            "grant": format_money(self.grant),
            "business": format_money(self.business),
        }


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

    def to_json(self) -> dict[str, Any]:
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
            "totals": _amounts(self.totals),
            "grant_paid": format_money(self.grant_paid),
            "balance_due": format_money(self.balance_due),
            "findings": [found.to_json() for found in self.findings],
        }


@dataclass(frozen=True)
class PackLine:
    """One line of a claim pack: the quarter's spend, cumulative spend against the budget, eligible
    and ineligible, the forecast at the end date and what remains."""

    category: Category
    limit_kind: LimitKind
    in_quarter: Decimal
    cumulative: Decimal
    budget: Decimal
    eligible: Decimal
    ineligible: Decimal
    forecast: Decimal
    remaining: Decimal
    forecast_over_budget: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "limit_kind": self.limit_kind.value,
            **{name: format_money(getattr(self, name)) for name in PACK_FIGURES},
            "remaining": format_money(self.remaining),
            "forecast_over_budget": self.forecast_over_budget,
        }


@dataclass(frozen=True)
class PackAlert:
    """An alert condition that held at the quarter's end, with its figures then (stored JSON)."""

    category: str
    kind: str
    detail: Mapping[str, Any]
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "kind": self.kind, "detail": self.detail, "message": self.message}


@dataclass(frozen=True)
class ClaimPack:
    """`ktpledger claim-pack PROJECT --quarter Q`. `totals` holds each of PACK_FIGURES, in that
    order; `eligible_added` and `grant_added` what the quarter adds to each line's reconciled
    eligible spend and grant, and `grant` their sum."""

    project: str
    terms: ProjectTerms
    quarter: str
    start: date
    end: date
    final_quarter: bool
    grant_rate: Decimal
    ledger: LedgerPosition
    checkpoint: Checkpoint
    events_in_pack: int
    month: int
    lines: tuple[PackLine, ...]
    totals: Mapping[str, Decimal]
    eligible_added: Mapping[Category, Decimal]
    grant_added: Mapping[Category, Decimal]
    grant: Decimal
    alerts_open_at_quarter_end: tuple[PackAlert, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            **self.terms.to_json(),
            "quarter": self.quarter,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "final_quarter": self.final_quarter,
            "grant_rate": f"{self.grant_rate:.2f}",
            "ledger": self.ledger.to_json(),
            "checkpoint": self.checkpoint.to_json(),
            "events_in_pack": self.events_in_pack,
            "month": self.month,
            "lines": [line.to_json() for line in self.lines],
            "totals": _amounts(self.totals),
            "claim": {
                "eligible_added": _amounts(self.eligible_added),
                "grant_added": _amounts(self.grant_added),
                "grant": format_money(self.grant),
            },
            "alerts_open_at_quarter_end": [alert.to_json() for alert in self.alerts_open_at_quarter_end],
        }

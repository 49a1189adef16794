"""The drill-down (issue 14): the events behind each figure of a project's allowance lines.

For each line: its figures as `ktpledger allowances` gives them (`domain/allowances.py`), the
decisions that moved its budget (the offer, virements in and out, revisions, approvals, offer
amendments: `domain/reconciliation.History`, as the reconciliation lists them), and its claims and
reversals, each claim split into eligible and ineligible by `domain/allowances.claim_shares`, its
reasons named by `domain/reconciliation.claim_reason` ("third conference (R-13)"). One function,
`line_transactions`, serves the API, the CLI and the dashboard; `to_json()` is the document both
`GET /projects/{project}/transactions` and `ktpledger transactions --format json` write.

The figures are those of the ledger's head; `date_from` and `date_to` choose which rows are listed
(by the event's date), never how a claim is judged: a claim's eligibility depends on the claims
recorded before it, whatever the dates shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ktpledger.domain.allowances import Allowance, allowances, claim_shares
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.events import ClaimReversed, GrantOffered, SpendClaimed, UnknownCategory
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.reconciliation import claim_reason, fold_with_history, reason_rule
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.domain.rules import Category, LimitKind

Eligibility = Literal["eligible", "partly eligible", "ineligible", "reversed"]
RowKind = Literal["claim", "reversal"]


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class IneligibleReason:
    """One reason part of a claim is ineligible: `reason` as the reconciliation names it
    (`ineligible_reasons`), its rule id and a phrase for people ("third conference (R-13)")."""

    reason: str
    rule: str
    amount: Decimal
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "rule": self.rule,
            "amount": format_money(self.amount),
            "text": self.text,
        }


@dataclass(frozen=True)
class Transaction:
    """A claim (amount as recorded) or a reversal (amount negative, `reverses` the claim's key).
    A claim's `eligible` and `ineligible` split what reversals leave of it; a reversal has none."""

    version: int
    date: date
    key: str
    kind: RowKind
    category: Category
    description: str
    amount: Decimal
    tags: tuple[str, ...]
    reverses: str | None
    eligibility: Eligibility | None
    eligible: Decimal | None
    ineligible: Decimal | None
    reasons: tuple[IneligibleReason, ...]
    recorded_by: dict[str, Any] | None  # who recorded the event: {name, role, channel}, or None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": self.date.isoformat(),
            "key": self.key,
            "kind": self.kind,
            "category": self.category.value,
            "description": self.description,
            "amount": format_money(self.amount),
            "tags": list(self.tags),
            "reverses": self.reverses,
            "eligibility": self.eligibility,
            "eligible": None if self.eligible is None else format_money(self.eligible),
            "ineligible": None if self.ineligible is None else format_money(self.ineligible),
            "reasons": [reason.to_json() for reason in self.reasons],
            "recorded_by": self.recorded_by,
        }


@dataclass(frozen=True)
class BudgetMove:
    """A decision that set or moved the line's budget: the offer (its amount the line's original
    budget, as amended), a virement in (+) or out (-), a revision, an approval (0: it moves the
    limit) or an offer amendment (0, noted: the original budget is already the amended one)."""

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
class ListedTotals:
    """Sums of the rows listed: claims, reversals (positive), their net, and the claims' eligible
    and ineligible. With no date filter, net is the line's spent and eligible its eligible."""

    claimed: Decimal
    reversed: Decimal
    eligible: Decimal
    ineligible: Decimal

    @property
    def net(self) -> Decimal:
        return self.claimed - self.reversed

    def to_json(self) -> dict[str, Any]:
        return {
            "claimed": format_money(self.claimed),
            "reversed": format_money(self.reversed),
            "net": format_money(self.net),
            "eligible": format_money(self.eligible),
            "ineligible": format_money(self.ineligible),
        }


@dataclass(frozen=True)
class LineTransactions:
    """One allowance line: its figures at the ledger's head, the budget moves and the rows listed."""

    category: Category
    limit_kind: LimitKind
    budget: Decimal
    spent: Decimal
    eligible: Decimal
    ineligible: Decimal
    remaining: Decimal
    budget_moves: tuple[BudgetMove, ...]
    transactions: tuple[Transaction, ...]
    totals: ListedTotals

    @property
    def derived(self) -> bool:
        return self.limit_kind is LimitKind.DERIVED

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "limit_kind": self.limit_kind.value,
            "budget": format_money(self.budget),
            "spent": format_money(self.spent),
            "eligible": format_money(self.eligible),
            "ineligible": format_money(self.ineligible),
            "remaining": format_money(self.remaining),
            "budget_moves": [move.to_json() for move in self.budget_moves],
            "transactions": [row.to_json() for row in self.transactions],
            "totals": self.totals.to_json(),
        }


@dataclass(frozen=True)
class ProjectTransactions:
    """`ktpledger transactions PROJECT` and `GET /projects/{project}/transactions`."""

    project: str
    version: int
    category: Category | None
    categories: tuple[Category, ...]  # every line of the project, whichever is shown
    date_from: date | None
    date_to: date | None
    lines: tuple[LineTransactions, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "category": None if self.category is None else self.category.value,
            "categories": [category.value for category in self.categories],
            "from": _day(self.date_from),
            "to": _day(self.date_to),
            "lines": [line.to_json() for line in self.lines],
        }


def parse_category(text: str | None) -> Category | None:
    """A reader's `category` (None: every line), or the refusal naming the categories (R-01)."""
    if text is None or text == "":
        return None
    try:
        return Category(text.strip())
    except ValueError:
        raise UnknownCategory(text, field="category") from None


def check_dates(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise RuleViolation(
            "R-40", f"from {date_from} is after to {date_to}: give from on or before to", field="from"
        )


def _eligibility(outstanding: Decimal, eligible: Decimal) -> Eligibility:
    if outstanding <= 0:
        return "reversed"
    if eligible >= outstanding:
        return "eligible"
    return "ineligible" if eligible <= 0 else "partly eligible"


def line_transactions(
    stream: Sequence[RecordedEvent],
    project: str,
    category: Category | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    known: Sequence[str] = (),
) -> ProjectTransactions:
    """The drill-down of `project` from its recorded `stream` (the ledger's rows, version order).
    An empty stream is an unknown project (R-31, naming the nearest of `known`); a category the
    project has no line for is refused naming its lines (R-01); `date_from` after `date_to` (R-40)."""
    if not stream:
        raise unknown_project(project, known, None)
    check_dates(date_from, date_to)
    with located(stream):
        events = [(item.event(), item.version, item.hash) for item in stream]
        state, history = fold_with_history(project, events)
    if not state.exists:
        raise RuleViolation("R-31", f"project {project} has no grant offer", field="project")
    if category is not None and category not in state.categories():
        raise state.category_refusal(UnknownCategory(category.value, field="category"))

    def listed(on: date | None) -> bool:
        if on is None:
            return True
        return (date_from is None or on >= date_from) and (date_to is None or on <= date_to)

    recorders = {item.version: item.recorder() for item in stream}
    offer_version, offer_date = 0, state.offer_date
    rows: dict[Category, list[tuple[int, date, str, Any]]] = {}
    reversed_amounts: dict[int, Decimal] = {}
    outstanding: dict[str, Decimal] = {}
    claim_category: dict[str, Category] = {}
    for event, version, _ in events:
        payload = event.payload
        if isinstance(payload, GrantOffered):
            offer_version = version
        elif isinstance(payload, SpendClaimed):
            outstanding[event.key] = payload.amount
            claim_category[event.key] = payload.category
            rows.setdefault(payload.category, []).append((version, event.date, event.key, payload))
        elif isinstance(payload, ClaimReversed):
            amount = outstanding[payload.claim] if payload.amount is None else payload.amount
            outstanding[payload.claim] -= amount
            reversed_amounts[version] = amount
            rows.setdefault(claim_category[payload.claim], []).append(
                (version, event.date, event.key, payload)
            )

    lines = []
    for line in allowances(state):
        if category is not None and line.category is not category:
            continue
        moves = _budget_moves(state.original_budget.get(line.category, ZERO), offer_version, offer_date, line)
        moves += tuple(
            BudgetMove(c.version, c.date, c.kind, c.amount, c.note)
            for c in history.changes.get(line.category, ())
        )
        shares = claim_shares(state, line)
        shown: list[Transaction] = []
        for version, on, key, payload in rows.get(line.category, ()):
            if not listed(on):
                continue
            if isinstance(payload, SpendClaimed):
                share = shares[key]
                reasons = tuple(
                    IneligibleReason(
                        reason,
                        reason_rule(state, line.category, reason)[0],
                        amount,
                        claim_reason(state, line.category, reason, share.nth),
                    )
                    for reason, amount in share.reasons.items()
                )
                shown.append(
                    Transaction(
                        version=version,
                        date=on,
                        key=key,
                        kind="claim",
                        category=line.category,
                        description=payload.description,
                        amount=payload.amount,
                        tags=tuple(tag.value for tag in payload.tags),
                        reverses=None,
                        eligibility=_eligibility(share.outstanding, share.eligible),
                        eligible=share.eligible,
                        ineligible=share.ineligible,
                        reasons=reasons,
                        recorded_by=recorders.get(version),
                    )
                )
            else:
                shown.append(
                    Transaction(
                        version=version,
                        date=on,
                        key=key,
                        kind="reversal",
                        category=line.category,
                        description=payload.reason,
                        amount=-reversed_amounts[version],
                        tags=(),
                        reverses=payload.claim,
                        eligibility=None,
                        eligible=None,
                        ineligible=None,
                        reasons=(),
                        recorded_by=recorders.get(version),
                    )
                )
        lines.append(
            LineTransactions(
                category=line.category,
                limit_kind=line.limit_kind,
                budget=line.budget,
                spent=line.spent,
                eligible=line.eligible,
                ineligible=line.ineligible,
                remaining=line.remaining,
                budget_moves=tuple(move for move in moves if listed(move.date)),
                transactions=tuple(shown),
                totals=_totals(shown),
            )
        )
    return ProjectTransactions(
        project=project,
        version=state.version,
        category=category,
        categories=state.categories(),
        date_from=date_from,
        date_to=date_to,
        lines=tuple(lines),
    )


def _budget_moves(
    original: Decimal, offer_version: int, offer_date: date | None, line: Allowance
) -> tuple[BudgetMove, ...]:
    if line.limit_kind is LimitKind.DERIVED:
        note = "derived from the source lines' budgets and earned from their eligible spend (R-19)"
        return (BudgetMove(offer_version, offer_date, "derived", line.budget, note),)
    return (
        BudgetMove(offer_version, offer_date, "offer", original, "the grant offer's budget for the line"),
    )


def _totals(rows: Sequence[Transaction]) -> ListedTotals:
    claims = [row for row in rows if row.kind == "claim"]
    return ListedTotals(
        claimed=sum((row.amount for row in claims), ZERO),
        reversed=-sum((row.amount for row in rows if row.kind == "reversal"), ZERO),
        eligible=sum((row.eligible or ZERO for row in claims), ZERO),
        ineligible=sum((row.ineligible or ZERO for row in claims), ZERO),
    )

"""The end-of-grant statement (R-42) and the quarterly claim figures, from a project's events.

Per line: original budget, each LMC change, final budget, claimed (net of reversals), eligible,
ineligible with its reasons, and the grant and business shares: grant is eligible x rate rounded
half up to the penny, business is eligible - grant, so every line balances to the penny (R-23).
The non-fec overheads line is claimed 0, eligible = grant = 46% of the reconciled grant of its
source lines (half up to the penny, never above its final budget), business 0 (R-19, R-42).
Parental leave is reimbursed at the grant rate (R-35). balance_due = grant + reimbursable - paid.

Decision (ineligible reasons): sub-limit and R-14 exclusions are named as such; what then remains
above the line's ceiling is `over_cap` for the part above a maximum and `over_budget` for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.events import (
    ApproveExceedance,
    BudgetRevision,
    ClaimReversed,
    Event,
    Extension,
    LMCDecision,
    SpendClaimed,
    Virement,
)
from ktpledger.domain.money import ZERO, round_penny_half_up
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind


@dataclass(frozen=True)
class BudgetChange:
    """One LMC decision's effect on one line."""

    version: int
    date: date
    kind: str
    amount: Decimal  # + raises the line, - lowers it; 0 for an approval (it moves the limit)
    note: str


@dataclass(frozen=True)
class ReconciledLine:
    category: Category
    limit_kind: LimitKind
    original_budget: Decimal
    changes: tuple[BudgetChange, ...]
    final_budget: Decimal
    claimed: Decimal
    eligible: Decimal
    reasons: dict[str, Decimal]
    grant: Decimal
    business: Decimal

    @property
    def ineligible(self) -> Decimal:
        return self.claimed - self.eligible


@dataclass(frozen=True)
class Reconciliation:
    project: str
    state: ProjectState
    final: bool
    grant_rate: Decimal
    lines: tuple[ReconciledLine, ...]
    parental_leave_incurred: Decimal
    parental_leave_reimbursable: Decimal
    grant_paid: Decimal

    def total(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), ZERO)

    @property
    def balance_due(self) -> Decimal:
        return self.total("grant") + self.parental_leave_reimbursable - self.grant_paid


@dataclass
class History:
    """What a fold of the project's events collects beyond the state: LMC changes per line."""

    changes: dict[Category, list[BudgetChange]] = field(default_factory=dict)

    def record(self, state_before: ProjectState, event: Event, version: int) -> None:
        payload = event.payload
        if not isinstance(payload, LMCDecision):
            return
        change = payload.decision
        moves: list[tuple[Category, Decimal, str]] = []
        if isinstance(change, Virement):
            moves = [
                (
                    change.from_category,
                    -change.amount,
                    f"virement to {change.to_category.value}: {change.minute}",
                ),
                (
                    change.to_category,
                    change.amount,
                    f"virement from {change.from_category.value}: {change.minute}",
                ),
            ]
        elif isinstance(change, BudgetRevision):
            for category, amount in change.budget.items():
                moves.append(
                    (
                        category,
                        amount - state_before.budget.get(category, ZERO),
                        f"budget revision: {change.minute}",
                    )
                )
        elif isinstance(change, ApproveExceedance):
            moves = [
                (
                    change.category,
                    ZERO,
                    f"limit raised to {change.limit:,.2f} by {change.approved_by}: {change.justification}",
                )
            ]
        elif isinstance(change, Extension):
            return
        for category, amount, note in moves:
            self.changes.setdefault(category, []).append(
                BudgetChange(version=version, date=event.date, kind=change.KIND, amount=amount, note=note)
            )


def fold_with_history(project: str, events: Iterable[tuple[Event, int, str]]) -> tuple[ProjectState, History]:
    """The project's state and its LMC history, from (event, version, hash) in version order."""
    state = ProjectState(project=project)
    history = History()
    for event, version, event_hash in events:
        if state.exists:
            history.record(state, event, version)
        state.apply(event, version, event_hash)
    return state, history


def reasons(line: Allowance) -> dict[str, Decimal]:
    """Why the line's ineligible spend is ineligible, by reason; the amounts sum to it."""
    excluded = line.exclusions
    found = {
        "higher_degree_fee": excluded.higher_degree_fee,
        "conference": excluded.conference,
        "computer": excluded.computer,
        "associate_travel": excluded.associate_travel,
    }
    remaining = line.spent - excluded.total
    ceiling = line.budget if line.maximum is None else min(line.budget, line.maximum)
    above = max(ZERO, remaining - ceiling)
    over_cap = ZERO if line.maximum is None else min(above, max(ZERO, remaining - line.maximum))
    found["over_cap"] = over_cap
    found["over_budget"] = above - over_cap
    # Exclusions larger than the spend they came from (a reversal took the rest) cannot go below 0.
    shortfall = line.spent - line.eligible - sum(found.values(), ZERO)
    if shortfall:
        found["over_budget"] += shortfall
    return {name: amount for name, amount in found.items() if amount}


def reconcile(state: ProjectState, history: History) -> Reconciliation:
    """The statement of a project's grant as its events stand (final once it is closed)."""
    rate = state.grant_rate
    rules = state.rules
    assert rules is not None
    lines: list[ReconciledLine] = []
    by_category = {line.category: line for line in allowances(state)}
    for category in state.categories():
        line = by_category[category]
        if line.limit_kind is LimitKind.DERIVED:
            continue
        grant = round_penny_half_up(line.eligible * rate)
        lines.append(
            ReconciledLine(
                category=category,
                limit_kind=line.limit_kind,
                original_budget=state.original_budget.get(category, ZERO),
                changes=tuple(history.changes.get(category, ())),
                final_budget=line.budget,
                claimed=line.spent,
                eligible=line.eligible,
                reasons=reasons(line),
                grant=grant,
                business=line.eligible - grant,
            )
        )
    for category in state.categories():
        if state.limit_kind(category) is LimitKind.DERIVED:
            lines.append(_overheads(state, category, lines, rate))
    incurred = state.parental_leave
    return Reconciliation(
        project=state.project,
        state=state,
        final=state.closed,
        grant_rate=rate,
        lines=tuple(lines),
        parental_leave_incurred=incurred,
        parental_leave_reimbursable=round_penny_half_up(incurred * rate),
        grant_paid=state.grant_paid,
    )


def _overheads(
    state: ProjectState, category: Category, lines: list[ReconciledLine], rate: Decimal
) -> ReconciledLine:
    rules = state.rules
    assert rules is not None
    sources = [line for line in lines if line.category in rules.overheads_sources]

    def share(amounts: Iterable[Decimal]) -> Decimal:
        grant = sum((round_penny_half_up(amount * rate) for amount in amounts), ZERO)
        return round_penny_half_up(grant * rules.overheads_rate)

    original = share(state.original_budget.get(c, ZERO) for c in rules.overheads_sources)
    final_budget = share(state.budget.get(c, ZERO) for c in rules.overheads_sources)
    eligible = min(
        final_budget, round_penny_half_up(sum((line.grant for line in sources), ZERO) * rules.overheads_rate)
    )
    change = final_budget - original
    changes = (
        (
            BudgetChange(
                version=state.version,
                date=state.closed_on or date.min,
                kind="derived",
                amount=change,
                note="follows the source lines' budgets (R-19)",
            ),
        )
        if change
        else ()
    )
    return ReconciledLine(
        category=category,
        limit_kind=LimitKind.DERIVED,
        original_budget=original,
        changes=changes,
        final_budget=final_budget,
        claimed=ZERO,
        eligible=eligible,
        reasons={},
        grant=eligible,
        business=ZERO,
    )


@dataclass(frozen=True)
class QuarterLine:
    category: Category
    in_quarter: Decimal
    cumulative: Decimal
    budget: Decimal
    eligible: Decimal
    ineligible: Decimal
    forecast: Decimal


def quarter_bounds(text: str) -> tuple[date, date]:
    """`2025Q2` -> (2025-04-01, 2025-06-30)."""
    from ktpledger.domain.errors import RuleViolation

    cleaned = text.strip().upper()
    if len(cleaned) != 6 or cleaned[4] != "Q" or not cleaned[:4].isdigit() or cleaned[5] not in "1234":
        raise RuleViolation("R-33", f"quarter must look like 2025Q2, got {text!r}", field="quarter")
    year, quarter = int(cleaned[:4]), int(cleaned[5])
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    from datetime import timedelta

    return start, end - timedelta(days=1)


def quarter_spend(events: Iterable[tuple[Event, int]], start: date, end: date) -> dict[Category, Decimal]:
    """Net spend per category from claims and reversals dated in [start, end]."""
    claims: dict[str, Category] = {}
    amounts: dict[str, Decimal] = {}
    spend: dict[Category, Decimal] = {}
    for event, _version in events:
        payload = event.payload
        if isinstance(payload, SpendClaimed):
            claims[event.key] = payload.category
            amounts[event.key] = payload.amount
            if start <= event.date <= end:
                spend[payload.category] = spend.get(payload.category, ZERO) + payload.amount
        elif isinstance(payload, ClaimReversed):
            category = claims[payload.claim]
            amount = amounts[payload.claim] if payload.amount is None else payload.amount
            amounts[payload.claim] -= amount
            if start <= event.date <= end:
                spend[category] = spend.get(category, ZERO) - amount
    return spend

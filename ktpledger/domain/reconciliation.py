"""The end-of-grant statement (R-42) and the quarterly claim figures, from a project's events.

Per line: original budget, each LMC change, final budget, claimed (net of reversals), eligible,
ineligible with its reasons, and the grant and business shares: grant is eligible x rate rounded
half up to the penny, business is eligible - grant, so every line balances to the penny (R-23).
The non-fec overheads line is claimed 0 and ineligible 0 (nothing is claimed on it, so nothing on
it can be ineligible), eligible = grant = what it has earned from its source lines and business 0
(R-19, R-42); its budgets are whole pounds as the costing gives them (`domain/shares.py`). Totals
are sums of the lines, so `totals.ineligible` is the claimed lines' ineligible spend.
Parental leave is reimbursed at the grant rate (R-35). balance_due = grant + reimbursable - paid.

Decision (ineligible reasons): sub-limit and R-14 exclusions are named as such; what then remains
above the line's ceiling is `over_cap` for the part above a maximum and `over_budget` for the rest.
"""

from __future__ import annotations

import re
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
    OfferAmended,
    SpendClaimed,
    Virement,
    quarter_span,
)
from ktpledger.domain.labels import category_label
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import fold_events
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.domain.shares import overheads_budget, reconciled_grant


@dataclass(frozen=True)
class BudgetChange:
    """One LMC decision's effect on one line (or an offer amendment's note on it, with no amount)."""

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
        if self.limit_kind is LimitKind.DERIVED:
            return ZERO  # earned, never claimed: eligible but not spend that could be refused
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


REASON_RULES = {
    "higher_degree_fee": ("R-12", "higher degree fees above 700 for the project"),
    "conference": ("R-13", "conferences or trade shows beyond the guide's two"),
    "computer": ("R-15", "a second or later personal computing device"),
    "associate_travel": ("R-14", "associate travel on a virtual business"),
    "over_budget": ("R-40", "spend above the line's budget that no LMC decision covers"),
}


@dataclass(frozen=True)
class Finding:
    """Ineligible spend the statement reports, with why and the rule: what stays to be explained
    after closure, when the alerts that asked for no action have resolved."""

    category: Category
    reason: str
    amount: Decimal
    rule: str
    what: str


def findings(state: ProjectState, result: Reconciliation) -> list[Finding]:
    """Each line's ineligible spend by reason, in the lines' order."""
    rules = state.rules
    assert rules is not None and state.offer is not None
    found = []
    for line in result.lines:
        for reason, amount in line.reasons.items():
            rule, what = reason_rule(state, line.category, reason)
            found.append(Finding(line.category, reason, amount, rule, what))
    return found


def reason_rule(state: ProjectState, category: Category, reason: str) -> tuple[str, str]:
    """The rule id of an ineligible reason on `category`'s line, and what it means: the statement's
    findings and the drill-down's claims name a reason the same way."""
    rules = state.rules
    assert rules is not None and state.offer is not None
    if reason == "over_cap":
        rule = rules.category_rule(state.offer.methodology, category).rule
        return rule, "spend above the line's maximum, ineligible whatever the LMC decides"
    return REASON_RULES.get(reason, ("R-40", reason.replace("_", " ")))


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
CLAIM_REASONS = {
    "higher_degree_fee": "higher degree fees above the project's 700",
    "conference": "{nth} conference",
    "computer": "{nth} computing device",
    "associate_travel": "associate travel of a virtual business",
    "over_cap": "above the line's maximum",
    "over_budget": "over budget",
}


def ordinal(number: int) -> str:
    """11th, 21st, 22nd, 23rd, 111th: the English suffix of a place past the tenth."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def claim_reason(state: ProjectState, category: Category, reason: str, nth: int = 0) -> str:
    """One claim's ineligible reason for people, with its rule: "third conference (R-13)",
    "over budget (R-40)", "associate travel of a virtual business (R-14)"."""
    rule, _ = reason_rule(state, category, reason)
    place = ORDINALS[nth - 1] if 0 < nth <= len(ORDINALS) else ordinal(nth)
    what = CLAIM_REASONS.get(reason, reason.replace("_", " ")).format(nth=place)
    return f"{what} ({rule})"


@dataclass
class History:
    """What a fold of the project's events collects beyond the state: LMC changes per line."""

    changes: dict[Category, list[BudgetChange]] = field(default_factory=dict)

    def record(self, state_before: ProjectState, event: Event, version: int) -> None:
        payload = event.payload
        if isinstance(payload, OfferAmended):
            self._record_amendment(state_before, payload, event, version)
            return
        if not isinstance(payload, LMCDecision):
            return
        change = payload.decision
        moves: list[tuple[Category, Decimal, str]] = []
        if isinstance(change, Virement):
            moves = [
                (
                    change.from_category,
                    -change.amount,
                    f"virement to {category_label(change.to_category.value)}: {change.minute}",
                ),
                (
                    change.to_category,
                    change.amount,
                    f"virement from {category_label(change.from_category.value)}: {change.minute}",
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

    def _record_amendment(
        self, state_before: ProjectState, amendment: OfferAmended, event: Event, version: int
    ) -> None:
        """An amended line, noted with no amount: the line's original budget is the amended
        offer's, so the original plus the changes is still the final budget (R-37), and the note
        keeps the figure the offer first said."""
        for category, amount in sorted((amendment.budget or {}).items()):
            offered = state_before.original_budget.get(category, ZERO)
            if amount == offered:
                continue
            self.changes.setdefault(category, []).append(
                BudgetChange(
                    version=version,
                    date=event.date,
                    kind="offer_amended",
                    amount=ZERO,
                    note=f"offer amended from {offered:,.2f} to {amount:,.2f}: {amendment.reason}",
                )
            )


def fold_with_history(project: str, events: Iterable[tuple[Event, int, str]]) -> tuple[ProjectState, History]:
    """The project's state and its LMC history, from (event, version, hash) in version order."""
    state = ProjectState(project=project)
    history = History()

    def record_then_apply(event: Event, version: int, event_hash: str) -> None:
        if state.exists:
            history.record(state, event, version)
        state.apply(event, version, event_hash)

    fold_events(events, record_then_apply)
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
        grant = reconciled_grant(line.eligible, rate)
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
            lines.append(_overheads(state, by_category[category], rate))
    incurred = state.parental_leave
    return Reconciliation(
        project=state.project,
        state=state,
        final=state.closed,
        grant_rate=rate,
        lines=tuple(lines),
        parental_leave_incurred=incurred,
        parental_leave_reimbursable=reconciled_grant(incurred, rate),
        grant_paid=state.grant_paid,
    )


def _overheads(state: ProjectState, line: Allowance, rate: Decimal) -> ReconciledLine:
    """The derived overheads line: its earned amount is the allowance line's eligible, so the
    allowances and the reconciliation give the same figure (R-19, R-42)."""
    rules = state.rules
    assert rules is not None
    original = overheads_budget(state.original_budget, rate, rules)
    change = line.budget - original
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
        category=line.category,
        limit_kind=LimitKind.DERIVED,
        original_budget=original,
        changes=changes,
        final_budget=line.budget,
        claimed=ZERO,
        eligible=line.eligible,
        reasons={},
        grant=line.eligible,
        business=ZERO,
    )


@dataclass(frozen=True)
class QuarterClaim:
    """What a quarter adds to each line's reconciled figures: its eligible spend and its grant.

    Each is the line's figure as the quarter's events leave it less the figure before the quarter,
    so the claims of a project's quarters add up exactly to its reconciliation (the grant of the
    derived overheads line included, all of it grant: R-19)."""

    eligible_added: dict[Category, Decimal]
    grant_added: dict[Category, Decimal]

    @property
    def grant(self) -> Decimal:
        return sum(self.grant_added.values(), ZERO)


def quarter_claim(
    project: str, events: Iterable[tuple[Event, int, str]], *, quarter_start: date
) -> QuarterClaim:
    """The claim of the quarter starting `quarter_start`, from the events the pack covers (in
    version order): their reconciliation less the reconciliation of those dated before the quarter."""
    before = ProjectState(project=project)
    after = ProjectState(project=project)

    def apply_to_both(event: Event, version: int, event_hash: str) -> None:
        after.apply(event, version, event_hash)
        if event.date < quarter_start:
            before.apply(event, version, event_hash)

    fold_events(events, apply_to_both)
    previous = {line.category: line for line in reconcile(before, History()).lines} if before.exists else {}
    eligible: dict[Category, Decimal] = {}
    grant: dict[Category, Decimal] = {}
    if not after.exists:
        return QuarterClaim(eligible, grant)
    for line in reconcile(after, History()).lines:
        earlier = previous.get(line.category)
        added = line.eligible - (earlier.eligible if earlier else ZERO)
        granted = line.grant - (earlier.grant if earlier else ZERO)
        if added or granted:
            eligible[line.category] = added
            grant[line.category] = granted
    return QuarterClaim(eligible, grant)


QUARTER_PATTERN = re.compile(r"[0-9]{4}Q[1-4]")


def quarter_bounds(text: str) -> tuple[date, date]:
    """`2025Q2` -> (2025-04-01, 2025-06-30): ASCII digits, a year within the ledger's dates.

    A quarter that is no quarter is refused under R-42, the statements' rule, as a malformed
    `format` of a statement is: it asks for no claim, so it breaks no claim's rule (R-33). The
    invoices' quarter is read by the same function (`events.quarter_span`) under R-44."""
    _, start, end = quarter_span(text, rule="R-42")
    return start, end


def quarter_label(on: date) -> str:
    """The calendar quarter holding `on`: 2025-05-14 -> "2025Q2"."""
    return f"{on.year}Q{(on.month - 1) // 3 + 1}"


def project_quarters(state: ProjectState) -> list[str]:
    """Every calendar quarter the project's period touches, in order: the quarters it claims."""
    labels: list[str] = []
    year, quarter = state.start.year, (state.start.month - 1) // 3 + 1
    last = quarter_label(state.end)
    while True:
        labels.append(f"{year}Q{quarter}")
        if labels[-1] == last:
            return labels
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def pack_covers_until(quarter_start: date, quarter_end: date, project_end: date) -> date:
    """The last event date a quarter's claim pack covers: the quarter's end, or for the quarter
    holding the project's end date (the final claim) every event, those dated after the end too,
    so that a project's packs add up exactly to its reconciliation."""
    return date.max if quarter_start <= project_end <= quarter_end else quarter_end


@dataclass(frozen=True)
class QuarterStates:
    """A project folded three ways for one quarter's claim or invoice: `whole` (every event),
    `through` (the events its pack covers: dated up to `until`) and `before` (dated before the
    quarter's first day). What a quarter adds is `through` less `before`; what arrived late for an
    earlier quarter is `before` as the ledger now stands less what was claimed or invoiced."""

    label: str
    start: date
    end: date
    until: date
    whole: ProjectState
    before: ProjectState
    through: ProjectState

    @property
    def final(self) -> bool:
        """The quarter holding the project's end date: its pack covers every event."""
        return self.until == date.max


def quarter_states(
    project: str, events: Iterable[tuple[Event, int, str]], quarter: str, *, rule: str
) -> QuarterStates:
    """`QuarterStates` of `quarter` (`YYYYQn`, refused under `rule`) over the project's events in
    version order, with their hashes: the one fold a quarter's claim (R-45) and invoice (R-44) read."""
    label, start, end = quarter_span(quarter, rule=rule)
    stream = list(events)
    whole = ProjectState(project=project, track_keys=False)
    fold_events(stream, lambda event, version, event_hash: whole.apply(event, version, event_hash))
    until = pack_covers_until(start, end, whole.end) if whole.exists else end
    before = ProjectState(project=project, track_keys=False)
    through = ProjectState(project=project, track_keys=False)

    def apply_to_both(event: Event, version: int, event_hash: str) -> None:
        if event.date <= until:
            through.apply(event, version, event_hash)
        if event.date < start:
            before.apply(event, version, event_hash)

    fold_events(stream, apply_to_both)
    return QuarterStates(label, start, end, until, whole, before, through)


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

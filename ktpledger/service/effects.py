"""What recording some events would do to a project's budget lines, before anything is recorded.

The dashboard's forms show this on their preview: each affected line's budget, limit, spent,
eligible and remaining before and after, the project's totals, its period (an LMC extension moves
its end), and the project's figures that are not on a budget line (its parental-leave costs, R-35,
and the grant received, R-42) when they move. It is worked out as `service/imports.py`
plans rows: the project's state is folded from the ledger, each proposed event is parsed and
checked against it (`ProjectState.check`) and applied to that copy (`ProjectState.apply`), and the
domain's own allowance functions read the lines before and after. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import (
    ApproveExceedance,
    BudgetRevision,
    ClaimReversed,
    Event,
    LMCDecision,
    OfferAmended,
    ProjectClosed,
    SpendClaimed,
    Virement,
    parse_event,
)
from ktpledger.domain.labels import category_label
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.service.collector import collector_paused
from ktpledger.service.ledger import Ledger


@dataclass(frozen=True)
class Figures:
    """One budget line's (or the project's) figures at one moment."""

    budget: Decimal
    spent: Decimal
    eligible: Decimal
    limit: Decimal | None = None  # a line's limit (standard, maximum or approved); None for the totals

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    @classmethod
    def of(cls, line: Allowance) -> Figures:
        return cls(budget=line.budget, spent=line.spent, eligible=line.eligible, limit=line.limit)


@dataclass(frozen=True)
class LineEffect:
    """A budget line before and after the proposed events."""

    category: Category
    label: str
    derived: bool
    before: Figures
    after: Figures

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Period:
    """A project's period: its first and last day and its months, extensions included."""

    start: date
    end: date
    months: int

    @classmethod
    def of(cls, state: ProjectState) -> Period:
        return cls(start=state.start, end=state.end, months=state.months)


@dataclass(frozen=True)
class FigureEffect:
    """A project figure that is not on a budget line (`name`: `parental_leave`, `grant_paid`),
    before and after the proposed events."""

    name: str
    label: str
    before: Decimal
    after: Decimal


PROJECT_FIGURES = (
    ("parental_leave", "Parental-leave costs (R-35)"),
    ("grant_paid", "Grant received (R-42)"),
)


def _figures(state: ProjectState) -> dict[str, Decimal]:
    return {"parental_leave": state.parental_leave, "grant_paid": state.grant_paid}


@dataclass(frozen=True)
class Effect:
    """The affected lines (those the events name, and any other whose figures move, such as the
    derived overheads line) and the project's totals over every line, before and after."""

    project: str
    events: tuple[Event, ...]
    lines: tuple[LineEffect, ...]
    before: Figures
    after: Figures
    period_before: Period | None  # None: the events make the project (its GrantOffered)
    period_after: Period
    closes_on: date | None = None
    """The closure's date when the events close the project (R-36): the lines are its final position."""
    figures: tuple[FigureEffect, ...] = ()
    """The project figures off the budget lines that the events move (none for a spend claim)."""

    @property
    def limits_changed(self) -> bool:
        """Whether any line's limit moves (an approval to exceed, a costed extension)."""
        return any(line.before.limit != line.after.limit for line in self.lines)

    @property
    def period_changed(self) -> bool:
        return self.period_before != self.period_after


def _total(lines: Sequence[Allowance]) -> Figures:
    return Figures(
        budget=sum((line.budget for line in lines), ZERO),
        spent=sum((line.spent for line in lines), ZERO),
        eligible=sum((line.eligible for line in lines), ZERO),
    )


def _named(state: ProjectState, event: Event) -> set[Category]:
    """The lines an event names (a claim's, a reversed claim's, a virement's two, a revision's ...)."""
    payload = event.payload
    if isinstance(payload, SpendClaimed):
        return {payload.category}
    if isinstance(payload, ClaimReversed):
        claim = state.claims.get(payload.claim)
        return {claim.category} if claim is not None else set()
    if isinstance(payload, LMCDecision):
        change = payload.decision
        if isinstance(change, Virement):
            return {change.from_category, change.to_category}
        if isinstance(change, ApproveExceedance):
            return {change.category}
        if isinstance(change, BudgetRevision):
            return set(change.budget)
    if isinstance(payload, OfferAmended):
        return set(payload.budget or {})
    return set()


def effect_on(state: ProjectState, submissions: Sequence[Mapping[str, Any]]) -> Effect:
    """The effect of `submissions` (events as `POST /events` takes them) on `state`, which is
        changed (pass a copy: `Ledger.state` folds a fresh one). Raises the first `RuleViolation`. On a
    project that does not exist yet only a `GrantOffered` may come first: every line is then new."""
    first = submissions[0].get("type") if submissions else None
    if not state.exists and first != "GrantOffered":
        raise RuleViolation("R-31", f"unknown project {state.project}", field="project")
    before = allowances(state) if state.exists else []
    period_before = Period.of(state) if state.exists else None
    figures_before = _figures(state)
    events: list[Event] = []
    for raw in submissions:
        event = parse_event(raw)
        if event.project != state.project:
            raise RuleViolation("R-30", f"an event of project {event.project} on {state.project}'s form")
        if event.key in state.keys:
            raise RuleViolation("R-30", f"key {event.key} is already recorded", field="key")
        state.check(event)
        state.apply(event, state.version + 1)
        events.append(event)
    after = allowances(state)
    named = {category for event in events for category in _named(state, event)}
    closes = next((event.date for event in events if isinstance(event.payload, ProjectClosed)), None)
    if closes is not None:  # a closure: every line's final position
        named |= {line.category for line in after}
    figures_after = _figures(state)
    figures = tuple(
        FigureEffect(name, label, figures_before[name], figures_after[name])
        for name, label in PROJECT_FIGURES
        if figures_before[name] != figures_after[name]
    )
    old = {line.category: line for line in before}
    lines = []
    for line in after:
        previous = old.get(line.category)
        was = Figures.of(previous) if previous is not None else Figures(ZERO, ZERO, ZERO)
        effect = LineEffect(
            category=line.category,
            label=category_label(line.category.value),
            derived=line.limit_kind is LimitKind.DERIVED,
            before=was,
            after=Figures.of(line),
        )
        if line.category in named or effect.changed:
            lines.append(effect)
    return Effect(
        project=state.project,
        events=tuple(events),
        lines=tuple(lines),
        before=_total(before),
        after=_total(after),
        period_before=period_before,
        period_after=Period.of(state),
        closes_on=closes,
        figures=figures,
    )


def effect_of(ledger: Ledger, project: str, submissions: Sequence[Mapping[str, Any]]) -> Effect:
    """What appending `submissions` to `project` would do (see `effect_on`); writes nothing."""
    with collector_paused():
        return effect_on(ledger.state(project), submissions)


__all__ = ["Effect", "FigureEffect", "Figures", "LineEffect", "Period", "effect_of", "effect_on"]

"""What recording some events would do to a project's budget lines, before anything is recorded.

The dashboard's forms show this on their preview: each affected line's budget, spent, eligible and
remaining before and after, and the project's totals; and the project's figures that are not on a
budget line (its parental-leave costs, R-35, and the grant received, R-42) when they move. It is worked out as `service/imports.py`
plans rows: the project's state is folded from the ledger, each proposed event is parsed and
checked against it (`ProjectState.check`) and applied to that copy (`ProjectState.apply`), and the
domain's own allowance functions read the lines before and after. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import ClaimReversed, Event, SpendClaimed, parse_event
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

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    @classmethod
    def of(cls, line: Allowance) -> Figures:
        return cls(budget=line.budget, spent=line.spent, eligible=line.eligible)


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
    figures: tuple[FigureEffect, ...] = ()
    """The project figures off the budget lines that the events move (none for a spend claim)."""


def _total(lines: Sequence[Allowance]) -> Figures:
    return Figures(
        budget=sum((line.budget for line in lines), ZERO),
        spent=sum((line.spent for line in lines), ZERO),
        eligible=sum((line.eligible for line in lines), ZERO),
    )


def _named(state: ProjectState, event: Event) -> Category | None:
    """The budget line an event names: a claim's, or the reversed claim's."""
    payload = event.payload
    if isinstance(payload, SpendClaimed):
        return payload.category
    if isinstance(payload, ClaimReversed) and payload.claim in state.claims:
        return state.claims[payload.claim].category
    return None


def effect_on(state: ProjectState, submissions: Sequence[Mapping[str, Any]]) -> Effect:
    """The effect of `submissions` (events as `POST /events` takes them) on `state`, which is
    changed (pass a copy: `Ledger.state` folds a fresh one). Raises the first `RuleViolation`."""
    if not state.exists:
        raise RuleViolation("R-31", f"unknown project {state.project}", field="project")
    before = allowances(state)
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
    named = {category for category in (_named(state, event) for event in events) if category is not None}
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
        figures=figures,
    )


def effect_of(ledger: Ledger, project: str, submissions: Sequence[Mapping[str, Any]]) -> Effect:
    """What appending `submissions` to `project` would do (see `effect_on`); writes nothing."""
    with collector_paused():
        return effect_on(ledger.state(project), submissions)


__all__ = ["Effect", "FigureEffect", "Figures", "LineEffect", "effect_of", "effect_on"]

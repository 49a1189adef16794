"""A project's allowances and alert conditions, kept current event by event.

`LiveProject.apply` folds one recorded event in and says which alerts it raised and resolved, so
the same fold serves the incremental projection and the full replay: both see the same crossings
at the same versions. Only the lines an event touches are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ktpledger.domain.alerts import AlertKey, Conditions, clock, conditions, month_number
from ktpledger.domain.allowances import Allowance, allowance, derived_overheads
from ktpledger.domain.events import (
    ApproveExceedance,
    BudgetRevision,
    ClaimReversed,
    Event,
    LMCDecision,
    ProjectClosed,
    SpendClaimed,
    Virement,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind


@dataclass
class AlertChanges:
    """What one event did to the alerts: conditions that started and keys that ended."""

    raised: Conditions = field(default_factory=dict)
    resolved: list[AlertKey] = field(default_factory=list)


@dataclass
class LiveProject:
    """A project's state with its allowance lines and the alert conditions that hold."""

    state: ProjectState
    latest: date | None = None
    lines: dict[Category, Allowance] = field(default_factory=dict)
    line_conditions: dict[Category, Conditions] = field(default_factory=dict)
    _month: int = 0
    _claimable: list[Category] = field(default_factory=list)
    _derived: list[Category] = field(default_factory=list)

    @classmethod
    def new(cls, project: str) -> LiveProject:
        return cls(state=ProjectState(project=project, track_keys=False))

    @property
    def version(self) -> int:
        return self.state.version

    def conditions(self) -> Conditions:
        merged: Conditions = {}
        for found in self.line_conditions.values():
            merged.update(found)
        return merged

    def ordered_lines(self) -> list[Allowance]:
        if not self.state.exists:
            return []
        return [self.lines[c] for c in self.state.categories() if c in self.lines]

    def fold(self, event: Event, version: int, event_hash: str = "") -> None:
        """Fold an event in without working out alerts (catching up to a saved version)."""
        self.state.apply(event, version, event_hash)
        self.latest = event.date if self.latest is None else max(self.latest, event.date)
        self.lines.clear()
        self.line_conditions.clear()

    def settle(self) -> None:
        """Recompute every line and condition (after `fold`s)."""
        if self.state.exists:
            self._recompute(set(self.state.categories()), all_conditions=True)

    def apply(self, event: Event, version: int, event_hash: str = "") -> AlertChanges:
        """Fold an event in and report the alerts it raised and resolved."""
        if self.state.exists and not self.lines:
            self.settle()
        before = dict(self.line_conditions)
        touched = self._touched(event)
        closed_before, months_before = self.state.closed, self.state.months
        self.state.apply(event, version, event_hash)
        self.latest = event.date if self.latest is None else max(self.latest, event.date)
        if not self.state.exists:
            return AlertChanges()
        if touched is None:
            touched = set(self.state.categories())
        everything = (
            self.state.closed != closed_before
            or self.state.months != months_before
            or self._month != self._clock_month()
        )
        self._recompute(touched, all_conditions=everything)
        changes = AlertChanges()
        # Each recomputed line gets a new conditions dict: only those can have changed.
        changed = [c for c, found in self.line_conditions.items() if before.get(c) is not found]
        if not changed:
            return changes
        old: Conditions = {}
        new: Conditions = {}
        for category in changed:
            old.update(before.get(category, {}))
            new.update(self.line_conditions[category])
        changes.raised = {key: detail for key, detail in new.items() if key not in old}
        changes.resolved = sorted(key for key in old if key not in new)
        return changes

    def _clock_month(self) -> int:
        assert self.latest is not None
        return month_number(self.state.start, clock(self.state, self.latest))

    def _touched(self, event: Event) -> set[Category] | None:
        """The lines `event` can change; None for all of them."""
        payload = event.payload
        if isinstance(payload, SpendClaimed):
            return {payload.category}
        if isinstance(payload, ClaimReversed):
            claim = self.state.claims.get(payload.claim)
            return None if claim is None else {claim.category}
        if isinstance(payload, LMCDecision):
            change = payload.decision
            if isinstance(change, Virement):
                return {change.from_category, change.to_category}
            if isinstance(change, ApproveExceedance):
                return {change.category}
            if isinstance(change, BudgetRevision):
                return set(change.budget)
            return None
        if isinstance(payload, ProjectClosed):
            return set()
        return set() if self.state.exists else None

    def _recompute(self, touched: set[Category], *, all_conditions: bool) -> None:
        state = self.state
        if not self._claimable and not self._derived:
            for category in state.categories():
                is_derived = state.limit_kind(category) is LimitKind.DERIVED
                (self._derived if is_derived else self._claimable).append(category)
        for category in touched:
            if category in self._claimable:
                self.lines[category] = allowance(state, category)
        for category in self._derived:
            self.lines[category] = derived_overheads(state, self.lines)
        assert self.latest is not None
        on = clock(state, self.latest)
        self._month = month_number(state.start, on)
        again = set(self.lines) if all_conditions else touched
        for category in again:
            if category in self.lines:
                self.line_conditions[category] = conditions(state, [self.lines[category]], on=on)

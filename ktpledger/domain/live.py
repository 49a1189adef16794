"""A project's allowances and alert conditions, kept current event by event.

`LiveProject.apply` folds one recorded event in and says which alerts it raised and resolved, so
the same fold serves the incremental projection and the full replay: both see the same crossings
at the same versions. Only the lines an event touches are recomputed.

`settle_append` turns what the events of one append did into what the projection records. The
decisions (README, "Alerts that do not flap"):
- within one append (the events recorded together, which share their `recorded_at`), an alert
  that resolves and is raised again is one alert that never stopped: neither the resolution nor
  the second raise is recorded, and it is not notified again;
- an alert raised and resolved within one append is recorded (the ledger saw it) but `quiet`: it
  is not notified, since it asks for nothing by the time anyone could read it.
Both projection paths (catch-up and replay) group by the same `recorded_at`, so replay still equals
the live run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from typing import Any

from ktpledger.domain.alerts import (
    TIMED_KINDS,
    AlertKey,
    AlertKind,
    Conditions,
    Judged,
    claim_condition,
    clock,
    described,
    judged_conditions,
    resolution_reason,
)
from ktpledger.domain.allowances import Allowance, allowance, derived_overheads
from ktpledger.domain.events import (
    AlertAcknowledged,
    ApproveExceedance,
    BudgetRevision,
    ClaimReversed,
    Event,
    LMCDecision,
    OfferAmended,
    ProjectClosed,
    ProjectReopened,
    SpendClaimed,
    SpendProfileSet,
    Virement,
)
from ktpledger.domain.month_ends import (
    FACT_TYPES,
    MonthEnds,
    MonthFigures,
    SpendMonths,
    figures_as_of,
    figures_of,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, fold_recorded
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.domain.timeline import month_number

_NOTHING_JUDGED: Judged = {}  # read only


@dataclass
class AlertChanges:
    """What one event did to the alerts: conditions that started and keys that ended, and why."""

    raised: Conditions = field(default_factory=dict)
    resolved: list[AlertKey] = field(default_factory=list)
    reason: str = "no_longer_holds"


@dataclass(frozen=True)
class AlertStep:
    """One change the projection records: an alert raised (with the figures true at the raise)
    or resolved (with the reason), at a version."""

    version: int
    key: AlertKey
    raised: bool
    detail: dict[str, Any] | None = None  # the raise's figures
    reason: str = ""  # a resolution's reason
    quiet: bool = False  # raised and resolved within one append: recorded, not notified
    on: date | None = None  # the date of the event at `version`


@dataclass
class LiveProject:
    """A project's state with its allowance lines and the alert conditions that hold."""

    state: ProjectState
    latest: date | None = None
    lines: dict[Category, Allowance] = field(default_factory=dict)
    # The conditions that hold, of each line as a whole, and of its single claims (`ineligible_claim`,
    # `alerts.claim_condition`) apart: a claim's are judged again only when an event moves that
    # claim, so a line of thousands of them costs O(1) per event (issue 18). A line's claims' are
    # in version order, as `alerts.conditions` gives them: a claim's figures are replaced in place.
    # A line's are kept with their figures still to be written out (`alerts.Judged`): an event
    # reads those of the alerts it raises only; the rest are written out when first read
    # (`_line_figures`), most lines being judged again by a later event before anyone reads them.
    line_conditions: dict[Category, Judged] = field(default_factory=dict)
    claim_conditions: dict[Category, Conditions] = field(default_factory=dict)
    _described: dict[Category, tuple[Judged, Conditions]] = field(default_factory=dict)
    _month: int = 0
    _claimable: list[Category] = field(default_factory=list)
    _derived: list[Category] = field(default_factory=list)
    # Which conditions were judged again since `moved_conditions` last said (all of them after a
    # settle or an offer or amendment): the projection writes the open alerts' figures that moved.
    _moved_all: bool = True
    _moved_lines: set[Category] = field(default_factory=set)
    _moved_claims: set[AlertKey] = field(default_factory=set)
    # The alerts open before the next settle, when the conditions were not worked out event by
    # event (`fold`): the forecast's hysteresis needs to know which forecast alerts are open.
    _open: frozenset[AlertKey] = frozenset()
    # What the project page reads beyond the lines (`health_facts.PageFacts`): spend by month, and
    # the versions of the events its facts and decisions are read from, noted as each is folded.
    month_ends: MonthEnds = field(default_factory=MonthEnds)
    fact_versions: list[int] = field(default_factory=list)

    @classmethod
    def new(cls, project: str) -> LiveProject:
        return cls(state=ProjectState(project=project, track_keys=False))

    @property
    def version(self) -> int:
        return self.state.version

    def conditions(self) -> Conditions:
        merged: Conditions = {}
        for category in self.line_conditions:
            merged.update(self._line_figures(category))
        for found in self.claim_conditions.values():
            merged.update(found)
        return merged

    def holding(self) -> set[AlertKey]:
        """The keys of `conditions()`, their figures not written out."""
        found: set[AlertKey] = set()
        for judged in self.line_conditions.values():
            found.update(judged)
        for held in self.claim_conditions.values():
            found.update(held)
        return found

    def _line_figures(self, category: Category) -> Conditions:
        """The conditions that hold of a line as a whole, with their figures (written out once
        for each judgement of the line)."""
        judged = self.line_conditions.get(category)
        if judged is None:
            return {}
        kept = self._described.get(category)
        if kept is not None and kept[0] is judged:
            return kept[1]
        found = described(judged)
        self._described[category] = (judged, found)
        return found

    def standing_conditions(self) -> Conditions:
        """`alerts.standing_conditions` of the state and `ordered_lines`, in the same order, from
        the conditions held: no line or claim judged again (the health facts a catch-up writes)."""
        found: Conditions = {}
        for line in self.ordered_lines():
            category = line.category
            for key, detail in self._line_figures(category).items():
                if key.kind not in TIMED_KINDS:
                    found[key] = detail
            found.update(self.claim_conditions.get(category, {}))
        return found

    def moved_conditions(self) -> Conditions:
        """The conditions that hold and were judged again since this was last asked (every one the
        first time, after a `settle` and after an offer or an amendment): an open alert not among
        them has the figures it had then. O(what moved), not O(every condition)."""
        if self._moved_all:
            moved = self.conditions()
        else:
            moved = {}
            for key in self._moved_claims:
                detail = self.claim_conditions.get(Category(key.category), {}).get(key)
                if detail is not None:
                    moved[key] = detail
            for category in self._moved_lines:
                moved.update(self._line_figures(category))
        self._moved_all = False
        self._moved_lines.clear()
        self._moved_claims.clear()
        return moved

    def ordered_lines(self) -> list[Allowance]:
        if not self.state.exists:
            return []
        return [self.lines[c] for c in self.state.categories() if c in self.lines]

    def fold(self, event: Event, version: int, event_hash: str = "") -> None:
        """Fold an event in without working out alerts (catching up to a saved version)."""
        self._note(event, version)
        self.state.apply(event, version, event_hash)
        if isinstance(event.payload, AlertAcknowledged):
            return  # moves no figure and not the ledger's clock (`apply`)
        self.latest = event.date if self.latest is None else max(self.latest, event.date)
        self.forget_judgements()

    def _head_figures(self) -> MonthFigures:
        """`month_ends.figures_as_of` the state, from the lines held (every line of the state)."""
        lines = self.ordered_lines()
        if len(lines) != len(self.state.categories()):
            return figures_as_of(self.state)  # not every line held: work them out
        return figures_of(lines)

    def forget_judgements(self) -> None:
        """Drop the lines and conditions held: the next `apply` settles them again (after `seed`)."""
        self.lines.clear()
        self.line_conditions.clear()
        self._described.clear()
        self.claim_conditions.clear()
        self._moved_all = True

    def _note(self, event: Event, version: int) -> None:
        """What the project page keeps of an event, noted before the event is folded in: the
        month's figures from the lines held, when they are (`apply`), as `figures_as_of` the state."""
        self.month_ends.before(self.state, event.date, event, self._head_figures if self.lines else None)
        if event.type in FACT_TYPES:
            self.fact_versions.append(version)

    def restore_page(self, months: SpendMonths, fact_versions: Iterable[int]) -> None:
        """Take what the project page keeps as the stored facts of this fold's version hold it: a
        fold resumed from a snapshot (issue 18) has not noted the events before the snapshot."""
        self.month_ends = MonthEnds(first=months.first, latest=months.latest, ended=dict(months.ended))
        self.fact_versions = list(fact_versions)

    def seed(self, open_alerts: Iterable[AlertKey]) -> None:
        """Say which alerts are open at the folded version (as the projection recorded them), for
        the next settle: without it a forecast in its hysteresis band would read as resolved."""
        self._open = frozenset(open_alerts)

    def settle(self) -> None:
        """Recompute every line and condition (after `fold`s)."""
        if self.state.exists:
            self._recompute(set(self.state.categories()), all_conditions=True)
            self.claim_conditions = self._all_claim_conditions()
            self._moved_all = True

    def apply(self, event: Event, version: int, event_hash: str = "") -> AlertChanges:
        """Fold an event in and report the alerts it raised and resolved."""
        if self.state.exists and not self.lines:
            self.settle()
        self._note(event, version)
        if isinstance(event.payload, AlertAcknowledged):
            # Someone read an alert: no figure moves, and the ledger's clock (the latest date of
            # the project's facts) does not either, so no alert is raised or resolved by it.
            self.state.apply(event, version, event_hash)
            return AlertChanges()
        before = dict(self.line_conditions)
        touched = self._touched(event)
        existed, closed_before, months_before = self.state.exists, self.state.closed, self.state.months
        self.state.apply(event, version, event_hash)
        self.latest = event.date if self.latest is None else max(self.latest, event.date)
        if not self.state.exists:
            return AlertChanges()
        claims_before, claims_after = self._claim_changes(event, existed=existed)
        if touched is None:
            touched = set(self.state.categories())
        everything = (
            isinstance(event.payload, OfferAmended)  # the limits, the period and the rate may move
            or self.state.closed != closed_before
            or self.state.months != months_before
            or self._month != self._clock_month()
        )
        self._recompute(touched, all_conditions=everything)
        changes = AlertChanges()
        # Each recomputed line gets a new conditions dict: only those can have changed.
        changed = [c for c, found in self.line_conditions.items() if before.get(c) is not found]
        if not changed and not claims_before and not claims_after:
            return changes
        # The claims' conditions and each line's are apart (a line's keys name it, and never a
        # claim's kind): each is diffed on its own, a line whose conditions are the same skipped.
        raised = {key: detail for key, detail in claims_after.items() if key not in claims_before}
        resolved = [key for key in claims_before if key not in claims_after]
        for category in changed:
            held, now = before.get(category) or _NOTHING_JUDGED, self.line_conditions[category]
            if held.keys() == now.keys():
                continue
            for key, figures in now.items():
                if key not in held:
                    raised[key] = figures()
            resolved.extend(key for key in held if key not in now)
        changes.raised = raised
        changes.resolved = sorted(resolved)
        if changes.resolved:
            changes.reason = resolution_reason(event)
        return changes

    def apply_append(self, items: Sequence[RecordedEvent]) -> list[AlertStep]:
        """Fold in the events of one append and return what the projection records of them. An
        event that cannot be read or folded raises `UnreadableEvent` naming its row; the project
        is then part-way through the append, and is to be folded afresh (`fold` up to the append
        before, then `seed` and `settle`) if it is to be used again."""
        steps: list[AlertStep] = []

        def apply_and_note(event: Event, version: int, event_hash: str) -> None:
            changes = self.apply(event, version, event_hash)
            if changes.resolved:
                steps.extend(
                    AlertStep(version, key, False, reason=changes.reason, on=event.date)
                    for key in changes.resolved
                )
            if changes.raised:
                steps.extend(
                    AlertStep(version, key, True, detail=detail, on=event.date)
                    for key, detail in sorted(changes.raised.items())
                )

        fold_recorded(items, apply_and_note)
        return settle_append(steps) if steps else steps

    def _claim_changes(self, event: Event, *, existed: bool) -> tuple[Conditions, Conditions]:
        """The claim conditions (`claim_conditions`) `event` (folded in) may have moved, before and
        after, now kept: every claim's at the offer and at an amendment (whether R-14 applies may
        move), the one claim's at a claim or a reversal, none at any other event."""
        payload = event.payload
        if not existed or isinstance(payload, OfferAmended):
            old: Conditions = {}
            for found in self.claim_conditions.values():
                old.update(found)
            self.claim_conditions = self._all_claim_conditions()
            self._moved_all = True
            new: Conditions = {}
            for found in self.claim_conditions.values():
                new.update(found)
            return old, new
        if isinstance(payload, SpendClaimed):
            claim_key = event.key
        elif isinstance(payload, ClaimReversed):
            claim_key = payload.claim
        else:
            return {}, {}
        claim = self.state.claims.get(claim_key)
        if claim is None:
            return {}, {}
        held = self.claim_conditions.setdefault(claim.category, {})
        if not held and (self.state.offer is None or not self.state.offer.virtual):
            return {}, {}  # no claim of a business not virtual holds a condition (`claim_condition`)
        key = AlertKey(claim.category.value, AlertKind.INELIGIBLE_CLAIM, claim_key)
        old = {key: held[key]} if key in held else {}
        new = claim_condition(self.state, claim_key)
        if key in new:
            held[key] = new[key]  # in place: a reversed claim keeps its place in version order
        else:
            held.pop(key, None)
        if not self._moved_all:
            self._moved_claims.update(new)
        return old, new

    def _all_claim_conditions(self) -> dict[Category, Conditions]:
        found: dict[Category, Conditions] = {}
        for claim_key, claim in self.state.claims.items():
            held = claim_condition(self.state, claim_key)
            if held:
                found.setdefault(claim.category, {}).update(held)
        return found

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
        if isinstance(payload, OfferAmended):
            return None  # any line's budget, limit or forecast may move with the offer
        if isinstance(payload, SpendProfileSet):
            return set(payload.lines)  # the plan, so the forecast, of the lines it names
        if isinstance(payload, (ProjectClosed, ProjectReopened)):
            return set()  # no figure moves; the conditions are judged again (`closed` changed)
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
                previous = self.line_conditions.get(category)
                raised: Collection[AlertKey] = self._open if previous is None else previous.keys()
                self.line_conditions[category] = judged_conditions(
                    state, [self.lines[category]], on=on, raised=raised, claims=False
                )
                if not self._moved_all:
                    self._moved_lines.add(category)
        self._open = frozenset()


def settle_append(steps: Sequence[AlertStep]) -> list[AlertStep]:
    """What one append's alert steps leave to record (module docstring): a resolution followed
    by a raise of the same alert cancel out; a raise that a later resolution in the same append
    ends is kept but quiet."""
    kept: list[AlertStep | None] = []
    by_key: dict[AlertKey, list[int]] = {}  # indexes in `kept` of each alert's steps, in order
    for step in steps:
        indexes = by_key.setdefault(step.key, [])
        previous = kept[indexes[-1]] if indexes else None
        if step.raised and previous is not None and not previous.raised:
            kept[indexes.pop()] = None  # the alert never stopped: drop its resolution and this raise
            continue
        indexes.append(len(kept))
        kept.append(step)
    quiet: set[int] = set()
    for indexes in by_key.values():
        for here, following in pairwise(indexes):
            first, then = kept[here], kept[following]
            if first is not None and then is not None and first.raised and not then.raised:
                quiet.add(here)
    return [
        replace(step, quiet=True) if index in quiet else step
        for index, step in enumerate(kept)
        if step is not None
    ]


def appends(stream: Iterable[RecordedEvent]) -> Iterator[list[RecordedEvent]]:
    """The events of a project's stream (in version order) cut into the appends that recorded
    them: runs of consecutive events with the same `recorded_at`."""
    group: list[RecordedEvent] = []
    for item in stream:
        if group and item.recorded_at != group[-1].recorded_at:
            yield group
            group = []
        group.append(item)
    if group:
        yield group

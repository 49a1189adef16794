"""Linear folds (issue 18, item 2): the fold keeps the claims counted under the sub-limits and R-14
(`ProjectState.counted`) and the projector judges again only the conditions of the lines and the
claim an event touched. A property test holds them equal, after every event of random streams
(tagged, reversed in part and in full, late claims, budget changes, extensions, amendments that
make a business virtual or not, closures and reopenings), to the algorithm they replaced, kept here
as the reference: the exclusions worked out from every tagged claim (`exclusions_from_scratch`),
and every condition of each line the event touched judged afresh and diffed whole."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.domain.alerts import (
    AlertKey,
    AlertKind,
    Conditions,
    clock,
    conditions,
    described,
    resolution_reason,
    standing_conditions,
)
from ktpledger.domain.allowances import (
    Allowance,
    _excluded_claims,
    allowances,
    associate_travel_keys,
    derived_overheads,
    exclusions,
    exclusions_from_scratch,
)
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import AlertAcknowledged, Event, OfferAmended, parse_event
from ktpledger.domain.live import AlertChanges, LiveProject
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind
from ktpledger.domain.timeline import month_number
from tests.ledger.factory import PROJECT, claim, decision, event, offer, reversal

START = date(2025, 1, 1)
TAGS = {
    "associate_development": ["higher_degree_fee"],
    "travel_subsistence": ["conference", "associate_travel", "academic_travel"],
    "consumables": ["computer"],
    "associate_employment": [],
}
BUDGET = {
    "associate_employment": "100000",
    "associate_development": "900",
    "travel_subsistence": "400",
    "consumables": "300",
    "knowledge_base_supervisor": "16000",
    "associate_estates": "0",
    "additional_associate_support": "36000",
}


def allowance_from_scratch(state: ProjectState, category: Category) -> Allowance:
    """`allowances.allowance` as it was: its exclusions worked out from every tagged claim."""
    kind = state.limit_kind(category)
    budget = state.budget.get(category, ZERO)
    spent = state.spent.get(category, ZERO)
    excluded = exclusions_from_scratch(state, category)
    maximum = state.limit(category) if kind is LimitKind.MAXIMUM else None
    ceiling = budget if maximum is None else min(budget, maximum)
    eligible = max(ZERO, min(spent - excluded.total, ceiling))
    return Allowance(category, budget, state.limit(category), kind, spent, eligible, maximum, excluded)


def conditions_from_scratch(
    state: ProjectState, line: Allowance, on: date, raised: Collection[AlertKey]
) -> Conditions:
    """Every condition of one line, its ineligible claims found by scanning its tagged claims."""
    found = conditions(state, [line], on=on, raised=raised, claims=False)
    if (
        line.limit_kind is LimitKind.DERIVED
        or line.spent <= 0
        or state.offer is None
        or not state.offer.virtual
    ):
        return found
    for travel in _excluded_claims(state, line.category)[1]["associate_travel"]:
        found[AlertKey(line.category.value, AlertKind.INELIGIBLE_CLAIM, travel.key)] = {
            "claim": travel.key,
            "amount": format_money(travel.outstanding),
            "rule": "R-14",
            "message": "a virtual business's associate travel is the business's own cost",
        }
    return found


class FromScratch(LiveProject):
    """The projector's fold as it was before issue 18: each line the event touched recomputed from
    every tagged claim, and all its conditions, claims' included, judged afresh and diffed whole."""

    def conditions(self) -> Conditions:
        merged: Conditions = {}
        for found in self.line_conditions.values():
            merged.update(found)
        return merged

    def settle(self) -> None:
        if self.state.exists:
            self._recompute(set(self.state.categories()), all_conditions=True)

    def apply(self, event: Event, version: int, event_hash: str = "") -> AlertChanges:
        if self.state.exists and not self.lines:
            self.settle()
        if isinstance(event.payload, AlertAcknowledged):
            self.state.apply(event, version, event_hash)
            return AlertChanges()
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
            isinstance(event.payload, OfferAmended)
            or self.state.closed != closed_before
            or self.state.months != months_before
            or self._month != self._clock_month()
        )
        self._recompute(touched, all_conditions=everything)
        changes = AlertChanges()
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
        if changes.resolved:
            changes.reason = resolution_reason(event)
        return changes

    def _recompute(self, touched: set[Category], *, all_conditions: bool) -> None:
        state = self.state
        claimable = [c for c in state.categories() if state.limit_kind(c) is not LimitKind.DERIVED]
        derived = [c for c in state.categories() if state.limit_kind(c) is LimitKind.DERIVED]
        for category in touched:
            if category in claimable:
                self.lines[category] = allowance_from_scratch(state, category)
        for category in derived:
            self.lines[category] = derived_overheads(state, self.lines)
        assert self.latest is not None
        on = clock(state, self.latest)
        self._month = month_number(state.start, on)
        for category in set(self.lines) if all_conditions else touched:
            if category in self.lines:
                previous = self.line_conditions.get(category)
                raised: Collection[AlertKey] = self._open if previous is None else previous.keys()
                self.line_conditions[category] = conditions_from_scratch(
                    state, self.lines[category], on, raised
                )
        self._open = frozenset()


def pence(amount: int) -> str:
    return f"{Decimal(amount) / 100:.2f}"


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An offer and a random history after it; some events the rules refuse (skipped when folded)."""
    virtual = draw(st.booleans())
    raws: list[dict[str, Any]] = [
        offer(date="2024-12-01", start=START.isoformat(), months=24, virtual=virtual, budget=BUDGET)
    ]
    claims: dict[str, tuple[int, int]] = {}  # key: (pence, day)
    for n in range(draw(st.integers(1, 40))):
        step = draw(
            st.sampled_from(
                ["claim"] * 6 + ["reverse"] * 3 + ["revise", "virement", "extend", "amend", "close", "reopen"]
            )
        )
        offset = draw(st.integers(0, 729))
        on = day(offset)  # any order: late claims, budget changes dated before earlier events
        if step == "claim" or (not claims and step == "reverse"):
            category = draw(st.sampled_from([*sorted(TAGS), "travel_subsistence", "travel_subsistence"]))
            tags = (
                draw(st.lists(st.sampled_from(TAGS[category]), max_size=2, unique=True))
                if TAGS[category]
                else []
            )
            amount = draw(st.integers(1, 30000))
            raws.append(claim(f"c{n}", pence(amount), category=category, date=on, tags=tags or None))
            claims[f"c{n}"] = (amount, offset)
        elif step == "reverse":
            key = draw(st.sampled_from(sorted(claims)))
            amount, claimed_on = claims[key]
            part = None if draw(st.booleans()) else pence(draw(st.integers(1, amount)))
            raws.append(reversal(f"r{n}", key, part, date=day(claimed_on + draw(st.integers(0, 40)))))
        elif step == "revise":
            line = draw(st.sampled_from(["travel_subsistence", "consumables", "associate_development"]))
            raws.append(
                decision(
                    f"d{n}",
                    on,
                    kind="budget_revision",
                    minute="LMC",
                    budget={line: str(draw(st.integers(300, 3000)))},
                )
            )
        elif step == "virement":
            raws.append(
                decision(
                    f"d{n}",
                    on,
                    kind="virement",
                    to="travel_subsistence",
                    amount=str(draw(st.integers(1, 500))),
                    minute="LMC",
                    **{"from": "associate_employment"},
                )
            )
        elif step == "extend":
            raws.append(
                decision(
                    f"d{n}", on, kind="extension", months=draw(st.integers(1, 3)), costed=draw(st.booleans())
                )
            )
        elif step == "amend":
            raws.append(
                event(
                    "OfferAmended",
                    f"a{n}",
                    on,
                    {"reason": "the letter says so", "virtual": draw(st.booleans())},
                )
            )
        elif step == "close":
            # Late in the period mostly: a closed project takes no more claims until reopened.
            raws.append(event("ProjectClosed", f"x{n}", day(draw(st.integers(400, 729))), {}))
        else:
            raws.append(
                event(
                    "ProjectReopened", f"o{n}", day(draw(st.integers(400, 760))), {"reason": "a late invoice"}
                )
            )
    return raws  # fmt: skip


def accepted_events(
    raws: list[dict[str, Any]], *, track_keys: bool = True
) -> tuple[list[Event], ProjectState]:
    """The events of a random stream (`streams`) the rules accept, in order (those refused are
    skipped, as the door would refuse them), and the state they fold to (versions from 1)."""
    checking = ProjectState(project=PROJECT, track_keys=track_keys)
    accepted: list[Event] = []
    for raw in raws:
        parsed = parse_event(raw)
        try:
            checking.check(parsed)
        except RuleViolation:
            continue
        checking.apply(parsed, len(accepted) + 1, f"h{len(accepted) + 1}")
        accepted.append(parsed)
    return accepted, checking


def assert_same_exclusions(state: ProjectState) -> None:
    for category in state.claimable():
        assert exclusions(state, category) == exclusions_from_scratch(state, category), category
        scanned = [c.key for c in _excluded_claims(state, category)[1]["associate_travel"]]
        assert list(associate_travel_keys(state, category)) == scanned, category
    assert allowances(state) == [
        line if line.limit_kind is LimitKind.DERIVED else allowance_from_scratch(state, line.category)
        for line in allowances(state)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams())
def test_the_linear_fold_equals_the_fold_from_scratch_after_every_event(raws: list[dict[str, Any]]) -> None:
    live, reference = LiveProject.new(PROJECT), FromScratch.new(PROJECT)
    events, _ = accepted_events(raws)  # a stream the ledger would refuse is not one it holds
    checking = ProjectState(project=PROJECT)
    for version, parsed in enumerate(events, start=1):
        checking.apply(parsed, version)
        changes, expected = live.apply(parsed, version), reference.apply(parsed, version)
        assert (dict(changes.raised), changes.resolved, changes.reason) == (
            dict(expected.raised),
            expected.resolved,
            expected.reason,
        ), parsed
        assert live.conditions() == reference.conditions(), parsed
        assert live.holding() == live.conditions().keys()  # keys only: no figures written out
        assert live.lines == reference.lines
        # The same Decimal text too: the health facts store lines' figures with str().
        assert {c: str(line.eligible) for c, line in live.lines.items()} == {
            c: str(line.eligible) for c, line in reference.lines.items()
        }
        # The health facts' standing conditions, in order, from those held.
        assert list(live.standing_conditions().items()) == list(
            standing_conditions(live.state, live.ordered_lines()).items()
        )
        assert_same_exclusions(live.state)
        assert_same_exclusions(checking)
    # A projection folded quietly and settled (a cold catch-up, a quarantined project's refold)
    # holds the same claims' and sub-limits' conditions as the fold event by event.
    cold = LiveProject.new(PROJECT)
    for folded, accepted in enumerate(events, start=1):
        cold.fold(accepted, folded)
    cold.seed(live.conditions())
    cold.settle()
    kept = (AlertKind.INELIGIBLE_CLAIM, AlertKind.SUB_LIMIT)
    assert {k: v for k, v in cold.conditions().items() if k.kind in kept} == {
        k: v for k, v in live.conditions().items() if k.kind in kept
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), reads=st.sets(st.integers(1, 45), max_size=6))
def test_a_lines_figures_read_late_are_those_of_its_latest_judgement(
    raws: list[dict[str, Any]], reads: set[int]
) -> None:
    """The projector keeps a line's conditions with their figures still to be written out
    (`alerts.Judged`), and writes them out when first read (`LiveProject._line_figures`): read
    after any later event (here after those in `reads`, and at the end), they are the figures of
    the line's latest judgement as written out at once, whatever the events since did to the
    state; and the conditions and the health facts' standing conditions are those figures."""
    live = LiveProject.new(PROJECT)
    events, _ = accepted_events(raws)
    at_once: dict[Category, Conditions] = {}
    judged: dict[Category, object] = {}
    for version, parsed in enumerate(events, start=1):
        live.apply(parsed, version)
        for category, found in live.line_conditions.items():
            if judged.get(category) is not found:
                judged[category] = found
                at_once[category] = described(found)
        for category in [c for c in at_once if c not in live.line_conditions]:
            del at_once[category], judged[category]
        if version in reads or version == len(events):
            assert {c: live._line_figures(c) for c in live.line_conditions} == at_once, version
            merged: Conditions = {}
            for found in at_once.values():
                merged.update(found)
            for claims in live.claim_conditions.values():
                merged.update(claims)
            assert live.conditions() == merged
            assert list(live.standing_conditions().items()) == list(
                standing_conditions(live.state, live.ordered_lines()).items()
            )

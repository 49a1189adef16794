"""The health facts (issue 16) judge as the folded project does, whatever the day and whatever the
stream: a property test against the health judged straight from the state with the rule
functions (`alerts.conditions`, `alerts.clock_findings`, `timeline.position`), through the facts'
JSON and back. The facts are taken once; the day moves: what the projector stores on one day must
judge right on every later day."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.domain.alerts import clock_findings, conditions
from ktpledger.domain.allowances import allowances
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event
from ktpledger.domain.health import HealthKind, health_of, project_health
from ktpledger.domain.health_facts import HealthFacts, ListedFacts, facts_of
from ktpledger.domain.live import LiveProject
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import LimitKind
from ktpledger.domain.timeline import Phase, position
from tests.domain.test_linear_fold import accepted_events, streams
from tests.domain.test_month_ends import NON_FEC_BUDGET
from tests.ledger.factory import PROJECT, claim, event, offer, reversal

CATEGORIES = (
    "associate_employment",
    "associate_development",
    "travel_subsistence",
    "consumables",
    "knowledge_base_supervisor",
    "additional_associate_support",
)
START = date(2025, 1, 1)


def reference(state: ProjectState, today: date) -> list[tuple[str, str, str, str]]:
    """The reasons judged straight from the state: every condition as of the day (the stored
    alerts' rule functions), the calendar's findings, and the pace from `position`."""
    lines = allowances(state)
    found = {} if state.closed else conditions(state, lines, on=min(today, state.end))
    found |= clock_findings(state, today)
    kinds = [(key.kind, key.category, key.subject) for key in found if key.kind != "threshold"]
    where = position(state, today, last_spend=state.latest_spend)
    if where.phase is Phase.RUNNING:
        if where.quiet:
            kinds.append((HealthKind.NO_SPEND, "", ""))
        counted = [line for line in lines if line.limit_kind is not LimitKind.DERIVED]
        budget = sum((line.budget for line in counted), Decimal(0))
        spent = sum((line.spent for line in counted), Decimal(0))
        if where.month >= 3 and budget > 0:
            gap = spent / budget - where.elapsed
            if gap < Decimal("-0.15"):
                kinds.append((HealthKind.BEHIND_TIME, "", ""))
            elif gap > Decimal("0.15"):
                kinds.append((HealthKind.AHEAD_OF_TIME, "", ""))
    return sorted((str(kind), category, subject, "") for kind, category, subject in kinds)


spend = st.tuples(
    st.sampled_from(CATEGORIES),
    st.integers(min_value=1, max_value=3_000_000),  # pence
    st.integers(min_value=0, max_value=729),  # days from the start
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spends=st.lists(spend, max_size=25),
    reversals=st.lists(st.integers(min_value=0, max_value=24), max_size=4),
    profile=st.booleans(),
    closed=st.booleans(),
    days=st.lists(st.integers(min_value=-30, max_value=900), min_size=1, max_size=4),
)
def test_facts_judge_as_the_state_does_on_any_day(
    spends: list[tuple[str, int, int]], reversals: list[int], profile: bool, closed: bool, days: list[int]
) -> None:
    raws: list[dict[str, Any]] = [offer(date="2024-12-01", start=START.isoformat())]
    if profile:
        raws.append(
            event(
                "SpendProfileSet",
                "profile",
                "2024-12-02",
                {"lines": {"consumables": {"rule": "in_quarters", "quarters": ["2025Q2", "2026Q1"]}},
                 "minute": "LMC 1"},
            )
        )  # fmt: skip
    for n, (category, pence, day) in enumerate(spends):
        on = (START + timedelta(days=day)).isoformat()
        raws.append(claim(f"c{n}", f"{Decimal(pence) / 100:.2f}", category=category, date=on))
    for n, which in enumerate(reversals):
        if which < len(spends):
            on = (START + timedelta(days=spends[which][2] + 5)).isoformat()
            raws.append(reversal(f"r{n}", f"c{which}", date=on))
    if closed:
        raws.append(event("ProjectClosed", "close", "2027-01-20", {}))
    state = ProjectState(project=PROJECT)
    for version, raw in enumerate(raws, start=1):
        parsed = parse_event(raw)
        try:
            state.check(parsed)
        except RuleViolation:
            continue  # a stream the ledger would refuse is not one it holds
        state.apply(parsed, version)
    facts = facts_of(state, allowances(state))
    assert facts is not None
    stored = HealthFacts.from_json(facts.to_json())
    assert stored == facts
    for offset in days:
        today = START + timedelta(days=offset)
        expected = reference(state, today)
        judged = health_of(stored, today)
        assert sorted((r.kind, r.category, r.subject, "") for r in judged.reasons) == expected
        assert judged == project_health(state, allowances(state), today=today)


def test_health_facts_extend_the_listed_ones_with_the_same_names_and_json() -> None:
    """`HealthFacts` is `ListedFacts` (the project list's fields, parsed alone) and the rest: every
    attribute name as before, the JSON written as before, and the listed fields read back from it
    as the whole facts read them."""
    state = ProjectState(project=PROJECT)
    raws = [offer(date="2024-12-01", start=START.isoformat()), claim("c1", "12.50")]
    for version, raw in enumerate(raws, start=1):
        state.apply(parse_event(raw), version)
    facts = facts_of(state, allowances(state))
    assert facts is not None
    assert isinstance(facts, ListedFacts)
    listed = [field.name for field in dataclasses.fields(ListedFacts)]
    assert listed == [
        "project", "version", "title", "knowledge_base", "business", "business_type", "methodology",
        "start", "end", "months", "closed", "closed_on", "grant_rate", "invoices", "claimed",
    ]  # fmt: skip
    assert [field.name for field in dataclasses.fields(HealthFacts)] == [
        *listed,
        "budget", "profiles", "budget_changed_on", "spent_by_month", "lines", "standing", "next_claim",
        "grant_claimed", "grant_paid", "latest_spend", "parental_leave", "page",
    ]  # fmt: skip
    document = facts.to_json()
    assert list(document) == [
        "format", "project", "version", "title", "knowledge_base", "business", "business_type",
        "methodology", "start", "end", "months", "closed", "closed_on", "grant_rate", "budget",
        "profiles", "budget_changed_on", "spent_by_month", "lines", "standing", "invoices", "claimed",
        "next_claim", "grant_claimed", "grant_paid", "latest_spend", "parental_leave", "page",
    ]  # fmt: skip
    only = ListedFacts.from_json(document)
    assert type(only) is ListedFacts and type(HealthFacts.from_json(document)) is HealthFacts
    assert only.exists and only.claimed_quarters() == facts.claimed_quarters()
    assert all(getattr(only, name) == getattr(facts, name) for name in listed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raws=streams(),
    names=st.lists(st.text(), min_size=3, max_size=3),
    profile=st.booleans(),
    non_fec=st.booleans(),
)
def test_facts_written_as_text_are_their_json_in_canonical_form(
    raws: list[dict[str, Any]], names: list[str], profile: bool, non_fec: bool
) -> None:
    """`HealthFacts.to_text` writes the text directly; it is `to_json` dumped with sorted keys and
    no spaces, byte for byte (the stored facts of a version never change), on random streams folded
    by the projector (late, back-dated, tagged and reversed claims, budget changes, amendments,
    closures; a derived line; a spend profile) and any names (escaped as JSON escapes them)."""
    if non_fec:
        raws = [
            dict(raws[0], data=dict(raws[0]["data"], methodology="non_fec", budget=NON_FEC_BUDGET)),
            *raws[1:],
        ]
    if profile:
        raws = [
            raws[0],
            event(
                "SpendProfileSet",
                "profile",
                raws[0]["date"],
                {"lines": {"consumables": {"rule": "in_quarters", "quarters": ["2025Q2", "2026Q1"]}},
                 "minute": "LMC 1"},
            ),
            *raws[1:],
        ]  # fmt: skip
    accepted, _ = accepted_events(raws, track_keys=False)
    live = LiveProject.new(PROJECT)
    for version, parsed in enumerate(accepted, start=1):
        live.apply(parsed, version)
    facts = facts_of(
        live.state,
        live.ordered_lines(),
        live.standing_conditions(),
        spend_months=live.month_ends.kept(),
        fact_versions=live.fact_versions,
    )
    assert facts is not None
    facts = dataclasses.replace(facts, title=names[0], business=names[1], next_claim=names[2])
    canonical = json.dumps(facts.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert facts.to_text() == canonical

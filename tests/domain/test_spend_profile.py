"""Spend profiles (R-43): the event, its refusals, and the plan every reader reads
(`domain/profile.py`), every figure worked by hand.

The base project is tests.ledger.factory's offer: fec SME, 24 months from 2024-10-01 (month 1 is
October 2024; the period is the eight calendar quarters 2024Q4..2026Q3), offered on 2024-09-02;
consumables 4,000, travel_subsistence 2,500, associate_employment 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal as D  # noqa: N817 - short, for figures worked by hand
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event, payload_from_data
from ktpledger.domain.money import round_penny_half_up
from ktpledger.domain.profile import (
    _planned_through,
    against_profile,
    period_quarters,
    planned_after,
    planned_in_quarter,
    planned_to,
    project_month,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.rules import Category
from tests.ledger.factory import PROJECT, decision, event, offer

CO, TS, AE = Category.CONSUMABLES, Category.TRAVEL_SUBSISTENCE, Category.ASSOCIATE_EMPLOYMENT


def profile(
    key: str, lines: dict[str, Any], *, day: str = "2024-10-05", minute: str = "LMC 1"
) -> dict[str, Any]:
    return event("SpendProfileSet", key, day, {"lines": lines, "minute": minute})


def fold(*raws: dict[str, Any]) -> ProjectState:
    state = ProjectState(project=PROJECT)
    for version, raw in enumerate([offer(), *raws], start=1):
        parsed = parse_event(raw)
        state.check(parsed)
        state.apply(parsed, version)
    return state


@dataclass
class PlanFigures:
    """The least a plan is read from (`profile.PlanSource`): no profile recorded."""

    start: date
    months: int
    budget: dict[Category, D]
    profiles: dict[Category, Any] = field(default_factory=dict)
    budget_changed_on: dict[Category, date] = field(default_factory=dict)
    spent_by_month: dict[Category, dict[tuple[int, int], D]] = field(default_factory=dict)


def refusal(*raws: dict[str, Any]) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        fold(*raws)
    return caught.value


def q(text: str) -> Quarter:
    found = Quarter.parse(text)
    assert found is not None
    return found


def test_the_default_plan_is_even_by_month() -> None:
    state = fold()
    # consumables 4,000 / 24 months: 166.666... a month; month 3 (December 2024) ends at 500.00
    assert planned_to(state, CO, date(2024, 12, 5)) == D("500.00")
    assert planned_after(state, CO, date(2024, 12, 5)) == D("3500.00")
    # a started month counts in full; before the start nothing is planned, after the end all of it
    assert planned_to(state, CO, date(2024, 10, 1)) == D("166.67")
    assert planned_to(state, CO, date(2024, 9, 30)) == D("0.00")
    assert planned_to(state, CO, date(2027, 1, 1)) == D("4000.00")
    # each of the eight quarters has three months: 500.00 each; travel 2,500 / 8 = 312.50
    assert [str(x) for x in period_quarters(state)][::7] == ["2024Q4", "2026Q3"]
    assert {planned_in_quarter(state, CO, x) for x in period_quarters(state)} == {D("500.00")}
    assert planned_in_quarter(state, TS, q("2025Q3")) == D("312.50")
    assert planned_in_quarter(state, CO, q("2024Q3")) == D("0.00")


def test_amounts_per_quarter_are_spread_over_the_quarters_months() -> None:
    lines = {
        "consumables": {
            "rule": "amounts",
            "quarters": {"2024Q4": "1500", "2025Q2": "500.00", "2026Q1": "2000"},
        }
    }
    state = fold(profile("p1", lines))
    # a quarter's amount is due from its first month: all of 2024Q4's 1,500 by November
    assert planned_to(state, CO, date(2024, 10, 1)) == D("1500.00")
    assert planned_in_quarter(state, CO, q("2025Q1")) == D("0.00")
    assert planned_in_quarter(state, CO, q("2025Q2")) == D("500.00")
    assert planned_to(state, CO, date(2025, 12, 31)) == D("2000.00")
    assert planned_after(state, CO, date(2025, 12, 31)) == D("2000.00")
    # the other lines keep the default
    assert planned_to(state, TS, date(2024, 12, 31)) == D("312.50")


def test_in_quarters_splits_the_budget_between_the_named_quarters() -> None:
    state = fold(
        profile("p1", {"travel_subsistence": {"rule": "in_quarters", "quarters": ["2026Q2", "2025Q2"]}})
    )
    # 2,500 / 2 = 1,250 a quarter, due from the quarter's first month (April 2025)
    assert planned_to(state, TS, date(2025, 3, 31)) == D("0.00")
    assert planned_to(state, TS, date(2025, 4, 2)) == D("1250.00")
    assert planned_in_quarter(state, TS, q("2025Q2")) == D("1250.00")
    assert planned_in_quarter(state, TS, q("2025Q3")) == D("0.00")


def test_the_latest_profile_of_a_line_wins_and_lines_not_named_keep_theirs() -> None:
    first = {
        "consumables": {"rule": "in_quarters", "quarters": ["2024Q4"]},
        "travel_subsistence": {"rule": "in_quarters", "quarters": ["2024Q4"]},
    }
    state = fold(
        profile("p1", first), profile("p2", {"travel_subsistence": {"rule": "even"}}, day="2024-11-01")
    )
    assert planned_to(state, CO, date(2024, 12, 31)) == D("4000.00")
    assert planned_to(state, TS, date(2024, 12, 31)) == D("312.50")


def test_a_budget_change_spreads_the_unplanned_remainder_after_its_month() -> None:
    lines = {
        "consumables": {"rule": "amounts", "quarters": {"2024Q4": "1500", "2025Q2": "500", "2026Q1": "2000"}}
    }
    virement = decision(
        "v1",
        kind="virement",
        amount="1000",
        minute="LMC 2",
        date="2025-02-01",
        **{"from": "consumables", "to": "associate_employment"},
    )
    state = fold(profile("p1", lines), virement)
    # budget 3,000; the amounts still place 4,000: -1,000 over months 6..24 (19 months) after
    # February 2025 (month 5). To December 2025 (month 15): 2,000 - 1,000 x 10/19 = 1,473.68
    assert planned_to(state, CO, date(2025, 12, 31)) == D("1473.68")
    assert planned_to(state, CO, date(2025, 2, 28)) == D("1500.00")  # months before the change keep theirs
    assert sum((planned_in_quarter(state, CO, x) for x in period_quarters(state)), D(0)) == D("3000.00")
    # an even line follows its budget as it stands: associate_employment 101,000 / 24 x 3
    assert planned_to(state, AE, date(2024, 12, 1)) == D("12625.00")


def test_a_no_cost_extension_spreads_an_even_line_over_the_longer_period() -> None:
    state = fold(decision("x1", kind="extension", months=6, costed=False, date="2024-12-02"))
    # consumables 4,000 / 30 x 3 = 400.00; the new quarters 2026Q4 and 2027Q1 are in the period
    assert planned_to(state, CO, date(2024, 12, 31)) == D("400.00")
    assert [str(x) for x in period_quarters(state)][-1] == "2027Q1"
    fold(
        decision("x1", kind="extension", months=6, costed=False, date="2024-12-02"),
        profile("p1", {"consumables": {"rule": "in_quarters", "quarters": ["2027Q1"]}}, day="2024-12-03"),
    )


@pytest.mark.parametrize(
    ("lines", "field", "says"),
    [
        ({"consumable": {"rule": "even"}}, "lines.consumable", "did you mean consumables"),
        (
            {"academic_secretarial_support": {"rule": "even"}},
            "lines.academic_secretarial_support",
            "no line this project plans",
        ),
        (
            {"knowledge_base_overheads": {"rule": "even"}},
            "lines.knowledge_base_overheads",
            "no line this project plans",
        ),
        (
            {"consumables": {"rule": "in_quarters", "quarters": ["2026Q4"]}},
            "lines.consumables.quarters",
            "2026Q4 is outside the project's period 2024-10-01 to 2026-09-30",
        ),
        (
            {"consumables": {"rule": "amounts", "quarters": {"2024Q3": "4000"}}},
            "lines.consumables.quarters",
            "2024Q3 is outside",
        ),
        (
            {"consumables": {"rule": "amounts", "quarters": {"2024Q4": "3999.99"}}},
            "lines.consumables.quarters",
            "sum to 3999.99, but the line's budget is 4000.00",
        ),
        (
            {"consumables": {"rule": "amounts", "quarters": {"2024Q4": "-5", "2025Q1": "4005"}}},
            "lines.consumables.quarters.2024Q4",
            "",
        ),
        (
            {"consumables": {"rule": "amounts", "quarters": {"2024Q5": "4000"}}},
            "lines.consumables.quarters",
            "such as 2025Q2",
        ),
        (
            {"consumables": {"rule": "amounts", "quarters": {}}},
            "lines.consumables.quarters",
            "quarter: amount",
        ),
        (
            {"consumables": {"rule": "in_quarters", "quarters": ["2025Q1", "2025Q1"]}},
            "lines.consumables.quarters",
            "twice",
        ),
        (
            {"consumables": {"rule": "even", "quarters": ["2025Q1"]}},
            "lines.consumables.quarters",
            "names no quarters",
        ),
        ({"consumables": {"rule": "lumpy"}}, "lines.consumables.rule", "even, in_quarters, amounts"),
        ({"consumables": "even"}, "lines.consumables", "must be an object"),
        ({}, "lines", "category: profile"),
    ],
)
def test_a_bad_profile_is_refused_under_r43_naming_the_field(
    lines: dict[str, Any], field: str, says: str
) -> None:
    error = refusal(profile("p1", lines))
    assert (error.rule, error.field) == ("R-43", field)
    assert says in error.message


def test_a_profile_needs_its_minute_and_the_offer_and_an_open_project() -> None:
    error = refusal(profile("p1", {"consumables": {"rule": "even"}}, minute=" "))
    assert (error.rule, error.field) == ("R-43", "minute")
    error = refusal(profile("p1", {"consumables": {"rule": "even"}}, day="2024-09-01"))
    assert (error.rule, error.field) == ("R-43", "date")
    error = refusal(
        event("ProjectClosed", "end", "2025-01-01", {}),
        profile("p1", {"consumables": {"rule": "even"}}, day="2025-01-02"),
    )
    assert error.rule == "R-36"


def test_the_event_reads_back_as_it_was_recorded() -> None:
    lines = {
        "travel_subsistence": {"rule": "in_quarters", "quarters": ["2025Q2", "2024Q4"]},
        "consumables": {"rule": "amounts", "quarters": {"2025Q1": "4000"}},
        "associate_employment": {"rule": "even"},
    }
    parsed = parse_event(profile("p1", lines))
    data = parsed.payload.to_data()
    assert data["lines"]["travel_subsistence"] == {"rule": "in_quarters", "quarters": ["2024Q4", "2025Q2"]}
    assert data["lines"]["consumables"] == {"rule": "amounts", "quarters": {"2025Q1": "4000.00"}}
    assert payload_from_data("SpendProfileSet", data) == parsed.payload


def test_a_project_starting_mid_quarter_has_short_first_and_last_quarters() -> None:
    state = ProjectState(project=PROJECT)
    state.apply(parse_event(offer(start="2025-05-01", months=12, date="2025-04-01")), 1)
    # May 2025 .. April 2026: 2025Q2 holds May and June, 2026Q2 April alone
    assert [str(x) for x in period_quarters(state)] == ["2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    # consumables 4,000 / 12 = 333.33... a month: 666.67, 1,000.00 x 3, then 333.33; in all 4,000
    shares = [planned_in_quarter(state, CO, x) for x in period_quarters(state)]
    assert shares == [D("666.67"), D("1000.00"), D("1000.00"), D("1000.00"), D("333.33")]
    assert sum(shares, D(0)) == D("4000.00")


@pytest.mark.parametrize(
    ("planned", "actual", "status"),
    [
        ("1000.00", "899.99", "behind"),  # more than 10% below 1,000: below 900
        ("1000.00", "900.00", "on_profile"),
        ("1000.00", "1100.00", "on_profile"),
        ("1000.00", "1100.01", "ahead"),  # more than 10% above: above 1,100
        ("0.00", "100.00", "ahead"),  # spend against no plan, once it reaches 100
        ("0.00", "99.99", "not_judged"),
        ("99.99", "0.00", "not_judged"),  # a plan below 100 with nothing spent says nothing
        ("100.00", "0.00", "behind"),
    ],
)
def test_behind_or_ahead_of_the_profile_at_a_quarter_end(planned: str, actual: str, status: str) -> None:
    assert against_profile(D(planned), D(actual)) == status


@settings(max_examples=300, deadline=None)
@given(
    pence=st.integers(0, 10**11),
    first=st.integers(0, 2),
    months=st.integers(1, 60),
    on=st.dates(date(2024, 1, 1), date(2030, 12, 31)),
)
def test_an_even_plan_is_the_exact_share_rounded_however_the_budget_is_written(
    pence: int, first: int, months: int, on: date
) -> None:
    """`planned_to` of a line with no recorded profile (planned evenly) takes its figure from a
    store kept by the budget's value (`profile._even_to`): the same figure, and text, as the exact
    even share of the months to `on` rounded to the penny (`_planned_through`), whether the budget
    is written 1000, 1000.0 or 1000.00 and whichever of them is read first; before the start, in
    the period and after the end."""
    written = [D(pence).scaleb(-2)]  # the same value with 2, 1 and 0 decimal places, where it can be
    if pence % 10 == 0:
        written.append(D(pence // 10).scaleb(-1))
    if pence % 100 == 0:
        written.append(D(pence // 100))
    written = written[first % len(written) :] + written[: first % len(written)]
    state = PlanFigures(start=date(2025, 1, 1), months=months, budget={})
    for budget in written:
        state.budget[CO] = budget
        exact = round_penny_half_up(_planned_through(state, CO, project_month(state, on)))
        found = planned_to(state, CO, on)
        assert (found, str(found)) == (exact, str(exact)), budget

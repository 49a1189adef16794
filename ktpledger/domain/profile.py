"""A line's planned spend over the project's period (R-43): the one reading of a spend profile that
every reader uses (the forecast alerts, `ktpledger profile`, `GET /projects/{project}/profile`, and
the quarterly claims built on them).

The plan is made month by month over the project's months (extensions included), month 1 being the
start month:

- `even` (and the **default**, for a line no `SpendProfileSet` has named): the line's budget as it
  now stands, in equal shares over the period as it now stands. The guidance gives its standard
  amounts "per 12 months" (associate development 2,000, travel and subsistence 1,250, consumables
  2,000: pro rata, R-02) and employment and supervision as yearly costs, and says nothing of when in
  the year they fall beyond "link your costs to the workplan"; so, with no recorded profile,
  every line is planned evenly by month, and a workplan's timing is recorded as a profile;
- `in_quarters`: the budget as it now stands in equal shares between the named calendar quarters;
- `amounts`: each named quarter's amount. The amounts summed to the line's budget when recorded
  (R-43 refuses any other sum). **The unplanned remainder**: when the budget moves later (a
  virement, a budget revision, an offer amendment), or an amendment takes a named quarter out of
  the period, the difference between the budget as it now stands and what the amounts still place
  in the period is spread evenly over the months after the month of the line's latest budget
  change (or, if none is left, put in the last month). A budget that fell takes the difference
  off those months.

A quarter's amount (`in_quarters`, `amounts`) is due from the quarter's first month in the
period: what is planned "in 2025Q2" may be bought on any day of it, so a purchase early in its
planned quarter is never ahead of the plan (a project starting in May has its first quarter from
May). Cumulative figures count a started month in full, as "month N of M" does
(`timeline.period_month`): the plan to a day is the plan to the end of its month. Figures are exact until the end, then rounded half up to the penny; a quarter's plan is the
difference of two cumulative figures, so a line's quarters always sum to its budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from ktpledger.domain.events import LineProfile
from ktpledger.domain.money import ZERO, round_penny_half_up
from ktpledger.domain.project import add_months
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.rules import Category


class PlanSource(Protocol):
    """What a line's plan is read from: a folded project (`ProjectState`), or the facts the
    portfolio keeps of one (`health.HealthFacts`), so both read it with these same functions."""

    @property
    def start(self) -> date: ...

    @property
    def months(self) -> int: ...

    @property
    def budget(self) -> Mapping[Category, Decimal]: ...

    @property
    def profiles(self) -> Mapping[Category, tuple[LineProfile, date]]: ...

    @property
    def budget_changed_on(self) -> Mapping[Category, date]: ...

    @property
    def spent_by_month(self) -> Mapping[Category, Mapping[tuple[int, int], Decimal]]: ...


DEFAULT_PROFILE = LineProfile(rule="even")
# Behind or ahead of the profile (judged at a quarter's end): cumulative spend more than this share
# below or above the cumulative plan ...
PROFILE_TOLERANCE = Decimal("0.10")
# ... once the plan or the spend reaches this much: below it neither says anything (Decision).
PROFILE_SMALLEST = Decimal(100)


def project_month(state: PlanSource, on: date) -> int:
    """The project's month on `on` (1 for the start month; 0 or less before it, above the
    period's months after it)."""
    start = state.start
    return (on.year - start.year) * 12 + on.month - start.month + 1


def month_quarter(state: PlanSource, month: int) -> Quarter:
    """The calendar quarter of the project's month `month`."""
    return Quarter.of(add_months(date(state.start.year, state.start.month, 1), month - 1))


def line_profile(state: PlanSource, category: Category) -> tuple[LineProfile, date | None]:
    """The profile in force for a line (the latest recorded, or the default) and the day it was set
    (None for the default)."""
    found = state.profiles.get(category)
    return (DEFAULT_PROFILE, None) if found is None else found


def monthly_plan(state: PlanSource, category: Category) -> list[Decimal]:
    """The line's plan for each of the project's months (index 0 is month 1), exact (not rounded):
    they sum to the line's budget as it now stands. A quarter's amount is in its first month."""
    months = state.months
    budget = state.budget.get(category, ZERO)
    profile, set_on = line_profile(state, category)
    if months <= 0:
        return []
    if profile.rule == "even":
        return [budget / months] * months
    by_quarter: dict[Quarter, list[int]] = {}
    for month in range(1, months + 1):
        by_quarter.setdefault(month_quarter(state, month), []).append(month)
    plan = [ZERO] * months
    if profile.rule == "in_quarters":
        inside = [q for q in profile.quarters if q in by_quarter]
        shares = {q: budget / len(inside) for q in inside}
    else:
        shares = {q: amount for q, amount in profile.amounts.items() if q in by_quarter}
    for quarter, amount in shares.items():
        plan[by_quarter[quarter][0] - 1] += amount  # due from the quarter's first month in the period
    remainder = budget - sum(shares.values(), ZERO)
    if remainder:
        changed = state.budget_changed_on.get(category)
        latest = max(d for d in (set_on, changed) if d is not None) if (set_on or changed) else None
        after = 0 if latest is None else max(0, project_month(state, latest))
        spread = list(range(after + 1, months + 1)) or [months]
        for month in spread:
            plan[month - 1] += remainder / len(spread)
    return plan


def _planned_through(state: PlanSource, category: Category, month: int) -> Decimal:
    """The exact plan of months 1..`month` (clamped to the period)."""
    month = max(0, min(month, state.months))
    if month == 0:
        return ZERO
    profile, _ = line_profile(state, category)
    if profile.rule == "even":  # the usual case, without the month list
        return state.budget.get(category, ZERO) * month / state.months
    return sum(monthly_plan(state, category)[:month], ZERO)


def planned_to(state: PlanSource, category: Category, on: date) -> Decimal:
    """The line's cumulative plan to `on` (to the end of its month; 0 before the start, the whole
    budget after the end), rounded half up to the penny."""
    month = max(0, min(project_month(state, on), state.months))
    if month and category not in state.profiles:  # the default profile, even: read on every event
        return _even_to(state.budget.get(category, ZERO), month, state.months)
    return round_penny_half_up(_planned_through(state, category, month))


@lru_cache(maxsize=4096)
def _even_to(budget: Decimal, month: int, months: int) -> Decimal:
    """`planned_to` of a line planned evenly: `_planned_through`'s even share, rounded. Kept by
    value: equal budgets written differently (1000, 1000.00) share one, the rounding to the penny
    giving both the same figure."""
    return round_penny_half_up(budget * month / months)


def planned_after(state: PlanSource, category: Category, on: date) -> Decimal:
    """What the plan still has to spend after `on`'s month: the budget less `planned_to` (the
    forecast's "rest of the plan", R-41)."""
    return planned_split(state, category, on)[1]


def planned_split(state: PlanSource, category: Category, on: date) -> tuple[Decimal, Decimal]:
    """`planned_to` and `planned_after` of one day, the plan worked out once (the forecast reads
    both on every event)."""
    to_date = planned_to(state, category, on)
    return to_date, round_penny_half_up(state.budget.get(category, ZERO)) - to_date


def planned_in_quarter(state: PlanSource, category: Category, quarter: Quarter) -> Decimal:
    """The line's plan for a calendar quarter (0 for a quarter outside the period): the plan to the
    quarter's last day less the plan to the day before its first, so the quarters of a line sum
    exactly to its budget."""
    before = round_penny_half_up(
        _planned_through(state, category, project_month(state, quarter.first_day) - 1)
    )
    return planned_to(state, category, quarter.last_day) - before


def period_quarters(state: PlanSource) -> list[Quarter]:
    """The calendar quarters the project's period touches, in order (the first and last may be
    short)."""
    found: list[Quarter] = []
    for month in range(1, state.months + 1):
        quarter = month_quarter(state, month)
        if not found or found[-1] != quarter:
            found.append(quarter)
    return found


def spent_to(state: PlanSource, category: Category, on: date) -> Decimal:
    """The line's net spend (claims less reversals, each by its own date) dated in `on`'s month or
    before: the cumulative spend at a quarter's end, as `ktpledger profile` sums its quarters."""
    last = (on.year, on.month)
    by_month = state.spent_by_month.get(category, {})
    if by_month and max(by_month) <= last:  # every month of it (read on every event): the same sum
        return sum(by_month.values(), ZERO)
    return sum([amount for month, amount in by_month.items() if month <= last], ZERO)


def quarter_passed(state: PlanSource, on: date) -> Quarter | None:
    """The latest calendar quarter of the period whose end is before `on` (None before the first
    quarter ends): the quarter end the stored `behind_profile` / `ahead_of_profile` alerts judge."""
    found = quarter_end_passed(state, on)
    return None if found is None else found[0]


def quarter_end_passed(state: PlanSource, on: date) -> tuple[Quarter, date] | None:
    """`quarter_passed` and its last day."""
    quarter, last_day = _quarter_before(on)
    return (quarter, last_day) if last_day >= state.start else None


@lru_cache(maxsize=4096)
def _quarter_before(on: date) -> tuple[Quarter, date]:
    """The calendar quarter before `on`'s and its last day (judged on every event: kept by day)."""
    quarter = Quarter.of(Quarter.of(on).first_day - timedelta(days=1))
    return quarter, quarter.last_day


def against_profile(planned: Decimal, actual: Decimal) -> str:
    """Cumulative spend `actual` against the cumulative plan `planned` at a quarter's end:
    `behind` (more than `PROFILE_TOLERANCE` below it), `ahead` (more than that above it; spend
    against a plan of 0 is ahead), `on_profile`, or `not_judged` when neither figure reaches
    `PROFILE_SMALLEST` (a few pounds either way say nothing)."""
    if planned < PROFILE_SMALLEST and actual < PROFILE_SMALLEST:
        return "not_judged"
    if actual < planned * (1 - PROFILE_TOLERANCE):
        return "behind"
    if actual > planned * (1 + PROFILE_TOLERANCE):
        return "ahead"
    return "on_profile"

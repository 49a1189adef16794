"""A project's spend profile against its spend (R-43): `ktpledger profile` and
`GET /projects/{project}/profile`. Per budget line and calendar quarter of the period: the plan
(`domain/profile.planned_in_quarter`), the net spend dated in the quarter (claims less reversals,
`reconciliation.quarter_spend`, as the claim pack counts it), both cumulated, and at each quarter
end the day has passed whether the spend is behind or ahead of the plan
(`profile.against_profile`); and each line's forecast at the end date (R-41, `alerts.forecast_at_end`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.alerts import forecast_at_end
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.profile import against_profile, line_profile, period_quarters, planned_in_quarter
from ktpledger.domain.project import ProjectState
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.reconciliation import quarter_spend
from ktpledger.domain.recorded import RecordedEvent, fold_events, located
from ktpledger.domain.rules import Category


@dataclass(frozen=True)
class QuarterPlan:
    """One quarter of one line: planned and spent in it, and cumulated to its end."""

    quarter: Quarter
    planned: Decimal
    spent: Decimal
    cumulative_planned: Decimal
    cumulative_spent: Decimal
    status: str  # behind | ahead | on_profile | not_judged (its end passed); in_progress | to_come

    def to_json(self) -> dict[str, Any]:
        return {
            "quarter": str(self.quarter),
            "planned": format_money(self.planned),
            "spent": format_money(self.spent),
            "cumulative_planned": format_money(self.cumulative_planned),
            "cumulative_spent": format_money(self.cumulative_spent),
            "status": self.status,
        }


@dataclass(frozen=True)
class LinePlan:
    category: Category
    budget: Decimal
    rule: str  # even | in_quarters | amounts
    profiled_on: date | None  # the day of the profile in force (None: the default)
    spent: Decimal
    planned_to_date: Decimal
    forecast: Decimal
    quarters: tuple[QuarterPlan, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "budget": format_money(self.budget),
            "rule": self.rule,
            "profiled_on": None if self.profiled_on is None else self.profiled_on.isoformat(),
            "spent": format_money(self.spent),
            "planned_to_date": format_money(self.planned_to_date),
            "forecast": format_money(self.forecast),
            "quarters": [quarter.to_json() for quarter in self.quarters],
        }


@dataclass(frozen=True)
class ProjectProfile:
    project: str
    as_of: date
    start: date
    end: date
    lines: tuple[LinePlan, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "as_of": self.as_of.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "lines": [line.to_json() for line in self.lines],
        }


def project_profile(
    stream: Sequence[RecordedEvent], project: str, *, today: date, known: Sequence[str] = ()
) -> ProjectProfile:
    """The profile of `project` from its recorded `stream` (version order), judged as of `today`
    from the events dated on or before it (as `allowances --as-of` folds them): an unknown project
    is refused under R-31 (naming the nearest of `known`), and so is one with no offer by `today`."""
    if not stream:
        raise unknown_project(project, known, None)
    state = ProjectState(project=project, track_keys=False)
    with located(stream):
        events = [(item.event(), item.version, item.hash) for item in stream]
        fold_events(events, state.apply, until=today)  # the ledger as it stood on `today`
    if not state.exists:
        raise RuleViolation(
            "R-31", f"project {project} had no grant offer by {today.isoformat()}", field="project"
        )
    dated = [(event, version) for event, version, _ in events if event.date <= today]
    quarters = period_quarters(state)
    spend = {quarter: quarter_spend(dated, quarter.first_day, quarter.last_day) for quarter in quarters}
    lines = []
    for category in state.claimable():
        cumulative_planned = cumulative_spent = ZERO
        rows = []
        for quarter in quarters:
            planned = planned_in_quarter(state, category, quarter)
            spent = spend[quarter].get(category, ZERO)
            cumulative_planned += planned
            cumulative_spent += spent
            if quarter.last_day < today:
                status = against_profile(cumulative_planned, cumulative_spent)
            else:
                status = "in_progress" if quarter.first_day <= today else "to_come"
            rows.append(QuarterPlan(quarter, planned, spent, cumulative_planned, cumulative_spent, status))
        profile, profiled_on = line_profile(state, category)
        spent_now = state.spent.get(category, ZERO)
        forecast = forecast_at_end(state, category, spent_now, on=min(today, state.end))
        lines.append(
            LinePlan(
                category=category,
                budget=state.budget.get(category, ZERO),
                rule=profile.rule,
                profiled_on=profiled_on,
                spent=spent_now,
                planned_to_date=forecast.planned_to_date,
                forecast=forecast.forecast,
                quarters=tuple(rows),
            )
        )
    return ProjectProfile(project, today, state.start, state.end, tuple(lines))

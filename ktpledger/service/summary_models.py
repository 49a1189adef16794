"""The dashboard's read models: the project list's rows and one project's summary.

`service/project_summary.py` builds them; each has one JSON presenter, `to_json()`, the shape of
`GET /projects` and `GET /projects/{project}/summary`; the dashboard's pages and charts read their
fields. Money is a `Decimal` to the penny, as the JSON writes it, so a figure a page shows is the
figure the JSON gives; shares (`elapsed`, `used`, `spent_share`) are `Decimal`s to four places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ktpledger.domain.alert_views import ShownAlert
from ktpledger.domain.money import format_money
from ktpledger.domain.rules import BusinessType, Category, LimitKind, Methodology
from ktpledger.domain.timeline import Phase

FIGURES = ("budget", "spent", "eligible", "ineligible", "remaining")
TOTALS = (*FIGURES, "forecast")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _share(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}"


class ProjectStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNREADABLE = "unreadable"  # its offer or decisions cannot be read: listed, with the error


@dataclass(frozen=True)
class ProjectFacts:
    """Reference, title, parties, status and period of a folded project; `grant_rate` to two
    places, as every reader writes it."""

    project: str
    title: str
    knowledge_base: str
    business: str
    methodology: Methodology
    business_type: BusinessType
    status: ProjectStatus
    closed_on: date | None
    start: date
    end: date
    months: int
    grant_rate: Decimal
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "title": self.title,
            "knowledge_base": self.knowledge_base,
            "business": self.business,
            "methodology": self.methodology.value,
            "business_type": self.business_type.value,
            "status": self.status.value,
            "closed_on": _day(self.closed_on),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": self.months,
            "grant_rate": f"{self.grant_rate:.2f}",
            "version": self.version,
        }


@dataclass(frozen=True)
class PeriodPlace:
    """Where a project stands in its period on the reader's day, as the project list shows it."""

    phase: Phase
    month: int
    describe: str

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase.value, "month": self.month, "describe": self.describe}


@dataclass(frozen=True)
class ProjectRow:
    """One row of `GET /projects`. `facts` is None for a project whose offer or decisions cannot be
    read (`status` unreadable, with its `error`), and, defensively, for a stream with no offer;
    `period` is None for a project with no offer yet. `projection` is the projector's state of it."""

    project: str
    status: ProjectStatus
    projection: Mapping[str, Any]
    open_alerts: int
    facts: ProjectFacts | None = None
    period: PeriodPlace | None = None
    error: Mapping[str, Any] | None = None

    @property
    def title(self) -> str | None:
        return None if self.facts is None else self.facts.title

    @property
    def knowledge_base(self) -> str | None:
        return None if self.facts is None else self.facts.knowledge_base

    @property
    def business(self) -> str | None:
        return None if self.facts is None else self.facts.business

    @property
    def end(self) -> date | None:
        return None if self.facts is None else self.facts.end

    @property
    def ended_not_closed(self) -> bool:
        return self.period is not None and self.period.phase is Phase.ENDED

    def to_json(self) -> dict[str, Any]:
        if self.facts is not None:
            row = self.facts.to_json()
        else:
            row = {"project": self.project, "title": None, "status": self.status.value, "end": None}
            if self.status is ProjectStatus.UNREADABLE:
                row["error"] = self.error
        row["projection"] = self.projection
        if self.period is not None:
            row["period"] = self.period.to_json()
            row["ended_not_closed"] = self.ended_not_closed
        row["open_alerts"] = self.open_alerts
        return row


@dataclass(frozen=True)
class SummaryPeriod:
    """Where the project stands on the reader's day: month N of M, the share elapsed, how long
    past its end date, its last spend and whether none was recorded for three months."""

    phase: Phase
    month: int
    months: int
    elapsed: Decimal
    describe: str
    days_past_end: int
    last_spend: date | None
    no_spend_for_three_months: bool

    @property
    def ended_not_closed(self) -> bool:
        return self.phase is Phase.ENDED

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "month": self.month,
            "months": self.months,
            "elapsed": _share(self.elapsed),
            "describe": self.describe,
            "ended_not_closed": self.ended_not_closed,
            "days_past_end": self.days_past_end,
            "last_spend": _day(self.last_spend),
            "no_spend_for_three_months": self.no_spend_for_three_months,
        }


@dataclass(frozen=True)
class SummaryLine:
    """An allowance line (as `GET /allowances` gives it) with its forecast at the end date and the
    share of its budget used (None with no budget; at most 9.99)."""

    category: Category
    budget: Decimal
    limit: Decimal | None
    limit_kind: LimitKind
    spent: Decimal
    remaining: Decimal
    eligible: Decimal
    ineligible: Decimal
    forecast: Decimal
    forecast_over_budget: bool
    used: Decimal | None

    @property
    def derived(self) -> bool:
        return self.limit_kind is LimitKind.DERIVED

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "budget": format_money(self.budget),
            "limit": None if self.limit is None else format_money(self.limit),
            "limit_kind": self.limit_kind.value,
            "spent": format_money(self.spent),
            "remaining": format_money(self.remaining),
            "eligible": format_money(self.eligible),
            "ineligible": format_money(self.ineligible),
            "derived": self.derived,
            "forecast": format_money(self.forecast),
            "forecast_over_budget": self.forecast_over_budget,
            "used": _share(self.used),
        }


@dataclass(frozen=True)
class SpendPoint:
    """Every line's spend and budget at the end of month `month` (its last day `to`)."""

    month: int
    to: date
    cumulative: Decimal
    budget: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "to": self.to.isoformat(),
            "cumulative": format_money(self.cumulative),
            "budget": format_money(self.budget),
        }


@dataclass(frozen=True)
class SpendSummary:
    """The headline figures (README, "Headline figures") and spend by month."""

    budget: Decimal
    spent: Decimal
    spent_share: Decimal | None
    forecast: Decimal
    forecast_excess: Decimal
    forecast_over_budget: bool
    includes_derived: bool
    series: tuple[SpendPoint, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": format_money(self.budget),
            "spent": format_money(self.spent),
            "spent_share": _share(self.spent_share),
            "forecast": format_money(self.forecast),
            "forecast_excess": format_money(self.forecast_excess),
            "forecast_over_budget": self.forecast_over_budget,
            "includes_derived": self.includes_derived,
            "series": [point.to_json() for point in self.series],
        }


@dataclass(frozen=True)
class DecisionShown:
    """An LMC decision as the dashboard lists it, with a sentence saying what it did."""

    version: int
    date: date
    key: str | None
    kind: str | None
    summary: str
    minute: str | None
    justification: str | None
    approved_by: str | None
    recorded_by: Mapping[str, Any] | None = None  # who recorded it (`RecordedBy.to_json`), if kept

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": self.date.isoformat(),
            "key": self.key,
            "kind": self.kind,
            "summary": self.summary,
            "minute": self.minute,
            "justification": self.justification,
            "approved_by": self.approved_by,
            "recorded_by": None if self.recorded_by is None else dict(self.recorded_by),
        }


@dataclass(frozen=True)
class ProjectSummary:
    """`GET /projects/{project}/summary`: the dashboard's project page, judged as of `as_of`.
    `revision` changes whenever anything the page shows may have changed; `totals` holds each of
    TOTALS, in that order."""

    revision: str
    facts: ProjectFacts
    as_of: date
    period: SummaryPeriod
    projection_version: int
    projection: Mapping[str, Any]
    catching_up: bool
    lines: tuple[SummaryLine, ...]
    totals: Mapping[str, Decimal]
    spend: SpendSummary
    open_alerts: tuple[ShownAlert, ...]
    decisions: tuple[DecisionShown, ...]
    grant_paid: Decimal
    parental_leave: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            **self.facts.to_json(),
            "as_of": self.as_of.isoformat(),
            "month": self.period.month,
            "period": self.period.to_json(),
            "projection_version": self.projection_version,
            "projection": self.projection,
            "catching_up": self.catching_up,
            "lines": [line.to_json() for line in self.lines],
            "totals": {name: format_money(amount) for name, amount in self.totals.items()},
            "spend": self.spend.to_json(),
            "open_alerts": [alert.to_json() for alert in self.open_alerts],
            "decisions": [decision.to_json() for decision in self.decisions],
            "grant_paid": format_money(self.grant_paid),
            "parental_leave": format_money(self.parental_leave),
        }

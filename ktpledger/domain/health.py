"""A project's health (R-47): red, amber or green, with the reasons behind it, judged from the
ledger alone as of a day. It answers the KTP office's question "which projects need us this week,
and why", one project at a time; the portfolio lists every project's.

Each reason is one of the conditions the rules already judge (`alerts.conditions`,
`alerts.clock_findings`), or one of two judged here, with the figures behind it and the sentence
`alert_views.message` gives people. A reason's `category` and `kind` say which figure it stands on
(the budget line, or the project when empty), so a reader can link to it.

- **red**, the project needs the office now:
  - `over_budget`, `over_cap`: a line's spend above its budget, or above a maximum (R-41);
  - `claim_overdue` (R-45), `invoice_overdue` (R-44);
  - `ended_not_closed` more than `LATE_CLOSURE_DAYS` (90) days after the end date (R-36).
- **amber**, it will need the office soon:
  - `forecast_overspend`, `forecast_underspend`: the line's spend plus the rest of its spend
    profile ends above its budget, or more than 10% below it (R-41, R-43);
  - `behind_profile`, `ahead_of_profile`: cumulative spend more than 10% from the profile at the
    latest quarter end (R-43);
  - `behind_time`, `ahead_of_time`: the share of the budget spent is more than `PACE_GAP` (15
    percentage points) below or above the share of the period elapsed (the project's lines, the
    derived overheads left out, from month `PACE_FROM_MONTH` of a running project);
  - `claim_due`, `invoice_due`: a deadline within 10 days;
  - `ended_not_closed` up to 90 days after the end date;
  - `no_spend`: no spend recorded for three months on a running project (`Position.quiet`);
  - `sub_limit`, `ineligible_claim`: spend the reconciliation will not fund (R-13 to R-15).
- **green**: none of these.

Decisions where the issue was silent: threshold alerts (80%, 90% of a line) are not reasons: they
say a line is being used, which is the plan; the forecasts are judged without the stored alerts'
hysteresis (the ledger alone decides, not what was raised before); a closed project is green
unless an invoice is overdue (the only thing still asked of it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from ktpledger.domain.alert_views import message
from ktpledger.domain.alerts import AlertKind, Conditions, clock_findings, timed_line_conditions
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.events import quarter_span
from ktpledger.domain.health_facts import HealthFacts, facts_of
from ktpledger.domain.health_levels import (
    Health as Health,  # re-exported: the levels live apart, cheap to load
)
from ktpledger.domain.invoices import CLAIM_DUE_DAYS, DeadlineSource
from ktpledger.domain.labels import gbp
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import LimitKind
from ktpledger.domain.timeline import QUIET_MONTHS, Phase, position

PACE_GAP = Decimal("0.15")
PACE_FROM_MONTH = 3
LATE_CLOSURE_DAYS = 90
SHARE_PLACES = Decimal("0.0001")


class HealthKind(StrEnum):
    """The reasons judged here rather than by `alerts.conditions`."""

    BEHIND_TIME = "behind_time"
    AHEAD_OF_TIME = "ahead_of_time"
    NO_SPEND = "no_spend"


# Reasons in the order a reader should take them: the first of a project's is its top reason.
RED_KINDS: tuple[str, ...] = (
    AlertKind.OVER_CAP,
    AlertKind.OVER_BUDGET,
    AlertKind.CLAIM_OVERDUE,
    AlertKind.INVOICE_OVERDUE,
    AlertKind.ENDED_NOT_CLOSED,
)
AMBER_KINDS: tuple[str, ...] = (
    AlertKind.ENDED_NOT_CLOSED,
    AlertKind.FORECAST_OVERSPEND,
    AlertKind.CLAIM_DUE,
    AlertKind.INVOICE_DUE,
    AlertKind.FORECAST_UNDERSPEND,
    AlertKind.BEHIND_PROFILE,
    AlertKind.AHEAD_OF_PROFILE,
    HealthKind.BEHIND_TIME,
    HealthKind.AHEAD_OF_TIME,
    HealthKind.NO_SPEND,
    AlertKind.SUB_LIMIT,
    AlertKind.INELIGIBLE_CLAIM,
)
RULES: dict[str, str] = {
    AlertKind.OVER_CAP: "R-41",
    AlertKind.OVER_BUDGET: "R-41",
    AlertKind.CLAIM_OVERDUE: "R-45",
    AlertKind.CLAIM_DUE: "R-45",
    AlertKind.INVOICE_OVERDUE: "R-44",
    AlertKind.INVOICE_DUE: "R-44",
    AlertKind.ENDED_NOT_CLOSED: "R-36",
    AlertKind.FORECAST_OVERSPEND: "R-41",
    AlertKind.FORECAST_UNDERSPEND: "R-43",
    AlertKind.BEHIND_PROFILE: "R-43",
    AlertKind.AHEAD_OF_PROFILE: "R-43",
    HealthKind.BEHIND_TIME: "R-47",
    HealthKind.AHEAD_OF_TIME: "R-47",
    HealthKind.NO_SPEND: "R-47",
}


@dataclass(frozen=True)
class HealthReason:
    """Why a project is red or amber: the condition (`kind`), the line it stands on (`category`,
    "" for the project) and its `subject` (a quarter, an invoice, a claim), the figures behind it,
    a sentence for people and the rule."""

    severity: Health
    kind: str
    category: str
    subject: str
    message: str
    rule: str
    figures: dict[str, Any] = field(default_factory=dict)

    def order(self) -> tuple[int, int, str, str]:
        kinds = RED_KINDS if self.severity is Health.RED else AMBER_KINDS
        return (0 if self.severity is Health.RED else 1, kinds.index(self.kind), self.category, self.subject)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> HealthReason:
        """The reason `to_json` wrote."""
        return cls(
            Health(document["severity"]),
            str(document["kind"]),
            document["category"] or "",
            document["subject"] or "",
            str(document["message"]),
            str(document["rule"]),
            dict(document["figures"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "category": self.category or None,
            "subject": self.subject or None,
            "message": self.message,
            "rule": self.rule,
            "figures": dict(self.figures),
        }


@dataclass(frozen=True)
class ProjectHealth:
    """A project's status as of a day and its reasons, the most pressing first."""

    as_of: date
    status: Health
    reasons: tuple[HealthReason, ...]

    @property
    def top_reason(self) -> HealthReason | None:
        return self.reasons[0] if self.reasons else None


def project_health(state: ProjectState, lines: Iterable[Allowance], *, today: date) -> ProjectHealth:
    """The project's health as of `today` (module docstring); `lines` are its allowances
    (`allowances.allowances(state)`)."""
    facts = facts_of(state, lines)
    if facts is None:
        return ProjectHealth(as_of=today, status=Health.GREEN, reasons=())
    return health_of(facts, today)


def health_of(facts: HealthFacts, today: date) -> ProjectHealth:
    """The health as of `today` of the project whose facts these are (`health_facts.facts_of`): its
    standing conditions, the conditions judged as of the day (forecasts and the profile's quarter
    ends, `alerts.timed_line_conditions`), the calendar's findings and the pace."""
    lines = facts.allowances()
    found: Conditions = {}
    if not facts.closed:
        found |= facts.standing
        on = min(today, facts.end)
        for line in lines:
            if line.limit_kind is not LimitKind.DERIVED and line.spent > 0:
                found |= timed_line_conditions(facts, line, on)
    found |= clock_findings(facts, today)
    reasons = [
        reason
        for key, figures in found.items()
        if (reason := _reason(key.kind, key.category, key.subject, figures))
    ]
    reasons += _pace(facts, lines, today)
    reasons.sort(key=HealthReason.order)
    status = Health.GREEN
    if reasons:
        status = reasons[0].severity
    return ProjectHealth(as_of=today, status=status, reasons=tuple(reasons))


def severity(kind: str, figures: Mapping[str, Any]) -> Health | None:
    """How pressing an alert of `kind` with `figures` is (module docstring): red, amber, or None
    for a kind that is no reason (a threshold: a line in use is the plan)."""
    if kind == AlertKind.ENDED_NOT_CLOSED:
        late = int(figures.get("days_since_end", 0)) > LATE_CLOSURE_DAYS
        return Health.RED if late else Health.AMBER
    if kind in RED_KINDS:
        return Health.RED
    if kind in AMBER_KINDS:
        return Health.AMBER
    return None


def _reason(kind: str, category: str, subject: str, figures: dict[str, Any]) -> HealthReason | None:
    found = severity(kind, figures)
    if found is None:
        return None
    rule = str(figures.get("rule") or RULES.get(kind, "R-41"))
    return HealthReason(found, kind, category, subject, message(kind, category, figures), rule, figures)


def _pace(facts: HealthFacts, lines: list[Allowance], today: date) -> list[HealthReason]:
    """`behind_time` / `ahead_of_time` and `no_spend`, judged on a running project."""
    last_spend = facts.latest_spend
    where = position(facts, today, last_spend=last_spend)
    if where.phase is not Phase.RUNNING:
        return []
    found: list[HealthReason] = []
    if where.quiet:
        since = last_spend or facts.start
        figures: dict[str, Any] = {
            "last_spend": None if last_spend is None else last_spend.isoformat(),
            "since": since.isoformat(),
            "as_of": today.isoformat(),
            "months": QUIET_MONTHS,
        }
        said = (
            f"No spend has been recorded since {since.isoformat()} ({QUIET_MONTHS} months or more before "
            f"{today.isoformat()}): check the finance system's exports are being imported."
        )
        found.append(HealthReason(Health.AMBER, HealthKind.NO_SPEND, "", "", said, "R-47", figures))
    counted = [line for line in lines if line.limit_kind is not LimitKind.DERIVED]
    budget = sum((line.budget for line in counted), ZERO)
    spent = sum((line.spent for line in counted), ZERO)
    if where.month < PACE_FROM_MONTH or budget <= 0:
        return found
    share = spent / budget
    gap = share - where.elapsed
    if abs(gap) <= PACE_GAP:
        return found
    kind = HealthKind.BEHIND_TIME if gap < 0 else HealthKind.AHEAD_OF_TIME
    figures = {
        "spent": format_money(spent),
        "budget": format_money(budget),
        "spent_share": str(share.quantize(SHARE_PLACES)),
        "elapsed": str(where.elapsed.quantize(SHARE_PLACES)),
        "month": where.month,
        "months": where.months,
        "gap": str(gap.quantize(SHARE_PLACES)),
        "as_of": today.isoformat(),
    }
    way = "behind" if gap < 0 else "ahead of"
    said = (
        f"{gbp(spent)} of the {gbp(budget)} budget is spent ({share:.0%}) in month {where.month} of "
        f"{where.months} ({where.elapsed:.0%} of the period): spend is {abs(gap):.0%} {way} time, more "
        f"than the {PACE_GAP:.0%} the office allows; check the plan with the LMC."
    )
    found.append(HealthReason(Health.AMBER, kind, "", "", said, "R-47", figures))
    return found


@dataclass(frozen=True)
class Deadline:
    """A date the office must meet: a quarter's grant claim (`claim`, R-45) or a business invoice's
    payment (`invoice`, R-44); `subject` is the quarter or the invoice number."""

    due: date
    kind: str
    subject: str

    def to_json(self) -> dict[str, Any]:
        return {"due": self.due.isoformat(), "kind": self.kind, "subject": self.subject}


class ClaimsSource(DeadlineSource, Protocol):
    """What `next_deadline` reads: the deadlines' source and the next quarter to claim."""

    def next_claim_quarter(self) -> str: ...


def next_deadline(state: ClaimsSource) -> Deadline | None:
    """The earliest deadline not yet met, overdue ones included: the next quarter's grant claim
    (due `CLAIM_DUE_DAYS` after the quarter's end, while the project is open and the quarter is in
    its period) and every invoice to the business not fully paid."""
    if not state.exists:
        return None
    found: list[Deadline] = []
    if not state.closed:
        quarter = state.next_claim_quarter()
        label, first, last = quarter_span(quarter, rule="R-45")
        if first <= state.end:
            found.append(Deadline(last + timedelta(days=CLAIM_DUE_DAYS), "claim", label))
    found += [
        Deadline(invoice.due, "invoice", invoice.number)
        for invoice in state.invoices.values()
        if invoice.outstanding > 0
    ]
    return min(found, key=lambda deadline: (deadline.due, deadline.kind, deadline.subject), default=None)

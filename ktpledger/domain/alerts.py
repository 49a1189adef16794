"""Which alert conditions hold for a project (R-41); raising and resolving them is the projection's job.

An alert is identified by (category, kind, subject): the subject tells apart the 80% and 90%
thresholds, the three sub-limits and each ineligible claim. A condition that holds raises an alert
once; it stays open while the condition holds and is resolved when it stops holding. No condition
holds on a line with no spend.

Decisions where the guidance leaves a choice:
- thresholds are judged only on a line with a budget: spend on a line whose budget is 0 is over
  budget (or over a maximum), never "at 80% of nothing";
- at `ProjectClosed` the alerts that ask for no action any more (thresholds and forecasts) stop
  holding and resolve with the reason `closed`; what the reconciliation finds ineligible (over
  budget, over a maximum, sub-limits, ineligible claims) stays open as its findings;
- at `ProjectReopened` (R-38) the conditions are judged again as for an open project: a threshold
  or forecast that holds is raised anew (a new alert at the reopening's version; the one resolved
  at closure stays resolved, as the ledger saw it), and the next closure resolves it again;
- an `OfferAmended` (R-37) judges every line again against the amended offer; what it ends is
  resolved with the reason `offer_amended`;
- `forecast_overspend` (`forecast_at_end`): month n of the project is the calendar month n-1
  months after the start month, capped at the project's months; from month 3 on the forecast is
  spent to date plus what the line's spend profile (R-43, `domain/profile.py`; even by month when
  none is recorded) still plans after month n, and it holds when that exceeds the budget. Hysteresis: once
  raised, it holds until the forecast falls to `FORECAST_RESOLVE_AT` (95%) of the budget or below,
  so a forecast hovering at the budget does not raise and resolve by turns;
- `forecast_underspend` (issue 15): the same forecast (`forecast_at_end`, spend to date plus the
  rest of the profile) more than `UNDERSPEND_SHARE` (10%) below the budget, so grant the line will
  never claim. Judged from the third month, on an open project, only on a line with a budget of at
  least `UNDERSPEND_SMALLEST_BUDGET` (1,000.00) whose shortfall (budget - forecast) is at least
  `UNDERSPEND_SMALLEST_SHORTFALL` (500.00): a few hundred pounds short on a small line asks for no
  action. Hysteresis: once raised it holds until the forecast is back to within half the share
  (95%) of the budget. Like every condition it is not judged on a line with no spend. The share is
  a constant of the rules, not a setting: the stored alerts must follow from the ledger alone
  (replay equals the live run wherever it runs), and a setting read per process could differ
  between the worker that raised an alert and the replay that rebuilds it;
- `behind_profile` / `ahead_of_profile` (issue 15, R-43): at the latest quarter end of the period
  the ledger's clock has passed (`profile.quarter_passed`), the line's cumulative spend to that day
  (`profile.spent_to`, each claim and reversal by its own date) against its cumulative plan
  (`profile.planned_to`), judged by `profile.against_profile`, the function `ktpledger profile`
  shows: more than 10% below is behind, more than 10% above ahead, nothing while both are below
  100.00. One alert per line and kind (no subject): it stays open while each later quarter end finds
  the same, its current figures those of the latest quarter end, and resolves when a quarter end
  finds the line within 10% (or the other way), or at closure. The figures are the ledger's as it
  stands: a cost recorded late but dated before the quarter end counts there, so it may resolve
  the alert before the next quarter end. The period's last quarter is never passed by the ledger's
  clock (it stops at the end date): the closure judges the end;
- the clock of the stored alerts is the ledger's: the latest date among the project's events,
  capped at its end date, so `replay` from the ledger alone always equals the live run. Readers
  judge the same rule as of today (`forecast_at_end(..., on=today)`, `clock_findings`), which the
  ledger alone cannot know, and they never store what they judge.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache, partial
from typing import Any, Protocol

from ktpledger.domain.allowances import Allowance, Exclusions, associate_travel_keys
from ktpledger.domain.events import ClaimReversed, Event, LMCDecision, OfferAmended, ProjectClosed
from ktpledger.domain.invoices import DUE_WARNING_DAYS, DeadlineSource, claims_not_submitted
from ktpledger.domain.money import ZERO, format_money, round_penny_half_up
from ktpledger.domain.profile import (
    PROFILE_TOLERANCE,
    PlanSource,
    against_profile,
    planned_split,
    planned_to,
    project_month,
    quarter_end_passed,
    spent_to,
)
from ktpledger.domain.project import ASSOCIATE_TRAVEL, Claim, ProjectState
from ktpledger.domain.quarters import Quarter
from ktpledger.domain.rules import Category, LimitKind, RuleSet
from ktpledger.domain.timeline import forecast_month

THRESHOLDS = (Decimal("0.80"), Decimal("0.90"))
_THRESHOLD_SUBJECTS = tuple(
    (threshold, f"{threshold:.2f}") for threshold in THRESHOLDS
)  # the alerts' subjects
FORECAST_FROM_MONTH = 3
FORECAST_RESOLVE_AT = Decimal("0.95")  # an open forecast alert resolves at 95% of the budget or below
# forecast_underspend (issue 15): raised when the forecast is more than this share below the budget,
# resolved when it is back within half of it; judged only on a line with at least this budget, and
# raised only for at least this shortfall (Decision: less asks a finance officer for no action).
UNDERSPEND_SHARE = Decimal("0.10")
UNDERSPEND_SMALLEST_BUDGET = Decimal(1000)
UNDERSPEND_SMALLEST_SHORTFALL = Decimal(500)


class AlertKind(StrEnum):
    THRESHOLD = "threshold"
    OVER_BUDGET = "over_budget"
    OVER_CAP = "over_cap"
    SUB_LIMIT = "sub_limit"
    INELIGIBLE_CLAIM = "ineligible_claim"
    FORECAST_OVERSPEND = "forecast_overspend"
    FORECAST_UNDERSPEND = "forecast_underspend"  # issue 15: grant the line will never claim
    BEHIND_PROFILE = "behind_profile"  # issue 15: at a quarter end, against the profile
    AHEAD_OF_PROFILE = "ahead_of_profile"
    ENDED_NOT_CLOSED = "ended_not_closed"  # judged by readers as of today, never stored
    # The receivables' deadlines (R-44), judged by readers as of today, never stored.
    INVOICE_DUE = "invoice_due"
    INVOICE_OVERDUE = "invoice_overdue"
    CLAIM_DUE = "claim_due"
    CLAIM_OVERDUE = "claim_overdue"  # a quarter not claimed (ClaimSubmitted) 30 days after its end


# The kinds judged by readers as of a day and never stored (`clock_findings`).
CLOCK_KINDS = frozenset(
    {
        AlertKind.ENDED_NOT_CLOSED,
        AlertKind.INVOICE_DUE,
        AlertKind.INVOICE_OVERDUE,
        AlertKind.CLAIM_DUE,
        AlertKind.CLAIM_OVERDUE,
    }
)

# Alerts that ask for no action once the project is closed: they resolve with the reason `closed`.
RESOLVED_AT_CLOSURE = frozenset(
    {
        AlertKind.THRESHOLD,
        AlertKind.FORECAST_OVERSPEND,
        AlertKind.FORECAST_UNDERSPEND,
        AlertKind.BEHIND_PROFILE,
        AlertKind.AHEAD_OF_PROFILE,
    }
)


# The kinds `timed_line_conditions` judges as of a day; the others of a line hold whatever the day.
TIMED_KINDS = frozenset(
    {
        AlertKind.FORECAST_OVERSPEND,
        AlertKind.FORECAST_UNDERSPEND,
        AlertKind.BEHIND_PROFILE,
        AlertKind.AHEAD_OF_PROFILE,
    }
)


@dataclass(frozen=True, order=True)
class AlertKey:
    """What makes two alerts the same alert."""

    category: str
    kind: str
    subject: str = ""


Conditions = dict[AlertKey, dict[str, Any]]


@lru_cache(maxsize=4096, typed=True)
def _key(category: str, kind: AlertKind, subject: str = "") -> AlertKey:
    """An alert of a line as a whole, made once (the fold judges a line's on every event)."""
    return AlertKey(category, kind, subject)


# A condition that holds with its figures still to be written out (`described`): what the
# projector's fold keeps of a line judged again on every event, which reads the figures only of the
# alerts an event raises and, later, of those still open (issue 18: most are never read). Each
# captures the values of its judgement, never the state, which the next event changes.
Figures = Callable[[], dict[str, Any]]
Judged = dict[AlertKey, Figures]


def described(judged: Judged) -> Conditions:
    """The conditions `judged` holds with their figures, in the same order."""
    return {key: figures() for key, figures in judged.items()}


def _given(detail: dict[str, Any]) -> Figures:
    """Figures already written out, as `Judged` holds them."""
    return lambda: detail


def clock(state: ProjectState, latest: date) -> date:
    """The ledger's clock for a project: its latest event date, no later than its end."""
    return min(latest, state.end) if state.exists else latest


@dataclass(frozen=True)
class Forecast:
    """A line's spend at the end date as its spend profile sees it (R-41, R-43): spend to date plus
    what the profile still plans after the month of `as_of`."""

    as_of: date
    month: int  # the project's month on `as_of`, 1 .. months
    months: int
    spent: Decimal
    budget: Decimal
    planned_to_date: Decimal  # the profile's plan to the end of `as_of`'s month
    planned_rest: Decimal  # the profile's plan for the months after it
    forecast: Decimal  # spent + planned_rest

    @property
    def judged(self) -> bool:
        """Whether R-41 judges the forecast yet (from the third month on)."""
        return self.month >= FORECAST_FROM_MONTH

    @property
    def excess(self) -> Decimal:
        """How far the forecast is above the budget (0 when within it)."""
        return max(ZERO, self.forecast - self.budget)

    def overspend(self, *, raised: bool = False) -> bool:
        """Whether `forecast_overspend` holds: the forecast is above the budget, or, for an alert
        already raised, still above `FORECAST_RESOLVE_AT` of it (hysteresis)."""
        if not self.judged:
            return False
        if raised:
            return self.forecast > self.budget * FORECAST_RESOLVE_AT
        return self.forecast > self.budget

    @property
    def shortfall(self) -> Decimal:
        """How far the forecast is below the budget (0 when it reaches it): grant never claimed."""
        return max(ZERO, self.budget - self.forecast)

    def underspend(self, *, raised: bool = False) -> bool:
        """Whether `forecast_underspend` holds (`underspends`)."""
        return self.judged and underspends(self.budget, self.forecast, raised=raised)

    def underspend_detail(self) -> dict[str, Any]:
        """The figures of a `forecast_underspend` alert: the forecast's, with the shortfall and the
        share judged."""
        found = self.detail()
        del found["excess"]
        return found | {"shortfall": format_money(self.shortfall), "share": f"{UNDERSPEND_SHARE:.2f}"}

    def detail(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "month": self.month,
            "months": self.months,
            "spent": format_money(self.spent),
            "planned_to_date": format_money(self.planned_to_date),
            "planned_rest": format_money(self.planned_rest),
            "forecast": format_money(self.forecast),
            "budget": format_money(self.budget),
            "excess": format_money(self.excess),
        }


def underspends(budget: Decimal, forecast: Decimal, *, raised: bool = False) -> bool:
    """Whether a forecast is an underspend (judged from the third month, on an open project): the
    budget is at least `UNDERSPEND_SMALLEST_BUDGET` and the forecast is more than
    `UNDERSPEND_SHARE` below it by at least `UNDERSPEND_SMALLEST_SHORTFALL`; for an alert already
    raised, still more than half the share below it (hysteresis)."""
    if budget < UNDERSPEND_SMALLEST_BUDGET:
        return False
    if raised:
        return forecast < budget * (1 - UNDERSPEND_SHARE / 2)
    return forecast < budget * (1 - UNDERSPEND_SHARE) and budget - forecast >= UNDERSPEND_SMALLEST_SHORTFALL


def forecast_at_end(state: PlanSource, category: Category, spent: Decimal, *, on: date) -> Forecast:
    """The forecast at the end date of a line with `spent` so far, judged on `on` (R-41): spend to
    date plus the rest of the line's spend profile (`profile.planned_after`, R-43), so a purchase
    the profile plans raises nothing and one it does not plan counts once, never carried on as a
    monthly rate. The one forecast every reader shows (CLI, API, dashboard, claim pack) and the
    alerts judge."""
    return _forecast(state, category, spent, on, planned_split(state, category, on))


def _forecast(
    state: PlanSource, category: Category, spent: Decimal, on: date, plan: tuple[Decimal, Decimal]
) -> Forecast:
    """`forecast_at_end` from the plan to date and after it (`profile.planned_split`) of `on`."""
    month = forecast_month(state.start, state.months, on)
    return _forecast_of(on, month, state.months, spent, state.budget.get(category, ZERO), plan)


def _forecast_of(
    on: date, month: int, months: int, spent: Decimal, budget: Decimal, plan: tuple[Decimal, Decimal]
) -> Forecast:
    to_date, rest = plan
    return Forecast(
        as_of=on,
        month=month,
        months=months,
        spent=spent,
        budget=budget,
        planned_to_date=to_date,
        planned_rest=rest,
        forecast=spent + rest,
    )


def _forecast_figures(
    on: date,
    month: int,
    months: int,
    spent: Decimal,
    budget: Decimal,
    plan: tuple[Decimal, Decimal],
    *,
    under: bool,
) -> dict[str, Any]:
    """The figures of a forecast alert (`Forecast.detail`, `Forecast.underspend_detail`)."""
    forecast = _forecast_of(on, month, months, spent, budget, plan)
    return forecast.underspend_detail() if under else forecast.detail()


def line_forecast(state: PlanSource, line: Allowance, on: date) -> Forecast:
    """`forecast_at_end` of one allowance line, as every reader shows it. The derived overheads line
    has no profile of its own: its budget is planned evenly by month, and it can never earn more
    than its budget (R-42), so its forecast stops there."""
    if line.limit_kind is not LimitKind.DERIVED:
        return forecast_at_end(state, line.category, line.spent, on=on)
    month = forecast_month(state.start, state.months, on)
    elapsed = max(0, min(project_month(state, on), state.months))
    to_date = round_penny_half_up(line.budget * elapsed / state.months)
    rest = line.budget - to_date
    return Forecast(
        as_of=on,
        month=month,
        months=state.months,
        spent=line.spent,
        budget=line.budget,
        planned_to_date=to_date,
        planned_rest=rest,
        forecast=min(line.spent + rest, line.budget),
    )


def conditions(
    state: ProjectState,
    lines: Iterable[Allowance],
    *,
    on: date,
    raised: Collection[AlertKey] = (),
    claims: bool = True,
) -> Conditions:
    """Every alert condition that holds for the project's lines, with the figures behind it.
    `raised`: the alerts open before (the forecast's hysteresis depends on it). `claims=False`
    leaves out the conditions of single claims (`ineligible_claim`), which `claim_condition` gives
    one claim at a time: a line of thousands of them need not be judged again for each event."""
    return described(judged_conditions(state, lines, on=on, raised=raised, claims=claims))


def judged_conditions(
    state: ProjectState,
    lines: Iterable[Allowance],
    *,
    on: date,
    raised: Collection[AlertKey] = (),
    claims: bool = True,
) -> Judged:
    """`conditions`, each with its figures still to be written out (`Judged`, `described`)."""
    found: Judged = {}
    for line in lines:
        if line.limit_kind is LimitKind.DERIVED or line.spent <= 0:
            continue
        found.update(_line_conditions(state, line, on, raised, claims=claims))
    return found


def claim_condition(state: ProjectState, key: str) -> Conditions:
    """The conditions of the single claim `key` (`ineligible_claim`): those `conditions` gives for
    it. A claim that still counts holds spend on its line, so its line is judged."""
    claim = state.claims.get(key)
    if claim is None or state.offer is None or not state.offer.virtual:
        return {}
    if key not in state.counted.get((claim.category, ASSOCIATE_TRAVEL), ()):
        return {}
    return {AlertKey(claim.category.value, AlertKind.INELIGIBLE_CLAIM, key): _ineligible_claim(claim)}


def _ineligible_claim(claim: Claim) -> dict[str, Any]:
    return {
        "claim": claim.key,
        "amount": format_money(claim.outstanding),
        "rule": "R-14",
        "message": "a virtual business's associate travel is the business's own cost",
    }


def _line_conditions(
    state: ProjectState,
    line: Allowance,
    on: date,
    raised: Collection[AlertKey],
    *,
    timed: bool = True,
    claims: bool = True,
) -> Judged:
    category = line.category.value
    spent, budget = line.spent, line.budget
    found: Judged = {}
    if budget > 0 and not state.closed:
        for threshold, subject in _THRESHOLD_SUBJECTS:
            if spent >= budget * threshold:
                found[_key(category, AlertKind.THRESHOLD, subject)] = partial(_threshold, line, subject)
    if spent > budget:
        found[_key(category, AlertKind.OVER_BUDGET)] = partial(_over_budget, line)
    if line.maximum is not None and spent > line.maximum:
        found[AlertKey(category, AlertKind.OVER_CAP)] = partial(_over_cap, line, line.maximum)
    found.update(_sub_limits(state, line))
    if claims and state.offer is not None and state.offer.virtual and line.exclusions.associate_travel_claims:
        for key in associate_travel_keys(state, line.category):
            found[AlertKey(category, AlertKind.INELIGIBLE_CLAIM, key)] = _given(
                _ineligible_claim(state.claims[key])  # a claim changes: its figures are taken now
            )
    if timed:
        found.update(_timed_line_conditions(state, line, on, raised))
    return found


def standing_conditions(state: ProjectState, lines: Iterable[Allowance]) -> Conditions:
    """The conditions that hold whatever the day (thresholds, over budget or a maximum, sub-limits,
    ineligible claims): `conditions` without the forecasts and the profile's quarter ends, which
    `timed_line_conditions` judges as of a day."""
    found: Judged = {}
    for line in lines:
        if line.limit_kind is LimitKind.DERIVED or line.spent <= 0:
            continue
        found.update(_line_conditions(state, line, state.start, (), timed=False))
    return described(found)


class TimedSource(PlanSource, Protocol):
    """What the conditions judged as of a day read: the plan (`PlanSource`) and whether the project
    is closed."""

    @property
    def closed(self) -> bool: ...


def timed_line_conditions(
    state: TimedSource, line: Allowance, on: date, raised: Collection[AlertKey] = ()
) -> Conditions:
    """The line's conditions that depend on the day `on`: `forecast_overspend`,
    `forecast_underspend` (from the third month) and `behind_profile` / `ahead_of_profile` (at the
    latest quarter end before `on`), on an open project (module docstring)."""
    return described(_timed_line_conditions(state, line, on, raised))


def _timed_line_conditions(
    state: TimedSource, line: Allowance, on: date, raised: Collection[AlertKey]
) -> Judged:
    category = line.category.value
    spent, budget = line.spent, line.budget
    found: Judged = {}
    # This runs on every event: the figure is compared first, and the Forecast built (as
    # `forecast_at_end` builds it) only when its figures are read.
    month = forecast_month(state.start, state.months, on)
    if not state.closed and month >= FORECAST_FROM_MONTH:
        forecast_key = _key(category, AlertKind.FORECAST_OVERSPEND)
        bar = budget * FORECAST_RESOLVE_AT if forecast_key in raised else budget
        plan = planned_split(state, line.category, on)
        forecast = spent + plan[1]
        under_key = _key(category, AlertKind.FORECAST_UNDERSPEND)
        if forecast > bar:
            found[forecast_key] = partial(
                _forecast_figures,
                on,
                month,
                state.months,
                spent,
                state.budget.get(line.category, ZERO),
                plan,
                under=False,
            )
        if underspends(budget, forecast, raised=under_key in raised):
            found[under_key] = partial(
                _forecast_figures,
                on,
                month,
                state.months,
                spent,
                state.budget.get(line.category, ZERO),
                plan,
                under=True,
            )
    if not state.closed:
        found.update(_against_profile(state, line, on))
    return found


def _against_profile(state: PlanSource, line: Allowance, on: date) -> Judged:
    """`behind_profile` or `ahead_of_profile` at the latest quarter end passed (module docstring)."""
    passed = quarter_end_passed(state, on)
    if passed is None:
        return {}
    quarter, last_day = passed
    planned = planned_to(state, line.category, last_day)
    spent = spent_to(state, line.category, last_day)
    judged = against_profile(planned, spent)
    if judged == "behind":
        kind = AlertKind.BEHIND_PROFILE
    elif judged == "ahead":
        kind = AlertKind.AHEAD_OF_PROFILE
    else:
        return {}
    return {_key(line.category.value, kind): partial(_profile_figures, quarter, last_day, planned, spent)}


def _profile_figures(quarter: Quarter, last_day: date, planned: Decimal, spent: Decimal) -> dict[str, Any]:
    return {
        "quarter": str(quarter),
        "quarter_end": last_day.isoformat(),
        "cumulative_planned": format_money(planned),
        "cumulative_spent": format_money(spent),
        "difference": format_money(abs(spent - planned)),
        "tolerance": f"{PROFILE_TOLERANCE:.2f}",
        "rule": "R-43",
    }


# The kinds whose figures follow from the allowance line alone (and, for the forecast, the
# project's period): readers work their current figures out from the line as it stands, so the
# projection keeps `current` only for the others (sub-limits, ineligible claims).
LINE_KINDS = frozenset(
    {
        AlertKind.THRESHOLD,
        AlertKind.OVER_BUDGET,
        AlertKind.OVER_CAP,
        AlertKind.FORECAST_OVERSPEND,
        AlertKind.FORECAST_UNDERSPEND,
    }
)


def _threshold(line: Allowance, subject: str) -> dict[str, Any]:
    return {"threshold": subject, "spent": format_money(line.spent), "budget": format_money(line.budget)}


def _over_budget(line: Allowance) -> dict[str, Any]:
    return {
        "spent": format_money(line.spent),
        "budget": format_money(line.budget),
        "excess": format_money(line.spent - line.budget),
        "message": "the excess is ineligible until an LMC decision covers it",
    }


def _over_cap(line: Allowance, maximum: Decimal) -> dict[str, Any]:
    return {
        "spent": format_money(line.spent),
        "maximum": format_money(maximum),
        "excess": format_money(line.spent - maximum),
        "message": "spend above a maximum is ineligible whatever the LMC decides",
    }


def line_figures(kind: str, subject: str, line: Allowance) -> dict[str, Any] | None:
    """The figures of a threshold, over-budget or over-cap alert on `line` as it now stands (the
    same figures `conditions` gives while the condition holds); None for other kinds."""
    if kind == AlertKind.THRESHOLD:
        return _threshold(line, subject)
    if kind == AlertKind.OVER_BUDGET:
        return _over_budget(line)
    if kind == AlertKind.OVER_CAP and line.maximum is not None:
        return _over_cap(line, line.maximum)
    return None


def _sub_limits(state: ProjectState, line: Allowance) -> Judged:
    rules = state.rules
    assert rules is not None
    excluded = line.exclusions
    category = line.category.value
    found: Judged = {}
    if (
        line.category is Category.ASSOCIATE_DEVELOPMENT
        and excluded.higher_degree_fees > rules.higher_degree_fee_cap
    ):
        found[_key(category, AlertKind.SUB_LIMIT, "higher_degree_fee")] = partial(
            _higher_degree_fee_figures, excluded, rules
        )
    if line.category is Category.TRAVEL_SUBSISTENCE and excluded.conferences > rules.conference_guide:
        found[_key(category, AlertKind.SUB_LIMIT, "conference")] = partial(
            _conference_figures, excluded, rules
        )
    if line.category is Category.CONSUMABLES and excluded.computers > rules.computer_cap:
        found[_key(category, AlertKind.SUB_LIMIT, "computer")] = partial(_computer_figures, excluded, rules)
    return found


def _higher_degree_fee_figures(excluded: Exclusions, rules: RuleSet) -> dict[str, Any]:
    return {
        "sub_limit": "higher_degree_fee",
        "rule": "R-12",
        "claimed": format_money(excluded.higher_degree_fees),
        "cap": format_money(rules.higher_degree_fee_cap),
        "ineligible": format_money(excluded.higher_degree_fee),
    }


def _conference_figures(excluded: Exclusions, rules: RuleSet) -> dict[str, Any]:
    return {
        "sub_limit": "conference",
        "rule": "R-13",
        "conferences": excluded.conferences,
        "guide": rules.conference_guide,
        "ineligible": format_money(excluded.conference),
    }


def _computer_figures(excluded: Exclusions, rules: RuleSet) -> dict[str, Any]:
    return {
        "sub_limit": "computer",
        "rule": "R-15",
        "computers": excluded.computers,
        "cap": rules.computer_cap,
        "ineligible": format_money(excluded.computer),
    }


def resolution_reason(event: Event) -> str:
    """Why the alerts an event ended were resolved: `closed` at ProjectClosed, `lmc_decision`
    when the committee's decision covered them, `offer_amended` when a corrected offer did,
    `reversal` when spend was reversed, otherwise
    `no_longer_holds` (the figures moved back, or the clock moved on)."""
    payload = event.payload
    if isinstance(payload, ProjectClosed):
        return "closed"
    if isinstance(payload, LMCDecision):
        return "lmc_decision"
    if isinstance(payload, OfferAmended):
        return "offer_amended"
    if isinstance(payload, ClaimReversed):
        return "reversal"
    return "no_longer_holds"


def clock_findings(state: DeadlineSource, today: date) -> Conditions:
    """What only the calendar can tell, judged by readers as of `today` and never stored (so
    replay still equals the live run): a project past its end date that is not closed, and the
    receivables' deadlines (`deadline_findings`, R-44)."""
    if not state.exists:
        return {}
    found = deadline_findings(state, today)
    if state.closed or today <= state.end:
        return found
    return found | {
        AlertKey("", AlertKind.ENDED_NOT_CLOSED): {
            "end": state.end.isoformat(),
            "as_of": today.isoformat(),
            "days_since_end": (today - state.end).days,
            "message": "the project's period has ended but it is not closed: record its last costs "
            "and grant payments, then ProjectClosed (R-36)",
        }
    }


# --- the receivables' deadlines (R-44) ----------------------------------------------------------


def deadline_findings(state: DeadlineSource, today: date) -> Conditions:
    """The business's invoices not fully paid, from `DUE_WARNING_DAYS` before their due date
    (`invoice_due`) and after it (`invoice_overdue`), whether or not the project is closed; and
    each ended quarter of the period whose grant claim is not submitted (no `ClaimSubmitted`,
    R-45), from `DUE_WARNING_DAYS` before its due date (`claim_due`) until that date and after it
    (`claim_overdue`), on a project not closed."""
    found: Conditions = {}
    warning = timedelta(days=DUE_WARNING_DAYS)
    for invoice in state.invoices.values():
        if invoice.outstanding <= 0 or today < invoice.due - warning:
            continue
        kind = AlertKind.INVOICE_OVERDUE if today > invoice.due else AlertKind.INVOICE_DUE
        found[AlertKey("", kind, invoice.number)] = {
            "invoice": invoice.number,
            "quarter": invoice.quarter,
            "invoiced_on": invoice.invoiced_on.isoformat(),
            "due": invoice.due.isoformat(),
            "amount": format_money(invoice.amount),
            "paid": format_money(invoice.paid),
            "outstanding": format_money(invoice.outstanding),
            "as_of": today.isoformat(),
            "days": abs((today - invoice.due).days),
            "rule": "R-44",
        }
    # Grant claims: every ended quarter not claimed, due and then overdue.
    for quarter, due in [] if state.closed else claims_not_submitted(state, today):
        if today < due - warning:
            continue
        kind = AlertKind.CLAIM_OVERDUE if today > due else AlertKind.CLAIM_DUE
        found[AlertKey("", kind, quarter)] = {
            "quarter": quarter,
            "due": due.isoformat(),
            "as_of": today.isoformat(),
            "days": abs((due - today).days),
            "rule": "R-45",
        }
    return found

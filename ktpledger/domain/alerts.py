"""Which alert conditions hold for a project (R-41); raising and resolving them is the projection's job.

An alert is identified by (category, kind, subject): the subject tells apart the 80% and 90%
thresholds, the three sub-limits and each ineligible claim. A condition that holds raises an alert
once; it stays open while the condition holds and is resolved when it stops holding. No condition
holds on a line with no spend.

Decision (R-41 `forecast_overspend`): "spend to date" is judged at the project's clock, the latest
date among its events (capped at the end date), so a replay gives the same alerts as the live run.
Month n of the project is the calendar month n-1 months after the start month; from month 3 on, the
forecast is spent / n x the project's months, and an alert is raised when it exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ktpledger.domain.allowances import Allowance
from ktpledger.domain.money import ZERO, format_money, round_penny_half_up
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind

THRESHOLDS = (Decimal("0.80"), Decimal("0.90"))
FORECAST_FROM_MONTH = 3


class AlertKind(StrEnum):
    THRESHOLD = "threshold"
    OVER_BUDGET = "over_budget"
    OVER_CAP = "over_cap"
    SUB_LIMIT = "sub_limit"
    INELIGIBLE_CLAIM = "ineligible_claim"
    FORECAST_OVERSPEND = "forecast_overspend"


@dataclass(frozen=True, order=True)
class AlertKey:
    """What makes two alerts the same alert."""

    category: str
    kind: str
    subject: str = ""


Conditions = dict[AlertKey, dict[str, Any]]


def month_number(start: date, on: date) -> int:
    """Which month of the project `on` falls in (1 for the start month)."""
    return (on.year - start.year) * 12 + on.month - start.month + 1


def clock(state: ProjectState, latest: date) -> date:
    """The project's clock: its latest event date, no later than its end."""
    return min(latest, state.end) if state.exists else latest


def conditions(state: ProjectState, lines: Iterable[Allowance], *, on: date) -> Conditions:
    """Every alert condition that holds for the project's lines, with the figures behind it."""
    found: Conditions = {}
    for line in lines:
        if line.limit_kind is LimitKind.DERIVED or line.spent <= 0:
            continue
        found.update(_line_conditions(state, line, on))
    return found


def _line_conditions(state: ProjectState, line: Allowance, on: date) -> Conditions:
    category = line.category.value
    spent, budget = line.spent, line.budget
    found: Conditions = {}
    for threshold in THRESHOLDS:
        if spent >= budget * threshold:
            found[AlertKey(category, AlertKind.THRESHOLD, f"{threshold:.2f}")] = {
                "threshold": f"{threshold:.2f}",
                "spent": format_money(spent),
                "budget": format_money(budget),
            }
    if spent > budget:
        found[AlertKey(category, AlertKind.OVER_BUDGET)] = {
            "spent": format_money(spent),
            "budget": format_money(budget),
            "excess": format_money(spent - budget),
            "message": "the excess is ineligible until an LMC decision covers it",
        }
    if line.maximum is not None and spent > line.maximum:
        found[AlertKey(category, AlertKind.OVER_CAP)] = {
            "spent": format_money(spent),
            "maximum": format_money(line.maximum),
            "excess": format_money(spent - line.maximum),
            "message": "spend above a maximum is ineligible whatever the LMC decides",
        }
    found.update(_sub_limits(state, line))
    if state.offer is not None and state.offer.virtual:
        for key in line.exclusions.associate_travel_claims:
            claim = state.claims[key]
            found[AlertKey(category, AlertKind.INELIGIBLE_CLAIM, key)] = {
                "claim": key,
                "amount": format_money(claim.outstanding),
                "rule": "R-14",
                "message": "a virtual business's associate travel is the business's own cost",
            }
    forecast = _forecast(state, line, on)
    if forecast is not None:
        found[AlertKey(category, AlertKind.FORECAST_OVERSPEND)] = forecast
    return found


def _sub_limits(state: ProjectState, line: Allowance) -> Conditions:
    rules = state.rules
    assert rules is not None
    excluded = line.exclusions
    category = line.category.value
    found: Conditions = {}
    if (
        line.category is Category.ASSOCIATE_DEVELOPMENT
        and excluded.higher_degree_fees > rules.higher_degree_fee_cap
    ):
        found[AlertKey(category, AlertKind.SUB_LIMIT, "higher_degree_fee")] = {
            "sub_limit": "higher_degree_fee",
            "rule": "R-12",
            "claimed": format_money(excluded.higher_degree_fees),
            "cap": format_money(rules.higher_degree_fee_cap),
            "ineligible": format_money(excluded.higher_degree_fee),
        }
    if line.category is Category.TRAVEL_SUBSISTENCE and excluded.conferences > rules.conference_guide:
        found[AlertKey(category, AlertKind.SUB_LIMIT, "conference")] = {
            "sub_limit": "conference",
            "rule": "R-13",
            "conferences": excluded.conferences,
            "guide": rules.conference_guide,
            "ineligible": format_money(excluded.conference),
        }
    if line.category is Category.CONSUMABLES and excluded.computers > rules.computer_cap:
        found[AlertKey(category, AlertKind.SUB_LIMIT, "computer")] = {
            "sub_limit": "computer",
            "rule": "R-15",
            "computers": excluded.computers,
            "cap": rules.computer_cap,
            "ineligible": format_money(excluded.computer),
        }
    return found


def _forecast(state: ProjectState, line: Allowance, on: date) -> dict[str, Any] | None:
    if state.closed or not state.exists:
        return None
    month = month_number(state.start, on)
    if month < FORECAST_FROM_MONTH:
        return None
    month = min(month, state.months)
    rate = line.spent / month
    forecast = round_penny_half_up(rate * state.months)
    if forecast <= line.budget:
        return None
    return {
        "as_of": on.isoformat(),
        "month": month,
        "months": state.months,
        "spent": format_money(line.spent),
        "monthly_rate": format_money(round_penny_half_up(rate)),
        "forecast": format_money(forecast),
        "budget": format_money(line.budget),
        "excess": format_money(max(ZERO, forecast - line.budget)),
    }

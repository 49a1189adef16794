"""How every reader shows an alert: what was true at the raise, what is true now, in a sentence.

An alert row keeps `detail`, the figures when it was raised (the audit trail). Its current
figures, the figures of its condition as the ledger now stands, come from the allowance line for
thresholds, over-budget and over-cap alerts (`alerts.line_figures`, the same figures the condition
gives) and from the projection's `current` for sub-limits and ineligible claims. Readers (the CLI, the
API, the dashboard, notifications sent later, the claim pack) show the current figures of an open
alert, labelled as such, through `present`; so none of them can say "£296 over" beside a table
that says £995 ineligible.

The ledger's alerts are judged at the ledger's clock; what depends on the calendar is judged here,
as of the reader's `today`, and never stored:
- an open `forecast_overspend` alert's current figures are the forecast as of today
  (`forecast_at_end`), with `holds` saying whether the condition still holds on that day (its
  hysteresis included). It stays open in the ledger's alerts until an event ends it;
- `ended_not_closed` (`alerts.clock_findings`): a project past its end date that is not closed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.alerts import AlertKind, clock_findings, forecast_at_end, line_figures
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.project import ProjectState

RESOLUTION_LABELS = {
    "closed": "resolved when the project was closed",
    "lmc_decision": "resolved by an LMC decision",
    "reversal": "resolved by a reversal",
    "no_longer_holds": "resolved: the condition no longer holds",
}


def present(
    alert: dict[str, Any], *, state: ProjectState | None, line: Allowance | None, today: date
) -> dict[str, Any]:
    """`alert` (as `projections.alert_json` gives it) with its current figures judged as of
    `today` and its `message`; `state` and `line` are the project's facts and the alert's line."""
    shown = dict(alert)
    current = alert.get("current")
    kind, category = str(alert.get("kind")), str(alert.get("category") or "")
    shown["raised_message"] = message(kind, category, alert.get("detail") or {})
    if alert.get("status") == "open":
        if (
            alert.get("kind") == AlertKind.FORECAST_OVERSPEND
            and state is not None
            and state.exists
            and line is not None
        ):
            forecast = forecast_at_end(
                line.spent, line.budget, start=state.start, months=state.months, on=today
            )
            current = {**forecast.detail(), "holds": forecast.overspend(raised=True)}
        elif line is not None:
            subject = str((alert.get("detail") or {}).get("threshold", ""))  # a threshold's subject
            current = line_figures(kind, subject, line) or current
        if current is None:
            current = alert.get("detail")  # no allowance line to read: cannot happen once caught up
        shown["current"] = current
        shown["message"] = message(kind, category, current or {})
    else:
        shown["current"] = None
        reason = RESOLUTION_LABELS.get(str(alert.get("resolved_reason")), "resolved")
        shown["message"] = f"{reason[0].upper()}{reason[1:]}. When raised: {shown['raised_message']}"
    return shown


def findings(state: ProjectState, today: date) -> list[dict[str, Any]]:
    """The project's clock findings as alert entries: open, never stored, so with no id and no
    versions (`"source": "clock"`)."""
    found = []
    for key, detail in sorted(clock_findings(state, today).items()):
        found.append(
            {
                "id": None,
                "project": state.project,
                "category": key.category or None,
                "kind": str(key.kind),
                "detail": detail,
                "current": detail,
                "status": "open",
                "raised_at_version": None,
                "resolved_at_version": None,
                "resolved_reason": None,
                "notified": False,
                "source": "clock",
                "message": message(str(key.kind), key.category, detail),
                "raised_message": message(str(key.kind), key.category, detail),
            }
        )
    return found


def _money(figures: dict[str, Any], name: str) -> str:
    value = figures.get(name)
    return gbp(Decimal(str(value))) if value is not None else "?"


def message(kind: str, category: str, figures: dict[str, Any]) -> str:
    """The alert in a sentence for people, from its figures (current, or as raised)."""
    line = category_label(category)
    if kind == AlertKind.THRESHOLD:
        share = Decimal(str(figures.get("threshold", "0")))
        return (
            f"{line}: spend has reached {share:.0%} of the budget: "
            f"{_money(figures, 'spent')} of {_money(figures, 'budget')}."
        )
    if kind == AlertKind.OVER_BUDGET:
        return (
            f"{line}: spend {_money(figures, 'spent')} is {_money(figures, 'excess')} over the budget "
            f"{_money(figures, 'budget')}; the excess is ineligible until an LMC decision covers it."
        )
    if kind == AlertKind.OVER_CAP:
        return (
            f"{line}: spend {_money(figures, 'spent')} is {_money(figures, 'excess')} over the maximum "
            f"{_money(figures, 'maximum')}; the excess is ineligible whatever the LMC decides."
        )
    if kind == AlertKind.FORECAST_OVERSPEND:
        where = f"month {figures.get('month', '?')} of {figures.get('months', '?')}"
        if figures.get("holds") is False:
            return (
                f"{line}: as of {figures.get('as_of')} ({where}) the forecast at the end date is "
                f"{_money(figures, 'forecast')}, within the budget {_money(figures, 'budget')}: the alert "
                "stays open until an event the ledger records ends it."
            )
        return (
            f"{line}: at {_money(figures, 'monthly_rate')} a month ({where}), spend will reach "
            f"{_money(figures, 'forecast')} by the end date, {_money(figures, 'excess')} over the budget "
            f"{_money(figures, 'budget')}."
        )
    if kind == AlertKind.SUB_LIMIT:
        rule = figures.get("rule", "")
        which = figures.get("sub_limit")
        if which == "conference":
            what = f"{figures.get('conferences')} conferences or trade shows against a guide of {figures.get('guide')}"
        elif which == "computer":
            what = f"{figures.get('computers')} personal computing devices, {figures.get('cap')} allowed"
        else:
            what = (
                f"higher degree fees {_money(figures, 'claimed')} against the cap of {_money(figures, 'cap')}"
            )
        return f"{line}: {rule}: {what}; {_money(figures, 'ineligible')} is ineligible."
    if kind == AlertKind.INELIGIBLE_CLAIM:
        return (
            f"{line}: {figures.get('rule', 'R-14')}: claim {figures.get('claim')} ({_money(figures, 'amount')}) "
            "is associate travel on a virtual business, the business's own cost."
        )
    if kind == AlertKind.ENDED_NOT_CLOSED:
        return (
            f"The project's period ended on {figures.get('end')}, {figures.get('days_since_end')} days before "
            f"{figures.get('as_of')}, and it is not closed: record its last costs and grant payments, then "
            "close it (R-36)."
        )
    return str(figures.get("message", kind))

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
  (`line_forecast`: spend to date plus the rest of the line's spend profile), with `holds` saying whether the condition still holds on that day (its
  hysteresis included). It stays open in the ledger's alerts until an event ends it; and so for
  `forecast_underspend` (with `underspend`);
- `ended_not_closed` (`alerts.clock_findings`): a project past its end date that is not closed;
- `invoice_due`, `invoice_overdue` (`alerts.deadline_findings`, R-44), `claim_due`,
  `claim_overdue` (R-45): the receivables' deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ktpledger.domain.alerts import AlertKind, clock_findings, line_figures, line_forecast
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.project import ProjectState

RESOLUTION_LABELS = {
    "closed": "resolved when the project was closed",
    "lmc_decision": "resolved by an LMC decision",
    "offer_amended": "resolved by an amendment of the grant offer",
    "reversal": "resolved by a reversal",
    "no_longer_holds": "resolved: the condition no longer holds",
}


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Acknowledgement:
    """An alert's acknowledgement (R-39, `AlertAcknowledged`): its day, who recorded it (as the
    ledger has them: a name, a role or None on the command line, a channel), its note and the
    version of the event."""

    on: date
    name: str | None
    role: str | None
    channel: str | None
    note: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "by": {"name": self.name, "role": self.role, "channel": self.channel},
            "note": self.note,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, found: Mapping[str, Any] | None) -> Acknowledgement | None:
        if not found:
            return None
        by = found.get("by") or {}
        return cls(
            on=date.fromisoformat(str(found["on"])),
            name=by.get("name"),
            role=by.get("role"),
            channel=by.get("channel"),
            note=str(found.get("note") or ""),
            version=int(found["version"]),
        )


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: date) -> str:
    """A date as people read it: 14 March 2025 (in English, whatever the process's locale)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class ShownAlert:
    """An alert as every reader shows it: the stored alert's columns (`detail`, its figures at the
    raise), `current` (its figures now, while it is open), and both in a sentence. A clock finding
    (`source` "clock") has no id and no versions: it is judged on the reader's day, never stored.
    Figures are the alert's stored JSON (docs/cli.md), written as they were stored."""

    id: int | None
    project: str
    category: str | None
    kind: AlertKind
    detail: Mapping[str, Any]
    current: Mapping[str, Any] | None
    status: AlertStatus
    raised_at_version: int | None
    resolved_at_version: int | None
    resolved_reason: str | None
    notified: bool
    message: str
    raised_message: str
    source: str | None = None
    subject: str = ""  # what tells apart alerts of one kind on one line (docs/events.md)
    raised_on: date | None = None  # the ledger's date of the raise (None: a clock finding)
    resolved_on: date | None = None
    acknowledged: Acknowledgement | None = None

    @property
    def when(self) -> str:
        """When, in words: "raised 14 March 2025", and "resolved ..." once resolved."""
        if self.raised_on is None:
            return "judged on the calendar" if self.source == "clock" else ""
        said = f"raised {long_date(self.raised_on)}"
        if self.resolved_on is not None:
            said += f", resolved {long_date(self.resolved_on)}"
        return said

    def to_json(self) -> dict[str, Any]:
        """The alert's JSON (docs/cli.md); a clock finding's names its `source` and writes its
        sentences in the order readers have always had them."""
        shown: dict[str, Any] = {
            "id": self.id,
            "project": self.project,
            "category": self.category,
            "kind": self.kind.value,
            "subject": self.subject,
            "detail": self.detail,
            "current": self.current,
            "status": self.status.value,
            "raised_at_version": self.raised_at_version,
            "resolved_at_version": self.resolved_at_version,
            "resolved_reason": self.resolved_reason,
            "notified": self.notified,
            "raised_on": None if self.raised_on is None else self.raised_on.isoformat(),
            "resolved_on": None if self.resolved_on is None else self.resolved_on.isoformat(),
            "acknowledged": None if self.acknowledged is None else self.acknowledged.to_json(),
        }
        if self.source is not None:
            return {
                **shown,
                "source": self.source,
                "message": self.message,
                "raised_message": self.raised_message,
            }
        return {**shown, "raised_message": self.raised_message, "message": self.message}


def present(
    alert: Mapping[str, Any], *, state: ProjectState | None, line: Allowance | None, today: date
) -> ShownAlert:
    """`alert` (a stored alert's JSON, as `projection_views.alert_json` gives it) with its current
    figures judged as of `today` and its `message`; `state` and `line` are the project's facts and
    the alert's line."""
    current = alert.get("current")
    kind, category = str(alert.get("kind")), str(alert.get("category") or "")
    raised_message = message(kind, category, alert.get("detail") or {})
    if alert.get("status") == "open":
        if (
            alert.get("kind") == AlertKind.FORECAST_OVERSPEND
            and state is not None
            and state.exists
            and line is not None
        ):
            forecast = line_forecast(state, line, today)
            current = {**forecast.detail(), "holds": forecast.overspend(raised=True)}
        elif (
            alert.get("kind") == AlertKind.FORECAST_UNDERSPEND
            and state is not None
            and state.exists
            and line is not None
        ):
            forecast = line_forecast(state, line, today)
            current = {**forecast.underspend_detail(), "holds": forecast.underspend(raised=True)}
        elif line is not None:
            subject = str((alert.get("detail") or {}).get("threshold", ""))  # a threshold's subject
            current = line_figures(kind, subject, line) or current
        if current is None:
            current = alert.get("detail")  # no allowance line to read: cannot happen once caught up
        said = message(kind, category, current or {})
    else:
        current = None
        reason = RESOLUTION_LABELS.get(str(alert.get("resolved_reason")), "resolved")
        said = f"{reason[0].upper()}{reason[1:]}. When raised: {raised_message}"
    return ShownAlert(
        id=alert.get("id"),
        project=alert["project"],
        category=alert.get("category"),
        kind=AlertKind(alert["kind"]),
        detail=alert["detail"],
        current=current,
        status=AlertStatus(alert["status"]),
        raised_at_version=alert.get("raised_at_version"),
        resolved_at_version=alert.get("resolved_at_version"),
        resolved_reason=alert.get("resolved_reason"),
        notified=alert.get("notified", True),
        message=said,
        raised_message=raised_message,
        subject=str(alert.get("subject") or ""),
        raised_on=_date(alert.get("raised_on")),
        resolved_on=_date(alert.get("resolved_on")),
        acknowledged=Acknowledgement.from_json(alert.get("acknowledged")),
    )


def _date(value: object) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def findings(state: ProjectState, today: date) -> list[ShownAlert]:
    """The project's clock findings as alerts: open, never stored, so with no id and no versions
    (`source` "clock")."""
    found = []
    for key, detail in sorted(clock_findings(state, today).items()):
        said = message(str(key.kind), key.category, detail)
        found.append(
            ShownAlert(
                id=None,
                project=state.project,
                category=key.category or None,
                kind=AlertKind(key.kind),
                detail=detail,
                current=detail,
                status=AlertStatus.OPEN,
                raised_at_version=None,
                resolved_at_version=None,
                resolved_reason=None,
                notified=False,
                message=said,
                raised_message=said,
                subject=key.subject,
                source="clock",
            )
        )
    return found


def _money(figures: dict[str, Any], name: str) -> str:
    value = figures.get(name)
    return gbp(Decimal(str(value))) if value is not None else "?"


def _day(figures: dict[str, Any], name: str) -> str:
    """A date of the figures as people read it ("31 March 2026"); the figures keep it as ISO text.
    A value that is not an ISO date is written as it is, and a missing one as "?"."""
    value = figures.get(name)
    if value is None:
        return "?"
    try:
        return long_date(value if isinstance(value, date) else date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def message(kind: str, category: str, figures: dict[str, Any]) -> str:
    """The alert in a sentence for people, from its figures (current, or as raised); its dates
    long ("31 March 2026"), as every reader shows them."""
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
                f"{line}: as of {_day(figures, 'as_of')} ({where}) the forecast at the end date is "
                f"{_money(figures, 'forecast')}, within the budget {_money(figures, 'budget')}: the alert "
                "stays open until an event the ledger records ends it."
            )
        if "planned_rest" in figures:
            return (
                f"{line}: {_money(figures, 'spent')} spent to date ({where}), against "
                f"{_money(figures, 'planned_to_date')} planned by now; with the "
                f"{_money(figures, 'planned_rest')} the spend profile still plans, the line will end at "
                f"{_money(figures, 'forecast')}, {_money(figures, 'excess')} over the budget "
                f"{_money(figures, 'budget')}."
            )
        # An alert stored before spend profiles: the straight-line forecast it was raised on.
        return (
            f"{line}: at {_money(figures, 'monthly_rate')} a month ({where}), spend will reach "
            f"{_money(figures, 'forecast')} by the end date, {_money(figures, 'excess')} over the budget "
            f"{_money(figures, 'budget')}."
        )
    if kind == AlertKind.FORECAST_UNDERSPEND:
        where = f"month {figures.get('month', '?')} of {figures.get('months', '?')}"
        if figures.get("holds") is False:
            return (
                f"{line}: as of {_day(figures, 'as_of')} ({where}) the forecast at the end date is "
                f"{_money(figures, 'forecast')}, close enough to the budget {_money(figures, 'budget')}: "
                "the alert stays open until an event the ledger records ends it."
            )
        return (
            f"{line}: {_money(figures, 'spent')} spent to date ({where}), against "
            f"{_money(figures, 'planned_to_date')} planned by now; with the "
            f"{_money(figures, 'planned_rest')} the spend profile still plans, the line will end at "
            f"{_money(figures, 'forecast')}, {_money(figures, 'shortfall')} below the budget "
            f"{_money(figures, 'budget')}: grant that will never be claimed unless the spend catches "
            "up, the profile is changed or the budget is moved (a virement) to a line that needs it."
        )
    if kind in (AlertKind.BEHIND_PROFILE, AlertKind.AHEAD_OF_PROFILE):
        way = "below" if kind == AlertKind.BEHIND_PROFILE else "above"
        return (
            f"{line}: by the end of {figures.get('quarter')} ({_day(figures, 'quarter_end')}) "
            f"{_money(figures, 'cumulative_spent')} was spent against {_money(figures, 'cumulative_planned')} "
            f"planned by the spend profile, {_money(figures, 'difference')} {way} it (more than 10%): "
            + (
                "catch the spend up, or record a new profile (R-43) or move the budget if the plan "
                "has changed."
                if kind == AlertKind.BEHIND_PROFILE
                else "check the spend is planned, or record a new profile (R-43) that says when it falls."
            )
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
            f"The project's period ended on {_day(figures, 'end')}, {figures.get('days_since_end')} days before "
            f"{_day(figures, 'as_of')}, and it is not closed: record its last costs and grant payments, then "
            "close it (R-36)."
        )
    if kind in (AlertKind.INVOICE_DUE, AlertKind.INVOICE_OVERDUE):
        when = (
            f"was due on {_day(figures, 'due')}, {figures.get('days')} days before {_day(figures, 'as_of')}"
            if kind == AlertKind.INVOICE_OVERDUE
            else f"is due on {_day(figures, 'due')}"
        )
        return (
            f"Invoice {figures.get('invoice')} to the business for {figures.get('quarter')} "
            f"({_money(figures, 'amount')}, {_money(figures, 'paid')} paid) {when}: "
            f"{_money(figures, 'outstanding')} is outstanding (R-44)."
        )
    if kind == AlertKind.CLAIM_DUE:
        return (
            f"The grant claim for {figures.get('quarter')} is due on {_day(figures, 'due')}, in "
            f"{figures.get('days')} days: make the claim pack and submit it to Innovate UK "
            f"({figures.get('rule', 'R-44')})."
        )
    if kind == AlertKind.CLAIM_OVERDUE:
        return (
            f"The grant claim for {figures.get('quarter')} was due on {_day(figures, 'due')}, "
            f"{figures.get('days')} days before {_day(figures, 'as_of')}, and is not submitted: submit it "
            f"(ktpledger claim submit, {figures.get('rule', 'R-45')})."
        )
    return str(figures.get("message", kind))

"""What the dashboard shows, as JSON: the project list and one project's figures.

Every figure comes from the library the command line uses: the allowance lines from the projector
(the same as `GET /projects/{project}/allowances`), the alerts from `alert_reader` (the same as
`GET /alerts`), the project's facts from its folded stream, spend by month from the same as-of fold
as `allowances --as-of`, the forecast from `forecast_at_end` (R-41) and the period from
`domain/timeline.py`, all judged as of the reader's today.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.api.formatting import label, pounds
from ktpledger.bootstrap import App
from ktpledger.domain.alerts import line_forecast
from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import unknown_project
from ktpledger.domain.events import Event
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.domain.rules import LimitKind
from ktpledger.domain.timeline import Phase, forecast_month, month_end_states, position
from ktpledger.service.access import Principal
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.ledger import fold, read_facts

FIGURES = ("budget", "spent", "eligible", "ineligible", "remaining")


def project_facts(state: ProjectState) -> dict[str, Any]:
    """Reference, title, parties, status and period of a folded project."""
    offer = state.offer
    if offer is None:  # a stream always starts with its grant offer; this is only defensive
        return {"project": state.project, "title": None, "status": "open", "end": None}
    return {
        "project": state.project,
        "title": offer.title,
        "knowledge_base": offer.knowledge_base,
        "business": offer.business,
        "methodology": offer.methodology.value,
        "business_type": offer.business_type.value,
        "status": "closed" if state.closed else "open",
        "closed_on": None if state.closed_on is None else state.closed_on.isoformat(),
        "start": state.start.isoformat(),
        "end": state.end.isoformat(),
        "months": state.months,
        "grant_rate": f"{state.grant_rate:.2f}",
        "version": state.version,
    }


def project_list(application: App, who: Principal, *, today: date) -> list[dict[str, Any]]:
    """`GET /projects`: each project the token may read, with where it stands in its period as of
    `today`, its open alert count (the ledger's alerts and the calendar's findings: a project
    past its end date and not closed counts one) and its `projection` (`status` `failed` while it
    is quarantined, with the error naming the row). A project whose offer or decisions cannot be
    read is listed with `status` `unreadable` and that `error`: it never stops the list."""
    names = who.visible(application.ledger.projects())
    if not names:
        return []
    counts = Counter(alert["project"] for alert in application.projector.alerts(None))
    rows = []
    facts, refused = read_facts(application.database, names)
    projections = application.projector.states(names)
    for name in names:
        state = facts.get(name)
        if state is None:
            error = refused.get(name)
            row: dict[str, Any] = {"project": name, "title": None, "status": "unreadable", "end": None}
            row["error"] = None if error is None else error.as_dict()
            row["projection"] = projections[name]
            row["open_alerts"] = counts.get(name, 0)
            rows.append(row)
            continue
        row = project_facts(state)
        row["projection"] = projections[name]
        if state.exists:
            where = position(state, today)
            row["period"] = {"phase": where.phase.value, "month": where.month, "describe": where.describe()}
            row["ended_not_closed"] = where.phase is Phase.ENDED
        row["open_alerts"] = counts.get(name, 0) + (1 if row.get("ended_not_closed") else 0)
        rows.append(row)
    return rows


def describe_decision(data: dict[str, Any]) -> str:
    """An LMC decision in a sentence (the dashboard escapes it)."""
    kind = data.get("kind")
    if kind == "virement":
        return f"Virement of {pounds(data['amount'])} from {label(data['from'])} to {label(data['to'])}"
    if kind == "approve_exceedance":
        return f"Exceedance approved: {label(data['category'])} limit raised to {pounds(data['limit'])}"
    if kind == "extension":
        what = "costed" if data.get("costed") else "no-cost"
        return f"Extension of {data['months']} month(s), {what}"
    if kind == "budget_revision":
        lines = ", ".join(
            f"{label(name)} {pounds(amount)}" for name, amount in sorted(data.get("budget", {}).items())
        )
        return f"Budget revision: {lines}"
    return str(kind)


def decision_json(item: RecordedEvent) -> dict[str, Any]:
    data = item.to_json()["data"]
    return {
        "version": item.version,
        "date": item.date.isoformat(),
        "key": item.key,
        "kind": data.get("kind"),
        "summary": describe_decision(data),
        "minute": data.get("minute"),
        "justification": data.get("justification"),
        "approved_by": data.get("approved_by"),
    }


def spend_series(
    project: str, stream: list[RecordedEvent], start: date, through: int
) -> list[dict[str, Any]]:
    """Each month 1..`through`: every line's spend and budget at the month's end, as
    `allowances --as-of` gives them (the derived overheads' earned amount included)."""
    events = [(item.event(), item.version, item.hash) for item in stream]
    series = []
    with located(stream):
        months = list(_month_figures(project, events, start, through))
    for month, ends, lines in months:
        series.append(
            {
                "month": month,
                "to": ends.isoformat(),
                "cumulative": format_money(sum((line.spent for line in lines), ZERO)),
                "budget": format_money(sum((line.budget for line in lines), ZERO)),
            }
        )
    return series


def _month_figures(
    project: str, events: list[tuple[Event, int, str]], start: date, through: int
) -> Iterator[tuple[int, date, list[Allowance]]]:
    for month, ends, state in month_end_states(project, events, start, through):
        yield month, ends, allowances(state) if state.exists else []


def last_spend(stream: list[RecordedEvent]) -> date | None:
    dates = [item.date for item in stream if item.type in ("SpendClaimed", "ClaimReversed")]
    return max(dates) if dates else None


def project_summary(application: App, project: str, *, today: date) -> dict[str, Any]:
    """`GET /projects/{project}/summary`: the figures of the dashboard's project page, with every
    time-based figure (month N of M, elapsed share, forecasts, "ended, not closed", no spend for
    three months) judged as of `today`.

    Headline figures, one definition each (README, "Headline figures"): `budget` and `spent` are
    the totals of the allowance table, every line of the offer, the derived overheads included;
    `forecast` is the sum of the lines' forecasts at the end date (R-41 as of today) and
    `forecast_excess` how far it is above the budget (0 when within it)."""
    stream = application.ledger.stream(project)
    state = fold(project, stream)
    if not state.exists:  # the HTTP API says this again for its caller (errors.for_caller)
        raise unknown_project(project, application.ledger.projects(), None)
    report = application.projector.allowances(project)
    projection = application.projector.states([project])[project]
    alerts = read_alerts(application.database, project, today=today)
    allowance = report.to_json()
    where = position(state, today, last_spend=last_spend(stream))
    lines = []
    totals = dict.fromkeys((*FIGURES, "forecast"), ZERO)
    for line, figures in zip(report.lines, allowance["lines"], strict=True):
        derived = line.limit_kind is LimitKind.DERIVED
        forecast = line_forecast(state, line, today)
        lines.append(
            {
                **figures,
                "derived": derived,
                "forecast": format_money(forecast.forecast),
                "forecast_over_budget": forecast.forecast > line.budget,
                "used": None if line.budget <= 0 else f"{min(Decimal('9.99'), line.spent / line.budget):.4f}",
            }
        )
        for name in FIGURES:
            totals[name] += Decimal(figures[name])
        totals["forecast"] += forecast.forecast
    budget, spent, forecast_total = totals["budget"], totals["spent"], totals["forecast"]
    # The chart's forecast runs on from the series' last month: the month the forecast divides by.
    series = spend_series(project, stream, state.start, forecast_month(state.start, state.months, today))
    decisions = [decision_json(item) for item in stream if item.type == "LMCDecision"]
    projection_version = allowance["version"]
    seen = [state.version, projection_version, today.isoformat(), [(a["id"], a["status"]) for a in alerts]]
    return {
        "revision": hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16],
        **project_facts(state),
        "as_of": today.isoformat(),
        "month": where.month,
        "period": {
            "phase": where.phase.value,
            "month": where.month,
            "months": where.months,
            "elapsed": f"{where.elapsed:.4f}",
            "describe": where.describe(),
            "ended_not_closed": where.phase is Phase.ENDED,
            "days_past_end": where.days_past_end,
            "last_spend": None if where.last_spend is None else where.last_spend.isoformat(),
            "no_spend_for_three_months": where.quiet,
        },
        "projection_version": projection_version,
        "projection": projection,
        "catching_up": projection_version < state.version and projection["status"] != "failed",
        "lines": lines,
        "totals": {name: format_money(amount) for name, amount in totals.items()},
        "spend": {
            "budget": format_money(budget),
            "spent": format_money(spent),
            "spent_share": None if budget <= 0 else f"{spent / budget:.4f}",
            "forecast": format_money(forecast_total),
            "forecast_excess": format_money(max(ZERO, forecast_total - budget)),
            "forecast_over_budget": forecast_total > budget,
            "includes_derived": any(line["derived"] for line in lines),
            "series": series,
        },
        "open_alerts": alerts,
        "decisions": decisions,
        "grant_paid": format_money(state.grant_paid),
        "parental_leave": format_money(state.parental_leave),
    }

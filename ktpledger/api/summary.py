"""What the dashboard shows, as JSON: the project list and one project's figures.

Every figure comes from the library the command line uses: the allowance lines and alerts from
the projector (the same as `GET /projects/{project}/allowances` and `GET /alerts`), the project's
facts from its folded stream, monthly net spend from `quarter_spend` (claims less reversals dated
in each month) and the forecast as R-41 makes it (spend to date / month n x the project's months).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ktpledger.api.auth import Principal
from ktpledger.api.formatting import label, pounds
from ktpledger.bootstrap import App
from ktpledger.domain.alerts import clock, month_number
from ktpledger.domain.errors import unknown_project
from ktpledger.domain.money import ZERO, format_money, round_penny_half_up
from ktpledger.domain.project import ProjectState, add_months
from ktpledger.domain.reconciliation import quarter_spend
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.service.ledger import fold

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


def project_list(application: App, who: Principal) -> list[dict[str, Any]]:
    """`GET /projects`: each project the token may read, with its open alert count."""
    names = who.visible(application.ledger.projects())
    if not names:
        return []
    counts = Counter(alert["project"] for alert in application.projector.alerts(None))
    rows = []
    facts = application.ledger.facts(names)
    for name in names:
        row = project_facts(facts.get(name) or application.ledger.state(name))
        row["open_alerts"] = counts.get(name, 0)
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


def month_end(start: date, month: int) -> date:
    """The last day of month `month` of a project starting `start` (month 1 is the start month)."""
    first = date(start.year, start.month, 1)
    return add_months(first, month) - timedelta(days=1)


def spend_series(state: ProjectState, stream: list[RecordedEvent], through: int) -> list[dict[str, Any]]:
    """Cumulative net spend at the end of each month 1..`through` of the project."""
    events = [(item.event(), item.version) for item in stream]
    first = date(state.start.year, state.start.month, 1)
    series = []
    total = ZERO
    for month in range(1, through + 1):
        begins = add_months(first, month - 1)
        ends = month_end(state.start, month)
        total += sum(quarter_spend(events, begins, ends).values(), ZERO)
        series.append({"month": month, "to": ends.isoformat(), "cumulative": format_money(total)})
    return series


def project_summary(application: App, project: str) -> dict[str, Any]:
    """`GET /projects/{project}/summary`: the figures of the dashboard's project page."""
    stream = application.ledger.stream(project)
    state = fold(project, stream)
    if not state.exists:  # the HTTP API says this again for its caller (errors.for_caller)
        raise unknown_project(project, application.ledger.projects(), None)
    report = application.projector.allowances(project)
    alerts = application.projector.alerts(project)
    allowance = report.to_json()
    latest = max(item.date for item in stream)
    today = clock(state, latest)
    month = max(1, min(month_number(state.start, today), state.months))
    lines = []
    totals = dict.fromkeys(FIGURES, ZERO)
    claimed_budget = ZERO
    for line in allowance["lines"]:
        derived = line["limit_kind"] == "derived"
        spent = Decimal(line["spent"])
        forecast = None if derived else round_penny_half_up(spent / month * state.months)
        budget = Decimal(line["budget"])
        lines.append(
            {
                **line,
                "derived": derived,
                "forecast": None if forecast is None else format_money(forecast),
                "forecast_over_budget": forecast is not None and forecast > budget,
                "used": None if budget <= 0 else f"{min(Decimal('9.99'), spent / budget):.4f}",
            }
        )
        for name in FIGURES:
            totals[name] += Decimal(line[name])
        if not derived:
            claimed_budget += budget
    series = spend_series(state, stream, month)
    spent_claimed = Decimal(series[-1]["cumulative"]) if series else ZERO
    forecast_total = round_penny_half_up(spent_claimed / month * state.months)
    decisions = [decision_json(item) for item in stream if item.type == "LMCDecision"]
    projection_version = allowance["version"]
    seen = [state.version, projection_version, [(alert["id"], alert["status"]) for alert in alerts]]
    return {
        "revision": hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16],
        **project_facts(state),
        "as_of": today.isoformat(),
        "month": month,
        "projection_version": projection_version,
        "catching_up": projection_version < state.version,
        "lines": lines,
        "totals": {name: format_money(amount) for name, amount in totals.items()},
        "spend": {
            "budget": format_money(claimed_budget),
            "spent": format_money(spent_claimed),
            "forecast": format_money(forecast_total),
            "forecast_over_budget": forecast_total > claimed_budget,
            "series": series,
        },
        "open_alerts": alerts,
        "decisions": decisions,
        "grant_paid": format_money(state.grant_paid),
        "parental_leave": format_money(state.parental_leave),
    }

"""The reconciliation (R-42) and the quarterly claim pack, as JSON documents.

Both are made from the ledger alone and name the ledger position, version and head hash they
were made from; they hold no time of making, so the same position always gives the same document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.domain.alerts import month_number
from ktpledger.domain.allowances import allowances
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.live import LiveProject
from ktpledger.domain.money import ZERO, format_money, round_penny_half_up
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import fold_with_history, quarter_bounds, quarter_spend, reconcile
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import LimitKind

TOTALS = ("original_budget", "final_budget", "claimed", "eligible", "ineligible", "grant", "business")


def _stream(database: Database, project: str) -> list[RecordedEvent]:
    with database.read() as connection:
        stream = ledger_store.stream(connection, project)
        if not stream:
            raise unknown_project(project, ledger_store.projects(connection), database.shown_url)
    return stream


def _ledger(stream: list[RecordedEvent]) -> dict[str, Any]:
    head = stream[-1]
    return {
        "version": head.version,
        "position": max(item.position for item in stream),
        "head_hash": head.hash,
    }


def _project(state: ProjectState) -> dict[str, Any]:
    offer = state.offer
    assert offer is not None
    return {
        "title": offer.title,
        "knowledge_base": offer.knowledge_base,
        "business": offer.business,
        "methodology": offer.methodology.value,
        "business_type": offer.business_type.value,
        "virtual": offer.virtual,
        "london": offer.london,
        "start": offer.start.isoformat(),
        "end": state.end.isoformat(),
        "months": state.months,
    }


def reconciliation(database: Database, project: str) -> dict[str, Any]:
    """`ktpledger reconcile PROJECT --format json` (CONTRACT.md), with the ledger it was made from."""
    stream = _stream(database, project)
    state, history = fold_with_history(project, ((item.event(), item.version, item.hash) for item in stream))
    result = reconcile(state, history)
    lines = []
    for line in result.lines:
        lines.append(
            {
                "category": line.category.value,
                "limit_kind": line.limit_kind.value,
                "original_budget": format_money(line.original_budget),
                "changes": [
                    {
                        "version": c.version,
                        "date": c.date.isoformat() if c.date != date.min else None,
                        "kind": c.kind,
                        "amount": format_money(c.amount),
                        "note": c.note,
                    }
                    for c in line.changes
                ],
                "final_budget": format_money(line.final_budget),
                "claimed": format_money(line.claimed),
                "eligible": format_money(line.eligible),
                "ineligible": format_money(line.ineligible),
                "ineligible_reasons": {name: format_money(amount) for name, amount in line.reasons.items()},
                "grant": format_money(line.grant),
                "business": format_money(line.business),
            }
        )
    return {
        "project": project,
        **_project(state),
        "final": result.final,
        "closed_on": None if state.closed_on is None else state.closed_on.isoformat(),
        "grant_rate": f"{result.grant_rate:.2f}",
        "ledger": _ledger(stream),
        "lines": lines,
        "parental_leave": {
            "incurred": format_money(result.parental_leave_incurred),
            "reimbursable": format_money(result.parental_leave_reimbursable),
        },
        "totals": {name: format_money(result.total(name)) for name in TOTALS},
        "grant_paid": format_money(result.grant_paid),
        "balance_due": format_money(result.balance_due),
    }


def claim_pack(database: Database, project: str, quarter: str) -> dict[str, Any]:
    """A quarter's claim: spend in the quarter per category, cumulative spend against budget,
    eligible and ineligible, the alerts open at the quarter's end, and a forecast to the end date."""
    start, end = quarter_bounds(quarter)
    stream = _stream(database, project)
    known = [item for item in stream if item.date <= end]
    live = LiveProject.new(project)
    for item in known:
        live.fold(item.event(), item.version, item.hash)
    state = live.state
    if not state.exists:
        raise RuleViolation(
            "R-31", f"project {project} had no grant offer by {end.isoformat()}", field="quarter"
        )
    if end < state.start or start > state.end:
        raise RuleViolation(
            "R-33",
            f"{quarter} is outside the project's period {state.start} to {state.end}",
            field="quarter",
        )
    live.latest = min(end, state.end)
    live.settle()
    spend = quarter_spend(((item.event(), item.version) for item in known), start, end)
    month = max(1, min(month_number(state.start, min(end, state.end)), state.months))
    lines = []
    totals = dict.fromkeys(("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast"), ZERO)
    for line in allowances(state):
        in_quarter = ZERO if line.limit_kind is LimitKind.DERIVED else spend.get(line.category, ZERO)
        forecast = round_penny_half_up(line.spent / month * state.months)
        figures = {
            "in_quarter": in_quarter,
            "cumulative": line.spent,
            "budget": line.budget,
            "eligible": line.eligible,
            "ineligible": line.ineligible,
            "forecast": forecast,
        }
        for name, amount in figures.items():
            totals[name] += amount
        lines.append(
            {
                "category": line.category.value,
                "limit_kind": line.limit_kind.value,
                **{name: format_money(amount) for name, amount in figures.items()},
                "remaining": format_money(line.remaining),
                "forecast_over_budget": forecast > line.budget,
            }
        )
    alerts = [
        {"category": key.category, "kind": str(key.kind), "detail": detail}
        for key, detail in sorted(live.conditions().items())
    ]
    rate = state.grant_rate
    return {
        "project": project,
        **_project(state),
        "quarter": quarter.strip().upper(),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "grant_rate": f"{rate:.2f}",
        "ledger": _ledger(stream),
        "events_in_pack": len(known),
        "month": month,
        "lines": lines,
        "totals": {name: format_money(amount) for name, amount in totals.items()},
        "claim": _quarter_claim(project, known, start, rate),
        "alerts_open_at_quarter_end": alerts,
    }


def _quarter_claim(project: str, known: list[RecordedEvent], start: date, rate: Decimal) -> dict[str, Any]:
    """What the quarter adds to the eligible total of each line, and its grant share: the amount
    to claim for the quarter (eligible at its end less eligible at the previous quarter's end)."""
    before = ProjectState(project=project)
    after = ProjectState(project=project)
    for item in known:
        event = item.event()
        after.apply(event, item.version, item.hash)
        if item.date < start:
            before.apply(event, item.version, item.hash)
    previous = {line.category: line.eligible for line in allowances(before)} if before.exists else {}
    lines = {}
    grant = ZERO
    for line in allowances(after):
        added = line.eligible - previous.get(line.category, ZERO)
        if added:
            lines[line.category.value] = format_money(added)
            grant += round_penny_half_up(added * rate)
    return {"eligible_added": lines, "grant": format_money(grant)}

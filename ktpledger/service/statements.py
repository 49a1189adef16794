"""The reconciliation (R-42) and the quarterly claim pack, as JSON documents.

Both are made from the ledger alone and name the ledger position, version and head hash they
were made from, and carry the checkpoint of the whole ledger at that position (signed when a key is
configured; Ed25519 signatures are deterministic); they hold no time of making, so the same
position always gives the same document.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.domain.alert_views import message
from ktpledger.domain.alerts import line_forecast
from ktpledger.domain.allowances import allowances
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.labels import category_label, gbp
from ktpledger.domain.live import LiveProject
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import (
    findings,
    fold_with_history,
    pack_covers_until,
    quarter_bounds,
    quarter_claim,
    quarter_spend,
    reconcile,
)
from ktpledger.domain.recorded import RecordedEvent, fold_recorded, located
from ktpledger.domain.rules import LimitKind
from ktpledger.service.checkpoints import Checkpoints
from ktpledger.service.ledger import fold as fold_stream

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


def _checkpoint(
    database: Database, checkpoints: Checkpoints | None, ledger: dict[str, Any]
) -> dict[str, Any]:
    """The checkpoint of the whole ledger at the report's position (unsigned without `checkpoints`)."""
    maker = checkpoints if checkpoints is not None else Checkpoints(database)
    return maker.at(int(ledger["position"])).to_json()


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


def reconciliation(
    database: Database, project: str, *, checkpoints: Checkpoints | None = None
) -> dict[str, Any]:
    """`ktpledger reconcile PROJECT --format json` (CONTRACT.md), with the ledger it was made from
    and the checkpoint of the whole ledger there (signed by `checkpoints`)."""
    stream = _stream(database, project)
    ledger = _ledger(stream)
    with located(stream):
        state, history = fold_with_history(
            project, ((item.event(), item.version, item.hash) for item in stream)
        )
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
        "ledger": ledger,
        "checkpoint": _checkpoint(database, checkpoints, ledger),
        "lines": lines,
        "parental_leave": {
            "incurred": format_money(result.parental_leave_incurred),
            "reimbursable": format_money(result.parental_leave_reimbursable),
        },
        "totals": {name: format_money(result.total(name)) for name in TOTALS},
        "grant_paid": format_money(result.grant_paid),
        "balance_due": format_money(result.balance_due),
        "findings": [
            {
                "category": found.category.value,
                "reason": found.reason,
                "amount": format_money(found.amount),
                "rule": found.rule,
                "message": f"{category_label(found.category.value)}: {gbp(found.amount)} ineligible: "
                f"{found.what} ({found.rule}).",
            }
            for found in findings(state, result)
        ],
    }


def claim_pack(
    database: Database, project: str, quarter: str, *, checkpoints: Checkpoints | None = None
) -> dict[str, Any]:
    """A quarter's claim: spend in the quarter per category, cumulative spend against budget,
    eligible and ineligible, the alerts open at the quarter's end, and a forecast to the end date.

    The pack covers the events dated up to the quarter's end; the pack of the quarter holding the
    project's end date (its final claim) covers every event, those dated after the end too (a late
    reversal, a decision after the end), so the grant of a project's packs adds up to its
    reconciliation's grant exactly. It carries the checkpoint of the whole ledger at its position,
    as the reconciliation does."""
    start, end = quarter_bounds(quarter)
    stream = _stream(database, project)
    whole = fold_stream(project, stream)
    until = pack_covers_until(start, end, whole.end) if whole.exists else end
    known = [item for item in stream if item.date <= until]
    live = LiveProject.new(project)
    fold_recorded(known, live.apply)  # alerts event by event: the forecast's hysteresis needs them
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
    judged_on = min(end, state.end)
    live.latest = judged_on
    live.settle()
    # Every row the pack covers has folded above: what follows reads them again.
    spend = quarter_spend(((item.event(), item.version) for item in known), start, end)
    lines = []
    totals = dict.fromkeys(("in_quarter", "cumulative", "budget", "eligible", "ineligible", "forecast"), ZERO)
    month = 1
    for line in allowances(state):
        in_quarter = ZERO if line.limit_kind is LimitKind.DERIVED else spend.get(line.category, ZERO)
        forecast = line_forecast(state, line, judged_on)
        month = forecast.month
        figures = {
            "in_quarter": in_quarter,
            "cumulative": line.spent,
            "budget": line.budget,
            "eligible": line.eligible,
            "ineligible": line.ineligible,
            "forecast": forecast.forecast,
        }
        for name, amount in figures.items():
            totals[name] += amount
        lines.append(
            {
                "category": line.category.value,
                "limit_kind": line.limit_kind.value,
                **{name: format_money(amount) for name, amount in figures.items()},
                "remaining": format_money(line.remaining),
                "forecast_over_budget": forecast.forecast > line.budget,
            }
        )
    alerts = [
        {
            "category": key.category,
            "kind": str(key.kind),
            "detail": detail,
            "message": message(str(key.kind), key.category, detail),
        }
        for key, detail in sorted(live.conditions().items())
    ]
    rate = state.grant_rate
    ledger = _ledger(stream)
    with located(known):
        claim = quarter_claim(
            project, ((item.event(), item.version, item.hash) for item in known), quarter_start=start
        )
    return {
        "project": project,
        **_project(state),
        "quarter": quarter.strip().upper(),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "final_quarter": until == date.max,
        "grant_rate": f"{rate:.2f}",
        "ledger": ledger,
        "checkpoint": _checkpoint(database, checkpoints, ledger),
        "events_in_pack": len(known),
        "month": month,
        "lines": lines,
        "totals": {name: format_money(amount) for name, amount in totals.items()},
        "claim": {
            "eligible_added": {c.value: format_money(a) for c, a in claim.eligible_added.items()},
            "grant_added": {c.value: format_money(a) for c, a in claim.grant_added.items()},
            "grant": format_money(claim.grant),
        },
        "alerts_open_at_quarter_end": alerts,
    }

"""The one way alerts are read: the projection's rows, shown with their current figures as of a day.

The CLI's `alerts`, `GET /alerts`, the dashboard and the notifications sent later all read alerts
here, so they cannot disagree (`domain/alert_views.py` says what is judged on the day).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.tables import alerts, allowance_lines, notifications
from ktpledger.domain.alert_views import findings, present
from ktpledger.domain.alerts import LINE_KINDS
from ktpledger.domain.allowances import Allowance
from ktpledger.service.ledger import facts
from ktpledger.service.projections import alert_json, line_from_row


def projected_lines(database: Database, projects: Iterable[str]) -> dict[str, dict[str, Allowance]]:
    """The projection's allowance lines of each project, by category."""
    names = sorted(set(projects))
    found: dict[str, dict[str, Allowance]] = {}
    if not names:
        return found
    query = select(allowance_lines).where(allowance_lines.c.project.in_(bindparam("names", expanding=True)))
    with database.read() as connection:
        for row in connection.execute(query, {"names": names}):
            found.setdefault(row.project, {})[row.category] = line_from_row(row)
    return found


def suppressed(database: Database, alert_ids: Iterable[int]) -> set[int]:
    """The alerts whose every notification was suppressed (raised again soon after resolving)."""
    ids = sorted(set(alert_ids))
    if not ids:
        return set()
    query = select(notifications.c.alert_id, notifications.c.status).where(
        notifications.c.alert_id.in_(bindparam("ids", expanding=True))
    )
    statuses: dict[int, set[str]] = {}
    with database.read() as connection:
        for row in connection.execute(query, {"ids": ids}):
            statuses.setdefault(int(row.alert_id), set()).add(row.status)
    return {alert_id for alert_id, found in statuses.items() if found == {"suppressed"}}


def present_alerts(database: Database, rows: list[dict[str, Any]], *, today: date) -> list[dict[str, Any]]:
    """`rows` (as `alert_json` gives them) with their current figures as of `today` and a message;
    `notified` is false for an alert that is not (and will not be) sent: raised and resolved within
    one append, or raised again soon after the same alert resolved."""
    quietened = suppressed(database, (row["id"] for row in rows if row.get("notified", True)))
    if quietened:
        rows = [{**row, "notified": False} if row["id"] in quietened else row for row in rows]
    projects = {row["project"] for row in rows}
    states = facts(database, projects)
    # Open alerts of the line kinds are shown with the allowance line as it stands.
    reading = {row["project"] for row in rows if row["status"] == "open" and row["kind"] in LINE_KINDS}
    lines = projected_lines(database, reading)
    return [
        present(
            row,
            state=states.get(row["project"]),
            line=lines.get(row["project"], {}).get(row["category"]),
            today=today,
        )
        for row in rows
    ]


def read_alerts(
    database: Database,
    project: str | None = None,
    *,
    include_resolved: bool = False,
    today: date,
    projects: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Open alerts (and resolved ones with `include_resolved`), oldest first, then the clock's
    findings as of `today` (a project past its end date and not closed). `projects` limits the
    answer to those projects (a token's grant); `project` to one."""
    query = select(alerts).order_by(alerts.c.id)
    if project is not None:
        query = query.where(alerts.c.project == project)
    if not include_resolved:
        query = query.where(alerts.c.status == "open")
    allowed = None if projects is None else set(projects)
    with database.read() as connection:
        rows = [alert_json(row) for row in connection.execute(query)]
        names = [project] if project is not None else ledger_store.projects(connection)
    if allowed is not None:
        rows = [row for row in rows if row["project"] in allowed]
        names = [name for name in names if name in allowed]
    shown = present_alerts(database, rows, today=today)
    for state in facts(database, names).values():
        if state.exists:
            shown += findings(state, today)
    return shown

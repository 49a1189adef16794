"""The one way alerts are read: the projection's rows, shown with their current figures as of a day.

The CLI's `alerts`, `GET /alerts`, the dashboard and the notifications sent later all read alerts
here, so they cannot disagree (`domain/alert_views.py` says what is judged on the day). They
read `ShownAlert`s (`shown_alerts`); `read_alerts` and `present_alerts` give their JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.domain.alert_groups import group_alerts
from ktpledger.domain.alert_views import ShownAlert, findings, present
from ktpledger.domain.alerts import LINE_KINDS, AlertKind
from ktpledger.domain.allowances import Allowance
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.project import ProjectState
from ktpledger.service.ledger import facts
from ktpledger.service.projection_rows import line_from_row
from ktpledger.service.projection_views import alert_json


def projected_lines(database: Database, projects: Iterable[str]) -> dict[str, dict[str, Allowance]]:
    """The projection's allowance lines of each project, by category."""
    names = sorted(set(projects))
    found: dict[str, dict[str, Allowance]] = {}
    if not names:
        return found
    with projection_store(database).read() as unit:
        for row in unit.lines.of_projects(names):
            found.setdefault(row["project"], {})[row["category"]] = line_from_row(row)
    return found


def suppressed(database: Database, alert_ids: Iterable[int]) -> set[int]:
    """The alerts whose every notification was suppressed (raised again soon after resolving)."""
    ids = sorted(set(alert_ids))
    if not ids:
        return set()
    with projection_store(database).read() as unit:
        statuses = unit.outbox.statuses(ids)
    return {alert_id for alert_id, found in statuses.items() if found == {"suppressed"}}


def present_alerts(
    database: Database,
    rows: list[dict[str, Any]],
    *,
    today: date,
    known: dict[str, ProjectState] | None = None,
    sending: bool = False,
) -> list[dict[str, Any]]:
    """The JSON of `presented`: what a notification carries. `known`: the facts of projects read
    already by the caller's earlier calls (a delivery run presents its rows one at a time, often
    several of one project's): the others are read and added to it. `sending`: as `presented`'s."""
    states = None
    if known is not None:
        missing = {row["project"] for row in rows} - known.keys()
        if missing:
            known.update(facts(database, missing))
        states = known
    shown = presented(database, rows, today=today, states=states, sending=sending)
    return [alert.to_json() for alert in shown]


def presented(
    database: Database,
    rows: list[dict[str, Any]],
    *,
    today: date,
    states: Mapping[str, ProjectState] | None = None,
    sending: bool = False,
) -> list[ShownAlert]:
    """`rows` (as `alert_json` gives them) with their current figures as of `today` and a message;
    `notified` is false for an alert that is not (and will not be) sent: raised and resolved within
    one append, or raised again soon after the same alert resolved. `states`: the projects' facts
    (`service.ledger.facts`) when the caller has them already, else they are read. `sending`: the
    rows are alerts whose notification a delivery has just claimed (`notify`'s presenter)."""
    # Suppressed: every one of the alert's notifications is. An alert being sent has one claimed,
    # which stays pending until its finish (a claim takes only a pending row, and only the finish
    # fenced by that claim moves it on): it is not, so a delivery does not ask (a read less an alert).
    quietened = (
        set() if sending else suppressed(database, (row["id"] for row in rows if row.get("notified", True)))
    )
    if quietened:
        rows = [{**row, "notified": False} if row["id"] in quietened else row for row in rows]
    projects = {row["project"] for row in rows}
    states = facts(database, projects) if states is None else states
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
    """The JSON of `shown_alerts` (`ktpledger alerts --format json`, `GET /alerts`)."""
    found = shown_alerts(database, project, include_resolved=include_resolved, today=today, projects=projects)
    return [alert.to_json() for alert in found]


def shown_alerts(
    database: Database,
    project: str | None = None,
    *,
    include_resolved: bool = False,
    today: date,
    projects: Iterable[str] | None = None,
    states: Mapping[str, ProjectState] | None = None,
) -> list[ShownAlert]:
    """Open alerts (and resolved ones with `include_resolved`), oldest first, then the clock's
    findings as of `today` (a project past its end date and not closed). `projects` limits the
    answer to those projects (a token's grant); `project` to one. `states`: the facts of the
    projects answered (`service.ledger.facts`, a project whose facts cannot be folded left out),
    when the caller has them already (the project page, from its stored facts' versions)."""
    allowed = None if projects is None else set(projects)
    with projection_store(database).read() as unit:
        rows = [alert_json(row) for row in unit.alerts.listed(project, include_resolved=include_resolved)]
        names = [project] if project is not None else unit.events.projects()
    if allowed is not None:
        rows = [row for row in rows if row["project"] in allowed]
        names = [name for name in names if name in allowed]
    if states is None:
        states = facts(database, {*names, *(row["project"] for row in rows)})
    shown = presented(database, rows, today=today, states=states)
    for state in (states[name] for name in names if name in states):
        if state.exists:
            shown += findings(state, today)
    return shown


def parse_kinds(given: Iterable[str]) -> frozenset[str]:
    """Alert kinds to keep, from `--kind` or `?kind=` (repeatable or comma-separated): refused
    (R-41, naming the parameter and the kinds there are) when one is not a kind."""
    known = {kind.value for kind in AlertKind}
    chosen: set[str] = set()
    for item in given:
        for part in item.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in known:
                raise RuleViolation(
                    "R-41", f"kind must be one of {', '.join(sorted(known))}, got {part!r}", field="kind"
                )
            chosen.add(name)
    return frozenset(chosen)


def of_kinds(alerts: Iterable[ShownAlert], kinds: frozenset[str]) -> list[ShownAlert]:
    """The alerts of those kinds (all of them when `kinds` is empty)."""
    return [alert for alert in alerts if not kinds or alert.kind.value in kinds]


def grouped_json(alerts: Iterable[ShownAlert], today: date) -> dict[str, Any]:
    """`GET /alerts/groups` and `ktpledger alerts --group --format json`: the alerts by kind, most
    pressing first (`domain/alert_groups.py`), and how many there are."""
    shown = list(alerts)
    groups = group_alerts(shown)
    return {
        "as_of": today.isoformat(),
        "count": len(shown),
        "projects": len({alert.project for alert in shown}),
        "groups": [group.to_json() for group in groups],
    }

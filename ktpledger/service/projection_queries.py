"""Reading the projections: allowance reports, alerts, and each project's projection state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from ktpledger.adapters.projection_store import ProjectionStore, Row
from ktpledger.domain.allowances import allowances as allowance_lines
from ktpledger.domain.errors import RuleViolation, unknown_project
from ktpledger.domain.health_facts import HealthFacts
from ktpledger.domain.recorded import located
from ktpledger.domain.statuses import FAILED, OK
from ktpledger.domain.timeline import state_as_of
from ktpledger.service.ledger import fold
from ktpledger.service.projection_rows import line_from_row
from ktpledger.service.projection_views import AllowanceReport, alert_json


def allowances(store: ProjectionStore, project: str, *, as_of: date | None = None) -> AllowanceReport:
    """Current figures from the projection; past figures (`as_of`) from the ledger's events
    dated on or before that day. The current figures' end date and grant rate come from the
    projector's stored facts when they are of the ledger's head (`current_report`); else, or for a
    quarantined project, from the project's stream folded (which refuses an unreadable row)."""
    if as_of is None:
        found = current_report(store, project)
        if found is not None:
            return found
    with store.read() as unit:
        stream = unit.events.stream(project)
        if not stream:
            raise unknown_project(project, unit.events.projects(), store.shown_url)
        if as_of is not None:
            with located(stream):
                state = state_as_of(project, ((i.event(), i.version, i.hash) for i in stream), as_of)
            if not state.exists:
                raise RuleViolation(
                    "R-31", f"project {project} had no grant offer on {as_of.isoformat()}", field="as_of"
                )
            return AllowanceReport(
                project, as_of, state.end, state.grant_rate, allowance_lines(state), state.version
            )
        state = fold(project, stream)  # an unreadable row is refused here, naming it
        heads = unit.heads.of([project])
        rows = unit.lines.of(project)
    lines = [line_from_row(row) for row in rows]
    version = int(heads[0]["version"]) if heads else 0
    return AllowanceReport(project, None, state.end, state.grant_rate, lines, version)


def current_report(store: ProjectionStore, project: str) -> AllowanceReport | None:
    """The current figures from the projection alone (its lines, and the stored facts' end date and
    grant rate) when the projection and the facts are both of the ledger's head and the project is
    not quarantined; None otherwise (the caller folds the stream, and refuses what it refuses)."""
    with store.read() as unit:
        head = unit.events.heads([project]).get(project)
        if head is None:  # no such project (or no name a project holds): the fold says so
            return None
        projection = unit.heads.of([project])
        if not projection or projection[0].get("status") == FAILED:
            return None
        if int(projection[0]["version"]) != head:
            return None
        stored = unit.facts.of_projects([project])
        if not stored or int(stored[0]["version"]) != head:
            return None
        try:
            facts = HealthFacts.from_json(json.loads(str(stored[0]["facts"])))
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return None  # facts of an older format: folded instead
        rows = unit.lines.of(project)
    lines = [line_from_row(row) for row in rows]
    return AllowanceReport(project, None, facts.end, facts.grant_rate, lines, head)


def alerts(
    store: ProjectionStore, project: str | None = None, *, include_resolved: bool = False
) -> list[dict[str, Any]]:
    """Open alerts (and resolved ones with `include_resolved`), oldest first."""
    with store.read() as unit:
        return [alert_json(row) for row in unit.alerts.listed(project, include_resolved=include_resolved)]


def open_counts(store: ProjectionStore) -> dict[str, int]:
    """How many KTP alerts each project has open (projects with none left out)."""
    with store.read() as unit:
        return unit.alerts.open_counts()


def states(store: ProjectionStore, projects: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each project's projection as readers show it: `status` (`ok`, or `failed` while it is
    quarantined), the `version` it has folded to, and for a failed one the `error` naming the
    row and `failed_version`/`failed_position`. A project not caught up yet is `ok` at 0."""
    names = sorted(set(projects))
    found: dict[str, dict[str, Any]] = {name: {"status": OK, "version": 0} for name in names}
    if not names:
        return found
    with store.read() as unit:
        for row in unit.heads.of(names):
            shown: dict[str, Any] = {"status": row["status"], "version": int(row["version"])}
            if row["status"] == FAILED:
                shown.update(
                    error=row["error"],
                    failed_version=row["failed_version"],
                    failed_position=_int_or_none(row["failed_position"]),
                )
            found[row["project"]] = shown
    return found


def quarantined(store: ProjectionStore) -> list[dict[str, Any]]:
    """The quarantined projects, with the row that stopped each and the refusal naming it."""
    with store.read() as unit:
        return [quarantine_json(row) for row in unit.heads.failed()]


def quarantine_json(row: Row) -> dict[str, Any]:
    return {
        "project": row["project"],
        "status": FAILED,
        "version": int(row["version"]),
        "position": int(row["position"]),
        "failed_version": row["failed_version"],
        "failed_position": _int_or_none(row["failed_position"]),
        "error": row["error"],
        "since": row["updated_at"].isoformat(),
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)

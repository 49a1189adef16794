"""Quarantine (README, "Quarantine"): a project whose recorded events cannot all be read or folded
keeps the projection of the appends before the bad row, its head marked failed and a
`projection_failed` system alert open, until `retry` refolds it from its whole stream."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ktpledger.adapters.projection_store import ProjectionUnit
from ktpledger.domain.errors import UnreadableEvent, unknown_project
from ktpledger.domain.statuses import FAILED, OK
from ktpledger.service.projection_context import Projections
from ktpledger.service.projection_fold import FoldedRows, fold_one, in_raising_order, keep_identities
from ktpledger.service.system_alerts import PROJECTION_FAILED, raise_system_alert, resolve_system_alert

log = logging.getLogger("ktpledger.projections")

RETRIED = "retried: folds now"
CAUGHT_UP = "caught up: folds now"
REPLAYED = "replayed: folds now"


@dataclass(frozen=True)
class Retried:
    """What `Projector.retry` did to one project: its projection refolded from its whole stream,
    now healthy (`error` None) or still quarantined, and whether it was quarantined before."""

    project: str
    was_failed: bool
    version: int
    error: UnreadableEvent | None

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "status": OK if self.error is None else FAILED,
            "was": FAILED if self.was_failed else OK,
            "version": self.version,
            "error": None if self.error is None else self.error.as_dict(),
        }


def refold(
    projections: Projections, unit: ProjectionUnit, name: str, now: datetime, *, reason: str
) -> FoldedRows:
    """Rebuild one project's projection from its whole stream, as `replay` does for every
    project, in the caller's unit: its rows replaced (an alert already recorded keeps its id and
    times), its head healthy or failed, and its `projection_failed` system alert raised or resolved
    accordingly. The warm fold of it, if any, is dropped."""
    projections.warm.drop(name)
    folded = FoldedRows([], [], [], 0)
    fold_one(name, unit.events.stream(name), now, folded)
    rows = in_raising_order(folded.alerts)
    keep_identities(unit.alerts, rows, project=name)
    unit.rebuild_project(name, rows, folded.lines, folded.facts)
    unit.heads.put(folded.heads)
    raise_or_resolve(projections, unit, [name], folded.failed, now, reason=reason)
    return folded


def raise_or_resolve(
    projections: Projections,
    unit: ProjectionUnit,
    names: Iterable[str],
    failed: dict[str, UnreadableEvent],
    now: datetime,
    *,
    reason: str,
) -> None:
    """Raise `projection_failed` for each failed project (once: one stays open per project) and
    resolve it, with `reason`, for each of `names` that folds."""
    for name, error in sorted(failed.items()):
        raised = raise_system_alert(
            unit.system_alerts,
            kind=PROJECTION_FAILED,
            subject=name,
            detail={"error": error.as_dict(), "project": name},
            message=f"The projection of {name} is quarantined: {error.message}",
            channels=projections.channels,
            now=now,
        )
        if raised is not None:
            log.warning("projection of %s quarantined: %s", name, error.message)
    for name in names:
        if name not in failed:
            resolve_system_alert(
                unit.system_alerts, kind=PROJECTION_FAILED, subject=name, reason=reason, now=now
            )


def retry(projections: Projections, projects: Iterable[str] | None = None) -> list[Retried]:
    """Refold each of `projects` (None: every quarantined project) from its whole stream, as
    `replay` does for one project: a project that now folds is healthy again (its system alert
    resolved, "retried: folds now"); one that does not stays quarantined with the new error."""
    now = datetime.now(UTC)
    results: list[Retried] = []
    with projections.store.write() as unit:
        if projects is None:
            names = [row["project"] for row in unit.heads.failed()]
        else:
            names = sorted(set(projects))
            known = unit.events.heads(names)
            for name in names:
                if name not in known:
                    raise unknown_project(name, unit.events.projects(), projections.store.shown_url)
        if not names:
            return []
        saved = unit.heads.lock(names, now)
        for name in names:
            folded = refold(projections, unit, name, now, reason=RETRIED)
            was_failed = saved[name].failed is not None
            results.append(
                Retried(name, was_failed, int(folded.heads[0]["version"]), folded.failed.get(name))
            )
        unit.commit()
    return results

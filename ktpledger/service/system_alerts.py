"""System alerts: the service's own troubles, raised for administrators (migration 0008).

A KTP alert (the `alerts` table) is about a project's budget and is a projection of the ledger. A
system alert is about the service itself and is not: `replay` neither deletes nor rebuilds them.

- `projection_failed` (subject: the project): a project's projection could not fold its events; the
  project is quarantined until an administrator retries it, and every other project carries on.
- `channel_down` (subject: the channel): notifications on a channel keep failing; sent through the
  other channels, since the one that is down cannot carry it.

At most one alert of a kind is open per subject (a unique index): raising it again while it is open
does nothing. Each raise queues one `system_notifications` row per channel it is to go through, in
the transaction that raises it (the same outbox pattern as the `notifications` of KTP alerts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_sql_repositories import system_alerts_on
from ktpledger.adapters.projection_store import SystemAlertRepository
from ktpledger.domain.statuses import CHANNEL_DOWN as CHANNEL_DOWN  # the kinds, for callers
from ktpledger.domain.statuses import PROJECTION_FAILED as PROJECTION_FAILED
from ktpledger.domain.statuses import SystemAlertKind

KINDS: tuple[SystemAlertKind, ...] = (PROJECTION_FAILED, CHANNEL_DOWN)


def _repository(target: object) -> SystemAlertRepository:
    """The system alerts of a unit of work (`unit.system_alerts`), or those reached through a
    caller's own database connection: `service/channel_health.py` passes its transaction's
    connection until it speaks to the projection store port (issue 12)."""
    if isinstance(target, SystemAlertRepository):
        return target
    return system_alerts_on(target)


def raise_system_alert(
    target: object,
    *,
    kind: SystemAlertKind,
    subject: str,
    detail: dict[str, Any],
    message: str,
    channels: Iterable[str],
    now: datetime,
) -> int | None:
    """Raise `kind` about `subject` in the caller's transaction (`target`: its unit's
    `system_alerts`, or its connection), with a pending notification on each of `channels`; the new
    alert's id, or None when one is open already (nothing is written)."""
    if kind not in KINDS:
        raise ValueError(f"unknown system alert kind {kind!r}")
    return _repository(target).raise_alert(
        kind=kind,
        subject=subject,
        detail=json.dumps(detail, sort_keys=True),
        message=message,
        channels=sorted(set(channels)),
        now=now,
    )


def resolve_system_alert(
    target: object, *, kind: SystemAlertKind, subject: str, reason: str, now: datetime
) -> bool:
    """Resolve the open `kind` alert about `subject`, in the caller's transaction; True if one was."""
    return _repository(target).resolve(kind=kind, subject=subject, reason=reason, now=now)


def system_alert_json(row: Any) -> dict[str, Any]:
    """A system alert as the CLI and the API show it."""
    return {
        "id": int(row.id),
        "kind": row.kind,
        "subject": row.subject,
        "message": row.message,
        "detail": json.loads(row.detail),
        "status": row.status,
        "raised_at": row.raised_at.isoformat(),
        "resolved_at": None if row.resolved_at is None else row.resolved_at.isoformat(),
        "resolved_reason": row.resolved_reason,
    }


def read_system_alerts(database: Database, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Open system alerts (with `include_resolved`, resolved ones too), oldest first."""
    with projection_store(database).read() as unit:
        return [
            system_alert_json(row) for row in unit.system_alerts.listed(include_resolved=include_resolved)
        ]

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

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters.database import Database
from ktpledger.adapters.tables import system_alerts, system_notifications

PROJECTION_FAILED = "projection_failed"
CHANNEL_DOWN = "channel_down"
KINDS = (PROJECTION_FAILED, CHANNEL_DOWN)
OPEN = "open"
RESOLVED = "resolved"


def _insert_ignore(connection: Connection, table: Any) -> Any:
    dialect = connection.dialect.name
    return (
        postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    ).on_conflict_do_nothing()


def raise_system_alert(
    connection: Connection,
    *,
    kind: str,
    subject: str,
    detail: dict[str, Any],
    message: str,
    channels: Iterable[str],
    now: datetime,
) -> int | None:
    """Raise `kind` about `subject` in the caller's transaction, with a pending notification on each
    of `channels`; the new alert's id, or None when one is open already (nothing is written)."""
    if kind not in KINDS:
        raise ValueError(f"unknown system alert kind {kind!r}")
    inserted = connection.execute(
        _insert_ignore(connection, system_alerts).returning(system_alerts.c.id),
        {
            "kind": kind,
            "subject": subject,
            "detail": json.dumps(detail, sort_keys=True),
            "message": message,
            "status": OPEN,
            "raised_at": now,
            "resolved_at": None,
            "resolved_reason": None,
        },
    ).scalar_one_or_none()
    if inserted is None:
        return None
    alert_id = int(inserted)
    rows = [
        {
            "system_alert_id": alert_id,
            "channel": channel,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
            "delivered_at": None,
        }
        for channel in sorted(set(channels))
    ]
    if rows:
        connection.execute(_insert_ignore(connection, system_notifications), rows)
    return alert_id


def resolve_system_alert(
    connection: Connection, *, kind: str, subject: str, reason: str, now: datetime
) -> bool:
    """Resolve the open `kind` alert about `subject`, in the caller's transaction; True if one was."""
    result = connection.execute(
        update(system_alerts)
        .where(
            system_alerts.c.kind == kind,
            system_alerts.c.subject == subject,
            system_alerts.c.status == OPEN,
        )
        .values(status=RESOLVED, resolved_at=now, resolved_reason=reason)
    )
    return bool(result.rowcount)


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
    query = select(system_alerts).order_by(system_alerts.c.id)
    if not include_resolved:
        query = query.where(system_alerts.c.status == OPEN)
    with database.read() as connection:
        return [system_alert_json(row) for row in connection.execute(query)]

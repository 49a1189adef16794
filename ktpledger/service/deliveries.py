"""What administrators see of the outboxes, and resending: the one reader and writer behind
`ktpledger notifications [resend]`, `GET /notifications`, `POST /notifications/resend` and the
dashboard's admin section.

A delivery is one row of either outbox (`ktpledger.service.outbox`): a KTP alert's or a system
alert's message on one channel. Resending puts failed rows back to pending, due now, with their
retry period restarted (`first_attempt_at` cleared); their `attempts` keep counting (they fence
the finish of a claim) and their `last_error` stays until the next attempt. A delivered or
suppressed row is sent again only when asked (`again`): its receiver drops the repeat by the
message's delivery id if it already has it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.notification_sql import notification_store
from ktpledger.adapters.notification_store import DeliveryRecord, NotificationStore
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.statuses import DELIVERED, FAILED, PENDING, SUPPRESSED
from ktpledger.notify_settings import CHANNELS
from ktpledger.service.outbox import ALERTS, OUTBOXES, SYSTEM_ALERTS, Outbox, utc

STATUSES = (FAILED, PENDING, SUPPRESSED, DELIVERED)
NEEDS_ATTENTION = (FAILED, PENDING)  # what a listing shows unless told otherwise
LIST_LIMIT = 1000


def check_status(status: str | None) -> tuple[str, ...]:
    """The statuses a listing asks for: one of `STATUSES`, "all", or None (failed and pending)."""
    if status is None:
        return NEEDS_ATTENTION
    wanted = status.strip().lower()
    if wanted == "all":
        return STATUSES
    if wanted not in STATUSES:
        raise RuleViolation(
            "R-41",
            f"status must be one of {', '.join(STATUSES)} or all, got {status!r}",
            field="status",
        )
    return (wanted,)


def check_channel(channel: str | None) -> str | None:
    if channel is None:
        return None
    if channel not in CHANNELS:
        raise RuleViolation(
            "R-41", f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}", field="channel"
        )
    return channel


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc(moment).isoformat()


def _row_json(outbox: Outbox, row: DeliveryRecord, now: datetime, long_after: timedelta) -> dict[str, Any]:
    system = outbox is SYSTEM_ALERTS
    known = row.kind is not None  # False: the alert row is gone (a replay rebuilt the alerts)
    since = row.first_attempt_at if row.first_attempt_at is not None else row.next_attempt_at
    return {
        "outbox": outbox.name,
        "alert_id": None if system else int(row.ref),
        "system_alert_id": int(row.ref) if system else None,
        "project": None if system else row.project,
        "category": None if system else row.category,
        "kind": row.kind,
        "subject": row.subject,
        "channel": row.channel,
        "status": row.status,
        "attempts": int(row.attempts),
        "first_attempt_at": _iso(row.first_attempt_at),
        "last_attempt_at": _iso(row.last_attempt_at),
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == PENDING else None,
        "delivered_at": _iso(row.delivered_at),
        "failed_at": _iso(row.failed_at),
        "last_error": row.last_error,
        "delivery_id": outbox.message_id(row, row.channel) if known else None,
        "long_pending": row.status == PENDING and now - utc(since) >= long_after,
    }


def _store(database: Database | None, store: NotificationStore | None) -> NotificationStore:
    if store is not None:
        return store
    if database is None:
        raise ValueError("a database, or a notification store of its own, is needed")
    return notification_store(database)


def list_deliveries(
    database: Database | None,
    *,
    status: str | None = None,
    now: datetime,
    long_after: timedelta,
    limit: int = LIST_LIMIT,
    store: NotificationStore | None = None,
) -> list[dict[str, Any]]:
    """The outboxes' rows with `status` (None: failed and pending; "all": every row), system
    alerts' first, each oldest first; at most `limit` rows. A pending row is `long_pending` once
    `long_after` has passed since its first attempt (or, never tried, since it was due). `store`
    replaces `database`'s notification store."""
    statuses = check_status(status)
    if limit < 1:
        raise RuleViolation("R-41", f"limit must be at least 1, got {limit}", field="limit")
    found: list[dict[str, Any]] = []
    now = utc(now)
    with _store(database, store).read() as unit:
        for outbox in OUTBOXES:
            rows = unit.deliveries.listed(outbox.name, statuses, limit=limit - len(found))
            found += [_row_json(outbox, row, now, long_after) for row in rows]
            if len(found) >= limit:
                break
    return found


@dataclass
class ResendReport:
    """What a resend did: the rows put back to pending, and those it left alone and why."""

    resent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"resent": len(self.resent), "rows": self.resent, "skipped": self.skipped}


def _skip_reason(row: DeliveryRecord, again: bool) -> str | None:
    """Why a row named for a resend is left alone, or None to resend it."""
    if row.status == FAILED:
        return None
    if row.status in (DELIVERED, SUPPRESSED):
        if again:
            return None
        when = f" at {_iso(row.delivered_at)}" if row.delivered_at is not None else ""
        return (
            f'{row.status}{when}: ask for it again (`--again`; over HTTP `"again": true`) to send '
            "it once more; receivers drop a repeat by its delivery id"
        )
    return f"pending, next attempt at {_iso(row.next_attempt_at)}: it is being retried already"


def resend(
    database: Database | None,
    *,
    alert_ids: Iterable[int] = (),
    system_alert_ids: Iterable[int] = (),
    channel: str | None = None,
    all_failed: bool = False,
    again: bool = False,
    now: datetime,
    store: NotificationStore | None = None,
) -> ResendReport:
    """Put rows back to pending, due `now`, their retry period restarted: every row of the named
    alerts (`alert_ids`, `system_alert_ids`) and, with `all_failed`, every failed row; only on
    `channel` when given. Failed rows are resent; delivered and suppressed ones only with
    `again`; pending ones are left to their retries. A named alert with no row (on `channel`) is
    refused (R-41) and nothing is changed. `store` replaces `database`'s notification store."""
    channel = check_channel(channel)
    named = {
        ALERTS: sorted({int(i) for i in alert_ids}),
        SYSTEM_ALERTS: sorted({int(i) for i in system_alert_ids}),
    }
    if not all_failed and not any(named.values()):
        raise RuleViolation(
            "R-41",
            "name what to resend: alert ids, system alert ids, or all failed notifications",
            field="alerts",
        )
    now = utc(now)
    report = ResendReport()
    with _store(database, store).write() as unit:
        for outbox in OUTBOXES:
            if not named[outbox] and not all_failed:
                continue
            rows = unit.deliveries.chosen(outbox.name, refs=named[outbox], failed=all_failed, channel=channel)
            missing = sorted(set(named[outbox]) - {row.ref for row in rows})
            if missing:
                what = "system alert" if outbox is SYSTEM_ALERTS else "alert"
                where = f" on channel {channel}" if channel else ""
                raise RuleViolation(
                    "R-41",
                    f"{what} {', '.join(map(str, missing))} has no notification{where}: "
                    "`ktpledger notifications --status all` lists every notification; nothing was resent",
                    field="system_alerts" if outbox is SYSTEM_ALERTS else "alerts",
                )
            for row in rows:
                entry = {
                    "outbox": outbox.name,
                    "id": row.ref,
                    "channel": row.channel,
                    "status": row.status,
                }
                reason = _skip_reason(row, again)
                if reason is not None:
                    report.skipped.append({**entry, "reason": reason})
                    continue
                if unit.deliveries.resend(outbox.name, row.ref, row.channel, status=row.status, now=now):
                    report.resent.append(entry)
                else:  # its status changed meanwhile (a worker finished it): leave it
                    report.skipped.append({**entry, "reason": "changed while resending: look again"})
        unit.commit()
    return report

"""Whether a channel is down: its current run of failed attempts, and the `channel_down` alert.

Every finished attempt tells the channel's health, in the transaction that records the attempt's
outcome (the `channel_health` table, migration 0010, so that every process sees the same run):

- a failed attempt starts a run of failures (`failing_since`) or extends it. Once the run has
  lasted `down_after` (KTPLEDGER_CHANNEL_DOWN_MINUTES, default 5) with no success, a `channel_down`
  system alert is raised about the channel, to go through every *other* configured channel (the
  one that is down cannot carry it); at most one is open per channel;
- a delivered message ends the run and resolves the channel's open `channel_down` alert, which
  is said in the log (`ktpledger.alerts`, WARNING). A `channel_down` notification still pending
  on another channel then goes out showing the alert as resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters.notifiers import ALERT_LOGGER, one_line
from ktpledger.adapters.tables import channel_health
from ktpledger.domain.chain import format_instant
from ktpledger.service.outbox import utc
from ktpledger.service.system_alerts import CHANNEL_DOWN, raise_system_alert, resolve_system_alert

log = logging.getLogger("ktpledger.notify")
alert_log = logging.getLogger(ALERT_LOGGER)


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


def record_failure(
    connection: Connection,
    *,
    channel: str,
    error: str,
    now: datetime,
    down_after: timedelta,
    others: Iterable[str],
    retry_period: timedelta,
) -> int | None:
    """Count a failed attempt on `channel`, in the caller's transaction; raise `channel_down`
    through `others` once the channel has failed every attempt for `down_after`. The new system
    alert's id, or None (not down long enough, or an alert is open already)."""
    dialect = connection.dialect.name
    insert = postgresql.insert(channel_health) if dialect == "postgresql" else sqlite.insert(channel_health)
    connection.execute(
        insert.values(
            channel=channel, failing_since=now, failures=1, last_failure_at=now, last_error=error
        ).on_conflict_do_update(
            index_elements=["channel"],
            set_={
                "failing_since": func.coalesce(channel_health.c.failing_since, insert.excluded.failing_since),
                "failures": case(
                    (channel_health.c.failing_since.is_(None), 1), else_=channel_health.c.failures + 1
                ),
                "last_failure_at": insert.excluded.last_failure_at,
                "last_error": insert.excluded.last_error,
            },
        )
    )
    since, failures = connection.execute(
        select(channel_health.c.failing_since, channel_health.c.failures).where(
            channel_health.c.channel == channel
        )
    ).one()
    since = utc(since)
    if now - since < down_after:
        return None
    through = sorted(set(others) - {channel})
    message = (
        f"The {channel} alert channel has failed every attempt since {format_instant(since)[:16]} UTC "
        f"({failures} attempts over {_minutes(now - since)}); last error: {one_line(error)}. Its "
        f"notifications are kept and retried for {retry_period.total_seconds() / 3600:g} h from each "
        "one's first attempt: `ktpledger notifications --status failed` lists any given up, and "
        "`ktpledger notifications resend --all-failed` sends them again."
    )
    raised = raise_system_alert(
        connection,
        kind=CHANNEL_DOWN,
        subject=channel,
        detail={
            "channel": channel,
            "failing_since": format_instant(since),
            "failures": int(failures),
            "last_error": error,
            "down_after_minutes": down_after.total_seconds() / 60,
        },
        message=message,
        channels=through,
        now=now,
    )
    if raised is not None:
        log.warning(
            "channel %s down: failed every attempt since %s (%s attempts); system alert %s sent through %s",
            channel,
            format_instant(since),
            failures,
            raised,
            ", ".join(through) or "no other channel (shown to administrators only)",
        )
    return raised


def record_success(connection: Connection, *, channel: str, now: datetime) -> bool:
    """End `channel`'s run of failures, in the caller's transaction, and resolve its open
    `channel_down` alert; True if one was resolved."""
    ended = connection.execute(
        update(channel_health)
        .where(channel_health.c.channel == channel, channel_health.c.failing_since.is_not(None))
        .values(failing_since=None, failures=0)
    )
    if not ended.rowcount:
        return False  # it was not failing: the usual case, and no row locked for it
    resolved = resolve_system_alert(
        connection,
        kind=CHANNEL_DOWN,
        subject=channel,
        reason=f"the channel delivered again at {format_instant(now)}",
        now=now,
    )
    if resolved:
        alert_log.warning(
            "system alert channel_down about %s resolved: the channel delivered again at %s",
            channel,
            format_instant(now),
        )
    return resolved

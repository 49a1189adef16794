"""Whether a channel is down: its current run of failed attempts, and the `channel_down` alert.

Every finished attempt tells the channel's health, in the unit of work that records the attempt's
outcome (`unit.channel_health`, migration 0010's table, so that every process sees the same run):

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

from ktpledger.adapters.notification_store import NotificationUnit
from ktpledger.adapters.notifiers import ALERT_LOGGER, one_line
from ktpledger.domain.chain import format_instant
from ktpledger.service.outbox import utc
from ktpledger.service.system_alerts import CHANNEL_DOWN, raise_system_alert, resolve_system_alert

log = logging.getLogger("ktpledger.notify")
alert_log = logging.getLogger(ALERT_LOGGER)


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


def record_failure(
    unit: NotificationUnit,
    *,
    channel: str,
    error: str,
    now: datetime,
    down_after: timedelta,
    others: Iterable[str],
    retry_period: timedelta,
    listing: str | None = None,
) -> int | None:
    """Count a failed attempt on `channel`, in the caller's unit of work; raise `channel_down`
    through `others` once the channel has failed every attempt for `down_after`. The new system
    alert's id, or None (not down long enough, or an alert is open already)."""
    started, failures = unit.channel_health.failed(channel, error=error, now=now)
    since = utc(started)
    if now - since < down_after:
        return None
    through = sorted(set(others) - {channel})
    # How to see what was given up: the outboxes' commands, unless the channel says (the digest).
    listing = listing or (
        "`ktpledger notifications --status failed` lists any given up, and "
        "`ktpledger notifications resend --all-failed` sends them again."
    )
    message = (
        f"The {channel} alert channel has failed every attempt since {format_instant(since)[:16]} UTC "
        f"({failures} attempts over {_minutes(now - since)}); last error: {one_line(error)}. Its "
        f"notifications are kept and retried for {retry_period.total_seconds() / 3600:g} h from each "
        f"one's first attempt: {listing}"
    )
    raised = raise_system_alert(
        unit.system_alerts,
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


def record_success(unit: NotificationUnit, *, channel: str, now: datetime) -> bool:
    """End `channel`'s run of failures, in the caller's unit of work, and resolve its open
    `channel_down` alert; True if one was resolved."""
    if not unit.channel_health.succeeded(channel):
        return False  # it was not failing: the usual case, and no row locked for it
    resolved = resolve_system_alert(
        unit.system_alerts,
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

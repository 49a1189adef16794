"""Delivering notifications from the two outboxes (`notifications` of KTP alerts and
`system_notifications` of system alerts, `ktpledger.service.outbox`), with one machinery.

The projector (or `raise_system_alert`) inserts one row per channel, status "pending", in the
transaction that raises the alert. Delivery takes those rows one at a time:

1. claim: a short write transaction picks one due row (status "pending", next_attempt_at <= now;
   `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), bumps `attempts`, stamps
   `first_attempt_at` (once) and `last_attempt_at`, pushes `next_attempt_at` a lease ahead, and
   commits. Another worker no longer sees the row as due, so two workers never send the same
   (alert, channel) at the same time;
2. send, outside any transaction, so a slow channel holds no lock;
3. finish: "delivered" (with delivered_at), or on failure back to "pending" with an exponential
   back-off capped at `MAX_BACKOFF` and `last_error`, until the retry period (`retry_period`,
   KTPLEDGER_NOTIFY_RETRY_HOURS, default 72 h) has passed since the first attempt: an attempt that
   fails after that marks the row "failed" (with `failed_at` and the reason, logged at WARNING).
   The update is fenced by the claimed `attempts`, so a late finish cannot overwrite a newer
   claim's outcome. The same transaction records the channel's health (`channel_health`), which
   raises and resolves `channel_down` system alerts.

Time, not a count, decides: the back-off never waits past the end of the retry period, so the last
attempt is made when it ends; a row found due a lease after its retry period ended (its last claim
was lost with a worker that died, or no delivery ran) is failed without another attempt.

A worker that dies between claim and finish leaves the row to be claimed again once its lease has
run out: delivery is at least once, and exactly once unless a worker dies (or outlives its lease)
after the channel accepted the message and before the finish commits. Every message carries a
delivery id, the same on every attempt and resend (`ktpledger.domain.delivery`), by which a
receiver drops such a repeat.

Each channel is worked in its own thread, so a channel that keeps failing or timing out does not
hold up the others; a run stops working a channel at its first failed attempt (the rest of its due
rows wait for the next run), so a channel that is down costs one attempt, at most its timeout, per
run. Rows of a channel with no notifier configured are left alone.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.notifiers import DeliveryError, Notifier
from ktpledger.domain.chain import format_instant
from ktpledger.service.channel_health import record_failure, record_success
from ktpledger.service.outbox import ALERTS, OUTBOXES, Outbox, utc
from ktpledger.settings import CHANNEL_DOWN_MINUTES, NOTIFY_RETRY_HOURS, Settings

__all__ = [
    "DELIVERED",
    "FAILED",
    "LEASE",
    "MAX_BACKOFF",
    "PENDING",
    "SUPPRESSED",
    "DeliveryPolicy",
    "DeliveryReport",
    "backoff",
    "deliver_alerts",
    "deliver_due",
    "utc",
]

log = logging.getLogger("ktpledger.notify")

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
SUPPRESSED = "suppressed"
# The longest wait between two attempts: a channel back after an outage gets its backlog within
# about this long (plus a beat of 30 s).
MAX_BACKOFF = timedelta(minutes=5)
LEASE = timedelta(minutes=5)
JITTER = 0.1
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long a notification is retried, when a failing channel counts as down, and how long a
    claim is held before another worker may take the row."""

    retry_period: timedelta = timedelta(hours=NOTIFY_RETRY_HOURS)
    channel_down_after: timedelta = timedelta(minutes=CHANNEL_DOWN_MINUTES)
    lease: timedelta = LEASE

    def __post_init__(self) -> None:
        if self.retry_period <= timedelta(0) or self.lease <= timedelta(0):
            raise ValueError("the retry period and the lease must be positive")
        if self.channel_down_after < timedelta(0):
            raise ValueError("channel_down_after must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(retry_period=settings.notify_retry, channel_down_after=settings.channel_down_after)


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: rows delivered, rows to try again later, rows given up on."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered, self.retried + other.retried, self.failed + other.failed
        )

    def to_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "failed": self.failed}


@dataclass(frozen=True)
class _Claim:
    outbox: Outbox
    ref: int  # the alert's id in its outbox
    channel: str
    attempts: int  # after this claim's bump: the fencing token of the finish
    first_attempt_at: datetime  # the retry period runs from here
    message: dict[str, Any] | None  # None: the alert row is gone (a replay rebuilt the alerts)
    outcome: str = "send"  # "send"; "gave_up": failed without a send; "lost": another worker took it

    @property
    def what(self) -> str:
        return f"{'system alert' if self.outbox is not ALERTS else 'alert'} {self.ref} on {self.channel}"


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 2**attempts seconds, up to 10% more, at most
    `MAX_BACKOFF` (five minutes, reached after the 8th attempt)."""
    base = 2.0 ** min(max(attempts, 0), 16)
    seconds = min(base * (1 + JITTER * rng()), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds)


def deliver_due(
    database: Database,
    notifiers: Mapping[str, Notifier],
    *,
    now: datetime | None = None,
    limit: int = 100,
    policy: DeliveryPolicy | None = None,
    alert_ids: Collection[int] | None = None,
) -> DeliveryReport:
    """Deliver due notifications of both outboxes: at most `limit` per channel and outbox, each
    channel in its own thread.

    `now` fixes the clock (tests, replays of a schedule); by default it is the wall clock, read
    afresh for each step. `alert_ids` restricts the run to those KTP alerts' rows (and leaves the
    system alerts' for another run)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if alert_ids is not None and not alert_ids:
        return DeliveryReport()
    if now is None:

        def clock() -> datetime:
            return datetime.now(UTC)

    else:
        fixed = utc(now)

        def clock() -> datetime:
            return fixed

    ids = None if alert_ids is None else sorted({int(i) for i in alert_ids})
    channels = sorted(notifiers)
    if not channels:
        return DeliveryReport()
    worker = _ChannelWorker(database, clock, limit, policy or DeliveryPolicy(), ids, channels)
    if len(channels) == 1:
        return worker.run(channels[0], notifiers[channels[0]])
    with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="ktpledger-notify") as pool:
        futures = [pool.submit(worker.run, name, notifiers[name]) for name in channels]
        errors: list[BaseException] = []
        total = DeliveryReport()
        for future in futures:
            error = future.exception()
            if error is not None:
                errors.append(error)
            else:
                total += future.result()
    if errors:
        raise errors[0]
    return total


def deliver_alerts(
    database: Database,
    notifiers: Mapping[str, Notifier],
    alert_ids: Iterable[int],
    *,
    now: datetime | None = None,
    policy: DeliveryPolicy | None = None,
) -> DeliveryReport:
    """Deliver the due notifications of just these KTP alerts (right after the catch-up that raised
    them); rows waiting out a back-off are left for `deliver_due`."""
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return DeliveryReport()
    return deliver_due(database, notifiers, now=now, limit=len(ids), policy=policy, alert_ids=ids)


class _ChannelWorker:
    """Claims, sends and finishes one channel's rows in turn, system alerts first."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        limit: int,
        policy: DeliveryPolicy,
        alert_ids: list[int] | None,
        channels: list[str],
    ) -> None:
        self.database = database
        self.clock = clock
        self.limit = limit
        self.policy = policy
        self.alert_ids = alert_ids
        self.channels = channels  # every configured channel: where a channel_down alert may go
        self.outboxes = OUTBOXES if alert_ids is None else (ALERTS,)

    def run(self, channel: str, notifier: Notifier) -> DeliveryReport:
        report = DeliveryReport()
        for outbox in self.outboxes:
            if not self.any_due(outbox, channel):
                continue  # without taking the write lock (SQLite has only one)
            for _ in range(self.limit):
                claim = self.claim(outbox, channel)
                if claim is None:
                    break
                step = self.deliver(claim, notifier)
                report += step
                if step.retried or (step.failed and claim.message is not None):
                    # The channel failed: its other rows wait for the next run rather than each
                    # spending the channel's timeout now.
                    return report
        return report

    # --- claim -----------------------------------------------------------------------------------

    def due(self, outbox: Outbox, channel: str, now: datetime) -> Select[Any]:
        table = outbox.table
        query = (
            select(outbox.ref.label("ref"), table.c.attempts, table.c.first_attempt_at)
            .where(table.c.channel == channel, table.c.status == PENDING, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, outbox.ref)
            .limit(1)
        )
        if self.alert_ids is not None:
            query = query.where(outbox.ref.in_(self.alert_ids))
        return query

    def any_due(self, outbox: Outbox, channel: str) -> bool:
        with self.database.read() as connection:
            return connection.execute(self.due(outbox, channel, self.clock())).first() is not None

    def claim(self, outbox: Outbox, channel: str) -> _Claim | None:
        """Take the next due row of the channel for this worker; committed before anything is sent."""
        table = outbox.table
        with self.database.projection() as connection:
            now = self.clock()
            query = self.due(outbox, channel, now)
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = connection.execute(query).first()
            if row is None:
                connection.rollback()
                return None
            ref, attempts = int(row.ref), int(row.attempts)
            first = None if row.first_attempt_at is None else utc(row.first_attempt_at)
            key = (outbox.ref == ref, table.c.channel == channel, table.c.attempts == attempts)
            if first is not None and now >= first + self.policy.retry_period + self.policy.lease:
                # Due a lease after its retry period ended: its last claim had no outcome (a worker
                # died) or no delivery ran since. Time is up: give up without another attempt.
                reason = (
                    f"gave up: due again after its retry period ({_hours(self.policy.retry_period)} from "
                    f"the first attempt at {format_instant(first)}) had ended; its last claim was lost "
                    "with its worker, or no delivery ran since"
                )
                connection.execute(
                    update(table)
                    .where(*key, table.c.status == PENDING)
                    .values(status=FAILED, failed_at=now, last_error=reason)
                )
                connection.commit()
                gave_up = _Claim(outbox, ref, channel, attempts, first, None, outcome="gave_up")
                log.warning("%s: %s", gave_up.what, reason)
                return gave_up
            claimed = connection.execute(
                update(table)
                .where(*key, table.c.status == PENDING, table.c.next_attempt_at <= now)
                .values(
                    attempts=attempts + 1,
                    next_attempt_at=now + self.policy.lease,
                    first_attempt_at=func.coalesce(table.c.first_attempt_at, now),
                    last_attempt_at=now,
                )
            )
            if claimed.rowcount != 1:  # taken by another worker in between: look again
                connection.rollback()
                return _Claim(outbox, ref, channel, attempts, now, None, outcome="lost")
            found = connection.execute(select(outbox.source).where(outbox.source.c.id == ref)).first()
            connection.commit()
        message = None if found is None else outbox.render(self.database, found, channel, now)
        return _Claim(outbox, ref, channel, attempts + 1, first or now, message)

    # --- send and finish -------------------------------------------------------------------------

    def deliver(self, claim: _Claim, notifier: Notifier) -> DeliveryReport:
        if claim.outcome == "gave_up":
            return DeliveryReport(failed=1)
        if claim.outcome == "lost":
            return DeliveryReport()
        if claim.message is None:
            self.finish(claim, FAILED, f"{claim.what.rsplit(' on ', 1)[0]} no longer exists")
            return DeliveryReport(failed=1)
        try:
            notifier.send(claim.message)
        except DeliveryError as error:
            return self.failed(claim, str(error) or type(error).__name__)
        except Exception as error:  # a notifier's bug must not stop the other rows or channels
            log.exception("%s: the notifier raised", claim.what)
            return self.failed(claim, f"{type(error).__name__}: {error}")
        self.finish(claim, DELIVERED, None)
        return DeliveryReport(delivered=1)

    def failed(self, claim: _Claim, message: str) -> DeliveryReport:
        now = self.clock()
        ends = claim.first_attempt_at + self.policy.retry_period
        if now >= ends:
            reason = (
                f"gave up after {claim.attempts} attempts over {_hours(now - claim.first_attempt_at)} "
                f"(retry period {_hours(self.policy.retry_period)}): {message}"
            )
            log.warning("%s failed for good: %s", claim.what, reason)
            self.finish(claim, FAILED, reason, failure=message)
            return DeliveryReport(failed=1)
        log.info("%s: attempt %s failed: %s", claim.what, claim.attempts, message)
        # Never wait past the end of the retry period: the last attempt is made as it ends.
        retry_at = min(now + backoff(claim.attempts), ends)
        self.finish(claim, PENDING, message, failure=message, retry_at=retry_at)
        return DeliveryReport(retried=1)

    def finish(
        self,
        claim: _Claim,
        status: str,
        error: str | None,
        *,
        failure: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record the attempt's outcome (fenced by its claim) and, when the channel was tried, its
        health: `failure` is the channel's error, None after a delivery."""
        now = self.clock()
        table = claim.outbox.table
        values: dict[str, Any] = {
            "status": status,
            "last_error": None if error is None else error[:ERROR_LIMIT],
        }
        if status == DELIVERED:
            values["delivered_at"] = now
        elif status == FAILED:
            values["failed_at"] = now
        elif retry_at is not None:
            values["next_attempt_at"] = retry_at
        with self.database.projection() as connection:
            connection.execute(
                update(table)
                .where(
                    claim.outbox.ref == claim.ref,
                    table.c.channel == claim.channel,
                    table.c.status == PENDING,
                    table.c.attempts == claim.attempts,
                )
                .values(**values)
            )
            if status == DELIVERED:
                record_success(connection, channel=claim.channel, now=now)
            elif failure is not None:
                record_failure(
                    connection,
                    channel=claim.channel,
                    error=failure[:ERROR_LIMIT],
                    now=now,
                    down_after=self.policy.channel_down_after,
                    others=self.channels,
                    retry_period=self.policy.retry_period,
                )
            connection.commit()


def _hours(span: timedelta) -> str:
    """A span for a person: seconds, minutes or hours, whichever reads best."""
    seconds = span.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:g} h" if seconds % 360 == 0 else f"{seconds / 3600:.1f} h"

"""Delivering alert notifications from the outbox (the `notifications` table).

`Projector.catch_up` inserts one `notifications` row per configured channel, status "pending", in
the transaction that raises the alert. Delivery takes those rows one at a time:

1. claim: a short write transaction picks one due row (status "pending", next_attempt_at <= now;
   `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), bumps `attempts` and
   pushes `next_attempt_at` a lease ahead, and commits. Another worker no longer sees the row as due,
   so two workers never send the same (alert, channel) at the same time;
2. send, outside any transaction, so a slow channel holds no lock;
3. finish: "delivered" (with delivered_at), or on failure back to "pending" with an exponential
   back-off and `last_error`, or "failed" once `max_attempts` attempts have failed. The update is
   fenced by the claimed `attempts`, so a late finish cannot overwrite a newer claim's outcome.

A worker that dies between claim and finish leaves the row to be claimed again once its lease has
run out: delivery is at least once, and exactly once unless a worker dies (or outlives its lease)
after the channel accepted the alert and before the finish commits. Each channel is worked in its
own thread, so a channel that keeps failing or timing out does not hold up the others; rows of a
channel with no notifier configured are left alone.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.notifiers import DeliveryError, Notifier
from ktpledger.adapters.tables import alerts, notifications
from ktpledger.service.alert_reader import present_alerts
from ktpledger.service.projections import alert_json

log = logging.getLogger("ktpledger.notify")

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=5)
JITTER = 0.1
ERROR_LIMIT = 1000


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
    alert_id: int
    channel: str
    attempts: int  # after this claim's bump: the fencing token of the finish
    alert: dict[str, Any] | None  # None: the alert row is gone (a replay rebuilt the alerts)
    outcome: str = "send"  # "send"; "gave_up": failed without a send; "lost": another worker took it


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one (as SQLite returns them) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 2**attempts seconds, up to 10% more, at most
    an hour."""
    base = 2.0 ** min(max(attempts, 0), 16)
    seconds = min(base * (1 + JITTER * rng()), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=seconds)


def deliver_due(
    database: Database,
    notifiers: Mapping[str, Notifier],
    *,
    now: datetime | None = None,
    limit: int = 100,
    max_attempts: int = 8,
    lease: timedelta = LEASE,
    alert_ids: Collection[int] | None = None,
) -> DeliveryReport:
    """Deliver due notifications: at most `limit` per channel, each channel in its own thread.

    `now` fixes the clock (tests, replays of a schedule); by default it is the wall clock, read
    afresh for each step. `alert_ids` restricts the run to those alerts' rows."""
    if limit < 1 or max_attempts < 1:
        raise ValueError("limit and max_attempts must be at least 1")
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
    worker = _ChannelWorker(database, clock, limit, max_attempts, lease, ids)
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
    max_attempts: int = 8,
    lease: timedelta = LEASE,
) -> DeliveryReport:
    """Deliver the due notifications of just these alerts (right after the catch-up that raised
    them); rows waiting out a back-off are left for `deliver_due`."""
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return DeliveryReport()
    return deliver_due(
        database,
        notifiers,
        now=now,
        limit=len(ids),
        max_attempts=max_attempts,
        lease=lease,
        alert_ids=ids,
    )


class _ChannelWorker:
    """Claims, sends and finishes one channel's rows in turn."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        limit: int,
        max_attempts: int,
        lease: timedelta,
        alert_ids: list[int] | None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.limit = limit
        self.max_attempts = max_attempts
        self.lease = lease
        self.alert_ids = alert_ids

    def run(self, channel: str, notifier: Notifier) -> DeliveryReport:
        report = DeliveryReport()
        if not self.any_due(channel):
            return report  # without taking the write lock (SQLite has only one)
        for _ in range(self.limit):
            claim = self.claim(channel)
            if claim is None:
                break
            report += self.deliver(claim, notifier)
        return report

    # --- claim -----------------------------------------------------------------------------------

    def due(self, channel: str, now: datetime) -> Select[Any]:
        query = (
            select(notifications.c.alert_id, notifications.c.attempts)
            .where(
                notifications.c.channel == channel,
                notifications.c.status == PENDING,
                notifications.c.next_attempt_at <= now,
            )
            .order_by(notifications.c.next_attempt_at, notifications.c.alert_id)
            .limit(1)
        )
        if self.alert_ids is not None:
            query = query.where(notifications.c.alert_id.in_(self.alert_ids))
        return query

    def any_due(self, channel: str) -> bool:
        with self.database.read() as connection:
            return connection.execute(self.due(channel, self.clock())).first() is not None

    def claim(self, channel: str) -> _Claim | None:
        """Take the next due row of the channel for this worker; committed before anything is sent."""
        with self.database.projection() as connection:
            now = self.clock()
            query = self.due(channel, now)
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = connection.execute(query).first()
            if row is None:
                connection.rollback()
                return None
            alert_id, attempts = int(row.alert_id), int(row.attempts)
            key = (notifications.c.alert_id == alert_id, notifications.c.channel == channel)
            if attempts >= self.max_attempts:
                # Claimed max_attempts times with no outcome recorded (workers died): give up.
                connection.execute(
                    update(notifications)
                    .where(*key, notifications.c.attempts == attempts)
                    .values(status=FAILED, last_error=f"gave up after {attempts} attempts with no outcome")
                )
                connection.commit()
                log.warning("alert %s on %s: gave up after %s attempts", alert_id, channel, attempts)
                return _Claim(alert_id, channel, attempts, None, outcome="gave_up")
            claimed = connection.execute(
                update(notifications)
                .where(
                    *key,
                    notifications.c.status == PENDING,
                    notifications.c.attempts == attempts,
                    notifications.c.next_attempt_at <= now,
                )
                .values(attempts=attempts + 1, next_attempt_at=now + self.lease)
            )
            if claimed.rowcount != 1:  # taken by another worker in between: look again
                connection.rollback()
                return _Claim(alert_id, channel, attempts, None, outcome="lost")
            found = connection.execute(select(alerts).where(alerts.c.id == alert_id)).first()
            connection.commit()
        if found is None:
            return _Claim(alert_id, channel, attempts + 1, None)
        # Sent with its figures as they stand now (and as raised), as every reader shows it.
        [shown] = present_alerts(self.database, [alert_json(found)], today=utc(now).date())
        return _Claim(alert_id, channel, attempts + 1, shown)

    # --- send and finish -------------------------------------------------------------------------

    def deliver(self, claim: _Claim, notifier: Notifier) -> DeliveryReport:
        if claim.outcome == "gave_up":
            return DeliveryReport(failed=1)
        if claim.outcome == "lost":
            return DeliveryReport()
        if claim.alert is None:
            self.finish(claim, FAILED, f"alert {claim.alert_id} no longer exists")
            return DeliveryReport(failed=1)
        try:
            notifier.send(claim.alert)
        except DeliveryError as error:
            return self.failed(claim, str(error))
        except Exception as error:  # a notifier's bug must not stop the other rows or channels
            log.exception("alert %s on %s: the notifier raised", claim.alert_id, claim.channel)
            return self.failed(claim, f"{type(error).__name__}: {error}")
        self.finish(claim, DELIVERED, None)
        return DeliveryReport(delivered=1)

    def failed(self, claim: _Claim, message: str) -> DeliveryReport:
        if claim.attempts >= self.max_attempts:
            log.warning(
                "alert %s on %s failed for good after %s attempts: %s",
                claim.alert_id,
                claim.channel,
                claim.attempts,
                message,
            )
            self.finish(claim, FAILED, message)
            return DeliveryReport(failed=1)
        log.info(
            "alert %s on %s: attempt %s failed: %s", claim.alert_id, claim.channel, claim.attempts, message
        )
        self.finish(claim, PENDING, message)
        return DeliveryReport(retried=1)

    def finish(self, claim: _Claim, status: str, error: str | None) -> None:
        now = self.clock()
        values: dict[str, Any] = {
            "status": status,
            "last_error": None if error is None else error[:ERROR_LIMIT],
        }
        if status == DELIVERED:
            values["delivered_at"] = now
        elif status == PENDING:
            values["next_attempt_at"] = now + backoff(claim.attempts)
        with self.database.projection() as connection:
            connection.execute(
                update(notifications)
                .where(
                    notifications.c.alert_id == claim.alert_id,
                    notifications.c.channel == claim.channel,
                    notifications.c.status == PENDING,
                    notifications.c.attempts == claim.attempts,
                )
                .values(**values)
            )
            connection.commit()

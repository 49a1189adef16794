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

Storage is the notification store port's (`adapters/notification_store.py`): the SQL store of the
database's backend by default, or a `store` given (the tests' in-memory one). The claim, send and
finish are `delivery_worker.py`'s; the policy and the report `delivery_policy.py`'s.

Each channel is worked in its own thread, so a channel that keeps failing or timing out does not
hold up the others; a run stops working a channel at its first failed attempt (the rest of its due
rows wait for the next run), so a channel that is down costs one attempt, at most its timeout, per
run. Rows of a channel with no notifier configured are left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.notification_sql import notification_store
from ktpledger.adapters.notification_store import NotificationStore
from ktpledger.adapters.notifiers import Notifier
from ktpledger.domain.project import ProjectState
from ktpledger.domain.statuses import DELIVERED, FAILED, PENDING, SUPPRESSED
from ktpledger.service.alert_reader import present_alerts
from ktpledger.service.delivery_policy import (
    LEASE,
    MAX_BACKOFF,
    DeliveryPolicy,
    DeliveryReport,
    backoff,
)
from ktpledger.service.delivery_worker import ChannelWorker
from ktpledger.service.outbox import Presenter, utc

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


def deliver_due(
    database: Database | None,
    notifiers: Mapping[str, Notifier],
    *,
    now: datetime | None = None,
    limit: int = 100,
    policy: DeliveryPolicy | None = None,
    alert_ids: Collection[int] | None = None,
    store: NotificationStore | None = None,
    present: Presenter | None = None,
) -> DeliveryReport:
    """Deliver due notifications of both outboxes: at most `limit` per channel and outbox, each
    channel in its own thread.

    `now` fixes the clock (tests, replays of a schedule); by default it is the wall clock, read
    afresh for each step. `alert_ids` restricts the run to those KTP alerts' rows (and leaves the
    system alerts' for another run). `store` and `present` replace the notification store and the
    presenter of KTP alerts (`alert_reader.present_alerts`) of `database`; with both, `database`
    may be None."""
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
    store, present = _ports(database, store, present)
    worker = ChannelWorker(store, present, clock, limit, policy or DeliveryPolicy(), ids, channels)
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
    database: Database | None,
    notifiers: Mapping[str, Notifier],
    alert_ids: Iterable[int],
    *,
    now: datetime | None = None,
    policy: DeliveryPolicy | None = None,
    store: NotificationStore | None = None,
    present: Presenter | None = None,
) -> DeliveryReport:
    """Deliver the due notifications of just these KTP alerts (right after the catch-up that raised
    them); rows waiting out a back-off are left for `deliver_due`."""
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return DeliveryReport()
    return deliver_due(
        database,
        notifiers,
        now=now,
        limit=len(ids),
        policy=policy,
        alert_ids=ids,
        store=store,
        present=present,
    )


def _ports(
    database: Database | None, store: NotificationStore | None, present: Presenter | None
) -> tuple[NotificationStore, Presenter]:
    """The store and presenter given, or else those of `database`."""
    if database is None:
        if store is None or present is None:
            raise ValueError("deliver with a database, or with a store and a presenter of their own")
        return store, present
    if present is None:
        # The projects' facts read once per delivery run, not once a row: a run lasts moments,
        # and a project's new alerts come together (its first catch-up raises several).
        known: dict[str, ProjectState] = {}

        def present_on(rows: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
            return present_alerts(database, rows, today=today, known=known, sending=True)

        present = present_on
    return store if store is not None else notification_store(database), present

"""Digest notifications: compose each recipient's digest for its period, once, and send it with
retries (README, "Notifications", digests; `domain/digest.py` says what a digest holds).

`send_digests` (`ktpledger digest send`, the workers' daily beat) does two things:

1. compose: for each recipient with a digest due on the day (every day, or their weekday:
   `DigestRecipient.due_on`) whose period ending that day has no digest yet, read the alerts as every reader shows them as of the day (`shown_alerts`: stored
   alerts with their figures now, and the calendar's findings), compare them with the snapshot of
   the recipient's previous digest and insert the digest with its own snapshot. The table's
   unique (recipient, period_end) makes the insert of a period composed already do nothing, so
   two schedulers, a rerun or a retry never make a second digest of one period. A digest with
   nothing new, resolved or open is stored as `empty` (its snapshot kept) and never sent;
2. deliver: every pending digest that is due, claimed by a conditional update that one caller
   wins, sent outside any transaction, finished fenced by the claim. A failed send is retried
   with the outboxes' back-off (`delivery_policy.backoff`, at most five minutes apart) until the
   retry period (KTPLEDGER_NOTIFY_RETRY_HOURS, 72 h) from its first attempt has passed, then
   marked `failed` and logged at WARNING on `ktpledger.notify`; it is never lost silently. The
   SMTP server failing every digest for KTPLEDGER_CHANNEL_DOWN_MINUTES raises `channel_down`
   about the `digest` channel, as for any channel.

The figures are judged as of the day the digest is composed (`today`, the calendar's day in the
UK unless --today / KTPLEDGER_TODAY says otherwise).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.digest_store import DigestRow, DigestStore
from ktpledger.adapters.notification_sql import notification_store
from ktpledger.adapters.notifiers import DeliveryError, DigestMailer
from ktpledger.domain.digest import Digest, DigestRecipient, compose
from ktpledger.domain.statuses import DELIVERED, FAILED, PENDING
from ktpledger.service.alert_reader import shown_alerts
from ktpledger.service.channel_health import record_failure, record_success
from ktpledger.service.delivery_policy import (
    ERROR_LIMIT,
    DeliveryPolicy,
    DeliveryReport,
    backoff,
    readable_span,
)
from ktpledger.service.outbox import utc

log = logging.getLogger("ktpledger.notify")
EMPTY = "empty"
CHANNEL = "digest"  # its name in channel_health and in a channel_down system alert
LISTING = "`ktpledger digest list` shows the digests and any given up."
DELIVER_LIMIT = 500  # digests sent per run at most: more wait for the next run


def digest_delivery_id(recipient: str, period_end: date) -> str:
    """The digest's Message-ID, the same on every attempt: `dig-` and 32 hex digits."""
    digest = hashlib.sha256(f"digest|{recipient}|{period_end.isoformat()}".encode()).hexdigest()
    return f"dig-{digest[:32]}"


@dataclass
class DigestRun:
    """What one `send_digests` did: the digests composed (or, in a dry run, that would be), the
    periods skipped as composed already, and the deliveries."""

    composed: list[Digest] = field(default_factory=list)
    already: list[tuple[str, date]] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "composed": [digest.to_json() for digest in self.composed],
            "already_composed": [
                {"recipient": who, "period_end": end.isoformat()} for who, end in self.already
            ],
            **({} if self.dry_run else {"delivery": self.delivery.to_json()}),
        }


def compose_digests(
    database: Database,
    recipients: Sequence[DigestRecipient],
    today: date,
    *,
    now: datetime,
    store: bool = True,
) -> DigestRun:
    """Compose the digests of `recipients` whose period as of `today` has none yet; insert them
    unless `store` is False (a dry run: what each would get, nothing written)."""
    digests = DigestStore(database)
    run = DigestRun(dry_run=not store)
    due = [r for r in recipients if r.due_on(today)]
    waiting = [r for r in due if not digests.composed(r.email, r.period(today)[1])]
    run.already = [(r.email, r.period(today)[1]) for r in due if r not in waiting]
    if not waiting:
        return run
    wanted: set[str] | None = set()
    for recipient in waiting:
        if not recipient.projects:
            wanted = None
            break
        assert wanted is not None
        wanted |= recipient.projects
    alerts = shown_alerts(database, today=today, projects=wanted)
    for recipient in waiting:
        end = recipient.period(today)[1]
        digest = compose(recipient, today, alerts, digests.last_snapshot(recipient.email, before=end))
        if store:
            inserted = digests.insert(_row(digest, now))
            if not inserted:
                run.already.append((recipient.email, end))
                continue
        run.composed.append(digest)
    return run


def _row(digest: Digest, now: datetime) -> dict[str, Any]:
    return {
        "recipient": digest.recipient.email,
        "every": digest.recipient.every,
        "period_start": digest.start,
        "period_end": digest.end,
        "as_of": digest.today,
        "status": EMPTY if digest.empty else PENDING,
        "subject": digest.subject(),
        "body_text": "" if digest.empty else digest.text(),
        "body_html": "" if digest.empty else digest.html(),
        "counts": digest.counts(),
        "snapshot": digest.snapshot,
        "delivery_id": digest_delivery_id(digest.recipient.email, digest.end),
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def deliver_digests(
    database: Database,
    mailer: DigestMailer,
    *,
    now: datetime | None = None,
    policy: DeliveryPolicy | None = None,
    limit: int = DELIVER_LIMIT,
    channels: Sequence[str] = (),
) -> DeliveryReport:
    """Send the pending digests that are due, each claimed first (module docstring). A run stops
    at its first failed send: the SMTP server is down, the rest wait for the next run.

    Each send tells the `digest` channel's health as the outboxes' do: failing every attempt for
    KTPLEDGER_CHANNEL_DOWN_MINUTES raises a `channel_down` system alert about `digest`, sent
    through `channels` (the outboxes' configured channels), resolved by the next delivery."""
    policy = policy or DeliveryPolicy()
    store = DigestStore(database)
    health = _Health(database, policy, channels)

    def clock() -> datetime:
        return utc(now) if now is not None else datetime.now(UTC)

    report = DeliveryReport()
    for row in store.due(utc(clock()), limit):
        moment = utc(clock())
        first = None if row.first_attempt_at is None else utc(row.first_attempt_at)
        if first is not None and moment >= first + policy.retry_period + policy.lease:
            reason = (
                f"gave up: due again after its retry period ({readable_span(policy.retry_period)}) had "
                "ended; its last claim was lost with its worker, or no delivery ran since"
            )
            if store.claim(row, now=moment, lease_until=moment + policy.lease):
                store.finish(row.id, attempts=row.attempts + 1, status=FAILED, now=moment, error=reason)
                log.warning("digest %s to %s: %s", row.id, row.recipient, reason)
                report += DeliveryReport(failed=1)
            continue
        if not store.claim(row, now=moment, lease_until=moment + policy.lease):
            continue  # another scheduler took it
        attempts = row.attempts + 1
        first = first or moment
        try:
            mailer.send(row.recipient, row.subject, row.body_text, row.body_html, row.delivery_id)
        except DeliveryError as error:
            message = str(error) or type(error).__name__
            report += _failed(store, row, attempts, first, message, policy, clock)
            health.failed(message, utc(clock()))
            return report
        except Exception as error:  # a bug must not leave the row claimed without an outcome
            log.exception("digest %s to %s: the mailer raised", row.id, row.recipient)
            report += _failed(store, row, attempts, first, f"{type(error).__name__}: {error}", policy, clock)
            return report
        store.finish(row.id, attempts=attempts, status=DELIVERED, now=utc(clock()))
        health.delivered(utc(clock()))
        report += DeliveryReport(delivered=1)
    return report


@dataclass(frozen=True)
class _Health:
    """The digest channel's health in `channel_health` (`service/channel_health.py`)."""

    database: Database
    policy: DeliveryPolicy
    channels: Sequence[str]

    def failed(self, error: str, now: datetime) -> None:
        with notification_store(self.database).write() as unit:
            record_failure(
                unit,
                channel=CHANNEL,
                error=error[:ERROR_LIMIT],
                now=now,
                down_after=self.policy.channel_down_after,
                others=self.channels,
                retry_period=self.policy.retry_period,
                listing=LISTING,
            )
            unit.commit()

    def delivered(self, now: datetime) -> None:
        with notification_store(self.database).write() as unit:
            record_success(unit, channel=CHANNEL, now=now)
            unit.commit()


def _failed(
    store: DigestStore,
    row: DigestRow,
    attempts: int,
    first: datetime,
    message: str,
    policy: DeliveryPolicy,
    clock: Any,
) -> DeliveryReport:
    moment = utc(clock())
    ends = first + policy.retry_period
    if moment >= ends:
        reason = (
            f"gave up after {attempts} attempts over {readable_span(moment - first)} "
            f"(retry period {readable_span(policy.retry_period)}): {message}"
        )
        log.warning("digest %s to %s failed for good: %s", row.id, row.recipient, reason)
        store.finish(row.id, attempts=attempts, status=FAILED, now=moment, error=reason[:ERROR_LIMIT])
        return DeliveryReport(failed=1)
    log.info("digest %s to %s: attempt %s failed: %s", row.id, row.recipient, attempts, message)
    retry_at = min(moment + backoff(attempts), ends)  # the last attempt is made as the period ends
    store.finish(
        row.id, attempts=attempts, status=PENDING, now=moment, error=message[:ERROR_LIMIT], retry_at=retry_at
    )
    return DeliveryReport(retried=1)


def send_digests(
    database: Database,
    recipients: Sequence[DigestRecipient],
    mailer: DigestMailer | None,
    today: date,
    *,
    now: datetime | None = None,
    policy: DeliveryPolicy | None = None,
    dry_run: bool = False,
    channels: Sequence[str] = (),
) -> DigestRun:
    """Compose the digests due as of `today`, then send every pending one (module docstring).
    `dry_run`: compose without storing or sending anything."""
    moment = utc(now) if now is not None else datetime.now(UTC)
    run = compose_digests(database, recipients, today, now=utc(moment), store=not dry_run)
    if not dry_run and mailer is not None:
        run.delivery = deliver_digests(database, mailer, now=now, policy=policy, channels=channels)
    return run


def listed_digests(database: Database, limit: int = 100) -> list[dict[str, Any]]:
    """The latest digests, newest period first (`ktpledger digest list`)."""
    return [
        {
            "id": row.id,
            "recipient": row.recipient,
            "every": row.every,
            "period_start": row.period_start.isoformat(),
            "period_end": row.period_end.isoformat(),
            "as_of": row.as_of.isoformat(),
            "status": row.status,
            "subject": row.subject,
            "counts": row.counts,
            "attempts": row.attempts,
            "delivered_at": None if row.delivered_at is None else utc(row.delivered_at).isoformat(),
            "failed_at": None if row.failed_at is None else utc(row.failed_at).isoformat(),
            "last_error": row.last_error,
        }
        for row in DigestStore(database).listed(limit)
    ]

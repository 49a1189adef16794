"""One channel's share of a delivery run: claim a due row, send it, record the outcome (the steps
`ktpledger.service.notify` describes), through the notification store port."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ktpledger.adapters.notification_store import NotificationStore
from ktpledger.adapters.notifiers import DeliveryError, Notifier
from ktpledger.domain.chain import format_instant
from ktpledger.domain.statuses import DELIVERED, FAILED, PENDING
from ktpledger.service.channel_health import record_failure, record_success
from ktpledger.service.delivery_policy import (
    ERROR_LIMIT,
    DeliveryPolicy,
    DeliveryReport,
    backoff,
    readable_span,
)
from ktpledger.service.outbox import ALERTS, OUTBOXES, Outbox, Presenter, utc

log = logging.getLogger("ktpledger.notify")


@dataclass(frozen=True)
class Claim:
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


class ChannelWorker:
    """Claims, sends and finishes one channel's rows in turn, system alerts first."""

    def __init__(
        self,
        store: NotificationStore,
        present: Presenter,
        clock: Callable[[], datetime],
        limit: int,
        policy: DeliveryPolicy,
        alert_ids: list[int] | None,
        channels: list[str],
    ) -> None:
        self.store = store
        self.present = present
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

    def any_due(self, outbox: Outbox, channel: str) -> bool:
        with self.store.read() as unit:
            found = unit.deliveries.due(outbox.name, channel, self.clock(), alert_ids=self.alert_ids)
            return found is not None

    def claim(self, outbox: Outbox, channel: str) -> Claim | None:
        """Take the next due row of the channel for this worker; committed before anything is sent."""
        with self.store.write() as unit:
            now = self.clock()
            row = unit.deliveries.due(outbox.name, channel, now, alert_ids=self.alert_ids, claiming=True)
            if row is None:
                return None
            ref, attempts = row.ref, row.attempts
            first = None if row.first_attempt_at is None else utc(row.first_attempt_at)
            if first is not None and now >= first + self.policy.retry_period + self.policy.lease:
                # Due a lease after its retry period ended: its last claim had no outcome (a worker
                # died) or no delivery ran since. Time is up: give up without another attempt.
                reason = (
                    f"gave up: due again after its retry period ({readable_span(self.policy.retry_period)} "
                    f"from the first attempt at {format_instant(first)}) had ended; its last claim was "
                    "lost with its worker, or no delivery ran since"
                )
                unit.deliveries.finish(
                    outbox.name, ref, channel, attempts=attempts, status=FAILED, last_error=reason, now=now
                )
                unit.commit()
                gave_up = Claim(outbox, ref, channel, attempts, first, None, outcome="gave_up")
                log.warning("%s: %s", gave_up.what, reason)
                return gave_up
            lease_until = now + self.policy.lease
            if not unit.deliveries.claim(
                outbox.name, ref, channel, attempts=attempts, now=now, lease_until=lease_until
            ):  # taken by another worker in between: look again
                return Claim(outbox, ref, channel, attempts, now, None, outcome="lost")
            found = unit.deliveries.alert(outbox.name, ref)
            unit.commit()
        message = None if found is None else outbox.render(self.present, found, channel, now)
        return Claim(outbox, ref, channel, attempts + 1, first or now, message)

    # --- send and finish -------------------------------------------------------------------------

    def deliver(self, claim: Claim, notifier: Notifier) -> DeliveryReport:
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

    def failed(self, claim: Claim, message: str) -> DeliveryReport:
        now = self.clock()
        ends = claim.first_attempt_at + self.policy.retry_period
        if now >= ends:
            reason = (
                f"gave up after {claim.attempts} attempts over {readable_span(now - claim.first_attempt_at)} "
                f"(retry period {readable_span(self.policy.retry_period)}): {message}"
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
        claim: Claim,
        status: str,
        error: str | None,
        *,
        failure: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record the attempt's outcome (fenced by its claim) and, when the channel was tried, its
        health: `failure` is the channel's error, None after a delivery."""
        now = self.clock()
        with self.store.write() as unit:
            unit.deliveries.finish(
                claim.outbox.name,
                claim.ref,
                claim.channel,
                attempts=claim.attempts,
                status=status,
                last_error=None if error is None else error[:ERROR_LIMIT],
                now=now,
                retry_at=retry_at,
            )
            if status == DELIVERED:
                record_success(unit, channel=claim.channel, now=now)
            elif failure is not None:
                record_failure(
                    unit,
                    channel=claim.channel,
                    error=failure[:ERROR_LIMIT],
                    now=now,
                    down_after=self.policy.channel_down_after,
                    others=self.channels,
                    retry_period=self.policy.retry_period,
                )
            unit.commit()

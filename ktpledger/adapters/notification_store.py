"""The notification store port: what delivering and resending notifications need of storage.

A sibling of the projection store (`projection_store.py`), in the same unit-of-work style:
`store.write()` or `store.read()` opens one transaction and yields a `NotificationUnit` whose
repositories act in it; nothing is kept unless the block calls `unit.commit()`.

- `unit.deliveries`: the rows of both outboxes, `notifications` (of KTP alerts; `ALERT_OUTBOX`) and
  `system_notifications` (of system alerts; `SYSTEM_OUTBOX`), named by outbox, alert id (`ref`) and
  channel: finding the next due row, claiming it, recording an attempt's outcome, listing, resending;
- `unit.channel_health`: each channel's current run of failed attempts (`channel_health`);
- `unit.system_alerts`: the projection store's `SystemAlertRepository`, the same implementation, so
  a `channel_down` alert is raised and resolved as a `projection_failed` one is.

Implementations: `notification_sql.SqliteNotificationStore` and
`notification_sql.PostgresNotificationStore` (they differ only in how a claim keeps other workers
off a row; `notification_sql.notification_store(database)` picks by the database's dialect), and an
in-memory fake for the service tests (`tests/notify/fake_store.py`). Errors are ktpledger's
(`adapters/errors.py`): the engines raise them for every statement and commit.

Datetimes cross the port as the backend keeps them: SQLite gives naive ones (which are UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ktpledger.adapters.projection_store import AlertRecord, SystemAlertRecord, SystemAlertRepository

ALERT_OUTBOX = "alert"  # `notifications`: a row per KTP alert and channel
SYSTEM_OUTBOX = "system"  # `system_notifications`: a row per system alert and channel
OUTBOX_NAMES = (SYSTEM_OUTBOX, ALERT_OUTBOX)


@dataclass(frozen=True)
class DueRow:
    """An outbox row due for an attempt: its alert's id, attempts so far and first attempt."""

    ref: int
    attempts: int
    first_attempt_at: datetime | None


@dataclass(frozen=True)
class DeliveryRecord:
    """An outbox row and what a listing shows of its alert: `kind` and `subject` are None when the
    alert row is gone (a replay rebuilt the alerts). `project`, `category` and `raised_at_version`
    are a KTP alert's; `raised_at` is a system alert's."""

    outbox: str
    ref: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    kind: str | None
    subject: str | None
    project: str | None = None
    category: str | None = None
    raised_at_version: int | None = None
    raised_at: datetime | None = None


class DeliveryRepository(Protocol):
    """The rows of both outboxes (`ALERT_OUTBOX`, `SYSTEM_OUTBOX`), one per (alert, channel).

    A row's `attempts` is the fencing token of its claims: each write that records an outcome names
    the `attempts` it read, and changes nothing when the row has moved on since."""

    def due(
        self,
        outbox: str,
        channel: str,
        now: datetime,
        *,
        alert_ids: Sequence[int] | None = None,
        claiming: bool = False,
    ) -> DueRow | None:
        """The channel's next due row (pending, `next_attempt_at` <= now), the earliest due first,
        then the lowest alert id; of `alert_ids` only, when given. `claiming` (in a write unit):
        the row is kept from other units until this one ends, and a row another unit keeps is
        passed over."""
        ...

    def claim(
        self, outbox: str, ref: int, channel: str, *, attempts: int, now: datetime, lease_until: datetime
    ) -> bool:
        """Take the row for an attempt if it is still pending, due and at `attempts`: one more
        attempt, `next_attempt_at` the lease's end, `first_attempt_at` now unless set,
        `last_attempt_at` now. False when another worker took it first (nothing written)."""
        ...

    def finish(
        self,
        outbox: str,
        ref: int,
        channel: str,
        *,
        attempts: int,
        status: str,
        last_error: str | None,
        now: datetime,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record an outcome on the row if it is still pending at `attempts`: `status` and
        `last_error`, with `delivered_at` (status "delivered") or `failed_at` ("failed") now, or
        `next_attempt_at` `retry_at` ("pending", when given). False when it was not (nothing
        written)."""
        ...

    def alert(self, outbox: str, ref: int) -> AlertRecord | SystemAlertRecord | None:
        """The alert a row notifies (a KTP alert's or a system alert's), None if it is gone."""
        ...

    def listed(self, outbox: str, statuses: Sequence[str], *, limit: int) -> list[DeliveryRecord]:
        """The outbox's rows with one of `statuses`, by alert id then channel; at most `limit`."""
        ...

    def chosen(
        self, outbox: str, *, refs: Sequence[int], failed: bool, channel: str | None
    ) -> list[DeliveryRecord]:
        """The outbox's rows of the alerts `refs` and, with `failed`, every failed row; on
        `channel` only when given; by alert id then channel."""
        ...

    def resend(self, outbox: str, ref: int, channel: str, *, status: str, now: datetime) -> bool:
        """Put the row back to pending, due `now`, its retry period restarted (`first_attempt_at`,
        `failed_at` and `delivered_at` cleared), if it is still at `status`; True if it was."""
        ...


class ChannelHealthRepository(Protocol):
    """`channel_health`: each channel's current run of failed attempts."""

    def failed(self, channel: str, *, error: str, now: datetime) -> tuple[datetime, int]:
        """Count a failed attempt: it starts a run (at `now`) or extends the one under way. The
        run's start and its failures so far, this one included."""
        ...

    def succeeded(self, channel: str) -> bool:
        """End the channel's run of failures; False when it was not failing (nothing written)."""
        ...


class NotificationUnit(Protocol):
    """One transaction on the outboxes; rolled back unless `commit()` is called."""

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def channel_health(self) -> ChannelHealthRepository: ...

    @property
    def system_alerts(self) -> SystemAlertRepository: ...

    def commit(self) -> None: ...


class NotificationStore(Protocol):
    """Opens units of work on the outboxes. A `read()` unit takes no write lock (SQLite has one)."""

    def read(self) -> AbstractContextManager[NotificationUnit]: ...

    def write(self) -> AbstractContextManager[NotificationUnit]: ...

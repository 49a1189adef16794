"""An in-memory notification store: the port (`ktpledger.adapters.notification_store`) over the
projection store's fake, whose tables hold the outboxes, the alerts and `channel_health`.

`FakeNotificationStore` is a `FakeProjectionStore` too: alerts a `Projector` raises on it (or a test
adds through `write().alerts`) are the ones delivered. Its system alerts are the projection fake's
repository, as the SQL stores share theirs. The tests run single-threaded, so a claim needs no lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ktpledger.adapters.notification_store import ALERT_OUTBOX, DeliveryRecord, DueRow
from ktpledger.adapters.projection_store import AlertRecord, Row, SystemAlertRecord
from tests.projections.fake_store import FakeProjectionStore, FakeUnit

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class _Deliveries:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def _table(self, outbox: str) -> dict[tuple[int, str], Row]:
        tables = self._unit.tables
        return tables.notifications if outbox == ALERT_OUTBOX else tables.system_notifications

    def _sources(self, outbox: str) -> dict[int, Row]:
        tables = self._unit.tables
        return tables.alerts if outbox == ALERT_OUTBOX else tables.system_alerts

    def due(
        self,
        outbox: str,
        channel: str,
        now: datetime,
        *,
        alert_ids: Sequence[int] | None = None,
        claiming: bool = False,
    ) -> DueRow | None:
        due = sorted(
            (row["next_attempt_at"], ref, row)
            for (ref, row_channel), row in self._table(outbox).items()
            if row_channel == channel
            and row["status"] == PENDING
            and row["next_attempt_at"] <= now
            and (alert_ids is None or ref in alert_ids)
        )
        if not due:
            return None
        _, ref, row = due[0]
        return DueRow(ref, row["attempts"], row["first_attempt_at"])

    def _pending(self, outbox: str, ref: int, channel: str, attempts: int) -> Row | None:
        row = self._table(outbox).get((ref, channel))
        if row is None or row["status"] != PENDING or row["attempts"] != attempts:
            return None
        return row

    def claim(
        self, outbox: str, ref: int, channel: str, *, attempts: int, now: datetime, lease_until: datetime
    ) -> bool:
        row = self._pending(outbox, ref, channel, attempts)
        if row is None or row["next_attempt_at"] > now:
            return False
        row.update(attempts=attempts + 1, next_attempt_at=lease_until, last_attempt_at=now)
        if row["first_attempt_at"] is None:
            row["first_attempt_at"] = now
        return True

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
        row = self._pending(outbox, ref, channel, attempts)
        if row is None:
            return False
        row.update(status=status, last_error=last_error)
        if status == DELIVERED:
            row["delivered_at"] = now
        elif status == FAILED:
            row["failed_at"] = now
        elif retry_at is not None:
            row["next_attempt_at"] = retry_at
        return True

    def alert(self, outbox: str, ref: int) -> AlertRecord | SystemAlertRecord | None:
        found = self._sources(outbox).get(ref)
        if found is None:
            return None
        return AlertRecord(**found) if outbox == ALERT_OUTBOX else SystemAlertRecord(**found)

    def _record(self, outbox: str, ref: int, row: Row) -> DeliveryRecord:
        source: dict[str, Any] = self._sources(outbox).get(ref) or {}
        shown = ("project", "category", "raised_at_version") if outbox == ALERT_OUTBOX else ("raised_at",)
        fields: dict[str, Any] = {name: row[name] for name in _DELIVERY_COLUMNS}
        fields.update({name: source.get(name) for name in ("kind", "subject", *shown)})
        return DeliveryRecord(outbox=outbox, ref=ref, **fields)

    def _records(self, outbox: str, wanted: Any) -> list[DeliveryRecord]:
        rows = sorted(self._table(outbox).items())
        return [self._record(outbox, ref, row) for (ref, channel), row in rows if wanted(ref, channel, row)]

    def listed(self, outbox: str, statuses: Sequence[str], *, limit: int) -> list[DeliveryRecord]:
        return self._records(outbox, lambda ref, channel, row: row["status"] in statuses)[:limit]

    def chosen(
        self, outbox: str, *, refs: Sequence[int], failed: bool, channel: str | None
    ) -> list[DeliveryRecord]:
        return self._records(
            outbox,
            lambda ref, on, row: (
                (ref in refs or (failed and row["status"] == FAILED)) and (channel is None or on == channel)
            ),
        )

    def resend(self, outbox: str, ref: int, channel: str, *, status: str, now: datetime) -> bool:
        row = self._table(outbox).get((ref, channel))
        if row is None or row["status"] != status:
            return False
        row.update(
            status=PENDING, next_attempt_at=now, first_attempt_at=None, failed_at=None, delivered_at=None
        )
        return True


_DELIVERY_COLUMNS = (
    "channel",
    "status",
    "attempts",
    "next_attempt_at",
    "first_attempt_at",
    "last_attempt_at",
    "delivered_at",
    "failed_at",
    "last_error",
)


class _ChannelHealth:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def failed(self, channel: str, *, error: str, now: datetime) -> tuple[datetime, int]:
        row = self._unit.tables.channel_health.setdefault(
            channel, {"channel": channel, "failing_since": None, "failures": 0}
        )
        if row["failing_since"] is None:
            row.update(failing_since=now, failures=0)
        row.update(failures=row["failures"] + 1, last_failure_at=now, last_error=error)
        return row["failing_since"], row["failures"]

    def succeeded(self, channel: str) -> bool:
        row = self._unit.tables.channel_health.get(channel)
        if row is None or row["failing_since"] is None:
            return False
        row.update(failing_since=None, failures=0)
        return True


class FakeNotificationUnit(FakeUnit):
    """A unit of the projection fake with the notification store's repositories besides."""

    def __init__(self, store: FakeProjectionStore) -> None:
        super().__init__(store)
        self.deliveries = _Deliveries(self)
        self.channel_health = _ChannelHealth(self)


class FakeNotificationStore(FakeProjectionStore):
    """The projections, outboxes and channel health in memory (see the module's words)."""

    @contextmanager
    def read(self) -> Iterator[FakeNotificationUnit]:
        yield FakeNotificationUnit(self)  # its changes are never the store's

    @contextmanager
    def write(self, *, exclusive: bool = False, durable: bool = True) -> Iterator[FakeNotificationUnit]:
        yield FakeNotificationUnit(self)

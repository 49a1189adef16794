"""The notification store on SQLAlchemy Core: `SqliteNotificationStore` and
`PostgresNotificationStore` behind the one port (`notification_store.NotificationStore`).

They share their SQL but for a claim: on PostgreSQL the due row is read `FOR UPDATE SKIP LOCKED`,
so two workers claiming at once take different rows; on SQLite the claim's transaction is `BEGIN
IMMEDIATE`, which already holds the database's one write lock. `notification_store(database)` picks
the class by the database's dialect. The system alerts are the projection store's repository
(`projection_sql_repositories.SqlSystemAlerts`): one implementation of their SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, ColumnElement, Connection, Select, Table, case, func, or_, select, update

from ktpledger.adapters.database import Database
from ktpledger.adapters.notification_store import ALERT_OUTBOX, SYSTEM_OUTBOX, DeliveryRecord, DueRow
from ktpledger.adapters.projection_sql_backends import BACKENDS, Backend
from ktpledger.adapters.projection_sql_repositories import SqlSystemAlerts, in_list
from ktpledger.adapters.projection_store import AlertRecord, SystemAlertRecord
from ktpledger.adapters.tables import (
    alerts,
    channel_health,
    notifications,
    system_alerts,
    system_notifications,
)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class _Outbox:
    """An outbox table, its column naming the alert, and the alerts table it refers to."""

    def __init__(self, table: Table, ref: Column[Any], source: Table) -> None:
        self.table, self.ref, self.source = table, ref, source

    def row(self, ref: int, channel: str) -> list[ColumnElement[bool]]:
        return [self.ref == ref, self.table.c.channel == channel]


_OUTBOXES = {
    ALERT_OUTBOX: _Outbox(notifications, notifications.c.alert_id, alerts),
    SYSTEM_OUTBOX: _Outbox(system_notifications, system_notifications.c.system_alert_id, system_alerts),
}


class SqlDeliveries:
    """Both outboxes' rows, in the transaction of the connection given."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _claimable(self, query: Select[Any]) -> Select[Any]:
        """The due row's query as a claim reads it (SQLite: as it is; see the module's words)."""
        return query

    def due(
        self,
        outbox: str,
        channel: str,
        now: datetime,
        *,
        alert_ids: Sequence[int] | None = None,
        claiming: bool = False,
    ) -> DueRow | None:
        chosen = _OUTBOXES[outbox]
        table = chosen.table
        query = (
            select(chosen.ref.label("ref"), table.c.attempts, table.c.first_attempt_at)
            .where(table.c.channel == channel, table.c.status == PENDING, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, chosen.ref)
            .limit(1)
        )
        if alert_ids is not None:
            query = query.where(chosen.ref.in_(list(alert_ids)))
        if claiming:
            query = self._claimable(query)
        row = self._connection.execute(query).first()
        return None if row is None else DueRow(int(row.ref), int(row.attempts), row.first_attempt_at)

    def claim(
        self, outbox: str, ref: int, channel: str, *, attempts: int, now: datetime, lease_until: datetime
    ) -> bool:
        chosen = _OUTBOXES[outbox]
        table = chosen.table
        claimed = self._connection.execute(
            update(table)
            .where(
                *chosen.row(ref, channel),
                table.c.attempts == attempts,
                table.c.status == PENDING,
                table.c.next_attempt_at <= now,
            )
            .values(
                attempts=attempts + 1,
                next_attempt_at=lease_until,
                first_attempt_at=func.coalesce(table.c.first_attempt_at, now),
                last_attempt_at=now,
            )
        )
        return claimed.rowcount == 1

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
        chosen = _OUTBOXES[outbox]
        table = chosen.table
        values: dict[str, Any] = {"status": status, "last_error": last_error}
        if status == DELIVERED:
            values["delivered_at"] = now
        elif status == FAILED:
            values["failed_at"] = now
        elif retry_at is not None:
            values["next_attempt_at"] = retry_at
        finished = self._connection.execute(
            update(table)
            .where(*chosen.row(ref, channel), table.c.status == PENDING, table.c.attempts == attempts)
            .values(**values)
        )
        return finished.rowcount == 1

    def alert(self, outbox: str, ref: int) -> AlertRecord | SystemAlertRecord | None:
        source = _OUTBOXES[outbox].source
        found = self._connection.execute(select(source).where(source.c.id == ref)).first()
        if found is None:
            return None
        if outbox == ALERT_OUTBOX:
            return AlertRecord(**found._mapping)
        return SystemAlertRecord(**found._mapping)

    def _rows(self, outbox: str) -> Select[Any]:
        chosen = _OUTBOXES[outbox]
        table, source = chosen.table, chosen.source
        columns = [
            chosen.ref.label("ref"),
            table.c.channel,
            table.c.status,
            table.c.attempts,
            table.c.next_attempt_at,
            table.c.first_attempt_at,
            table.c.last_attempt_at,
            table.c.delivered_at,
            table.c.failed_at,
            table.c.last_error,
            source.c.kind,
            source.c.subject,
        ]
        if outbox == ALERT_OUTBOX:
            columns += [source.c.project, source.c.category, source.c.raised_at_version]
        else:
            columns += [source.c.raised_at]
        return (
            select(*columns)
            .select_from(table.outerjoin(source, source.c.id == chosen.ref))
            .order_by(chosen.ref, table.c.channel)
        )

    def _records(self, outbox: str, query: Select[Any], parameters: dict[str, Any]) -> list[DeliveryRecord]:
        found = []
        for row in self._connection.execute(query, parameters):
            fields = dict(row._mapping)
            fields["ref"], fields["attempts"] = int(fields["ref"]), int(fields["attempts"])
            found.append(DeliveryRecord(outbox=outbox, **fields))
        return found

    def listed(self, outbox: str, statuses: Sequence[str], *, limit: int) -> list[DeliveryRecord]:
        table = _OUTBOXES[outbox].table
        query = self._rows(outbox).where(in_list(table.c.status, "statuses")).limit(limit)
        return self._records(outbox, query, {"statuses": list(statuses)})

    def chosen(
        self, outbox: str, *, refs: Sequence[int], failed: bool, channel: str | None
    ) -> list[DeliveryRecord]:
        chosen = _OUTBOXES[outbox]
        table = chosen.table
        conditions: list[ColumnElement[bool]] = []
        if refs:
            conditions.append(chosen.ref.in_(list(refs)))
        if failed:
            conditions.append(table.c.status == FAILED)
        if not conditions:
            return []
        query = self._rows(outbox).where(or_(*conditions))
        if channel is not None:
            query = query.where(table.c.channel == channel)
        return self._records(outbox, query, {})

    def resend(self, outbox: str, ref: int, channel: str, *, status: str, now: datetime) -> bool:
        chosen = _OUTBOXES[outbox]
        table = chosen.table
        changed = self._connection.execute(
            update(table)
            .where(*chosen.row(ref, channel), table.c.status == status)
            .values(
                status=PENDING, next_attempt_at=now, first_attempt_at=None, failed_at=None, delivered_at=None
            )
        )
        return changed.rowcount == 1


class PostgresDeliveries(SqlDeliveries):
    def _claimable(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)


class SqlChannelHealth:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def failed(self, channel: str, *, error: str, now: datetime) -> tuple[datetime, int]:
        c = channel_health.c
        insert = self._backend.insert(channel_health)
        self._connection.execute(
            insert.values(
                channel=channel, failing_since=now, failures=1, last_failure_at=now, last_error=error
            ).on_conflict_do_update(
                index_elements=["channel"],
                set_={
                    "failing_since": func.coalesce(c.failing_since, insert.excluded.failing_since),
                    "failures": case((c.failing_since.is_(None), 1), else_=c.failures + 1),
                    "last_failure_at": insert.excluded.last_failure_at,
                    "last_error": insert.excluded.last_error,
                },
            )
        )
        since, failures = self._connection.execute(
            select(c.failing_since, c.failures).where(c.channel == channel)
        ).one()
        return since, int(failures)

    def succeeded(self, channel: str) -> bool:
        c = channel_health.c
        ended = self._connection.execute(
            update(channel_health)
            .where(c.channel == channel, c.failing_since.is_not(None))
            .values(failing_since=None, failures=0)
        )
        return bool(ended.rowcount)


class SqlNotificationUnit:
    """One transaction on the outboxes, on the caller's connection."""

    def __init__(self, connection: Connection, backend: Backend, deliveries: type[SqlDeliveries]) -> None:
        self._connection = connection
        self.deliveries = deliveries(connection)
        self.channel_health = SqlChannelHealth(connection, backend)
        self.system_alerts = SqlSystemAlerts(connection, backend)

    def commit(self) -> None:
        self._connection.commit()


class SqlNotificationStore:
    """The outboxes in the database's tables; see the subclasses for what differs."""

    backend: ClassVar[Backend]
    deliveries: ClassVar[type[SqlDeliveries]]

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def read(self) -> Iterator[SqlNotificationUnit]:
        with self.database.read() as connection:
            yield SqlNotificationUnit(connection, self.backend, self.deliveries)

    @contextmanager
    def write(self) -> Iterator[SqlNotificationUnit]:
        with self.database.projection() as connection:
            yield SqlNotificationUnit(connection, self.backend, self.deliveries)


class SqliteNotificationStore(SqlNotificationStore):
    backend = BACKENDS["sqlite"]
    deliveries = SqlDeliveries


class PostgresNotificationStore(SqlNotificationStore):
    backend = BACKENDS["postgresql"]
    deliveries = PostgresDeliveries


_STORES: dict[str, type[SqlNotificationStore]] = {
    "sqlite": SqliteNotificationStore,
    "postgresql": PostgresNotificationStore,
}


def notification_store(database: Database) -> SqlNotificationStore:
    """The notification store of `database`'s backend."""
    kind = _STORES.get(database.dialect)
    if kind is None:
        raise ValueError(f"no notification store for a {database.dialect} database")
    return kind(database)

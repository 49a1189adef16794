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

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)

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
    """An outbox table, its column naming the alert, the alerts table it refers to, and the
    statements a delivery runs on them, each built once.

    Why built once: a delivery runs about seven statements an alert, and building one (its
    clauses coerced, then its cache key walked to find the compiled SQL) cost more CPU than
    running it; a statement made here with `bindparam`s is built once and its cache key is
    memoized, so each execution only binds its values. The SQL sent is the same as before."""

    def __init__(self, table: Table, ref: Column[Any], source: Table) -> None:
        self.table, self.ref, self.source = table, ref, source
        c = table.c
        mine = [
            ref == bindparam("b_ref", type_=ref.type),
            c.channel == bindparam("b_channel", type_=c.channel.type),
        ]
        at_attempts = c.attempts == bindparam("b_attempts", type_=c.attempts.type)
        now = bindparam("b_now", type_=c.next_attempt_at.type)
        due = (
            select(ref.label("ref"), c.attempts, c.first_attempt_at)
            .where(
                c.channel == bindparam("b_channel", type_=c.channel.type),
                c.status == PENDING,
                c.next_attempt_at <= now,
            )
            .order_by(c.next_attempt_at, ref)
            .limit(1)
        )
        # The due row's query: of any alert, or of the alerts named (`b_refs`); and as a claim
        # reads it on PostgreSQL (see the module's words).
        self.due = {False: due, True: due.where(in_list(ref, "b_refs"))}
        self.due_skip_locked = {
            named: query.with_for_update(skip_locked=True) for named, query in self.due.items()
        }
        self.claim = (
            update(table)
            .where(*mine, at_attempts, c.status == PENDING, c.next_attempt_at <= now)
            .values(
                attempts=bindparam("b_next_attempts", type_=c.attempts.type),
                next_attempt_at=bindparam("b_lease_until", type_=c.next_attempt_at.type),
                first_attempt_at=func.coalesce(c.first_attempt_at, now),
                last_attempt_at=now,
            )
        )
        finish = update(table).where(*mine, c.status == PENDING, at_attempts)
        status = bindparam("b_status", type_=c.status.type)
        error = bindparam("b_last_error", type_=c.last_error.type)
        # A finish by what it stamps besides status and last_error (`finish`'s branches).
        self.finish = {
            "delivered_at": finish.values(status=status, last_error=error, delivered_at=now),
            "failed_at": finish.values(status=status, last_error=error, failed_at=now),
            "next_attempt_at": finish.values(
                status=status,
                last_error=error,
                next_attempt_at=bindparam("b_retry_at", type_=c.next_attempt_at.type),
            ),
            None: finish.values(status=status, last_error=error),
        }
        self.alert = select(source).where(source.c.id == bindparam("b_ref", type_=source.c.id.type))

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

    # Whether a claim reads the due row `FOR UPDATE SKIP LOCKED` (SQLite: no; see the module's words).
    skip_locked: ClassVar[bool] = False

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
        parameters: dict[str, Any] = {"b_channel": channel, "b_now": now}
        if alert_ids is not None:
            parameters["b_refs"] = list(alert_ids)
        named = alert_ids is not None
        query = chosen.due_skip_locked[named] if claiming and self.skip_locked else chosen.due[named]
        row = self._connection.execute(query, parameters).first()
        return None if row is None else DueRow(int(row.ref), int(row.attempts), row.first_attempt_at)

    def claim(
        self, outbox: str, ref: int, channel: str, *, attempts: int, now: datetime, lease_until: datetime
    ) -> bool:
        claimed = self._connection.execute(
            _OUTBOXES[outbox].claim,
            {
                "b_ref": ref,
                "b_channel": channel,
                "b_attempts": attempts,
                "b_next_attempts": attempts + 1,
                "b_now": now,
                "b_lease_until": lease_until,
            },
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
        parameters: dict[str, Any] = {
            "b_ref": ref,
            "b_channel": channel,
            "b_attempts": attempts,
            "b_status": status,
            "b_last_error": last_error,
        }
        if status == DELIVERED:
            stamped: str | None = "delivered_at"
        elif status == FAILED:
            stamped = "failed_at"
        elif retry_at is not None:
            stamped = "next_attempt_at"
        else:
            stamped = None
        if stamped in ("delivered_at", "failed_at"):
            parameters["b_now"] = now
        elif stamped == "next_attempt_at":
            parameters["b_retry_at"] = retry_at
        finished = self._connection.execute(_OUTBOXES[outbox].finish[stamped], parameters)
        return finished.rowcount == 1

    def alert(self, outbox: str, ref: int) -> AlertRecord | SystemAlertRecord | None:
        found = self._connection.execute(_OUTBOXES[outbox].alert, {"b_ref": ref}).first()
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
    skip_locked = True


# After each delivery (built once, as `_Outbox`'s statements are).
_HEALTHY = (
    update(channel_health)
    .where(
        channel_health.c.channel == bindparam("b_channel", type_=channel_health.c.channel.type),
        channel_health.c.failing_since.is_not(None),
    )
    .values(failing_since=None, failures=0)
)


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
        ended = self._connection.execute(_HEALTHY, {"b_channel": channel})
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

"""The projection store's repositories on SQLAlchemy Core, one per table (or family of tables),
each acting in the transaction of the connection it is given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from ktpledger.adapters import ledger_store, snapshot_store
from ktpledger.adapters.projection_sql_backends import Backend, backend_of
from ktpledger.adapters.projection_store import (
    ACKNOWLEDGEMENT_COLUMNS,
    AlertRecord,
    Crossing,
    HeadState,
    Identity,
    Resolution,
    Row,
    SystemAlertRecord,
)
from ktpledger.adapters.tables import (
    alerts,
    allowance_lines,
    events,
    notifications,
    portfolio_rows,
    project_facts,
    projection_heads,
    system_alerts,
    system_notifications,
    trackers,
)
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot
from ktpledger.domain.statuses import FAILED, OK, OPEN, NotificationStatus, SystemAlertKind


def in_list(column: Any, name: str) -> Any:
    return column.in_(bindparam(name, expanding=True))


def open_figures_of(rows: Iterable[Sequence[Any]]) -> dict[str, dict[AlertKey, str]]:
    """Open alerts' rows (project, category, kind, subject, current) as `open_figures` gives them."""
    found: dict[str, dict[AlertKey, str]] = {}
    for project, category, kind, subject, current in rows:
        found.setdefault(project, {})[AlertKey(category, kind, subject)] = current or ""
    return found


class SqlHeads:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def lock(self, names: Sequence[str], now: datetime) -> dict[str, HeadState]:
        found: dict[str, HeadState] = {}

        def take(rows: Any) -> None:
            for project, version, status, error in rows:
                found[project] = HeadState(int(version), (error or "") if status == FAILED else None)

        take(self._locked(names))
        missing = [name for name in names if name not in found]
        if missing:
            self._connection.execute(
                self._backend.insert_ignore(projection_heads),
                [
                    {"project": n, "version": 0, "position": 0, "clock": None, "updated_at": now}
                    for n in missing
                ],
            )
            take(self._locked(missing))
        return found

    def _locked(self, names: Sequence[str]) -> Any:
        """The heads rows of `names` (project, version, status, error), locked in name order."""
        driven = self._backend.locked_heads(self._connection, names)
        if driven is not None:
            return driven
        c = projection_heads.c
        query = self._backend.locked(
            select(c.project, c.version, c.status, c.error)
            .where(in_list(c.project, "names"))
            .order_by(c.project)
        )
        return self._connection.execute(query, {"names": list(names)})

    def lock_free(self, names: Sequence[str]) -> dict[str, int]:
        c = projection_heads.c
        query = self._backend.locked_if_free(
            select(c.project, c.version)
            .where(in_list(c.project, "names"), c.status != FAILED)
            .order_by(c.project)
        )
        return {
            project: int(version)
            for project, version in self._connection.execute(query, {"names": list(names)})
        }

    def lock_with_free(
        self, names: Sequence[str], free: Sequence[str], now: datetime
    ) -> tuple[dict[str, HeadState], dict[str, int]]:
        both = self._backend.locked_heads_and_free(self._connection, names, free) if names and free else None
        if both is None:
            return (self.lock(names, now) if names else {}), (self.lock_free(free) if free else {})
        locked, taken = both
        found = {
            project: HeadState(int(version), (error or "") if status == FAILED else None)
            for project, version, status, error in locked
        }
        if len(found) < len(names):  # a project's first catch-up: its head made, then locked
            found |= self.lock([name for name in names if name not in found], now)
        return found, {project: int(version) for project, version in taken}

    def advance(self, moves: Sequence[Row]) -> None:
        self._backend.upsert(self._connection, projection_heads, moves, ("project",))

    def put(self, rows: Sequence[Row]) -> None:
        self._backend.upsert(self._connection, projection_heads, rows, ("project",))

    def of(self, names: Sequence[str]) -> list[Row]:
        query = select(projection_heads).where(in_list(projection_heads.c.project, "names"))
        return [dict(row._mapping) for row in self._connection.execute(query, {"names": list(names)})]

    def failed(self) -> list[Row]:
        c = projection_heads.c
        query = select(projection_heads).where(c.status == FAILED).order_by(c.project)
        return [dict(row._mapping) for row in self._connection.execute(query)]

    def lagging(self, limit: int) -> list[str]:
        c = projection_heads.c
        latest = (
            select(events.c.project, func.max(events.c.version).label("version"))
            .group_by(events.c.project)
            .subquery()
        )
        query = (
            select(latest.c.project)
            .select_from(latest.outerjoin(projection_heads, c.project == latest.c.project))
            .where(
                func.coalesce(c.version, 0) < latest.c.version,
                func.coalesce(c.status, OK) != FAILED,  # quarantined: until a retry
            )
            .order_by(latest.c.project)
            .limit(limit)
        )
        return list(self._connection.execute(query).scalars())

    def behind(self) -> int:
        c = projection_heads.c
        failed = select(c.project).where(c.status == FAILED)
        ledger = (
            select(func.count()).select_from(events).where(events.c.project.not_in(failed)).scalar_subquery()
        )
        folded = select(func.coalesce(func.sum(c.version), 0)).where(c.status != FAILED).scalar_subquery()
        return int(self._connection.execute(select(ledger - folded)).scalar_one())


class SqlLines:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def upsert(self, rows: Sequence[Row]) -> None:
        self._backend.upsert(self._connection, allowance_lines, rows, ("project", "category"))

    def of(self, project: str) -> list[Row]:
        c = allowance_lines.c
        query = select(allowance_lines).where(c.project == project).order_by(c.ordinal)
        return [dict(row._mapping) for row in self._connection.execute(query)]

    def of_projects(self, names: Sequence[str]) -> list[Row]:
        return [dict(row._mapping) for row in self._connection.execute(_LINES_OF, {"names": list(names)})]


class SqlFacts:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def upsert(self, rows: Sequence[Row]) -> None:
        self._backend.upsert(self._connection, project_facts, rows, ("project",))

    def of_projects(self, names: Sequence[str]) -> list[Row]:
        return [dict(row._mapping) for row in self._connection.execute(_FACTS_OF, {"names": list(names)})]

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        return {str(p): int(v) for p, v in self._connection.execute(_FACTS_VERSIONS, {"names": list(names)})}


class SqlPortfolioRows:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def upsert(self, rows: Sequence[Row]) -> None:
        self._backend.upsert(self._connection, portfolio_rows, rows, ("project",))

    def versions(self, names: Sequence[str], as_of: date) -> dict[str, int]:
        found = self._connection.execute(_PORTFOLIO_VERSIONS, {"names": list(names), "as_of": as_of})
        return {str(project): int(version) for project, version in found}

    def of_projects(self, names: Sequence[str], as_of: date) -> list[Row]:
        found = self._connection.execute(_PORTFOLIO_OF, {"names": list(names), "as_of": as_of})
        return [dict(row._mapping) for row in found]


# Reads by a list of projects, built once (a delivery reads its alert's lines through `_LINES_OF`:
# building the statement each call cost more than running it, issue 18); the list is an expanding
# parameter, "names".
_LINES_OF = select(allowance_lines).where(in_list(allowance_lines.c.project, "names"))
_FACTS_OF = select(project_facts).where(in_list(project_facts.c.project, "names"))
_FACTS_VERSIONS = select(project_facts.c.project, project_facts.c.version).where(
    in_list(project_facts.c.project, "names")
)
_PORTFOLIO_OF_PROJECTS = (
    in_list(portfolio_rows.c.project, "names"),
    portfolio_rows.c.as_of == bindparam("as_of"),
)
_PORTFOLIO_VERSIONS = select(portfolio_rows.c.project, portfolio_rows.c.version).where(
    *_PORTFOLIO_OF_PROJECTS
)
_PORTFOLIO_OF = select(portfolio_rows).where(*_PORTFOLIO_OF_PROJECTS)


def _same_alert(project: Any, key: AlertKey) -> list[Any]:
    c = alerts.c
    return [c.project == project, c.category == key.category, c.kind == key.kind, c.subject == key.subject]


# The open alert of one condition, by the parameters p, c, k and s (an executemany's rows).
_OPEN_BY_PARAMETERS = (
    alerts.c.project == bindparam("p"),
    alerts.c.category == bindparam("c"),
    alerts.c.kind == bindparam("k"),
    alerts.c.subject == bindparam("s"),
    alerts.c.status == OPEN,
)

_SET_CURRENT = update(alerts).where(*_OPEN_BY_PARAMETERS).values(current=bindparam("current"))


# A catch-up's resolutions, run as one executemany (psycopg pipelines it: one round trip).
_RESOLVE = (
    update(alerts)
    .where(*_OPEN_BY_PARAMETERS)
    .values(
        status="resolved",
        resolved_at_version=bindparam("v"),
        resolved_on=bindparam("r_on"),
        resolved_at=bindparam("r_at"),
        resolved_reason=bindparam("r_why"),
        current=None,
    )
)
# Built once, not on every call: a catch-up that raises an alert reads what its project resolved
# lately and inserts the raise, and building the statements cost more CPU than running them.
_RESOLVED_SINCE = (
    select(alerts.c.project, alerts.c.category, alerts.c.kind, alerts.c.subject, func.max(alerts.c.id))
    .where(
        in_list(alerts.c.project, "names"),
        alerts.c.status == "resolved",
        alerts.c.resolved_at >= bindparam("since"),
    )
    .group_by(alerts.c.project, alerts.c.category, alerts.c.kind, alerts.c.subject)
)
_ADD_ALERTS: dict[Backend, Any] = {}

_CROSSING = (
    alerts.c.id,
    alerts.c.project,
    alerts.c.category,
    alerts.c.kind,
    alerts.c.subject,
    alerts.c.raised_at_version,
)


class SqlAlerts:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def open_figures(self, names: Sequence[str]) -> dict[str, dict[AlertKey, str]]:
        if not names:
            return {}
        rows = self._backend.open_alert_rows(self._connection, names)
        if rows is None:
            c = alerts.c
            query = select(c.project, c.category, c.kind, c.subject, c.current).where(
                in_list(c.project, "names"), c.status == OPEN
            )
            rows = list(self._connection.execute(query, {"names": list(names)}))
        return open_figures_of(rows)

    def add_many(self, rows: Sequence[Row]) -> dict[Crossing, int]:
        if not rows:
            return {}
        # One multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING (SQLAlchemy's insertmanyvalues):
        # the rows left out are those a unique key refused.
        statement = _ADD_ALERTS.get(self._backend)
        if statement is None:  # built once a backend, as `_RESOLVED_SINCE`
            statement = _ADD_ALERTS[self._backend] = self._backend.insert_ignore(alerts).returning(*_CROSSING)
        return {
            (r.project, r.category, r.kind, r.subject, int(r.raised_at_version)): int(r.id)
            for r in self._connection.execute(statement, list(rows))
        }

    def resolve_many(self, resolutions: Sequence[Resolution], now: datetime) -> int:
        if not resolutions:
            return 0
        rows = [
            {
                "p": r.project,
                "c": r.key.category,
                "k": str(r.key.kind),
                "s": r.key.subject,
                "v": r.version,
                "r_on": r.on,
                "r_at": now,
                "r_why": r.reason,
            }
            for r in resolutions
        ]
        return self._connection.execute(_RESOLVE, rows).rowcount or 0

    def acknowledge(self, rows: Sequence[Row]) -> int:
        written = 0
        c = alerts.c
        for row in rows:
            result = self._connection.execute(
                update(alerts)
                .where(
                    c.project == row["project"],
                    c.category == row["category"],
                    c.kind == row["kind"],
                    c.subject == row["subject"],
                    c.raised_at_version == row["raised_at_version"],
                    c.acknowledged_at_version.is_(None),
                )
                .values({name: row[name] for name in ACKNOWLEDGEMENT_COLUMNS})
            )
            written += result.rowcount or 0
        return written

    def find(self, alert_id: int) -> AlertRecord | None:
        row = self._connection.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return None if row is None else AlertRecord(**row._mapping)

    def set_current(self, changes: Sequence[tuple[str, AlertKey, str]]) -> None:
        if changes:
            rows = [
                {"p": p, "c": key.category, "k": str(key.kind), "s": key.subject, "current": figures}
                for p, key, figures in changes
            ]
            if not self._backend.set_current(self._connection, rows):
                self._connection.execute(_SET_CURRENT, rows)

    def resolved_since_many(self, projects: Sequence[str], since: datetime) -> dict[str, dict[AlertKey, int]]:
        found: dict[str, dict[AlertKey, int]] = {}
        if not projects:
            return found
        for project, category, kind, subject, latest in self._connection.execute(
            _RESOLVED_SINCE, {"names": list(projects), "since": since}
        ):
            found.setdefault(str(project), {})[AlertKey(category, kind, subject)] = int(latest)
        return found

    def identities(self, project: str | None = None) -> dict[Crossing, Identity]:
        c = alerts.c
        query = select(
            c.id, c.project, c.category, c.kind, c.subject, c.raised_at_version, c.raised_at,
            c.resolved_at_version, c.resolved_at,
        )  # fmt: skip
        if project is not None:
            query = query.where(c.project == project)
        return {
            (r.project, r.category, r.kind, r.subject, r.raised_at_version): Identity(
                int(r.id), r.raised_at, r.resolved_at_version, r.resolved_at
            )
            for r in self._connection.execute(query)
        }

    def open_counts(self) -> dict[str, int]:
        c = alerts.c
        query = select(c.project, func.count()).where(c.status == OPEN).group_by(c.project)
        return {str(project): int(count) for project, count in self._connection.execute(query)}

    def listed(self, project: str | None = None, *, include_resolved: bool = False) -> list[AlertRecord]:
        query = select(alerts).order_by(alerts.c.id)
        if project is not None:
            query = query.where(alerts.c.project == project)
        if not include_resolved:
            query = query.where(alerts.c.status == OPEN)
        return [AlertRecord(**row._mapping) for row in self._connection.execute(query)]


class SqlOutbox:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def queue_many(self, queued: Sequence[tuple[int, Sequence[str], str | None]], now: datetime) -> None:
        rows = [
            {
                "alert_id": alert_id,
                "channel": channel,
                "status": "pending" if why is None else "suppressed",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": why,
                "delivered_at": None,
            }
            for alert_id, channels, why in queued
            for channel in channels
        ]
        if rows:
            self._connection.execute(self._backend.insert_ignore(notifications), rows)

    def statuses(self, alert_ids: Sequence[int]) -> dict[int, set[NotificationStatus]]:
        c = notifications.c
        query = select(c.alert_id, c.status).where(in_list(c.alert_id, "ids"))
        found: dict[int, set[NotificationStatus]] = {}
        for row in self._connection.execute(query, {"ids": list(alert_ids)}):
            found.setdefault(int(row.alert_id), set()).add(row.status)
        return found


class SqlSystemAlerts:
    """Also used on a caller's own connection (`system_alerts.raise_system_alert`)."""

    def __init__(self, connection: Connection, backend: Backend | None = None) -> None:
        self._connection = connection
        self._backend = backend or backend_of(connection.dialect.name)

    def raise_alert(
        self,
        *,
        kind: SystemAlertKind,
        subject: str,
        detail: str,
        message: str,
        channels: Sequence[str],
        now: datetime,
    ) -> int | None:
        row = {
            "kind": kind,
            "subject": subject,
            "detail": detail,
            "message": message,
            "status": OPEN,
            "raised_at": now,
            "resolved_at": None,
            "resolved_reason": None,
        }
        statement = self._backend.insert_ignore(system_alerts).returning(system_alerts.c.id)
        inserted = self._connection.execute(statement, row).scalar_one_or_none()
        if inserted is None:
            return None
        alert_id = int(inserted)
        rows = [
            {
                "system_alert_id": alert_id,
                "channel": channel,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "delivered_at": None,
            }
            for channel in channels
        ]
        if rows:
            self._connection.execute(self._backend.insert_ignore(system_notifications), rows)
        return alert_id

    def resolve(self, *, kind: SystemAlertKind, subject: str, reason: str, now: datetime) -> bool:
        c = system_alerts.c
        result = self._connection.execute(
            update(system_alerts)
            .where(c.kind == kind, c.subject == subject, c.status == OPEN)
            .values(status="resolved", resolved_at=now, resolved_reason=reason)
        )
        return bool(result.rowcount)

    def open_subjects(self, kind: SystemAlertKind) -> list[str]:
        c = system_alerts.c
        return list(
            self._connection.execute(select(c.subject).where(c.kind == kind, c.status == OPEN)).scalars()
        )

    def listed(self, *, include_resolved: bool = False) -> list[SystemAlertRecord]:
        query = select(system_alerts).order_by(system_alerts.c.id)
        if not include_resolved:
            query = query.where(system_alerts.c.status == OPEN)
        return [SystemAlertRecord(**row._mapping) for row in self._connection.execute(query)]


class SqlTracker:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def position(self, name: str) -> int:
        query = select(trackers.c.position).where(trackers.c.name == name)
        return int(self._connection.execute(query).scalar_one_or_none() or 0)

    def advance(self, name: str, position: int, now: datetime) -> None:
        self._connection.execute(
            self._backend.insert_ignore(trackers), {"name": name, "position": 0, "updated_at": now}
        )
        self._connection.execute(
            update(trackers)
            .where(trackers.c.name == name, trackers.c.position < position)
            .values(position=position, updated_at=now)
        )


class SqlEvents:
    def __init__(self, connection: Connection, backend: Backend) -> None:
        self._connection, self._backend = connection, backend

    def after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        return ledger_store.streams_after(self._connection, versions)

    def stream(self, project: str) -> list[RecordedEvent]:
        return ledger_store.stream(self._connection, project)

    def but_claims(self, project: str) -> list[RecordedEvent]:
        return ledger_store.stream_but_claims(self._connection, project)

    def streams(self, names: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        return ledger_store.streams(self._connection, names)

    def of_versions(self, project: str, versions: Sequence[int]) -> list[RecordedEvent]:
        if not versions:
            return []
        query = (
            select(*ledger_store.COLUMNS)
            .where(events.c.project == project, events.c.version.in_(sorted(set(versions))))
            .order_by(events.c.version)
        )
        return [ledger_store.to_recorded(row) for row in self._connection.execute(query).mappings()]

    def read_after(self, position: int, *, limit: int) -> list[RecordedEvent]:
        return ledger_store.read_after(self._connection, position, limit=limit)

    def projects(self) -> list[str]:
        return ledger_store.projects(self._connection)

    def every_project(self) -> list[str]:
        query = select(events.c.project).distinct().order_by(events.c.project)
        return list(self._connection.execute(query).scalars())

    def heads(self, names: Sequence[str]) -> dict[str, int]:
        return ledger_store.heads(self._connection, names)

    def count(self) -> int:
        return int(self._connection.execute(select(func.count()).select_from(events)).scalar_one())


def system_alerts_on(connection: object) -> SqlSystemAlerts:
    """The system alerts reached through a caller's own SQLAlchemy connection, in its transaction."""
    if not isinstance(connection, Connection):
        raise TypeError(f"expected a unit's system_alerts or a database connection, not {connection!r}")
    return SqlSystemAlerts(connection)


class SqlSnapshots:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def newest(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        return snapshot_store.newest(self._connection, limits, of_format)

    def replace_all(self, snapshots: Sequence[StoredSnapshot]) -> None:
        snapshot_store.replace_all(self._connection, snapshots, datetime.now(UTC))

    def keep_heads(self, snapshots: Sequence[StoredSnapshot], previous: Mapping[str, int]) -> None:
        snapshot_store.keep_heads(self._connection, snapshots, previous, datetime.now(UTC))

    def every(self) -> list[StoredSnapshot]:
        return list(snapshot_store.every(self._connection))

"""Projections: each project's allowances and alerts, derived from the ledger alone.

The ledger is the outbox. A wake-up names a project and nothing else; `catch_up` reads the events
after the project's saved version and commits the new allowance lines, the alert changes and the
new saved version in one transaction. A redelivered, duplicated, late or lost wake-up therefore
does no harm: the work is done at most once per event and the sweeper finds anything left behind.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.tables import (
    alerts,
    allowance_lines,
    events,
    notifications,
    projection_heads,
    trackers,
)
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.live import AlertChanges, LiveProject
from ktpledger.domain.money import format_money
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import Category

PENNY = Decimal("0.01")
SWEEPER = "sweeper"


def to_pence(amount: Decimal) -> int:
    return int((amount / PENNY).to_integral_value())


def from_pence(pence: int | None) -> Decimal | None:
    return None if pence is None else (Decimal(pence) * PENNY).quantize(PENNY)


@dataclass(frozen=True)
class AllowanceReport:
    """`ktpledger allowances`: a project's lines as of a date (None: as of the ledger's head)."""

    project: str
    as_of: date | None
    end: date
    grant_rate: Decimal
    lines: list[Allowance]
    version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "end": self.end.isoformat(),
            "grant_rate": f"{self.grant_rate:.2f}",
            "version": self.version,
            "lines": [allowance_json(line) for line in self.lines],
        }


def allowance_json(line: Allowance) -> dict[str, Any]:
    return {
        "category": line.category.value,
        "budget": format_money(line.budget),
        "limit": None if line.limit is None else format_money(line.limit),
        "limit_kind": line.limit_kind.value,
        "spent": format_money(line.spent),
        "remaining": format_money(line.remaining),
        "eligible": format_money(line.eligible),
        "ineligible": format_money(line.ineligible),
    }


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did."""

    project: str
    from_version: int
    to_version: int
    raised: list[int]
    resolved: int


def _insert_ignore(dialect: str, table: Any) -> Any:
    return (
        postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    ).on_conflict_do_nothing()


class Projector:
    """Keeps the projection tables current with the ledger."""

    def __init__(
        self, database: Database, channels: Sequence[str] = ("log",), *, cache_size: int = 5000
    ) -> None:
        self.database = database
        self.channels = tuple(channels)
        # Folded projects kept warm between catch-ups, so a wake-up folds only the new events. An
        # entry is used only when its version equals the saved one, and dropped on any failure.
        self._live: OrderedDict[str, LiveProject] = OrderedDict()
        self._cache_size = cache_size

    def _warm(
        self, connection: Connection, project: str, saved: int
    ) -> tuple[LiveProject, list[RecordedEvent]]:
        """The project folded up to its saved version, and the events after it."""
        live = self._live.pop(project, None)
        if live is not None and live.version == saved:
            return live, ledger_store.stream(connection, project, after_version=saved)
        live = LiveProject.new(project)
        stream = ledger_store.stream(connection, project)
        for item in stream[:saved]:
            live.fold(item.event(), item.version, item.hash)
        return live, stream[saved:]

    def _keep(self, live: LiveProject) -> None:
        self._live[live.state.project] = live
        while len(self._live) > self._cache_size:
            self._live.popitem(last=False)

    # --- catching up -----------------------------------------------------------------------------

    def catch_up(self, project: str) -> CatchUp:
        """Fold the project's new events into its projection; safe to call any number of times."""
        with self.database.projection() as connection:
            now = datetime.now(UTC)
            connection.execute(
                _insert_ignore(self.database.dialect, projection_heads),
                {"project": project, "version": 0, "position": 0, "clock": None, "updated_at": now},
            )
            query = select(projection_heads.c.version).where(projection_heads.c.project == project)
            if self.database.dialect == "postgresql":
                query = query.with_for_update()
            saved = int(connection.execute(query).scalar_one())
            live, new = self._warm(connection, project, saved)
            if not new:
                connection.rollback()
                self._keep(live)
                return CatchUp(project, saved, saved, [], 0)
            raised: list[int] = []
            resolved = 0
            for item in new:
                changes = live.apply(item.event(), item.version, item.hash)
                new_ids, ended = self._record_changes(connection, project, item, changes, now)
                raised += new_ids
                resolved += ended
            self._write_lines(connection, project, live)
            head = new[-1]
            connection.execute(
                update(projection_heads)
                .where(projection_heads.c.project == project)
                .values(version=head.version, position=head.position, clock=live.latest, updated_at=now)
            )
            connection.commit()
        # Kept only once committed: a failed catch-up leaves nothing half-folded behind.
        self._keep(live)
        return CatchUp(project, saved, head.version, raised, resolved)

    def _record_changes(
        self, connection: Connection, project: str, item: RecordedEvent, changes: AlertChanges, now: datetime
    ) -> tuple[list[int], int]:
        ended = 0
        for key in changes.resolved:
            result = connection.execute(
                update(alerts)
                .where(
                    alerts.c.project == project,
                    alerts.c.category == key.category,
                    alerts.c.kind == key.kind,
                    alerts.c.subject == key.subject,
                    alerts.c.status == "open",
                )
                .values(status="resolved", resolved_at_version=item.version, resolved_at=now)
            )
            ended += result.rowcount or 0
        new_ids: list[int] = []
        for key, detail in sorted(changes.raised.items()):
            row = {
                "project": project,
                "category": key.category,
                "kind": key.kind,
                "subject": key.subject,
                "detail": json.dumps(detail, sort_keys=True),
                "status": "open",
                "raised_at_version": item.version,
                "resolved_at_version": None,
                "raised_at": now,
                "resolved_at": None,
            }
            inserted = connection.execute(
                _insert_ignore(self.database.dialect, alerts).returning(alerts.c.id), row
            ).scalar_one_or_none()
            if inserted is None:
                continue  # this crossing was raised already
            new_ids.append(int(inserted))
            for channel in self.channels:
                connection.execute(
                    _insert_ignore(self.database.dialect, notifications),
                    {
                        "alert_id": inserted,
                        "channel": channel,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                        "delivered_at": None,
                    },
                )
        return new_ids, ended

    def _write_lines(self, connection: Connection, project: str, live: LiveProject) -> None:
        connection.execute(delete(allowance_lines).where(allowance_lines.c.project == project))
        rows = [line_row(project, ordinal, line) for ordinal, line in enumerate(live.ordered_lines())]
        if rows:
            connection.execute(allowance_lines.insert(), rows)

    # --- finding work left behind ----------------------------------------------------------------

    def lagging(self, *, limit: int = 10_000) -> list[str]:
        """Projects whose projection is behind the ledger (the sweeper wakes these)."""
        heads = (
            select(events.c.project, func.max(events.c.version).label("version"))
            .group_by(events.c.project)
            .subquery()
        )
        query = (
            select(heads.c.project)
            .select_from(heads.outerjoin(projection_heads, projection_heads.c.project == heads.c.project))
            .where(func.coalesce(projection_heads.c.version, 0) < heads.c.version)
            .order_by(heads.c.project)
            .limit(limit)
        )
        with self.database.read() as connection:
            return list(connection.execute(query).scalars())

    def behind(self) -> int:
        """How many events the projections have still to fold in."""
        ledger = select(func.count()).select_from(events).scalar_subquery()
        folded = select(func.coalesce(func.sum(projection_heads.c.version), 0)).scalar_subquery()
        with self.database.read() as connection:
            return int(connection.execute(select(ledger - folded)).scalar_one())

    def changed_since_sweep(self, *, limit: int = 50_000) -> tuple[set[str], int]:
        """Projects with events after the sweeper's bookmark, and the new bookmark (not yet saved)."""
        with self.database.read() as connection:
            saved = connection.execute(
                select(trackers.c.position).where(trackers.c.name == SWEEPER)
            ).scalar_one_or_none()
            position = int(saved or 0)
            recent = ledger_store.read_after(connection, position, limit=limit)
        if not recent:
            return set(), position
        return {item.project for item in recent}, recent[-1].position

    def save_sweep(self, position: int) -> None:
        with self.database.projection() as connection:
            now = datetime.now(UTC)
            connection.execute(
                _insert_ignore(self.database.dialect, trackers),
                {"name": SWEEPER, "position": 0, "updated_at": now},
            )
            connection.execute(
                update(trackers)
                .where(trackers.c.name == SWEEPER, trackers.c.position < position)
                .values(position=position, updated_at=now)
            )
            connection.commit()

    # --- the daily forecast pass -----------------------------------------------------------------

    def forecast_pass(self, today: date) -> list[int]:
        """Judge every open project's forecast as of `today` (R-41): time passes without events, so
        a forecast can start or stop holding on a day nothing is recorded. Returns new alert ids."""
        with self.database.read() as connection:
            names = list(connection.execute(select(projection_heads.c.project)).scalars())
        raised: list[int] = []
        for project in names:
            self.catch_up(project)
            raised += self._forecast_project(project, today)
        return raised

    def _forecast_project(self, project: str, today: date) -> list[int]:
        with self.database.projection() as connection:
            query = select(projection_heads.c.version).where(projection_heads.c.project == project)
            if self.database.dialect == "postgresql":
                query = query.with_for_update()
            saved = connection.execute(query).scalar_one_or_none()
            stream = ledger_store.stream(connection, project)
            if saved is None or not stream or stream[-1].version != saved:
                return []  # behind the ledger: the next catch-up judges it
            live = LiveProject.new(project)
            for item in stream:
                live.fold(item.event(), item.version, item.hash)
            if not live.state.exists or live.state.closed:
                return []
            live.latest = max(live.latest or today, today)
            live.settle()
            holding = {
                key: detail for key, detail in live.conditions().items() if key.kind == "forecast_overspend"
            }
            open_keys = {
                AlertKey(row.category, row.kind, row.subject)
                for row in connection.execute(
                    select(alerts.c.category, alerts.c.kind, alerts.c.subject).where(
                        alerts.c.project == project,
                        alerts.c.kind == "forecast_overspend",
                        alerts.c.status == "open",
                    )
                )
            }
            changes = AlertChanges(
                raised={key: detail for key, detail in holding.items() if key not in open_keys},
                resolved=sorted(key for key in open_keys if key not in holding),
            )
            new_ids, _ = self._record_changes(connection, project, stream[-1], changes, datetime.now(UTC))
            connection.commit()
        return new_ids

    # --- replay ----------------------------------------------------------------------------------

    def replay(self, *, batch: int = 20_000) -> tuple[int, int]:
        """Rebuild every projection from the ledger alone: (events read, projects)."""
        self._live.clear()
        live: dict[str, LiveProject] = {}
        alert_rows: list[dict[str, Any]] = []
        open_index: dict[tuple[str, AlertKey], dict[str, Any]] = {}
        heads: dict[str, RecordedEvent] = {}
        now = datetime.now(UTC)
        read = 0
        with self.database.projection(exclusive=True) as connection:
            position = 0
            while True:
                chunk = ledger_store.read_after(connection, position, limit=batch)
                if not chunk:
                    break
                for item in chunk:
                    project = live.get(item.project)
                    if project is None:
                        project = live[item.project] = LiveProject.new(item.project)
                    changes = project.apply(item.event(), item.version, item.hash)
                    for key in changes.resolved:
                        row = open_index.pop((item.project, key))
                        row.update(status="resolved", resolved_at_version=item.version, resolved_at=now)
                    for key, detail in sorted(changes.raised.items()):
                        row = {
                            "project": item.project,
                            "category": key.category,
                            "kind": key.kind,
                            "subject": key.subject,
                            "detail": json.dumps(detail, sort_keys=True),
                            "status": "open",
                            "raised_at_version": item.version,
                            "resolved_at_version": None,
                            "raised_at": now,
                            "resolved_at": None,
                        }
                        alert_rows.append(row)
                        open_index[(item.project, key)] = row
                    heads[item.project] = item
                read += len(chunk)
                position = chunk[-1].position
            for table in (allowance_lines, alerts, projection_heads):
                connection.execute(delete(table))
            for start in range(0, len(alert_rows), 5000):
                connection.execute(alerts.insert(), alert_rows[start : start + 5000])
            line_rows = [
                line_row(name, ordinal, line)
                for name, project in live.items()
                for ordinal, line in enumerate(project.ordered_lines())
            ]
            for start in range(0, len(line_rows), 5000):
                connection.execute(allowance_lines.insert(), line_rows[start : start + 5000])
            head_rows = [
                {
                    "project": name,
                    "version": item.version,
                    "position": item.position,
                    "clock": live[name].latest,
                    "updated_at": now,
                }
                for name, item in heads.items()
            ]
            for start in range(0, len(head_rows), 5000):
                connection.execute(projection_heads.insert(), head_rows[start : start + 5000])
            connection.commit()
        return read, len(live)

    # --- reading ---------------------------------------------------------------------------------

    def allowances(self, project: str, *, as_of: date | None = None) -> AllowanceReport:
        """Current figures from the projection; past figures (`as_of`) from the ledger's events
        dated on or before that day."""
        with self.database.read() as connection:
            stream = ledger_store.stream(connection, project)
            if not stream:
                raise RuleViolation("R-31", f"unknown project {project!r}: it has no events", field="project")
            if as_of is not None:
                state = ProjectState(project=project)
                for item in stream:
                    if item.date <= as_of:
                        state.apply(item.event(), item.version, item.hash)
                if not state.exists:
                    raise RuleViolation(
                        "R-31", f"project {project} had no grant offer on {as_of.isoformat()}", field="as_of"
                    )
                return AllowanceReport(
                    project, as_of, state.end, state.grant_rate, allowances(state), state.version
                )
            state = ProjectState(project=project)
            for item in stream:
                state.apply(item.event(), item.version, item.hash)
            version = connection.execute(
                select(projection_heads.c.version).where(projection_heads.c.project == project)
            ).scalar_one_or_none()
            rows = connection.execute(
                select(allowance_lines)
                .where(allowance_lines.c.project == project)
                .order_by(allowance_lines.c.ordinal)
            ).all()
        lines = [line_from_row(row) for row in rows]
        return AllowanceReport(project, None, state.end, state.grant_rate, lines, int(version or 0))

    def alerts(self, project: str | None = None, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Open alerts (and resolved ones with `include_resolved`), oldest first."""
        query = select(alerts).order_by(alerts.c.id)
        if project is not None:
            query = query.where(alerts.c.project == project)
        if not include_resolved:
            query = query.where(alerts.c.status == "open")
        with self.database.read() as connection:
            return [alert_json(row) for row in connection.execute(query)]


def line_row(project: str, ordinal: int, line: Allowance) -> dict[str, Any]:
    return {
        "project": project,
        "category": line.category.value,
        "ordinal": ordinal,
        "budget_pence": to_pence(line.budget),
        "limit_pence": None if line.limit is None else to_pence(line.limit),
        "limit_kind": line.limit_kind.value,
        "spent_pence": to_pence(line.spent),
        "eligible_pence": to_pence(line.eligible),
    }


def line_from_row(row: Any) -> Allowance:
    from ktpledger.domain.allowances import Exclusions
    from ktpledger.domain.rules import LimitKind

    budget = from_pence(row.budget_pence)
    spent = from_pence(row.spent_pence)
    eligible = from_pence(row.eligible_pence)
    assert budget is not None and spent is not None and eligible is not None
    kind = LimitKind(row.limit_kind)
    limit = from_pence(row.limit_pence)
    return Allowance(
        category=Category(row.category),
        budget=budget,
        limit=limit,
        limit_kind=kind,
        spent=spent,
        eligible=eligible,
        maximum=limit if kind is LimitKind.MAXIMUM else None,
        exclusions=Exclusions(),
    )


def alert_json(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "project": row.project,
        "category": row.category,
        "kind": row.kind,
        "detail": json.loads(row.detail),
        "status": row.status,
        "raised_at_version": row.raised_at_version,
        "resolved_at_version": row.resolved_at_version,
    }


def comparable(rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Alerts without ids, for comparing a replay with the incremental result."""
    return sorted(
        (
            r["project"],
            r["category"],
            r["kind"],
            json.dumps(r["detail"], sort_keys=True),
            r["status"],
            r["raised_at_version"],
            r["resolved_at_version"] or 0,
        )
        for r in rows
    )

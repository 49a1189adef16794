"""Projections: each project's allowances and alerts, derived from the ledger alone.

The ledger is the outbox. A wake-up names a project and nothing else; `catch_up` reads the events
after the project's saved version and commits the new allowance lines, the alert changes and the
new saved version in one transaction. A redelivered, duplicated, late or lost wake-up therefore
does no harm: the work is done at most once per event and the sweeper finds anything left behind.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.tables import (
    alerts,
    allowance_lines,
    events,
    notifications,
    projection_heads,
    system_alerts,
    trackers,
)
from ktpledger.domain.alerts import LINE_KINDS, AlertKey
from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import RuleViolation, UnreadableEvent, unknown_project
from ktpledger.domain.live import AlertStep, LiveProject, appends
from ktpledger.domain.money import format_money
from ktpledger.domain.recorded import RecordedEvent, located, unreadable
from ktpledger.domain.rules import Category
from ktpledger.domain.timeline import state_as_of
from ktpledger.service.ledger import fold
from ktpledger.service.system_alerts import PROJECTION_FAILED, raise_system_alert, resolve_system_alert
from ktpledger.settings import RENOTIFY_AFTER_HOURS

log = logging.getLogger("ktpledger.projections")

PENNY = Decimal("0.01")
SWEEPER = "sweeper"
OK = "ok"
FAILED = "failed"  # quarantined: a recorded event of the project cannot be read or folded
RETRIED = "retried: folds now"
CAUGHT_UP = "caught up: folds now"
REPLAYED = "replayed: folds now"
# An alert raised again this soon after the same alert resolved is recorded but not notified.
RENOTIFY_AFTER = timedelta(hours=RENOTIFY_AFTER_HOURS)


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


@dataclass
class Warm:
    """A project folded and kept between catch-ups: its live fold, the allowance rows as written,
    and its open alerts with the `current` figures as written."""

    live: LiveProject
    lines: dict[str, tuple[Any, ...]]
    open_alerts: dict[AlertKey, str]


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did; `failed` is the refusal naming the row when the project is (or was
    already) quarantined."""

    project: str
    from_version: int
    to_version: int
    raised: list[int]
    resolved: int
    failed: str | None = None


@dataclass(frozen=True)
class Retried:
    """What `Projector.retry` did to one project: its projection refolded from its whole stream,
    now healthy (`error` None) or still quarantined, and whether it was quarantined before."""

    project: str
    was_failed: bool
    version: int
    error: UnreadableEvent | None

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "status": OK if self.error is None else FAILED,
            "was": FAILED if self.was_failed else OK,
            "version": self.version,
            "error": None if self.error is None else self.error.as_dict(),
        }


def _insert_ignore(dialect: str, table: Any) -> Any:
    return (
        postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    ).on_conflict_do_nothing()


class Projector:
    """Keeps the projection tables current with the ledger."""

    def __init__(
        self,
        database: Database,
        channels: Sequence[str] = ("log",),
        *,
        cache_size: int = 5000,
        renotify_after: timedelta = RENOTIFY_AFTER,
    ) -> None:
        self.database = database
        self.channels = tuple(channels)
        # A raise within this long of the same alert's resolution is recorded but not notified.
        self.renotify_after = renotify_after
        # Folded projects kept warm between catch-ups, so a wake-up folds only the new events. An
        # entry is used only when its version equals the saved one, and dropped on any failure.
        self._live: OrderedDict[str, Warm] = OrderedDict()
        self._cache_size = cache_size

    def _keep(self, warm: Warm) -> None:
        project = warm.live.state.project
        self._live[project] = warm
        self._live.move_to_end(project)
        while len(self._live) > self._cache_size:
            self._live.popitem(last=False)

    # --- catching up -----------------------------------------------------------------------------

    def catch_up(self, project: str) -> CatchUp:
        """Fold the project's new events into its projection; safe to call any number of times."""
        return self.catch_up_many([project])[0]

    def catch_up_many(self, projects: Iterable[str]) -> list[CatchUp]:
        """Catch several projects up in one transaction (a handful of statements, whatever their
        number): lock their saved versions, read the events after them, fold, write, commit.

        A project with a recorded event that cannot be read or folded is quarantined (README,
        "Quarantine") and the others carry on: its projection is rebuilt up to the last append that
        folds whole, its head marked failed, and a `projection_failed` system alert raised; later
        catch-ups skip it until `retry`. Database errors are not the project's: they roll the whole
        catch-up back, as before, for a later wake-up or the sweeper to redo."""
        names = sorted(set(projects))
        if not names:
            return []
        now = datetime.now(UTC)
        kept: list[Warm] = []
        results: list[CatchUp] = []
        with self.database.projection(durable=False) as connection:
            saved, quarantined = self._lock_heads(connection, names, now)
            active = [name for name in names if name not in quarantined]
            warm: dict[str, Warm] = {}
            for name in active:
                entry = self._live.pop(name, None)
                if entry is not None and entry.live.version == saved[name]:
                    warm[name] = entry
            fresh = self._read_new(connection, {name: saved[name] if name in warm else 0 for name in active})
            cold_open = self._open_alerts(connection, [n for n in active if n not in warm and saved[n]])
            line_rows: list[dict[str, Any]] = []
            head_rows: list[dict[str, Any]] = []
            current_rows: list[dict[str, Any]] = []
            for name in names:
                if name in quarantined:
                    results.append(CatchUp(name, saved[name], saved[name], [], 0, quarantined[name]))
                    continue
                stream = fresh.get(name, [])
                entry = warm.get(name)
                raised: list[int] = []
                resolved = 0
                try:
                    if entry is None:
                        entry = Warm(LiveProject.new(name), {}, cold_open.get(name, {}))
                        _fold_quietly(entry.live, stream[: saved[name]])
                        entry.live.seed(entry.open_alerts)
                        stream = stream[saved[name] :]
                    live = entry.live
                    for group in appends(stream):
                        steps = live.apply_append(group)
                        new_ids, ended = self._record_steps(connection, name, steps, entry.open_alerts, now)
                        raised += new_ids
                        resolved += ended
                except UnreadableEvent:
                    folded = self._refold(connection, name, now, reason=CAUGHT_UP)
                    error = folded.failed.get(name)
                    version = int(folded.heads[0]["version"]) if folded.heads else saved[name]
                    results.append(
                        CatchUp(
                            name,
                            saved[name],
                            version,
                            raised,
                            resolved,
                            None if error is None else error.message,
                        )
                    )
                    continue
                if stream:
                    written = dict(entry.lines)
                    for ordinal, line in enumerate(live.ordered_lines()):
                        row = line_row(name, ordinal, line)
                        if written.get(line.category.value) != tuple(row.values()):
                            line_rows.append(row)
                            written[line.category.value] = tuple(row.values())
                    entry.lines = written
                    current_rows += _current_changes(name, live, entry.open_alerts)
                    head = stream[-1]
                    head_rows.append(
                        {
                            "project": name,
                            "version": head.version,
                            "position": head.position,
                            "clock": live.latest,
                            "updated_at": now,
                        }
                    )
                kept.append(entry)
                results.append(CatchUp(name, saved[name], live.version, raised, resolved))
            if head_rows:
                committing = datetime.now(UTC)  # when the projection moved, as near its commit as can be
                for row in head_rows:
                    row["updated_at"] = committing
                self._upsert(connection, allowance_lines, line_rows, ("project", "category"))
                if current_rows:
                    connection.execute(_SET_CURRENT, current_rows)
                self._upsert(connection, projection_heads, head_rows, ("project",))
            if head_rows or len(kept) < len(active):
                connection.commit()
        # Kept only once committed: a failed catch-up leaves nothing half-folded behind.
        for entry in kept:
            self._keep(entry)
        return results

    # --- quarantine ------------------------------------------------------------------------------

    def _refold(self, connection: Connection, name: str, now: datetime, *, reason: str) -> FoldedRows:
        """Rebuild one project's projection from its whole stream, as `replay` does for every
        project, in the caller's transaction: its rows replaced (an alert already recorded keeps its
        id and times), its head healthy or failed, and its `projection_failed` system alert raised
        or resolved accordingly. The warm fold of it, if any, is dropped."""
        self._live.pop(name, None)
        folded = FoldedRows([], [], [], 0)
        _fold_one(name, ledger_store.stream(connection, name), now, folded)
        rows = sorted(folded.alerts, key=lambda row: row.pop("_position"))
        _keep_identities(connection, rows, project=name)
        for table in (allowance_lines, alerts):
            connection.execute(delete(table).where(table.c.project == name))
        for chosen in ([row for row in rows if "id" in row], [row for row in rows if "id" not in row]):
            if chosen:
                connection.execute(alerts.insert(), chosen)
        if folded.lines:
            connection.execute(allowance_lines.insert(), folded.lines)
        self._upsert(connection, projection_heads, folded.heads, ("project",))
        self._raise_or_resolve(connection, [name], folded.failed, now, reason=reason)
        return folded

    def _raise_or_resolve(
        self,
        connection: Connection,
        names: Iterable[str],
        failed: dict[str, UnreadableEvent],
        now: datetime,
        *,
        reason: str,
    ) -> None:
        """Raise `projection_failed` for each failed project (once: one stays open per project) and
        resolve it, with `reason`, for each of `names` that folds."""
        for name, error in sorted(failed.items()):
            raised = raise_system_alert(
                connection,
                kind=PROJECTION_FAILED,
                subject=name,
                detail={"error": error.as_dict(), "project": name},
                message=f"The projection of {name} is quarantined: {error.message}",
                channels=self.channels,
                now=now,
            )
            if raised is not None:
                log.warning("projection of %s quarantined: %s", name, error.message)
        for name in names:
            if name not in failed:
                resolve_system_alert(connection, kind=PROJECTION_FAILED, subject=name, reason=reason, now=now)

    def retry(self, projects: Iterable[str] | None = None) -> list[Retried]:
        """Refold each of `projects` (None: every quarantined project) from its whole stream, as
        `replay` does for one project: a project that now folds is healthy again (its system alert
        resolved, "retried: folds now"); one that does not stays quarantined with the new error."""
        now = datetime.now(UTC)
        results: list[Retried] = []
        with self.database.projection() as connection:
            if projects is None:
                names = [row["project"] for row in self._quarantined(connection)]
            else:
                names = sorted(set(projects))
                known = ledger_store.heads(connection, names)
                for name in names:
                    if name not in known:
                        raise unknown_project(
                            name, ledger_store.projects(connection), self.database.shown_url
                        )
            if not names:
                return []
            _, quarantined = self._lock_heads(connection, names, now)
            for name in names:
                folded = self._refold(connection, name, now, reason=RETRIED)
                results.append(
                    Retried(
                        name, name in quarantined, int(folded.heads[0]["version"]), folded.failed.get(name)
                    )
                )
            connection.commit()
        return results

    def states(self, projects: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each project's projection as readers show it: `status` (`ok`, or `failed` while it is
        quarantined), the `version` it has folded to, and for a failed one the `error` naming the
        row and `failed_version`/`failed_position`. A project not caught up yet is `ok` at 0."""
        names = sorted(set(projects))
        found = {name: {"status": OK, "version": 0} for name in names}
        if not names:
            return found
        query = select(
            projection_heads.c.project,
            projection_heads.c.version,
            projection_heads.c.status,
            projection_heads.c.error,
            projection_heads.c.failed_version,
            projection_heads.c.failed_position,
        ).where(projection_heads.c.project.in_(bindparam("names", expanding=True)))
        with self.database.read() as connection:
            for row in connection.execute(query, {"names": names}):
                shown: dict[str, Any] = {"status": row.status, "version": int(row.version)}
                if row.status == FAILED:
                    shown.update(
                        error=row.error,
                        failed_version=row.failed_version,
                        failed_position=None if row.failed_position is None else int(row.failed_position),
                    )
                found[row.project] = shown
        return found

    def quarantined(self) -> list[dict[str, Any]]:
        """The quarantined projects, with the row that stopped each and the refusal naming it."""
        with self.database.read() as connection:
            return self._quarantined(connection)

    @staticmethod
    def _quarantined(connection: Connection) -> list[dict[str, Any]]:
        query = (
            select(
                projection_heads.c.project,
                projection_heads.c.version,
                projection_heads.c.position,
                projection_heads.c.failed_version,
                projection_heads.c.failed_position,
                projection_heads.c.error,
                projection_heads.c.updated_at,
            )
            .where(projection_heads.c.status == FAILED)
            .order_by(projection_heads.c.project)
        )
        return [
            {
                "project": row.project,
                "status": FAILED,
                "version": int(row.version),
                "position": int(row.position),
                "failed_version": row.failed_version,
                "failed_position": None if row.failed_position is None else int(row.failed_position),
                "error": row.error,
                "since": row.updated_at.isoformat(),
            }
            for row in connection.execute(query)
        ]

    def _open_alerts(self, connection: Connection, names: list[str]) -> dict[str, dict[AlertKey, str]]:
        """The open alerts of each project with their `current` figures as written."""
        found: dict[str, dict[AlertKey, str]] = {}
        if not names:
            return found
        query = select(
            alerts.c.project, alerts.c.category, alerts.c.kind, alerts.c.subject, alerts.c.current
        ).where(alerts.c.project.in_(bindparam("names", expanding=True)), alerts.c.status == "open")
        for row in connection.execute(query, {"names": names}):
            found.setdefault(row.project, {})[AlertKey(row.category, row.kind, row.subject)] = (
                row.current or ""
            )
        return found

    def _lock_heads(
        self, connection: Connection, names: list[str], now: datetime
    ) -> tuple[dict[str, int], dict[str, str]]:
        """Each project's saved version, its row locked to this transaction (created if new), and
        the error of each quarantined one.

        Rows are locked in the order of `names` (sorted), so two catch-ups never deadlock."""
        query = (
            select(
                projection_heads.c.project,
                projection_heads.c.version,
                projection_heads.c.status,
                projection_heads.c.error,
            )
            .where(projection_heads.c.project.in_(bindparam("names", expanding=True)))
            .order_by(projection_heads.c.project)
        )
        if self.database.dialect == "postgresql":
            query = query.with_for_update()
        saved: dict[str, int] = {}
        quarantined: dict[str, str] = {}

        def take(rows: Iterable[Any]) -> None:
            for project, version, status, error in rows:
                saved[project] = int(version)
                if status == FAILED:
                    quarantined[project] = error or ""

        take(connection.execute(query, {"names": names}))
        missing = [name for name in names if name not in saved]
        if missing:
            connection.execute(
                _insert_ignore(self.database.dialect, projection_heads),
                [
                    {"project": name, "version": 0, "position": 0, "clock": None, "updated_at": now}
                    for name in missing
                ],
            )
            take(connection.execute(query, {"names": missing}))
        return saved, quarantined

    def _read_new(self, connection: Connection, after: dict[str, int]) -> dict[str, list[RecordedEvent]]:
        """The events of each project after the given version, oldest first."""
        found: dict[str, list[RecordedEvent]] = {}
        if self.database.dialect == "postgresql":
            query = text(
                "SELECT e.position, e.project, e.version, e.type, e.schema_version, e.key, e.date, e.data, "
                "e.recorded_at, e.prev_hash, e.hash FROM events e "
                "JOIN unnest(CAST(:projects AS text[]), CAST(:afters AS integer[])) AS s(project, after) "
                "ON e.project = s.project AND e.version > s.after ORDER BY e.project, e.version"
            )
            rows = connection.execute(query, {"projects": list(after), "afters": list(after.values())})
            for row in rows:
                found.setdefault(row.project, []).append(ledger_store.to_recorded(row))
            return found
        for name, version in after.items():
            found[name] = ledger_store.stream(connection, name, after_version=version)
        return found

    def _upsert(
        self, connection: Connection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]
    ) -> None:
        if not rows:
            return
        dialect = self.database.dialect
        statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        columns = [name for name in rows[0] if name not in keys]
        # One statement shape whatever the number of rows (compiled once, cached), run as executemany.
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys), set_={name: statement.excluded[name] for name in columns}
            ),
            rows,
        )

    def _record_steps(
        self,
        connection: Connection,
        project: str,
        steps: Sequence[AlertStep],
        open_alerts: dict[AlertKey, str],
        now: datetime,
    ) -> tuple[list[int], int]:
        """Record one append's alert steps; `open_alerts` is kept up to date with them."""
        ended = 0
        new_ids: list[int] = []
        for step in steps:
            key = step.key
            if not step.raised:
                result = connection.execute(
                    update(alerts)
                    .where(
                        alerts.c.project == project,
                        alerts.c.category == key.category,
                        alerts.c.kind == key.kind,
                        alerts.c.subject == key.subject,
                        alerts.c.status == "open",
                    )
                    .values(
                        status="resolved",
                        resolved_at_version=step.version,
                        resolved_at=now,
                        resolved_reason=step.reason,
                        current=None,
                    )
                )
                ended += result.rowcount or 0
                open_alerts.pop(key, None)
                continue
            assert step.detail is not None
            row = alert_row(project, key, step.detail, step.version, now, quiet=step.quiet)
            inserted = connection.execute(
                _insert_ignore(self.database.dialect, alerts).returning(alerts.c.id), row
            ).scalar_one_or_none()
            if inserted is None:
                continue  # this crossing was raised already
            alert_id = int(inserted)
            open_alerts[key] = row["current"] or ""  # "" for a line kind: nothing is written for it
            new_ids.append(alert_id)
            why = (
                "raised and resolved within one append"
                if step.quiet
                else self._recently_resolved(connection, project, key, alert_id, now)
            )
            for channel in self.channels:
                connection.execute(
                    _insert_ignore(self.database.dialect, notifications),
                    {
                        "alert_id": alert_id,
                        "channel": channel,
                        "status": "pending" if why is None else "suppressed",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": why,
                        "delivered_at": None,
                    },
                )
        return new_ids, ended

    def _recently_resolved(
        self, connection: Connection, project: str, key: AlertKey, alert_id: int, now: datetime
    ) -> str | None:
        """Why a new raise of `key` is not notified (the same alert resolved less than
        `renotify_after` ago), or None."""
        if self.renotify_after <= timedelta(0):
            return None
        since = now - self.renotify_after
        earlier = connection.execute(
            select(alerts.c.id)
            .where(
                alerts.c.project == project,
                alerts.c.category == key.category,
                alerts.c.kind == key.kind,
                alerts.c.subject == key.subject,
                alerts.c.id != alert_id,
                alerts.c.status == "resolved",
                alerts.c.resolved_at >= since,
            )
            .order_by(alerts.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if earlier is None:
            return None
        hours = self.renotify_after.total_seconds() / 3600
        return f"raised again within {hours:g} h of alert {earlier} resolving: notified once"

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
            .where(
                func.coalesce(projection_heads.c.version, 0) < heads.c.version,
                func.coalesce(projection_heads.c.status, OK) != FAILED,  # quarantined: until a retry
            )
            .order_by(heads.c.project)
            .limit(limit)
        )
        with self.database.read() as connection:
            return list(connection.execute(query).scalars())

    def behind(self) -> int:
        """How many events the projections have still to fold in; the events of quarantined
        projects are not counted (they wait for a retry: `quarantined()` lists them)."""
        failed = select(projection_heads.c.project).where(projection_heads.c.status == FAILED)
        ledger = (
            select(func.count()).select_from(events).where(events.c.project.not_in(failed)).scalar_subquery()
        )
        folded = (
            select(func.coalesce(func.sum(projection_heads.c.version), 0))
            .where(projection_heads.c.status != FAILED)
            .scalar_subquery()
        )
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

    # --- replay ----------------------------------------------------------------------------------

    def replay(self, *, processes: int | None = None) -> tuple[int, int]:
        """Rebuild every projection from the ledger alone: (events read, projects).

        Projects fold independently, so a large ledger is folded by several processes, each reading
        its share of the projects' streams; the rows are written here in one transaction that holds
        every catch-up out."""
        self._live.clear()
        now = datetime.now(UTC)
        with self.database.projection(exclusive=True) as connection:
            names = ledger_store.projects(connection)
            count = int(connection.execute(select(func.count()).select_from(events)).scalar_one())
            workers = processes if processes is not None else min(os.cpu_count() or 1, 4)
            if workers > 1 and count >= PARALLEL_REPLAY_FROM and len(names) > 1:
                url = self.database.engine.url.render_as_string(hide_password=False)
                groups = [names[n::workers] for n in range(workers)]
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                    parts = list(pool.map(_fold_in_process, [url] * workers, groups, [now] * workers))
            else:
                parts = [fold_projects(connection, names, now)]
            # Alerts keep the order they were raised in across the ledger, as the live run gives them,
            # and a crossing raised before keeps its id and times, so its notifications stay its own.
            alert_rows = sorted(
                (row for part in parts for row in part.alerts), key=lambda row: row.pop("_position")
            )
            _keep_identities(connection, alert_rows)
            for table in (allowance_lines, alerts, projection_heads):
                connection.execute(delete(table))
            for rows, table in (
                ([row for row in alert_rows if "id" in row], alerts),
                ([row for row in alert_rows if "id" not in row], alerts),
                ([row for part in parts for row in part.lines], allowance_lines),
                ([row for part in parts for row in part.heads], projection_heads),
            ):
                for start in range(0, len(rows), 5000):
                    connection.execute(table.insert(), rows[start : start + 5000])
            # Projects that fail are quarantined as a catch-up would; those that fold now are not.
            failed = {name: error for part in parts for name, error in part.failed.items()}
            recorded = set(names)
            opened = [name for name in _open_failures(connection) if name in recorded]
            self._raise_or_resolve(connection, opened, failed, now, reason=REPLAYED)
            connection.commit()
        return sum(part.read for part in parts), sum(len(part.heads) for part in parts)

    # --- reading ---------------------------------------------------------------------------------

    def allowances(self, project: str, *, as_of: date | None = None) -> AllowanceReport:
        """Current figures from the projection; past figures (`as_of`) from the ledger's events
        dated on or before that day."""
        with self.database.read() as connection:
            stream = ledger_store.stream(connection, project)
            if not stream:
                raise unknown_project(project, ledger_store.projects(connection), self.database.shown_url)
            if as_of is not None:
                with located(stream):
                    state = state_as_of(project, ((i.event(), i.version, i.hash) for i in stream), as_of)
                if not state.exists:
                    raise RuleViolation(
                        "R-31", f"project {project} had no grant offer on {as_of.isoformat()}", field="as_of"
                    )
                return AllowanceReport(
                    project, as_of, state.end, state.grant_rate, allowances(state), state.version
                )
            state = fold(project, stream)  # an unreadable row is refused here, naming it
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


def alert_row(
    project: str, key: AlertKey, detail: dict[str, Any], version: int, now: datetime, *, quiet: bool = False
) -> dict[str, Any]:
    """A newly raised alert as a row of the `alerts` table: the figures at the raise are its
    `detail` for good, and its `current` figures until they change."""
    figures = json.dumps(detail, sort_keys=True)
    return {
        "project": project,
        "category": key.category,
        "kind": str(key.kind),
        "subject": key.subject,
        "detail": figures,
        # A line kind's figures now are the allowance line's: readers work them out (LINE_KINDS).
        "current": None if key.kind in LINE_KINDS else figures,
        "status": "open",
        "raised_at_version": version,
        "resolved_at_version": None,
        "raised_at": now,
        "resolved_at": None,
        "resolved_reason": None,
        "quiet": quiet,
    }


def _current_changes(
    project: str, live: LiveProject, open_alerts: dict[AlertKey, str]
) -> list[dict[str, Any]]:
    """The open alerts whose figures have moved since they were written, as `_SET_CURRENT` rows;
    `open_alerts` takes the new figures."""
    holding = live.conditions()
    rows = []
    for key, written in open_alerts.items():
        if key.kind in LINE_KINDS:
            continue  # figured from the allowance line by readers: nothing to write per event
        detail = holding.get(key)
        if detail is None:
            continue  # cannot happen: every open alert's condition holds, or a step resolved it
        figures = json.dumps(detail, sort_keys=True)
        if figures != written:
            open_alerts[key] = figures
            rows.append(
                {
                    "p": project,
                    "c": key.category,
                    "k": str(key.kind),
                    "s": key.subject,
                    "current": figures,
                }
            )
    return rows


_SET_CURRENT = (
    update(alerts)
    .where(
        alerts.c.project == bindparam("p"),
        alerts.c.category == bindparam("c"),
        alerts.c.kind == bindparam("k"),
        alerts.c.subject == bindparam("s"),
        alerts.c.status == "open",
    )
    .values(current=bindparam("current"))
)


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
    """An alert as CONTRACT.md shows it, with what ktpledger adds: `current` (the figures now, while
    it is open; `detail` stays the figures at the raise), `resolved_reason` and `notified`."""
    return {
        "id": int(row.id),
        "project": row.project,
        "category": row.category,
        "kind": row.kind,
        "detail": json.loads(row.detail),
        "current": None if row.current is None else json.loads(row.current),
        "status": row.status,
        "raised_at_version": row.raised_at_version,
        "resolved_at_version": row.resolved_at_version,
        "resolved_reason": row.resolved_reason,
        "notified": not row.quiet,
    }


def comparable(rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Alerts without ids, for comparing a replay with the incremental result."""
    return sorted(
        (
            r["project"],
            r["category"],
            r["kind"],
            json.dumps(r["detail"], sort_keys=True),
            json.dumps(r.get("current"), sort_keys=True),
            r["status"],
            r["raised_at_version"],
            r["resolved_at_version"] or 0,
            r.get("resolved_reason") or "",
            r.get("notified", True),
        )
        for r in rows
        if r.get("source") != "clock"  # judged by a reader on a day, not a projection row
    )


PARALLEL_REPLAY_FROM = 50_000  # events; below this a second process costs more than it saves
REPLAY_CHUNK = 200  # projects read per query


@dataclass
class FoldedRows:
    """What folding some projects from the ledger gives: rows for the projection tables, and the
    refusal naming the row of each project that could not be folded to its end (quarantined)."""

    alerts: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    heads: list[dict[str, Any]]
    read: int
    failed: dict[str, UnreadableEvent] = field(default_factory=dict)


def fold_projects(connection: Connection, names: Sequence[str], now: datetime) -> FoldedRows:
    """Fold each named project's whole stream, alert by alert, into projection rows."""
    # Millions of long-lived objects and nothing to free until the end: the cyclic collector would
    # rescan them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        folded = FoldedRows([], [], [], 0)
        for start in range(0, len(names), REPLAY_CHUNK):
            chunk = list(names[start : start + REPLAY_CHUNK])
            streams = ledger_store.streams(connection, chunk)
            for name in chunk:
                _fold_one(name, streams.get(name, []), now, folded)
        return folded
    finally:
        if collecting:
            gc.enable()


def _fold_one(name: str, stream: list[RecordedEvent], now: datetime, folded: FoldedRows) -> None:
    """Fold one project's whole stream, append by append, into projection rows.

    A project whose stream holds a row that cannot be read or folded gets the projection of the
    appends before the one holding that row (README, "Quarantine"): the allowance lines, the alerts
    raised and resolved, and the open alerts' figures as those appends leave them; its head is that
    of the last of them, marked failed, naming the row."""
    if not stream:
        return
    live = LiveProject.new(name)
    open_rows: dict[AlertKey, dict[str, Any]] = {}
    done = 0  # events of the appends folded whole
    failure: UnreadableEvent | None = None
    for group in appends(stream):
        try:
            steps = live.apply_append(group)
        except UnreadableEvent as error:
            failure = error
            break
        position = group[-1].position
        for step in steps:
            if not step.raised:
                open_rows.pop(step.key).update(
                    status="resolved",
                    resolved_at_version=step.version,
                    resolved_at=now,
                    resolved_reason=step.reason,
                    current=None,
                )
                continue
            assert step.detail is not None
            row = {
                **alert_row(name, step.key, step.detail, step.version, now, quiet=step.quiet),
                "_position": position,
            }
            folded.alerts.append(row)
            open_rows[step.key] = row
        done += len(group)
    if failure is not None:
        # The fold is part-way through the failing append: fold afresh up to the append before it.
        folded.failed[name] = failure
        live = LiveProject.new(name)
        _fold_quietly(live, stream[:done])
        live.seed(open_rows)
        live.settle()
    holding = live.conditions()
    for key, row in open_rows.items():
        if key.kind not in LINE_KINDS and key in holding:
            row["current"] = json.dumps(holding[key], sort_keys=True)
    folded.lines.extend(line_row(name, ordinal, line) for ordinal, line in enumerate(live.ordered_lines()))
    head = stream[done - 1] if done else None
    folded.heads.append(
        {
            "project": name,
            "version": 0 if head is None else head.version,
            "position": 0 if head is None else head.position,
            "clock": live.latest,
            "updated_at": now,
            "status": OK if failure is None else FAILED,
            "error": None if failure is None else failure.message,
            "failed_version": None if failure is None else failure.version,
            "failed_position": None if failure is None else failure.position,
        }
    )
    folded.read += len(stream)


def _fold_quietly(live: LiveProject, stream: Iterable[RecordedEvent]) -> None:
    """Fold rows in without working out alerts (`LiveProject.fold`), naming a row that fails."""
    for item in stream:
        try:
            live.fold(item.event(), item.version, item.hash)
        except UnreadableEvent as error:
            raise unreadable(item, error) from error


def _open_failures(connection: Connection) -> list[str]:
    """The projects with an open `projection_failed` system alert."""
    query = select(system_alerts.c.subject).where(
        system_alerts.c.kind == PROJECTION_FAILED, system_alerts.c.status == "open"
    )
    return list(connection.execute(query).scalars())


def _keep_identities(
    connection: Connection, rows: list[dict[str, Any]], *, project: str | None = None
) -> None:
    """Give each rebuilt alert the id and times of the same crossing already recorded, if any
    (of `project` only, when given)."""
    query = select(
        alerts.c.id,
        alerts.c.project,
        alerts.c.category,
        alerts.c.kind,
        alerts.c.subject,
        alerts.c.raised_at_version,
        alerts.c.raised_at,
        alerts.c.resolved_at_version,
        alerts.c.resolved_at,
    )
    if project is not None:
        query = query.where(alerts.c.project == project)
    recorded = {
        (r.project, r.category, r.kind, r.subject, r.raised_at_version): r for r in connection.execute(query)
    }
    for row in rows:
        same = recorded.get(
            (row["project"], row["category"], row["kind"], row["subject"], row["raised_at_version"])
        )
        if same is None:
            continue
        row["id"], row["raised_at"] = same.id, same.raised_at
        if same.resolved_at is not None and same.resolved_at_version == row["resolved_at_version"]:
            row["resolved_at"] = same.resolved_at


def _fold_in_process(url: str, names: list[str], now: datetime) -> FoldedRows:
    """`fold_projects` in a process of its own, on a connection of its own."""
    from ktpledger.adapters.database import Database, build_engine

    database = Database(build_engine(url))
    try:
        with database.read() as connection:
            return fold_projects(connection, names, now)
    finally:
        database.dispose()

"""An in-memory projection store: the port (`ktpledger.adapters.projection_store`) over dicts.

It keeps what the database's constraints keep: one alert per crossing and one open alert per
(project, category, kind, subject), one open system alert per (kind, subject), one outbox row per
(alert, channel); ids that are never reused. Its tables also hold what the notification store's
fake (`tests/notify/fake_store.py`) works on: the outboxes' delivery columns and `channel_health`. A unit works on a copy of the projections, which
`commit` makes the store's; the ledger (`events`) is the test's, appended to with `append`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ktpledger.adapters.projection_store import (
    ACKNOWLEDGEMENT_COLUMNS,
    AlertRecord,
    Crossing,
    HeadState,
    Identity,
    ProjectionStore,
    Resolution,
    Row,
    SystemAlertRecord,
)
from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.chain import format_instant, link_digest
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot
from ktpledger.service.ledger import new_row
from ktpledger.service.projection_rows import resolution_fields

OPEN, FAILED = "open", "failed"
_HEAD_DEFAULTS = {"status": "ok", "error": None, "failed_version": None, "failed_position": None}


@dataclass
class _Tables:
    heads: dict[str, Row] = field(default_factory=dict)
    lines: dict[tuple[str, str], Row] = field(default_factory=dict)
    facts: dict[str, Row] = field(default_factory=dict)
    portfolio_rows: dict[str, Row] = field(default_factory=dict)
    alerts: dict[int, Row] = field(default_factory=dict)
    notifications: dict[tuple[int, str], Row] = field(default_factory=dict)
    system_alerts: dict[int, Row] = field(default_factory=dict)
    system_notifications: dict[tuple[int, str], Row] = field(default_factory=dict)
    trackers: dict[str, Row] = field(default_factory=dict)
    channel_health: dict[str, Row] = field(default_factory=dict)
    last_id: dict[str, int] = field(default_factory=lambda: {"alerts": 0, "system_alerts": 0})

    def next_id(self, table: str, wanted: int | None = None) -> int:
        chosen = wanted if wanted is not None else self.last_id[table] + 1
        self.last_id[table] = max(self.last_id[table], chosen)
        return chosen


def outbox_row(ref: str, alert_id: int, channel: str, status: str, now: datetime, error: str | None) -> Row:
    """A new row of an outbox (`ref`: "alert_id" or "system_alert_id"), every column as the
    database's table has it."""
    return {
        ref: alert_id,
        "channel": channel,
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": error,
        "delivered_at": None,
        "first_attempt_at": None,
        "last_attempt_at": None,
        "failed_at": None,
    }


def _key(row: Row) -> AlertKey:
    return AlertKey(row["category"], row["kind"], row["subject"])


class _Heads:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def lock(self, names: Sequence[str], now: datetime) -> dict[str, HeadState]:
        heads = self._unit.tables.heads
        for name in names:
            heads.setdefault(
                name,
                {
                    "project": name,
                    "version": 0,
                    "position": 0,
                    "clock": None,
                    "updated_at": now,
                    **_HEAD_DEFAULTS,
                },
            )
        return {
            name: HeadState(
                heads[name]["version"],
                (heads[name]["error"] or "") if heads[name]["status"] == FAILED else None,
            )
            for name in names
        }

    def lock_free(self, names: Sequence[str]) -> dict[str, int]:
        # One unit at a time here: every head is free.
        heads = self._unit.tables.heads
        return {
            name: heads[name]["version"]
            for name in names
            if name in heads and heads[name]["status"] != FAILED
        }

    def lock_with_free(
        self, names: Sequence[str], free: Sequence[str], now: datetime
    ) -> tuple[dict[str, HeadState], dict[str, int]]:
        return self.lock(names, now), self.lock_free(free)

    def advance(self, moves: Sequence[Row]) -> None:
        for move in moves:
            self._unit.tables.heads.setdefault(move["project"], dict(_HEAD_DEFAULTS)).update(move)

    def put(self, rows: Sequence[Row]) -> None:
        self.advance(rows)

    def of(self, names: Sequence[str]) -> list[Row]:
        return [dict(self._unit.tables.heads[n]) for n in names if n in self._unit.tables.heads]

    def failed(self) -> list[Row]:
        heads = self._unit.tables.heads
        return [dict(heads[name]) for name in sorted(heads) if heads[name]["status"] == FAILED]

    def lagging(self, limit: int) -> list[str]:
        heads = self._unit.tables.heads
        latest = self._unit.events.heads(self._unit.events.every_project())
        behind = [
            name
            for name, version in sorted(latest.items())
            if heads.get(name, {}).get("version", 0) < version and heads.get(name, {}).get("status") != FAILED
        ]
        return behind[:limit]

    def behind(self) -> int:
        heads = self._unit.tables.heads
        failed = {name for name, row in heads.items() if row["status"] == FAILED}
        ledger = sum(1 for item in self._unit.store.events if item.project not in failed)
        return ledger - sum(int(row["version"]) for row in heads.values() if row["status"] != FAILED)


class _Lines:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def upsert(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self._unit.tables.lines.setdefault((row["project"], row["category"]), {}).update(row)

    def of(self, project: str) -> list[Row]:
        return sorted(self.of_projects([project]), key=lambda row: row["ordinal"])

    def of_projects(self, names: Sequence[str]) -> list[Row]:
        return [dict(row) for (project, _), row in self._unit.tables.lines.items() if project in names]


class _Facts:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def upsert(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self._unit.tables.facts[row["project"]] = dict(row)

    def of_projects(self, names: Sequence[str]) -> list[Row]:
        return [dict(row) for project, row in self._unit.tables.facts.items() if project in names]

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        return {row["project"]: row["version"] for row in self.of_projects(names)}


class _PortfolioRows:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def upsert(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self._unit.tables.portfolio_rows[row["project"]] = dict(row)

    def of_projects(self, names: Sequence[str], as_of: date) -> list[Row]:
        found = self._unit.tables.portfolio_rows.items()
        return [dict(row) for project, row in found if project in names and row["as_of"] == as_of]

    def versions(self, names: Sequence[str], as_of: date) -> dict[str, int]:
        return {row["project"]: row["version"] for row in self.of_projects(names, as_of)}


class _Alerts:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def _rows(self) -> dict[int, Row]:
        return self._unit.tables.alerts

    def open_counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self._rows().values():
            if row["status"] == OPEN:
                found[row["project"]] = found.get(row["project"], 0) + 1
        return found

    def _open(self, project: str, key: AlertKey) -> Row | None:
        for row in self._rows().values():
            if row["project"] == project and _key(row) == key and row["status"] == OPEN:
                return row
        return None

    def open_figures(self, names: Sequence[str]) -> dict[str, dict[AlertKey, str]]:
        found: dict[str, dict[AlertKey, str]] = {}
        for row in self._rows().values():
            if row["project"] in names and row["status"] == OPEN:
                found.setdefault(row["project"], {})[_key(row)] = row["current"] or ""
        return found

    def add_many(self, rows: Sequence[Row]) -> dict[Crossing, int]:
        found: dict[Crossing, int] = {}
        for row in rows:
            crossing = (
                row["project"],
                row["category"],
                row["kind"],
                row["subject"],
                row["raised_at_version"],
            )
            if crossing in self.identities(row["project"]):
                continue  # uq_alerts_crossing
            if row["status"] == OPEN and self._open(row["project"], _key(row)) is not None:
                continue  # ix_alerts_open
            alert_id = self._unit.tables.next_id("alerts", row.get("id"))
            self._rows()[alert_id] = {**row, "id": alert_id}
            found[crossing] = alert_id
        return found

    def resolve_many(self, resolutions: Sequence[Resolution], now: datetime) -> int:
        resolved = 0
        for r in resolutions:
            row = self._open(r.project, r.key)
            if row is None:
                continue
            row.update(resolution_fields(r.version, r.on, now, r.reason))
            resolved += 1
        return resolved

    def acknowledge(self, rows: Sequence[Row]) -> int:
        written = 0
        for given in rows:
            crossing = (given["project"], given["category"], given["kind"], given["subject"])
            for row in self._rows().values():
                if (
                    (row["project"], row["category"], row["kind"], row["subject"]) == crossing
                    and row["raised_at_version"] == given["raised_at_version"]
                    and row.get("acknowledged_at_version") is None
                ):
                    row.update({name: given[name] for name in ACKNOWLEDGEMENT_COLUMNS})
                    written += 1
        return written

    def find(self, alert_id: int) -> AlertRecord | None:
        row = self._rows().get(alert_id)
        return None if row is None else AlertRecord(**row)

    def set_current(self, changes: Sequence[tuple[str, AlertKey, str]]) -> None:
        for project, key, figures in changes:
            row = self._open(project, key)
            if row is not None:
                row["current"] = figures

    def resolved_since_many(self, projects: Sequence[str], since: datetime) -> dict[str, dict[AlertKey, int]]:
        found: dict[str, dict[AlertKey, int]] = {}
        for alert_id, row in self._rows().items():
            if row["project"] in projects and row["status"] == "resolved" and row["resolved_at"] >= since:
                keys = found.setdefault(row["project"], {})
                keys[_key(row)] = max(alert_id, keys.get(_key(row), alert_id))
        return found

    def identities(self, project: str | None = None) -> dict[Crossing, Identity]:
        return {
            (r["project"], r["category"], r["kind"], r["subject"], r["raised_at_version"]): Identity(
                r["id"], r["raised_at"], r["resolved_at_version"], r["resolved_at"]
            )
            for r in self._rows().values()
            if project is None or r["project"] == project
        }

    def listed(self, project: str | None = None, *, include_resolved: bool = False) -> list[AlertRecord]:
        return [
            AlertRecord(**row)
            for _, row in sorted(self._rows().items())
            if (project is None or row["project"] == project) and (include_resolved or row["status"] == OPEN)
        ]


class _Outbox:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def queue_many(self, queued: Sequence[tuple[int, Sequence[str], str | None]], now: datetime) -> None:
        for alert_id, channels, why in queued:
            for channel in channels:
                status = "pending" if why is None else "suppressed"
                self._unit.tables.notifications.setdefault(
                    (alert_id, channel), outbox_row("alert_id", alert_id, channel, status, now, why)
                )

    def statuses(self, alert_ids: Sequence[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        for (alert_id, _), row in self._unit.tables.notifications.items():
            if alert_id in alert_ids:
                found.setdefault(alert_id, set()).add(row["status"])
        return found


class _SystemAlerts:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def _open(self, kind: str, subject: str) -> Row | None:
        rows = self._unit.tables.system_alerts.values()
        return next(
            (r for r in rows if (r["kind"], r["subject"], r["status"]) == (kind, subject, OPEN)), None
        )

    def raise_alert(
        self, *, kind: str, subject: str, detail: str, message: str, channels: Sequence[str], now: datetime
    ) -> int | None:
        if self._open(kind, subject) is not None:
            return None
        alert_id = self._unit.tables.next_id("system_alerts")
        self._unit.tables.system_alerts[alert_id] = {
            "id": alert_id,
            "kind": kind,
            "subject": subject,
            "detail": detail,
            "message": message,
            "status": OPEN,
            "raised_at": now,
            "resolved_at": None,
            "resolved_reason": None,
        }
        for channel in channels:
            self._unit.tables.system_notifications.setdefault(
                (alert_id, channel), outbox_row("system_alert_id", alert_id, channel, "pending", now, None)
            )
        return alert_id

    def resolve(self, *, kind: str, subject: str, reason: str, now: datetime) -> bool:
        row = self._open(kind, subject)
        if row is not None:
            row.update(status="resolved", resolved_at=now, resolved_reason=reason)
        return row is not None

    def open_subjects(self, kind: str) -> list[str]:
        rows = self._unit.tables.system_alerts.values()
        return [r["subject"] for r in rows if r["kind"] == kind and r["status"] == OPEN]

    def listed(self, *, include_resolved: bool = False) -> list[SystemAlertRecord]:
        rows = sorted(self._unit.tables.system_alerts.items())
        return [SystemAlertRecord(**row) for _, row in rows if include_resolved or row["status"] == OPEN]


class _Tracker:
    def __init__(self, unit: FakeUnit) -> None:
        self._unit = unit

    def position(self, name: str) -> int:
        row = self._unit.tables.trackers.get(name)
        return 0 if row is None else int(row["position"])

    def advance(self, name: str, position: int, now: datetime) -> None:
        row = self._unit.tables.trackers.setdefault(name, {"name": name, "position": 0, "updated_at": now})
        if row["position"] < position:
            row.update(position=position, updated_at=now)


class _Events:
    def __init__(self, store: FakeProjectionStore) -> None:
        self._store = store

    def after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        return {name: [e for e in self.stream(name) if e.version > after] for name, after in versions.items()}

    def stream(self, project: str) -> list[RecordedEvent]:
        return sorted((e for e in self._store.events if e.project == project), key=lambda e: e.version)

    def but_claims(self, project: str) -> list[RecordedEvent]:
        return [e for e in self.stream(project) if e.type != "SpendClaimed"]

    def streams(self, names: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        return {name: stream for name in names if (stream := self.stream(name))}

    def of_versions(self, project: str, versions: Sequence[int]) -> list[RecordedEvent]:
        wanted = set(versions)
        return [e for e in self.stream(project) if e.version in wanted]

    def read_after(self, position: int, *, limit: int) -> list[RecordedEvent]:
        return sorted((e for e in self._store.events if e.position > position), key=lambda e: e.position)[
            :limit
        ]

    def projects(self) -> list[str]:
        return sorted({e.project for e in self._store.events if e.version == 1})

    def every_project(self) -> list[str]:
        return sorted({e.project for e in self._store.events})

    def heads(self, names: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for e in self._store.events:
            if e.project in names:
                found[e.project] = max(found.get(e.project, 0), e.version)
        return found

    def count(self) -> int:
        return len(self._store.events)


class _Snapshots:
    """Kept on the store at once (a fake: not rolled back with its unit)."""

    def __init__(self, store: FakeProjectionStore) -> None:
        self._store = store

    def newest(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        found: dict[str, StoredSnapshot] = {}
        for (project, version), snapshot in sorted(self._store.snapshots.items()):
            if (
                project in limits
                and version <= limits[project]
                and snapshot.format == of_format
                and snapshot.claims
            ):
                found[project] = snapshot
        return found

    def replace_all(self, snapshots: Sequence[StoredSnapshot]) -> None:
        self._store.snapshots = {(s.project, s.version): s for s in snapshots}

    def keep_heads(self, snapshots: Sequence[StoredSnapshot], previous: Mapping[str, int]) -> None:
        for snapshot in snapshots:
            before = previous.get(snapshot.project, 0)
            held = self._store.snapshots.get((snapshot.project, before))
            if before != snapshot.version and held is not None and not held.claims:
                del self._store.snapshots[(snapshot.project, before)]
            there = self._store.snapshots.get((snapshot.project, snapshot.version))
            if there is None or there.format != snapshot.format:  # an append's is the same state
                self._store.snapshots[(snapshot.project, snapshot.version)] = snapshot

    def every(self) -> list[StoredSnapshot]:
        return [self._store.snapshots[key] for key in sorted(self._store.snapshots)]


class FakeUnit:
    def __init__(self, store: FakeProjectionStore) -> None:
        self.store = store
        self.tables = copy.deepcopy(store.tables)
        self.heads = _Heads(self)
        self.lines = _Lines(self)
        self.facts = _Facts(self)
        self.portfolio_rows = _PortfolioRows(self)
        self.alerts = _Alerts(self)
        self.outbox = _Outbox(self)
        self.system_alerts = _SystemAlerts(self)
        self.tracker = _Tracker(self)
        self.events = _Events(store)
        self.snapshots = _Snapshots(store)

    def pipelined(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def read_new(
        self, versions: Mapping[str, int], open_of: Sequence[str]
    ) -> tuple[dict[str, list[RecordedEvent]], dict[str, dict[AlertKey, str]]]:
        return self.events.after(versions), self.alerts.open_figures(open_of)

    def commit(self) -> None:
        self.store.tables = self.tables
        self.tables = copy.deepcopy(self.tables)
        self.store.commits += 1

    def rebuild_project(
        self, project: str, alerts: Sequence[Row], lines: Sequence[Row], facts: Sequence[Row] = ()
    ) -> None:
        tables = self.tables
        tables.lines = {key: row for key, row in tables.lines.items() if key[0] != project}
        tables.alerts = {key: row for key, row in tables.alerts.items() if row["project"] != project}
        tables.facts.pop(project, None)
        self._insert(alerts, lines)
        self.facts.upsert(facts)

    def rebuild_all(
        self, alerts: Sequence[Row], lines: Sequence[Row], heads: Sequence[Row], facts: Sequence[Row] = ()
    ) -> None:
        self.tables.lines, self.tables.alerts, self.tables.heads, self.tables.facts = {}, {}, {}, {}
        self._insert(alerts, lines)
        self.heads.put(heads)
        self.facts.upsert(facts)

    def _insert(self, alerts: Sequence[Row], lines: Sequence[Row]) -> None:
        for row in [r for r in alerts if "id" in r] + [r for r in alerts if "id" not in r]:
            alert_id = self.tables.next_id("alerts", row.get("id"))
            self.tables.alerts[alert_id] = {**row, "id": alert_id}
        self.lines.upsert(lines)

    def stored(self, table: str, projects: Sequence[str]) -> list[Row]:
        rows = {
            "projection_heads": self.tables.heads.values(),
            "allowance_lines": self.tables.lines.values(),
            "project_facts": self.tables.facts.values(),
        }
        chosen = rows.get(table, self.tables.alerts.values())
        return [dict(row) for row in chosen if row["project"] in projects]

    def projects_in(self, table: str) -> list[str]:
        return sorted({row["project"] for row in self.stored(table, self.events.every_project())})


class FakeProjectionStore:
    """The projections in memory, and a ledger of `RecordedEvent`s the test appends to."""

    shown_url = "memory://projections"

    def __init__(self) -> None:
        self.tables = _Tables()
        self.events: list[RecordedEvent] = []
        self.snapshots: dict[tuple[str, int], StoredSnapshot] = {}
        self.commits = 0
        self._clock = datetime(2024, 12, 1, tzinfo=UTC)

    @contextmanager
    def read(self) -> Iterator[FakeUnit]:
        yield FakeUnit(self)  # its changes are never the store's

    @contextmanager
    def write(self, *, exclusive: bool = False, durable: bool = True) -> Iterator[FakeUnit]:
        yield FakeUnit(self)  # one writer at a time: the tests run single-threaded

    def opener(self) -> Callable[[], ProjectionStore] | None:
        return None  # memory is not shared with another process: replay folds here

    def close(self) -> None:
        return None

    # --- the test's ledger ------------------------------------------------------------------------

    def append(self, submissions: Sequence[dict[str, Any]]) -> list[RecordedEvent]:
        """Record submissions (valid ones: nothing is checked) as one append, chained and hashed as
        the ledger does (`service.ledger.new_row`)."""
        now = self._tick()
        recorded = []
        for submission in submissions:
            event = parse_event(submission)
            version, prev = self._head(event.project)
            state = ProjectState(project=event.project, version=version, head_hash=prev)
            recorded.append(self._record(new_row(event, state, now, format_instant(now))))
        return recorded

    def append_raw(self, project: str, event_type: str, data: str, *, key: str, on: str) -> RecordedEvent:
        """Record a row as it is given (the ledger could not read it back), an append of its own."""
        now = self._tick()
        version, prev = self._head(project)
        digest = link_digest(project, version + 1, event_type, 1, key, on, format_instant(now), data, prev)
        return self._record(
            {
                "project": project,
                "version": version + 1,
                "type": event_type,
                "schema_version": 1,
                "key": key,
                "date": date.fromisoformat(on),
                "data": data,
                "recorded_at": now,
                "prev_hash": prev,
                "hash": digest,
            }
        )

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def _head(self, project: str) -> tuple[int, str]:
        stream = [e for e in self.events if e.project == project]
        return (stream[-1].version, stream[-1].hash) if stream else (0, "")

    def _record(self, row: dict[str, Any]) -> RecordedEvent:
        item = RecordedEvent(position=len(self.events) + 1, **row)
        self.events.append(item)
        return item

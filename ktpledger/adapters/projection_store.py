"""The projection store port: what the projection services need of storage, and nothing about how.

The service layer (catch-up, quarantine, replay, the sweeper, the readers) speaks only to these
protocols, in the unit-of-work style: `store.write()` or `store.read()` opens one transaction and
yields a `ProjectionUnit` whose repositories (`heads`, `lines`, `facts`, `portfolio_rows`, `alerts`,
`outbox`, `system_alerts`, `tracker`, `events`, `snapshots`) all act in it; nothing is kept unless the block calls `unit.commit()`.

Implementations: `projection_sql.SqliteProjectionStore` and `projection_sql.PostgresProjectionStore`
(one class per backend where their SQL differs; `projection_sql.projection_store(database)` picks by
the database's dialect), and an in-memory fake for the service tests (`tests/projections/fake_store.py`).

Rows cross the port as plain dicts keyed by the projection tables' column names (`adapters/tables.py`):
money as integer pence, alert figures as canonical JSON text. That is what the fold gives, what
`verify --projections` compares column by column, and what a store writes without translation.

Speed (issue 18): a catch-up that has no warm fold of a project loads its newest snapshot at or
below the saved version (`unit.snapshots`, written with appends and by `replay`) instead of folding
from version 1; the per-project facts (`unit.facts`) are the summary row readers start from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from ktpledger.domain.alerts import AlertKey
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot
from ktpledger.domain.statuses import AlertStatus, NotificationStatus, SystemAlertKind

Row = dict[str, Any]  # one row of a projection table, keyed by column name
# An alert's crossing: (project, category, kind, subject, raised_at_version), unique (uq_alerts_crossing).
Crossing = tuple[str, str, str, str, int]
PROJECTION_TABLES = ("projection_heads", "allowance_lines", "alerts", "project_facts")


class ProjectionStoreError(Exception):
    """The projection store's backend failed in a way the caller cannot act on; the backend's own
    error is the `__cause__`. (A database that cannot be reached is reported as the entry points
    expect it until the shared backend errors land: see `projection_sql.translated`.)"""


@dataclass(frozen=True)
class HeadState:
    """A project's saved version, and the refusal naming the row if it is quarantined."""

    version: int
    failed: str | None = None


@dataclass(frozen=True)
class Resolution:
    """An open alert to resolve (`AlertRepository.resolve_many`): its key, the version and date
    that end it, and why."""

    project: str
    key: AlertKey
    version: int
    reason: str
    on: date | None = None


@dataclass(frozen=True)
class Identity:
    """What a recorded alert keeps when its projection is rebuilt: its id and times."""

    id: int
    raised_at: datetime
    resolved_at_version: int | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class AlertRecord:
    """A stored alert, as readers and presenters take it (`projection_views.alert_json`)."""

    id: int
    project: str
    category: str
    kind: str
    subject: str
    detail: str
    current: str | None
    status: AlertStatus
    raised_at_version: int
    resolved_at_version: int | None
    raised_at: datetime
    resolved_at: datetime | None
    resolved_reason: str | None
    quiet: bool
    # Migration 0013: the ledger's dates, and the acknowledgement, None until acknowledged.
    raised_on: date | None = None
    resolved_on: date | None = None
    acknowledged_at_version: int | None = None
    acknowledged_on: date | None = None
    acknowledged_by_name: str | None = None
    acknowledged_by_role: str | None = None
    acknowledged_by_channel: str | None = None
    acknowledgement_note: str | None = None


# The columns an `AlertAcknowledged` writes onto the alert it names (`AlertRepository.acknowledge`).
ACKNOWLEDGEMENT_COLUMNS = (
    "acknowledged_at_version",
    "acknowledged_on",
    "acknowledged_by_name",
    "acknowledged_by_role",
    "acknowledged_by_channel",
    "acknowledgement_note",
)


@dataclass(frozen=True)
class SystemAlertRecord:
    """A stored system alert (`system_alerts.system_alert_json`)."""

    id: int
    kind: SystemAlertKind
    subject: str
    message: str
    detail: str
    status: AlertStatus
    raised_at: datetime
    resolved_at: datetime | None
    resolved_reason: str | None


class HeadRepository(Protocol):
    """`projection_heads`: how far each project's projection has folded, and its quarantine."""

    def lock(self, names: Sequence[str], now: datetime) -> dict[str, HeadState]:
        """Each project's head, created at version 0 if new, locked to this unit until it ends;
        locked in the order of `names` (sorted by the caller), so two units never deadlock."""
        ...

    def lock_free(self, names: Sequence[str]) -> dict[str, int]:
        """The saved versions of those of `names` that no other unit holds, have a head and are not
        quarantined, locked to this unit until it ends; never waits (the rest are left out: their
        holder, or their own wake-up, catches them up)."""
        ...

    def lock_with_free(
        self, names: Sequence[str], free: Sequence[str], now: datetime
    ) -> tuple[dict[str, HeadState], dict[str, int]]:
        """`lock(names, now)` and then `lock_free(free)`, in one statement where the backend can
        (`free` holds none of `names`)."""
        ...

    def advance(self, moves: Sequence[Row]) -> None:
        """Move heads on (rows of project, version, position, clock, updated_at); the quarantine
        columns stay as they are."""
        ...

    def put(self, rows: Sequence[Row]) -> None:
        """Write whole head rows (every column), replacing any there."""
        ...

    def of(self, names: Sequence[str]) -> list[Row]:
        """The stored heads of the named projects (whole rows)."""
        ...

    def failed(self) -> list[Row]:
        """The quarantined projects' heads (whole rows), by project."""
        ...

    def lagging(self, limit: int) -> list[str]:
        """Projects behind the ledger and not quarantined, sorted, at most `limit`."""
        ...

    def behind(self) -> int:
        """Events the projections have still to fold, not counting quarantined projects'."""
        ...


class LineRepository(Protocol):
    """`allowance_lines`: each project's allowance lines, money in pence."""

    def upsert(self, rows: Sequence[Row]) -> None: ...

    def of(self, project: str) -> list[Row]:
        """The project's lines in their order (`ordinal`)."""
        ...

    def of_projects(self, names: Sequence[str]) -> list[Row]: ...


class FactsRepository(Protocol):
    """`project_facts`: each project's health facts as JSON (`domain/health_facts.py`)."""

    def upsert(self, rows: Sequence[Row]) -> None: ...

    def of_projects(self, names: Sequence[str]) -> list[Row]: ...

    def versions(self, names: Sequence[str]) -> dict[str, int]:
        """The version each project's stored facts are of (projects without facts left out)."""
        ...


class PortfolioRowRepository(Protocol):
    """`portfolio_rows`: each project's portfolio row as judged for a day (a cache of the day)."""

    def upsert(self, rows: Sequence[Row]) -> None: ...

    def of_projects(self, names: Sequence[str], as_of: date) -> list[Row]:
        """The rows of those projects judged as of `as_of` (whatever their version)."""
        ...

    def versions(self, names: Sequence[str], as_of: date) -> dict[str, int]:
        """The version of each of those projects' row judged as of `as_of` (none: left out)."""
        ...


class AlertRepository(Protocol):
    """`alerts`: KTP alerts, raised and resolved by the projection."""

    def open_figures(self, names: Sequence[str]) -> dict[str, dict[AlertKey, str]]:
        """The open alerts of each project with their `current` figures as written ("" if none)."""
        ...

    def add_many(self, rows: Sequence[Row]) -> dict[Crossing, int]:
        """Record raises in one statement: the id of each row written, by its crossing. A row whose
        crossing is recorded already, or an open one whose alert is open already, is not written
        (left out of the answer)."""
        ...

    def resolve_many(self, resolutions: Sequence[Resolution], now: datetime) -> int:
        """Resolve the open alert of each resolution's key, in one statement; how many were resolved
        in all (each resolution resolves 0 or 1)."""
        ...

    def acknowledge(self, rows: Sequence[Row]) -> int:
        """Write each acknowledgement (a crossing's `project`, `category`, `kind`, `subject`,
        `raised_at_version` and the `ACKNOWLEDGEMENT_COLUMNS`) onto its alert, unless that alert is
        acknowledged already (the first acknowledgement stands); how many were written."""
        ...

    def find(self, alert_id: int) -> AlertRecord | None:
        """The stored alert of that id, if any."""
        ...

    def open_counts(self) -> dict[str, int]:
        """How many alerts each project has open (projects with none left out)."""
        ...

    def set_current(self, changes: Sequence[tuple[str, AlertKey, str]]) -> None:
        """Write open alerts' new `current` figures: (project, key, figures) each."""
        ...

    def resolved_since_many(self, projects: Sequence[str], since: datetime) -> dict[str, dict[AlertKey, int]]:
        """The latest alert of each key of each of `projects` resolved at or after `since`, by
        project and key (projects with none left out), in one query."""
        ...

    def identities(self, project: str | None = None) -> dict[Crossing, Identity]:
        """Every recorded alert's id and times by crossing (of `project` only, when given)."""
        ...

    def listed(self, project: str | None = None, *, include_resolved: bool = False) -> list[AlertRecord]:
        """Open alerts (and resolved ones with `include_resolved`), oldest (lowest id) first."""
        ...


class OutboxRepository(Protocol):
    """`notifications`: the outbox rows a raise queues, one per channel."""

    def queue_many(self, queued: Sequence[tuple[int, Sequence[str], str | None]], now: datetime) -> None:
        """Queue each (alert id, channels, why) on each of its channels, in one statement: pending,
        or suppressed with `why`; a row already there is kept."""
        ...

    def statuses(self, alert_ids: Sequence[int]) -> dict[int, set[NotificationStatus]]: ...


@runtime_checkable
class SystemAlertRepository(Protocol):
    """`system_alerts` and their `system_notifications` (at most one open per kind and subject)."""

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
        """The new alert's id (one pending notification queued per channel), or None when one is
        open already (nothing is written)."""
        ...

    def resolve(self, *, kind: SystemAlertKind, subject: str, reason: str, now: datetime) -> bool: ...

    def open_subjects(self, kind: SystemAlertKind) -> list[str]: ...

    def listed(self, *, include_resolved: bool = False) -> list[SystemAlertRecord]: ...


class TrackerRepository(Protocol):
    """`trackers`: named bookmarks in the ledger (the sweeper's)."""

    def position(self, name: str) -> int:
        """The saved position (0 if none)."""
        ...

    def advance(self, name: str, position: int, now: datetime) -> None:
        """Save `position` unless a later one is saved already."""
        ...


class EventReader(Protocol):
    """The ledger, read-only, as the projections need it."""

    def after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        """Each project's events after the given version, oldest first (absent: none)."""
        ...

    def stream(self, project: str) -> list[RecordedEvent]: ...

    def but_claims(self, project: str) -> list[RecordedEvent]:
        """The project's events but its `SpendClaimed` ones, oldest first."""
        ...

    def of_versions(self, project: str, versions: Sequence[int]) -> list[RecordedEvent]:
        """The project's events of the given versions, oldest first (one indexed query)."""
        ...

    def streams(self, names: Sequence[str]) -> dict[str, list[RecordedEvent]]: ...

    def read_after(self, position: int, *, limit: int) -> list[RecordedEvent]:
        """Up to `limit` events after global position `position`, in position order."""
        ...

    def projects(self) -> list[str]:
        """Every project with a first event, sorted."""
        ...

    def every_project(self) -> list[str]:
        """Every project with any event, sorted."""
        ...

    def heads(self, names: Sequence[str]) -> dict[str, int]:
        """The latest version of each named project that has events."""
        ...

    def count(self) -> int: ...


class SnapshotRepository(Protocol):
    """Projects' folded states (`state_snapshots`, issue 18): derived data a catch-up starts from."""

    def newest(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        """Each named project's newest snapshot of `of_format` at or before its version in `limits`
        that holds its claims (not a totals snapshot), with them (a catch-up reads every claim's
        conditions)."""
        ...

    def replace_all(self, snapshots: Sequence[StoredSnapshot]) -> None:
        """Every snapshot replaced by `snapshots` (replay)."""
        ...

    def keep_heads(self, snapshots: Sequence[StoredSnapshot], previous: Mapping[str, int]) -> None:
        """Keep totals snapshots at the heads a catch-up moved (a project each), replacing the
        totals snapshot of each project at its version in `previous` (`snapshot_store.keep_heads`)."""
        ...

    def every(self) -> list[StoredSnapshot]:
        """Every snapshot, by project and version."""
        ...


class ProjectionUnit(Protocol):
    """One transaction on the projections; rolled back unless `commit()` is called."""

    @property
    def heads(self) -> HeadRepository: ...

    @property
    def lines(self) -> LineRepository: ...

    @property
    def facts(self) -> FactsRepository: ...

    @property
    def portfolio_rows(self) -> PortfolioRowRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def system_alerts(self) -> SystemAlertRepository: ...

    @property
    def tracker(self) -> TrackerRepository: ...

    @property
    def events(self) -> EventReader: ...

    @property
    def snapshots(self) -> SnapshotRepository: ...

    def commit(self) -> None: ...

    def read_new(
        self, versions: Mapping[str, int], open_of: Sequence[str]
    ) -> tuple[dict[str, list[RecordedEvent]], dict[str, dict[AlertKey, str]]]:
        """`events.after(versions)` and `alerts.open_figures(open_of)`, in one round trip where the
        backend can (a catch-up reads both once its heads are locked)."""
        ...

    def pipelined(self) -> AbstractContextManager[None]:
        """Within the block, statements are sent without waiting for each one's answer (on
        PostgreSQL, psycopg's pipeline mode; elsewhere nothing changes), so writes share a round
        trip with the commit. For writes only: nothing in the block may read rows back (SQLAlchemy
        would find none), and an error may surface at a later statement or at the block's end.
        PostgreSQL also holds the upserts (lines, facts, heads) back and sends them together, one
        statement, at the commit or at the block's end."""
        ...

    def rebuild_project(
        self, project: str, alerts: Sequence[Row], lines: Sequence[Row], facts: Sequence[Row] = ()
    ) -> None:
        """Replace the project's alerts, lines and facts: alerts carrying an `id` keep it, the rest
        are numbered after them in their order."""
        ...

    def rebuild_all(
        self, alerts: Sequence[Row], lines: Sequence[Row], heads: Sequence[Row], facts: Sequence[Row] = ()
    ) -> None:
        """Replace every projection row (system alerts are not projections: they stay)."""
        ...

    def stored(self, table: str, projects: Sequence[str]) -> list[Row]:
        """The rows of a projection table (`PROJECTION_TABLES`) of the named projects."""
        ...

    def projects_in(self, table: str) -> list[str]:
        """The projects a projection table holds rows of."""
        ...


class ProjectionStore(Protocol):
    """Opens units of work on the projections.

    `write(exclusive=True)` keeps every other writer of the projections out (a full rebuild);
    `write(durable=False)` may acknowledge the commit before it is on disk (derived rows only: the
    next catch-up redoes from the ledger whatever a crash takes back)."""

    @property
    def shown_url(self) -> str:
        """Where the store is, for messages (no password)."""
        ...

    def read(self) -> AbstractContextManager[ProjectionUnit]: ...

    def write(
        self, *, exclusive: bool = False, durable: bool = True
    ) -> AbstractContextManager[ProjectionUnit]: ...

    def opener(self) -> Callable[[], ProjectionStore] | None:
        """A picklable way to open this store in another process (for a parallel fold), or None
        when it cannot be shared (an in-memory store)."""
        ...

    def close(self) -> None: ...

"""`ktpledger verify --projections`: every projection recomputed from the ledger alone and compared
with the rows stored, naming each row that differs.

The recomputation is `replay`'s own fold (`fold_projects`), run without writing. The comparison is
generic over each table's columns: a column the fold gives is compared, except those the live run
fills with its own time (`updated_at`, `raised_at`, `resolved_at`) or the database numbers (`id`);
so a column added to a projection and to its fold is compared without a change here. Each state
snapshot (issue 18) is compared with its project's stream folded to the snapshot's version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionUnit
from ktpledger.domain.errors import UnreadableEvent
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, fold_recorded
from ktpledger.domain.snapshot import (
    SNAPSHOT_FORMAT_NOW,
    ClaimsSource,
    SnapshotUnreadable,
    StoredSnapshot,
    load_snapshot,
    read_claims,
    same_state,
)
from ktpledger.service.projection_fold import REPLAY_CHUNK, fold_projects


@dataclass(frozen=True)
class TableSpec:
    """A projection table: the fold's rows for it (`FoldedRows` field), its key, what is not derived."""

    table: str  # its name in the store (`projection_store.PROJECTION_TABLES`)
    rows: str
    keys: tuple[str, ...]
    ignored: frozenset[str] = frozenset()
    json_columns: frozenset[str] = frozenset()
    # Rows the ledger gives but the table does not hold yet are no drift: readers fold what has
    # none (the project facts, after the upgrade that added them, until `replay` or the project's
    # next catch-up writes them). A stored row that differs is one.
    may_lack: bool = False


SPECS = (
    TableSpec("projection_heads", "heads", ("project",), frozenset({"updated_at"})),
    TableSpec("allowance_lines", "lines", ("project", "category")),
    TableSpec("project_facts", "facts", ("project",), json_columns=frozenset({"facts"}), may_lack=True),
    TableSpec(
        "alerts",
        "alerts",
        ("project", "category", "kind", "subject", "raised_at_version"),
        frozenset({"id", "raised_at", "resolved_at"}),
        frozenset({"detail", "current"}),
    ),
)


@dataclass(frozen=True)
class Drift:
    """One stored row (or one of its columns) that is not what the ledger gives."""

    table: str
    project: str
    key: dict[str, Any]
    column: str | None  # None: the whole row is missing (stored None) or has no ground (recomputed None)
    stored: Any
    recomputed: Any

    @property
    def message(self) -> str:
        where = f"{self.table}, project {self.project}" + "".join(
            f", {name} {value}" for name, value in self.key.items()
        )
        if self.column is None and self.stored is None:
            return f"{where}: no row is stored; the ledger gives {_shown(self.recomputed)}"
        if self.column is None:
            return f"{where}: a row is stored ({_shown(self.stored)}) that the ledger does not give"
        text = (
            f"{where}: {self.column} is {_shown(self.stored)} stored, {_shown(self.recomputed)} "
            "recomputed from the ledger"
        )
        behind = (
            isinstance(self.stored, int)
            and isinstance(self.recomputed, int)
            and self.stored < self.recomputed
        )
        if self.table == "projection_heads" and self.column == "version" and behind:
            text += " (the projection is behind the ledger: if workers are still catching up, check again)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "project": self.project,
            "key": {name: _plain(value) for name, value in self.key.items()},
            "column": self.column,
            "stored": _plain(self.stored),
            "recomputed": _plain(self.recomputed),
            "message": self.message,
        }


@dataclass
class ProjectionCheck:
    projects: int = 0
    rows: int = 0  # rows compared
    drifts: list[Drift] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drifts

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "projects": self.projects,
            "rows_compared": self.rows,
            "differences": [drift.to_json() for drift in self.drifts],
        }


def check_projections(database: Database, *, chunk: int = REPLAY_CHUNK) -> ProjectionCheck:
    """Recompute every projection from the ledger (without writing) and compare with the tables."""
    now = datetime.now(UTC)
    result = ProjectionCheck()
    with projection_store(database).read() as unit:
        # Every project with any event (not only those whose first event is still there).
        names = unit.events.every_project()
        result.projects = len(names)
        for start in range(0, len(names), chunk):
            group = names[start : start + chunk]
            folded = fold_projects(unit.events, group, now)
            for spec in SPECS:
                recomputed = [dict(row) for row in getattr(folded, spec.rows)]
                stored = unit.stored(spec.table, group)
                _compare(spec, stored, recomputed, result)
        known = set(names)
        for spec in SPECS:
            stray = [project for project in unit.projects_in(spec.table) if project not in known]
            if stray:
                _compare(spec, unit.stored(spec.table, stray), [], result)
        _check_snapshots(unit, result)
    return result


def _check_snapshots(unit: ProjectionUnit, result: ProjectionCheck) -> None:
    """Each snapshot of this code's format against its project's stream folded to its version: a
    snapshot that differs names its project and version (readers would pass it over only if its
    head hash differed). Snapshots of another format are read by nobody: not compared."""
    streams: dict[str, list[RecordedEvent]] = {}
    for snapshot in unit.snapshots.every():
        if snapshot.format != SNAPSHOT_FORMAT_NOW:
            continue
        result.rows += 1
        stream = streams.get(snapshot.project)
        if stream is None:
            stream = streams[snapshot.project] = unit.events.stream(snapshot.project)
        key = {"version": snapshot.version}
        problem = _snapshot_problem(snapshot, stream[: snapshot.version])
        if problem is not None:
            stored, recomputed = problem
            result.drifts.append(Drift("state_snapshots", snapshot.project, key, "state", stored, recomputed))


def _snapshot_problem(snapshot: StoredSnapshot, stream: list[RecordedEvent]) -> tuple[str, str] | None:
    """(what is stored, what the ledger gives) when the snapshot is not the fold of `stream`."""
    project, version = snapshot.project, snapshot.version
    recomputed: ProjectState | None = None
    if len(stream) == version:
        try:
            recomputed = fold_recorded_state(project, stream)
        except UnreadableEvent as error:
            return f"a state of version {version}", f"no state: {error.message}"

    # A totals snapshot keeps no claims (`totals_snapshot_of`): its claims are the fold's (the one
    # compared with, not folded twice: only read and compared), and its every other figure is
    # compared. A full snapshot's claims are its own.
    def fold_for_claims() -> ProjectState:
        return recomputed if recomputed is not None else fold_recorded_state(project, stream)

    folds_claims = ClaimsSource(stored=lambda: None, folded=fold_for_claims)
    try:
        stored = read_claims(load_snapshot(snapshot, folds_claims))
    except (SnapshotUnreadable, UnreadableEvent) as error:
        return f"unreadable ({error})", f"the fold of versions 1 to {version}"
    if recomputed is None:
        return f"a state of version {version}", f"the ledger holds {len(stream)} events"
    if stored.head_hash != recomputed.head_hash:
        return f"head {stored.head_hash[:16]}", f"head {recomputed.head_hash[:16]}"
    if not same_state(stored, recomputed):
        return "a state with other figures", f"the fold of versions 1 to {version}"
    return None


def fold_recorded_state(project: str, stream: Iterable[RecordedEvent]) -> ProjectState:
    """`project`'s state folded from `stream`, keeping no keys (as a snapshot holds it)."""
    state = ProjectState(project=project, track_keys=False)
    fold_recorded(stream, state.apply)
    return state


def _compare(
    spec: TableSpec,
    stored: Iterable[Mapping[str, Any]],
    recomputed: Iterable[Mapping[str, Any]],
    result: ProjectionCheck,
) -> None:
    name = spec.table
    have = {tuple(row[key] for key in spec.keys): row for row in stored}
    want = {tuple(row[key] for key in spec.keys): row for row in recomputed}
    for key in sorted(set(have) | set(want), key=lambda k: tuple(str(part) for part in k)):
        result.rows += 1
        described = dict(zip(spec.keys[1:], key[1:], strict=True))
        old, new = have.get(key), want.get(key)
        if old is None and new is not None:
            if not spec.may_lack:
                result.drifts.append(Drift(name, str(key[0]), described, None, None, _visible(spec, new)))
            continue
        if new is None and old is not None:
            result.drifts.append(Drift(name, str(key[0]), described, None, _visible(spec, old), None))
            continue
        assert old is not None and new is not None
        for column in _compared(spec, old, new):
            a, b = old[column], new[column]
            same = _parsed(a) == _parsed(b) if column in spec.json_columns else a == b
            if not same:
                result.drifts.append(Drift(name, str(key[0]), described, column, a, b))


def _compared(spec: TableSpec, stored: Mapping[str, Any], recomputed: Mapping[str, Any]) -> list[str]:
    return [
        column
        for column in recomputed
        if column in stored
        and column not in spec.keys
        and column not in spec.ignored
        and not column.startswith("_")
    ]


def _visible(spec: TableSpec, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        column: value
        for column, value in row.items()
        if column not in spec.keys and column not in spec.ignored and not column.startswith("_")
    }


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(_plain(value), sort_keys=True)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value) if isinstance(value, str) or value is None else str(value)

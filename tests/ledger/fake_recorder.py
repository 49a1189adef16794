"""An in-memory `LedgerRecorder`: the ledger service's port without a database, for unit tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.ledger_recorder import DIRECT_CONNECTIONS, AppendSession
from ktpledger.adapters.ledger_store import INSERT_COLUMNS
from ktpledger.adapters.snapshot_store import ColdStart
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.snapshot import StoredSnapshot

FACT_TYPES = ("GrantOffered", "LMCDecision", "ProjectClosed")


class FakeRecorder:
    """Rows in a list. `conflicts` commits fail with `WriteConflict` first (another writer got in);
    with `appends_one_directly`, `append_one` records a row chained onto the head."""

    def __init__(self, *, appends_one_directly: bool = False, conflicts: int = 0) -> None:
        self.appends_one_directly = appends_one_directly
        self.direct_appends = DIRECT_CONNECTIONS if appends_one_directly else 0
        self.rows: list[RecordedEvent] = []
        self.conflicts = conflicts
        self.commits = 0
        self.sessions = 0
        self.readings = 0  # `reading` sessions opened (the one-round-trip path's warm-up)
        self.direct_tries = 0  # `append_one` calls
        self.closed = 0
        self.snapshots: dict[tuple[str, int], StoredSnapshot] = {}  # kept as committed
        self.claims_read: list[tuple[str, int]] = []  # each `snapshot_claims` asked for

    # --- the general path

    @contextmanager
    def appending(self) -> Iterator[AppendSession]:
        self.sessions += 1
        yield _FakeSession(self)

    @contextmanager
    def reading(self) -> Iterator[AppendSession]:
        self.readings += 1
        yield _FakeSession(self)

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        self.readings += 1
        return self._start(project, of_format)

    def _start(self, project: str, of_format: str) -> ColdStart:
        head = self._head(project)
        kept = [
            snapshot
            for (name, version), snapshot in sorted(self.snapshots.items())
            if name == project and 0 < version <= head and snapshot.format == of_format
        ]
        snapshot = dataclasses.replace(kept[-1], claims=b"") if kept else None  # read when asked
        after = snapshot.version - 1 if snapshot is not None else 0
        return ColdStart(head, snapshot, self.stream(project, after_version=after))

    def _commit(self, rows: Sequence[dict[str, Any]], snapshots: Sequence[StoredSnapshot] = ()) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise WriteConflict("the database refused a conflicting write: (fake)", "(fake)")
        heads: dict[str, int] = {}
        keys = {(row.project, row.key) for row in self.rows}
        for row in rows:  # all or nothing, as a transaction
            head = heads.get(row["project"], self._head(row["project"]))
            if row["version"] != head + 1:
                raise WriteConflict(f"version {row['version']} of {row['project']} is taken", "")
            heads[row["project"]] = row["version"]
            if (row["project"], row["key"]) in keys:  # the unique index on project and key
                raise WriteConflict(f"key {row['key']} of {row['project']} is taken", "")
            keys.add((row["project"], row["key"]))
        for row in rows:
            self.rows.append(
                RecordedEvent(len(self.rows) + 1, *(row[name] for name in INSERT_COLUMNS))  # type: ignore[arg-type]
            )
        for snapshot in snapshots:
            self.snapshots[(snapshot.project, snapshot.version)] = snapshot
        self.commits += 1

    def _head(self, project: str) -> int:
        return max((row.version for row in self.rows if row.project == project), default=0)

    def append_one(self, row: dict[str, Any], totals: StoredSnapshot | None = None) -> bool:
        self.direct_tries += 1
        if not self.appends_one_directly:
            return False
        if totals is not None:  # its own transaction, whether or not the row goes in
            self.snapshots[(totals.project, totals.version)] = totals
        if self._head(row["project"]) != row["version"] - 1:
            return False
        if any(found.project == row["project"] and found.key == row["key"] for found in self.rows):
            return False  # the unique index on (project, key)
        self._commit([row])
        return True

    # --- reading

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        return [row for row in self.rows if row.project == project and row.version > after_version]

    def full_snapshot(self, project: str, version: int, of_format: str) -> StoredSnapshot | None:
        kept = [
            snapshot
            for (name, at), snapshot in sorted(self.snapshots.items())
            if name == project and 0 < at <= version and snapshot.format == of_format and snapshot.claims
        ]
        return kept[-1] if kept else None

    def snapshot_claims(self, project: str, version: int, of_format: str) -> bytes | None:
        self.claims_read.append((project, version))
        kept = self.snapshots.get((project, version))
        return None if kept is None or kept.format != of_format else kept.claims

    def projects(self) -> list[str]:
        return sorted({row.project for row in self.rows})

    def read_after(self, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
        return [row for row in self.rows if row.position > position][:limit]

    @contextmanager
    def every_event(self) -> Iterator[Iterator[RecordedEvent]]:
        yield iter(sorted(self.rows, key=lambda row: (row.project, row.version)))

    def fact_streams(self, projects: Sequence[str]) -> tuple[dict[str, list[RecordedEvent]], dict[str, int]]:
        facts: dict[str, list[RecordedEvent]] = {}
        heads: dict[str, int] = {}
        for project in projects:
            stream = self.stream(project)
            if stream:
                facts[project] = [row for row in stream if row.type in FACT_TYPES]
                heads[project] = stream[-1].version
        return facts, heads

    def close(self) -> None:
        self.closed += 1


class _FakeSession:
    def __init__(self, recorder: FakeRecorder) -> None:
        self._recorder = recorder
        self._pending: list[dict[str, Any]] = []
        self._snapshots: list[StoredSnapshot] = []

    def heads(self, projects: Iterable[str]) -> dict[str, int]:
        found = {project: self._recorder._head(project) for project in projects}
        return {project: version for project, version in found.items() if version}

    def stream(self, project: str, *, after_version: int = 0) -> list[RecordedEvent]:
        return self._recorder.stream(project, after_version=after_version)

    def streams(self, projects: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        found = {project: self._recorder.stream(project) for project in projects}
        return {project: stream for project, stream in found.items() if stream}

    def streams_after(self, versions: Mapping[str, int]) -> dict[str, list[RecordedEvent]]:
        found = {
            project: self._recorder.stream(project, after_version=after)
            for project, after in versions.items()
        }
        return {project: stream for project, stream in found.items() if stream}

    def cold_start(self, project: str, of_format: str) -> ColdStart:
        return self._recorder._start(project, of_format)

    def recorded_keys(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RecordedEvent]:
        asked = set(pairs)
        return {(row.project, row.key): row for row in self._recorder.rows if (row.project, row.key) in asked}

    def snapshots(self, limits: Mapping[str, int], of_format: str) -> dict[str, StoredSnapshot]:
        found: dict[str, StoredSnapshot] = {}
        for (project, version), snapshot in sorted(self._recorder.snapshots.items()):
            if project in limits and version <= limits[project] and snapshot.format == of_format:
                found[project] = dataclasses.replace(snapshot, claims=b"")  # read when asked
        return found

    def save_snapshots(self, snapshots: Sequence[StoredSnapshot]) -> None:
        self._snapshots.extend(snapshots)

    def insert(self, rows: Iterable[dict[str, Any]]) -> None:
        self._pending.extend(rows)

    def commit(self) -> None:
        self._recorder._commit(self._pending, self._snapshots)
        self._pending = []
        self._snapshots = []

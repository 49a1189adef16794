"""Appending to the ledger and reading it back: the one API the CLI, HTTP API and workers share."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ktpledger.adapters import ledger_store
from ktpledger.adapters.database import Database
from ktpledger.domain.chain import canonical_json, format_instant, link_digest
from ktpledger.domain.errors import RuleViolation, UnreadableEvent, cause_of, shown
from ktpledger.domain.events import Event, LMCDecision, UnknownCategory, parse_event
from ktpledger.domain.input_rules import text_problem
from ktpledger.domain.project import ProjectState, same_content
from ktpledger.domain.recorded import RecordedEvent, unreadable

CACHE_SIZE = 20_000  # project states kept warm between appends (each is small)
INTEGRITY_RETRIES = 3


@dataclass(frozen=True)
class AppendResult:
    """The outcome of one submitted event, as `ktpledger record` prints it."""

    index: int
    key: str | None
    status: str  # "recorded" | "duplicate" | "rejected"
    project: str | None = None
    version: int | None = None
    error: RuleViolation | None = None

    def to_json(self, *, line: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if line is not None:
            result["line"] = line
        result["key"] = self.key
        result["status"] = self.status
        if self.project is not None:
            result["project"] = self.project
        if self.version is not None:
            result["version"] = self.version
        if self.error is not None:
            result["error"] = self.error.as_dict()
        return result


@dataclass(frozen=True)
class VerifyProblem:
    """The first bad event of a project's chain."""

    project: str
    version: int
    position: int
    message: str


class StateCache:
    """Recently used project states, keyed by project; always checked against the ledger's head."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._states: OrderedDict[str, ProjectState] = OrderedDict()
        self._size = size

    def get(self, project: str) -> ProjectState | None:
        state = self._states.get(project)
        if state is not None:
            self._states.move_to_end(project)
        return state

    def put(self, state: ProjectState) -> None:
        self._states[state.project] = state
        self._states.move_to_end(state.project)
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def evict(self, projects: Iterable[str]) -> None:
        for project in projects:
            self._states.pop(project, None)


class ReadOnlyLedger(RuntimeError):
    """An append on a ledger opened for reading (a programming error, never the user's input)."""


def fold(project: str, recorded: Iterable[RecordedEvent], state: ProjectState | None = None) -> ProjectState:
    """`state` (or a new one) with `recorded` folded in, in version order. A row that cannot be
    read or folded raises `UnreadableEvent` naming it (`state` is then folded up to the row before)."""
    state = state or ProjectState(project=project)
    for item in recorded:
        try:
            state.apply(item.event(), item.version, item.hash)
        except UnreadableEvent as error:
            raise unreadable(item, error) from error
    return state


def shown_stream(stream: Iterable[RecordedEvent]) -> list[dict[str, Any]]:
    """A project's stream as `ktpledger events --format json` and `GET /projects/{p}/events` show
    it: every row as recorded, and on a row that cannot be read `unreadable`, the refusal naming it
    and why (`unreadable_rows`). Nothing is left out: the reader learns which row and why."""
    rows = list(stream)
    bad = unreadable_rows(rows)
    shown = []
    for item in rows:
        document = item.to_json()
        error = bad.get(item.version)
        if error is not None:
            document["unreadable"] = error.as_dict()
        shown.append(document)
    return shown


def unreadable_rows(stream: Iterable[RecordedEvent]) -> dict[int, UnreadableEvent]:
    """The rows of one project's stream that cannot be read, by version: every row whose event
    cannot be rebuilt, and the row at which the fold first fails (the rows after it are not folded:
    the project's state is not known past it)."""
    found: dict[int, UnreadableEvent] = {}
    state: ProjectState | None = None
    folding = True
    for item in stream:
        try:
            event = item.event()
            if folding:
                state = state or ProjectState(project=item.project, track_keys=False)
                state.apply(event, item.version, item.hash)
        except UnreadableEvent as error:
            found[item.version] = unreadable(item, error)
            folding = False
    return found


class Ledger:
    """The append-only ledger on one database. `on_appended` is called after each commit with the
    projects that gained events (the composition root wires it to the projection tasks)."""

    def __init__(
        self,
        database: Database,
        on_appended: Callable[[set[str]], None] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.database = database
        self.on_appended = on_appended
        self.read_only = read_only  # a reader's ledger: `append` refuses
        self._cache = StateCache()
        # Cached states are read by the one-round-trip path outside any database lock: this keeps
        # it from seeing a state half-way through being folded by another thread.
        self._guard = threading.Lock()
        # (process id, pooled connection in autocommit, its appender) of the one-round-trip path
        self._direct: tuple[int, Any, ledger_store.DirectAppender] | None = None
        self._direct_lock = threading.Lock()

    # --- writing ---------------------------------------------------------------------------------

    def append(self, submissions: Iterable[object]) -> list[AppendResult]:
        """Append each submitted event (a mapping, or a `RuleViolation` from parsing) on its own:
        a rejected one records nothing and does not stop the others."""
        if self.read_only:
            raise ReadOnlyLedger("this ledger was opened for reading: open it with bootstrap() to append")
        results: list[AppendResult | None] = []
        parsed: list[tuple[int, Event]] = []
        for index, raw in enumerate(submissions):
            try:
                if isinstance(raw, RuleViolation):
                    raise raw
                event = parse_event(raw)
            except RuleViolation as error:
                results.append(AppendResult(index, _raw_key(raw), "rejected", _raw_project(raw), error=error))
                continue
            results.append(None)
            parsed.append((index, event))
        if len(parsed) == 1 and self.database.dialect == "postgresql":
            fast = self._append_one(*parsed[0])
            if fast is not None:
                results[fast.index] = fast
                parsed = []
        if parsed:
            for index, result in self._append_parsed(parsed).items():
                results[index] = result
        return self._reworded([result for result in results if result is not None])

    def _reworded(self, results: list[AppendResult]) -> list[AppendResult]:
        """Categories refused while parsing, reworded with the lines of the project each was for,
        when that project exists (parsing cannot know its methodology); read once the others of
        the batch are appended, so an offer earlier in the same batch counts."""
        unknown = [
            result
            for result in results
            if isinstance(result.error, UnknownCategory) and result.error.lines is None and result.project
        ]
        if not unknown:
            return results
        states = self.facts(sorted({result.project for result in unknown if result.project}))
        reworded = {}
        for result in unknown:
            state = states.get(result.project or "")
            if state is not None and state.exists and isinstance(result.error, UnknownCategory):
                reworded[result.index] = replace(result, error=state.category_refusal(result.error))
        return [reworded.get(result.index, result) for result in results]

    def _send_one(self, row: dict[str, Any]) -> int | None:
        """`ktpledger_append_one` on this ledger's own autocommit connection (one per process, kept
        out of the pool's churn); None if the head moved, the connection is busy in another thread
        or anything fails, which sends the event down the general path."""
        if not self._direct_lock.acquire(blocking=False):
            return None
        try:
            pid = os.getpid()
            if self._direct is None or self._direct[0] != pid:
                raw = self.database.engine.raw_connection()
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                self._direct = (pid, raw, ledger_store.DirectAppender(raw.driver_connection))
            _, raw, appender = self._direct
            try:
                return appender.append(row)
            except Exception:
                self._direct = None
                raw.invalidate()
                return None
        finally:
            self._direct_lock.release()

    def close(self) -> None:
        """Give back the connection of the one-round-trip path."""
        with self._direct_lock:
            if self._direct is not None and self._direct[0] == os.getpid():
                raw = self._direct[1]
                try:
                    raw.driver_connection.autocommit = False  # type: ignore[union-attr]
                    raw.close()
                except Exception:
                    raw.invalidate()
            self._direct = None

    def _append_one(self, index: int, event: Event) -> AppendResult | None:
        """One event onto a project whose state is warm here, in one round trip (PostgreSQL).

        The event is validated against the cached state; the server-side `ktpledger_append_one`
        then takes the append lock, confirms the project's head is still the version validated
        against and inserts, committing as the statement ends. None when this does not apply (no
        warm state, a key seen before, an event the cached state would refuse, an LMC decision, or a
        head that has moved): the general path then decides against the ledger as it stands. (An
        extension can take the period past the calendar's end, which only folding it finds, after
        the insert here: the general path folds before it inserts, and refuses it.)"""
        with self._guard:
            state = self._cache.get(event.project)
            if state is None or event.key in state.keys or isinstance(event.payload, LMCDecision):
                return None
            try:
                state.check(event)
            except RuleViolation:
                return None  # the cache may lag the ledger: let the general path confirm a refusal
            now = datetime.now(UTC)
            row = new_row(event, state, now, format_instant(now))
        position = self._send_one(row)
        with self._guard:
            if position is None:
                self._cache.evict([event.project])
                return None
            if self._cache.get(event.project) is state and state.version == row["version"] - 1:
                state.apply(event, row["version"], row["hash"])
            else:
                self._cache.evict([event.project])
        if self.on_appended is not None:
            self.on_appended({event.project})
        return AppendResult(index, event.key, "recorded", event.project, version=row["version"])

    def _append_parsed(self, parsed: list[tuple[int, Event]]) -> dict[int, AppendResult]:
        # The guard costs no concurrency (the database's append lock serialises writers anyway) and
        # keeps the one-round-trip path from reading a cached state while it is being folded.
        with self._guard:
            results, appended = self._append_locked(parsed)
        if appended and self.on_appended is not None:
            self.on_appended(appended)
        return results

    def _append_locked(self, parsed: list[tuple[int, Event]]) -> tuple[dict[int, AppendResult], set[str]]:
        touched = {event.project for _, event in parsed}
        for attempt in range(INTEGRITY_RETRIES):
            try:
                # The lock is taken by the first read, of the heads (`_states`), in the same round trip.
                with self.database.write(lock=False) as connection:
                    results, rows, states = self._decide(connection, parsed)
                    ledger_store.insert(connection, rows)
                    connection.commit()
            except IntegrityError:
                # Another writer got past the lock (it should not): start again from the ledger.
                self._cache.evict(touched)
                if attempt == INTEGRITY_RETRIES - 1:
                    raise
                continue
            except BaseException:
                self._cache.evict(touched)
                raise
            for state in states.values():
                self._cache.put(state)
            self._cache.evict(touched.difference(states))  # projects whose stream could not be folded
            return results, {row["project"] for row in rows}
        raise AssertionError("unreachable")

    def _decide(
        self, connection: Connection, parsed: list[tuple[int, Event]]
    ) -> tuple[dict[int, AppendResult], list[dict[str, Any]], dict[str, ProjectState]]:
        """Each event's result and the rows to insert, and the state of each project that can be
        used again. The events of a project whose recorded stream cannot be folded are rejected
        naming the row; the other projects' events of the batch go ahead."""
        states, refused = self._states(connection, {event.project for _, event in parsed})
        results: dict[int, AppendResult] = {}
        rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        recorded_at = format_instant(now)
        for index, event in parsed:
            error = refused.get(event.project)
            if error is not None:
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=error)
                continue
            state = states[event.project]
            seen = state.keys.get(event.key)
            if seen is not None:
                if same_content(seen[0], event):
                    results[index] = AppendResult(
                        index, event.key, "duplicate", event.project, version=seen[1]
                    )
                else:
                    error = RuleViolation(
                        "R-30",
                        f"key {shown(event.key)} of project {event.project} was recorded (version {seen[1]}) with "
                        "other content; a recorded event is never changed: use a new key, or a reversal",
                        field="key",
                    )
                    results[index] = AppendResult(index, event.key, "rejected", event.project, error=error)
                continue
            try:
                state.check(event)
                row = new_row(event, state, now, recorded_at)
                state.apply(event, row["version"], row["hash"])
            except RuleViolation as error:
                if isinstance(error, UnreadableEvent):  # the event could not be folded in
                    error = _unfoldable(event, error.cause)
                    self._give_up(event.project, error, states, refused)
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=error)
                continue
            except Exception as error:  # the project as recorded could not be checked against
                failed = RuleViolation(
                    "R-30",
                    f"project {event.project} as recorded (version {state.version}) cannot be checked "
                    f"against: {cause_of(error)}; nothing was recorded for it",
                    field="project",
                )
                self._give_up(event.project, failed, states, refused)
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=failed)
                continue
            rows.append(row)
            results[index] = AppendResult(index, event.key, "recorded", event.project, version=row["version"])
        return results, rows, states

    @staticmethod
    def _give_up(
        project: str,
        error: RuleViolation,
        states: dict[str, ProjectState],
        refused: dict[str, RuleViolation],
    ) -> None:
        """Append nothing more for `project` in this batch: its state may be part-way through an
        event (the events after it are refused with `error`), and it is not cached."""
        states.pop(project, None)
        refused[project] = error

    def _states(
        self, connection: Connection, projects: set[str]
    ) -> tuple[dict[str, ProjectState], dict[str, RuleViolation]]:
        """Each project's state at the ledger's head, from the cache where it is current, and the
        refusal (`UnreadableEvent`) of each project whose recorded stream cannot be folded. Reading
        the heads takes the append lock first: the decisions are made against heads read under it."""
        head = ledger_store.heads(connection, projects, lock=True)
        states: dict[str, ProjectState] = {}
        refused: dict[str, RuleViolation] = {}
        unknown: list[str] = []  # not cached (or cached ahead of the ledger) but with events
        for project in projects:
            state = self._cache.get(project)
            latest = head.get(project, 0)
            if state is None or state.version > latest:
                if latest:
                    unknown.append(project)
                    continue
                state = ProjectState(project=project)
            elif state.version < latest:
                stream = ledger_store.stream(connection, project, after_version=state.version)
                try:
                    state = fold(project, stream, state)
                except UnreadableEvent as error:
                    refused[project] = error
                    continue
            states[project] = state
        if unknown:
            # Folded from the whole stream, read for many projects at once (a cold cache, a new process).
            found = ledger_store.streams(connection, unknown)
            for project in unknown:
                try:
                    states[project] = fold(project, found.get(project, ()))
                except UnreadableEvent as error:
                    refused[project] = error
        return states, refused

    # --- reading ---------------------------------------------------------------------------------

    def stream(self, project: str) -> list[RecordedEvent]:
        with self.database.read() as connection:
            return ledger_store.stream(connection, project)

    def state(self, project: str) -> ProjectState:
        """The project's state at the ledger's head (a fresh fold; the caller may keep it)."""
        return fold(project, self.stream(project))

    def facts(self, projects: list[str]) -> dict[str, ProjectState]:
        """Each project folded from its offer, LMC decisions and closure only (`facts`)."""
        return facts(self.database, projects)

    def projects(self) -> list[str]:
        with self.database.read() as connection:
            return ledger_store.projects(connection)

    def read_after(self, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
        with self.database.read() as connection:
            return ledger_store.read_after(connection, position, limit=limit)

    def verify(self) -> tuple[int, VerifyProblem | None]:
        """Re-check every project's versions and hash chain: (events checked, first problem)."""
        checked = 0
        with self.database.read() as connection:
            project, version, prev = "", 0, ""
            for item in ledger_store.all_streams(connection):
                if item.project != project:
                    project, version, prev = item.project, 0, ""
                problem = None
                if item.version != version + 1:
                    problem = f"version {item.version} follows version {version}: the sequence has a gap"
                elif item.prev_hash != prev:
                    problem = "prev_hash does not match the hash of the event before it"
                elif item.link().digest() != item.hash:
                    problem = "hash does not match the event's content: it was changed after it was recorded"
                if problem is not None:
                    return checked, VerifyProblem(item.project, item.version, item.position, problem)
                checked += 1
                version, prev = item.version, item.hash
        return checked, None


def facts(database: Database, projects: Iterable[str]) -> dict[str, ProjectState]:
    """Each project folded from its offer, LMC decisions and closure only (its title, period,
    status and budget), with `version` set to the project's head: cheap for many projects. A
    project whose facts cannot be folded is left out (`read_facts` says why)."""
    return read_facts(database, projects)[0]


def read_facts(
    database: Database, projects: Iterable[str]
) -> tuple[dict[str, ProjectState], dict[str, UnreadableEvent]]:
    """`facts`, and the refusal naming the row of each project whose facts cannot be folded: one
    project's unreadable row never stops a reader of many projects."""
    names = sorted(set(projects))
    if not names:
        return {}, {}
    with database.read() as connection:
        streams = ledger_store.fact_streams(connection, names)
        head = ledger_store.heads(connection, names)
    states: dict[str, ProjectState] = {}
    refused: dict[str, UnreadableEvent] = {}
    for name, stream in streams.items():
        try:
            states[name] = fold(name, stream)
        except UnreadableEvent as error:
            refused[name] = error
    for name, state in states.items():
        state.version = head.get(name, state.version)
    return states, refused


def new_row(event: Event, state: ProjectState, now: datetime, recorded_at: str) -> dict[str, Any]:
    """The ledger row of `event` appended onto `state`: next version, chained hash (R-30)."""
    version = state.version + 1
    schema_version = event.payload.SCHEMA_VERSION
    data = canonical_json(event.payload.to_data())
    digest = link_digest(
        event.project,
        version,
        event.type,
        schema_version,
        event.key,
        event.date.isoformat(),
        recorded_at,
        data,
        state.head_hash,
    )
    return {
        "project": event.project,
        "version": version,
        "type": event.type,
        "schema_version": schema_version,
        "key": event.key,
        "date": event.date,
        "data": data,
        "recorded_at": now,
        "prev_hash": state.head_hash,
        "hash": digest,
    }


def _unfoldable(event: Event, cause: str) -> RuleViolation:
    """The refusal of a new event the project's fold cannot take (nothing is recorded)."""
    return RuleViolation(
        "R-30",
        f"{event.type} {shown(event.key)} cannot be folded into project {event.project}: {cause}; "
        "nothing was recorded for it",
        field="data",
    )


def _raw_key(raw: object) -> str | None:
    return _raw_text(raw, "key")


def _raw_project(raw: object) -> str | None:
    return _raw_text(raw, "project")


def _raw_text(raw: object, name: str) -> str | None:
    """A rejected event's key or project, to name it in its result: only text that can be
    written out again (a lone surrogate cannot be sent as UTF-8; the error quotes it escaped)."""
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and text_problem(value) is None else None

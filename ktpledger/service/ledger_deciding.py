"""Deciding a batch of parsed events against the ledger as it stands: each one recorded, a
duplicate or rejected, and the chained rows to append (R-30), with the project states kept warm."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from ktpledger.adapters.ledger_recorder import AppendSession, LedgerRecorder
from ktpledger.adapters.snapshot_store import ColdStart
from ktpledger.domain.chain import CHAIN_VERSION, format_instant, link_digest
from ktpledger.domain.errors import RuleViolation, UnreadableEvent, cause_of, shown
from ktpledger.domain.events import Event, canonical_data, schema_version_of
from ktpledger.domain.input_rules import text_problem
from ktpledger.domain.project import ProjectState, same_content
from ktpledger.domain.recorded import RecordedBy, RecordedEvent
from ktpledger.domain.snapshot import (
    SNAPSHOT_EVERY,
    SNAPSHOT_FORMAT_NOW,
    TOTALS_EVERY,
    ClaimsSource,
    SnapshotUnreadable,
    StoredSnapshot,
    defer_claims,
    load_snapshot,
    loaded_states,
    read_claims,
    resumed,
    snapshot_of,
    totals_snapshot_of,
)
from ktpledger.service.caches import Weighed, WeighedCache
from ktpledger.service.ledger_reading import fold

# What the project states kept warm between appends may weigh: some 150,000 claims' worth; a
# state dropped is loaded again from its snapshot (issue 18).
STATE_CACHE_BYTES = 64 * 1024 * 1024


# What became of one submitted event (`status` in `ktpledger record`'s and POST /events' results).
AppendStatus = Literal["recorded", "duplicate", "rejected"]


@dataclass(frozen=True)
class AppendResult:
    """The outcome of one submitted event, as `ktpledger record` prints it."""

    index: int
    key: str | None
    status: AppendStatus
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


def recorded_result(
    index: int, key: str, project: str, version: int, _new: Callable[..., Any] = object.__new__
) -> AppendResult:
    """`AppendResult(index, key, "recorded", project, version=version)`, made without the frozen
    dataclass's `__init__` (an `object.__setattr__` a field): 0.7 us against 1.6, for every event
    a batch records (issue 18). The fields are all set, as that `__init__` sets them."""
    result: AppendResult = _new(AppendResult)
    result.__dict__.update(
        index=index, key=key, status="recorded", project=project, version=version, error=None
    )
    return result


class StateCache(Weighed[str, ProjectState]):
    """Recently used project states, keyed by project, under a byte budget (`approximate_bytes`);
    always checked against the ledger's head.

    Over its budget, the cache first puts the claims of the states least recently used out of
    memory (`snapshot.defer_claims`: read back from the ledger if a reversal, an amendment or a
    reader asks), then drops states: nearly all of a long project's bytes are its claims, which
    an append of a claim never reads, so a batch over many long projects (a large `record`)
    keeps every state's figures warm in a few kilobytes each rather than loading each again
    from its snapshot and folding on. `reads_from` is where they are read back from (`decide`
    sets it); without one, states are dropped whole."""

    def __init__(self, budget: int = STATE_CACHE_BYTES) -> None:
        self.reads_from: LedgerRecorder | None = None
        self._weighed: WeighedCache[str, ProjectState] = WeighedCache(
            budget, ProjectState.approximate_bytes, self._defer_claims
        )

    def _defer_claims(self, state: ProjectState) -> bool:
        recorder = self.reads_from
        if recorder is None:
            return False
        return defer_claims(state, partial(folded_to, recorder, state.project))

    def get(self, project: str) -> ProjectState | None:
        return self._weighed.get(project)

    def put(self, state: ProjectState) -> None:
        self._weighed.put(state.project, state)

    def evict(self, projects: Iterable[str]) -> None:
        for project in projects:
            self._weighed.pop(project)


class KeyRecordedBefore(Exception):
    """A batch decided with its keys taken as new (`decide`'s `look_up_keys` false) refused an
    event the ledger holds the key of: as a resubmission it is a duplicate (or a conflict), not
    judged by the rules. The caller rolls the batch back and decides it again, looking keys up."""


@dataclass
class Decided:
    """What deciding a batch gives: each event's result, the rows to insert, the state of each
    project that can be used again, and the snapshots due (`SNAPSHOT_EVERY`) that are still to be
    saved with the rows (given a recorder, `decide` saves them with the session as it makes them)."""

    results: dict[int, AppendResult]
    rows: list[dict[str, Any]]
    states: dict[str, ProjectState]
    snapshots: list[StoredSnapshot] = field(default_factory=list)
    keys_recorded: int = 0  # of the batch's keys, how many the ledger was found to hold already


def decide(
    session: AppendSession,
    cache: StateCache,
    parsed: list[tuple[int, Event]],
    recorded_by: RecordedBy | None = None,
    recorder: LedgerRecorder | None = None,
    *,
    insert: Callable[[Iterable[dict[str, Any]]], None] | None = None,
    look_up_keys: bool = True,
) -> Decided:
    """Each event's result and the rows to insert, and the state of each project that can be
    used again. The events of a project whose recorded stream cannot be folded are rejected
    naming the row; the other projects' events of the batch go ahead. A state loaded from its
    snapshot reads its claims from `recorder` if it needs them (without one, such a snapshot is
    passed over).

    A key is looked up in the ledger (its unique index on project and key), not in the states:
    a state holds no keys, so its size grows with a project's claims, not with its every event.
    Without `look_up_keys`, it is not: every key is taken as new (those within the batch still
    counted), and one the ledger holds is refused by that index when the rows go in, a
    `WriteConflict` that rolls the batch back (the caller then decides it again, looking up); an
    event the rules refused has its key looked up after all (a resubmission is a duplicate
    whatever the rules say now), and one recorded raises `KeyRecordedBefore`, to the same end.

    With `insert` (the session's), the rows are handed to it as they are made, before any snapshot
    is saved: on PostgreSQL they stream into the COPY while the rest of the batch is decided, so
    the server inserts on one core as the ledger decides on the other (issue 18). Without, the
    caller inserts `Decided.rows`."""
    if recorder is not None:
        cache.reads_from = recorder
    loaded = project_states(session, cache, {event.project for _, event in parsed}, recorder)
    states, refused = loaded.states, loaded.refused
    before = {project: state.version for project, state in states.items()}
    seen = _recorded(session, parsed) if look_up_keys else {}
    keys_recorded = len(seen)
    results: dict[int, AppendResult] = {}
    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    recorded_at = format_instant(now)
    by = None if recorded_by is None else recorded_by.canonical()  # the same text in every row

    # Events refused (by a rule, or as unfoldable) before their keys were looked up.
    refused_unseen: list[Event] = []

    def made() -> Iterator[dict[str, Any]]:
        for index, event in parsed:
            refusal = refused.get(event.project)
            if refusal is not None:
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=refusal)
                continue
            state = states[event.project]
            earlier = seen.get((event.project, event.key))
            if earlier is not None:
                results[index] = _resubmitted(index, event, *earlier)
                continue
            try:
                state.check(event)
                row = new_row(event, state, now, recorded_at, by)
                state.apply(event, row["version"], row["hash"])
            except RuleViolation as error:
                if not look_up_keys:
                    refused_unseen.append(event)
                if isinstance(error, UnreadableEvent):  # the event could not be folded in
                    error = _unfoldable(event, error.cause)
                    _give_up(event.project, error, states, refused)
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=error)
                continue
            except Exception as error:  # noqa: BLE001 - the project as recorded could not be checked against
                if not look_up_keys:
                    refused_unseen.append(event)
                failed = RuleViolation(
                    "R-30",
                    f"project {event.project} as recorded (version {state.version}) cannot be checked "
                    f"against: {cause_of(error)}; nothing was recorded for it",
                    field="project",
                )
                _give_up(event.project, failed, states, refused)
                results[index] = AppendResult(index, event.key, "rejected", event.project, error=failed)
                continue
            rows.append(row)
            seen[(event.project, event.key)] = (event, row["version"])
            results[index] = recorded_result(index, event.key, event.project, row["version"])
            yield row

    making = made()
    if insert is None:
        for _ in making:  # every event decided; the caller inserts `Decided.rows`
            pass
    else:
        insert(making)
        left = next(making, None)  # an `insert` that stopped early would leave events undecided
        if left is not None:
            raise RuntimeError(f"the rows were not all inserted: {left['project']} version {left['version']}")
    if refused_unseen and session.recorded_keys((event.project, event.key) for event in refused_unseen):
        raise KeyRecordedBefore(f"{len(refused_unseen)} refused event(s) to look up again")
    if recorder is None:
        due = list(snapshots_due(states, before, loaded.bases))
    else:
        # Saved one by one as made: a batch that takes 1,000 long projects past a multiple would
        # otherwise hold every one's claims' bytes (some 50 KB for 1,000 claims) until the end.
        # Rows and snapshots are committed (or rolled back) together, in whichever order written.
        # Totals snapshots (a few kilobytes each) are saved together, in a few statements.
        totals: list[StoredSnapshot] = []
        for snapshot in snapshots_due(states, before, loaded.bases, recorder, cache):
            if snapshot.claims:
                session.save_snapshots([snapshot])
            else:
                totals.append(snapshot)
        if totals:
            session.save_snapshots(totals)
        due = []
    return Decided(results, rows, states, due, keys_recorded)


def _recorded(
    session: AppendSession, parsed: list[tuple[int, Event]]
) -> dict[tuple[str, str], tuple[Event | None, int]]:
    """The event and version recorded under each (project, key) of the batch, if any (None for
    a recorded row this code cannot read: the key is taken all the same)."""
    found: dict[tuple[str, str], tuple[Event | None, int]] = {}
    for pair, item in session.recorded_keys((event.project, event.key) for _, event in parsed).items():
        try:
            found[pair] = (item.event(), item.version)
        except UnreadableEvent:
            found[pair] = (None, item.version)
    return found


def _resubmitted(index: int, event: Event, recorded: Event | None, version: int) -> AppendResult:
    """A key seen before: a duplicate when the content is the same, else refused (R-30)."""
    if recorded is None:
        unreadable = RuleViolation(
            "R-30",
            f"key {shown(event.key)} of project {event.project} was recorded (version {version}) by an "
            "event this version of ktpledger cannot read: use a new key",
            field="key",
        )
        return AppendResult(index, event.key, "rejected", event.project, error=unreadable)
    if same_content(recorded, event):
        return AppendResult(index, event.key, "duplicate", event.project, version=version)
    conflict = RuleViolation(
        "R-30",
        f"key {shown(event.key)} of project {event.project} was recorded (version {version}) with "
        "other content; a recorded event is never changed: use a new key, or a reversal",
        field="key",
    )
    return AppendResult(index, event.key, "rejected", event.project, error=conflict)


def snapshots_due(
    states: dict[str, ProjectState],
    before: dict[str, int],
    bases: dict[str, int],
    recorder: LedgerRecorder | None = None,
    cache: StateCache | None = None,
) -> Iterator[StoredSnapshot]:
    """The snapshots to write with this batch: of each project whose version crossed a multiple of
    `SNAPSHOT_EVERY`, or that was folded from more than `SNAPSHOT_EVERY` events past its newest
    snapshot (a ledger older than snapshots, or one whose snapshots were of another format); else
    of its totals alone (`totals_snapshot_of`), when it crossed a multiple of `TOTALS_EVERY`.

    Writing a snapshot reads every claim of the state in; with a `recorder`, the state is then
    swapped in `states` for the snapshot's own, its claims deferred to the row written (issue 18):
    one state's claims in memory at a time, not those of every project of the batch (a file of
    claims round-robin over 1,000 projects takes them all past a multiple in the same batch),
    and the state kept warm holds only the claims folded in after it. Made one at a time, as
    asked for. The state is dropped from `cache` first: read in, its claims would stay there to
    the batch's end (the cache is given the snapshot's state once the batch is committed), which
    for 1,000 projects of 500 claims crossing together was 185 MB."""
    for project in list(states):  # the names, not the states: a state swapped is let go at once
        state = states[project]
        start = before.get(project, 0)
        crossed = state.version // SNAPSHOT_EVERY > start // SNAPSHOT_EVERY
        base = bases.get(project)
        if crossed or (base is not None and state.version - base >= SNAPSHOT_EVERY):
            if recorder is not None and cache is not None:
                cache.evict([project])
            snapshot = snapshot_of(state)
            if recorder is not None:
                kept = replace(snapshot, claims=b"")  # the source holds no claims' bytes either
                states[project] = load_snapshot(kept, claims_source(recorder, kept))
            yield snapshot
        elif state.version // TOTALS_EVERY > start // TOTALS_EVERY:
            # Its totals alone, its claims neither read nor kept: the state stays as it is.
            yield totals_snapshot_of(state)


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


@dataclass
class LoadedStates:
    """Projects' states at the ledger's head; the refusal of each whose stream cannot be folded;
    and, for each loaded from the ledger (not the cache), the version it was loaded from (its
    snapshot's, or 0)."""

    states: dict[str, ProjectState]
    refused: dict[str, RuleViolation]
    bases: dict[str, int]


def project_states(
    session: AppendSession, cache: StateCache, projects: set[str], recorder: LedgerRecorder | None = None
) -> LoadedStates:
    """Each project's state at the ledger's head, from the cache where it is current, else from
    its newest snapshot and the events after it, else folded from its whole stream; and the
    refusal (`UnreadableEvent`) of each project whose recorded stream cannot be folded. Reading
    the heads takes the append lock first: the decisions are made against heads read under it."""
    cached = {project: cache.get(project) for project in projects}  # each looked up once
    if len(cached) == 1 and None in cached.values():
        # A new process's first append onto a project (on SQLite every append is on this path):
        # its head comes with its snapshot and the events after it (`cold_start`, under the
        # lock), so the heads are not read first, a statement of their own (issue 18).
        return _cold_loaded(session, next(iter(cached)), recorder, None)
    head = session.heads(projects)
    states: dict[str, ProjectState] = {}
    refused: dict[str, RuleViolation] = {}
    unknown: list[str] = []  # not cached (or cached ahead of the ledger) but with events
    for project, state in cached.items():
        latest = head.get(project, 0)
        if state is None or state.version > latest:
            if latest:
                unknown.append(project)
                continue
            state = ProjectState(project=project, track_keys=False)
        elif state.version < latest:
            try:
                state = fold(project, session.stream(project, after_version=state.version), state)
            except UnreadableEvent as error:
                refused[project] = error
                continue
        states[project] = state
    bases: dict[str, int] = {}
    if len(unknown) == 1:
        # A cold cache for one project (a busy process's): its snapshot and the events from it in
        # one read (`cold_start`) rather than two.
        return _cold_loaded(session, unknown[0], recorder, LoadedStates(states, refused, bases))
    if unknown:
        # A cold cache, a new process: from snapshots, and the streams after them, for many at once.
        starts = snapshot_states(session, {project: head[project] for project in unknown}, recorder)
        bases = {project: starts[project].version if project in starts else 0 for project in unknown}
        # From the snapshot's own row: its hash must be the snapshot's head (derived data is
        # trusted only as far as it matches the ledger).
        found = session.streams_after({project: max(base - 1, 0) for project, base in bases.items()})
        for project in unknown:
            events: Sequence[RecordedEvent] = found.get(project, [])
            start = starts.get(project)
            if start is not None:
                rest = resumed(start, events)
                if rest is None:  # not this ledger's state: fold the whole stream
                    start, bases[project] = None, 0
                    rest = session.stream(project)
                events = rest
            try:
                states[project] = fold(
                    project, events, start or ProjectState(project=project, track_keys=False)
                )
            except UnreadableEvent as error:
                refused[project] = error
    return LoadedStates(states, refused, bases)


def _cold_loaded(
    session: AppendSession, project: str, recorder: LedgerRecorder | None, loaded: LoadedStates | None
) -> LoadedStates:
    """`loaded` (or nothing loaded yet) with `project`'s state, not cached, read under the lock
    (`AppendSession.cold_start`: its head, its newest snapshot and the events from it, in one
    read) and folded: a new state when it has no events."""
    loaded = loaded or LoadedStates({}, {}, {})
    read = session.cold_start(project, SNAPSHOT_FORMAT_NOW)
    if not read.head:
        loaded.states[project] = ProjectState(project=project, track_keys=False)
        return loaded
    base, after = _resumed_from(read, project, recorder, partial(session.stream, project))
    loaded.bases[project] = 0 if base is None else base.version
    try:
        loaded.states[project] = fold(project, after, base or ProjectState(project=project, track_keys=False))
    except UnreadableEvent as error:
        loaded.refused[project] = error
    return loaded


def cold_state(recorder: LedgerRecorder, project: str) -> ProjectState | None:
    """The project's state at its head as `project_states` loads one not cached, from its newest
    snapshot and the events after it (else its whole stream), read without the lock in one go
    (`LedgerRecorder.cold_start`); None when its stream cannot be folded (the general path refuses
    it, naming the row)."""
    start = recorder.cold_start(project, SNAPSHOT_FORMAT_NOW)
    if not start.head:
        return ProjectState(project=project, track_keys=False)
    state, events = _resumed_from(start, project, recorder, partial(recorder.stream, project))
    try:
        return fold(project, events, state or ProjectState(project=project, track_keys=False))
    except UnreadableEvent:
        return None


def _resumed_from(
    start: ColdStart,
    project: str,
    recorder: LedgerRecorder | None,
    whole: Callable[[], Sequence[RecordedEvent]],
) -> tuple[ProjectState | None, Sequence[RecordedEvent]]:
    """The snapshot's state of `start` (None: none, or none to trust: a new state) and the events
    to fold onto it: those after the snapshot, else the whole stream (`whole`). Its claims are
    read from `recorder` when asked for; without one, a snapshot is passed over."""
    if start.snapshot is None:
        return None, start.events
    sources = None if recorder is None else partial(claims_source, recorder)
    state = loaded_states({project: start.snapshot}, sources).get(project)
    # From the snapshot's own row: its hash must be the snapshot's head (derived data is trusted
    # only as far as it matches the ledger).
    rest = None if state is None else resumed(state, start.events)
    if rest is None:  # unreadable, or not this ledger's state: fold the whole stream
        return None, whole()
    return state, rest


def snapshot_states(
    session: AppendSession, limits: dict[str, int], recorder: LedgerRecorder | None
) -> dict[str, ProjectState]:
    """Each project's state from its newest snapshot at or before its version in `limits`; a
    snapshot that cannot be read is passed over (the stream is folded instead). Its claims are
    read from `recorder` when first asked for (`claims_source`), in a transaction of their own."""
    found = session.snapshots(limits, SNAPSHOT_FORMAT_NOW)
    if recorder is None:
        return loaded_states(found)
    return loaded_states(found, lambda snapshot: claims_source(recorder, snapshot))


def claims_source(recorder: LedgerRecorder, snapshot: StoredSnapshot) -> ClaimsSource:
    """Where a snapshot's claims are read from later: its row, or, should newer snapshots have
    replaced it by then, the project's stream folded to the snapshot's version; and, for a later
    version (`snapshot.defer_claims`), the snapshot with its claims and the events after it."""
    # Not holding the claims' bytes (a full snapshot's, read with it) for as long as the state
    # lives; a snapshot read without them (every cold start's) is kept as it is: `replace` took
    # some 10 us of a cold append (issue 18).
    kept = replace(snapshot, claims=b"") if snapshot.claims else snapshot
    stored = partial(recorder.snapshot_claims, snapshot.project, snapshot.version, snapshot.format)
    # A totals snapshot's claims are kept by none: folded on from the full snapshot before it.
    to_snapshot = partial(folded_from_full, recorder, snapshot.project, snapshot.version, snapshot.format)

    def later(version: int) -> ProjectState:
        start = read_claims(load_snapshot(kept, ClaimsSource(stored=stored, folded=to_snapshot)))
        # `kept`'s fields, not `snapshot`'s: naming `snapshot` here held it, claims and all.
        events = [event for event in recorder.stream(kept.project) if kept.version < event.version <= version]
        return fold(kept.project, events, start)

    return ClaimsSource(stored=stored, folded=to_snapshot, later=later)


def folded_from_full(recorder: LedgerRecorder, project: str, version: int, of_format: str) -> ProjectState:
    """The project folded to `version` with its claims read: from its newest full snapshot at or
    before it (claims and all) and the events after it, when one is kept and its row's hash is
    its head; else from the whole stream (`folded_to`)."""
    full = recorder.full_snapshot(project, version, of_format)
    if full is None or full.version > version:
        return folded_to(recorder, project, version)
    try:
        start = read_claims(load_snapshot(full))
    except SnapshotUnreadable:
        return folded_to(recorder, project, version)
    stream = recorder.stream(project, after_version=full.version - 1)
    rest = resumed(start, [event for event in stream if event.version <= version])
    if rest is None or start.project != project or start.version != full.version:
        return folded_to(recorder, project, version)
    return fold(project, rest, start)


def folded_to(recorder: LedgerRecorder, project: str, version: int) -> ProjectState:
    """The project's recorded stream folded up to `version` (read in a transaction of its own)."""
    events = [event for event in recorder.stream(project) if event.version <= version]
    return fold(project, events, ProjectState(project=project, track_keys=False))


def new_row(
    event: Event,
    state: ProjectState,
    now: datetime,
    recorded_at: str,
    recorded_by: RecordedBy | str | None = None,
) -> dict[str, Any]:
    """The ledger row of `event` appended onto `state`: next version, chained hash (R-30), of the
    current chain version: its hash covers `recorded_by` (None is stored and hashed as null, "not
    said", rather than dropped). A batch gives its `RecordedBy.canonical()` text, written once."""
    version = state.version + 1
    by = _canonical_by(recorded_by) if isinstance(recorded_by, RecordedBy) else recorded_by
    schema_version = schema_version_of(event.payload)  # GrantPayment naming a claim: 2
    data = canonical_data(event.payload)
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
        chain_version=CHAIN_VERSION,
        recorded_by=by,
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
        "chain_version": CHAIN_VERSION,
        "recorded_by": by,
    }


# The canonical text of each `RecordedBy` seen (a server's tokens: a few), by value. A single append
# wrote it again each time, a JSON encoder's call of about 3 us (a sixth of the client's work for one
# event, issue 18); looking it up costs the dataclass's hash and equality, about 0.15 us.
_CANONICAL_BY: dict[RecordedBy, str] = {}
_CANONICAL_BY_KEPT = 256  # past this many, start again (names are a client's to choose)


def _canonical_by(recorded_by: RecordedBy) -> str:
    text = _CANONICAL_BY.get(recorded_by)
    if text is None:
        if len(_CANONICAL_BY) >= _CANONICAL_BY_KEPT:
            _CANONICAL_BY.clear()
        text = _CANONICAL_BY[recorded_by] = recorded_by.canonical()
    return text


def _unfoldable(event: Event, cause: str) -> RuleViolation:
    """The refusal of a new event the project's fold cannot take (nothing is recorded)."""
    return RuleViolation(
        "R-30",
        f"{event.type} {shown(event.key)} cannot be folded into project {event.project}: {cause}; "
        "nothing was recorded for it",
        field="data",
    )


def submitted_key(raw: object) -> str | None:
    return _submitted_text(raw, "key")


def submitted_project(raw: object) -> str | None:
    return _submitted_text(raw, "project")


def _submitted_text(raw: object, name: str) -> str | None:
    """A rejected event's key or project, to name it in its result: only text that can be
    written out again (a lone surrogate cannot be sent as UTF-8; the error quotes it escaped)."""
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and text_problem(value) is None else None

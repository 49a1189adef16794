"""Appending to the ledger and reading it back: the one API the CLI, HTTP API and workers share.

The ledger speaks to its recorder (`adapters/ledger_recorder.py`), never to a backend: the rules,
parsing, idempotency and the hash chain are decided here (`ledger_deciding`), what is stored and
how is the recorder's. Reading helpers live in `ledger_reading`; their names are exported here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.errors import WriteConflict
from ktpledger.adapters.ledger_recorder import LedgerRecorder, recorder_for
from ktpledger.domain.chain import format_instant
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import (
    AlertAcknowledged,
    Event,
    LMCDecision,
    OfferAmended,
    UnknownCategory,
    parse_event,
)
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedBy, RecordedEvent
from ktpledger.domain.snapshot import SNAPSHOT_EVERY, TOTALS_EVERY, StoredSnapshot, totals_snapshot_of
from ktpledger.service.collector import collector_paused
from ktpledger.service.ledger_deciding import (
    STATE_CACHE_BYTES,
    AppendResult,
    AppendStatus,
    KeyRecordedBefore,
    StateCache,
    cold_state,
    decide,
    new_row,
    recorded_result,
    submitted_key,
    submitted_project,
)
from ktpledger.service.ledger_reading import (
    VerifyProblem,
    check_chains,
    facts,
    fold,
    read_facts,
    recorded_facts,
    shown_stream,
    unreadable_rows,
)
from ktpledger.service.raised_alerts import unraised

__all__ = [
    "INTEGRITY_RETRIES",
    "STATE_CACHE_BYTES",
    "AppendResult",
    "AppendStatus",
    "Ledger",
    "ReadOnlyLedger",
    "StateCache",
    "VerifyProblem",
    "facts",
    "fold",
    "new_row",
    "read_facts",
    "shown_stream",
    "unreadable_rows",
]

INTEGRITY_RETRIES = 3

# At most this many projects noted in `Ledger._snapshotted` (under 100 KB; one forgotten only costs a
# totals snapshot written again).
_SNAPSHOTTED_KEPT = 1024


class ReadOnlyLedger(RuntimeError):
    """An append on a ledger opened for reading (a programming error, never the user's input)."""


def _direct_row(event: Event, state: ProjectState, recorded_by: RecordedBy | None) -> dict[str, Any] | None:
    """The row of `event` onto the cached `state` for the one-round-trip path (`Ledger._append_one`),
    or None when that path does not apply: an LMC decision or an offer amendment, a version due a
    full snapshot, or an event the cached state refuses (the cache may lag the ledger: the general path
    confirms a refusal). Called under the ledger's guard."""
    if isinstance(event.payload, (LMCDecision, OfferAmended)) or (state.version + 1) % SNAPSHOT_EVERY == 0:
        return None
    try:
        state.check(event)
    except RuleViolation:
        return None
    now = datetime.now(UTC)
    return new_row(event, state, now, format_instant(now), recorded_by)


def _totals_due(
    state: ProjectState | None, row: dict[str, Any] | None, kept: int | None
) -> StoredSnapshot | None:
    """The totals snapshot to send with a single append (`LedgerRecorder.append_one`): of the
    cached state the row was made on, when its version is a multiple of `TOTALS_EVERY` (its events
    are all committed, so the snapshot holds whether or not the row goes in), but not of
    `SNAPSHOT_EVERY`: the general path wrote a full snapshot there, which a totals one of the same
    version would replace. Nor when `kept` (`Ledger._snapshotted`) is that version: the general path
    wrote that snapshot as it made the state, and sending it again rewrote the same row (making it
    took 0.25-0.3 ms of pickling under the guard, and its own commit in the round trip: issue 18).
    Under the guard."""
    if row is None or state is None or not state.version:
        return None
    if state.version % TOTALS_EVERY or not state.version % SNAPSHOT_EVERY or state.version == kept:
        return None
    return totals_snapshot_of(state)


class Ledger:
    """The append-only ledger on one database. `on_appended` is called after each commit with the
    projects that gained events (the composition root wires it to the projection tasks).
    `recorder` is where the rows are kept (by default the one of `database`'s backend)."""

    def __init__(
        self,
        database: Database,
        on_appended: Callable[[set[str]], None] | None = None,
        *,
        read_only: bool = False,
        recorder: LedgerRecorder | None = None,
        state_bytes: int = STATE_CACHE_BYTES,
    ) -> None:
        self.database = database
        self.on_appended = on_appended
        self.read_only = read_only  # a reader's ledger: `append` refuses
        self.recorder = recorder if recorder is not None else recorder_for(database)
        self._cache = StateCache(state_bytes)  # the states kept warm, under this byte budget
        # Cached states are read by the one-round-trip path outside any database lock: this keeps
        # it from seeing a state half-way through being folded by another thread.
        self._guard = threading.Lock()
        # The version of each project a snapshot was written at by the general path's last commit of
        # it, where that is its cached state's version (a multiple of `TOTALS_EVERY`): the single
        # append onto that state need not send it again (`_totals_due`). Under the guard.
        self._snapshotted: dict[str, int] = {}
        # Whether the next batch looks its keys up before deciding (`_append_locked`): not until the
        # unique index has refused one.
        self._look_up_keys = False

    @property
    def states(self) -> StateCache:
        """The project states kept warm between appends (a one-shot command may narrow its budget)."""
        return self._cache

    @property
    def direct_appends(self) -> int:
        """How many single appends this ledger can run at once in one round trip (`_append_one`):
        the recorder's (`LedgerRecorder.direct_appends`), 0 when it has none. One more
        at once takes the general path."""
        return self.recorder.direct_appends

    # --- writing ---------------------------------------------------------------------------------

    def append(
        self, submissions: Iterable[object], *, recorded_by: RecordedBy | None = None
    ) -> list[AppendResult]:
        """Append each submitted event (a mapping, a `RuleViolation` from parsing, or an `Event`
        already parsed by `parse_event`, as an import's plan holds them) on its own: a rejected
        one records nothing and does not stop the others.

        `recorded_by` (who is recording them) is stored with each event recorded and covered by its
        hash; every entry point passes it. None is recorded as null ("not said"), never guessed. It
        is not part of an event's content: the same key and content sent by someone else is still a
        duplicate of the event recorded first, which keeps its own `recorded_by`."""
        if self.read_only:
            raise ReadOnlyLedger("this ledger was opened for reading: open it with bootstrap() to append")
        if isinstance(submissions, (list, tuple)) and len(submissions) < 2:
            if submissions and self.recorder.appends_one_directly:
                return self._append_lone(submissions[0], recorded_by)
            return self._append(submissions, recorded_by)
        # A batch makes a few objects an event (its event, row and folded claim), most of them kept
        # in the project states: each collection of the oldest generation walked them all, a
        # quarter of a batch's time (issue 18). None is cyclic garbage (`collector`).
        with collector_paused():
            return self._append(submissions, recorded_by)

    def _append_lone(self, raw: object, recorded_by: RecordedBy | None) -> list[AppendResult]:
        """`_append` of one submitted event, the way a server's requests come, tried in one round
        trip (`_append_one`) with none of a batch's bookkeeping (issue 18). A refusal while
        parsing is left to `_append` to word (it parses again), an acknowledgement to its R-39
        check; an event the direct path does not record goes to the general path without trying
        it again."""
        try:
            event = raw if isinstance(raw, Event) else parse_event(raw)
        except RuleViolation:
            return self._append([raw], recorded_by)
        if isinstance(event.payload, AlertAcknowledged):
            return self._append([event], recorded_by)
        recorded = self._append_one(0, event, recorded_by)
        if recorded is not None:
            return [recorded]
        return self._append([event], recorded_by, direct=False)

    def _append(
        self, submissions: Iterable[object], recorded_by: RecordedBy | None, *, direct: bool = True
    ) -> list[AppendResult]:
        results: list[AppendResult | None] = []
        parsed: list[tuple[int, Event]] = []
        for index, raw in enumerate(submissions):
            try:
                if isinstance(raw, RuleViolation):
                    raise raw
                # An `Event` has been through the door already (it is only made by parsing).
                event = raw if isinstance(raw, Event) else parse_event(raw)
            except RuleViolation as error:
                results.append(
                    AppendResult(index, submitted_key(raw), "rejected", submitted_project(raw), error=error)
                )
                continue
            results.append(None)
            parsed.append((index, event))
        if parsed:
            # an acknowledgement names an alert its project raised (`raised_alerts`).
            unraised_alerts = unraised(self.database, parsed)
            for index, event in parsed:
                unraised_alert = unraised_alerts.get(index)
                if unraised_alert is not None:
                    results[index] = AppendResult(
                        index, event.key, "rejected", event.project, error=unraised_alert
                    )
            if unraised_alerts:
                parsed = [(index, event) for index, event in parsed if index not in unraised_alerts]
        # Tried in one round trip and not recorded (`direct` false): its key may be recorded (the
        # usual reason), so it is looked up.
        look_up_keys = not direct
        if direct and len(parsed) == 1 and self.recorder.appends_one_directly:
            fast = self._append_one(*parsed[0], recorded_by)
            look_up_keys = fast is None
            if fast is not None:
                if len(results) == 1:  # a single event, recorded: nothing else to reword
                    return [fast]
                results[fast.index] = fast
                parsed = []
        if parsed:
            for index, result in self._append_parsed(parsed, recorded_by, look_up_keys).items():
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

    def close(self) -> None:
        """Give back what the recorder holds (the connection of the one-round-trip path)."""
        self.recorder.close()

    def _warm_up(self, project: str) -> bool:
        """Load a project's state that is not cached (from its snapshot and the events after it)
        in a read transaction, taking no lock, so that a single event onto it can go in one round
        trip (`_append_one`); whether it was (False: its stream cannot be folded). A new process's
        first append onto a project otherwise took the general path: a transaction of several
        round trips, holding the append lock while it read and folded. Should the head move
        meanwhile, `append_one` finds it moved and the general path folds on from this state; a
        stream that cannot be folded is left to it to refuse."""
        state = cold_state(self.recorder, project)
        if state is None:
            return False
        with self._guard:
            if self._cache.get(project) is None:
                self._cache.put(state)
        return True

    def _append_one(self, index: int, event: Event, recorded_by: RecordedBy | None) -> AppendResult | None:
        """One event onto a project whose state is warm here, in one round trip (a recorder that
        `appends_one_directly`: PostgreSQL); a state not cached is loaded first (`_warm_up`).

        The event is validated against the cached state; the recorder then appends it only if the
        project's head is still the version validated against (on PostgreSQL one statement takes
        the single appends' lock, confirms the head and inserts, committing as it ends: migration
        0020). None when this does not apply (no state, an event the cached
        state would refuse, an LMC decision or an offer amendment (both change the terms every
        later check reads), an event whose version is due a full snapshot (`SNAPSHOT_EVERY`), a key
        recorded before (the ledger's unique index refuses it), or a head that has moved): the
        general path then decides against the ledger as it stands, from the cached state, which
        it folds on if the head has moved. (An extension can take the
        period past the calendar's end, which only folding it finds, after the insert here: the
        general path folds before it inserts, and refuses it.)

        The state is looked up once, the row made and the state folded on under one taking of the
        guard each (a warm project's append, the usual one, took it three times: issue 18)."""
        project = event.project
        guard = self._guard
        with guard:
            state = self._cache.get(project)
            row = None if state is None else _direct_row(event, state, recorded_by)
            totals = _totals_due(state, row, self._snapshotted.get(project))
        if state is None:
            if not self._warm_up(project):
                return None
            with guard:
                state = self._cache.get(project)
                row = None if state is None else _direct_row(event, state, recorded_by)
                totals = _totals_due(state, row, self._snapshotted.get(project))
        if row is None or state is None:
            return None
        version = row["version"]
        recorded = self.recorder.append_one(row, totals)
        with guard:
            if not recorded:  # the cached state is unchanged: still good to fold on from
                return None
            if self._cache.get(project) is state and state.version == version - 1:
                state.apply(event, version, row["hash"])
            else:
                self._cache.evict([project])
        if self.on_appended is not None:
            self.on_appended({project})
        return recorded_result(index, event.key, project, version)

    def _append_parsed(
        self, parsed: list[tuple[int, Event]], recorded_by: RecordedBy | None, look_up_keys: bool = False
    ) -> dict[int, AppendResult]:
        # The guard costs no concurrency (the database's append lock serialises writers anyway) and
        # keeps the one-round-trip path from reading a cached state while it is being folded.
        with self._guard:
            results, appended = self._append_locked(parsed, recorded_by, look_up_keys)
        if appended and self.on_appended is not None:
            self.on_appended(appended)
        return results

    def _append_locked(
        self, parsed: list[tuple[int, Event]], recorded_by: RecordedBy | None, look_up: bool = False
    ) -> tuple[dict[int, AppendResult], set[str]]:
        """`parsed` decided and appended in one transaction; its keys looked up first with
        `look_up` or while `_look_up_keys` holds, else taken as new (`decide`)."""
        touched = {event.project for _, event in parsed}
        for attempt in range(INTEGRITY_RETRIES):
            try:
                # The lock is taken with the session's first read (the heads, or a lone cold project's
                # start: `project_states`), in the same round trip.
                with self.recorder.appending() as session:
                    # The rows go in as they are decided (`decide`'s `insert`), snapshots after them.
                    look_up_keys = look_up or self._look_up_keys
                    decided = decide(
                        session,
                        self._cache,
                        parsed,
                        recorded_by,
                        self.recorder,
                        insert=session.insert,
                        look_up_keys=look_up_keys,
                    )
                    if decided.snapshots:
                        session.save_snapshots(decided.snapshots)
                    session.commit()
            except (WriteConflict, KeyRecordedBefore):
                # A key the ledger holds, taken as new (not looked up), or another writer got past
                # the lock (it should not): start again from the ledger, looking keys up.
                self._cache.evict(touched)
                self._look_up_keys = True
                if attempt == INTEGRITY_RETRIES - 1:
                    raise
                continue
            except BaseException:
                self._cache.evict(touched)
                raise
            # A batch's keys are taken as new, and the unique index finds one that is not, at the cost
            # of deciding that batch twice; from then on keys are looked up (some 5 us each on
            # PostgreSQL, a tenth of a batch's time; 80-190 us a single append on SQLite: issue 18)
            # until a batch finds none recorded. A file recorded again decides its first batch twice.
            if look_up_keys and not decided.keys_recorded:
                self._look_up_keys = False
            for state in decided.states.values():
                self._cache.put(state)
            self._cache.evict(touched.difference(decided.states))  # projects whose stream could not be folded
            appended = {row["project"] for row in decided.rows}
            self._note_snapshots(appended, decided.states)
            return decided.results, appended
        raise AssertionError("unreachable")

    def _note_snapshots(self, appended: set[str], states: dict[str, ProjectState]) -> None:
        """Note in `_snapshotted` each project the commit just made took to a multiple of
        `TOTALS_EVERY`: `snapshots_due` wrote a snapshot at that version (full or of its totals),
        as it does whenever a batch takes a project past one. Should that ever not hold, the
        snapshot skipped is derived data: the next multiple writes another. Under the guard."""
        noted = self._snapshotted
        for project in appended:
            state = states.get(project)
            if state is not None and state.version and not state.version % TOTALS_EVERY:
                if len(noted) >= _SNAPSHOTTED_KEPT:  # batches over many projects: start again
                    noted.clear()
                noted[project] = state.version
            else:
                noted.pop(project, None)

    # --- reading ---------------------------------------------------------------------------------

    def stream(self, project: str) -> list[RecordedEvent]:
        return self.recorder.stream(project)

    def state(self, project: str) -> ProjectState:
        """The project's state at the ledger's head (a fresh fold; the caller may keep it)."""
        return fold(project, self.stream(project))

    def facts(self, projects: list[str]) -> dict[str, ProjectState]:
        """Each project folded from its offer, LMC decisions and closure only (`facts`)."""
        return recorded_facts(self.recorder, projects)[0]

    def projects(self) -> list[str]:
        return self.recorder.projects()

    def read_after(self, position: int, *, limit: int = 1000) -> list[RecordedEvent]:
        return self.recorder.read_after(position, limit=limit)

    def verify(self) -> tuple[int, VerifyProblem | None]:
        """Re-check every project's versions and hash chain: (events checked, first problem)."""
        with self.recorder.every_event() as every_event:
            return check_chains(every_event)

"""A new process's first append onto a project (issue 18, item 1): what it reads and how it reads
a snapshot back, kept cheap without changing what it decides."""

from __future__ import annotations

import dataclasses
import enum
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from ktpledger.adapters import ledger_recorder
from ktpledger.adapters.database import Database
from ktpledger.domain import snapshot
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import Event, parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import Category, Tag
from ktpledger.domain.snapshot import dump_state, load_state, read_claims, same_state
from ktpledger.service import ledger_deciding
from ktpledger.service.ledger import Ledger, fold, new_row
from tests.ledger.factory import PROJECT, claim, decision, offer, reversal

NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def _story() -> list[dict[str, Any]]:
    """An offer, claims of several lines (some tagged), a reversal and an LMC decision: a state
    holding members of every enum a state holds."""
    events = [offer()]
    for number in range(1, 10):
        extra: dict[str, Any] = {}
        if number % 3 == 0:
            extra = {"category": "travel_subsistence", "tags": ["conference"]}
        events.append(claim(f"c{number}", f"{number}.00", **extra))
    events.append(reversal("r4", "c4", "1.00", date="2025-01-20"))
    events.append(decision("d1", kind="extension", months=3))
    return events


def _folded(events: list[dict[str, Any]]) -> ProjectState:
    state = ProjectState(project=PROJECT, track_keys=False)
    for version, item in enumerate(events, start=1):
        state.apply(parse_event(item), version, f"h{version}")
    return state


def test_a_snapshot_makes_enum_members_by_value_without_calling_their_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading a snapshot back makes each enum member by a lookup of its value, not by calling the
    class (`EnumType.__call__`, Python code: a new process's first append paid it for each)."""
    state = _folded(_story())
    data = dump_state(state)

    def called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an enum class was called to make a member")

    with monkeypatch.context() as patched:
        patched.setattr(enum.EnumType, "__call__", called)
        loaded = read_claims(load_state(data))
    assert same_state(loaded, state)
    assert next(iter(loaded.spent)) is Category(next(iter(state.spent)).value)  # the member itself
    assert any(Tag.CONFERENCE in item.tags for item in loaded.claims.values())


def test_a_snapshot_finds_each_name_it_holds_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    data = dump_state(_folded(_story()))
    read_claims(load_state(data))  # every name it holds, its claims' too, found once
    looked_up: list[tuple[str, str]] = []
    allowed = snapshot._DomainUnpickler._allowed

    def spy(self: Any, module: str, name: str) -> Any:
        looked_up.append((module, name))
        return allowed(self, module, name)

    monkeypatch.setattr(snapshot._DomainUnpickler, "_allowed", spy)
    read_claims(load_state(data))
    assert looked_up == []


def test_a_loaded_state_holds_no_stand_in_for_a_class() -> None:
    """An enum class is read as a lookup of its members (`snapshot._members_of`): right only while a
    state holds enum members and never an enum class itself. A state read back with its claims
    pickles again with plain pickle (a stand-in, a local function, would not) and to the same."""
    state = _folded(_story())
    loaded = read_claims(load_state(dump_state(state)))
    caches = {*snapshot._RECOMPUTED, "_end"}  # worked out on use (the rule set holds functions)
    for name, value in vars(loaded).items():
        if name not in caches:
            assert pickle.loads(pickle.dumps(value)) == vars(state)[name], name


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    return sqlite_database


def test_a_new_process_reads_one_projects_head_with_its_snapshot(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new process's append onto one project reads its head with its snapshot and the events
    after it (`cold_start`), not in a statement of its own first; a state it holds warm still has
    its head read (the cache is checked against the ledger)."""
    monkeypatch.setattr(ledger_deciding, "SNAPSHOT_EVERY", 5)
    monkeypatch.setattr("ktpledger.service.ledger.SNAPSHOT_EVERY", 5)
    writer = Ledger(database)
    writer.append(_story()[:8])  # a snapshot at 8
    writer.append([claim("c20", "2.00")])
    writer.close()
    heads: list[set[str]] = []
    original = ledger_recorder._SqlSession.heads

    def spy(self: Any, projects: Any) -> dict[str, int]:
        asked = set(projects)
        heads.append(asked)
        return original(self, asked)

    monkeypatch.setattr(ledger_recorder._SqlSession, "heads", spy)
    fresh = Ledger(database)
    try:
        [first] = fresh.append([claim("c21", "3.00")])
        assert (first.status, first.version) == ("recorded", 10)
        assert heads == []
        [again] = fresh.append([claim("c21", "3.00")])
        assert (again.status, again.version) == ("duplicate", 10)
        assert heads == [{PROJECT}]  # warm now: checked against the head
        new = fresh.append([offer(project="KTP-NEW")])[0]
        assert (new.status, new.version) == ("recorded", 1)  # no events: a new state
        state = fresh.states.get(PROJECT)
        assert state is not None
        whole = fold(PROJECT, fresh.stream(PROJECT), ProjectState(project=PROJECT, track_keys=False))
        assert same_state(state, whole)
    finally:
        fresh.close()


def test_a_recorded_event_is_read_back_as_the_event_its_fields_make() -> None:
    """`RecordedEvent.event` makes its `Event` without the dataclass's `__init__` (issue 18): it
    holds every field that `__init__` sets, and equals the event parsed from the submission."""
    submitted = claim("c1", "1.00", category="travel_subsistence", tags=["conference"])
    event = parse_event(submitted)
    row = new_row(event, ProjectState(project=PROJECT, track_keys=False), NOW, format_instant(NOW))
    read = RecordedEvent(position=1, **row).event()
    assert set(vars(read)) == {field.name for field in dataclasses.fields(Event)}
    assert read == event and hash(read) == hash(event)


def test_a_claims_source_never_holds_the_claims_bytes_read_with_its_snapshot() -> None:
    """`claims_source` keeps its snapshot for a later fold (`ClaimsSource.later`): without the
    claims' bytes of a full snapshot read with them (they would live as long as the state), and a
    snapshot read without them as it is (a cold start's: `replace` cost it some 10 us)."""
    state = _folded(_story())
    full = snapshot.snapshot_of(state)
    assert full.claims, "the story's snapshot holds claims"
    totals = snapshot.totals_snapshot_of(state)

    def kept_by(source: snapshot.ClaimsSource) -> list[snapshot.StoredSnapshot]:
        assert source.later is not None
        cells = source.later.__closure__ or ()
        return [
            cell.cell_contents for cell in cells if isinstance(cell.cell_contents, snapshot.StoredSnapshot)
        ]

    class Unread:
        """A recorder nothing is read from: the source is only made here."""

        def snapshot_claims(self, *args: Any) -> bytes | None:
            raise AssertionError("read")

    recorder: Any = Unread()
    held = kept_by(ledger_deciding.claims_source(recorder, full))
    assert [item.claims for item in held] == [b""]
    assert held[0].state == full.state and held[0].version == full.version
    assert kept_by(ledger_deciding.claims_source(recorder, totals)) == [totals]

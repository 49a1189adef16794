"""`new_row` and `decide`: who recorded a batch is written once, the rows as before."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ktpledger.adapters.database import Database, build_engine
from ktpledger.domain.chain import format_instant
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedBy
from ktpledger.service import ledger_deciding
from ktpledger.service.ledger import Ledger, new_row
from ktpledger.service.ledger_deciding import AppendResult
from tests.ledger.factory import PROJECT, claim, offer
from tests.ledger.fake_recorder import FakeRecorder

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BY = RecordedBy("Ada", "finance", "cli")
_CANONICAL = RecordedBy.canonical  # the real one, whatever a test puts in its place


def canonical_texts_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each `RecordedBy` whose canonical text is made from here on, in order."""
    written: list[str] = []

    def counted(self: RecordedBy) -> str:
        written.append(self.name)
        return _CANONICAL(self)

    monkeypatch.setattr(RecordedBy, "canonical", counted)
    return written


def test_a_row_of_recorded_by_or_of_its_text_is_the_same() -> None:
    state = ProjectState(project=PROJECT, track_keys=False)
    event = parse_event(offer())
    given = new_row(event, state, NOW, format_instant(NOW), BY)
    assert given == new_row(event, state, NOW, format_instant(NOW), BY.canonical())
    assert given["recorded_by"] == BY.canonical()
    assert new_row(event, state, NOW, format_instant(NOW))["recorded_by"] is None


def test_single_rows_write_each_recorded_by_once_and_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_deciding, "_CANONICAL_BY", {})
    monkeypatch.setattr(ledger_deciding, "_CANONICAL_BY_KEPT", 2)
    written = canonical_texts_made(monkeypatch)
    canonical = _CANONICAL
    state = ProjectState(project=PROJECT, track_keys=False)
    event = parse_event(offer())
    other = RecordedBy("Bea", None, "api")
    made = [new_row(event, state, NOW, format_instant(NOW), by)["recorded_by"] for by in (BY, BY, other)]
    same = RecordedBy("Ada", "finance", "cli")  # another object of the same value: its text kept
    made.append(new_row(event, state, NOW, format_instant(NOW), same)["recorded_by"])
    assert made == [canonical(BY), canonical(BY), canonical(other), canonical(BY)]
    assert written == ["Ada", "Bea"]
    third = RecordedBy("Cy", "auditor", "dashboard")  # past the bound: the texts kept start again
    assert new_row(event, state, NOW, format_instant(NOW), third)["recorded_by"] == canonical(third)
    assert new_row(event, state, NOW, format_instant(NOW), BY)["recorded_by"] == canonical(BY)
    assert written == ["Ada", "Bea", "Cy", "Ada"]


def test_a_batch_writes_who_recorded_it_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    unused = Database(build_engine(f"sqlite:///{tmp_path}/never-opened.db"))  # the fake records
    ledger = Ledger(unused, recorder=FakeRecorder())
    written = canonical_texts_made(monkeypatch)
    canonical = _CANONICAL
    results = ledger.append([offer(), claim("c1"), claim("c2")], recorded_by=BY)
    assert [result.status for result in results] == ["recorded"] * 3
    assert written == ["Ada"]
    assert {item.recorded_by for item in ledger.stream(PROJECT)} == {canonical(BY)}
    assert ledger.verify() == (3, None)


def test_a_recorded_result_is_the_dataclass_s_own() -> None:
    """Made without the dataclass's `__init__`, it is equal to and reads as the one made with it,
    every field set (a field added to `AppendResult` must be set there too)."""
    made = ledger_deciding.recorded_result(3, "k", PROJECT, 7)
    expected = AppendResult(3, "k", "recorded", PROJECT, version=7)
    assert made == expected
    assert repr(made) == repr(expected)
    assert type(made) is AppendResult
    assert {field.name for field in fields(AppendResult)} == set(vars(made))
    assert made.to_json() == expected.to_json()
    with pytest.raises(FrozenInstanceError):
        made.version = 8  # type: ignore[misc]

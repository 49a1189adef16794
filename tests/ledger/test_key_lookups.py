"""When a batch looks its keys up in the ledger before deciding (issue 18): after the unique index
refused one, until a batch finds none recorded; otherwise (a new ledger too) its keys are taken as new."""

from __future__ import annotations

from typing import Any

import pytest

from ktpledger.service.ledger import Ledger
from tests.ledger.factory import PROJECT, claim, offer
from tests.ledger.fake_recorder import FakeRecorder, _FakeSession


def test_keys_are_looked_up_until_a_batch_finds_none_and_again_after_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = FakeRecorder()
    looked_up: list[int] = []
    looking = _FakeSession.recorded_keys

    def counted(self: Any, pairs: Any) -> Any:
        found = looking(self, list(pairs))
        looked_up.append(len(found))
        return found

    monkeypatch.setattr(_FakeSession, "recorded_keys", counted)
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]

    def appended(events: list[dict[str, Any]]) -> list[str]:
        looked_up.clear()
        return [result.status for result in ledger.append(events)]

    assert appended([offer(), claim("c1")]) == ["recorded", "recorded"]
    assert looked_up == []  # a new ledger takes keys as new
    commits = recorder.commits
    assert appended([claim("c2"), claim("c3")]) == ["recorded", "recorded"]
    assert looked_up == [] and recorder.commits == commits + 1
    # c2 is held: refused by the unique index, the batch decided again, looking up.
    assert appended([claim("c4"), claim("c2"), claim("c5")]) == ["recorded", "duplicate", "recorded"]
    assert looked_up == [1] and recorder.commits == commits + 2
    assert [row.key for row in recorder.rows] == ["offer", "c1", "c2", "c3", "c4", "c5"]
    assert [row.version for row in recorder.rows] == [1, 2, 3, 4, 5, 6]
    assert appended([claim("c6"), claim("c7")]) == ["recorded", "recorded"]
    assert looked_up == [0]  # the last lookup found one held: looked up again, none now
    assert appended([claim("c8"), claim("c9")]) == ["recorded", "recorded"]
    assert looked_up == []


def test_an_event_the_rules_refuse_has_its_key_looked_up_a_resubmission_being_a_duplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With keys taken as new, an event the rules refuse is not inserted, so the unique index
    cannot find it resubmitted: its key is looked up after all. Recorded, the batch is decided
    again (the offer sent again is a duplicate, not a second offer, R-31); not recorded, the
    refusal stands and the batch is committed once."""
    recorder = FakeRecorder()
    asked: list[list[tuple[str, str]]] = []
    looking = _FakeSession.recorded_keys

    def counted(self: Any, pairs: Any) -> Any:
        asked.append(sorted(pairs))
        return looking(self, asked[-1])

    monkeypatch.setattr(_FakeSession, "recorded_keys", counted)
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    ledger.append([offer(), claim("c1")])
    commits = recorder.commits
    results = ledger.append([claim("c2"), offer()])
    assert [(result.status, result.version) for result in results] == [("recorded", 3), ("duplicate", 1)]
    assert recorder.commits == commits + 1
    # The refused offer's key alone, then the whole batch's, decided again.
    assert asked == [[(PROJECT, "offer")], [(PROJECT, "c2"), (PROJECT, "offer")]]
    asked.clear()
    # The batch after found a key recorded: keys are looked up first, then not once none are.
    ledger.append([claim("c3")])
    ledger.append([claim("c4")])
    refused = ledger.append([claim("c5"), offer(key="offer-2")])
    assert [result.status for result in refused] == ["recorded", "rejected"]
    assert refused[1].error is not None and refused[1].error.rule == "R-31"
    assert asked == [[(PROJECT, "c3")], [(PROJECT, "offer-2")]]
    assert [row.key for row in recorder.rows] == ["offer", "c1", "c2", "c3", "c4", "c5"]

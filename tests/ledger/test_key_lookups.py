"""When a batch looks its keys up in the ledger before deciding (issue 18): after the unique index
refused one, until a batch finds none recorded; otherwise (a new ledger too) its keys are taken as new."""

from __future__ import annotations

from typing import Any

import pytest

from ktpledger.service.ledger import Ledger
from tests.ledger.factory import claim, offer
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

"""Snapshots (issue 18, item 1): a project's folded state written every `SNAPSHOT_EVERY` events with
the append, loaded by a new process instead of folding the whole stream, trusted only as far as it
matches the ledger; and idempotency asked of the ledger, not of keys held in memory."""

from __future__ import annotations

import dataclasses
import os
import pickle
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ktpledger.adapters import snapshot_store
from ktpledger.adapters.tables import state_snapshots
from ktpledger.bootstrap import App, bootstrap
from ktpledger.domain.allowances import exclusions
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import STATE_BYTES_PER_ITEM, STATE_BYTES_PER_MONTH, ProjectState
from ktpledger.domain.snapshot import (
    SNAPSHOT_FORMAT_NOW,
    ClaimsSource,
    DeferredClaims,
    SnapshotUnreadable,
    StoredSnapshot,
    _pickled,
    dump_state,
    load_snapshot,
    load_state,
    same_state,
    snapshot_of,
    totals_snapshot_of,
)
from ktpledger.service import catch_up, ledger_deciding, projection_fold
from ktpledger.service.ledger import Ledger, fold
from ktpledger.service.projection_check import check_projections
from ktpledger.settings import Settings
from tests.domain.test_linear_fold import accepted_events, assert_same_exclusions, streams
from tests.ledger.factory import PROJECT, claim, offer, reversal
from tests.ledger.fake_recorder import FakeRecorder, _FakeSession

EVERY = 5


@pytest.fixture(autouse=True)
def small_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_deciding, "SNAPSHOT_EVERY", EVERY)
    monkeypatch.setattr("ktpledger.service.ledger.SNAPSHOT_EVERY", EVERY)


def story(claims: int) -> list[dict[str, Any]]:
    """An offer and `claims` claims (the fourth of them reversed in part, when there are four)."""
    events = [offer()]
    for number in range(1, claims + 1):
        events.append(claim(f"c{number}", f"{number}.00", **_tagged(number)))
    if claims >= 4:
        events.append(reversal("r4", "c4", "1.00", date="2025-01-20"))
    return events


def _tagged(number: int) -> dict[str, Any]:
    """Every third claim a conference's travel (a sub-limit the state counts, R-14)."""
    if number % 3:
        return {}
    return {"category": "travel_subsistence", "tags": ["conference"]}


def folded(events: list[dict[str, Any]]) -> ProjectState:
    state = ProjectState(project=PROJECT, track_keys=False)
    for version, item in enumerate(events, start=1):
        state.apply(parse_event(item), version, f"h{version}")
    return state


# --- the domain: bytes and back ---------------------------------------------------------------


def test_a_snapshot_loads_as_the_same_state_and_folds_on_alike() -> None:
    events = story(11)
    half = folded(events[:6])
    loaded = load_state(dump_state(half))
    assert same_state(loaded, half)
    assert loaded.rules is half.rules  # the rule set is found again, not carried
    for version, item in enumerate(events[6:], start=7):
        loaded.apply(parse_event(item), version, f"h{version}")
    whole = folded(events)
    assert same_state(loaded, whole)
    assert loaded.spent == whole.spent and loaded.clock == whole.clock


def test_same_state_tells_a_different_fold() -> None:
    assert not same_state(folded(story(4)), folded(story(5)))


def test_a_state_s_decimals_and_dates_are_pickled_as_pickle_itself_pickles_them() -> None:
    """`_pickled` reduces Decimals and dates its own, faster way: the bytes must be pickle's own, so
    that snapshots written before and after read alike (a datetime, a subclass, goes pickle's way)."""
    values = [Decimal("12.34"), Decimal("-0.5"), date(2025, 1, 31), datetime(2025, 1, 31, 9, 30, tzinfo=UTC)]
    assert _pickled(values) == pickle.dumps(values, protocol=5)
    state = folded(story(5))
    assert pickle.loads(totals_snapshot_of(state).state)["spent"] == state.spent


class _Calls:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo snapshot ran a command",))


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps(_Calls()),  # names a function: never called
        pickle.dumps({"project": PROJECT}),  # not the state's shape
        b"not a pickle",
        b"",
    ],
    ids=["a function", "another shape", "garbage", "empty"],
)
def test_bytes_that_are_not_a_snapshot_are_refused_without_running_anything(data: bytes) -> None:
    with pytest.raises(SnapshotUnreadable):
        load_state(data)


def test_a_state_that_keeps_keys_is_not_snapshotted() -> None:
    state = ProjectState(project=PROJECT)
    state.apply(parse_event(offer()), 1, "h1")
    with pytest.raises(ValueError, match="no event keys"):
        dump_state(state)


def _deferred(state: ProjectState) -> bool:
    return isinstance(vars(state)["claims"], DeferredClaims)


def test_a_loaded_state_takes_claims_without_reading_its_own_and_then_reads_them_whole() -> None:
    events = story(12)  # c4 reversed in part; every third claim tagged (a conference)
    loaded = load_state(dump_state(folded(events)))
    assert _deferred(loaded)
    assert len(loaded.claims) == 12  # counted without reading them
    later = [
        claim("c13", "13.00"),
        claim("c14", "14.00", category="travel_subsistence", tags=["conference"]),
        claim("c15", "15.00"),
    ]
    for version, item in enumerate(later, start=len(events) + 1):
        loaded.apply(parse_event(item), version, f"h{version}")
    assert _deferred(loaded)  # an untagged claim and a tagged one: neither read the claims
    assert len(loaded.claims) == 15
    # A cache weighs it by the three claims it holds, not the snapshot's twelve (and its two
    # lines' spend in January 2025).
    light = ProjectState(PROJECT).approximate_bytes() + 2 * STATE_BYTES_PER_MONTH
    assert loaded.approximate_bytes() == light + 3 * STATE_BYTES_PER_ITEM
    whole = folded(events + later)
    # Reading reads them all, in version order, the later ones after the snapshot's; the tagged
    # one held back is counted under the conference guide after the snapshot's conferences.
    assert list(loaded.claims) == list(whole.claims) == [f"c{n}" for n in range(1, 16)]
    assert not _deferred(loaded)
    assert list(loaded.counted) == list(whole.counted)
    for tally in whole.counted:
        assert list(loaded.counted[tally].keys()) == list(whole.counted[tally].keys())
        assert loaded.counted[tally].total == whole.counted[tally].total
    assert same_state(loaded, whole)


def test_a_reversal_of_a_claim_in_the_snapshot_reads_the_claims_first() -> None:
    events = story(6)
    loaded = load_state(dump_state(folded(events)))
    undo = parse_event(reversal("r3", "c3", None, date="2025-01-25"))  # a conference claim, in full
    loaded.check(undo)
    assert not _deferred(loaded)  # the check found the claim
    loaded.apply(undo, len(events) + 1, f"h{len(events) + 1}")
    whole = folded([*events, reversal("r3", "c3", None, date="2025-01-25")])
    assert same_state(loaded, whole)
    assert loaded.claims["c3"].outstanding == 0


def test_claims_that_are_damaged_refuse_the_snapshot() -> None:
    data = dump_state(folded(story(4)))
    held = pickle.loads(data)
    count, size, claims = held["deferred"]
    held["deferred"] = (count, size, claims[: size // 2])
    with pytest.raises(SnapshotUnreadable, match="damaged"):
        load_state(pickle.dumps(held))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=streams(), cuts=st.lists(st.integers(0, 40), min_size=1, max_size=3))
def test_a_state_loaded_at_any_point_folds_on_as_the_whole_stream_does(
    raws: list[dict[str, Any]], cuts: list[int]
) -> None:
    """Snapshot (dump and load) at random points of random streams, folding on from each loaded
    state: the figures equal the fold of the whole stream, and so do the exclusions read from it."""
    accepted, whole = accepted_events(raws, track_keys=False)
    state = ProjectState(project=PROJECT, track_keys=False)
    for version, parsed in enumerate(accepted, start=1):
        if version - 1 in cuts:
            state = load_state(dump_state(state))
        state.apply(parsed, version, f"h{version}")
    assert_same_exclusions(state)
    assert same_state(state, whole)
    assert list(state.claims) == list(whole.claims)
    for category in whole.categories():
        assert exclusions(state, category) == exclusions(whole, category)


# --- the append side, on the in-memory recorder -------------------------------------------------


def test_appends_write_a_snapshot_each_time_the_version_passes_a_multiple() -> None:
    recorder = FakeRecorder()
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    for item in story(11):  # 13 events, one append each
        assert [result.status for result in _append(ledger, [item])] == ["recorded"]
    assert sorted(recorder.snapshots) == [(PROJECT, 5), (PROJECT, 10)]
    at_ten = load_snapshot(recorder.snapshots[(PROJECT, 10)])
    assert same_state(
        at_ten, fold(PROJECT, recorder.stream(PROJECT)[:10], ProjectState(PROJECT, track_keys=False))
    )


def test_a_new_process_starts_from_the_newest_snapshot_and_decides_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = FakeRecorder()
    _append(Ledger(database=None, recorder=recorder), story(11))  # type: ignore[arg-type]
    # One batch of 13 into an empty ledger: due once, at its head (13 >= 5 events folded anew).
    assert sorted(recorder.snapshots) == [(PROJECT, 13)]
    read: list[list[int]] = []
    original = recorder.appending

    def spying() -> Any:
        context = original()
        session = context.__enter__()
        cold_start = session.cold_start

        def spy(project: str, of_format: str) -> Any:
            found = cold_start(project, of_format)
            read.append([found.snapshot.version, *(item.version for item in found.events)])
            return found

        session.cold_start = spy  # type: ignore[method-assign]
        return _Entered(context, session)

    monkeypatch.setattr(recorder, "appending", spying)
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    # c12 of 13.00 is recorded; c1 again is a duplicate (version 2); c2 with other content is refused.
    results = _append(fresh, [claim("c12", "13.00"), claim("c1", "1.00"), claim("c2", "9.99")])
    assert [(r.status, r.version) for r in results] == [
        ("recorded", 14),
        ("duplicate", 2),
        ("rejected", None),
    ]
    assert results[2].error is not None and results[2].error.rule == "R-30"
    # The snapshot, and the stream from its own row on, never the whole; read twice: the batch's
    # keys were taken as new, the unique index refused c1's, and the batch was decided again.
    assert read == [[13, 13], [13, 13]]


def test_a_new_process_reads_a_snapshots_claims_only_for_a_reversal_and_then_once() -> None:
    recorder = FakeRecorder()
    _append(Ledger(database=None, recorder=recorder), story(9))  # type: ignore[arg-type]
    assert sorted(recorder.snapshots) == [(PROJECT, 11)]  # the next is due at 15 (every 5 here)
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    assert _append(fresh, [claim("c10", "10.00")])[0].version == 12
    tagged = claim("c11", "11.00", category="travel_subsistence", tags=["conference"])
    assert _append(fresh, [tagged])[0].version == 13
    assert recorder.claims_read == []  # two claims, one tagged: the snapshot's claims never read
    # c4 (4.00) was reversed 1.00 before the snapshot: 3.00 is left, and more is refused.
    over = _append(fresh, [reversal("r4b", "c4", "3.01", date="2025-01-21")])[0]
    assert over.status == "rejected" and over.error is not None and over.error.rule == "R-34"
    assert "the 3.00 left of claim" in over.error.message
    assert recorder.claims_read == [(PROJECT, 11)]
    assert _append(fresh, [reversal("r4c", "c4", "3.00", date="2025-01-21")])[0].version == 14
    assert recorder.claims_read == [(PROJECT, 11)]  # read once, then held
    state = fresh._cache.get(PROJECT)
    assert state is not None
    assert same_state(state, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False)))


def test_a_state_kept_warm_after_its_snapshot_holds_only_the_claims_folded_in_since() -> None:
    recorder = FakeRecorder()
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    _append(ledger, story(9))  # one batch: its snapshot, at 11, read every claim in
    warm = ledger._cache.get(PROJECT)
    assert warm is not None and isinstance(vars(warm)["claims"], DeferredClaims)
    held = vars(warm)["claims"]
    assert held.held() == 0  # no claim in memory, and none weighed
    light = warm.approximate_bytes()
    assert _append(ledger, [claim("c10", "10.00")])[0].version == 12
    assert ledger._cache.get(PROJECT) is warm and len(warm.claims) == 10 and held.held() == 1
    assert warm.approximate_bytes() == light + STATE_BYTES_PER_ITEM  # c10's month had spend already
    assert recorder.claims_read == []
    # A reversal of a claim before the snapshot reads them back from the snapshot's row, once.
    assert _append(ledger, [reversal("r4b", "c4", "3.00", date="2025-01-21")])[0].version == 13
    assert recorder.claims_read == [(PROJECT, 11)]
    assert same_state(warm, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False)))


def test_a_state_snapshotted_with_an_append_is_out_of_the_cache_while_its_claims_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = FakeRecorder()
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    _append(ledger, story(3))  # version 4, its claims held
    cached = ledger._cache.get(PROJECT)
    held: list[ProjectState | None] = []

    def spying(state: ProjectState) -> Any:
        held.append(ledger._cache.get(PROJECT))  # read in here, kept to the batch's end if cached
        return snapshot_of(state)

    monkeypatch.setattr("ktpledger.service.ledger_deciding.snapshot_of", spying)
    assert _append(ledger, [claim("c4", "4.00")])[0].version == 5  # due at 5
    assert held == [None]
    after = ledger._cache.get(PROJECT)
    assert after is not None and after is not cached and vars(after)["claims"].held() == 0


@pytest.mark.parametrize("snapshotted", [False, True])
def test_a_state_cache_over_its_budget_keeps_states_without_their_claims_and_reads_them_back(
    snapshotted: bool,
) -> None:
    recorder = FakeRecorder()
    # A budget of about two states without claims: over it, the least recently used put theirs away.
    budget = 2 * (ProjectState(PROJECT).approximate_bytes() + 2 * STATE_BYTES_PER_MONTH)
    ledger = Ledger(database=None, recorder=recorder, state_bytes=budget)  # type: ignore[arg-type]
    other = "KTP-OTHER"
    events = story(9) if snapshotted else story(3)  # snapshotted at 11, or never (4 events)
    _append(ledger, events)
    _append(ledger, [{**item, "project": other} for item in events])
    warm = ledger._cache.get(PROJECT)
    assert warm is not None and isinstance(vars(warm)["claims"], DeferredClaims)  # kept, claims away
    assert vars(warm)["claims"].held() == 0
    assert _append(ledger, [claim("c10", "10.00")])[0].version == len(events) + 1
    assert recorder.claims_read == []  # a claim folded onto the state as kept: nothing read back
    # A reversal of the first claim reads every claim back, from the ledger as it stands.
    assert _append(ledger, [reversal("r1", "c1", "1.00", date="2025-01-21")])[0].version == len(events) + 2
    assert _append(ledger, [reversal("r1b", "c1", "0.01", date="2025-01-21")])[0].status == "rejected"
    for project in (PROJECT, other):
        state = ledger._cache.get(project)
        assert state is not None
        assert same_state(
            state, fold(project, recorder.stream(project), ProjectState(project, track_keys=False))
        )


@pytest.mark.parametrize("kept", ["gone", "damaged"])
def test_claims_no_longer_kept_are_folded_from_the_stream_to_the_snapshots_version(kept: str) -> None:
    recorder = FakeRecorder()
    _append(Ledger(database=None, recorder=recorder), story(11))  # type: ignore[arg-type]
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    assert _append(fresh, [claim("c12", "12.00")])[0].version == 14  # from the snapshot, claims unread
    assert recorder.claims_read == []
    snapshot = recorder.snapshots[(PROJECT, 13)]
    if kept == "gone":  # replaced by newer snapshots, as a long-lived process may find
        del recorder.snapshots[(PROJECT, 13)]
    else:
        recorder.snapshots[(PROJECT, 13)] = dataclasses.replace(snapshot, claims=b"x" * len(snapshot.claims))
    assert _append(fresh, [reversal("r4b", "c4", None, date="2025-01-21")])[0].version == 15
    state = fresh._cache.get(PROJECT)
    assert state is not None and state.claims["c4"].outstanding == 0
    assert list(state.claims) == [f"c{n}" for n in range(1, 13)]
    assert same_state(state, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False)))


def test_a_snapshot_that_does_not_match_the_ledger_is_passed_over() -> None:
    recorder = FakeRecorder()
    _append(Ledger(database=None, recorder=recorder), story(11))  # type: ignore[arg-type]
    forged = load_snapshot(recorder.snapshots[(PROJECT, 13)])
    forged.spent = {}  # as if nothing were spent ...
    forged.head_hash = "0" * 64  # ... on a chain that is not this ledger's
    recorder.snapshots[(PROJECT, 13)] = ledger_deciding.StoredSnapshot(
        PROJECT, 13, recorder.snapshots[(PROJECT, 13)].format, dump_state(forged)
    )
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    result = _append(fresh, [claim("c12", "13.00")])[0]
    assert (result.status, result.version) == ("recorded", 14)
    state = fresh._cache.get(PROJECT)
    assert state is not None and same_state(
        state, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False))
    )


def test_a_snapshot_of_another_format_is_ignored() -> None:
    recorder = FakeRecorder()
    _append(Ledger(database=None, recorder=recorder), story(11))  # type: ignore[arg-type]
    old = recorder.snapshots[(PROJECT, 13)]
    recorder.snapshots[(PROJECT, 13)] = ledger_deciding.StoredSnapshot(PROJECT, 13, "0:old", b"garbage")
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    assert _append(fresh, [claim("c12", "13.00")])[0].version == 14
    assert old.format != "0:old"


@pytest.mark.parametrize("snapshot", ["kept", "forged", "of another format", "none"])
def test_a_new_process_warmed_up_for_one_event_starts_from_the_snapshot_the_ledger_matches(
    snapshot: str,
) -> None:
    """The one-round-trip path's warm-up (`cold_state`, one `cold_start` read): from the newest
    snapshot and the events after it when its row's hash matches, else from the whole stream."""
    recorder = FakeRecorder(appends_one_directly=True)
    _append(Ledger(database=None, recorder=recorder), story(11))  # type: ignore[arg-type]
    kept = recorder.snapshots[(PROJECT, 13)]  # at the head: one batch
    if snapshot == "forged":
        forged = load_snapshot(kept)
        forged.spent, forged.head_hash = {}, "0" * 64
        recorder.snapshots[(PROJECT, 13)] = dataclasses.replace(kept, state=dump_state(forged), claims=b"")
    elif snapshot == "of another format":
        recorder.snapshots[(PROJECT, 13)] = dataclasses.replace(kept, format="0:old")
    elif snapshot == "none":
        recorder.snapshots.clear()
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    readings = recorder.readings
    result = _append(fresh, [claim("c12", "12.00")])[0]
    assert (result.status, result.version) == ("recorded", 14)
    assert (recorder.readings - readings, recorder.sessions) == (1, 1)  # no append transaction
    state = fresh._cache.get(PROJECT)
    assert state is not None
    from_snapshot = isinstance(vars(state)["claims"], DeferredClaims)
    assert from_snapshot is (snapshot == "kept")
    assert same_state(state, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False)))


def test_a_new_process_leaves_a_stream_it_cannot_fold_to_the_general_path_to_refuse() -> None:
    recorder = FakeRecorder(appends_one_directly=True)
    _append(Ledger(database=None, recorder=recorder), story(2))  # type: ignore[arg-type]
    recorder.rows[-1] = dataclasses.replace(recorder.rows[-1], data="not json")
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    result = _append(fresh, [claim("c3", "3.00")])[0]
    assert result.status == "rejected" and result.error is not None and result.error.rule == "R-30"
    assert "event 3 of project" in result.error.message and recorder.sessions == 2  # the general path's


def totals_every(monkeypatch: pytest.MonkeyPatch, full: int = 6, totals: int = 2) -> None:
    """Full snapshots every `full` versions, totals snapshots every `totals` between them."""
    monkeypatch.setattr(ledger_deciding, "SNAPSHOT_EVERY", full)
    monkeypatch.setattr("ktpledger.service.ledger.SNAPSHOT_EVERY", full)
    monkeypatch.setattr(ledger_deciding, "TOTALS_EVERY", totals)
    monkeypatch.setattr("ktpledger.service.ledger.TOTALS_EVERY", totals)


def test_totals_snapshots_between_full_ones_start_a_new_process_and_read_claims_from_the_full_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    totals_every(monkeypatch)
    recorder = FakeRecorder(appends_one_directly=True)
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    # 15 events one at a time, c4 reversed in part at 14; a single append sends the totals of the
    # state it was made on (14's with the append of 15)
    for item in [*story(12), claim("c13", "13.00")]:
        assert [result.status for result in _append(ledger, [item])] == ["recorded"]
    assert sorted(version for _, version in recorder.snapshots) == [2, 4, 6, 8, 10, 12, 14]
    full = sorted(version for (_, version), kept in recorder.snapshots.items() if kept.claims)
    assert full == [6, 12]  # the others keep no claims
    streams_read: list[int] = []
    original = recorder.stream

    def spy(project: str, *, after_version: int = 0) -> Any:
        streams_read.append(after_version)
        return original(project, after_version=after_version)

    monkeypatch.setattr(recorder, "stream", spy)
    recorder.claims_read.clear()  # the writer's own, at 12 (read from the full snapshot at 6)
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    assert _append(fresh, [claim("c14", "14.00")])[0].version == 16
    # From the totals at 14 and its own row on (the fake's cold start reads its stream): no claims.
    assert recorder.claims_read == [] and streams_read == [13]
    # c4 (4.00) was reversed 1.00 at version 14, after the full snapshot at 12: 3.00 is left.
    over = _append(fresh, [reversal("r4b", "c4", "3.01", date="2025-01-21")])[0]
    assert over.status == "rejected" and over.error is not None and over.error.rule == "R-34"
    assert "the 3.00 left of claim" in over.error.message
    assert streams_read == [13, 11]  # then the full snapshot's row on, not the whole stream
    state = fresh._cache.get(PROJECT)
    assert state is not None
    assert same_state(state, fold(PROJECT, recorder.stream(PROJECT), ProjectState(PROJECT, track_keys=False)))


def test_a_single_append_does_not_send_again_the_totals_snapshot_a_batch_just_wrote(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    totals_every(monkeypatch, full=40, totals=4)
    recorder = FakeRecorder(appends_one_directly=True)
    sent: list[int | None] = []
    append_one = recorder.append_one

    def spy(row: dict[str, Any], totals: Any = None) -> bool:
        sent.append(None if totals is None else totals.version)
        return append_one(row, totals)

    monkeypatch.setattr(recorder, "append_one", spy)
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    batch = [offer(), *(claim(f"c{number}", "1.00") for number in range(1, 8))]
    assert {result.status for result in _append(ledger, batch)} == {"recorded"}  # to 8 in one batch
    assert sorted(version for _, version in recorder.snapshots) == [8]  # the batch's, at its end
    written = recorder.snapshots[(PROJECT, 8)]
    singles = [claim(f"s{number}", "1.00") for number in range(1, 6)]
    for item in singles:  # versions 9 to 13, each made on the state before it
        assert [result.status for result in _append(ledger, [item])] == ["recorded"]
    # The state at 8 was the batch's, its snapshot written with it: not sent again (the same
    # object kept). The state at 12 was made by single appends: its totals go with the next.
    assert sent == [None, None, None, None, 12]
    assert recorder.snapshots[(PROJECT, 8)] is written
    # A batch that takes it to the next multiple (13 -> 16) wrote that one: not sent again either.
    more = [claim(f"b{number}", "1.00") for number in range(1, 4)]
    assert [result.version for result in _append(ledger, more)] == [14, 15, 16]
    assert sorted(version for _, version in recorder.snapshots) == [8, 12, 16]
    assert _append(ledger, [claim("s6", "1.00")])[0].version == 17
    assert sent[-1] is None and len(sent) == 6


def test_the_snapshots_a_ledger_notes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    totals_every(monkeypatch, full=40, totals=2)
    monkeypatch.setattr("ktpledger.service.ledger._SNAPSHOTTED_KEPT", 2)
    ledger = Ledger(database=None, recorder=FakeRecorder(appends_one_directly=True))  # type: ignore[arg-type]
    projects = ["KTP-0001", "KTP-0002", "KTP-0003"]
    batch = [offer(project=name) for name in projects] + [
        claim("c1", "1.00", project=name) for name in projects
    ]
    assert {result.status for result in _append(ledger, batch)} == {"recorded"}  # each to version 2
    noted = ledger._snapshotted  # two noted, then started again with the third (in the set's order)
    assert len(noted) == 1 and set(noted.values()) == {2} and set(noted) < set(projects)


def test_a_totals_snapshot_loads_only_with_somewhere_to_read_its_claims() -> None:
    state = folded(story(4))
    kept = totals_snapshot_of(state)
    assert kept.claims == b""
    with pytest.raises(SnapshotUnreadable):
        load_snapshot(kept)  # its claims are nowhere: passed over (the stream decides)
    source = ClaimsSource(stored=lambda: b"", folded=lambda: folded(story(4)))
    assert same_state(load_snapshot(kept, source), state)


class _Entered:
    def __init__(self, context: Any, session: Any) -> None:
        self._context, self._session = context, session

    def __enter__(self) -> Any:
        return self._session

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)


def _append(ledger: Ledger, events: list[dict[str, Any]]) -> list[Any]:
    return ledger.append(events)


# --- both databases ---------------------------------------------------------------------------


def appended_elsewhere(app: App, events: list[dict[str, Any]]) -> list[Any]:
    """`events` appended by a process of its own (a new `App` on `app`'s database), whose cached
    state must then be the project's stream folded: its results."""
    other = bootstrap(Settings(database_url=str(app.database.engine.url.render_as_string(False))))
    try:
        results = other.ledger.append(events)
        state = other.ledger._cache.get(PROJECT)
        assert state is not None
        assert same_state(
            state, fold(PROJECT, other.ledger.stream(PROJECT), ProjectState(PROJECT, track_keys=False))
        )
        return results
    finally:
        other.close()


def stored(app: App) -> list[tuple[str, int]]:
    with app.database.read() as connection:
        rows = connection.execute(select(state_snapshots.c.project, state_snapshots.c.version)).all()
    return sorted((project, int(version)) for project, version in rows)


def test_snapshots_are_kept_on_both_databases_two_a_project(app: App) -> None:
    for item in story(16):  # 18 events, one at a time: snapshots due at 5, 10 and 15
        assert app.ledger.append([item])[0].status == "recorded"
    assert stored(app) == [(PROJECT, 10), (PROJECT, 15)]  # the newest two
    # A process of its own: loads version 15, checks its row's hash, folds 16..18, appends 19.
    results = appended_elsewhere(app, [claim("c17", "17.00"), claim("c3", "3.00", **_tagged(3))])
    assert [(r.status, r.version) for r in results] == [("recorded", 19), ("duplicate", 4)]


def test_a_tampered_snapshot_row_is_passed_over_on_both_databases(app: App) -> None:
    for item in story(16):
        app.ledger.append([item])
    with app.database.write() as connection:
        connection.execute(update(state_snapshots).values(state=pickle.dumps(_Calls())))
        connection.commit()
    other = bootstrap(Settings(database_url=str(app.database.engine.url.render_as_string(False))))
    try:
        assert other.ledger.append([claim("c17", "17.00")])[0].version == 19
    finally:
        other.close()


def snapshot_drifts(app: App) -> list[str]:
    return [d.message for d in check_projections(app.database).drifts if d.table == "state_snapshots"]


def test_verify_projections_names_a_snapshot_whose_figures_are_not_the_ledgers(app: App) -> None:
    for item in story(16):
        app.ledger.append([item])
    assert check_projections(app.database).ok
    with app.database.read() as connection:
        data, claims = connection.execute(
            select(state_snapshots.c.state, state_snapshots.c.claims).where(state_snapshots.c.version == 15)
        ).one()
    wrong = load_state(data, claims)
    wrong.grant_paid += 1  # the right chain, a figure that is not the ledger's
    kept = snapshot_of(wrong)
    with app.database.write() as connection:
        connection.execute(
            update(state_snapshots)
            .where(state_snapshots.c.version == 15)
            .values(state=kept.state, claims=kept.claims)
        )
        connection.commit()
    assert snapshot_drifts(app) == [
        (
            f'state_snapshots, project {PROJECT}, version 15: state is "a state with other figures" stored, '
            '"the fold of versions 1 to 15" recomputed from the ledger'
        )
    ]


def test_totals_snapshots_are_kept_beside_the_two_newest_full_ones_and_checked_on_both_databases(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    totals_every(monkeypatch)
    # 21 events one at a time: full at 6, 12, 18; totals between them
    for item in [*story(18), claim("c19", "19.00")]:
        assert app.ledger.append([item])[0].status == "recorded"
    # The two newest full ones (12, 18) and the newest two of any kind (18, 20); on PostgreSQL, 20 was
    # written with the single append of 21, in the same round trip (`append_one`), which deletes
    # nothing: 16 is left to the next full snapshot's `save`.
    kept = [(PROJECT, 12), (PROJECT, 18), (PROJECT, 20)]
    assert stored(app) == (kept if app.database.dialect == "sqlite" else sorted([*kept, (PROJECT, 16)]))
    with app.database.read() as connection:
        newest = snapshot_store.newest(connection, {PROJECT: 20}, SNAPSHOT_FORMAT_NOW)
        assert newest[PROJECT].version == 18  # a catch-up reads claims: the newest full one
        assert check_projections(app.database).ok
        data = connection.execute(
            select(state_snapshots.c.state).where(state_snapshots.c.version == 20)
        ).scalar_one()
    # A process of its own: from the totals at 20; the reversal reads the claims from 18's.
    results = appended_elsewhere(
        app, [claim("c20", "20.00"), reversal("r4b", "c4", "3.00", date="2025-01-21")]
    )
    assert [(r.status, r.version) for r in results] == [("recorded", 22), ("recorded", 23)]
    wrong = load_state(data, ClaimsSource(stored=lambda: None, folded=lambda: folded(story(18))))
    wrong.grant_paid += 1  # the right chain, a figure that is not the ledger's
    with app.database.write() as connection:
        connection.execute(
            update(state_snapshots)
            .where(state_snapshots.c.version == 20)
            .values(state=totals_snapshot_of(wrong).state)
        )
        connection.commit()
    assert snapshot_drifts(app) == [
        (
            f'state_snapshots, project {PROJECT}, version 20: state is "a state with other figures" stored, '
            '"the fold of versions 1 to 20" recomputed from the ledger'
        )
    ]


def test_snapshots_of_many_projects_saved_at_once_are_kept_by_each_projects_rule_on_both_databases(
    app: App,
) -> None:
    """`snapshot_store.save` of several projects' snapshots in one call (a batch's totals
    snapshots) keeps, for each project, its newest two and its newest two full ones, as saving
    them one at a time did; a snapshot of a version already kept replaces it."""
    other = "KTP-OTHER"

    def saved(*snapshots: StoredSnapshot) -> None:
        with app.database.write() as connection:
            snapshot_store.save(connection, snapshots, datetime.now(UTC))
            connection.commit()

    saved(*(StoredSnapshot(PROJECT, version, "f", b"full", b"claims") for version in (1, 2, 3)))
    saved(StoredSnapshot(PROJECT, 4, "f", b"totals 4"))
    saved(
        StoredSnapshot(PROJECT, 5, "f", b"totals 5"),
        StoredSnapshot(PROJECT, 4, "f", b"totals 4 again"),
        StoredSnapshot(other, 1, "f", b"full", b"claims"),
        StoredSnapshot(other, 2, "f", b"totals 2"),
        StoredSnapshot(other, 3, "f", b"totals 3"),
    )
    # PROJECT: 5 and 4 the newest, 3 and 2 the newest full; other: 3 and 2, and 1 the only full one.
    assert stored(app) == sorted(
        [(PROJECT, 2), (PROJECT, 3), (PROJECT, 4), (PROJECT, 5), *((other, version) for version in (1, 2, 3))]
    )
    with app.database.read() as connection:
        assert (
            connection.execute(
                select(state_snapshots.c.state).where(
                    state_snapshots.c.project == PROJECT, state_snapshots.c.version == 4
                )
            ).scalar_one()
            == b"totals 4 again"
        )
    saved(StoredSnapshot(other, 4, "f", b"totals 4"))  # 1 is still its newest full one
    assert [version for project, version in stored(app) if project == other] == [1, 3, 4]


def test_a_batch_saves_the_totals_snapshots_of_every_project_it_took_past_a_multiple_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that takes many projects past a multiple of `TOTALS_EVERY` saves their totals
    snapshots in one call (a few statements, not three a project), and a full one on its own."""
    totals_every(monkeypatch, full=6, totals=2)
    recorder = FakeRecorder()
    calls: list[list[tuple[str, int, bool]]] = []
    session_type = _FakeSession
    saving = session_type.save_snapshots

    def counted(self: Any, snapshots: Any) -> None:
        calls.append(sorted((s.project, s.version, bool(s.claims)) for s in snapshots))
        saving(self, snapshots)

    monkeypatch.setattr(session_type, "save_snapshots", counted)
    ledger = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    names = ["KTP-A", "KTP-B", "KTP-C"]
    ledger.append([offer(project=name) for name in names])
    calls.clear()
    # A and B to version 3 (past 2), C to 6 (a full snapshot's multiple).
    batch = [claim(f"a{n}", "1.00", project="KTP-A") for n in (1, 2)]
    batch += [claim(f"b{n}", "1.00", project="KTP-B") for n in (1, 2)]
    batch += [claim(f"c{n}", "1.00", project="KTP-C") for n in range(1, 6)]
    assert {result.status for result in ledger.append(batch)} == {"recorded"}
    assert calls == [[("KTP-C", 6, True)], [("KTP-A", 3, False), ("KTP-B", 3, False)]]


def test_replay_writes_one_snapshot_a_long_project_and_a_cold_catch_up_starts_from_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_fold, "SNAPSHOT_EVERY", EVERY)
    app.ledger.append(story(16))  # 18 events in one append: due once, at 18
    app.ledger.append([offer(project="KTP-SHORT")])  # too short for a snapshot
    assert stored(app) == [(PROJECT, 18)]
    app.projector.replay()
    assert stored(app) == [(PROJECT, 18)]
    resumed_from: list[int] = []
    original = catch_up.resume_cold

    def spy(unit: Any, name: str, start: ProjectState | None, stream: Any) -> Any:
        live, rest, base = original(unit, name, start, stream)
        resumed_from.append(base)
        return live, rest, base

    monkeypatch.setattr(catch_up, "resume_cold", spy)
    other = bootstrap(Settings(database_url=str(app.database.engine.url.render_as_string(False))))
    try:
        assert other.ledger.append([claim("c17", "17.00")])[0].version == 19
        other.projector.catch_up(PROJECT)
        assert resumed_from == [18]  # the catch-up started from the snapshot, not version 1
        assert check_projections(other.database).ok
    finally:
        other.close()


def test_a_key_taken_by_a_row_this_code_cannot_read_is_refused_naming_it() -> None:
    recorder = FakeRecorder()
    first = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    for item in story(6):  # one at a time: a snapshot at version 5
        first.append([item])
    assert (PROJECT, 5) in recorder.snapshots
    # Version 2 (claim c1) as a later code might find it: behind the snapshot, never folded again.
    recorder.rows[1] = dataclasses.replace(recorder.rows[1], data='{"not": "a claim"}')
    fresh = Ledger(database=None, recorder=recorder)  # type: ignore[arg-type]
    result = fresh.append([claim("c1", "1.00")])[0]
    assert (result.status, result.error.rule if result.error else None) == ("rejected", "R-30")
    assert result.error is not None and "version 2" in result.error.message
    assert "cannot read" in result.error.message


def kept_snapshots(app: App) -> dict[int, StoredSnapshot]:
    with app.database.read() as connection:
        return {s.version: s for s in snapshot_store.every(connection) if s.project == PROJECT}


def test_a_catch_up_keeps_a_totals_snapshot_at_the_head_it_moved_and_a_new_process_starts_there(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a project is `HEAD_SNAPSHOT_EVERY` events past the head snapshot a worker kept of it, its
    catch-up keeps another at the head (a totals snapshot, the fold's own state), deleting the
    one before; an append's snapshot of the same version is left as it is (a full one keeps its
    claims); and a new process's first append reads nothing past it. On both databases."""
    monkeypatch.setattr(catch_up, "TOTALS_EVERY", 5)  # a project long enough for one
    monkeypatch.setattr(catch_up, "HEAD_SNAPSHOT_EVERY", 3)
    monkeypatch.setattr(ledger_deciding, "SNAPSHOT_EVERY", 1000)  # no append's snapshot in the way
    monkeypatch.setattr("ktpledger.service.ledger.SNAPSHOT_EVERY", 1000)
    app.ledger.append(story(6))  # versions 1-8
    app.projector.catch_up(PROJECT)
    assert {v: s.claims for v, s in kept_snapshots(app).items()} == {8: b""}
    head = kept_snapshots(app)[8]

    def whole() -> ProjectState:
        return fold(PROJECT, app.ledger.stream(PROJECT), ProjectState(PROJECT, track_keys=False))

    assert same_state(load_snapshot(head, ClaimsSource(stored=lambda: None, folded=whole)), whole())
    app.ledger.append([claim("c7", "7.00"), claim("c8", "8.00")])  # 10: 2 past, none kept
    app.projector.catch_up(PROJECT)
    assert sorted(kept_snapshots(app)) == [8]
    app.ledger.append([claim("c9", "9.00")])  # 11: 3 past, kept there and the one at 8 gone
    app.projector.catch_up(PROJECT)
    assert sorted(kept_snapshots(app)) == [11]
    other = bootstrap(Settings(database_url=str(app.database.engine.url.render_as_string(False))))
    try:
        start = other.ledger.recorder.cold_start(PROJECT, SNAPSHOT_FORMAT_NOW)
        assert start.snapshot is not None and start.snapshot.version == 11
        assert [event.version for event in start.events] == [11]  # the snapshot's own row alone
        assert other.ledger.append([claim("c10", "10.00")])[0].version == 12
        assert check_projections(other.database).ok  # `verify --projections` checks it too
    finally:
        other.close()
    # An append's full snapshot at the head a catch-up reaches is kept, claims and all.
    monkeypatch.setattr(ledger_deciding, "SNAPSHOT_EVERY", 15)
    monkeypatch.setattr("ktpledger.service.ledger.SNAPSHOT_EVERY", 15)
    app.ledger.append([claim(f"d{n}", "1.00") for n in range(3)])  # 13-15: a full snapshot at 15
    app.projector.catch_up(PROJECT)
    kept = kept_snapshots(app)
    assert kept[15].claims and 11 not in kept

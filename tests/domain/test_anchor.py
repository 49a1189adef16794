"""The ledger-wide chain and its comparison with a checkpoint, in the rule core (no database)."""

from __future__ import annotations

import hashlib
import json

import pytest

from ktpledger.domain.anchor import (
    FORMAT,
    GENESIS,
    ChainEntry,
    ChainPoint,
    Checkpoint,
    CheckpointError,
    Signature,
    advance,
    compare,
    findings,
    ledger_link,
    links,
    parse_checkpoint,
    ranges,
    signed_bytes,
)

A1 = ChainEntry(1, "KTP-A", 1, "a" * 64)
A2 = ChainEntry(2, "KTP-A", 2, "b" * 64)
B1 = ChainEntry(3, "KTP-B", 1, "c" * 64)
A3 = ChainEntry(5, "KTP-A", 3, "d" * 64)  # position 4 was never committed (a rolled-back append)
B2 = ChainEntry(6, "KTP-B", 2, "e" * 64)
LEDGER = [A1, A2, B1, A3, B2]


def documented_link(prev: str, entry: ChainEntry) -> str:
    """The link as README and the module's docstring define it, with nothing but json and sha256."""
    document = {
        "event": entry.hash,
        "position": entry.position,
        "prev": prev,
        "project": entry.project,
        "version": entry.version,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def anchor_of(entries: list[ChainEntry], position: int = 6) -> ChainPoint:
    return advance(GENESIS, entries, position)


def test_the_link_is_sha256_of_the_documented_canonical_json() -> None:
    odd = ChainEntry(7, 'KTP-Zürich "q"', 12, "f" * 64)
    assert ledger_link("", A1) == documented_link("", A1)
    assert ledger_link("0" * 64, odd) == documented_link("0" * 64, odd)
    head = ""
    for entry in LEDGER:
        head = documented_link(head, entry)
    assert anchor_of(LEDGER) == ChainPoint(6, 5, head)


def test_links_give_the_chain_at_each_event() -> None:
    points = [point for _, point in links(GENESIS, LEDGER)]
    assert [(p.position, p.events) for p in points] == [(1, 1), (2, 2), (3, 3), (5, 4), (6, 5)]
    # Extending from a point in the middle gives what extending from the start gives.
    assert advance(points[2], LEDGER[3:], 6) == anchor_of(LEDGER)
    assert advance(GENESIS, [], 0) == ChainPoint(0, 0, "")


def test_every_field_and_the_order_are_bound() -> None:
    head = anchor_of(LEDGER).head
    for changed in (
        ChainEntry(2, "KTP-A", 2, "9" * 64),  # rewritten (hash recomputed)
        ChainEntry(4, "KTP-A", 2, "b" * 64),  # position changed into the gap
        ChainEntry(2, "KTP-C", 2, "b" * 64),
        ChainEntry(2, "KTP-A", 7, "b" * 64),
    ):
        entries = sorted([changed if e == A2 else e for e in LEDGER], key=lambda e: e.position)
        assert anchor_of(entries).head != head, changed
    assert anchor_of([A1, B1, A3, B2]).head != head  # one deleted


def test_an_intact_ledger_matches_and_names_nothing() -> None:
    comparison = compare(anchor_of(LEDGER), LEDGER, LEDGER)
    assert comparison.matches and comparison.located
    assert comparison.differences == [] and findings(comparison) == []


def messages(rows: list[ChainEntry], recorded: list[ChainEntry] = LEDGER, **moved: int) -> list[str]:
    anchor = anchor_of(recorded)
    comparison = compare(anchor, rows, recorded)
    assert not comparison.matches and comparison.located
    moved_to = {(key.split(":")[0], int(key.split(":")[1])): position for key, position in moved.items()}
    return [finding.message for finding in findings(comparison, moved_to)]


def test_a_project_s_last_event_deleted() -> None:
    assert messages([A1, A2, B1, A3]) == [
        "the ledger parts from the checkpoint's chain at position 6",
        "project KTP-B: 1 event missing since the checkpoint: version 2 (position 6)",
        (
            "the ledger holds 4 events at or before position 6, the last at position 5; "
            "the checkpoint counted 5 (1 fewer)"
        ),
    ]


def test_a_whole_project_deleted() -> None:
    found = messages([A1, A2, A3])
    assert found[0] == "the ledger parts from the checkpoint's chain at position 3"
    assert "project KTP-B: 2 events missing since the checkpoint: versions 1-2 (positions 3, 6)" in found
    assert found[-1].endswith("the checkpoint counted 5 (2 fewer)")


def test_truncated() -> None:
    found = messages([])
    assert found[0] == "the ledger parts from the checkpoint's chain at position 1"
    assert "project KTP-A: 3 events missing since the checkpoint: versions 1-3 (positions 1-2, 5)" in found
    assert found[-1] == (
        "the ledger holds no event at or before position 6 (it was truncated); the checkpoint counted 5 (5 fewer)"
    )


def test_a_tail_rewritten_with_its_hashes_recomputed() -> None:
    forged = ChainEntry(5, "KTP-A", 3, "7" * 64)
    assert messages([A1, A2, B1, forged, B2]) == [
        "the ledger parts from the checkpoint's chain at position 5",
        (
            "position 5: project KTP-A version 3 was rewritten since the checkpoint "
            f"(its hash was {'d' * 16}..., is {'7' * 16}... now)"
        ),
    ]


def test_a_position_changed_within_and_beyond_the_checkpoint() -> None:
    moved = ChainEntry(4, "KTP-A", 3, "d" * 64)
    assert messages([A1, A2, B1, moved, B2]) == [
        "the ledger parts from the checkpoint's chain at position 4",
        (
            "project KTP-A version 3 was at position 5 at the checkpoint and is at position 4 now: its position "
            "was changed"
        ),
    ]
    # Moved past the checkpoint's position: the caller finds where it went.
    found = messages([A1, A2, B1, B2], **{"KTP-A:3": 99})
    assert (
        "project KTP-A version 3 was at position 5 at the checkpoint and is at position 99 now: its "
        "position was changed" in found
    )


def test_an_event_inserted_in_the_past() -> None:
    ghost = ChainEntry(4, "KTP-GHOST", 1, "6" * 64)
    assert messages([A1, A2, B1, ghost, A3, B2]) == [
        "the ledger parts from the checkpoint's chain at position 4",
        (
            "project KTP-GHOST: 1 event not in the ledger at the checkpoint: inserted in the past: version 1 "
            "(position 4)"
        ),
        (
            "the ledger holds 6 events at or before position 6, the last at position 6; the checkpoint counted 5 "
            "(1 more)"
        ),
    ]


def test_a_position_that_now_holds_another_event() -> None:
    other = ChainEntry(2, "KTP-B", 1, "c" * 64)
    found = messages([A1, other, A3, B2])
    assert (
        "position 2 held project KTP-A version 2 at the checkpoint and holds project KTP-B version 1 now"
        in found
    )


def test_a_record_that_does_not_reach_the_head_names_nothing_but_hides_nothing() -> None:
    anchor = anchor_of(LEDGER)
    tampered_record = [A1, A2, B1, A3]  # the owner deleted from the record too
    comparison = compare(anchor, [A1, A2, B1, A3], tampered_record)
    assert not comparison.matches and not comparison.located and comparison.parted_at is None
    kinds = [finding.kind for finding in findings(comparison)]
    assert kinds == ["head", "count"]
    # A record that lags (not yet extended to the position) is the same: found, not located.
    comparison = compare(anchor, [A1, A2, B1, A3], [A1, A2])
    assert [finding.kind for finding in findings(comparison)] == ["head", "count"]


def test_only_the_first_differences_are_kept_but_all_are_counted() -> None:
    recorded = [ChainEntry(n, "KTP-A", n, f"{n:064x}") for n in range(1, 101)]
    comparison = compare(anchor_of(recorded, 100), recorded[:10], recorded, keep=5)
    assert comparison.different == 90 and len(comparison.differences) == 5
    assert findings(comparison)[-2].kind == "more"


def test_ranges() -> None:
    assert ranges([5, 1, 2, 3, 9, 10]) == "1-3, 5, 9-10"
    assert ranges(range(0, 40, 2), shown=3) == "0, 2, 4, ... (20 runs)"


def test_checkpoint_documents_round_trip_and_sign_their_four_fields() -> None:
    point = anchor_of(LEDGER)
    signed = Checkpoint(point, Signature("Ed25519", "0123456789abcdef", "ab" * 64))
    assert parse_checkpoint(signed.to_json()) == signed
    assert parse_checkpoint({"checkpoint": signed.to_json(), "project": "KTP-A"}) == signed  # a report
    unsigned = Checkpoint(point, None)
    assert unsigned.to_json()["signature"] is None and parse_checkpoint(unsigned.to_json()) == unsigned
    assert json.loads(signed_bytes(point)) == {
        "chain_head": point.head,
        "events": 5,
        "format": FORMAT,
        "position": 6,
    }


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"format": "other/1"}, "`format`"),
        ({"position": -1}, "`position`"),
        ({"position": "6"}, "`position`"),
        ({"events": True}, "`events`"),
        ({"chain_head": "XYZ"}, "`chain_head`"),
        ({"events": 0}, "empty exactly when"),
        ({"signature": "abc"}, "`signature`"),
        ({"signature": {"algorithm": "Ed25519", "key_id": "", "value": "ab"}}, "`signature.key_id`"),
    ],
)
def test_a_bad_checkpoint_document_names_its_field(change: dict[str, object], named: str) -> None:
    document = {**Checkpoint(anchor_of(LEDGER), None).to_json(), **change}
    with pytest.raises(CheckpointError, match=named):
        parse_checkpoint(document)
    with pytest.raises(CheckpointError, match="JSON object"):
        parse_checkpoint([document])

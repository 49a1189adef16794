"""Signed checkpoints of the whole ledger, and checking the ledger against one (`verify --against`).

`Checkpoints.at(position)` is the ledger-wide chain at a position (`domain/anchor.py`), signed when
a private key is configured. It reads the chain off `ledger_chain`, the record of the chain kept as
it is extended, and works out in memory only what the record lacks; a writer extends the record
first (`extend`), so a report costs a row read however long the ledger. The record is a cache:
a tampered one can make new checkpoints disagree with the ledger (and with older anchors), never
hide a change from `verify_against`, which recomputes the chain from the events themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from ktpledger.adapters import chain_store
from ktpledger.adapters.database import Database
from ktpledger.adapters.signing import Signer, Verifier
from ktpledger.domain.anchor import (
    GENESIS,
    ChainPoint,
    Checkpoint,
    Comparison,
    Finding,
    advance,
    compare,
    findings,
    links,
    signed_bytes,
)

EXTEND_BATCH = 10_000  # events recorded per transaction when extending the record


class UnknownPosition(ValueError):
    """A checkpoint asked for beyond the ledger's head."""


class Checkpoints:
    """Checkpoints of one database's ledger, signed with `signer` (None: unsigned).

    Making a checkpoint never writes: it reads the chain off the record where the record reaches,
    and works out the rest from the events. Writers extend the record (`extend`) off the path of
    any request: the embedded default's background thread after appends, the sweeper with
    workers, and `ktpledger checkpoint`."""

    def __init__(self, database: Database, signer: Signer | None = None) -> None:
        self.database = database
        self.signer = signer

    def sign(self, point: ChainPoint) -> Checkpoint:
        if self.signer is None:
            return Checkpoint(point, None)
        return Checkpoint(point, self.signer.sign(signed_bytes(point)))

    def at(self, position: int) -> Checkpoint:
        """The checkpoint of the ledger at `position`: every event at or before it."""
        with self.database.read() as connection:
            base = chain_store.recorded_point(connection, at_or_before=position)
            if base is not None and base.position == position:  # a report's usual case: one row read
                return self.sign(base)
            start, after = (GENESIS, None) if base is None else (base, base.position)
            point = advance(start, chain_store.entries(connection, after=after, upto=position), position)
        return self.sign(point)

    def now(self, position: int | None = None) -> Checkpoint:
        """The checkpoint of the ledger as it stands (or at `position`, which must be recorded)."""
        with self.database.read() as connection:
            head = chain_store.head_position(connection) or 0
        if position is None:
            position = head
        elif position > head:
            raise UnknownPosition(f"position {position} is beyond the ledger's last, {head}")
        return self.at(position)

    def extend(self, *, upto: int | None = None, batch: int = EXTEND_BATCH) -> ChainPoint:
        """Record the chain for the events after the record's last entry (up to `upto`). Only ever
        appends: an event that appears below the record's end (inserted in the past) is never
        recorded, so checkpoints keep telling the history as it was."""
        while True:
            with self.database.read() as connection:
                end = chain_store.recorded_point(connection)
                start, after = (GENESIS, None) if end is None else (end, end.position)
                if upto is not None and end is not None and end.position >= upto:
                    return end
                # At most `batch` entries held and recorded at a time: `entries` pages on by
                # itself, so without the slice a first extend after many appends (a deferred
                # catch-up of `record`, a rebuild of a long ledger) held every new event's link
                # at once, some 650 bytes each: 65 MB for 100,000 events (memray, 2026-12-06).
                found = list(
                    islice(
                        links(start, chain_store.entries(connection, after=after, upto=upto, batch=batch)),
                        batch,
                    )
                )
            if not found:
                return start
            with self.database.projection() as connection:
                chain_store.record(connection, found)
                connection.commit()
            if len(found) < batch:
                return found[-1][1]

    def rebuild(self) -> ChainPoint:
        """Forget the record and make it again from the ledger as it stands (the owner's repair
        after the record was damaged; the service's role may not delete it)."""
        with self.database.projection() as connection:
            chain_store.forget(connection)
            connection.commit()
        return self.extend()


@dataclass
class AnchorReport:
    """What `verify --against` found: the signature's state, the comparison and its findings."""

    checkpoint: Checkpoint
    signature: str  # valid | invalid | wrong_key | unchecked | unsigned
    comparison: Comparison
    problems: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    after: int = 0  # events after the checkpoint's position

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        ledger = self.comparison.ledger
        return {
            "ok": self.ok,
            "checkpoint": self.checkpoint.to_json(),
            "signature": self.signature,
            "ledger": {"position": ledger.position, "events": ledger.events, "chain_head": ledger.head},
            "matches": self.comparison.matches,
            "located": self.comparison.located,
            "parted_at": self.comparison.parted_at,
            "findings": [finding.to_json() for finding in self.problems],
            "notes": self.notes,
            "events_after_checkpoint": self.after,
        }


def check_signature(
    checkpoint: Checkpoint, verifier: Verifier | None
) -> tuple[str, Finding | None, str | None]:
    """(state, a finding if the signature proves nothing, a note)."""
    signature = checkpoint.signature
    if signature is None:
        if verifier is not None:
            return (
                "unsigned",
                Finding(
                    "signature",
                    f"the checkpoint is unsigned, while a public key ({verifier.key_id}) is configured: it cannot "
                    "prove who made it, so it is refused",
                ),
                None,
            )
        return (
            "unsigned",
            None,
            (
                "the checkpoint is unsigned (no checkpoint key was configured where it was made): it shows what "
                "the ledger held only as far as you trust where the file came from; it cannot prove who made it"
            ),
        )
    if verifier is None:
        return (
            "unchecked",
            Finding(
                "signature",
                f"the checkpoint is signed by key {signature.key_id}, but no public key is configured to check "
                "it: set KTPLEDGER_CHECKPOINT_PUBLIC_KEY or give --public-key",
            ),
            None,
        )
    if signature.key_id != verifier.key_id:
        return (
            "wrong_key",
            Finding(
                "signature",
                f"the checkpoint names key {signature.key_id}, the public key given is {verifier.key_id}: "
                "it was not signed with this key",
            ),
            None,
        )
    if not verifier.verify(signed_bytes(checkpoint.point), signature):
        return (
            "invalid",
            Finding(
                "signature",
                f"the checkpoint's signature does not match its contents under key {verifier.key_id}: "
                "the checkpoint was altered or forged",
            ),
            None,
        )
    return "valid", None, None


def verify_against(database: Database, checkpoint: Checkpoint, verifier: Verifier | None) -> AnchorReport:
    """Check `checkpoint`'s signature, recompute the ledger-wide chain from the events up to its
    position and compare; name what differs as precisely as the recorded chain allows."""
    state, refused, note = check_signature(checkpoint, verifier)
    anchor = checkpoint.point
    with database.read() as connection:
        comparison = compare(
            anchor,
            chain_store.entries(connection, upto=anchor.position),
            chain_store.recorded(connection, upto=anchor.position),
        )
        missing = [
            (d.then.project, d.then.version)
            for d in comparison.differences
            if d.then is not None and d.now is None
        ]
        moved_to = chain_store.positions_of(connection, missing) if comparison.located and missing else {}
        record_end = chain_store.recorded_point(connection)
        after = chain_store.count_after(connection, anchor.position)
        head = chain_store.head_position(connection)
    report = AnchorReport(checkpoint, state, comparison, after=after)
    if refused is not None:
        report.problems.append(refused)
    if note is not None:
        report.notes.append(note)
    report.problems += findings(comparison, moved_to)
    if comparison.ledger.events < anchor.events and (head or 0) < anchor.position:
        report.notes.append(
            "the ledger is empty now"
            if head is None
            else f"the ledger now ends at position {head}, before the checkpoint's position {anchor.position}"
        )
    if (
        comparison.matches
        and not comparison.located
        and record_end is not None
        and record_end.position >= anchor.position
    ):
        report.notes.append(
            "the ledger matches the checkpoint, but the chain recorded in ledger_chain does not: checkpoints "
            "made from it now would not match the ledger. Rebuild it as the database's owner with "
            "`ktpledger checkpoint rebuild`"
        )
    if after:
        report.notes.append(
            f"{after} event(s) after position {anchor.position} are not covered by this checkpoint; the "
            "per-project chains check them"
        )
    return report

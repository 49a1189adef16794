"""The ledger-wide chain and its checkpoints: tamper evidence that reaches across projects.

Each project's hash chain (`chain.py`) shows an event changed in place, but not its project's last
events deleted, a whole project deleted, the ledger truncated, a project's tail rewritten with its
hashes recomputed, or an event's `position` changed. The ledger-wide chain binds every event, of
every project, in `position` order: its link at an event is the SHA-256, in lower-case hex, of the
UTF-8 bytes of the canonical JSON (keys sorted, no whitespace, non-ASCII as itself)

    {"event": <the event's hash>, "position": n, "prev": <the link of the event before it in
     position order, "" for the first>, "project": ..., "version": v}

A checkpoint is the chain at a position: `{"format", "position", "events", "chain_head"}` (the
number of events at or before `position`, and the link of the last of them), signed with a key
kept outside the database. It is the canonical JSON of those four fields that is signed. Anyone
holding the checkpoint and the public key can re-check the ledger up to its position with nothing
but `sha256`, a JSON encoder and an Ed25519 verifier: a deletion, truncation, rewrite, moved
position or event inserted in the past changes the head or the count.

Comparing the ledger with a checkpoint (`compare`) also merges in the chain as it was recorded
when it was extended (the `ledger_chain` cache): when that record's own chain reaches the
checkpoint's head it is authenticated by the checkpoint, and the two can be diffed event by event
to name what changed. A cache that does not reach the head names nothing, and hides nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, NamedTuple

FORMAT = "ktpledger-checkpoint/1"
ALGORITHM = "Ed25519"
KEPT_DIFFERENCES = 1000  # differences kept for naming; beyond them only counted
SHOWN_GROUPS = 50  # findings listed per kind; the rest summed up in one line


class CheckpointError(ValueError):
    """A checkpoint document that is not one: names the field and what is wrong."""


class ChainEntry(NamedTuple):
    """One event as the ledger-wide chain sees it (a tuple: millions are read and compared)."""

    position: int
    project: str
    version: int
    hash: str


@dataclass(frozen=True)
class ChainPoint:
    """The chain at `position`: `events` events at or before it, the last one's link `head`."""

    position: int
    events: int
    head: str


GENESIS = ChainPoint(0, 0, "")


def ledger_link(prev: str, entry: ChainEntry) -> str:
    """The chain's link at `entry`, following the link `prev` (see the module's docstring)."""
    document = "".join(
        (
            '{"event":',
            encode_basestring_ascii(entry.hash),
            ',"position":',
            str(entry.position),
            ',"prev":',
            encode_basestring_ascii(prev),
            ',"project":',
            encode_basestring(entry.project),
            ',"version":',
            str(entry.version),
            "}",
        )
    )
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def links(start: ChainPoint, entries: Iterable[ChainEntry]) -> Iterator[tuple[ChainEntry, ChainPoint]]:
    """Each entry (in position order, after `start`) with the chain at it."""
    head, events = start.head, start.events
    for entry in entries:
        head = ledger_link(head, entry)
        events += 1
        yield entry, ChainPoint(entry.position, events, head)


def advance(start: ChainPoint, entries: Iterable[ChainEntry], position: int) -> ChainPoint:
    """The chain at `position`, from `start` and the entries after it up to `position`."""
    head, events = start.head, start.events
    for entry in entries:
        head = ledger_link(head, entry)
        events += 1
    return ChainPoint(position, events, head)


# --- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    algorithm: str
    key_id: str
    value: str  # the signature's 64 bytes in lower-case hex


@dataclass(frozen=True)
class Checkpoint:
    point: ChainPoint
    signature: Signature | None  # None: unsigned (no key configured where it was made)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "position": self.point.position,
            "events": self.point.events,
            "chain_head": self.point.head,
            "signature": None
            if self.signature is None
            else {
                "algorithm": self.signature.algorithm,
                "key_id": self.signature.key_id,
                "value": self.signature.value,
            },
        }


def signed_bytes(point: ChainPoint) -> bytes:
    """What a checkpoint's signature signs: the canonical JSON of its four attested fields."""
    document = {
        "chain_head": point.head,
        "events": point.events,
        "format": FORMAT,
        "position": point.position,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_checkpoint(document: object) -> Checkpoint:
    """A checkpoint document (as `Checkpoint.to_json` writes it, or a report's `checkpoint`), or a
    `CheckpointError` naming the field that is wrong."""
    if not isinstance(document, Mapping):
        raise CheckpointError(f"a checkpoint is a JSON object, got {type(document).__name__}")
    if "checkpoint" in document and "format" not in document:
        document = document["checkpoint"]  # a whole report: its checkpoint
        if not isinstance(document, Mapping):
            raise CheckpointError("the report's `checkpoint` is not a JSON object")
    if document.get("format") != FORMAT:
        raise CheckpointError(f"`format` must be {FORMAT!r}, got {document.get('format')!r}")
    position = _whole(document, "position")
    events = _whole(document, "events")
    head = document.get("chain_head")
    if not isinstance(head, str) or not (head == "" or _is_digest(head)):
        raise CheckpointError(f"`chain_head` must be 64 lower-case hex digits, got {head!r}")
    if (events == 0) != (head == ""):
        raise CheckpointError("`chain_head` is empty exactly when `events` is 0")
    raw = document.get("signature")
    signature = None
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise CheckpointError("`signature` must be null or an object {algorithm, key_id, value}")
        parts = {name: raw.get(name) for name in ("algorithm", "key_id", "value")}
        for name, value in parts.items():
            if not isinstance(value, str) or not value:
                raise CheckpointError(f"`signature.{name}` must be a non-empty string, got {value!r}")
        signature = Signature(str(parts["algorithm"]), str(parts["key_id"]), str(parts["value"]))
    return Checkpoint(ChainPoint(position, events, head), signature)


def _whole(document: Mapping[str, Any], name: str) -> int:
    value = document.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"`{name}` must be a whole number, 0 or more, got {value!r}")
    return value


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


# --- comparing the ledger with a checkpoint --------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One position where the ledger now and the recorded chain differ: `then` as recorded (None:
    nothing was there), `now` as the ledger holds it (None: nothing is there)."""

    position: int
    then: ChainEntry | None
    now: ChainEntry | None


@dataclass
class Comparison:
    """The ledger's rows and the recorded chain, both up to a checkpoint's position."""

    anchor: ChainPoint
    ledger: ChainPoint  # the chain recomputed from the rows, at the anchor's position
    recorded: ChainPoint  # the recorded chain recomputed from its own entries
    last_position: int | None  # the last row's position at or before the anchor's
    differences: list[Difference] = field(default_factory=list)
    different: int = 0  # every difference, also those beyond the kept ones

    @property
    def matches(self) -> bool:
        """The ledger up to the checkpoint's position is exactly what the checkpoint attests."""
        return (self.ledger.head, self.ledger.events) == (self.anchor.head, self.anchor.events)

    @property
    def located(self) -> bool:
        """The recorded chain reaches the checkpoint's head: its differences from the rows are
        exactly what changed since."""
        return (self.recorded.head, self.recorded.events) == (self.anchor.head, self.anchor.events)

    @property
    def parted_at(self) -> int | None:
        """The first position where the ledger parts from the checkpoint's chain, when located."""
        if self.matches or not self.located or not self.differences:
            return None
        return self.differences[0].position


def compare(
    anchor: ChainPoint,
    rows: Iterable[ChainEntry],
    recorded: Iterable[ChainEntry],
    *,
    keep: int = KEPT_DIFFERENCES,
) -> Comparison:
    """Merge the ledger's entries and the recorded ones (each in position order, each at or before
    the anchor's position), recomputing both chains and keeping the first `keep` differences."""
    ledger_head, ledger_events, recorded_head, recorded_events = "", 0, "", 0
    last: int | None = None
    result = Comparison(anchor, anchor, anchor, None)
    ours, theirs = iter(rows), iter(recorded)
    now, then = next(ours, None), next(theirs, None)
    while now is not None or then is not None:
        difference: Difference | None
        if then is None or (now is not None and now.position < then.position):
            assert now is not None
            difference = Difference(now.position, None, now)
            ledger_head, ledger_events, last = ledger_link(ledger_head, now), ledger_events + 1, now.position
            now = next(ours, None)
        elif now is None or then.position < now.position:
            difference = Difference(then.position, then, None)
            recorded_head, recorded_events = ledger_link(recorded_head, then), recorded_events + 1
            then = next(theirs, None)
        else:
            same = now == then
            difference = None if same else Difference(now.position, then, now)
            shared = same and ledger_head == recorded_head  # the same link: worked out once
            ledger_head, ledger_events, last = ledger_link(ledger_head, now), ledger_events + 1, now.position
            recorded_head = ledger_head if shared else ledger_link(recorded_head, then)
            recorded_events += 1
            now, then = next(ours, None), next(theirs, None)
        if difference is not None:
            result.different += 1
            if len(result.differences) < keep:
                result.differences.append(difference)
    result.ledger = ChainPoint(anchor.position, ledger_events, ledger_head)
    result.recorded = ChainPoint(anchor.position, recorded_events, recorded_head)
    result.last_position = last
    return result


@dataclass(frozen=True)
class Finding:
    """Something the ledger no longer holds as the checkpoint attests, for people and scripts."""

    kind: str  # parted | rewritten | replaced | missing | moved | inserted | count | head
    message: str
    position: int | None = None
    project: str | None = None
    versions: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "position": self.position,
            "project": self.project,
            "versions": list(self.versions),
        }


def findings(comparison: Comparison, moved_to: Mapping[tuple[str, int], int] | None = None) -> list[Finding]:
    """What differs, named as precisely as the comparison allows. `moved_to`: where the ledger now
    holds (project, version) pairs that are missing from their recorded positions (found after the
    checkpoint's position by the caller)."""
    if comparison.matches:
        return []
    anchor, ledger = comparison.anchor, comparison.ledger
    found: list[Finding] = []
    if comparison.located:
        found += _located(comparison, moved_to or {})
    else:
        found.append(
            Finding(
                "head",
                f"the ledger's chain at position {anchor.position} is {_short(ledger.head)}, the checkpoint's is "
                f"{_short(anchor.head)}: an event at or before position {anchor.position} was changed, deleted, "
                "moved or inserted since the checkpoint was made. The chain recorded in ledger_chain does not "
                "reach the checkpoint's head either (it was changed too, or not yet extended to that position), "
                "so it cannot say which; the per-project checks below may",
                position=anchor.position,
            )
        )
    if ledger.events != anchor.events:
        fewer = anchor.events - ledger.events
        what = f"{fewer} fewer" if fewer > 0 else f"{-fewer} more"
        if ledger.events == 0:
            held = f"the ledger holds no event at or before position {anchor.position} (it was truncated)"
        else:
            held = (
                f"the ledger holds {ledger.events} events at or before position {anchor.position}, the last at "
                f"position {comparison.last_position}"
            )
        found.append(
            Finding(
                "count", f"{held}; the checkpoint counted {anchor.events} ({what})", position=anchor.position
            )
        )
    return found


def _located(comparison: Comparison, moved_to: Mapping[tuple[str, int], int]) -> list[Finding]:
    differences = comparison.differences
    found = [
        Finding(
            "parted",
            f"the ledger parts from the checkpoint's chain at position {differences[0].position}",
            position=differences[0].position,
        )
    ]
    inserted = {
        (d.now.project, d.now.version): d for d in differences if d.then is None and d.now is not None
    }
    missing: dict[str, list[Difference]] = {}
    added: dict[str, list[Difference]] = {}
    singles: list[Finding] = []
    for difference in differences:
        then, now = difference.then, difference.now
        if then is not None and now is not None:
            if (then.project, then.version) == (now.project, now.version):
                singles.append(
                    Finding(
                        "rewritten",
                        f"position {difference.position}: project {then.project} version {then.version} was "
                        f"rewritten since the checkpoint (its hash was {_short(then.hash)}, is {_short(now.hash)} now)",
                        position=difference.position,
                        project=then.project,
                        versions=(then.version,),
                    )
                )
            else:
                singles.append(
                    Finding(
                        "replaced",
                        f"position {difference.position} held project {then.project} version {then.version} at the "
                        f"checkpoint and holds project {now.project} version {now.version} now",
                        position=difference.position,
                        project=then.project,
                        versions=(then.version,),
                    )
                )
        elif then is not None:
            key = (then.project, then.version)
            target = inserted.pop(key, None)
            elsewhere = target.position if target is not None else moved_to.get(key)
            if elsewhere is not None:
                singles.append(
                    Finding(
                        "moved",
                        f"project {then.project} version {then.version} was at position {then.position} at the "
                        f"checkpoint and is at position {elsewhere} now: its position was changed",
                        position=then.position,
                        project=then.project,
                        versions=(then.version,),
                    )
                )
            else:
                missing.setdefault(then.project, []).append(difference)
    for difference in inserted.values():
        assert difference.now is not None
        added.setdefault(difference.now.project, []).append(difference)
    groups = [_group("missing", project, items) for project, items in sorted(missing.items())]
    groups += [_group("inserted", project, items) for project, items in sorted(added.items())]
    listed = sorted(singles + groups, key=lambda item: item.position or 0)
    shown = listed[:SHOWN_GROUPS]
    hidden = len(listed) - len(shown)
    beyond = comparison.different - len(differences)
    if hidden or beyond:
        shown.append(
            Finding(
                "more",
                f"and {hidden} more finding(s)"
                + (f", past {beyond} more differing position(s) not examined one by one" if beyond else ""),
            )
        )
    return found + shown


def _group(kind: str, project: str, items: list[Difference]) -> Finding:
    entries = [item.then if kind == "missing" else item.now for item in items]
    versions = tuple(sorted(entry.version for entry in entries if entry is not None))
    positions = sorted(item.position for item in items)
    count = len(items)
    noun = "event" if count == 1 else "events"
    if kind == "missing":
        what = f"{count} {noun} missing since the checkpoint"
    else:
        what = f"{count} {noun} not in the ledger at the checkpoint: inserted in the past"
    return Finding(
        kind,
        f"project {project}: {what}: version{'s' if count > 1 else ''} {ranges(versions)} "
        f"(position{'s' if count > 1 else ''} {ranges(positions)})",
        position=positions[0],
        project=project,
        versions=versions,
    )


def ranges(numbers: Iterable[int], *, shown: int = 12) -> str:
    """Whole numbers as runs: "1-3, 7, 9-10"; past `shown` runs, "... (N runs)"."""
    runs: list[tuple[int, int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    texts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    if len(texts) > shown:
        return ", ".join(texts[:shown]) + f", ... ({len(texts)} runs)"
    return ", ".join(texts)


def _short(digest: str) -> str:
    return f"{digest[:16]}..." if digest else '"" (no events)'

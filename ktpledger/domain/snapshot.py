"""A project's folded state as bytes and back: the snapshot an append or a catch-up starts from
instead of folding the whole stream again (issue 18).

A snapshot is derived data, never a fact: the ledger alone decides, replay writes snapshots again,
and `verify --projections` folds each one's stream and compares. It is pickled (the state is a
graph of this package's dataclasses, enums, dates and Decimals; pickle keeps every one exactly),
and read back by an unpickler that builds nothing but those: a row of the snapshot table can
never name a function to call.

A state's claims (every claim, the tagged ones by line, the sub-limits' tallies: nearly all of a
long project's bytes) are pickled apart (`snapshot_of`: kept in a column of their own) and read
back only when something asks for them (`DeferredClaims`): an append of a claim, tagged or not,
never does, so a new process's first append costs the state's totals, not its history.

Between full snapshots (every `SNAPSHOT_EVERY` versions), totals snapshots (`totals_snapshot_of`,
every `TOTALS_EVERY`) keep the state without its claims at all: a new process folds at most
`TOTALS_EVERY - 1` events on top of the newest, and reads the claims, if asked for them, from the
full snapshot before it with the events since folded in (`ClaimsSource.folded`).

Its `format` changes with the state's shape (the fields of every dataclass the state's module
holds) and with `SNAPSHOT_FORMAT`, raised by hand when the fold's meaning changes without its
shape: a snapshot of another format is ignored (the stream is folded instead) and replaced.
"""

from __future__ import annotations

import copyreg
import dataclasses
import enum
import gc
import hashlib
import io
import pickle
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain import project as project_module
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import Claim, CountedClaims, ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import Category, Tag, rule_set_for

# Raise it when the fold means something new for the same fields (a figure worked out otherwise).
SNAPSHOT_FORMAT = 3  # 2: the claims kept apart (`snapshot_of`); 3: totals snapshots between them
# A project's state is snapshotted each time its version passes a multiple of this (with the
# append), and by replay once it has this many events.
SNAPSHOT_EVERY = 500
# ... and its totals alone (`totals_snapshot_of`: no claims, a few kilobytes whatever its history)
# each time it passes a multiple of this (a divisor of `SNAPSHOT_EVERY`): a new process folds fewer
# than this many of its events on top of the newest snapshot, 10-17 us each (issue 18). Not 25: a
# batch over many projects writes one for each project it takes past a multiple, some 60-100 us of
# the client's time each (pickled, then saved), and at 25 batches of 1,000 round-robin over 100
# projects took 9-14% more of it on PostgreSQL (11-13% on SQLite), to save a cold append some 13
# events' folding (measured 2026-12-06).
TOTALS_EVERY = 50
# What a totals snapshot says of its claims' bytes: none kept; its claims are those of the full
# snapshot before it with the events since folded in (`ClaimsSource.folded`).
_NO_CLAIMS_KEPT = -1

# What a snapshot may hold besides this package's domain classes.
_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("collections", "OrderedDict"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
}
_DOMAIN = "ktpledger.domain."
# The fields pickled apart and read back on first use (`DeferredClaims`).
_DEFERRED = ("claims", "tagged", "counted")
# Derived from the offer alone, worked out again on first use: not worth their bytes.
_RECOMPUTED: dict[str, Any] = {"rules": None, "_kinds": {}, "_standards": {}, "_categories": ()}


@dataclass(frozen=True)
class StoredSnapshot:
    """A snapshot as kept: its project, the version it is folded to, its format, the bytes of its
    state but the claims, and the claims' bytes (empty when they were not read, or when `state`
    holds them: `dump_state`)."""

    project: str
    version: int
    format: str
    state: bytes
    claims: bytes = b""


@dataclass(frozen=True)
class ClaimsSource:
    """Where a snapshot's claims are read from when first asked for (`DeferredClaims`), given by
    whoever read the snapshot without them: `stored` reads the snapshot's own claims (None when
    the row is gone: newer snapshots replace it); `folded` folds the project to the snapshot's
    version, when the stored claims are gone or damaged."""

    stored: Callable[[], bytes | None]
    folded: Callable[[], ProjectState]
    # The project folded to a later version (`defer_claims`: the claims folded in since put out
    # of memory too), from this snapshot where it can; None: from the whole stream.
    later: Callable[[int], ProjectState] | None = None


class SnapshotUnreadable(ValueError):
    """Bytes that are not a snapshot of this format (the stream is folded instead)."""


def _shape() -> str:
    """The fields of every dataclass the project module holds: its state's shape."""
    parts = []
    for name in sorted(vars(project_module)):
        value = getattr(project_module, name)
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            fields = ",".join(f"{item.name}:{item.type}" for item in dataclasses.fields(value))
            parts.append(f"{value.__module__}.{value.__qualname__}({fields})")
    return "\n".join(parts)


def snapshot_format() -> str:
    """The format of the snapshots this code writes and reads."""
    digest = hashlib.sha256(_shape().encode()).hexdigest()[:16]
    return f"{SNAPSHOT_FORMAT}:{digest}"


SNAPSHOT_FORMAT_NOW = snapshot_format()


def dump_state(state: ProjectState) -> bytes:
    """`state` (of a fold that keeps no keys: idempotency is the ledger's, issue 18) as bytes,
    its claims within."""
    held, claims = _parts(state)
    held["deferred"] = (len(state.claims), len(claims), claims)
    return _pickled(held)


def snapshot_of(state: ProjectState) -> StoredSnapshot:
    """`state` as a snapshot is kept: its claims apart from the rest, so that a reader that does
    not need them (an append) reads a few kilobytes whatever the project's history."""
    held, claims = _parts(state)
    held["deferred"] = (len(state.claims), len(claims), b"")
    return StoredSnapshot(state.project, state.version, SNAPSHOT_FORMAT_NOW, _pickled(held), claims)


def totals_snapshot_of(state: ProjectState) -> StoredSnapshot:
    """`state` as a totals snapshot: everything but its claims, which are neither kept nor read
    (a state loaded from a snapshot keeps them deferred): a reader that asks for them gets them
    by folding on from the full snapshot before it (`ClaimsSource.folded`). Its claims column is
    empty, which a full snapshot's never is (`snapshot_store.save` keeps the newest of each)."""
    if state.track_keys and state.keys:
        raise ValueError("a snapshot holds no event keys: fold with track_keys=False")
    held = dict(vars(state))
    held.update(_RECOMPUTED)
    held["keys"] = {}
    held["track_keys"] = False
    for name in _DEFERRED:
        del held[name]
    held["deferred"] = (len(state.claims), _NO_CLAIMS_KEPT, b"")
    return StoredSnapshot(state.project, state.version, SNAPSHOT_FORMAT_NOW, _pickled(held), b"")


def _parts(state: ProjectState) -> tuple[dict[str, Any], bytes]:
    if state.track_keys and state.keys:
        raise ValueError("a snapshot holds no event keys: fold with track_keys=False")
    read_claims(state)
    held = dict(vars(state))
    held.update(_RECOMPUTED)
    held["keys"] = {}
    held["track_keys"] = False
    # One pickle for the three: a claim is one object in all of them, and stays one when read.
    claims = _pickled((dict(state.claims), dict(state.tagged), dict(state.counted)))
    for name in _DEFERRED:
        del held[name]
    return held, claims


def _pickled(value: object) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    return out.getvalue()


_CATEGORIES = {category.value: category for category in Category}


def _reduce_claim(claim: Claim) -> tuple[Any, tuple[Any, ...]]:
    # A claim in plain values, built again by `_restore_claim`: a state holds one a claim, and
    # pickle's own way (an object, then its fields, each Decimal and enum by its constructor) took
    # twice as long to read back (bench/snapshots.py).
    reversed_text = str(claim.reversed) if claim.reversed else ""
    values = (claim.key, claim.version, claim.date.toordinal(), claim.category.value, str(claim.amount))
    return _restore_claim, (*values, claim.tags, reversed_text)


def _restore_claim(
    key: str,
    version: int,
    ordinal: int,
    category: str,
    amount: str,
    tags: tuple[Tag, ...],
    reversed_text: str,
) -> Claim:
    claim = Claim.__new__(Claim)
    vars(claim).update(
        key=key,
        version=version,
        date=date.fromordinal(ordinal),
        category=_CATEGORIES[category],
        amount=Decimal(amount),
        tags=tags,
        reversed=Decimal(reversed_text) if reversed_text else ZERO,
    )
    return claim


# How `_pickled` reduces the values a state holds most of. A Decimal and a date by their own
# `__reduce__`, named: the bytes are the same as pickle's own way (`__reduce_ex__`), which took
# twice as long (0.7 against 0.35 us a Decimal; a totals snapshot holds a hundred or so, and a
# batch over many projects pickles one for each it takes past a multiple: issue 18).
_REDUCERS: dict[type, Callable[[Any], Any]] = {
    Claim: _reduce_claim,
    Decimal: Decimal.__reduce__,
    date: date.__reduce__,
}
# ... with the reducers registered with `copyreg` (none of this package's), merged once: merged
# a pickle, they took about 1 us of each of a batch's totals snapshots.
_DISPATCH = {**copyreg.dispatch_table, **_REDUCERS}


def _members_of(kind: type[enum.Enum]) -> Callable[[Any], enum.Enum]:
    """What a snapshot's enum class is read as: a member by its value, a dict lookup, where
    calling the class (pickle's way to make a member) ran `EnumType.__call__` and `Enum.__new__`
    in Python (issue 18). A state holds enum members, never an enum class itself (a test keeps it
    so: `test_a_loaded_state_holds_no_stand_in_for_a_class`); a value not in the map goes the
    class's own way (which refuses it)."""
    by_value = kind._value2member_map_

    def member(value: Any) -> enum.Enum:
        try:
            return by_value[value]
        except (KeyError, TypeError):  # not a value of the class (or unhashable)
            return kind(value)

    return member


# What each name a snapshot may hold was found to be (`_DomainUnpickler.find_class`): the same
# every time, found once a process; a new process's first append paid the import machinery's
# lookup for each of them (issue 18).
_FOUND: dict[tuple[str, str], Any] = {}


class _DomainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _FOUND[module, name]
        except KeyError:
            pass
        found = self._allowed(module, name)
        if isinstance(found, type) and issubclass(found, enum.Enum):  # named to make a member
            found = _members_of(found)
        _FOUND[module, name] = found
        return found

    def _allowed(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_restore_claim"):  # the one function a snapshot calls
            return _restore_claim
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith(_DOMAIN):
            found = super().find_class(module, name)
            if isinstance(found, type):  # a class of the domain, never a function to call
                return found
        raise SnapshotUnreadable(f"a snapshot may not name {module}.{name}")


def load_state(data: bytes, claims: bytes | ClaimsSource = b"") -> ProjectState:
    """The state `dump_state` wrote, or a kept snapshot's (`snapshot_of`) with its `claims`
    bytes or where to read them from; `SnapshotUnreadable` for anything else. The claims are
    read on first use (`DeferredClaims`)."""
    held = _unpickled(data)
    if not isinstance(held, dict) or held.keys() != _HELD_FIELDS:
        raise SnapshotUnreadable("not a snapshot of this shape of project state")
    deferred = held.pop("deferred")
    if not (
        isinstance(deferred, tuple)
        and len(deferred) == 3
        and all(isinstance(part, int) for part in deferred[:2])
        and isinstance(deferred[2], bytes)
    ):
        raise SnapshotUnreadable("a snapshot's claims are damaged")
    count, size, within = deferred
    if within:
        claims = within
    if isinstance(claims, bytes) and len(claims) != size:
        raise SnapshotUnreadable("a snapshot's claims are damaged")
    state = ProjectState.__new__(ProjectState)
    vars(state).update(held)
    pending = _PendingClaims(state, claims, count, size)
    for name in _DEFERRED:
        vars(state)[name] = DeferredClaims(pending, name)
    if state.offer_date is not None:
        state.rules = rule_set_for(state.offer_date)
    return state


# The names a snapshot's state holds (`_parts`): the state's fields, the claims put apart.
_HELD_FIELDS = {item.name for item in dataclasses.fields(ProjectState)} - set(_DEFERRED) | {"deferred"}


def load_snapshot(snapshot: StoredSnapshot, source: ClaimsSource | None = None) -> ProjectState:
    """A kept snapshot's state, its claims from `source` when they were not read with it."""
    return load_state(snapshot.state, snapshot.claims or source or b"")


def _unpickled(data: bytes) -> Any:
    # Thousands of new objects and no garbage among them: the cyclic collector's passes over
    # them are pure cost (a third of the time, measured).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _DomainUnpickler(io.BytesIO(data)).load()
    except SnapshotUnreadable:
        raise
    except Exception as error:  # any bytes at all: unreadable, and the stream decides
        raise SnapshotUnreadable(f"not a snapshot: {type(error).__name__}: {error}") from error
    finally:
        if collecting:
            gc.enable()


class _PendingClaims:
    """A loaded state's claims, tagged claims and tallies, still as bytes or still where they are
    kept (`ClaimsSource`); and the claims folded in since, kept beside them until then (and
    counted once read, when they have tags)."""

    def __init__(self, state: ProjectState, claims: bytes | ClaimsSource, count: int, size: int) -> None:
        self.state: ProjectState | None = state
        self.version = state.version  # the snapshot's
        self.claims = claims
        self.count = count
        self.size = size
        self.added: dict[str, Claim] = {}
        self.tagged: list[Claim] = []  # those of `added` with tags, to count once read
        # A state cached by a server is read by its threads while another appends to it: reading
        # the claims in and holding one back exclude each other (re-entrant: reading counts them).
        self.lock = threading.RLock()

    def load(self) -> None:
        """Read the claims and put the three in the state's place of the placeholders."""
        with self.lock:
            state = self.state
            if state is None:
                return
            claims, tagged, counted = self._read(state)
            claims.update(self.added)  # folded after the snapshot: later than every claim in it
            read = {"claims": claims, "tagged": tagged, "counted": counted}
            # In the placeholders' place only: one replaced since (`counted`, worked out afresh) stays.
            for name, value in read.items():
                if isinstance(vars(state)[name], DeferredClaims):
                    vars(state)[name] = value
            for claim in self.tagged:
                state.hold_tagged(claim)
            self.state = None
            self.claims = b""
            self.added = {}
            self.tagged = []

    def _read(self, state: ProjectState) -> tuple[dict[str, Claim], dict[Any, Any], dict[Any, Any]]:
        source = self.claims
        if isinstance(source, bytes):
            return _claims_of(source)
        stored = source.stored()
        if stored is not None and len(stored) == self.size:
            try:
                return _claims_of(stored)
            except SnapshotUnreadable:
                pass  # damaged: the stream decides
        whole = read_claims(source.folded())
        if whole.version != self.version:
            raise SnapshotUnreadable(
                f"the fold given for version {self.version} is of version {whole.version}"
            )
        return dict(whole.claims), dict(whole.tagged), dict(whole.counted)


def _claims_of(data: bytes) -> tuple[dict[str, Claim], dict[Any, Any], dict[Any, Any]]:
    found = _unpickled(data)
    if not (isinstance(found, tuple) and len(found) == 3 and all(isinstance(part, dict) for part in found)):
        raise SnapshotUnreadable("a snapshot's claims are not of this shape")
    claims, tagged, counted = found
    if not all(isinstance(claim, Claim) for claim in claims.values()) or not all(
        isinstance(tally, CountedClaims) for tally in counted.values()
    ):
        raise SnapshotUnreadable("a snapshot's claims are not of this shape")
    return claims, tagged, counted


class DeferredClaims:
    """What a loaded state holds in place of `claims`, `tagged` or `counted` until they are read:
    any use but adding a claim or counting them reads all three (`_PendingClaims.load`) and puts
    them in the state, so a state reads them at most once and then holds plain dicts."""

    def __init__(self, pending: _PendingClaims, name: str) -> None:
        self._pending = pending
        self._name = name
        self._owner = pending.state

    def _real(self) -> Any:
        self._pending.load()
        return getattr(self._owner, self._name)

    def __setitem__(self, key: str, value: Claim) -> None:
        pending = self._pending
        if self._name == "claims":
            with pending.lock:  # not while another thread reads them in
                if pending.state is not None:
                    pending.added[key] = value  # a claim folded in: nothing to read yet
                    return
        self._real()[key] = value

    def defer_tagged(self, claim: Claim) -> bool:
        """Whether a tagged claim just folded in (`ProjectState.apply`) is held to be counted
        when the claims are read, rather than read now: only while nothing has read them."""
        pending = self._pending
        if self._name != "tagged":
            return False
        with pending.lock:
            if pending.state is None:
                return False
            pending.tagged.append(claim)
            return True

    def held(self) -> int:
        """How many claims this holds in memory (`ProjectState.approximate_bytes`): of `claims`
        not read yet, only those folded in since; else all of them."""
        if self._name == "claims" and self._pending.state is not None:
            return len(self._pending.added)
        return len(self._real())

    def __len__(self) -> int:
        if self._name == "claims" and self._pending.state is not None:
            return self._pending.count + len(self._pending.added)
        return len(self._real())

    def __getitem__(self, key: Any) -> Any:
        return self._real()[key]

    def __delitem__(self, key: Any) -> None:
        del self._real()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._real()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._real())

    def __bool__(self) -> bool:
        return bool(self._real())

    def __eq__(self, other: object) -> bool:
        return bool(self._real() == other)

    __hash__ = None  # type: ignore[assignment]  # like the dict it stands for

    def __repr__(self) -> str:
        return repr(self._real())

    def __getattr__(self, name: str) -> Any:  # get, items, values, setdefault, ...: the dict's
        if name.startswith("_"):  # not the dict's, and never a read (copy, pickle probe for these)
            raise AttributeError(name)
        return getattr(self._real(), name)


def defer_claims(state: ProjectState, folded_to: Callable[[int], ProjectState]) -> bool:
    """Put `state`'s claims, tagged claims and tallies out of memory (issue 18: a cache over its
    budget keeps a state's figures rather than drop it whole): like a snapshot's, they are read
    back on first use, by folding the project to the state's version (the source's `later` fold
    where the state came from a snapshot, else `folded_to`). Only for a state whose events are
    all in the ledger (committed). False when it holds none to put away."""
    held = vars(state)["claims"]
    if isinstance(held, DeferredClaims):
        pending = held._pending
        with pending.lock:
            if pending.state is None or not (pending.added or pending.tagged):
                return False  # read in already (the state holds dicts again), or nothing to forget
            source = pending.claims
            count = pending.count + len(pending.added)
            pending.state = None  # the placeholders replaced below are no longer the state's
    elif any(isinstance(vars(state)[name], DeferredClaims) for name in _DEFERRED) or not state.claims:
        return False
    else:
        source, count = b"", len(state.claims)
    later = source.later if isinstance(source, ClaimsSource) and source.later is not None else folded_to
    version = state.version
    refold = ClaimsSource(stored=lambda: None, folded=lambda: later(version), later=later)
    pending = _PendingClaims(state, refold, count, 0)
    for name in _DEFERRED:
        vars(state)[name] = DeferredClaims(pending, name)
    return True


def read_claims(state: ProjectState) -> ProjectState:
    """`state` with its claims read, if a snapshot's state still defers them."""
    for name in _DEFERRED:
        held = vars(state)[name]
        if isinstance(held, DeferredClaims):
            held._real()
    return state


def same_state(left: ProjectState, right: ProjectState) -> bool:
    """Whether two folds hold the same figures, caches aside (`verify --projections`)."""
    ignored = set(_RECOMPUTED) | {"keys", "track_keys", "_end"}  # `_end`: a cache, worked out on use
    read_claims(left)
    read_claims(right)
    mine = {name: value for name, value in vars(left).items() if name not in ignored}
    theirs = {name: value for name, value in vars(right).items() if name not in ignored}
    return mine == theirs


def resumed(start: ProjectState, stream: Sequence[RecordedEvent]) -> Sequence[RecordedEvent] | None:
    """The events to fold on top of `start`, a snapshot's state, given its project's stream read
    from the snapshot's own version on; None when that row's hash is not the snapshot's head (a
    snapshot of another ledger, or a tampered one): the whole stream is folded instead."""
    if stream and stream[0].version == start.version and stream[0].hash == start.head_hash:
        return stream[1:]
    return None


def loaded_states(
    found: Mapping[str, StoredSnapshot], sources: Callable[[StoredSnapshot], ClaimsSource] | None = None
) -> dict[str, ProjectState]:
    """Each project's state from its snapshot as a store found it (its claims from `sources`
    when they were not read with it); a snapshot that cannot be read, or is not of its project
    and version, is passed over (the stream decides)."""
    states: dict[str, ProjectState] = {}
    for project, snapshot in found.items():
        try:
            state = load_snapshot(snapshot, None if sources is None else sources(snapshot))
        except SnapshotUnreadable:
            continue
        if state.project == project and state.version == snapshot.version:
            states[project] = state
    return states

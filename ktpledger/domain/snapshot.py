"""A project's folded state as bytes and back: the snapshot an append or a catch-up starts from
instead of folding the whole stream again (issue 18).

A snapshot is derived data, never a fact: the ledger alone decides, replay writes snapshots again,
and `verify --projections` folds each one's stream and compares. It is pickled (the state is a
graph of this package's dataclasses, enums, dates and Decimals; pickle keeps every one exactly),
and read back by an unpickler that builds nothing but those: a row of the snapshot table can
never name a function to call.

Its `format` changes with the state's shape (the fields of every dataclass the state's module
holds) and with `SNAPSHOT_FORMAT`, raised by hand when the fold's meaning changes without its
shape: a snapshot of another format is ignored (the stream is folded instead) and replaced.
"""

from __future__ import annotations

import copyreg
import dataclasses
import gc
import hashlib
import io
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain import project as project_module
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import Claim, ProjectState
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.rules import Category, Tag, rule_set_for

# Raise it when the fold means something new for the same fields (a figure worked out otherwise).
SNAPSHOT_FORMAT = 1
# A project's state is snapshotted each time its version passes a multiple of this (with the
# append), and by replay once it has this many events: a new process folds at most this many of
# its events on top of the newest snapshot.
SNAPSHOT_EVERY = 500

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
# Derived from the offer alone, worked out again on first use: not worth their bytes.
_RECOMPUTED: dict[str, Any] = {"rules": None, "_kinds": {}, "_standards": {}, "_categories": ()}


@dataclass(frozen=True)
class StoredSnapshot:
    """A snapshot as kept: its project, the version it is folded to, its format and bytes."""

    project: str
    version: int
    format: str
    state: bytes


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
    """`state` (of a fold that keeps no keys: idempotency is the ledger's, issue 18) as bytes."""
    if state.track_keys and state.keys:
        raise ValueError("a snapshot holds no event keys: fold with track_keys=False")
    held = dict(vars(state))
    held.update(_RECOMPUTED)
    held["keys"] = {}
    held["track_keys"] = False
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.dispatch_table = {**copyreg.dispatch_table, Claim: _reduce_claim}
    pickler.dump(held)
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


class _DomainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_restore_claim"):  # the one function a snapshot calls
            return _restore_claim
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith(_DOMAIN):
            found = super().find_class(module, name)
            if isinstance(found, type):  # a class of the domain, never a function to call
                return found
        raise SnapshotUnreadable(f"a snapshot may not name {module}.{name}")


def load_state(data: bytes) -> ProjectState:
    """The state `dump_state` wrote; `SnapshotUnreadable` for anything else."""
    # Thousands of new objects and no garbage among them: the cyclic collector's passes over
    # them are pure cost (a third of the time, measured).
    collecting = gc.isenabled()
    gc.disable()
    try:
        held = _DomainUnpickler(io.BytesIO(data)).load()
    except SnapshotUnreadable:
        raise
    except Exception as error:  # any bytes at all: unreadable, and the stream decides
        raise SnapshotUnreadable(f"not a snapshot: {type(error).__name__}: {error}") from error
    finally:
        if collecting:
            gc.enable()
    expected = {item.name for item in dataclasses.fields(ProjectState)}
    if not isinstance(held, dict) or set(held) != expected:
        raise SnapshotUnreadable("not a snapshot of this shape of project state")
    state = ProjectState.__new__(ProjectState)
    vars(state).update(held)
    if state.offer_date is not None:
        state.rules = rule_set_for(state.offer_date)
    return state


def same_state(left: ProjectState, right: ProjectState) -> bool:
    """Whether two folds hold the same figures, caches aside (`verify --projections`)."""
    ignored = set(_RECOMPUTED) | {"keys", "track_keys"}
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


def loaded_states(found: Mapping[str, tuple[int, bytes]]) -> dict[str, ProjectState]:
    """Each project's state from its snapshot (version, bytes) as a store found it; a snapshot that
    cannot be read, or is not of its project and version, is passed over (the stream decides)."""
    states: dict[str, ProjectState] = {}
    for project, (version, data) in found.items():
        try:
            state = load_state(data)
        except SnapshotUnreadable:
            continue
        if state.project == project and state.version == version:
            states[project] = state
    return states

"""An event as the ledger holds it: the submitted event plus version, position, time and hash;
and the one loop that folds a stream of them into a project (`fold_recorded`, `fold_events`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ktpledger.domain.chain import ChainLink, format_instant
from ktpledger.domain.errors import UnreadableEvent, cause_of
from ktpledger.domain.events import Event, payload_from_data

# What takes one event into a fold: `ProjectState.apply`, `LiveProject.apply` (alerts worked out
# event by event) or `LiveProject.fold` (not), or a caller's step around one of them.
FoldStep = Callable[[Event, int, str], object]


@dataclass(frozen=True)
class RecordedEvent:
    """One row of the ledger. `data` is the canonical JSON text that was hashed."""

    position: int
    project: str
    version: int
    type: str
    schema_version: int
    key: str
    date: date
    data: str
    recorded_at: datetime
    prev_hash: str
    hash: str

    def link(self) -> ChainLink:
        return ChainLink(
            project=self.project,
            version=self.version,
            type=self.type,
            schema_version=self.schema_version,
            key=self.key,
            date=self.date.isoformat(),
            recorded_at=format_instant(self.recorded_at),
            data=self.data,
            prev=self.prev_hash,
        )

    def event(self) -> Event:
        """The domain event, rebuilt from the canonical data; `UnreadableEvent` naming this row if
        it cannot be (its data is not JSON, its type unknown, a field missing or malformed)."""
        try:
            data = json.loads(self.data)
        except ValueError as error:
            raise unreadable(self, ValueError(f"its data is not JSON ({error})")) from error
        if not isinstance(data, dict):
            raise unreadable(self, ValueError("its data is not a JSON object"))
        try:
            return Event(
                project=self.project,
                key=self.key,
                date=self.date,
                payload=payload_from_data(self.type, data),
            )
        except Exception as error:
            raise unreadable(self, error) from error

    def to_json(self) -> dict[str, Any]:
        """A recorded event (docs/events.md): the submitted fields plus version, position, recorded_at, hash.
        Data that is not JSON is shown as it is stored, in `data_text` (`data` is then null)."""
        shown: dict[str, Any] = {
            "type": self.type,
            "project": self.project,
            "key": self.key,
            "date": self.date.isoformat(),
            "data": None,
            "version": self.version,
            "position": self.position,
            "recorded_at": format_instant(self.recorded_at),
            "hash": self.hash,
            "prev_hash": self.prev_hash,
            "schema_version": self.schema_version,
        }
        try:
            shown["data"] = json.loads(self.data)
        except ValueError:
            shown["data_text"] = self.data
        return shown


def unreadable(item: RecordedEvent, error: BaseException) -> UnreadableEvent:
    """`error`, met reading or folding `item`, as the refusal that names `item`'s row."""
    if isinstance(error, UnreadableEvent):
        if error.position is not None or (error.project, error.version) != (item.project, item.version):
            return error
        cause = error.cause
    else:
        cause = cause_of(error)
    return UnreadableEvent(item.project, item.version, item.position, item.type, cause)


@contextmanager
def located(stream: Iterable[RecordedEvent]) -> Iterator[None]:
    """Give an `UnreadableEvent` raised in the block by a fold that was handed (event, version,
    hash) rather than rows the position of its row in `stream`."""
    try:
        yield
    except UnreadableEvent as error:
        if error.position is not None:
            raise
        for item in stream:
            if (item.project, item.version) == (error.project, error.version):
                raise unreadable(item, error) from error
        raise


def fold_recorded(recorded: Iterable[RecordedEvent], step: FoldStep, *, until: date | None = None) -> None:
    """Fold the rows of one project's stream, in version order, through `step` (with `until`, only
    the events dated on or before it; every row is still read). A row that cannot be read or folded
    raises `UnreadableEvent` naming it, the fold then being up to the row before."""
    for item in recorded:
        try:
            event = item.event()
            if until is None or event.date <= until:
                step(event, item.version, item.hash)
        except Exception as error:  # a `ProjectState` refuses only with `UnreadableEvent`
            raise unreadable(item, error) from error


def fold_events(
    events: Iterable[tuple[Event, int, str]], step: FoldStep, *, until: date | None = None
) -> None:
    """`fold_recorded` of (event, version, hash) already read: a fold that fails names its project
    and version only (`located` adds the row's position)."""
    for event, version, event_hash in events:
        if until is None or event.date <= until:
            step(event, version, event_hash)

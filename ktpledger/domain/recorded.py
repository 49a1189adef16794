"""An event as the ledger holds it: the submitted event plus version, position, time, who recorded
it (`RecordedBy`) and hash; and the one loop that folds a stream of them into a project (`fold_recorded`, `fold_events`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from ktpledger.domain.chain import ChainLink, canonical_json, format_instant
from ktpledger.domain.errors import RuleViolation, UnreadableEvent, cause_of
from ktpledger.domain.events import Event, made_event, payload_from_data
from ktpledger.domain.input_rules import text_problem

# How an event reached the ledger: the HTTP API (`POST /events`), the command line (`record`,
# `demo`), an import of a finance export (`ktpledger import`, `POST /imports`), or the dashboard
# (its forms, to come).
Channel = Literal["api", "cli", "import", "dashboard"]
CHANNELS: tuple[str, ...] = get_args(Channel)
NAME_LIMIT = 200


@dataclass(frozen=True)
class RecordedBy:
    """Who recorded an event, as stored with it and covered by its hash (chain version 2): a
    token's label and role over the HTTP API; the operating-system user (or `--as NAME`) on the
    command line, where there is no token and so no role (None). Made by `recorded_by`, which
    refuses a name that cannot be stored (R-30)."""

    name: str
    role: str | None
    channel: Channel

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "channel": self.channel}

    def canonical(self) -> str:
        """The text stored in `events.recorded_by` and hashed."""
        return canonical_json(self.to_json())


def recorded_by(name: str, role: str | None, channel: str, *, field: str = "--as") -> RecordedBy:
    """A `RecordedBy`, or R-30 naming `field` if the name is empty, over 200 characters or holds a
    control character, or the channel is not one of `CHANNELS`."""
    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > NAME_LIMIT:
        problem = f"is {len(name)} characters long; at most {NAME_LIMIT}"
    elif not name.isprintable():
        # Stricter than other text: a name is shown in one table cell, so no tab nor new line.
        problem = f"holds {text_problem(name) or 'a tab or line break; remove it'}"
    if problem is not None:
        raise RuleViolation("R-30", f"{field}: the name of who records {problem}", field=field)
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    return RecordedBy(name, role, channel)  # type: ignore[arg-type]  # checked just above


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
    chain_version: int = 1  # which link document `hash` is of (`domain/chain.py`)
    recorded_by: str | None = None  # canonical JSON text of `RecordedBy.to_json`, or None

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
            chain_version=self.chain_version,
            recorded_by=self.recorded_by,
        )

    def event(self) -> Event:
        """The domain event, rebuilt from the canonical data; `UnreadableEvent` naming this row if
        it cannot be (its data is not JSON, its type unknown, a field missing or malformed)."""
        try:
            data = _json_of(self.data)
        except ValueError as error:
            raise unreadable(self, ValueError(f"its data is not JSON ({error})")) from error
        if not isinstance(data, dict):
            raise unreadable(self, ValueError("its data is not a JSON object"))
        try:
            payload = payload_from_data(self.type, data)
        except Exception as error:
            raise unreadable(self, error) from error
        return made_event(self.project, self.key, self.date, payload)

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
            "chain_version": self.chain_version,
            "recorded_by": None,
        }
        try:
            shown["data"] = json.loads(self.data)
        except ValueError:
            shown["data_text"] = self.data
        if self.recorded_by is not None:
            try:
                shown["recorded_by"] = json.loads(self.recorded_by)
            except ValueError:
                shown["recorded_by_text"] = self.recorded_by  # as stored (`verify` names the row)
        return shown

    def recorder(self) -> dict[str, Any] | None:
        """Who recorded the event (`RecordedBy.to_json`), or None when it was not recorded
        (chain version 1) or cannot be read (`verify` names such a row)."""
        if self.recorded_by is None:
            return None
        try:
            found = json.loads(self.recorded_by)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def recorder_name(self) -> str:
        """Who recorded the event, for a table cell: the name, or "" when not recorded (chain
        version 1, or an append that did not say)."""
        if self.recorded_by is None:
            return ""
        try:
            found = json.loads(self.recorded_by)
        except ValueError:
            return "?"
        name = found.get("name") if isinstance(found, dict) else None
        return name if isinstance(name, str) else "?"


# The C scanner `json.loads` ends in, called directly: `loads` wraps it in three Python calls and
# a whitespace regex (1.3 us a row against 0.4, for every row any reader folds: issue 18). A row's
# data is canonical JSON (`canonical_json`), nothing around it. One scanner for every thread, as
# `json.loads`'s own default decoder is: it runs no Python code while it scans. (An attribute each
# decoder sets itself, untyped in the stubs: read through `vars`.)
_scan_json: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def _json_of(text: str) -> Any:
    """`json.loads(text)`, the same value or the same error: what the scanner does not take whole
    (text around the value, or not JSON) goes to `json.loads`, which reads it or says why not."""
    try:
        value, end = _scan_json(text, 0)
    except Exception:  # noqa: BLE001 - any failure: json.loads raises its own error for it
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


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

"""The tamper-evident hash chain of a project's stream (docs/events.md, `hash`).

Each recorded event's hash is the SHA-256, in lower-case hex, of the UTF-8 bytes of a canonical
JSON object: keys sorted, no whitespace (separators "," and ":"), non-ASCII characters as
themselves. Which object depends on the row's `chain_version` (stored with it):

chain version 1 (every event recorded before migration 0012):

    {"data": <the event's canonical data>, "date": "YYYY-MM-DD", "key": ..., "prev": <hash of the
     project's previous event, "" for version 1>, "project": ..., "recorded_at":
     "YYYY-MM-DDTHH:MM:SS.ffffffZ", "schema_version": 1, "type": ..., "version": n}

chain version 2 (since migration 0012): the same, plus who recorded the event and the chain
version itself, each in its place in key order:

    {"chain_version": 2, "data": ..., "date": ..., "key": ..., "prev": ..., "project": ...,
     "recorded_at": ..., "recorded_by": {"channel": ..., "name": ..., "role": ...} or null,
     "schema_version": ..., "type": ..., "version": n}

The data and `recorded_by` are stored as exactly the canonical text hashed here, so anyone can
re-check a chain with nothing but `sha256` and a JSON encoder. The global position is not hashed:
the database assigns it at insert. A project's chain may hold rows of both versions (the older
first); each row is checked against the document of its own version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

# Exactly what `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` builds
# on each call, made once (an encoder keeps no state between calls).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

CHAIN_VERSION = 2  # the link document of every event recorded now (see above)
CHAIN_VERSIONS = (1, 2)


def canonical_json(value: Any) -> str:
    """The one JSON text of `value` that is hashed and stored."""
    return _CANONICAL.encode(value)


def format_instant(moment: datetime) -> str:
    """UTC with microseconds and a Z, the form `recorded_at` is hashed in."""
    if moment.tzinfo is UTC and moment.year >= 1000:
        # The usual case (an append's `datetime.now(UTC)`): written as it is, its "+00:00" cut off,
        # in a third of the time of the conversions below (issue 18).
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime does not pad the year to four digits; isoformat does
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class ChainLink:
    """The hashed fields of one recorded event."""

    project: str
    version: int
    type: str
    schema_version: int
    key: str
    date: str
    recorded_at: str
    data: str  # canonical JSON text
    prev: str
    chain_version: int = 1
    recorded_by: str | None = None  # canonical JSON text (chain version 2), None for null

    def digest(self) -> str:
        return link_digest(
            self.project,
            self.version,
            self.type,
            self.schema_version,
            self.key,
            self.date,
            self.recorded_at,
            self.data,
            self.prev,
            chain_version=self.chain_version,
            recorded_by=self.recorded_by,
        )


def link_digest(
    project: str,
    version: int,
    event_type: str,
    schema_version: int,
    key: str,
    date: str,
    recorded_at: str,
    data: str,
    prev: str,
    *,
    chain_version: int = 1,
    recorded_by: str | None = None,
) -> str:
    """`ChainLink(...).digest()` without building the link. The text encoders are the ones
    `json.dumps(text)` (ASCII-escaped) and `json.dumps(text, ensure_ascii=False)` call for a string.
    `recorded_by` (canonical JSON text, None for null) is hashed only in chain version 2; a chain
    version this code does not know is a ValueError (the row cannot be checked)."""
    if chain_version == 1:
        head, by = '{"data":', ""
    elif chain_version == 2:
        head = '{"chain_version":2,"data":'
        by = ',"recorded_by":' + ("null" if recorded_by is None else recorded_by)
    else:
        raise ValueError(f"chain version {chain_version} is not one this ktpledger knows (1 or 2)")
    # One f-string, not a tuple joined: 0.4-0.5 us less an event (of ~2.5), for every row an
    # append writes and every row `verify` checks (issue 18). Each value as `str` writes it.
    document = (
        f'{head}{data},"date":{encode_basestring_ascii(date)},"key":{encode_basestring(key)}'
        f',"prev":{encode_basestring_ascii(prev)},"project":{encode_basestring(project)}'
        f',"recorded_at":{encode_basestring_ascii(recorded_at)}{by}'
        f',"schema_version":{schema_version},"type":{encode_basestring_ascii(event_type)}'
        f',"version":{version}}}'
    )
    return hashlib.sha256(document.encode("utf-8")).hexdigest()

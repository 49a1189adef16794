"""The tamper-evident hash chain of a project's stream (docs/events.md, `hash`).

Each recorded event's hash is the SHA-256, in lower-case hex, of the UTF-8 bytes of this canonical
JSON object: keys sorted, no whitespace (separators "," and ":"), non-ASCII characters as
themselves:

    {"data": <the event's canonical data>, "date": "YYYY-MM-DD", "key": ..., "prev": <hash of the
     project's previous event, "" for version 1>, "project": ..., "recorded_at":
     "YYYY-MM-DDTHH:MM:SS.ffffffZ", "schema_version": 1, "type": ..., "version": n}

The data is stored as exactly the canonical text hashed here, so anyone can re-check a chain with
nothing but `sha256` and a JSON encoder. The global position is not hashed: the database assigns
it at insert.
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


def canonical_json(value: Any) -> str:
    """The one JSON text of `value` that is hashed and stored."""
    return _CANONICAL.encode(value)


def format_instant(moment: datetime) -> str:
    """UTC with microseconds and a Z, the form `recorded_at` is hashed in."""
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
) -> str:
    """`ChainLink(...).digest()` without building the link. The text encoders are the ones
    `json.dumps(text)` (ASCII-escaped) and `json.dumps(text, ensure_ascii=False)` call for a string."""
    document = "".join(
        (
            '{"data":',
            data,
            ',"date":',
            encode_basestring_ascii(date),
            ',"key":',
            encode_basestring(key),
            ',"prev":',
            encode_basestring_ascii(prev),
            ',"project":',
            encode_basestring(project),
            ',"recorded_at":',
            encode_basestring_ascii(recorded_at),
            ',"schema_version":',
            str(schema_version),
            ',"type":',
            encode_basestring_ascii(event_type),
            ',"version":',
            str(version),
            "}",
        )
    )
    return hashlib.sha256(document.encode("utf-8")).hexdigest()

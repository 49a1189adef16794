"""The tamper-evident hash chain of a project's stream (CONTRACT.md, `hash`).

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
from typing import Any


def canonical_json(value: Any) -> str:
    """The one JSON text of `value` that is hashed and stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_instant(moment: datetime) -> str:
    """UTC with microseconds and a Z, the form `recorded_at` is hashed in."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        document = (
            '{"data":'
            + self.data
            + ',"date":'
            + json.dumps(self.date)
            + ',"key":'
            + json.dumps(self.key, ensure_ascii=False)
            + ',"prev":'
            + json.dumps(self.prev)
            + ',"project":'
            + json.dumps(self.project, ensure_ascii=False)
            + ',"recorded_at":'
            + json.dumps(self.recorded_at)
            + ',"schema_version":'
            + str(self.schema_version)
            + ',"type":'
            + json.dumps(self.type)
            + ',"version":'
            + str(self.version)
            + "}"
        )
        return hashlib.sha256(document.encode("utf-8")).hexdigest()

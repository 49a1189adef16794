"""An event as the ledger holds it: the submitted event plus version, position, time and hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ktpledger.domain.chain import ChainLink, format_instant
from ktpledger.domain.events import Event, payload_from_data


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
        """The domain event, rebuilt from the canonical data."""
        return Event(
            project=self.project,
            key=self.key,
            date=self.date,
            payload=payload_from_data(self.type, json.loads(self.data)),
        )

    def to_json(self) -> dict[str, Any]:
        """CONTRACT.md's recorded event: the submitted fields plus version, position, recorded_at, hash."""
        return {
            "type": self.type,
            "project": self.project,
            "key": self.key,
            "date": self.date.isoformat(),
            "data": json.loads(self.data),
            "version": self.version,
            "position": self.position,
            "recorded_at": format_instant(self.recorded_at),
            "hash": self.hash,
            "prev_hash": self.prev_hash,
            "schema_version": self.schema_version,
        }

"""Delivery ids: one stable id per message, so a receiver can drop the repeats at-least-once delivery
may send (a worker that dies after the channel accepted a message and before it recorded that).

A message is one alert on one channel. Its id is the same on every attempt, retry and resend, and
is derived from what the alert *is*, never from its row id: `ktpledger replay` may number alerts
afresh, and a new alert must never inherit an id an earlier one was sent with.

- a KTP alert is one crossing of a condition: (project, category, kind, subject, raised_at_version),
  the key the projection keeps unique (`uq_alerts_crossing`);
- a system alert is one raise of a kind about a subject: (kind, subject, raised_at).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from ktpledger.domain.chain import format_instant

ID_HEX = 32  # 128 bits of SHA-256: collisions are out of reach for any ledger


def _digest(parts: list[object]) -> str:
    canonical = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_HEX]


def alert_delivery_id(
    *, project: str, category: str, kind: str, subject: str, raised_at_version: int, channel: str
) -> str:
    """`ktp-` and 32 hex digits: the id of a KTP alert's message on `channel`."""
    return "ktp-" + _digest(["alert", project, category, kind, subject, int(raised_at_version), channel])


def system_delivery_id(*, kind: str, subject: str, raised_at: datetime, channel: str) -> str:
    """`sys-` and 32 hex digits: the id of a system alert's message on `channel`. `raised_at` is
    read as UTC when naive (as SQLite returns it), to the microsecond."""
    return "sys-" + _digest(["system", kind, subject, format_instant(raised_at), channel])

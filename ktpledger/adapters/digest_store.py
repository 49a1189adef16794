"""The digests table's reads and writes (`digest_tables.digests`): what the digest service needs,
on either database, with no locks held while a message is sent.

- `insert`: a composed digest, or nothing when its (recipient, period_end) is there already;
- `claim`: a conditional UPDATE (status pending, due, `attempts` unchanged) that one caller wins,
  however many try at once: two beat schedulers never send the same digest together;
- `finish`: the outcome, fenced by the claim's `attempts`, as the outboxes' finish is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from ktpledger.adapters.database import Database
from ktpledger.adapters.digest_tables import digests
from ktpledger.adapters.errors import WriteConflict


@dataclass(frozen=True)
class DigestRow:
    id: int
    recipient: str
    every: str
    period_start: date
    period_end: date
    as_of: date
    status: str
    subject: str
    body_text: str
    body_html: str
    counts: dict[str, int]
    delivery_id: str
    attempts: int
    next_attempt_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


def _row(found: Any) -> DigestRow:
    return DigestRow(
        id=int(found.id),
        recipient=found.recipient,
        every=found.every,
        period_start=found.period_start,
        period_end=found.period_end,
        as_of=found.as_of,
        status=found.status,
        subject=found.subject,
        body_text=found.body_text,
        body_html=found.body_html,
        counts=dict(json.loads(found.counts)),
        delivery_id=found.delivery_id,
        attempts=int(found.attempts),
        next_attempt_at=found.next_attempt_at,
        first_attempt_at=found.first_attempt_at,
        last_attempt_at=found.last_attempt_at,
        delivered_at=found.delivered_at,
        failed_at=found.failed_at,
        last_error=found.last_error,
    )


_COLUMNS = [c for c in digests.c if c.name != "snapshot"]


class DigestStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def composed(self, recipient: str, period_end: date) -> bool:
        """Whether the recipient's digest for the period ending `period_end` is there already."""
        c = digests.c
        query = select(c.id).where(and_(c.recipient == recipient, c.period_end == period_end))
        with self.database.read() as connection:
            return connection.execute(query).first() is not None

    def last_snapshot(self, recipient: str, before: date) -> dict[str, Any] | None:
        """The snapshot of the recipient's latest digest of a period ending before `before`
        (None: there is none, the next is their first)."""
        c = digests.c
        query = (
            select(c.snapshot)
            .where(and_(c.recipient == recipient, c.period_end < before))
            .order_by(c.period_end.desc())
            .limit(1)
        )
        with self.database.read() as connection:
            found = connection.execute(query).scalar_one_or_none()
        return None if found is None else dict(json.loads(found))

    def insert(self, row: dict[str, Any]) -> bool:
        """Insert a composed digest; False when its (recipient, period_end) was there already."""
        values = {**row, "counts": json.dumps(row["counts"], sort_keys=True)}
        values["snapshot"] = json.dumps(row["snapshot"], sort_keys=True)
        try:
            with self.database.projection() as connection:
                connection.execute(digests.insert(), values)
                connection.commit()
        except (WriteConflict, IntegrityError):
            return False  # composed by another scheduler or an earlier run: never twice
        return True

    def due(self, now: datetime, limit: int) -> list[DigestRow]:
        c = digests.c
        query = (
            select(*_COLUMNS)
            .where(and_(c.status == "pending", c.next_attempt_at <= now))
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        with self.database.read() as connection:
            return [_row(found) for found in connection.execute(query)]

    def claim(self, row: DigestRow, *, now: datetime, lease_until: datetime) -> bool:
        """Take a due row for this caller: True for exactly one of the callers that try."""
        c = digests.c
        statement = (
            digests.update()
            .where(and_(c.id == row.id, c.status == "pending", c.attempts == row.attempts))
            .values(
                attempts=row.attempts + 1,
                first_attempt_at=row.first_attempt_at or now,
                last_attempt_at=now,
                next_attempt_at=lease_until,
            )
        )
        with self.database.projection() as connection:
            taken = connection.execute(statement).rowcount == 1
            connection.commit()
        return taken

    def finish(
        self,
        row_id: int,
        *,
        attempts: int,
        status: str,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        c = digests.c
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "delivered":
            values["delivered_at"] = now
        elif status == "failed":
            values["failed_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        statement = digests.update().where(and_(c.id == row_id, c.attempts == attempts)).values(**values)
        with self.database.projection() as connection:
            connection.execute(statement)
            connection.commit()

    def listed(self, limit: int = 100) -> list[DigestRow]:
        c = digests.c
        query = select(*_COLUMNS).order_by(c.period_end.desc(), c.recipient).limit(limit)
        with self.database.read() as connection:
            return [_row(found) for found in connection.execute(query)]

    def of(self, ids: Sequence[int]) -> list[DigestRow]:
        c = digests.c
        query = select(*_COLUMNS).where(c.id.in_(list(ids))).order_by(c.id)
        with self.database.read() as connection:
            return [_row(found) for found in connection.execute(query)]

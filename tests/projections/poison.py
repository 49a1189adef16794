"""Rows the ledger cannot read, written straight into the `events` table with a valid hash chain:
what a ledger written by an older version, a rule that changed or a hand edit leaves behind. They
bypass validation altogether, so these tests never depend on the door refusing them.

The kinds (`KINDS`), each on project `POISONED`:
- `year_9999`: a GrantOffered starting 9999-06-01 for 36 months (the period's end overflows);
- `refused_offer`: a GrantOffered dated 2020-01-01, before any rule set ktpledger knows;
- `not_json`, `unknown_type`, `not_decimal`, `missing_field`: a claim's row with data that is not
  JSON, a type no version knows, an amount that is not a decimal, no category.

An offer kind is the project's first event (version 1); a claim kind follows a good offer (v1) and
a good claim (v2, its own append) as version 3, and a good claim (v4) follows it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ktpledger.adapters import ledger_store
from ktpledger.adapters.tables import events
from ktpledger.bootstrap import App
from ktpledger.domain.chain import canonical_json, format_instant, link_digest
from ktpledger.domain.events import Event, GrantOffered, SpendClaimed
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import BusinessType, Category, Methodology
from ktpledger.service.ledger import new_row
from tests.ledger.factory import claim, offer

POISONED = "KTP-POISON"
HEALTHY = ("KTP-H1", "KTP-H2")
OFFER_KINDS = ("year_9999", "refused_offer")
CLAIM_KINDS = ("not_json", "unknown_type", "not_decimal", "missing_field")
KINDS = OFFER_KINDS + CLAIM_KINDS
TRAVEL = "travel_subsistence"


def head(app: App, project: str) -> tuple[int, str]:
    """The project's latest version and hash (0 and "" before its first event)."""
    with app.database.read() as connection:
        row = connection.execute(
            select(events.c.version, events.c.hash)
            .where(events.c.project == project)
            .order_by(events.c.version.desc())
            .limit(1)
        ).first()
    return (0, "") if row is None else (int(row.version), row.hash)


def write_event(app: App, event: Event) -> int:
    """Append `event` as the next row of its project with `new_row` (a valid chain), unchecked;
    its position."""
    version, prev = head(app, event.project)
    state = ProjectState(project=event.project, version=version, head_hash=prev)
    now = _later_than_anything()
    return _insert(app, new_row(event, state, now, format_instant(now)))


def write_raw(app: App, project: str, event_type: str, data: str, *, key: str, on: str = "2025-01-15") -> int:
    """Append a row whose `data` is `data` exactly (JSON or not) and whose type is `event_type`,
    chained to the project's head with a valid hash; its position."""
    version, prev = head(app, project)
    now = _later_than_anything()
    recorded_at = format_instant(now)
    row = {
        "project": project,
        "version": version + 1,
        "type": event_type,
        "schema_version": 1,
        "key": key,
        "date": date.fromisoformat(on),
        "data": data,
        "recorded_at": now,
        "prev_hash": prev,
        "hash": link_digest(project, version + 1, event_type, 1, key, on, recorded_at, data, prev),
        "chain_version": 1,  # the link document without recorded_by: a valid chain all the same
        "recorded_by": None,
    }
    return _insert(app, row)


_LAST: list[datetime] = []


def _later_than_anything() -> datetime:
    """A `recorded_at` of its own: each row written here is an append of its own."""
    now = datetime.now(UTC)
    if _LAST and now <= _LAST[-1]:
        now = _LAST[-1] + timedelta(microseconds=1)
    _LAST[:] = [now]
    return now


def _insert(app: App, row: dict[str, Any]) -> int:
    with app.database.write() as connection:
        ledger_store.insert(connection, [row])
        connection.commit()
    with app.database.read() as connection:
        position = connection.execute(
            select(events.c.position).where(
                events.c.project == row["project"], events.c.version == row["version"]
            )
        ).scalar_one()
    return int(position)


def bad_offer(kind: str) -> Event:
    """The offer of an offer kind, built without parsing (nothing refuses it)."""
    start, months, on = date(2024, 10, 1), 24, date(2024, 9, 2)
    if kind == "year_9999":
        start, months, on = date(9999, 6, 1), 36, date(2024, 9, 2)
    elif kind == "refused_offer":
        start, on = date(2020, 4, 1), date(2020, 1, 1)
    payload = GrantOffered(
        title="Poisoned",
        knowledge_base="University of Example",
        business="Crumb & Co Ltd",
        methodology=Methodology.FEC,
        business_type=BusinessType.SME,
        virtual=False,
        london=False,
        start=start,
        months=months,
        budget={Category.TRAVEL_SUBSISTENCE: Decimal(2500), Category.CONSUMABLES: Decimal(4000)},
    )
    return Event(project=POISONED, key="offer", date=on, payload=payload)


def bad_claim_row(kind: str) -> tuple[str, str]:
    """(type, data) of a claim kind's row."""
    good = {"category": TRAVEL, "amount": "50.00", "description": "poison", "tags": []}
    if kind == "not_json":
        return "SpendClaimed", '{"category": "travel_subsistence", "amount": '
    if kind == "unknown_type":
        return "GrantWithdrawn", canonical_json({"reason": "a type no version of ktpledger knows"})
    if kind == "not_decimal":
        return "SpendClaimed", canonical_json({**good, "amount": "12.3.4"})
    if kind == "missing_field":
        return "SpendClaimed", canonical_json(
            {key: value for key, value in good.items() if key != "category"}
        )
    raise ValueError(kind)


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert [r.status for r in results] == ["recorded"] * len(items), [r.to_json() for r in results]


def record_healthy(app: App) -> None:
    """Each healthy project: the factory's offer (v1) and a 100.00 consumables claim (v2)."""
    for project in HEALTHY:
        record(app, [offer(project)])
        record(app, [claim("c1", "100.00", project=project)])


def poison(app: App, kind: str) -> int:
    """Write `POISONED`'s events for `kind` (docstring above); the poisoned row's position.

    A claim kind's good prefix is recorded through the ledger: the offer (v1), then a 2,100.00
    travel claim (v2, its own append), 84% of the 2,500 travel budget: a threshold 0.80 alert."""
    if kind in OFFER_KINDS:
        return write_event(app, bad_offer(kind))
    record(app, [offer(POISONED)])
    record(app, [claim("c1", "2100.00", category=TRAVEL, project=POISONED, date="2024-11-15")])
    event_type, data = bad_claim_row(kind)
    position = write_raw(app, POISONED, event_type, data, key="poison")
    after = SpendClaimed(Category.CONSUMABLES, Decimal("10.00"), "after the poison")
    write_event(app, Event(POISONED, "c2", date(2025, 1, 20), after))
    return position

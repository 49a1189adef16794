"""The project list's reads (`GET /projects`, `service/listing_inputs.py`): a mark that moves
whenever anything the list shows may have changed, and what changed since, each in one query and
none with a list of a thousand names in it.

The mark is the ledger's newest position and a tally of `projection_heads`. Appends hold the
events table's lock until they commit (`database.lock_events`), so once a position is seen every
event before it is too: the events after a mark are all the ledger added since. Every write of the
projector's rows (a catch-up, a quarantine and its retry, a replay) writes the projects' heads in the
same transaction, moving a version, a position, a status or an `updated_at`, so the tally moves
with them; the open alerts are written only in those transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select

from ktpledger.adapters.tables import alerts, events, projection_heads
from ktpledger.domain.statuses import FAILED, OPEN

Mark = tuple[Any, ...]

_h = projection_heads.c
_MARK = select(
    select(func.coalesce(func.max(events.c.position), 0)).scalar_subquery(),
    func.count(),
    func.coalesce(func.sum(_h.version), 0),
    func.coalesce(func.sum(_h.position), 0),
    func.coalesce(func.sum(case((_h.status == FAILED, 1), else_=0)), 0),
    func.coalesce(func.sum(func.coalesce(_h.failed_version, 0)), 0),
    func.max(_h.updated_at),
).select_from(projection_heads)

_later = events.alias("later")
_EVERY_HEAD = (
    select(
        events.c.project,
        select(func.max(_later.c.version)).where(_later.c.project == events.c.project).scalar_subquery(),
    )
    .where(events.c.version == 1)
    .order_by(events.c.project)
)
_HEADS_AFTER = (
    select(events.c.project, func.max(events.c.version))
    .where(events.c.position > bindparam("after"))
    .group_by(events.c.project)
)
_PROJECTIONS = select(
    _h.project, _h.version, _h.status, _h.error, _h.failed_version, _h.failed_position, _h.updated_at
)
_a = alerts.c
_OPEN_COUNTS = select(_a.project, func.count()).where(_a.status == OPEN).group_by(_a.project)
_OPEN_COUNTS_OF = (
    select(_a.project, func.count())
    .where(_a.status == OPEN, _a.project.in_(bindparam("names", expanding=True)))
    .group_by(_a.project)
)


def mark(connection: Connection) -> Mark:
    """The ledger's newest position (first), then the tally of the projections' heads."""
    return tuple(connection.execute(_MARK).one())


def ledger_heads(connection: Connection, *, after: int = 0) -> dict[str, int]:
    """The head version of each project with events after position `after`; with 0, of every
    project in the order of their names (as `ledger_store.projects`), read by the index of each
    project's versions, not by reading every event."""
    found = (
        connection.execute(_EVERY_HEAD) if after <= 0 else connection.execute(_HEADS_AFTER, {"after": after})
    )
    return {str(project): int(version) for project, version in found}


def projection_heads_rows(connection: Connection) -> list[tuple[Any, ...]]:
    """Every project's projection head: (project, version, status, error, failed_version,
    failed_position, updated_at)."""
    return [tuple(row) for row in connection.execute(_PROJECTIONS).all()]  # one fetch, not one a row


def open_counts(connection: Connection, names: Sequence[str] | None = None) -> dict[str, int]:
    """How many KTP alerts each project (of `names`; None: of all) has open; none left out."""
    if names is None:
        found = connection.execute(_OPEN_COUNTS).all()
    elif not names:
        return {}
    else:
        found = connection.execute(_OPEN_COUNTS_OF, {"names": list(names)}).all()
    return {str(project): int(count) for project, count in found}

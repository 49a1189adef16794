"""What the project list (`GET /projects`, `project_summary.project_list`) is made of, besides each
project's facts: every project's head version in the ledger, its projection's state as readers
show it (`Projector.states`) and its open alert count, kept per process and database.

A read while nothing changed is one query (`listing_reads.mark`); after a change it reads the
ledger's events after the last mark (their projects and heads) and, if the projector wrote, every
projection head (one query, no list of names) and the open alerts of the projects whose head row
changed. Each is read after the mark it is kept with, so what is kept is never older than its mark:
a change after the mark moves the next mark, and the next read reads it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ktpledger.adapters import listing_reads
from ktpledger.adapters.database import Database
from ktpledger.domain.statuses import FAILED, OK

MANY_CHANGED = 200  # more projects than this moved: count every project's open alerts at once
CAUGHT_UP_NOTHING: dict[str, Any] = {"status": OK, "version": 0}  # no head row yet (`states`)


# A project's part of the inputs: its head version in the ledger, its projection head row (None
# without one) and its open alert count. Kept as the same object while none of them changes, so a
# reader can tell what moved by identity (`project_summary.listed`).
Part = tuple[int, tuple[Any, ...] | None, int]


@dataclass(frozen=True)
class ListingInputs:
    """The ledger's and the projector's side of the list as of `mark` (or later: never older)."""

    mark: listing_reads.Mark
    heads: dict[str, int]  # every project with events, by name: its head version in the ledger
    rows: dict[str, tuple[Any, ...]]  # each projection head row (`listing_reads.projection_heads_rows`)
    projections: dict[str, dict[str, Any]]  # those rows as `Projector.states` shows them
    counts: dict[str, int]  # open KTP alerts; none for a project with none
    parts: dict[str, Part]  # each project's, by name, in the order of `heads`

    def projection(self, name: str) -> dict[str, Any]:
        found = self.projections.get(name)
        return dict(CAUGHT_UP_NOTHING) if found is None else found


def shown(row: tuple[Any, ...]) -> dict[str, Any]:
    """A projection head row as `projection_queries.states` shows it (the same keys, in order)."""
    _, version, status, error, failed_version, failed_position, _ = row
    found: dict[str, Any] = {"status": status, "version": int(version)}
    if status == FAILED:
        found.update(
            error=error,
            failed_version=failed_version,
            failed_position=None if failed_position is None else int(failed_position),
        )
    return found


class InputsCache:
    """The latest inputs read in this process, refreshed by one reader at a time."""

    def __init__(self) -> None:
        self.latest: ListingInputs | None = None
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.latest = None


def listing_inputs(database: Database, cache: InputsCache) -> ListingInputs:
    """The list's inputs now: those kept if the mark has not moved, else those kept brought up to
    date (module docstring); read whole on a process's first call."""
    with cache.lock, database.read() as connection:
        now = listing_reads.mark(connection)
        known = cache.latest
        if known is not None and known.mark == now:
            return known
        moved: set[str] = set()  # projects any part of which may have changed
        heads = None if known is None else known.heads
        if known is not None:
            later = listing_reads.ledger_heads(connection, after=int(known.mark[0]))
            moved.update(later)
            if later.keys() <= known.heads.keys():
                heads = {**known.heads, **later} if later else known.heads
            else:
                heads = None  # a new project: all read again, in the database's order of names
        if heads is None:
            heads = listing_reads.ledger_heads(connection)
        if known is not None and known.mark[1:] == now[1:]:
            rows, projections, counts = known.rows, known.projections, known.counts
        else:
            rows = {str(row[0]): row for row in listing_reads.projection_heads_rows(connection)}
            if known is None:
                projections = {name: shown(row) for name, row in rows.items()}
                counts = listing_reads.open_counts(connection)
            else:
                changed = {
                    name for name in rows.keys() | known.rows.keys() if rows.get(name) != known.rows.get(name)
                }
                moved.update(changed)
                projections = {
                    name: shown(row) if name in changed else known.projections[name]
                    for name, row in rows.items()
                }
                if len(changed) > MANY_CHANGED:
                    counts = listing_reads.open_counts(connection)
                else:
                    counts = {name: n for name, n in known.counts.items() if name not in changed}
                    counts.update(listing_reads.open_counts(connection, sorted(changed)))
        parts = {
            name: (
                known.parts[name]
                if known is not None and name not in moved and name in known.parts
                else (version, rows.get(name), counts.get(name, 0))
            )
            for name, version in heads.items()
        }
        cache.latest = ListingInputs(now, heads, rows, projections, counts, parts)
        return cache.latest

"""Finding work left behind: the projects behind the ledger, for the sweeper to wake.

A lost wake-up only delays: the sweeper wakes every project with events after its bookmark and
every project whose projection is behind the ledger (quarantined ones wait for a retry)."""

from __future__ import annotations

from datetime import UTC, datetime

from ktpledger.adapters.projection_store import ProjectionStore

SWEEPER = "sweeper"


def lagging(store: ProjectionStore, *, limit: int = 10_000) -> list[str]:
    """Projects whose projection is behind the ledger (the sweeper wakes these)."""
    with store.read() as unit:
        return unit.heads.lagging(limit)


def behind(store: ProjectionStore) -> int:
    """How many events the projections have still to fold in; the events of quarantined
    projects are not counted (they wait for a retry: `quarantined()` lists them)."""
    with store.read() as unit:
        return unit.heads.behind()


def changed_since_sweep(store: ProjectionStore, *, limit: int = 50_000) -> tuple[set[str], int]:
    """Projects with events after the sweeper's bookmark, and the new bookmark (not yet saved)."""
    with store.read() as unit:
        position = unit.tracker.position(SWEEPER)
        recent = unit.events.read_after(position, limit=limit)
    if not recent:
        return set(), position
    return {item.project for item in recent}, recent[-1].position


def save_sweep(store: ProjectionStore, position: int) -> None:
    """Save the sweeper's bookmark (never moved back)."""
    with store.write() as unit:
        unit.tracker.advance(SWEEPER, position, datetime.now(UTC))
        unit.commit()

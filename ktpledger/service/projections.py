"""Projections: each project's allowances and alerts, derived from the ledger alone.

`Projector` is the one object the entry points hold; each of its methods is a job of its own module,
all speaking to the projection store port (`adapters/projection_store.py`), never to a database:

- `catch_up.py`: a wake-up's catch-up (and a quarantine found on the way);
- `quarantine.py`: refolding a project, `retry`, the `projection_failed` system alert;
- `replay.py`: every projection rebuilt, folded in parallel for a large ledger;
- `sweeper.py`: the projects left behind, and the sweeper's bookmark;
- `projection_queries.py`: allowance reports, alerts and projection states for readers;
- `projection_fold.py`, `projection_rows.py`, `projection_views.py`: the fold, its rows, their JSON.

The names callers import from here are kept here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.domain.money import PENNY, from_pence, to_pence
from ktpledger.domain.statuses import FAILED, OK
from ktpledger.service import catch_up as catching_up
from ktpledger.service import projection_queries as queries
from ktpledger.service import quarantine, sweeper
from ktpledger.service import replay as replaying
from ktpledger.service.catch_up import CatchUp
from ktpledger.service.projection_context import WARM_CACHE_BYTES, Projections, Warm, WarmCache
from ktpledger.service.projection_fold import REPLAY_CHUNK, FoldedRows, fold_projects
from ktpledger.service.projection_rows import alert_row, line_from_row, line_row
from ktpledger.service.projection_views import AllowanceReport, alert_json, allowance_json, comparable
from ktpledger.service.quarantine import CAUGHT_UP, REPLAYED, RETRIED, Retried
from ktpledger.service.replay import PARALLEL_REPLAY_FROM
from ktpledger.service.sweeper import SWEEPER
from ktpledger.settings import RENOTIFY_AFTER_HOURS

__all__ = [
    "CAUGHT_UP",
    "FAILED",
    "OK",
    "PARALLEL_REPLAY_FROM",
    "PENNY",
    "RENOTIFY_AFTER",
    "REPLAYED",
    "REPLAY_CHUNK",
    "RETRIED",
    "SWEEPER",
    "AllowanceReport",
    "CatchUp",
    "FoldedRows",
    "Projector",
    "Retried",
    "Warm",
    "alert_json",
    "alert_row",
    "allowance_json",
    "comparable",
    "fold_projects",
    "from_pence",
    "line_from_row",
    "line_row",
    "to_pence",
]

# An alert raised again this soon after the same alert resolved is recorded but not notified.
RENOTIFY_AFTER = timedelta(hours=RENOTIFY_AFTER_HOURS)


class Projector:
    """Keeps the projections current with the ledger, and reads them.

    `store` is the projection store to use; without one, the store of `database`'s backend (the
    composition root will pass it, issue 12). A store of its own needs no `database` (the tests'
    in-memory store)."""

    def __init__(
        self,
        database: Database | None,
        channels: Sequence[str] = ("log",),
        *,
        warm_bytes: int = WARM_CACHE_BYTES,
        renotify_after: timedelta = RENOTIFY_AFTER,
        store: ProjectionStore | None = None,
        channel_kinds: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        if store is None:
            if database is None:
                raise ValueError("a Projector needs a database or a projection store")
            store = projection_store(database)
        self.database = database
        self.projections = Projections(
            store=store,
            channels=tuple(channels),
            # A raise within this long of the same alert's resolution is recorded but not notified.
            renotify_after=renotify_after,
            channel_kinds=dict(channel_kinds or {}),
            warm=WarmCache(warm_bytes),
        )

    @property
    def store(self) -> ProjectionStore:
        return self.projections.store

    @property
    def channels(self) -> tuple[str, ...]:
        return self.projections.channels

    @property
    def renotify_after(self) -> timedelta:
        return self.projections.renotify_after

    @renotify_after.setter
    def renotify_after(self, value: timedelta) -> None:
        self.projections.renotify_after = value

    # --- catching up, quarantine -----------------------------------------------------------------

    def catch_up(self, project: str) -> CatchUp:
        """Fold the project's new events into its projection; safe to call any number of times."""
        return self.catch_up_many([project])[0]

    def catch_up_many(self, projects: Iterable[str], also: Iterable[str] = ()) -> list[CatchUp]:
        """Catch several projects up in one transaction, and those of `also` that no other
        transaction holds (`catch_up.catch_up_many`)."""
        return catching_up.catch_up_many(self.projections, projects, also)

    def retry(self, projects: Iterable[str] | None = None) -> list[Retried]:
        """Refold `projects` (None: every quarantined one) from their whole streams (`quarantine.retry`)."""
        return quarantine.retry(self.projections, projects)

    # --- reading ---------------------------------------------------------------------------------

    def states(self, projects: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each project's projection status and version (`projection_queries.states`)."""
        return queries.states(self.store, projects)

    def quarantined(self) -> list[dict[str, Any]]:
        """The quarantined projects, with the row that stopped each and the refusal naming it."""
        return queries.quarantined(self.store)

    def allowances(self, project: str, *, as_of: date | None = None) -> AllowanceReport:
        """Current figures from the projection; past figures (`as_of`) from the ledger's events
        dated on or before that day."""
        return queries.allowances(self.store, project, as_of=as_of)

    def open_alert_counts(self) -> dict[str, int]:
        """How many KTP alerts each project has open (projects with none left out)."""
        return queries.open_counts(self.store)

    def alerts(self, project: str | None = None, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Open alerts (and resolved ones with `include_resolved`), oldest first."""
        return queries.alerts(self.store, project, include_resolved=include_resolved)

    # --- finding work left behind ----------------------------------------------------------------

    def lagging(self, *, limit: int = 10_000) -> list[str]:
        """Projects whose projection is behind the ledger (the sweeper wakes these)."""
        return sweeper.lagging(self.store, limit=limit)

    def behind(self) -> int:
        """How many events the projections have still to fold in (quarantined projects' not counted)."""
        return sweeper.behind(self.store)

    def changed_since_sweep(self, *, limit: int = 50_000) -> tuple[set[str], int]:
        """Projects with events after the sweeper's bookmark, and the new bookmark (not yet saved)."""
        return sweeper.changed_since_sweep(self.store, limit=limit)

    def save_sweep(self, position: int) -> None:
        sweeper.save_sweep(self.store, position)

    # --- replay ----------------------------------------------------------------------------------

    def replay(self, *, processes: int | None = None) -> tuple[int, int]:
        """Rebuild every projection from the ledger alone: (events read, projects)."""
        # Read here, when called, so that setting this module's PARALLEL_REPLAY_FROM takes effect.
        return replaying.replay(self.projections, processes=processes, parallel_from=PARALLEL_REPLAY_FROM)

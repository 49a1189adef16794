"""`ktpledger replay`: every projection rebuilt from the ledger alone, folded in parallel when the
ledger is large enough to pay for the processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

from ktpledger.adapters.projection_store import ProjectionStore
from ktpledger.service.projection_context import Projections
from ktpledger.service.projection_fold import FoldedRows, fold_projects, in_raising_order, keep_identities
from ktpledger.service.quarantine import REPLAYED, raise_or_resolve
from ktpledger.service.system_alerts import PROJECTION_FAILED

PARALLEL_REPLAY_FROM = 50_000  # events; below this a second process costs more than it saves


def replay(
    projections: Projections, *, processes: int | None = None, parallel_from: int = PARALLEL_REPLAY_FROM
) -> tuple[int, int]:
    """Rebuild every projection from the ledger alone: (events read, projects).

    Projects fold independently, so a large ledger is folded by several processes, each reading
    its share of the projects' streams; the rows are written here in one unit of work that holds
    every catch-up out."""
    projections.warm.clear()
    now = datetime.now(UTC)
    with projections.store.write(exclusive=True) as unit:
        names = unit.events.projects()
        count = unit.events.count()
        workers = processes if processes is not None else min(os.cpu_count() or 1, 4)
        opener = projections.store.opener()
        if opener is not None and workers > 1 and count >= parallel_from and len(names) > 1:
            groups = [names[n::workers] for n in range(workers)]
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                parts = list(pool.map(fold_in_process, [opener] * workers, groups, [now] * workers))
        else:
            parts = [fold_projects(unit.events, names, now)]
        # Alerts keep the order they were raised in across the ledger, as the live run gives them,
        # and a crossing raised before keeps its id and times, so its notifications stay its own.
        alert_rows = in_raising_order(row for part in parts for row in part.alerts)
        keep_identities(unit.alerts, alert_rows)
        unit.rebuild_all(
            alert_rows,
            [row for part in parts for row in part.lines],
            [row for part in parts for row in part.heads],
            [row for part in parts for row in part.facts],
        )
        unit.snapshots.replace_all([snapshot for part in parts for snapshot in part.snapshots])
        # Projects that fail are quarantined as a catch-up would; those that fold now are not.
        failed = {name: error for part in parts for name, error in part.failed.items()}
        recorded = set(names)
        opened = [name for name in unit.system_alerts.open_subjects(PROJECTION_FAILED) if name in recorded]
        raise_or_resolve(projections, unit, opened, failed, now, reason=REPLAYED)
        unit.commit()
    return sum(part.read for part in parts), sum(len(part.heads) for part in parts)


def fold_in_process(opener: Callable[[], ProjectionStore], names: list[str], now: datetime) -> FoldedRows:
    """`fold_projects` in a process of its own, on a store (and connection) of its own."""
    store = opener()
    try:
        with store.read() as unit:
            return fold_projects(unit.events, names, now)
    finally:
        store.close()

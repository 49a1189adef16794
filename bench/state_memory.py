"""Bounded memory (issue 18, item 5): a long-lived process appends one event onto each of many
projects, each with a long history, and catches its projection up, as a server or a worker does;
its peak memory is printed beside what the same process holds before it starts.

    .venv/bin/python bench/state_memory.py                              # 300 projects x 1,000 events
    .venv/bin/python bench/state_memory.py --projects 1000 --events 1000 --postgres

The ledger is built first (appends, snapshots written as they fall due, then `replay`); the measured process
is a fresh one (a subprocess), so its peak RSS is its own. Before issue 18 such a process kept every
project's whole state with every event's key, and every projection's fold, without a bound: one event
onto each of 1,000 projects of 1,000 events took one from 53 MB to 1,672 MB. Now the append side's
states and the projector's folds are each kept under a byte budget (`STATE_CACHE_BYTES`,
`WARM_CACHE_BYTES`: 64 MB each), least recently used out, and a project dropped is read back from
its snapshot; over its budget, the state cache first keeps the least recently used states without
their claims (`snapshot.defer_claims`: read back from the ledger when asked for), then drops states. Target: growth under the two budgets and 64 MB, whatever the number of projects; the
run is repeated with 8 MB budgets to show the bound is the budget's, not the ledger's size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402
from bench.scratch import ledger_url  # noqa: E402
from tests.ledger.factory import offer  # noqa: E402


def claim(project: str, number: int) -> dict[str, Any]:
    return {
        "type": "SpendClaimed",
        "project": project,
        "key": f"c{number}",
        "date": f"2025-{1 + number % 12:02d}-15",
        "data": {"category": "consumables", "amount": "1.00", "description": f"item {number}"},
    }


def names(projects: int) -> list[str]:
    return [f"KTP-MEM-{n:05d}" for n in range(projects)]


def build(url: str, projects: int, events: int) -> None:
    """`projects` projects of `events` events each, appended in batches across projects."""
    from ktpledger.adapters.database import Database, build_engine
    from ktpledger.service.ledger import Ledger
    from ktpledger.service.projections import Projector
    from ktpledger.service.schema import upgrade

    database = Database(build_engine(url))
    upgrade(database)
    ledger = Ledger(database)
    try:
        ledger.append([offer(name) for name in names(projects)])
        batch: list[dict[str, Any]] = []
        for number in range(1, events):
            batch += [claim(name, number) for name in names(projects)]
            if len(batch) >= 20_000:
                ledger.append(batch)
                batch = []
        if batch:
            ledger.append(batch)
        Projector(database).replay()  # the projections as a live system has them
    finally:
        ledger.close()
        database.dispose()


MEASURED = """
import json, sys, time
from ktpledger.adapters.database import Database, build_engine
from ktpledger.service.ledger import Ledger
from ktpledger.service.projections import Projector
sys.path.insert(0, {root!r})
from bench.state_memory import claim, names
database = Database(build_engine({url!r}))
budget = {budget_mb} * 1024 * 1024
ledger, projector = Ledger(database, state_bytes=budget), Projector(database, warm_bytes=budget)
# /proc's VmRSS and VmHWM (this process's own peak): getrusage's ru_maxrss keeps the peak of the
# process that forked this one, the bench's own, which built the ledger.
def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError("no " + field + " in /proc/self/status")
before = status_kb("VmRSS")
started = time.perf_counter()
for name in names({projects}):
    (result,) = ledger.append([claim(name, {events} + {attempt})])
    assert result.status == "recorded", result
    projector.catch_up(name)
elapsed = time.perf_counter() - started
peak = status_kb("VmHWM")
print(json.dumps({{"before_kb": before, "peak_kb": peak, "seconds": elapsed}}))
"""


def measure(url: str, projects: int, events: int, budget_mb: int, attempt: int = 1) -> dict[str, float]:
    """Peak RSS of a fresh process (MB) before and after one event (and its catch-up) onto each,
    its two caches each under `budget_mb`."""
    code = MEASURED.format(
        root=str(ROOT), url=url, projects=projects, events=events, budget_mb=budget_mb, attempt=attempt
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "measured process failed"
        )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "before": found["before_kb"] / 1024,
        "peak": found["peak_kb"] / 1024,
        "per_project_ms": found["seconds"] / projects * 1000,
    }


def run(
    projects: int, events: int, postgres: bool, budgets: tuple[int, ...] = (64, 8)
) -> list[figures.Figure]:
    """One figure per cache budget (MB each), on one ledger."""
    found: list[figures.Figure] = []
    backend = "PostgreSQL" if postgres else "SQLite"
    with ledger_url(postgres) as url:
        build(url, projects, events)
        for attempt, budget in enumerate(budgets, start=1):
            measured = measure(url, projects, events, budget, attempt)
            found.append(
                figures.Figure(
                    f"RSS growth, {budget} MB caches, {backend}",
                    measured["peak"] - measured["before"],
                    "MB",
                    target=f"< {2 * budget + 64} MB",
                    higher_is_better=False,
                    note=f"one event (and its catch-up) onto each of {projects:,} projects of {events:,} events, "
                    f"a fresh process: {measured['before']:.0f} -> {measured['peak']:.0f} MB peak, "
                    f"{measured['per_project_ms']:.1f} ms a project; target: the two caches' budgets "
                    "and 64 MB for the rest",
                )
            )
    return found


def brief() -> list[figures.Figure]:
    return run(60, 500, postgres=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    found = run(args.projects, args.events, args.postgres)
    print(figures.table([("state_memory", figure) for figure in found]))


if __name__ == "__main__":
    main()

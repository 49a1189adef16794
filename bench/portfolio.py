"""The portfolio's read time (issue 16, item 6: under 300 ms with 1,000 projects and 1,000,000
events on PostgreSQL): `service/portfolio.portfolio` as `ktpledger portfolio` and `GET /portfolio`
call it, judged from the projector's stored facts (`project_facts`), beside the same rows folded
from every stream (what a portfolio without the facts would cost).

Records --projects projects (one offer each: 36 months from 2024-10-01) and --claims claims on each, caught
up by the projector as it goes (wake-ups off, caught up in wake-ups of 20 projects as a worker
does), then times --reads reads of the whole portfolio as of 2025-10-15 (the median and the worst)
and one read that folds every stream. Only loopback servers; every loop is bounded.

    .venv/bin/python bench/portfolio.py                              # SQLite in a temporary folder
    .venv/bin/python bench/portfolio.py --postgres                   # PostgreSQL on 127.0.0.1
    .venv/bin/python bench/portfolio.py --postgres --projects 1000 --claims 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lag import Quiet, claim, offer  # noqa: E402
from bench.scratch import scratch_schema  # noqa: E402
from ktpledger.bootstrap import bootstrap  # noqa: E402
from ktpledger.service.access import COMMAND_LINE  # noqa: E402
from ktpledger.service.portfolio import portfolio, project_row  # noqa: E402
from ktpledger.service.schema import upgrade  # noqa: E402
from ktpledger.service.wakeup import chunks  # noqa: E402
from ktpledger.settings import Settings  # noqa: E402

TODAY = date(2025, 10, 15)
BATCH = 20_000  # events per append


def run(url: str, args: argparse.Namespace) -> None:
    app = bootstrap(Settings(database_url=url), wakeup=Quiet())
    try:
        upgrade(app.database)
        names = [f"P-{n:05d}" for n in range(args.projects)]
        started = time.perf_counter()
        app.ledger.append([offer(name) for name in names])
        batch: list[dict[str, Any]] = []
        for n in range(args.claims):  # bounded: projects x claims events
            batch += [claim(name, f"c{n}", n) for name in names]
            if len(batch) >= BATCH:
                app.ledger.append(batch)
                batch = []
                for message in chunks(names):
                    app.projector.catch_up_many(message)
        if batch:
            app.ledger.append(batch)
        for message in chunks(names):
            app.projector.catch_up_many(message)
        events = args.projects * (1 + args.claims)
        print(f"{app.database.dialect}: {args.projects:,} projects, {events:,} events, recorded and projected "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        took = []
        for _ in range(args.reads):  # bounded
            started = time.perf_counter()
            made = portfolio(app, COMMAND_LINE, today=TODAY)
            took.append((time.perf_counter() - started) * 1000)
        totals = made.totals()
        print(
            f"  portfolio from the stored facts: median {statistics.median(took):.0f} ms, worst {max(took):.0f} ms "
            f"over {args.reads} reads ({totals['red']} red, {totals['amber']} amber, {totals['green']} green); "
            "target under 300 ms"
        )
        started = time.perf_counter()
        folded = [project_row(app, name, TODAY) for name in names]
        fold_ms = (time.perf_counter() - started) * 1000
        same = [row.to_json() for row in folded] == [
            row.to_json() for row in sorted(made.projects, key=lambda row: row.project)
        ]
        print(f"  the same rows folded from every stream: {fold_ms:.0f} ms (rows equal: {same})")
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--claims", type=int, default=50, help="claims per project")
    parser.add_argument("--reads", type=int, default=5, help="times the portfolio is read")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1 instead of SQLite")
    args = parser.parse_args()
    if not args.postgres:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args)
        return
    with scratch_schema() as url:
        run(url, args)


if __name__ == "__main__":
    main()

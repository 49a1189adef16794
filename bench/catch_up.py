"""The cost of a catch-up per event, with no broker and no wake-ups in the way.

Records a ledger of --projects projects (one offer each) with wake-ups off, then appends
--rounds rounds of --claims claims to every project; after each round it catches every project
up in wake-ups of 20 projects (`Projector.catch_up_many`, as a worker does) and times that. The
first catch-up of each project (cold: its whole stream folded) is timed apart from the later ones
(warm: only the new events). Then `replay` of the whole ledger, and the fold alone (every stream
folded append by append in memory, as catch-up and replay fold it). Prints microseconds per event.
The machine's other load moves these figures a lot from run to run: compare two versions by
running each several times, alternately.

    .venv/bin/python bench/catch_up.py                          # SQLite in a temporary folder
    .venv/bin/python bench/catch_up.py --postgres               # PostgreSQL on 127.0.0.1 (a schema of its own)
    .venv/bin/python bench/catch_up.py --projects 50 --claims 10 --rounds 3
    .venv/bin/python bench/catch_up.py --postgres --projectors 2   # wake-ups taken by two, at random

With --projectors 2 each wake-up goes to one of two projectors at random, as wake-ups go to any of
two workers: a project is then often kept behind by the one that gets it (the other caught it up
since), which a single projector never sees.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402
from bench.lag import Quiet, claim, offer  # noqa: E402
from bench.scratch import ledger_url  # noqa: E402
from ktpledger.adapters import ledger_store  # noqa: E402
from ktpledger.bootstrap import bootstrap  # noqa: E402
from ktpledger.domain.live import LiveProject, appends  # noqa: E402
from ktpledger.service.projections import Projector  # noqa: E402
from ktpledger.service.schema import upgrade  # noqa: E402
from ktpledger.service.wakeup import chunks  # noqa: E402
from ktpledger.settings import Settings  # noqa: E402


def run(url: str, args: argparse.Namespace) -> dict[str, float]:
    """Print the figures (module docstring); return them in microseconds an event."""
    app = bootstrap(Settings(database_url=url), wakeup=Quiet())
    try:
        upgrade(app.database)
        names = [f"C-{n:05d}" for n in range(args.projects)]
        app.ledger.append([offer(name) for name in names])
        projectors = [app.projector] + [Projector(app.database) for _ in range(args.projectors - 1)]
        turns = random.Random(0)  # which projector takes each wake-up: the same every run
        cold: list[float] = []
        warm: list[float] = []
        warm_cpu = 0.0  # CPU seconds of the warm rounds' catch-ups: less moved by the machine's load
        warm_events = 0
        for round_number in range(args.rounds):  # bounded: rounds x projects x claims events
            batch: list[dict[str, Any]] = []
            for n in range(round_number * args.claims, (round_number + 1) * args.claims):
                batch += [claim(name, f"c{n}", n, args.claims_a_month) for name in names]
            app.ledger.append(batch)
            events = len(batch) + (len(names) if round_number == 0 else 0)
            started, cpu_started = time.perf_counter(), time.process_time()
            for message in chunks(names):
                turns.choice(projectors).catch_up_many(message)
            took = time.perf_counter() - started
            (cold if round_number == 0 else warm).append(took * 1e6 / events)
            if round_number:
                warm_cpu += time.process_time() - cpu_started
                warm_events += events
            if app.projector.behind():
                raise SystemExit(f"round {round_number}: {app.projector.behind()} events not caught up")
        total = args.projects * (1 + args.rounds * args.claims)
        print(
            f"{app.database.dialect}: {args.projects} projects, {total:,} events, "
            f"{args.projectors} projector(s) taking the wake-ups"
        )
        print(f"  catch-up, cold (whole stream): {cold[0]:.1f} us/event")
        if warm:
            print(
                f"  catch-up, warm (new events only): median {statistics.median(warm):.1f} us/event "
                f"over {len(warm)} rounds (min {min(warm):.1f}, max {max(warm):.1f}); "
                f"CPU {warm_cpu * 1e6 / warm_events:.1f} us/event"
            )
        started = time.perf_counter()
        read, _ = app.projector.replay(processes=1)
        took = time.perf_counter() - started
        print(f"  replay: {took * 1e6 / read:.1f} us/event ({read:,} events in {took:.2f} s)")
        with app.database.read() as connection:
            streams = ledger_store.streams(connection, names)
        folds = []
        for _ in range(args.folds):  # bounded; the least is the figure least disturbed by the machine
            started = time.process_time()  # CPU time: the other processes' load moves it least
            for name, stream in streams.items():
                live = LiveProject.new(name)
                for group in appends(stream):
                    live.apply_append(group)
            folds.append((time.process_time() - started) * 1e6 / total)
        print(f"  fold alone (no database, CPU time), least of {args.folds}: {min(folds):.1f} us/event")
        return {
            "cold": cold[0],
            "warm": statistics.median(warm) if warm else float("nan"),
            "warm_cpu": warm_cpu * 1e6 / warm_events if warm_events else float("nan"),
            "replay": took * 1e6 / read,
            "fold": min(folds),
        }
    finally:
        app.close()


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--claims", type=int, default=20, help="claims per project per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--claims-a-month",
        type=int,
        default=1,
        help="each project's claims dated this many to a month (bench/lag.py's; default 1: a month a claim)",
    )
    parser.add_argument("--folds", type=int, default=5, help="times the in-memory fold is timed")
    parser.add_argument(
        "--projectors", type=int, default=1, help="projectors taking the wake-ups at random (default 1)"
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1 instead of SQLite")
    return parser


def main() -> None:
    args = arguments().parse_args()
    with ledger_url(args.postgres) as url:
        run(url, args)


BRIEF = ["--projects", "50", "--claims", "5", "--rounds", "3", "--folds", "2"]


def brief() -> list[figures.Figure]:
    """SQLite: 50 projects, 3 rounds of 5 claims each (800 events); warm catch-up beside the fold alone."""
    args = arguments().parse_args(BRIEF)
    with tempfile.TemporaryDirectory() as folder, figures.quiet():
        measured = run(f"sqlite:///{folder}/bench.db", args)
    size = "sqlite, 50 projects, 800 events"
    return [
        figures.Figure("catch-up, cold", measured["cold"], "us/event", higher_is_better=False, note=size),
        figures.Figure(
            "catch-up, warm",
            measured["warm"],
            "us/event",
            floor=measured["fold"],
            higher_is_better=False,
            note="floor: the fold alone, in memory (CPU time); no target",
        ),
        figures.Figure("replay", measured["replay"], "us/event", higher_is_better=False, note=size),
    ]


if __name__ == "__main__":
    main()

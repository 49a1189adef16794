"""Projection lag under a steady load, and the time to replay a large ledger.

With PostgreSQL, Redis and N `ktpledger worker` processes (all on 127.0.0.1), appends claims at a
steady rate across many projects for a fixed time and prints the lag from commit to projection
(p50, p95, p99) and the sustained rate; then builds a ledger of --replay-events events and prints
how long `replay` takes. Targets (issue 18): p99 lag under 50 ms at 500 events/s and under 100 ms at 2,000;
replay of 1,000,000 events under 8 s, printed beside the projector's fold alone in memory on every
core, which no replay can beat.

    .venv/bin/python bench/lag.py                      # the full run (about 3-4 minutes)
    .venv/bin/python bench/lag.py --seconds 10 --replay-events 100000
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402
from bench.scratch import scratch_schema  # noqa: E402
from ktpledger.adapters.tables import notifications, projection_heads  # noqa: E402
from ktpledger.bootstrap import App, bootstrap  # noqa: E402
from ktpledger.service.schema import upgrade  # noqa: E402
from ktpledger.settings import Settings  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/14"
KTPLEDGER = str(Path(sys.executable).parent / "ktpledger")
CATEGORIES = ("associate_employment", "consumables", "travel_subsistence", "associate_development")


class Quiet:
    """No wake-ups: for building a ledger to replay."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


def offer(project: str) -> dict[str, Any]:
    return {
        "type": "GrantOffered",
        "project": project,
        "key": "offer",
        "date": "2024-09-01",
        "data": {
            "title": "Bench",
            "knowledge_base": "University of Example",
            "business": "Example Ltd",
            "methodology": "fec",
            "business_type": "sme",
            "start": "2024-10-01",
            "months": 36,
            "budget": {
                "associate_employment": "150000",
                "associate_development": "6000",
                "travel_subsistence": "3750",
                "consumables": "6000",
            },
        },
    }


def claim(project: str, key: str, n: int, claims_a_month: int = 1) -> dict[str, Any]:
    """A project's n-th claim, dated `claims_a_month` claims to a month from 2024-11, through 30
    months and round again. One a month (the default): every claim of a project's first 30 steps
    its clock a month on, so each judges every line again and ends a month's figures, which a real
    ledger does once a month; a finance export's month of claims together is the steady load."""
    month = 1 + (n // claims_a_month) % 30
    return {
        "type": "SpendClaimed",
        "project": project,
        "key": key,
        "date": f"{2024 + (9 + month) // 12}-{(9 + month) % 12 + 1:02d}-15",
        "data": {
            "category": CATEGORIES[n % len(CATEGORIES)],
            "amount": f"{1 + n % 50}.25",
            "description": "bench claim",
            "tags": [],
        },
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def start_workers(
    url: str, count: int, log_dir: Path, pool: str, broker: str = REDIS
) -> list[subprocess.Popen[bytes]]:
    environment = {**os.environ, "KTPLEDGER_BROKER_URL": broker}
    workers = []
    for n in range(count):
        log = (log_dir / f"worker{n}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [
                    KTPLEDGER,
                    "--db",
                    url,
                    "worker",
                    "--pool",
                    pool,
                    "-c",
                    "1",
                    "--loglevel",
                    "warning",
                    "--hostname",
                    f"bench{n}@%h",
                ],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return workers


def group_cpu(groups: set[int]) -> float:
    """CPU seconds (user and system) spent so far by the live processes of these process groups
    (each worker's: `start_workers` starts each in a session of its own). Less moved by the
    machine's other load than the lag is: a figure to compare two versions by."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) in groups:  # fields from the state on: pgrp is the third
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def wait_caught_up(app: App, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while app.projector.behind() > 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"projections still {app.projector.behind()} events behind after {timeout} s")
        time.sleep(0.05)


def wait_delivered(app: App, timeout: float) -> float:
    """Seconds until no notification is pending (the workers deliver what their catch-ups raised
    on a thread of their own, yielding to the catch-ups: workers/tasks.py `CatchUpsFirst`), so the
    workers' CPU counted is the deliveries' too; at most `timeout`."""
    began = time.monotonic()
    query = select(func.count()).select_from(notifications).where(notifications.c.status == "pending")
    while time.monotonic() - began < timeout:
        with app.database.engine.connect() as connection:
            if not connection.execute(query).scalar():
                break
        time.sleep(0.1)
    return time.monotonic() - began


def lag_run(url: str, args: argparse.Namespace, log_dir: Path, broker: str = REDIS) -> dict[str, float]:
    """Print the lag figures (module docstring); return them (events/s, milliseconds)."""
    import redis

    redis.Redis.from_url(broker).flushdb()
    app = bootstrap(Settings(database_url=url, broker_url=broker))
    workers: list[subprocess.Popen[bytes]] = []
    measured: dict[str, float] = {}
    # Before the try: the finally sets both, so the poller stops (within 30 s) even after an error.
    done = threading.Event()
    finished = float("inf")
    try:
        workers = start_workers(url, args.workers, log_dir, args.pool, broker)
        projects = [f"KTP-{n:04d}" for n in range(args.projects)]
        app.ledger.append([offer(p) for p in projects])
        wait_caught_up(app, 120)  # workers are up and the offers are projected
        committed: dict[tuple[str, int], float] = {}
        lags: list[float] = []
        seen = dict.fromkeys(projects, 1)

        def poll() -> None:
            # Only the heads that moved since the last look (updated_at is set just before each
            # catch-up commits), so polling stays cheap next to the load it measures.
            engine = app.database.engine
            since = datetime.now(UTC) - timedelta(seconds=5)
            query = select(projection_heads.c.project, projection_heads.c.version).where(
                projection_heads.c.updated_at >= bindparam("since")
            )
            while not done.is_set() or any(seen[p] < v for (p, v) in committed):
                looked = datetime.now(UTC) - timedelta(milliseconds=50)
                with engine.connect() as connection:
                    rows = connection.execute(query, {"since": since}).all()
                since = looked
                now = time.perf_counter()
                for project, version in rows:
                    for v in range(seen.get(project, 0) + 1, version + 1):
                        at = committed.get((project, v))
                        if at is not None:
                            lags.append(now - at)
                    seen[project] = max(seen.get(project, 0), version)
                time.sleep(args.poll / 1000)
                if done.is_set() and time.perf_counter() - finished > 30:
                    break

        poller = threading.Thread(target=poll, daemon=True)
        groups = {process.pid for process in workers}
        cpu_before = group_cpu(groups)
        poller.start()
        per_tick = max(1, args.rate // 100)
        chosen = random.Random(args.seed)  # the same projects in the same order each run: A/B pairs
        ticks = int(args.seconds * 100)
        counters = dict.fromkeys(projects, 0)
        started = time.perf_counter()
        appended = 0
        for tick in range(ticks):  # bounded: seconds x 100 ticks
            target = started + tick / 100
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            batch = []
            for _ in range(per_tick):
                project = chosen.choice(projects)
                counters[project] += 1
                batch.append(claim(project, f"c{counters[project]}", counters[project], args.claims_a_month))
            results = app.ledger.append(batch)
            at = time.perf_counter()
            for result in results:
                assert result.status == "recorded", result
                committed[(str(result.project), int(result.version or 0))] = at
            appended += len(batch)
        elapsed = time.perf_counter() - started
        finished = time.perf_counter()
        done.set()
        poller.join(60)
        wait_caught_up(app, 60)
        drained = wait_delivered(app, 60)
        cpu = group_cpu(groups) - cpu_before
        print(
            f"lag under load: {args.workers} workers, {args.projects} projects, {elapsed:.1f} s, "
            f"{args.claims_a_month} claim(s) a month"
        )
        print(
            f"  appended {appended} events, sustained {appended / elapsed:,.0f} events/s (target {args.rate})"
        )
        measured["sustained"] = appended / elapsed
        measured["worker_cpu_us"] = cpu / appended * 1e6
        print(
            f"  the workers' CPU: {cpu:.1f} s, {cpu / appended * 1e6:,.0f} us an event (the notifications "
            f"raised delivered too: the last {drained:.1f} s after the projections caught up)"
        )
        measured["drained_s"] = drained
        if lags:
            ms = [lag * 1000 for lag in lags]
            measured |= {"p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99), "measured": len(ms)}
            print(
                f"  commit -> projection lag: p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
                f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms "
                f"({len(ms)} events measured; targets: p99 < 50 ms at 500 events/s, < 100 ms at 2,000)"
            )
        return measured
    finally:
        finished = min(finished, time.perf_counter())
        done.set()
        for process in workers:
            os.killpg(process.pid, signal.SIGTERM)
        for process in workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        app.close()


def replay_run(url: str, count: int) -> dict[str, float]:
    """Build a ledger of about `count` events, replay it; print and return the replay's rate."""
    app = bootstrap(Settings(database_url=url), wakeup=Quiet())
    try:
        projects = max(1, count // 1000)
        per_project = count // projects - 1
        app.ledger.append([offer(f"R-{n:05d}") for n in range(projects)])
        started = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for n in range(per_project):  # bounded: count events in all
            for p in range(projects):
                batch.append(claim(f"R-{p:05d}", f"c{n}", n))
                if len(batch) == 5000:
                    app.ledger.append(batch)
                    batch = []
        if batch:
            app.ledger.append(batch)
        total = projects * (per_project + 1)
        print(
            f"replay: built a ledger of {total:,} events ({projects} projects) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        read, replayed = app.projector.replay()
        took = time.perf_counter() - started
        ceiling = fold_ceiling(app, [f"R-{n:05d}" for n in range(min(projects, FOLD_SAMPLE))])
        print(
            f"  replay of {read:,} events ({replayed} projects): {took:.1f} s, {read / took:,.0f} events/s "
            f"(target: 1,000,000 in under 8 s); the projector's fold alone, in memory, on every core: "
            f"{ceiling:,.0f} events/s"
        )
        return {"events": read, "seconds": took, "ceiling": ceiling}
    finally:
        app.close()


FOLD_SAMPLE = 20  # projects whose streams the fold's ceiling is timed on


def fold_ceiling(app: App, names: list[str]) -> float:
    """Events a second the projector's fold of whole streams (`projection_fold.fold_one`: what a
    replay does to each project between reading its stream and writing its rows) manages in memory,
    times the cores a parallel replay spreads it over: no replay can be faster than this."""
    from ktpledger.service.projection_fold import FoldedRows, fold_one

    streams = {name: app.ledger.stream(name) for name in names}
    now = datetime.now(UTC)
    started = time.process_time()
    for name, stream in streams.items():
        fold_one(name, stream, now, FoldedRows([], [], [], 0))
    took = time.process_time() - started
    events = sum(len(stream) for stream in streams.values())
    return events / took * (os.cpu_count() or 1)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=500, help="events per second (default 500)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load (default 60)")
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--claims-a-month",
        type=int,
        default=1,
        help="each project's claims dated this many to a month (default 1: a month a claim)",
    )
    parser.add_argument("--replay-events", type=int, default=1_000_000)
    parser.add_argument("--poll", type=float, default=5.0, help="ms between looks at the projection heads")
    parser.add_argument("--pool", default="solo", help="each worker process's Celery pool (solo or prefork)")
    parser.add_argument(
        "--redis", default=REDIS, help=f"the broker, a database this run may flush (default {REDIS})"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the claims' projects (default: none, a different stream each run)",
    )
    parser.add_argument("--skip-lag", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    return parser


def main() -> None:
    args = arguments().parse_args()
    # Lag and replay each on a fresh schema of their own.
    if not args.skip_lag:
        with scratch_schema(POSTGRES) as url:
            prepare(url)
            log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ktpledger-lag-{os.getpid()}"
            log_dir.mkdir(parents=True, exist_ok=True)
            lag_run(url, args, log_dir, broker=args.redis)
    if not args.skip_replay:
        with scratch_schema(POSTGRES) as url:
            prepare(url)
            replay_run(url, args.replay_events)


def prepare(url: str) -> None:
    """Migrate the schema `url` names, with nothing woken."""
    setup = bootstrap(Settings(database_url=url), wakeup=Quiet())
    upgrade(setup.database)
    setup.close()


# At the target's rate, briefly: each project's claims a month apart (every claim steps its
# clock a month: the stress) and all in one month (the steady load between two month ends: a real
# ledger's clock steps once a month).
BRIEF = ["--seconds", "10", "--projects", "50", "--workers", "2"]
ONE_MONTH = 100_000  # claims a month: more than any run appends to a project
# The brief runs: figure name suffix, events/s, claims a month, the target of the p99 (issue 18:
# < 50 ms at 500 events/s, < 100 ms at 2,000).
BRIEF_RUNS = [
    ("", 500, 1, "< 50 ms"),
    (", one month", 500, ONE_MONTH, "< 50 ms"),
    (", 2,000/s", 2000, ONE_MONTH, "< 100 ms"),
]
BRIEF_REPLAY = 50_000
REPLAY_TARGET = 1_000_000 / 8  # events/s: issue 18, replay of 1,000,000 events in under 8 s


def brief_lag(suffix: str, rate: int, claims_a_month: int, target: str) -> list[figures.Figure]:
    """One brief lag run (BRIEF) at `rate` events/s, its claims `claims_a_month` to a month."""
    args = arguments().parse_args([*BRIEF, "--rate", str(rate), "--claims-a-month", str(claims_a_month)])
    with (
        tempfile.TemporaryDirectory(prefix="ktpledger-lag-") as log_dir,
        scratch_schema(POSTGRES) as url,
        figures.quiet(),
    ):
        prepare(url)
        measured = lag_run(url, args, Path(log_dir), broker=figures.BENCH_REDIS)
    calendar = {1: "claims a month apart", ONE_MONTH: "claims all in one month"}.get(
        claims_a_month, f"{claims_a_month} claims a month"
    )
    note = f"{args.workers} workers, {args.projects} projects, {args.rate} events/s for {args.seconds:.0f} s"
    return [
        figures.Figure(
            f"lag p99{suffix}",
            measured.get("p99"),
            "ms",
            target=target,
            higher_is_better=False,
            note=f"{note}, {calendar}, {measured.get('measured', 0):.0f} events seen",
        ),
        figures.Figure(
            f"lag p50{suffix}", measured.get("p50"), "ms", higher_is_better=False, note="commit to projection"
        ),
        figures.Figure(
            f"sustained rate{suffix}", measured["sustained"], "events/s", note=f"asked {args.rate}"
        ),
    ]


def brief() -> list[figures.Figure]:
    """Lag: 2 solo workers on the bench's Redis database, for 10 s over 50 projects, three times:
    500 events/s with claims a month apart, then all in one month, then 2,000 events/s in one month;
    replay of a ledger of 50,000 events. PostgreSQL."""
    lag_names = [
        f"{name}{suffix}" for suffix, *_ in BRIEF_RUNS for name in ("lag p99", "lag p50", "sustained rate")
    ]
    if not figures.postgres_reachable():
        return figures.skipped("PostgreSQL not running", *lag_names, "replay")
    shown: list[figures.Figure] = []
    if not figures.redis_reachable(figures.BENCH_REDIS):
        shown += figures.skipped("Redis not running", *lag_names)
    else:
        for suffix, rate, claims_a_month, target in BRIEF_RUNS:
            shown += brief_lag(suffix, rate, claims_a_month, target)
    with scratch_schema(POSTGRES) as url, figures.quiet():
        prepare(url)
        replayed = replay_run(url, BRIEF_REPLAY)
    shown.append(
        figures.Figure(
            "replay",
            replayed["events"] / replayed["seconds"],
            "events/s",
            floor=replayed["ceiling"],
            target=f">= {REPLAY_TARGET:,.0f} events/s",
            note=f"{replayed['events']:,.0f} events in {replayed['seconds']:.2f} s "
            "(target: 1,000,000 in < 8 s); floor: the projector's fold alone, in memory, on every core "
            "(no replay can beat it)",
        )
    )
    return shown


if __name__ == "__main__":
    main()

"""`ktpledger record` of a large JSON Lines file: the peak memory of the process, and its rate.

    .venv/bin/python bench/record_memory.py                   # 1,000,000 events (a few minutes)
    .venv/bin/python bench/record_memory.py --events 100000 --projects 100

`record` reads JSON Lines a line at a time and appends them in batches (ktpledger/cli/ledger.py,
RECORD_BATCH), so its memory should not grow with the file: the target is a peak RSS under 200 MB
for 1,000,000 lines. Measured:

  peak RSS     the maximum resident set size of the `ktpledger --db URL record FILE` process (its
               own rusage, from os.wait4: no other child's), beside the floor: the same command on
               an empty file (the interpreter, the imports, the database opened), in the same run
  rate         events recorded a second, wall time of the whole process (start-up included)

The file: an offer for each of --projects projects (tests/ledger/factory.py's `offer()`), then
claims round-robin across them (bench/ingest.py's `claim()`), written a line at a time. The ledger
is a fresh SQLite file (`ktpledger db upgrade` first), in a temporary folder removed at the end;
without a broker the command also runs the projections in-process, as a user's would. Every event
must come back `recorded`, or the figures mean nothing and the benchmark says so.

Measured 2026-12-05 on the 2-core machine, shared (load 5-8):

  1,000,000 lines, 10,000 distinct (--distinct 10000 --projects 100): peak RSS 103 MB in batches of
  2,000, 132 MB in batches of 10,000; 12,400 and 5,300 events/s (the second run under more load).
  The reading and appending path is bounded: the target is met.
  1,000,000 distinct events over 1,000 projects (batches of 2,000): peak RSS 1,367 MB, 599 events/s.
  Not the input: the RSS grows by about 1.3 KB an event recorded, held by the per-project caches,
  which keep every project touched (up to 20,000 and 5,000 projects, however large each is), in each
  project state one object a claim (`Claim`, project.py): the ledger's state cache
  (service/ledger_deciding.py, `StateCache`) and the projections' warm cache
  (service/projection_context.py, `WarmCache`, a `LiveProject` each) both do. Bounding them by
  the events they hold, not the projects, is what a 1,000,000-event record under 200 MB needs.
  tracemalloc over 20,000 events (1,000 projects, snapshots 10 batches apart): 1.7 KB retained an
  event, about 60% by the ledger's state cache (its claims, and the strings and Decimals of the
  parsed events they keep) and 35% by the projections' warm cache.

Measured 2026-12-06 (the same machine, shared: load 4-11), 1,000 projects, distinct events, the
peak read from /proc's VmHWM of the record process while it ran:

  with the byte budgets alone (64 MB each, 2,000 states' and folds' worth): 337 MB by 265,000
  events, ~200 events/s (the 300,000-event run stopped at its 1,500 s timeout). The budgets did
  not bound it: a batch decides every project it touches at once, each state holding every claim
  (no project had reached a snapshot: 300 events each), and the states were weighed at 8 KB
  without their spend by month (24 KB measured).
  Now: 171.6 MB at 300,000 events (~400 events/s), 179.8 MB through 490,000 (floor 60 MB);
  then 363 MB in the batch that took every project past version 500: each snapshot written read
  its state's claims in, and the state cache held those states to the batch's end (fixed since:
  the state is dropped from the cache first, commit 8219811; the 1,000,000 run was not repeated).
  With the fix, 120,000 events over 200 projects (600 each, all past 500 together): peak 161.3
  and 189.1 MB in two runs (floor 58.4), 1,328 and 1,438 events/s; before (fe50320, run between
  them, load ~1): 266.1 MB, 1,791 events/s. The rate lost there is the projections' folds: 64 MB
  kept nearly all 200 folds warm, `record`'s 16 MB keeps about 50 (at 1,000 projects neither
  keeps them all, and the run is twice as fast as before). What bounds it: the state cache keeps states without their claims over its budget
  (service/ledger_deciding.py `StateCache`, `snapshot.defer_claims`: read back from the ledger
  when a reversal or a reader asks) instead of dropping them; a state snapshotted with an append
  is swapped for the snapshot's own, its claims left in the row; snapshots are saved as they are
  made, not held to the batch's end; `record` keeps 32 MB of states (1,000 states without claims)
  and 16 MB of projections' folds (cli/ledger.py).
  What is left: a projection's fold (`LiveProject`) holds every claim of its project, near 1 MB
  weighed for 1,000 claims, so 16 MB keeps some 20: over 1,000 projects round-robin each catch-up
  starts cold from its snapshot (reading its claims) and folds up to 500 events, which is where
  the time goes; the rest of the peak is a batch of 10,000 events in flight (parsed, rows,
  results, the delivery thread's reads) over the 60 MB floor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count, cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the events are the tests' and bench/ingest.py's

from bench import figures  # noqa: E402
from bench.ingest import claim, project_names, record_floor  # noqa: E402
from tests.ledger.factory import offer  # noqa: E402

KTPLEDGER = Path(sys.executable).with_name("ktpledger")
TARGET_MB = 200.0
BRIEF_EVENTS = 20_000
BRIEF_PROJECTS = 100
BRIEF_REPEATED, BRIEF_DISTINCT = 50_000, 1_000
# Without a broker: `record` folds the projections itself, as on a laptop with no Redis.
ENVIRONMENT = {**os.environ, "KTPLEDGER_BROKER_URL": ""}


@dataclass(frozen=True)
class Run:
    """One `ktpledger record`: its peak RSS (MB), wall time and the results it printed."""

    events: int
    peak_mb: float
    seconds: float
    recorded: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def event_lines(projects: int) -> Iterator[str]:
    """JSON Lines without end: an offer for each project, then claims round-robin across them."""
    names = project_names("MEM", projects)
    for name in names:
        yield json.dumps(offer(name)) + "\n"
    for number in count(1):
        for salt, name in enumerate(names):
            yield json.dumps(claim(name, number, salt)) + "\n"


def write_events(path: Path, events: int, projects: int, distinct: int | None = None) -> int:
    """`events` lines of JSON Lines (`event_lines`), written a line at a time; with `distinct`,
    the first `distinct` events over and over (the repeats come back `duplicate`). Returns the
    number of distinct events: those that should be recorded."""
    lines = event_lines(min(projects, events))
    if distinct is not None:
        lines = cycle(list(islice(lines, distinct)))
    with path.open("w", encoding="utf-8") as file:
        file.writelines(islice(lines, events))
    return events if distinct is None else min(distinct, events)


# A child's peak RSS (ru_maxrss) counts what it held before its exec: forked from a bench process
# grown to hundreds of megabytes (`make bench` runs every benchmark in one), the figure and its floor
# both read as that process's size. So the command is started by a fresh, small interpreter that
# reports its child's own peak to a file (its own few megabytes at the fork are in the figure).
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_record(url: str, path: Path, events: int, workdir: Path, timeout: float) -> Run:
    """`ktpledger --db URL record PATH` as a child process, its own peak RSS read by os.wait4 in a
    small launcher process (`LAUNCHER`)."""
    output, errors, peak = workdir / "results.jsonl", workdir / "stderr.txt", workdir / "peak.txt"
    started = time.perf_counter()
    # Files, not pipes: a child that writes more than a pipe holds would wait for a reader.
    with output.open("wb") as results, errors.open("wb") as warnings:
        launcher = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                LAUNCHER,
                str(peak),
                str(KTPLEDGER),
                "--db",
                url,
                "record",
                str(path),
            ],
            stdout=results,
            stderr=warnings,
            env=ENVIRONMENT,
            cwd=workdir,
            start_new_session=True,  # a timeout stops the launcher and the command alike
        )
        try:
            launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            raise TimeoutError(f"ktpledger record took more than {timeout:.0f} s") from None
    seconds = time.perf_counter() - started
    if launcher.returncode != 0:
        error = errors.read_text(errors="replace")
        raise RuntimeError(f"ktpledger record exited {launcher.returncode}: {error[-2000:]}")
    recorded = duplicates = 0
    with output.open("rb") as results:
        for line in results:
            recorded += b'"status": "recorded"' in line
            duplicates += b'"status": "duplicate"' in line
    output.unlink()
    # ru_maxrss is in kilobytes on Linux.
    return Run(events, int(peak.read_text()) / 1024, seconds, recorded, duplicates)


def migrate(url: str, workdir: Path) -> None:
    subprocess.run(
        [str(KTPLEDGER), "--db", url, "db", "upgrade"],
        capture_output=True,
        env=ENVIRONMENT,
        cwd=workdir,
        check=True,
        timeout=120,
    )


def measure(
    events: int, projects: int, timeout: float, distinct: int | None = None
) -> tuple[Run, Run, float | None]:
    """The floor (an empty file) and the file of `events` lines, each on a fresh ledger; and the
    rate's floor: the same file through record's in-memory work alone (`bench/ingest.py`'s
    `record_floor`), events/s, measured right after (None for a file of repeats, whose events
    are duplicates of the first `distinct`: the floor is of a file recorded whole)."""
    with tempfile.TemporaryDirectory(prefix="ktpledger-record-memory-") as folder:
        workdir = Path(folder)
        empty = workdir / "empty.jsonl"
        empty.write_bytes(b"")
        floor_url = f"sqlite:///{workdir / 'floor.db'}"
        migrate(floor_url, workdir)
        floor = run_record(floor_url, empty, 0, workdir, timeout)
        source = workdir / "events.jsonl"
        unique = write_events(source, events, projects, distinct)
        url = f"sqlite:///{workdir / 'ledger.db'}"
        migrate(url, workdir)
        run = run_record(url, source, events, workdir, timeout)
        rate_floor = None
        if distinct is None:
            floor_events, took = record_floor(source)
            rate_floor = floor_events / took if took > 0 else None
    if (run.recorded, run.duplicates) != (unique, events - unique):
        raise RuntimeError(
            f"{run.recorded} recorded and {run.duplicates} duplicates of {events} lines, {unique} distinct: "
            "the benchmark's events are wrong"
        )
    return floor, run, rate_floor


def brief() -> list[figures.Figure]:
    """20,000 distinct events (100 projects) recorded by one `ktpledger record` on a fresh SQLite
    ledger; then 50,000 lines repeating 1,000 events, the reading and appending path alone."""
    floor, run, rate_floor = measure(BRIEF_EVENTS, BRIEF_PROJECTS, timeout=600)
    _, repeated, _ = measure(BRIEF_REPEATED, BRIEF_PROJECTS, timeout=600, distinct=BRIEF_DISTINCT)
    size = f"{BRIEF_EVENTS:,} lines, {BRIEF_PROJECTS} projects, SQLite"
    at_scale = "the target is for 1,000,000 lines: bench/record_memory.py"
    return [
        figures.Figure(
            "record peak RSS",
            run.peak_mb,
            "MB",
            floor=floor.peak_mb,
            target=f"< {TARGET_MB:.0f} MB",
            higher_is_better=False,
            note=f"{size}; floor: an empty file ({at_scale})",
        ),
        figures.Figure(
            "record rate",
            run.rate,
            "events/s",
            floor=rate_floor,
            note=f"{size}; wall time, process start included; floor: the same file through the "
            "append's domain work and the projection's fold, in memory, no start-up",
        ),
        figures.Figure(
            "record RSS, repeats",
            repeated.peak_mb,
            "MB",
            floor=floor.peak_mb,
            target=f"< {TARGET_MB:.0f} MB",
            higher_is_better=False,
            note=f"{BRIEF_REPEATED:,} lines repeating {BRIEF_DISTINCT:,} events (duplicates: the ledger's "
            f"state stays small); {at_scale}",
        ),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="lines of the file (1000000)")
    parser.add_argument("--projects", type=int, default=1_000, help="projects they are spread over (1000)")
    parser.add_argument(
        "--distinct",
        type=int,
        default=None,
        help="only this many distinct events, repeated (the repeats are duplicates: the ledger's "
        "state stays small, so the figure is the reading and appending path's own)",
    )
    parser.add_argument("--timeout", type=float, default=3_600.0, help="seconds allowed for the record")
    args = parser.parse_args(argv)
    if args.events < 1 or args.projects < 1 or (args.distinct is not None and args.distinct < 1):
        parser.error("--events, --projects and --distinct must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    floor, run, rate_floor = measure(args.events, args.projects, args.timeout, args.distinct)
    verdict = "met" if run.peak_mb < TARGET_MB else "MISSED"
    print(f"ktpledger record of {run.events:,} JSON Lines events over {args.projects:,} projects (SQLite)")
    print(f"  {run.recorded:,} recorded, {run.duplicates:,} duplicates")
    print(f"  peak RSS   {run.peak_mb:8.1f} MB   floor (an empty file) {floor.peak_mb:.1f} MB")
    print(f"             target < {TARGET_MB:.0f} MB: {verdict}")
    print(f"  rate       {run.rate:8,.0f} events/s ({run.seconds:.1f} s, process start included)")
    if rate_floor is not None:
        print(
            f"  floor      {rate_floor:8,.0f} events/s (the same file through record's in-memory work "
            f"alone: ratio {run.rate / rate_floor:.2f}x)"
        )


if __name__ == "__main__":
    main()

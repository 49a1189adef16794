"""Checkpoints on a large ledger: what the ledger-wide chain and its record (`ledger_chain`) cost.

    .venv/bin/python bench/checkpoint.py                          # PostgreSQL, 1,000,000 events
    .venv/bin/python bench/checkpoint.py --sqlite --events 100000

Builds a ledger of --events events (claims round-robin over --projects projects, appended in
batches of 5,000 with no projections) and prints:

  record          `Checkpoints.extend()` from an empty record: the chain of every event worked out
                  and recorded (done once; afterwards each writer extends it by what it appended)
  size            the record's size on disk beside the events table's (PostgreSQL)
  at-recorded     a signed checkpoint at the head, the record current: what every report pays
  at-lagging      the same from a read-only App whose record lags --lag events (worked out in memory)
  at-no-record    the same with no record at all: the whole chain worked out from the events
  report          a signed reconciliation of one project (JSON document), the record current
  verify-against  `verify --against` the checkpoint at the head: the whole chain recomputed from the
                  events and merged with the record

PostgreSQL runs in a fresh schema `bench_<random>` of database `test` (dropped CASCADE at the end,
also on error); SQLite in a temporary file. This prints figures; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402
from bench.scratch import scratch_schema  # noqa: E402
from ktpledger.adapters.signing import generate  # noqa: E402
from ktpledger.bootstrap import bootstrap  # noqa: E402
from ktpledger.service.checkpoints import verify_against  # noqa: E402
from ktpledger.service.schema import upgrade  # noqa: E402
from ktpledger.service.statements import reconciliation  # noqa: E402
from ktpledger.settings import Settings  # noqa: E402
from tests.ledger.factory import claim, offer  # noqa: E402

BATCH = 5000


class Quiet:
    """No wake-ups: the ledger alone is measured."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def median_ms(action: Callable[[], Any], runs: int) -> float:
    return statistics.median(timed(action)[0] for _ in range(runs)) * 1000


def build(url: str, events: int, projects: int) -> None:
    app = bootstrap(Settings(database_url=url), wakeup=Quiet())
    try:
        upgrade(app.database)
        names = [f"B-{n:05d}" for n in range(projects)]
        app.ledger.append([offer(name, start="2020-01-01", months=60) for name in names])
        batch: list[dict[str, Any]] = []
        made = projects
        n = 0
        while made < events:  # bounded: stops at `events`
            for name in names:
                if made >= events:
                    break
                day = f"2021-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
                batch.append(claim(f"c{n}", "1.00", project=name, date=day))
                made += 1
                if len(batch) == BATCH:
                    app.ledger.append(batch)
                    batch = []
            n += 1
        if batch:
            app.ledger.append(batch)
    finally:
        app.close()


def run(url: str, args: argparse.Namespace, key: Path) -> dict[str, float]:
    """Print the figures (module docstring); return them (events/s and milliseconds)."""
    measured: dict[str, float] = {}
    took, _ = timed(lambda: build(url, args.events, args.projects))
    print(f"ledger: {args.events:,} events of {args.projects:,} projects built in {took:.1f} s")
    settings = Settings(database_url=url, checkpoint_key=str(key))
    writer = bootstrap(settings, wakeup=Quiet())
    reader = bootstrap(settings, read_only=True)
    try:
        took, point = timed(writer.checkpoints.extend)
        measured["record"] = point.events / took
        print(
            f"record          {took:8.2f} s   {point.events / took:,.0f} events/s ({point.events:,} events)"
        )
        if writer.database.dialect == "postgresql":
            with writer.database.read() as connection:
                sizes = {
                    table: connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
                    for table in ("ledger_chain", "events")
                }
            print(
                f"size            {sizes['ledger_chain'] / 2**20:8.1f} MiB for ledger_chain "
                f"({sizes['ledger_chain'] / point.events:.0f} bytes an event), events "
                f"{sizes['events'] / 2**20:.1f} MiB"
            )
        head = point.position
        measured["at-recorded"] = median_ms(lambda: writer.checkpoints.at(head), args.runs)
        print(f"at-recorded     {measured['at-recorded']:8.2f} ms  (median of {args.runs})")
        lag_from = head - args.lag
        with writer.database.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_chain WHERE position > :p"), {"p": lag_from})
        measured["at-lagging"] = median_ms(lambda: reader.checkpoints.at(head), args.runs)
        print(
            f"at-lagging      {measured['at-lagging']:8.2f} ms  "
            f"(record {args.lag:,} events behind; median of {args.runs})"
        )
        with writer.database.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_chain"))
        took, from_events = timed(lambda: reader.checkpoints.at(head))
        measured["at-no-record"] = from_events.point.events / took
        print(f"at-no-record    {took:8.2f} s   {measured['at-no-record']:,.0f} events/s")
        writer.checkpoints.extend()
        checkpoint = writer.checkpoints.at(head)
        assert checkpoint == from_events, "the record and the events disagree"
        project = "B-00000"
        ms = median_ms(
            lambda: reconciliation(writer.database, project, checkpoints=writer.checkpoints), args.runs
        )
        measured["report"] = ms
        print(f"report          {ms:8.2f} ms  (reconciliation of {project}, signed; median of {args.runs})")
        took, report = timed(lambda: verify_against(writer.database, checkpoint, writer.verifier))
        assert report.ok, [finding.message for finding in report.problems]
        measured["verify-against"] = checkpoint.point.events / took
        print(f"verify-against  {took:8.2f} s   {measured['verify-against']:,.0f} events/s")
        return measured
    finally:
        reader.close()
        writer.close()


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite in a temporary file (default PostgreSQL)"
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--lag", type=int, default=10_000, help="events the record lags for at-lagging")
    parser.add_argument("--runs", type=int, default=20, help="runs of each millisecond figure")
    return parser


def main() -> None:
    args = arguments().parse_args()
    args.lag = min(args.lag, args.events - 1)
    with tempfile.TemporaryDirectory() as directory:
        key, _, key_id = generate(Path(directory) / "bench.pem")
        print(f"checkpoint key {key_id} (Ed25519), made for this run")
        if args.sqlite:
            run(f"sqlite:///{directory}/bench.db", args, key)
            return
        with scratch_schema() as url:
            run(url, args, key)


BRIEF = ["--sqlite", "--events", "20000", "--projects", "100", "--lag", "1000", "--runs", "3"]


def brief() -> list[figures.Figure]:
    """SQLite, 20,000 events of 100 projects, the record lagging 1,000 events, medians of 3 runs."""
    args = arguments().parse_args(BRIEF)
    with tempfile.TemporaryDirectory() as directory, figures.quiet():
        key, _, _ = generate(Path(directory) / "bench.pem")
        measured = run(f"sqlite:///{directory}/bench.db", args, key)
    size = "sqlite, 20,000 events, 100 projects"
    return [
        figures.Figure(
            "record", measured["record"], "events/s", note=f"{size}; chain worked out and recorded"
        ),
        figures.Figure(
            "at-recorded",
            measured["at-recorded"],
            "ms",
            higher_is_better=False,
            note="a signed checkpoint at the head, record current (median of 3)",
        ),
        figures.Figure(
            "at-lagging",
            measured["at-lagging"],
            "ms",
            higher_is_better=False,
            note="record 1,000 events behind",
        ),
        figures.Figure(
            "at-no-record", measured["at-no-record"], "events/s", note="the chain from the events"
        ),
        figures.Figure(
            "report", measured["report"], "ms", higher_is_better=False, note="signed reconciliation"
        ),
        figures.Figure(
            "verify-against", measured["verify-against"], "events/s", note="whole chain recomputed"
        ),
    ]


if __name__ == "__main__":
    main()

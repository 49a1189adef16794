"""The cost of folding a project with many tagged claims (issue 18, item 2), in memory: no database.

Three projects of N claims each on travel_subsistence, spread over a 24-month period:
- `associate_travel`: a virtual business's claims tagged associate_travel (each excluded by R-14
  and each its own `ineligible_claim` alert);
- `conference`: claims tagged conference (from the third on excluded by R-13);
- `untagged`: the control, the same claims with no tag.
Every sixth claim is followed by a partial reversal of it, so the sub-limits move both ways.

For each N it times the fold (`ProjectState.apply`, then `allowances` once, as `ktpledger
allowances` reads a stream) and the projector's fold (`LiveProject.apply` event by event: the
lines the event touched and the alert conditions diffed, what catch-up and replay do); with
`--worker`, also a catch-up's own work after every event (`fold_worker`). Linear
work shows as a flat time per event as N grows; quadratic work as a time per event that doubles
with N. Bounded: the largest N is 4,000 unless given.

    .venv/bin/python bench/fold.py                      # N = 500, 1000, 2000, 4000
    .venv/bin/python bench/fold.py --sizes 500 1000
    .venv/bin/python bench/fold.py --profile 2000       # cProfile of the projector's fold at N
    .venv/bin/python bench/fold.py --worker             # and with a catch-up's work after each event
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import figures  # noqa: E402  (after the path is set)
from ktpledger.domain.alerts import LINE_KINDS, AlertKey  # noqa: E402
from ktpledger.domain.allowances import allowances  # noqa: E402
from ktpledger.domain.events import Event, parse_event  # noqa: E402
from ktpledger.domain.live import LiveProject  # noqa: E402
from ktpledger.domain.project import ProjectState  # noqa: E402
from ktpledger.service.projection_rows import current_changes, facts_row  # noqa: E402

PROJECT = "KTP-BENCH"
START = date(2025, 1, 1)
PERIOD_DAYS = 720
LARGEST = 4000
SCENARIOS = ("associate_travel", "conference", "untagged")


def offer(*, virtual: bool) -> dict[str, Any]:
    return {
        "type": "GrantOffered",
        "project": PROJECT,
        "key": "offer",
        "date": "2024-12-01",
        "data": {
            "title": "Bench",
            "knowledge_base": "University of Example",
            "business": "Bench Ltd",
            "methodology": "fec",
            "business_type": "sme",
            "virtual": virtual,
            "london": False,
            "start": START.isoformat(),
            "months": 24,
            "budget": {
                "associate_employment": "100000",
                "associate_development": "4000",
                "travel_subsistence": "2500",
                "consumables": "4000",
                "knowledge_base_supervisor": "16000",
                "associate_estates": "0",
                "additional_associate_support": "36000",
            },
        },
    }


def stream(scenario: str, n: int) -> list[Event]:
    """The scenario's offer and `n` claims (with a partial reversal after every sixth), parsed."""
    tags = None if scenario == "untagged" else [scenario]
    raws = [offer(virtual=scenario == "associate_travel")]
    for i in range(n):
        on = (START + timedelta(days=i * PERIOD_DAYS // n)).isoformat()
        data: dict[str, Any] = {
            "category": "travel_subsistence",
            "amount": "12.34",
            "description": f"trip {i}",
        }
        if tags is not None:
            data["tags"] = tags
        raws.append({"type": "SpendClaimed", "project": PROJECT, "key": f"c{i}", "date": on, "data": data})
        if i % 6 == 5:
            raws.append(
                {
                    "type": "ClaimReversed",
                    "project": PROJECT,
                    "key": f"r{i}",
                    "date": on,
                    "data": {"claim": f"c{i - 3}", "amount": "1.00", "reason": "refund"},
                }
            )
    return [parse_event(raw) for raw in raws]


def fold_state(events: list[Event]) -> None:
    state = ProjectState(project=PROJECT, track_keys=False)
    for version, event in enumerate(events, start=1):
        state.apply(event, version)
    allowances(state)


def fold_live(events: list[Event]) -> None:
    live = LiveProject.new(PROJECT)
    for version, event in enumerate(events, start=1):
        live.apply(event, version)


def fold_worker(events: list[Event]) -> None:
    """The projector's fold with a catch-up after every event, as a worker woken once per append
    does it: the alert steps, then the open alerts' figures that moved (`current_changes`) and the
    project's health facts (`facts_row`), without the database."""
    live = LiveProject.new(PROJECT)
    open_alerts: dict[AlertKey, str] = {}
    for version, event in enumerate(events, start=1):
        changes = live.apply(event, version)
        for key in changes.resolved:
            open_alerts.pop(key, None)
        for key, detail in changes.raised.items():
            open_alerts[key] = "" if key.kind in LINE_KINDS else json.dumps(detail, sort_keys=True)
        current_changes(PROJECT, live, open_alerts)
        facts_row(PROJECT, live.state, live.ordered_lines(), live.standing_conditions())


def timed(work: Callable[[list[Event]], None], events: list[Event], *, best_of: int = 1) -> float:
    """Seconds `work` takes over `events`: the best of `best_of` runs, each after a full garbage
    collection (in `make bench`'s one process a run could pay for the earlier benchmarks' garbage:
    N=500 read 131-168 us an event there, 40-46 alone)."""
    taken = []
    for _ in range(best_of):
        gc.collect()
        began = time.perf_counter()
        work(events)
        taken.append(time.perf_counter() - began)
    return min(taken)


def brief() -> list[figures.Figure]:
    """The projector's fold per event of 500 and 2,000 associate_travel claims (a virtual business,
    R-14) beside the untagged control of the same size, measured in the same run: linear work costs
    about the control's per event, whatever N."""
    found: list[figures.Figure] = []
    per_event: dict[int, float] = {}
    for n in (500, 2000):
        tagged = stream("associate_travel", n)
        control = stream("untagged", n)
        per_event[n] = timed(fold_live, tagged, best_of=3) / len(tagged) * 1e6
        floor = timed(fold_live, control, best_of=3) / len(control) * 1e6
        found.append(
            figures.Figure(
                f"projector fold, N={n:,}",
                per_event[n],
                "us/event",
                floor=floor,
                target="<= 2x floor",
                higher_is_better=False,
                note=f"{n:,} associate_travel claims (R-14); floor: the same claims untagged",
            )
        )
    found.append(
        figures.Figure(
            "growth 500 -> 2,000",
            per_event[2000] / per_event[500],
            "x per event",
            target="<= 2",  # noise moves it by a half either way; quadratic work gives 4
            higher_is_better=False,
            note="per-event cost at N=2,000 over N=500: 1 is linear, 4 quadratic",
        )
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--profile", type=int, metavar="N", help="profile the projector's fold at N")
    parser.add_argument("--worker", action="store_true", help="also a catch-up after every event")
    args = parser.parse_args()
    sizes = [min(size, LARGEST) for size in args.sizes]
    if args.profile:
        for scenario in SCENARIOS[:2]:
            events = stream(scenario, min(args.profile, LARGEST))
            profiler = cProfile.Profile()
            profiler.runcall(fold_worker if args.worker else fold_live, events)
            print(f"--- {scenario}, N={len(events)} events")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
        return
    folds = {"fold": fold_state, "live": fold_live} | ({"worker": fold_worker} if args.worker else {})
    print(
        f"{'scenario':<18}{'N':>6}{'events':>8}"
        + "".join(f"{name + ' s':>10}{'us/event':>10}" for name in folds)
    )
    for scenario in SCENARIOS:
        for n in sizes:
            events = stream(scenario, n)
            shown = f"{scenario:<18}{n:>6}{len(events):>8}"
            for work in folds.values():
                took = timed(work, events)
                shown += f"{took:>10.3f}{took / len(events) * 1e6:>10.1f}"
            print(shown, flush=True)


if __name__ == "__main__":
    main()

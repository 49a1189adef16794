"""`make bench`: every benchmark briefly, one table of figure, floor, ratio and target.

    .venv/bin/python bench/run.py                    # every bench/*.py that has a brief()
    .venv/bin/python bench/run.py ingest portfolio   # only these

Each benchmark's `brief()` (the protocol: bench/figures.py) runs at a small, bounded size and
returns its figures; an exception becomes a row of its own and the next benchmark runs. The peer
column is the `eventsourcing` library's figure for the same appends, when it is installed in this
interpreter (bench/peer.py). Exits 0 whatever the figures: a benchmark is not a test.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import peer  # noqa: E402
from bench.figures import Figure, table  # noqa: E402

# Modules of bench/ that are not benchmarks: the runner, its helpers.
NOT_BENCHMARKS = {"run", "figures", "peer", "scratch"}


def benchmark_names() -> list[str]:
    return sorted(
        path.stem
        for path in (ROOT / "bench").glob("*.py")
        if path.stem not in NOT_BENCHMARKS and not path.stem.startswith("_")
    )


def run_one(name: str) -> list[Figure]:
    """`bench/NAME.py`'s brief figures; an error (or a module without brief) as one row."""
    try:
        module = importlib.import_module(f"bench.{name}")
        brief = getattr(module, "brief", None)
        if brief is None:
            return [Figure("-", None, note="no brief(): not part of make bench (bench/figures.py)")]
        figures: list[Figure] = brief()
    # Any failure of one benchmark, SystemExit included (some stop that way), is a row: the
    # others still run.
    except (Exception, SystemExit) as error:  # noqa: BLE001
        message = " ".join(str(error).split())[:200]
        return [Figure("error", None, note=f"error: {type(error).__name__}: {message}")]
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    known = benchmark_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return 0
    rows: list[tuple[str, Figure]] = []
    started = time.perf_counter()
    for name in names or known:
        began = time.perf_counter()
        print(f"{name} ...", end=" ", flush=True)
        figures = run_one(name)
        print(f"{time.perf_counter() - began:.0f} s", flush=True)
        rows += [(name, figure) for figure in figures]
    print()
    print(table(rows, peer=True))
    print()
    if not peer.available():
        print(f"peer: eventsourcing is not installed here; to compare, {peer.INSTALL}")
        print("      then run .venv-bench/bin/python bench/run.py ingest")
    print(
        f"{len(names or known)} benchmarks in {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; "
        "ratio = value / floor, both measured in this run; brief sizes: see each note"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

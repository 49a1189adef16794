"""bench/catch_up.py still runs end to end (tiny sizes, SQLite; its figures are not judged here)."""

from __future__ import annotations

from tests.bench import run_bench


def test_the_catch_up_bench_prints_its_figures() -> None:
    output = run_bench("catch_up.py", "--projects", "3", "--claims", "2", "--rounds", "2", "--folds", "1")
    for figure in ("catch-up, cold", "catch-up, warm", "replay:", "fold alone"):
        assert figure in output, output

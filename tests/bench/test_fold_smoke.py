"""bench/fold.py still runs end to end (tiny sizes, in memory; its figures are not judged here)."""

from __future__ import annotations

from tests.bench import run_bench


def test_the_fold_bench_prints_its_figures() -> None:
    output = run_bench("fold.py", "--sizes", "12", "24", "--worker")
    for figure in ("associate_travel", "conference", "untagged", "worker s"):
        assert figure in output, output


def test_the_fold_bench_profiles() -> None:
    output = run_bench("fold.py", "--profile", "12")
    assert "cumulative" in output, output

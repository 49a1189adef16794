"""bench/checkpoint.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

from tests.bench import run_bench


def test_the_checkpoint_benchmark_runs_on_sqlite() -> None:
    tiny = ["--sqlite", "--events", "300", "--projects", "5", "--lag", "50", "--runs", "2"]
    output = run_bench("checkpoint.py", *tiny)
    for figure in ("record", "at-recorded", "at-lagging", "at-no-record", "report", "verify-against"):
        assert f"\n{figure} " in output, f"{figure} missing from:\n{output}"

"""bench/imports.py still runs end to end (tiny sizes, SQLite; its figures are not judged here)."""

from __future__ import annotations

from tests.bench import run_bench


def test_the_import_bench_prints_its_figures() -> None:
    output = run_bench("imports.py", "--sqlite", "--rows", "60", "--xlsx-rows", "30")
    assert "dry-run/s" in output and "real-run/s" in output and "catch-up s" in output
    lines = [line.split() for line in output.splitlines()]
    assert [line[:3] for line in lines if line and line[0] == "sqlite"] == [
        ["sqlite", "csv", "60"],
        ["sqlite", "xlsx", "30"],
    ]

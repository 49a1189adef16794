"""bench/record_memory.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import run_bench


@pytest.mark.slow
def test_record_memory_bench_prints_its_figures() -> None:
    output = run_bench("record_memory.py", "--events", "40", "--projects", "4")
    assert "ktpledger record of 40 JSON Lines events over 4 projects" in output
    assert "40 recorded, 0 duplicates" in output
    assert "peak RSS" in output and "floor (an empty file)" in output and "events/s" in output


@pytest.mark.slow
def test_record_memory_bench_repeats_events_as_duplicates() -> None:
    output = run_bench("record_memory.py", "--events", "30", "--projects", "3", "--distinct", "7")
    assert "7 recorded, 23 duplicates" in output

"""bench/flood.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import run_bench


@pytest.mark.slow
def test_flood_bench_prints_its_figures() -> None:
    output = run_bench(
        "flood.py",
        "--connections",
        "30",
        "--probes",
        "3",
        "--bodies",
        "2",
        "--body-mb",
        "0.1",
        "--env",
        "KTPLEDGER_MAX_CONNECTIONS=20",
    )
    assert "server: this checkout, 20 connections" in output
    assert "flood: 30 half-open connections" in output
    assert "/health during:" in output and "0 of 3 failed" in output
    assert "statuses: 200: 2" in output
    assert "server RSS before" in output

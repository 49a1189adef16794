"""bench/flood.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import re
import shutil

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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_flood_bench_measures_with_wrk_each_post_a_new_event() -> None:
    output = run_bench(
        "flood.py",
        *("--connections", "0", "--bodies", "0", "--requests", "1"),
        *("--client", "wrk", "--seconds", "1", "--clients", "4"),
    )
    posted = re.search(
        r"requests \(wrk\): .*: ([\d,]+) answered 200 a second \((\d+) sent\), 0 failed", output
    )
    assert posted is not None, output
    recorded = re.search(r"(\d+) claims recorded", output)
    assert recorded is not None, output
    # wrk counts no answer that was still on its way when it stopped: one a connection at most.
    assert int(posted.group(2)) <= int(recorded.group(1)) <= int(posted.group(2)) + 4, output
    assert "floor (wrk): the same connections' GET /health" in output

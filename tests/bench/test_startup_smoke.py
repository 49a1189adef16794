"""bench/startup.py still runs end to end (one run per figure; its figures are not judged here)."""

from __future__ import annotations

import pytest

from tests.bench import run_bench


@pytest.mark.slow
def test_startup_bench_prints_its_figures() -> None:
    output = run_bench("startup.py", "--runs", "1", "--commands", "allowances")
    assert "floors: python" in output and "typer app --help" in output
    assert "ktpledger --help " in output and "ktpledger allowances --help " in output
    assert "2 figures: median" in output
    assert "allowances --format json, renderers imported too" in output
    assert "saved by not importing them" in output

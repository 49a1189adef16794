"""bench/flood.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_flood_bench_prints_its_figures() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "flood.py"),
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
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    output = completed.stdout
    assert "server: this checkout, 20 connections" in output
    assert "flood: 30 half-open connections" in output
    assert "/health during:" in output and "0 of 3 failed" in output
    assert "statuses: 200: 2" in output
    assert "server RSS before" in output

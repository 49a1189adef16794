"""Smoke tests of the benchmarks: each runs end to end at tiny sizes; its figures are not judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *arguments: str) -> str:
    """`bench/SCRIPT ARGUMENTS...` run from the checkout's root: its output, once it exited 0."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout

"""bench/checkpoint.py still runs end to end (tiny sizes; its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkpoint_benchmark_runs_on_sqlite() -> None:
    tiny = ["--sqlite", "--events", "300", "--projects", "5", "--lag", "50", "--runs", "2"]
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "checkpoint.py"), *tiny],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for figure in ("record", "at-recorded", "at-lagging", "at-no-record", "report", "verify-against"):
        assert f"\n{figure} " in completed.stdout, f"{figure} missing from:\n{completed.stdout}"

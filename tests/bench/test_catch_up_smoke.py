"""bench/catch_up.py still runs end to end (tiny sizes, SQLite; its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_catch_up_bench_prints_its_figures() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "catch_up.py"),
            "--projects",
            "3",
            "--claims",
            "2",
            "--rounds",
            "2",
            "--folds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for figure in ("catch-up, cold", "catch-up, warm", "replay:", "fold alone"):
        assert figure in completed.stdout, completed.stdout

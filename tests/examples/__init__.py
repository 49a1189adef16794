"""The contract's example project, vendored so that a clone anywhere runs the suite.

`lifecycle.jsonl` is a copy of `shared/examples/lifecycle.jsonl`; `test_example_copy.py` checks the
copy against the original whenever the shared folder sits next to the repository.
"""

from __future__ import annotations

from pathlib import Path

LIFECYCLE = Path(__file__).resolve().parent / "lifecycle.jsonl"
SHARED_LIFECYCLE = Path(__file__).resolve().parents[3] / "shared" / "examples" / "lifecycle.jsonl"

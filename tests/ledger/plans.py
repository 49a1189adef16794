"""Reading PostgreSQL's EXPLAIN ANALYZE plans (JSON) in tests of how much a statement reads."""

from __future__ import annotations

from typing import Any


def rows_read_from_events(plan: dict[str, Any]) -> int:
    """The rows every scan of `events` in an EXPLAIN ANALYZE plan (JSON) read: those it returned
    and those its filter removed, over all its loops (PostgreSQL gives both a loop)."""
    read = 0
    if plan.get("Relation Name") == "events":
        loops = plan.get("Actual Loops", 1)
        read += round((plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops)
    return read + sum(rows_read_from_events(inner) for inner in plan.get("Plans", []))

"""The demo project's life: a 24-month fec KTP, quarter by quarter, as events (docs/events.md).

Acme Packaging Ltd (an SME) and the University of Northshire: an offer with a supervisor
costed from salary; quarterly salary, development, travel and consumables claims; a second
laptop (R-15) and a third conference (R-13); travel running over its budget until the LMC
approves an exceedance and vires money in; a duplicated hotel bill reversed; paternity pay
above statutory (R-35); quarterly grant payments; closure after the end date.

The story is data: demo_story.jsonl, shipped in the package beside this module. Its lines are
events in the ledger's JSON Lines format, each step of the story opened by a line
`{"heading": ...}` naming the step as `ktpledger demo` prints it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from typing import Any

PROJECT = "KTP-DEMO-01"
STORY = "demo_story.jsonl"


def quarters() -> list[tuple[str, list[dict[str, Any]]]]:
    """(heading, events) per step of the project's life, in the order they are recorded."""
    text = resources.files("ktpledger").joinpath(STORY).read_text(encoding="utf-8")
    steps: list[tuple[str, list[dict[str, Any]]]] = []
    # Split on "\n" alone, as the ledger reads JSON Lines (service/json_input.py).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line, parse_float=Decimal)  # money is never a float
        if "heading" in item:
            steps.append((item["heading"], []))
        elif steps:
            steps[-1][1].append(item)
        else:
            raise ValueError(f"{STORY}, line {number}: an event before the first heading")
    return steps

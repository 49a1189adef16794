"""The demo project's life: a 24-month fec KTP, quarter by quarter, as events (docs/events.md).

Acme Packaging Ltd (an SME) and the University of Northshire: an offer with a supervisor
costed from salary; quarterly salary, development, travel and consumables claims; a second
laptop (R-15) and a third conference (R-13); travel running over its budget until the LMC
approves an exceedance and vires money in; a duplicated hotel bill reversed; paternity pay
above statutory (R-35); each ended quarter's grant claim (R-45) and the business's invoice for it
(R-44), the quarterly grant payments naming the claims they pay and the business's payments;
closure after the end date.

The story is data: demo_story.jsonl, shipped in the package beside this module. Its lines are
events in the ledger's JSON Lines format, each step of the story opened by a line
`{"heading": ...}` naming the step as `ktpledger demo` prints it, and, between the events, lines
that are not events but what the demo works out from the ledger as it stands at that point (a
claim names the ledger's head, so it cannot be written down beforehand), each with a `"step"`:

- `{"step": "claim", "quarter": "2024Q2", "date": "2024-07-08", "narratives": {"category":
  "text", ...}}`: the quarter's grant claim as `ktpledger claim submit` works it out
  (`service/claims.draft_claim`), with a narrative for each line whose variance is over 10%;
- `{"step": "invoice", "quarter": "2024Q2", "date": "2024-07-08"}`: the business's invoice for the
  quarter as `ktpledger invoice` works it out (`service/invoices.draft_invoice`, its default number
  `KTP-DEMO-01-2024Q2`);
- `{"step": "invoice_payment", "quarter": "2024Q2", "date": "2024-08-05"}`: the business pays that
  invoice in full (what is outstanding on it).

A step already in the ledger (its key recorded: the demo run again) is not worked out again.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from typing import Any

PROJECT = "KTP-DEMO-01"
STORY = "demo_story.jsonl"
# A second, smaller project in the same ledger, costed non-fec (the other methodology, R-01): a
# 12-month KTP whose reports are written beside the main project's (issue 17). Told the same way.
NON_FEC_PROJECT = "KTP-DEMO-02"
NON_FEC_STORY = "demo_story_non_fec.jsonl"


STEPS = ("claim", "invoice", "invoice_payment")


def is_step(item: dict[str, Any]) -> bool:
    """Whether `item` of `quarters()` is a step the demo works out (module docstring), not an event."""
    return "step" in item


def quarters(story: str = STORY) -> list[tuple[str, list[dict[str, Any]]]]:
    """(heading, items) per step of the project's life (`story`, a file beside this module), in
    the order they are recorded: the items are events and steps (`is_step`)."""
    text = resources.files("ktpledger").joinpath(story).read_text(encoding="utf-8")
    steps: list[tuple[str, list[dict[str, Any]]]] = []
    # Split on "\n" alone, as the ledger reads JSON Lines (service/json_input.py).
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line, parse_float=Decimal)  # money is never a float
        if "heading" in item:
            steps.append((item["heading"], []))
        elif is_step(item) and item["step"] not in STEPS:
            raise ValueError(f"{story}, line {number}: unknown step {item['step']!r}")
        elif steps:
            steps[-1][1].append(item)
        else:
            raise ValueError(f"{story}, line {number}: an event before the first heading")
    return steps

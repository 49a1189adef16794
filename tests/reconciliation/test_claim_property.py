"""A property of grant claims (R-45), at the domain level (no database): over random streams of
spend, reversals and late costs, the quarters claimed in order at random points, the project closed
at the end,

- the submitted claims' grant adds up, to the penny, to the reconciliation's grant of the ledger as
  it stood at the final claim (`reconcile` over the events up to the final claim's version), and
  that plus the final adjustment (what was recorded after the final claim) to the final
  reconciliation's grant;
- each submitted claim's stored data is, as canonical JSON, the claim re-worked from the events up
  to its `version` with its narratives put back.

The events are folded as `service/claims.draft_claim` folds them: each checked by
`ProjectState.check` before it is applied, the claim worked out by `claim_worked`. The hashes are
made up (a claim names the head's, whatever it is).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import event as statistic
from hypothesis import strategies as st

from ktpledger.domain.chain import canonical_json
from ktpledger.domain.claims import claim_worked
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import ClaimSubmitted, Event, parse_event
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import History, reconcile
from ktpledger.domain.rules import Category
from tests.ledger.factory import PROJECT, claim, event, offer, reversal

START = date(2025, 1, 1)  # 24 months: 2025Q1 to 2026Q4, the project ends on 2026-12-31
QUARTERS = [f"{year}Q{n}" for year in (2025, 2026) for n in (1, 2, 3, 4)]
QUARTER_ENDS = [
    date(year, month, 30 if month in (6, 9) else 31) for year in (2025, 2026) for month in (3, 6, 9, 12)
]
LAST_COST_DAY = 729  # 2026-12-31: a cost dated after the project's end is refused
LAST_DAY = 819  # 2027-03-30: reversals may be dated after the end (the final claim covers them)
CATEGORIES = (
    "associate_employment",
    "associate_development",
    "travel_subsistence",
    "consumables",
    "knowledge_base_supervisor",
    "additional_associate_support",
)


def money(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


@dataclass
class Ledger:
    """The project's stream as the ledger would hold it: each event checked, then applied."""

    stream: list[tuple[Event, int, str]] = field(default_factory=list)
    state: ProjectState = field(default_factory=lambda: ProjectState(project=PROJECT))
    refused: int = 0

    def append(self, raw: dict[str, Any]) -> bool:
        parsed = parse_event(raw)
        try:
            self.state.check(parsed)
        except RuleViolation:
            self.refused += 1
            return False
        version = len(self.stream) + 1
        made_up = hashlib.sha256(f"{version}:{parsed.key}".encode()).hexdigest()
        self.state.apply(parsed, version, made_up)
        self.stream.append((parsed, version, made_up))
        return True

    def submit(self, quarter: str, on: date) -> dict[str, Any]:
        """The quarter's claim as `draft_claim` works it, every narrative it needs given."""
        worked = claim_worked(PROJECT, self.stream, quarter)
        worked = worked.with_narratives(
            {category: "as planned" for category, _ in worked.needing_narrative()}
        )
        data = worked.data(len(self.state.grant_claims) + 1, len(self.stream))
        raw = event(ClaimSubmitted.TYPE, f"claim-{quarter}", on.isoformat(), data)
        assert self.append(raw), quarter
        return raw


def reconciled(stream: list[tuple[Event, int, str]]) -> dict[str, Decimal]:
    """Each line's grant as `reconcile` works it over `stream`."""
    state = ProjectState(project=PROJECT, track_keys=False)
    for parsed, version, made_up in stream:
        state.apply(parsed, version, made_up)
    return {line.category.value: line.grant for line in reconcile(state, History()).lines}


spend = st.tuples(
    st.just("spend"),
    st.sampled_from(CATEGORIES),
    st.integers(min_value=1, max_value=900_000),  # pence: up to 9,000.00, some lines go over budget
    st.integers(min_value=0, max_value=LAST_COST_DAY),
)
undo = st.tuples(
    st.just("reverse"),
    st.integers(min_value=0, max_value=10_000),  # which earlier cost (modulo how many there are)
    st.one_of(st.none(), st.integers(min_value=1, max_value=100)),  # whole, or a part (percent)
    st.integers(min_value=0, max_value=LAST_DAY),
)
submit = st.tuples(st.just("claim"), st.integers(min_value=1, max_value=60))  # days after the quarter


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=st.lists(st.one_of(spend, spend, undo, submit), min_size=10, max_size=60),
    late=st.lists(spend, max_size=4),
)
def test_the_claims_add_up_to_the_reconciliation(
    actions: list[tuple[Any, ...]], late: list[tuple[str, str, int, int]]
) -> None:
    ledger = Ledger()
    assert ledger.append(offer(date="2024-12-01", start=START.isoformat()))
    spent: list[tuple[str, int, int]] = []  # (key, pence not yet reversed, its day)
    submitted: list[dict[str, Any]] = []

    def record_spend(category: str, pence: int, day: int) -> None:
        key = f"s{len(ledger.stream)}"
        on = (START + timedelta(days=day)).isoformat()
        if ledger.append(claim(key, money(pence), category=category, date=on)):
            spent.append((key, pence, day))

    def submit_next(days_after: int) -> None:
        index = len(submitted)
        submitted.append(ledger.submit(QUARTERS[index], QUARTER_ENDS[index] + timedelta(days=days_after)))

    for action in actions:
        if action[0] == "spend":
            record_spend(*action[1:])
        elif action[0] == "reverse" and spent:
            _, which, percent, day = action
            index = which % len(spent)
            key, left, spent_on = spent[index]
            amount = None if percent is None else max(1, left * percent // 100)
            if left and amount != left:
                # Never before the cost it reverses, up to three months after the project's end.
                on = (START + timedelta(days=spent_on + day % (LAST_DAY - spent_on + 1))).isoformat()
                raw = reversal(
                    f"r{len(ledger.stream)}", key, None if amount is None else money(amount), date=on
                )
                if ledger.append(raw):
                    spent[index] = (key, 0 if amount is None else left - amount, spent_on)
        elif action[0] == "claim" and len(submitted) < len(QUARTERS):
            submit_next(action[1])
    while len(submitted) < len(QUARTERS):
        submit_next(5)
    final_version = submitted[-1]["data"]["version"] + 1  # the final claim's own version
    for _, category, pence, day in late:  # recorded after the final claim: the final adjustment
        record_spend(category, pence, day)
    assert ledger.append(event("ProjectClosed", "close", "2027-04-15", {}))

    kinds = [type(parsed.payload).__name__ for parsed, _, _ in ledger.stream]
    late_claims = sum(
        any(Decimal(line["prior_period"]) for line in raw["data"]["lines"].values()) for raw in submitted
    )
    # What the examples hold (--hypothesis-show-statistics): the streams must not be all trivial.
    target(float(kinds.count("SpendClaimed") + kinds.count("ClaimReversed") + late_claims))
    statistic(
        f"{kinds.count('SpendClaimed') // 10 * 10}+ costs, {kinds.count('ClaimReversed') // 3 * 3}+ reversals, "
        f"{min(late_claims, 2)}{'+' if late_claims >= 2 else ''} claims with a prior-period adjustment"
    )

    lines_then = reconciled(ledger.stream[:final_version])
    at_final_claim = sum(lines_then.values(), ZERO)
    final = reconcile(ledger.state, History())
    assert final.final
    claimed = sum((Decimal(raw["data"]["grant"]) for raw in submitted), ZERO)
    assert claimed == at_final_claim
    # Line by line too: a line's claimed grant and prior-period adjustments are its reconciled grant.
    by_line: dict[str, Decimal] = {}
    for raw in submitted:
        for name, line in raw["data"]["lines"].items():
            by_line[name] = by_line.get(name, ZERO) + Decimal(line["grant"]) + Decimal(line["prior_period"])
    assert {name: amount for name, amount in by_line.items() if amount} == {
        name: amount for name, amount in lines_then.items() if amount
    }
    adjustment = final.total("grant") - at_final_claim
    assert claimed + adjustment == final.total("grant")
    # Nothing recorded after the final claim but the closure: nothing to adjust.
    if all(
        type(parsed.payload).__name__ == "ProjectClosed" for parsed, _, _ in ledger.stream[final_version:]
    ):
        assert adjustment == ZERO

    # Each claim as stored is the claim re-worked from the ledger up to its version.
    for raw in submitted:
        data = raw["data"]
        worked = claim_worked(PROJECT, ledger.stream[: data["version"]], data["quarter"])
        narratives = {
            Category(name): line["narrative"] for name, line in data["lines"].items() if line.get("narrative")
        }
        again = worked.with_narratives(narratives).data(data["number"], data["position"])
        assert canonical_json(again) == canonical_json(data)
        stored = parse_event(raw).payload
        assert isinstance(stored, ClaimSubmitted)
        assert canonical_json(stored.to_data()) == canonical_json(data)

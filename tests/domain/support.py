"""Helpers for the pure-domain tests: fold submitted events into a state, read allowance lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.claims import ClaimWorked, claim_worked
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import Event, parse_event
from ktpledger.domain.invoices import InvoiceDue, invoice_due
from ktpledger.domain.project import ProjectState
from tests.ledger.factory import PROJECT, event

D = Decimal


def build(*raws: dict[str, Any], project: str = PROJECT) -> ProjectState:
    """A state with `raws` folded in as versions 1..n; each must pass the rules first, so a test
    cannot rest on an event the ledger would refuse."""
    state = ProjectState(project=project)
    for version, raw in enumerate(raws, start=1):
        event = parse_event(raw)
        state.check(event)
        state.apply(event, version)
    return state


def fold_accepted(
    project: str, raws: list[dict[str, Any]]
) -> tuple[ProjectState, list[tuple[Event, int, str]]]:
    """`raws` folded in where the rules accept them, the rest skipped (generated histories hold
    refusals: a reversal of a claim reversed in full, a revision below the spend ...); the offer
    must be accepted. Returns the state and the accepted events as (event, version, hash)."""
    state = ProjectState(project=project)
    events: list[tuple[Event, int, str]] = []
    for raw in raws:
        parsed = parse_event(raw)
        try:
            state.check(parsed)
        except RuleViolation:
            assert state.exists, "the offer must be valid"
            continue
        events.append((parsed, len(events) + 1, ""))
        state.apply(parsed, len(events))
    return state, events


def lines(state: ProjectState) -> dict[str, Allowance]:
    """The allowance lines by category name, checking eligible + ineligible = spent on every line."""
    result: dict[str, Allowance] = {}
    for line in allowances(state):
        assert line.eligible + line.ineligible == line.spent, line
        assert line.remaining == line.budget - line.spent, line
        result[line.category.value] = line
    return result


def figures(line: Allowance) -> tuple[Decimal, Decimal | None, str, Decimal, Decimal, Decimal, Decimal]:
    """(budget, limit, limit_kind, spent, remaining, eligible, ineligible)."""
    return (
        line.budget,
        line.limit,
        line.limit_kind.value,
        line.spent,
        line.remaining,
        line.eligible,
        line.ineligible,
    )


def expect(
    budget: str, limit: str | None, kind: str, spent: str, remaining: str, eligible: str, ineligible: str
) -> tuple[Decimal, Decimal | None, str, Decimal, Decimal, Decimal, Decimal]:
    return (
        D(budget),
        None if limit is None else D(limit),
        kind,
        D(spent),
        D(remaining),
        D(eligible),
        D(ineligible),
    )


class Ledger:
    """A project's stream as the ledger keeps it: every event checked, then folded in."""

    def __init__(self, *raws: dict[str, Any]) -> None:
        self.state = ProjectState(project=PROJECT)
        self.events: list[tuple[Event, int, str]] = []
        for raw in raws:
            self.add(raw)

    def add(self, raw: dict[str, Any]) -> None:
        parsed = parse_event(raw)
        self.state.check(parsed)
        version = len(self.events) + 1
        self.events.append((parsed, version, f"{version:064x}"))
        self.state.apply(parsed, version, f"{version:064x}")

    def refused(self, raw: dict[str, Any]) -> RuleViolation:
        with pytest.raises(RuleViolation) as caught:
            self.state.check(parse_event(raw))
        return caught.value

    def worked(self, quarter: str) -> ClaimWorked:
        return claim_worked(PROJECT, self.events, quarter)

    def claim_event(self, quarter: str, on: str, *, narrate: bool = True, **extra: Any) -> dict[str, Any]:
        worked = self.worked(quarter)
        if narrate:
            worked = worked.with_narratives({c: f"why {c.value}" for c, _ in worked.needing_narrative()})
        data = {**worked.data(len(self.state.grant_claims) + 1, 100 + len(self.events)), **extra}
        return event("ClaimSubmitted", f"claim-{quarter}", on, data)

    def submit(self, quarter: str, on: str) -> ClaimWorked:
        raw = self.claim_event(quarter, on)
        self.add(raw)
        return self.worked(quarter)

    def due(self, quarter: str) -> InvoiceDue:
        return invoice_due(PROJECT, self.events, quarter)

    def invoice(self, quarter: str, number: str, on: str, **extra: Any) -> InvoiceDue:
        """Invoice the business for `quarter` as `ktpledger invoice` works it out (R-44)."""
        due = self.due(quarter)
        self.add(event("BusinessInvoiced", f"invoice-{number}", on, {**due.data(number), **extra}))
        return due

"""Helpers for the pure-domain tests: fold submitted events into a state, read allowance lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ktpledger.domain.allowances import Allowance, allowances
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import Event, parse_event
from ktpledger.domain.project import ProjectState
from tests.ledger.factory import PROJECT

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

"""A project's `GrantOffered` built from its costing (`ktpledger costing --offer`, issue 13).

The offer's budget is the costing's eligible amount per line, in whole pounds, without the derived
`knowledge_base_overheads` (the ledger works it out and refuses it in an offer, R-19). A standard
line costed above its standard amount needs a justification (R-31); `unjustified` names those
still without one. The event is parsed by the ledger's own parser and checked against a project
with no events, so what `offer_from_costing` returns is what `record` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ktpledger.domain.costing import Costing, CostingLine
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import Event, GrantOffered, parse_event
from ktpledger.domain.money import format_money, format_pounds
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import LimitKind


@dataclass(frozen=True)
class OfferTerms:
    """What an offer needs beyond its costing: who, when, and the justifications (by category name
    as typed; the event's parser judges the names)."""

    project: str
    start: date
    title: str
    knowledge_base: str
    business: str
    key: str = "offer"
    event_date: date | None = None  # the event's date; None: the start
    justifications: Mapping[str, str] = field(default_factory=dict)

    @property
    def on(self) -> date:
        return self.start if self.event_date is None else self.event_date


def budget_lines(costing: Costing) -> tuple[CostingLine, ...]:
    """The costing's lines an offer budgets: all but the derived ones (R-19)."""
    return tuple(line for line in costing.lines if line.limit_kind is not LimitKind.DERIVED)


def above_standard(costing: Costing) -> tuple[CostingLine, ...]:
    """The standard lines costed above their standard amount: each needs a justification (R-31)."""
    return tuple(
        line
        for line in budget_lines(costing)
        if line.limit_kind is LimitKind.STANDARD and line.limit is not None and line.eligible > line.limit
    )


def unjustified(costing: Costing, justifications: Mapping[str, str]) -> tuple[CostingLine, ...]:
    """The lines of `above_standard` that `justifications` does not justify."""
    return tuple(line for line in above_standard(costing) if line.category.value not in justifications)


def why_justified(line: CostingLine, costing: Costing) -> str:
    """Why `line` needs a justification, for people: its amount, its standard and its rule."""
    assert line.limit is not None
    rule = costing.rule_set.category_rule(costing.request.methodology, line.category).rule
    return (
        f"{line.category.value} budget {format_pounds(line.eligible)} is above its standard of "
        f"{format_pounds(line.limit)} for {costing.request.months} months ({rule})"
    )


def offer_from_costing(costing: Costing, terms: OfferTerms) -> dict[str, Any]:
    """The `GrantOffered` event of `costing` as JSON for `record` (type, project, key, date, data),
    or `RuleViolation` when the ledger would refuse it: a standard line above its standard without
    a justification (R-31), or any field the event's parser or a new project's rules refuse."""
    missing = unjustified(costing, terms.justifications)
    if missing:
        line = missing[0]
        raise RuleViolation(
            "R-31",
            f"{why_justified(line, costing)}: give a justification for it "
            f"(--justification {line.category.value}=TEXT) or lower it",
            field=f"justifications.{line.category.value}",
        )
    request = costing.request
    data: dict[str, Any] = {
        "title": terms.title,
        "knowledge_base": terms.knowledge_base,
        "business": terms.business,
        "methodology": request.methodology.value,
        "business_type": request.business_type.value,
        "virtual": request.virtual,
        "london": request.london,
        "start": terms.start.isoformat(),
        "months": request.months,
        "budget": {line.category.value: format_money(line.eligible) for line in budget_lines(costing)},
    }
    if request.grant_rate is not None:
        data["grant_rate"] = f"{request.grant_rate:f}"
    if terms.justifications:
        data["justifications"] = dict(terms.justifications)
    if request.supervisor_cost is not None:
        data["supervisor_cost"] = format_money(request.supervisor_cost)
    raw = {
        "type": GrantOffered.TYPE,
        "project": terms.project,
        "key": terms.key,
        "date": terms.on.isoformat(),
        "data": data,
    }
    event = checked(raw)
    return {"type": event.type, "project": event.project, "key": event.key, **event.content()}


def checked(raw: Mapping[str, Any]) -> Event:
    """`raw` parsed as the ledger parses it and checked as the first event of a new project."""
    event = parse_event(dict(raw))
    state = ProjectState(event.project)
    state.check(event)
    state.apply(event, 1)
    return event

"""A project's `GrantOffered` event for `record`, built by one function (`offer_event`) from an
`OfferDraft`: from a costing (`ktpledger costing --offer`, issue 13) or from an offer letter
(`ktpledger offer FILE`, `domain/offer_letter.py`).

The offer's budget is in whole pounds, without the derived `knowledge_base_overheads` (the ledger
works it out and refuses it in an offer, R-19). A standard line above its standard amount needs a
justification (R-31); `unjustified` names those still without one. The event is parsed by the
ledger's own parser and checked against a project with no events, so what `offer_event` returns is
what `record` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ktpledger.domain.costing import Costing, CostingLine
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import Event, GrantOffered, parse_event
from ktpledger.domain.money import ZERO, format_money, format_pounds
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import BusinessType, Category, LimitKind, Methodology, rule_set_for


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


@dataclass(frozen=True)
class OfferDraft:
    """Every field of a `GrantOffered` event as typed values, before the ledger's checks.
    `sources` says where each budget amount was read (e.g. "cell C12"), for refusals."""

    project: str
    start: date
    title: str
    knowledge_base: str
    business: str
    methodology: Methodology
    business_type: BusinessType
    months: int
    budget: Mapping[Category, Decimal]
    london: bool = False
    virtual: bool = False
    grant_rate: Decimal | None = None
    supervisor_cost: Decimal | None = None
    key: str = "offer"
    event_date: date | None = None  # the event's date; None: the start
    justifications: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[Category, str] = field(default_factory=dict)

    @property
    def on(self) -> date:
        return self.start if self.event_date is None else self.event_date


@dataclass(frozen=True)
class AboveStandard:
    """A standard line whose budget is above its standard for the project's months (R-31)."""

    category: Category
    amount: Decimal
    limit: Decimal
    months: int
    rule: str
    source: str = ""

    @property
    def why(self) -> str:
        """Why it needs a justification, for people: its amount, its standard and its rule."""
        where = f", {self.source}" if self.source else ""
        return (
            f"{self.category.value} budget {format_pounds(self.amount)} is above its standard of "
            f"{format_pounds(self.limit)} for {self.months} months ({self.rule}{where})"
        )


def budget_lines(costing: Costing) -> tuple[CostingLine, ...]:
    """The costing's lines an offer budgets: all but the derived ones (R-19)."""
    return tuple(line for line in costing.lines if line.limit_kind is not LimitKind.DERIVED)


def draft_from_costing(costing: Costing, terms: OfferTerms) -> OfferDraft:
    """The offer of `costing`: each budget line's eligible amount."""
    request = costing.request
    return OfferDraft(
        project=terms.project,
        start=terms.start,
        title=terms.title,
        knowledge_base=terms.knowledge_base,
        business=terms.business,
        methodology=request.methodology,
        business_type=request.business_type,
        months=request.months,
        budget={line.category: line.eligible for line in budget_lines(costing)},
        london=request.london,
        virtual=request.virtual,
        grant_rate=request.grant_rate,
        supervisor_cost=request.supervisor_cost,
        key=terms.key,
        event_date=terms.event_date,
        justifications=terms.justifications,
    )


def above_standard(draft: OfferDraft) -> tuple[AboveStandard, ...]:
    """The standard lines of `draft` above their standard, under the rules of the offer's date."""
    rules = rule_set_for(draft.on)
    found = []
    for category in rules.claimable(draft.methodology):
        rule = rules.category_rule(draft.methodology, category)
        if rule.kind is not LimitKind.STANDARD:
            continue
        limit = rules.limit(
            draft.methodology,
            category,
            draft.months,
            london=draft.london,
            supervisor_cost=draft.supervisor_cost,
        )
        amount = draft.budget.get(category, ZERO)
        if limit is not None and amount > limit:
            source = draft.sources.get(category, "")
            found.append(AboveStandard(category, amount, limit, draft.months, rule.rule, source))
    return tuple(found)


def unjustified(
    draft: OfferDraft, justifications: Mapping[str, str] | None = None
) -> tuple[AboveStandard, ...]:
    """The lines of `above_standard` that `justifications` (default the draft's) does not justify."""
    given = draft.justifications if justifications is None else justifications
    return tuple(line for line in above_standard(draft) if line.category.value not in given)


def offer_event(draft: OfferDraft) -> dict[str, Any]:
    """The `GrantOffered` event of `draft` as JSON for `record` (type, project, key, date, data),
    or `RuleViolation` when the ledger would refuse it: a standard line above its standard without
    a justification (R-31, naming the option that gives one), or any field the event's parser or a
    new project's rules refuse (a budget line's refusal names where the amount was read)."""
    missing = unjustified(draft)
    if missing:
        line = missing[0]
        raise RuleViolation(
            "R-31",
            f"{line.why}: give a justification for it "
            f"(--justification {line.category.value}=TEXT) or lower it",
            field=f"justifications.{line.category.value}",
        )
    data: dict[str, Any] = {
        "title": draft.title,
        "knowledge_base": draft.knowledge_base,
        "business": draft.business,
        "methodology": draft.methodology.value,
        "business_type": draft.business_type.value,
        "virtual": draft.virtual,
        "london": draft.london,
        "start": draft.start.isoformat(),
        "months": draft.months,
        "budget": {category.value: format_money(amount) for category, amount in draft.budget.items()},
    }
    if draft.grant_rate is not None:
        data["grant_rate"] = f"{draft.grant_rate:f}"
    if draft.justifications:
        data["justifications"] = dict(draft.justifications)
    if draft.supervisor_cost is not None:
        data["supervisor_cost"] = format_money(draft.supervisor_cost)
    raw = {
        "type": GrantOffered.TYPE,
        "project": draft.project,
        "key": draft.key,
        "date": draft.on.isoformat(),
        "data": data,
    }
    try:
        event = checked(raw)
    except RuleViolation as error:
        raise located(error, draft.sources) from None
    return {"type": event.type, "project": event.project, "key": event.key, **event.content()}


def located(error: RuleViolation, sources: Mapping[Category, str]) -> RuleViolation:
    """`error` naming where its budget line was read, when it is about one and that is known."""
    name = (error.field or "").removeprefix("budget.")
    source = next((where for category, where in sources.items() if category.value == name), None)
    if not error.field or not error.field.startswith("budget.") or source is None:
        return error
    return RuleViolation(error.rule, f"{error.message} ({source})", field=error.field)


def offer_from_costing(costing: Costing, terms: OfferTerms) -> dict[str, Any]:
    """The `GrantOffered` event of `costing` as JSON for `record` (`offer_event`)."""
    return offer_event(draft_from_costing(costing, terms))


def checked(raw: Mapping[str, Any]) -> Event:
    """`raw` parsed as the ledger parses it and checked as the first event of a new project."""
    event = parse_event(dict(raw))
    state = ProjectState(event.project)
    state.check(event)
    state.apply(event, 1)
    return event

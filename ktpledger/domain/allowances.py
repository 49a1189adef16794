"""Each category's remaining allowance (R-40), from a project's folded state.

Eligible spend is spend up to the line's budget, never above a maximum, less what a sub-limit or
R-14 excludes; ineligible is the rest. Decisions where the guidance leaves a choice:
- a claim tagged `conference` counts as one conference; from the third on (in the order recorded)
  such claims are excluded (R-13: "the business partner must fully support ... more than 2");
- a second and later claim tagged `computer` is excluded (R-15); higher degree fees above 700 per
  project are excluded (R-12); a virtual business's `associate_travel` claims are excluded (R-14);
- a claim reversed in full no longer counts towards a sub-limit;
- excluded claims come out of the spend first and what remains is capped at the budget (and any
  maximum): a third conference is the business's own cost, and the rest of the travel spend still
  counts against the whole budget (budget 2,500, spend 3,500 of which 600 excluded: eligible 2,500);
- the non-fec overheads line (R-19) is derived (`domain/shares.py`): its budget is the costing's
  figure for the associate_employment and academic_secretarial_support budgets, in whole pounds
  (R-20, R-21); its spent and eligible are what it has earned, 46% of the reconciled grant of those
  lines' eligible spend (R-23), never above its budget (R-42); its ineligible is always 0. Its
  `spent` is that earned amount, not a claim: nothing is ever claimed on it (the reconciliation's
  `claimed` for it is 0), so `allowances` and `reconcile` agree on its budget, eligible and
  ineligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.rules import Category, LimitKind, Tag
from ktpledger.domain.shares import overheads_budget, overheads_earned


@dataclass(frozen=True)
class Exclusions:
    """What sub-limits and R-14 take out of a line's spend, by reason."""

    higher_degree_fee: Decimal = ZERO
    conference: Decimal = ZERO
    computer: Decimal = ZERO
    associate_travel: Decimal = ZERO
    higher_degree_fees: Decimal = ZERO  # total net higher-degree fees claimed
    conferences: int = 0  # claims tagged conference, not reversed in full
    computers: int = 0
    associate_travel_claims: tuple[str, ...] = ()  # keys, virtual business only

    @property
    def total(self) -> Decimal:
        return self.higher_degree_fee + self.conference + self.computer + self.associate_travel


@dataclass(frozen=True)
class Allowance:
    """One line of `ktpledger allowances` (docs/cli.md)."""

    category: Category
    budget: Decimal
    limit: Decimal | None
    limit_kind: LimitKind
    spent: Decimal
    eligible: Decimal
    maximum: Decimal | None
    exclusions: Exclusions

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    @property
    def ineligible(self) -> Decimal:
        return self.spent - self.eligible

    @property
    def over_budget(self) -> Decimal:
        return max(ZERO, self.spent - self.budget)

    @property
    def over_cap(self) -> Decimal:
        return ZERO if self.maximum is None else max(ZERO, self.spent - self.maximum)


def exclusions(state: ProjectState, category: Category) -> Exclusions:
    """The sub-limit and R-14 exclusions of `category`'s claims."""
    rules = state.rules
    assert rules is not None and state.offer is not None
    # Only tagged claims can fall under a sub-limit or R-14; they are kept in version order.
    claims = [c for c in state.tagged.get(category, ()) if c.outstanding > 0]
    if not claims:
        return Exclusions()
    fees = sum((c.outstanding for c in claims if Tag.HIGHER_DEGREE_FEE in c.tags), ZERO)
    conference_claims = [c for c in claims if Tag.CONFERENCE in c.tags]
    computer_claims = [c for c in claims if Tag.COMPUTER in c.tags]
    travel_claims = [c for c in claims if Tag.ASSOCIATE_TRAVEL in c.tags] if state.offer.virtual else []
    return Exclusions(
        higher_degree_fee=max(ZERO, fees - rules.higher_degree_fee_cap),
        conference=sum((c.outstanding for c in conference_claims[rules.conference_guide :]), ZERO),
        computer=sum((c.outstanding for c in computer_claims[rules.computer_cap :]), ZERO),
        associate_travel=sum((c.outstanding for c in travel_claims), ZERO),
        higher_degree_fees=fees,
        conferences=len(conference_claims),
        computers=len(computer_claims),
        associate_travel_claims=tuple(c.key for c in travel_claims),
    )


def allowance(state: ProjectState, category: Category) -> Allowance:
    """The allowance of one claimable (non-derived) line."""
    kind = state.limit_kind(category)
    budget = state.budget.get(category, ZERO)
    spent = state.spent.get(category, ZERO)
    excluded = exclusions(state, category)
    maximum = state.limit(category) if kind is LimitKind.MAXIMUM else None
    ceiling = budget if maximum is None else min(budget, maximum)
    eligible = max(ZERO, min(spent - excluded.total, ceiling))
    return Allowance(
        category=category,
        budget=budget,
        limit=state.limit(category),
        limit_kind=kind,
        spent=spent,
        eligible=eligible,
        maximum=maximum,
        exclusions=excluded,
    )


def derived_overheads(state: ProjectState, lines: dict[Category, Allowance]) -> Allowance:
    """The non-fec overheads line (R-19): 46% of the grant share of its source lines."""
    rules = state.rules
    assert rules is not None
    rate = state.grant_rate
    budget = overheads_budget(state.budget, rate, rules)
    accrued = overheads_earned({c: line.eligible for c, line in lines.items()}, rate, rules, budget)
    return Allowance(
        category=Category.KNOWLEDGE_BASE_OVERHEADS,
        budget=budget,
        limit=None,
        limit_kind=LimitKind.DERIVED,
        spent=accrued,
        eligible=accrued,
        maximum=None,
        exclusions=Exclusions(),
    )


def allowances(state: ProjectState) -> list[Allowance]:
    """Every line of the project, in the guidance tables' order."""
    lines: dict[Category, Allowance] = {}
    for category in state.categories():
        if state.limit_kind(category) is not LimitKind.DERIVED:
            lines[category] = allowance(state, category)
    result = []
    for category in state.categories():
        if state.limit_kind(category) is LimitKind.DERIVED:
            result.append(derived_overheads(state, lines))
        else:
            result.append(lines[category])
    return result

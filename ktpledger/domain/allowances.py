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

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ktpledger.domain.money import ZERO
from ktpledger.domain.project import (
    ASSOCIATE_TRAVEL,
    COMPUTER,
    CONFERENCE,
    HIGHER_DEGREE_FEE,
    Claim,
    CountedClaims,
    ProjectState,
)
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
    # How many claims R-14 excludes, virtual business only; their keys: `associate_travel_keys`.
    associate_travel_claims: int = 0

    @property
    def total(self) -> Decimal:
        return self.higher_degree_fee + self.conference + self.computer + self.associate_travel


NO_EXCLUSIONS = Exclusions()
_NONE_COUNTED = CountedClaims(0)  # read only: what `exclusions` finds for a reason with no claim


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


def _excluded_claims(state: ProjectState, category: Category) -> tuple[list[Claim], dict[str, list[Claim]]]:
    """`category`'s claims that still count (not reversed in full, in version order), and those of
    them each sub-limit or R-14 reason reaches: the one selection `exclusions` and `claim_shares` read."""
    rules = state.rules
    assert rules is not None and state.offer is not None
    # Only tagged claims can fall under a sub-limit or R-14; they are kept in version order.
    claims = [c for c in state.tagged.get(category, ()) if c.outstanding > 0]
    travel = [c for c in claims if Tag.ASSOCIATE_TRAVEL in c.tags] if state.offer.virtual else []
    # A virtual business's associate travel is wholly the business's before any guide is
    # counted: so it is excluded once, and it takes none of the project's two conferences.
    travel_keys = {c.key for c in travel}
    return claims, {
        "higher_degree_fee": [c for c in claims if Tag.HIGHER_DEGREE_FEE in c.tags],
        "conference": [c for c in claims if Tag.CONFERENCE in c.tags and c.key not in travel_keys],
        "computer": [c for c in claims if Tag.COMPUTER in c.tags],
        "associate_travel": travel,
    }


def exclusions(state: ProjectState, category: Category) -> Exclusions:
    """The sub-limit and R-14 exclusions of `category`'s claims, from the claims the fold keeps
    counted (`ProjectState.counted`): O(1) whatever the number of tagged claims. The same figures
    as `exclusions_from_scratch`, which works them out from every tagged claim."""
    rules = state.rules
    assert rules is not None and state.offer is not None
    counted = state.counted
    if not counted:
        return NO_EXCLUSIONS  # no tagged claim counted on any line: the usual project
    empty = _NONE_COUNTED
    fees = counted.get((category, HIGHER_DEGREE_FEE), empty)
    conferences = counted.get((category, CONFERENCE), empty)
    computers = counted.get((category, COMPUTER), empty)
    travel = counted.get((category, ASSOCIATE_TRAVEL), empty)
    if not (fees.count or conferences.count or computers.count or travel.count):
        return NO_EXCLUSIONS
    return Exclusions(
        higher_degree_fee=max(ZERO, fees.total - rules.higher_degree_fee_cap),
        conference=conferences.rest_total,
        computer=computers.rest_total,
        associate_travel=travel.total,
        higher_degree_fees=fees.total,
        conferences=conferences.count,
        computers=computers.count,
        associate_travel_claims=travel.count,
    )


def associate_travel_keys(state: ProjectState, category: Category) -> Iterable[str]:
    """The keys of `category`'s claims R-14 excludes (a virtual business's associate travel that
    still counts), in version order."""
    travel = state.counted.get((category, ASSOCIATE_TRAVEL))
    return () if travel is None else travel.keys()


def exclusions_from_scratch(state: ProjectState, category: Category) -> Exclusions:
    """`exclusions` worked out from every tagged claim of `category` (the reference the
    incremental fold is held to in tests/domain/test_linear_fold.py)."""
    rules = state.rules
    assert rules is not None
    claims, reached = _excluded_claims(state, category)
    if not claims:
        return Exclusions()
    fees = sum((c.outstanding for c in reached["higher_degree_fee"]), ZERO)
    conference_claims = reached["conference"]
    computer_claims = reached["computer"]
    travel_claims = reached["associate_travel"]
    return Exclusions(
        higher_degree_fee=max(ZERO, fees - rules.higher_degree_fee_cap),
        conference=sum((c.outstanding for c in conference_claims[rules.conference_guide :]), ZERO),
        computer=sum((c.outstanding for c in computer_claims[rules.computer_cap :]), ZERO),
        associate_travel=sum((c.outstanding for c in travel_claims), ZERO),
        higher_degree_fees=fees,
        conferences=len(conference_claims),
        computers=len(computer_claims),
        associate_travel_claims=len(travel_claims),
    )


def allowance(state: ProjectState, category: Category) -> Allowance:
    """The allowance of one claimable (non-derived) line."""
    kind = state.limit_kind(category)
    budget = state.budget.get(category, ZERO)
    spent = state.spent.get(category, ZERO)
    excluded = exclusions(state, category)
    limit = state.limit(category)
    maximum = limit if kind is LimitKind.MAXIMUM else None
    ceiling = budget if maximum is None else min(budget, maximum)
    eligible = max(ZERO, min(spent - excluded.total, ceiling))
    return Allowance(
        category=category,
        budget=budget,
        limit=limit,
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


@dataclass(frozen=True)
class ClaimShare:
    """How much of one claim (as reversals leave it) is eligible, and why the rest is not, by the
    reasons of `reconciliation.reasons` (higher_degree_fee, conference, computer, associate_travel,
    over_cap, over_budget). `nth` is the claim's place among the line's counted claims of its
    sub-limit (the third conference: 3), 0 when none applies."""

    key: str
    outstanding: Decimal
    eligible: Decimal
    reasons: dict[str, Decimal]
    nth: int = 0

    @property
    def ineligible(self) -> Decimal:
        return self.outstanding - self.eligible


def _portion_above(before: Decimal, amount: Decimal, ceiling: Decimal) -> Decimal:
    """The part of [before, before + amount] above `ceiling`."""
    return max(ZERO, before + amount - max(ceiling, before))


def claim_shares(state: ProjectState, line: Allowance) -> dict[str, ClaimShare]:
    """Each claim of `line`'s category, by key, split into eligible and ineligible by reason: the
    line's exclusions (`exclusions`) fall on the claims they select (higher degree fees above the cap
    on the claims that pass it, in the order recorded), and what remains above the line's ceiling
    (`allowance`) falls on the last claims recorded. The eligible shares add up to `line.eligible`
    and each reason's shares to the line's figure for it (`reconciliation.reasons`); a claim reversed
    in full is eligible 0 with no reason. The derived overheads line has no claims."""
    rules = state.rules
    assert rules is not None
    category = line.category
    if line.limit_kind is LimitKind.DERIVED:
        return {}
    _, reached = _excluded_claims(state, category)
    excluded: dict[str, dict[str, Decimal]] = {}
    nth: dict[str, int] = {}

    def exclude(claim: Claim, reason: str, amount: Decimal) -> None:
        if amount:
            excluded.setdefault(claim.key, {})[reason] = amount

    fees = ZERO
    for claim in reached["higher_degree_fee"]:
        exclude(
            claim, "higher_degree_fee", _portion_above(fees, claim.outstanding, rules.higher_degree_fee_cap)
        )
        fees += claim.outstanding
    for reason, allowed in (("conference", rules.conference_guide), ("computer", rules.computer_cap)):
        for place, claim in enumerate(reached[reason], start=1):
            nth[claim.key] = place
            if place > allowed:
                exclude(claim, reason, claim.outstanding)
    for claim in reached["associate_travel"]:
        exclude(claim, "associate_travel", claim.outstanding)
    ceiling = line.budget if line.maximum is None else min(line.budget, line.maximum)
    counted = ZERO
    shares: dict[str, ClaimShare] = {}
    for claim in (c for c in state.claims.values() if c.category is category):
        reasons = dict(excluded.get(claim.key, {}))
        remaining = max(ZERO, claim.outstanding - sum(reasons.values(), ZERO))
        above = _portion_above(counted, remaining, ceiling)
        if above:
            over_cap = ZERO if line.maximum is None else _portion_above(counted, remaining, line.maximum)
            if over_cap:
                reasons["over_cap"] = over_cap
            if above - over_cap:
                reasons["over_budget"] = above - over_cap
        counted += remaining
        shares[claim.key] = ClaimShare(
            claim.key, claim.outstanding, remaining - above, reasons, nth.get(claim.key, 0)
        )
    return shares

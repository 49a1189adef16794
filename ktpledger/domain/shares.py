"""Each party's share of a line, and the non-fec overheads line that follows from the shares.

One function per rule, used by every reader (costing, allowances, reconciliation, claim packs):
- R-21 a costing's shares: `eligible x rate` for the grant and `eligible x (1 - rate)` for the
  business, each rounded half up to the whole pound on its own;
- R-23 a reconciled line's grant: `eligible x rate` rounded half up to the penny (the business
  share is the rest, so the line balances to the penny);
- R-19 the non-fec knowledge base overheads: 46% of the grant share of associate_employment and
  academic_secretarial_support. Its *budget* is a budget figure, so it is worked as the costing
  works it: each source line's grant share in whole pounds (R-21), 46% of their sum rounded half
  up to the pound (R-20). What it *earns* is worked as the reconciliation works it: 46% of the
  source lines' reconciled grant (R-23), rounded half up to the penny, never above its budget
  (R-42). The whole line is grant; the business pays none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ktpledger.domain.money import ZERO, round_penny_half_up, round_pound_half_up
from ktpledger.domain.rules import Category, RuleSet


def costing_grant(eligible: Decimal, rate: Decimal) -> Decimal:
    """The grant share of a costing line, in whole pounds (R-21)."""
    return round_pound_half_up(eligible * rate)


def costing_business(eligible: Decimal, rate: Decimal) -> Decimal:
    """The business share of a costing line, in whole pounds, rounded on its own (R-21)."""
    return round_pound_half_up(eligible * (1 - rate))


def reconciled_grant(eligible: Decimal, rate: Decimal) -> Decimal:
    """The grant share of a line's eligible spend, to the penny (R-23)."""
    return round_penny_half_up(eligible * rate)


def overheads_budget(budgets: Mapping[Category, Decimal], rate: Decimal, rules: RuleSet) -> Decimal:
    """The overheads line's budget in whole pounds from the lines' budgets (any lines: the
    sources are chosen here), exactly as `ktpledger costing` gives it for the same source lines
    (R-19, R-20, R-21). A source line that is not given counts as 0."""
    base = sum((costing_grant(budgets.get(c, ZERO), rate) for c in rules.overheads_sources), ZERO)
    return round_pound_half_up(base * rules.overheads_rate)


def overheads_earned(
    eligible: Mapping[Category, Decimal], rate: Decimal, rules: RuleSet, budget: Decimal
) -> Decimal:
    """What the overheads line has earned from the lines' eligible spend (any lines: the sources
    are chosen here): 46% of the sources' reconciled grant, half up to the penny, never above the
    line's budget (R-19, R-42)."""
    grant = sum((reconciled_grant(eligible.get(c, ZERO), rate) for c in rules.overheads_sources), ZERO)
    return min(budget, round_penny_half_up(grant * rules.overheads_rate))

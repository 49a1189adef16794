"""The KTP cost rules of docs/rules.md R-01..R-23 as data, in dated rule sets.

A change of Innovate UK's guidance is a new `RuleSet` appended to `RULE_SETS` with its own
`in_force_from` date, never an edit of an old one: a project keeps the rules in force on the
date of its grant offer (`rule_set_for`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.money import round_pound_down, round_pound_half_up

MONTHS_PER_YEAR = Decimal(12)


def pro_rata(annual: Decimal, months: int) -> Decimal:
    """`annual * months / 12` (R-02), multiplied first so an exact half stays exact for rounding."""
    return annual * months / MONTHS_PER_YEAR


E = TypeVar("E", bound=StrEnum)


class Methodology(StrEnum):
    """How the knowledge base costs the project (R-01)."""

    FEC = "fec"
    NON_FEC = "non_fec"


class BusinessType(StrEnum):
    """The business partner's type, which sets the grant rate (R-01, R-03)."""

    SME = "sme"
    LARGE = "large"
    NOT_FOR_PROFIT = "not_for_profit"
    PUBLIC_SECTOR = "public_sector"


class LimitKind(StrEnum):
    """How hard a category's limit is (docs/rules.md, cost categories)."""

    MAXIMUM = "maximum"  # never exceeded, whatever the LMC decides
    STANDARD = "standard"  # may be exceeded with justification and approval
    BUDGET = "budget"  # the offered budget is the limit
    DERIVED = "derived"  # computed from other lines, never claimed directly


class Category(StrEnum):
    """The canonical cost categories, in the guidance tables' order."""

    ASSOCIATE_EMPLOYMENT = "associate_employment"
    ACADEMIC_SECRETARIAL_SUPPORT = "academic_secretarial_support"
    ASSOCIATE_DEVELOPMENT = "associate_development"
    TRAVEL_SUBSISTENCE = "travel_subsistence"
    CONSUMABLES = "consumables"
    KNOWLEDGE_BASE_SUPERVISOR = "knowledge_base_supervisor"
    ASSOCIATE_ESTATES = "associate_estates"
    ADDITIONAL_ASSOCIATE_SUPPORT = "additional_associate_support"
    KNOWLEDGE_BASE_OVERHEADS = "knowledge_base_overheads"


class Tag(StrEnum):
    """Claim tags that sub-limits and eligibility rules look at (R-33)."""

    HIGHER_DEGREE_FEE = "higher_degree_fee"
    CONFERENCE = "conference"
    COMPUTER = "computer"
    ASSOCIATE_TRAVEL = "associate_travel"
    ACADEMIC_TRAVEL = "academic_travel"


@dataclass(frozen=True)
class CategoryRule:
    """One category's limit: `annual` is pro rata per 12 months (R-02); `per_project` is not."""

    category: Category
    kind: LimitKind
    rule: str
    annual: Decimal | None = None
    per_project: Decimal | None = None


def _frozen(
    mapping: Mapping[Methodology, tuple[CategoryRule, ...]],
) -> Mapping[Methodology, tuple[CategoryRule, ...]]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class RuleSet:
    """Every number of one edition of the KTP costs guidance."""

    name: str
    in_force_from: date
    grant_rates: Mapping[tuple[Methodology, BusinessType], Decimal]
    categories: Mapping[Methodology, tuple[CategoryRule, ...]]
    london_weighting_annual: Decimal
    higher_degree_fee_cap: Decimal
    conference_guide: int
    computer_cap: int
    supervisor_fte_standard: Decimal
    overheads_rate: Decimal
    min_months: int = 1
    max_months: int = 60
    overheads_sources: tuple[Category, ...] = field(
        default=(Category.ASSOCIATE_EMPLOYMENT, Category.ACADEMIC_SECRETARIAL_SUPPORT)
    )

    def grant_rate(self, methodology: Methodology, business_type: BusinessType) -> Decimal:
        """The Innovate UK share of each line (R-03)."""
        return self.grant_rates[(methodology, business_type)]

    def categories_for(self, methodology: Methodology) -> tuple[Category, ...]:
        """The categories a project of `methodology` has, in the guidance tables' order."""
        return tuple(rule.category for rule in self.categories[methodology])

    def claimable(self, methodology: Methodology) -> tuple[Category, ...]:
        """The lines a project of `methodology` budgets, claims and vires: all but the derived one."""
        return tuple(
            rule.category for rule in self.categories[methodology] if rule.kind is not LimitKind.DERIVED
        )

    def category_rule(self, methodology: Methodology, category: Category) -> CategoryRule:
        """The rule of `category`; `RuleViolation` (R-01) if the methodology has no such category."""
        for rule in self.categories[methodology]:
            if rule.category is category:
                return rule
        raise RuleViolation(
            "R-01",
            f"category {shown(category.value)} does not exist for a {methodology.value} project; "
            f"use one of {', '.join(c.value for c in self.categories_for(methodology))}",
            field="category",
        )

    def check_months(self, months: int) -> int:
        """Whole months within the range the ledger accepts (R-02)."""
        if isinstance(months, bool) or not isinstance(months, int):
            raise RuleViolation(
                "R-02", f"months must be a whole number of months, got {shown(months)}", field="months"
            )
        if not self.min_months <= months <= self.max_months:
            raise RuleViolation(
                "R-02",
                f"months must be between {self.min_months} and {self.max_months}, got {months}",
                field="months",
            )
        return months

    def limit(
        self,
        methodology: Methodology,
        category: Category,
        months: int,
        *,
        london: bool = False,
        supervisor_cost: Decimal | None = None,
    ) -> Decimal | None:
        """The line's limit in whole pounds for a project of `months`, or None where the limit is
        the offered budget (budget lines, a supervisor line with no `supervisor_cost`) or derived.

        Maxima round down, standards half up (R-20).
        """
        rule = self.category_rule(methodology, category)
        self.check_months(months)
        if rule.per_project is not None:
            return rule.per_project
        if category is Category.KNOWLEDGE_BASE_SUPERVISOR:
            if supervisor_cost is None:
                return None
            return round_pound_half_up(pro_rata(supervisor_cost * self.supervisor_fte_standard, months))
        if rule.annual is None:
            return None
        annual = rule.annual
        if category is Category.ASSOCIATE_EMPLOYMENT and london:
            annual += self.london_weighting_annual
        amount = pro_rata(annual, months)
        if rule.kind is LimitKind.MAXIMUM:
            return round_pound_down(amount)
        return round_pound_half_up(amount)


def _rates(
    table: Mapping[BusinessType, tuple[str, str]],
) -> Mapping[tuple[Methodology, BusinessType], Decimal]:
    rates: dict[tuple[Methodology, BusinessType], Decimal] = {}
    for business_type, (fec, non_fec) in table.items():
        rates[(Methodology.FEC, business_type)] = Decimal(fec)
        rates[(Methodology.NON_FEC, business_type)] = Decimal(non_fec)
    return MappingProxyType(rates)


_AE = CategoryRule(Category.ASSOCIATE_EMPLOYMENT, LimitKind.MAXIMUM, "R-10", annual=Decimal(55000))
_AD = CategoryRule(Category.ASSOCIATE_DEVELOPMENT, LimitKind.MAXIMUM, "R-12", annual=Decimal(2000))
_TS = CategoryRule(Category.TRAVEL_SUBSISTENCE, LimitKind.STANDARD, "R-13", annual=Decimal(1250))
_CO = CategoryRule(Category.CONSUMABLES, LimitKind.STANDARD, "R-15", annual=Decimal(2000))

GUIDANCE_2023 = RuleSet(
    name="Innovate UK KTP costs guidance, associate maximum from 26 January 2023",
    in_force_from=date(2023, 1, 26),
    grant_rates=_rates(
        {
            BusinessType.NOT_FOR_PROFIT: ("0.75", "0.70"),
            BusinessType.SME: ("0.67", "0.60"),
            BusinessType.LARGE: ("0.50", "0.50"),
            BusinessType.PUBLIC_SECTOR: ("0.50", "0.50"),
        }
    ),
    categories=_frozen(
        {
            Methodology.FEC: (
                _AE,
                _AD,
                _TS,
                _CO,
                CategoryRule(Category.KNOWLEDGE_BASE_SUPERVISOR, LimitKind.STANDARD, "R-16"),
                CategoryRule(
                    Category.ASSOCIATE_ESTATES, LimitKind.MAXIMUM, "R-17", per_project=Decimal(10000)
                ),
                CategoryRule(Category.ADDITIONAL_ASSOCIATE_SUPPORT, LimitKind.BUDGET, "R-01"),
            ),
            Methodology.NON_FEC: (
                _AE,
                CategoryRule(
                    Category.ACADEMIC_SECRETARIAL_SUPPORT, LimitKind.MAXIMUM, "R-18", annual=Decimal(15000)
                ),
                _AD,
                _TS,
                _CO,
                CategoryRule(Category.KNOWLEDGE_BASE_OVERHEADS, LimitKind.DERIVED, "R-19"),
            ),
        }
    ),
    london_weighting_annual=Decimal(3000),
    higher_degree_fee_cap=Decimal(700),
    conference_guide=2,
    computer_cap=1,
    supervisor_fte_standard=Decimal("0.1"),
    overheads_rate=Decimal("0.46"),
)

RULE_SETS: tuple[RuleSet, ...] = (GUIDANCE_2023,)
"""Every edition ktpledger knows, oldest first; append a new one, never edit an old one."""


def rule_set_for(on: date) -> RuleSet:
    """The rule set in force on `on` (a grant offer's date). With none, the grant offer cannot be
    judged, so it is refused under the grant offer's rule (R-31), not under any one line's."""
    in_force = [rules for rules in RULE_SETS if rules.in_force_from <= on]
    if not in_force:
        raise RuleViolation(
            "R-31",
            f"no KTP costs guidance ktpledger knows was in force on {on.isoformat()}; "
            f"the earliest it encodes is in force from {RULE_SETS[0].in_force_from.isoformat()}",
            field="date",
        )
    return max(in_force, key=lambda rules: rules.in_force_from)


def parse_choice(kind: type[E], value: object, *, field: str, rule: str = "R-01") -> E:
    """`value` as a member of `kind`, or `RuleViolation` naming the nearest and listing the accepted names."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        names = [member.value for member in kind]
        near = near_name(value, names)
        hint = f"did you mean {near}? Use" if near else "use"
        raise RuleViolation(
            rule, f"unknown {field} {shown(value)}; {hint} one of {', '.join(names)}", field=field
        ) from None


def near_name(typed: object, names: Iterable[str]) -> str | None:
    """The one of `names` nearest to what was typed, if any is near enough to be a slip (difflib),
    else the only one that contains it ("travel" for travel_subsistence)."""
    if not isinstance(typed, str):
        return None
    text, candidates = typed.strip().lower(), list(names)
    found = difflib.get_close_matches(text, candidates, n=1, cutoff=0.6)
    if found:
        return found[0]
    containing = [name for name in candidates if len(text) >= 4 and text in name]
    return containing[0] if len(containing) == 1 else None


def lines_text(lines: Sequence[Category]) -> str:
    return ", ".join(line.value for line in lines)


def offer_lines(opening: str, lines: Sequence[Category], whose: str, *, typed: object = None) -> str:
    """A refusal about a cost category: `opening`, then the nearest of `lines` to a misspelt name
    `typed`, then `lines` themselves as `whose` ("the lines of KTP-0042, a fec project, are")."""
    near = near_name(typed, [category.value for category in Category])
    if near not in {line.value for line in lines}:  # no hint towards a line this project has not
        near = None
    if near is None:
        return f"{opening}; {whose} {lines_text(lines)}"
    return f"{opening}; did you mean {near}? {whose[:1].upper()}{whose[1:]} {lines_text(lines)}"

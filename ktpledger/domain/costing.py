"""A project's eligible costs and each party's share, as the guidance tables compute them.

`cost_project` reproduces the worked examples of docs/rules.md to the pound: pro rata by whole
months (R-02), maxima rounded down and other amounts half up (R-20), each share of each line
rounded on its own and totals summed from rounded lines (R-21).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ktpledger.domain.costing_parameters import COSTING_PARAMETERS as COSTING_PARAMETERS  # re-exported
from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.money import ZERO, parse_money, round_pound_half_up
from ktpledger.domain.project import TermsWording, check_fec_only_terms, check_period_terms
from ktpledger.domain.rules import (
    BusinessType,
    Category,
    LimitKind,
    Methodology,
    RuleSet,
    parse_choice,
    pro_rata,
    rule_set_for,
)
from ktpledger.domain.shares import costing_business, costing_grant, overheads_budget


@dataclass(frozen=True)
class CostingRequest:
    """What `ktpledger costing` asks for; annual figures are per 12 months."""

    methodology: Methodology
    business_type: BusinessType
    months: int
    salary: Decimal
    london: bool = False
    virtual: bool = False
    supervisor_cost: Decimal | None = None
    supervisor_fte: Decimal = Decimal("0.1")
    support_costs: Decimal | None = None
    support_rate: Decimal = Decimal("0.5")
    estates: Decimal = ZERO
    grant_rate: Decimal | None = None


@dataclass(frozen=True)
class CostingLine:
    """One line: `requested` before any cut, `cut` what a maximum removed (R-10, R-12, R-17, R-18)."""

    category: Category
    limit_kind: LimitKind
    requested: Decimal
    eligible: Decimal
    grant: Decimal
    business: Decimal
    limit: Decimal | None
    note: str = ""

    @property
    def cut(self) -> Decimal:
        return self.requested - self.eligible


@dataclass(frozen=True)
class Costing:
    """The eligible costs of a project and each party's share; totals are sums of the lines."""

    request: CostingRequest
    rule_set: RuleSet
    grant_rate: Decimal
    lines: tuple[CostingLine, ...]

    @property
    def eligible(self) -> Decimal:
        return sum((line.eligible for line in self.lines), ZERO)

    @property
    def grant(self) -> Decimal:
        return sum((line.grant for line in self.lines), ZERO)

    @property
    def business(self) -> Decimal:
        return sum((line.business for line in self.lines), ZERO)


# A costing is asked for on the command line (and as the same names in `GET /costing`).
COSTING_WORDING = TermsWording(
    london_fix="drop --london or --virtual",
    spell=lambda name: "--" + name.replace("_", "-"),
    fec_only_why=": a non_fec knowledge base's supervision and support are covered by "
    "knowledge_base_overheads (R-19)",
)


def check_rate(value: Decimal, *, field: str, rule: str) -> Decimal:
    """A fraction between 0 and 1 inclusive."""
    if not value.is_finite() or not ZERO <= value <= 1:
        raise RuleViolation(rule, f"{field} must be between 0 and 1, got {value}", field=field)
    return value


def validate(request: CostingRequest, rules: RuleSet) -> None:
    """Refuse a request the rules do not allow, naming the rule and what to fix."""
    check_period_terms(
        rules, months=request.months, london=request.london, virtual=request.virtual, wording=COSTING_WORDING
    )
    for name, amount in (
        ("salary", request.salary),
        ("supervisor cost", request.supervisor_cost),
        ("support costs", request.support_costs),
        ("estates", request.estates),
    ):
        if amount is not None:
            parse_money(amount, field=name)
    check_rate(request.supervisor_fte, field="supervisor FTE", rule="R-16")
    check_rate(request.support_rate, field="support rate", rule="R-01")
    if request.grant_rate is not None:
        check_rate(request.grant_rate, field="grant rate", rule="R-03")
    check_fec_only_terms(
        request.methodology,
        {
            "supervisor_cost": request.supervisor_cost is not None,
            "support_costs": request.support_costs is not None,
            "estates": request.estates != 0,
        },
        COSTING_WORDING,
    )


def cost_project(request: CostingRequest, *, on: date | None = None) -> Costing:
    """The costing of `request` under the rules in force on `on` (default: today)."""
    rules = rule_set_for(on or date.today())  # noqa: DTZ011 - the rule sets change on whole days
    validate(request, rules)
    rate = request.grant_rate
    if rate is None:
        rate = rules.grant_rate(request.methodology, request.business_type)
    lines: list[CostingLine] = []
    for category in rules.categories_for(request.methodology):
        if category is Category.KNOWLEDGE_BASE_OVERHEADS:
            continue
        kind = rules.category_rule(request.methodology, category).kind
        limit = rules.limit(
            request.methodology,
            category,
            request.months,
            london=request.london,
            supervisor_cost=request.supervisor_cost,
        )
        requested, note = _requested(category, request, rules, limit)
        eligible = requested
        if kind is LimitKind.MAXIMUM and limit is not None and requested > limit:
            eligible = limit
            note = f"above the maximum of {limit:,} ({_rule_of(rules, request, category)})"
        lines.append(_shared(category, kind, requested, eligible, rate, limit, note))
    if request.methodology is Methodology.NON_FEC:
        lines.append(_overheads(lines, rules, rate))
    return Costing(request=request, rule_set=rules, grant_rate=rate, lines=tuple(lines))


def _rule_of(rules: RuleSet, request: CostingRequest, category: Category) -> str:
    return rules.category_rule(request.methodology, category).rule


def _requested(
    category: Category,
    request: CostingRequest,
    rules: RuleSet,
    limit: Decimal | None,
) -> tuple[Decimal, str]:
    """What the request asks for on `category` before any maximum, and a note for people."""
    if category is Category.ASSOCIATE_EMPLOYMENT:
        return round_pound_half_up(pro_rata(request.salary, request.months)), ""
    if category is Category.KNOWLEDGE_BASE_SUPERVISOR:
        if request.supervisor_cost is None:
            return ZERO, "no --supervisor-cost given"
        amount = round_pound_half_up(
            pro_rata(request.supervisor_cost * request.supervisor_fte, request.months)
        )
        if request.supervisor_fte > rules.supervisor_fte_standard:
            return amount, (
                f"{request.supervisor_fte} FTE is above the {rules.supervisor_fte_standard} FTE standard: "
                "needs a justification and approval (R-16)"
            )
        return amount, ""
    if category is Category.ASSOCIATE_ESTATES:
        return round_pound_half_up(request.estates), ""
    if category is Category.ADDITIONAL_ASSOCIATE_SUPPORT:
        if request.support_costs is None:
            return ZERO, "no --support-costs given"
        return round_pound_half_up(pro_rata(request.support_costs * request.support_rate, request.months)), ""
    # Development, travel, consumables, academic support: the guidance's per-12-month figure.
    assert limit is not None
    return limit, ""


def _shared(
    category: Category,
    kind: LimitKind,
    requested: Decimal,
    eligible: Decimal,
    rate: Decimal,
    limit: Decimal | None,
    note: str,
) -> CostingLine:
    return CostingLine(
        category=category,
        limit_kind=kind,
        requested=requested,
        eligible=eligible,
        grant=costing_grant(eligible, rate),
        business=costing_business(eligible, rate),
        limit=limit,
        note=note,
    )


def _overheads(lines: list[CostingLine], rules: RuleSet, rate: Decimal) -> CostingLine:
    """Non-fec overheads: 46% of the grant share of their source lines, all of it grant (R-19)."""
    amount = overheads_budget({line.category: line.eligible for line in lines}, rate, rules)
    return CostingLine(
        category=Category.KNOWLEDGE_BASE_OVERHEADS,
        limit_kind=LimitKind.DERIVED,
        requested=amount,
        eligible=amount,
        grant=amount,
        business=ZERO,
        limit=None,
        note=f"{rules.overheads_rate:.0%} of the grant share of "
        + " + ".join(c.value for c in rules.overheads_sources)
        + " (R-19)",
    )


WHOLE_PATTERN = re.compile(r"[0-9]+")
FRACTION_PATTERN = re.compile(r"[0-9]*\.?[0-9]+|[0-9]+\.")


def parse_months(text: str) -> int:
    """Whole months as typed, in ASCII digits (not Arabic-Indic digits, "1_2" or "+12"), or `RuleViolation` R-02."""
    cleaned = text.strip(" \t")
    if WHOLE_PATTERN.fullmatch(cleaned) is None:
        raise RuleViolation("R-02", f"months must be a whole number of months, got {shown(text)}")
    if len(cleaned.lstrip("0")) > 6:  # far above any rule set's maximum (and int() takes 4,300 digits)
        raise RuleViolation("R-02", f"months must be a whole number of months such as 24, got {shown(text)}")
    return int(cleaned)


def parse_fraction(text: str, *, field: str, rule: str) -> Decimal:
    """A decimal fraction between 0 and 1 as typed in ASCII digits, such as 0.1 (not money: more
    places allowed)."""
    cleaned = text.strip(" \t")
    if FRACTION_PATTERN.fullmatch(cleaned) is None:
        raise RuleViolation(rule, f"{field} must be a decimal such as 0.1, got {shown(text)}")
    value = Decimal(cleaned)
    if not 0 <= value <= 1:
        raise RuleViolation(rule, f"{field} must be between 0 and 1, got {shown(text)}")
    return value


Typed = str | bool | None


def parse_request(given: Mapping[str, Typed] | None = None, /, **by_name: Typed) -> CostingRequest:
    """A costing request from text as typed on the command line or in a query string, given by
    parameter name (`COSTING_PARAMETERS`; an omitted one takes its default); each bad value is a
    `RuleViolation` naming its rule. An unknown or missing required name is a `TypeError`."""
    typed = {**(given or {}), **by_name}
    unknown = sorted(set(typed) - {p.name for p in COSTING_PARAMETERS})
    if unknown:
        raise TypeError(f"parse_request() got unknown parameters {', '.join(unknown)}")
    for parameter in COSTING_PARAMETERS:
        if parameter.required and typed.get(parameter.name) is None:
            raise TypeError(f"parse_request() needs the parameter {parameter.name}")
        typed.setdefault(parameter.name, parameter.default)

    def text(name: str) -> str:
        value = typed[name]
        assert isinstance(value, str), name
        return value

    def optional(name: str) -> str | None:
        return None if typed[name] is None else text(name)

    supervisor_cost, support_costs, grant_rate = (
        optional("supervisor_cost"),
        optional("support_costs"),
        optional("grant_rate"),
    )
    return CostingRequest(
        methodology=parse_choice(Methodology, text("methodology"), field="methodology"),
        business_type=parse_choice(BusinessType, text("business_type"), field="business type", rule="R-03"),
        months=parse_months(text("months")),
        salary=parse_money(text("salary"), field="salary"),
        london=bool(typed["london"]),
        virtual=bool(typed["virtual"]),
        supervisor_cost=None
        if supervisor_cost is None
        else parse_money(supervisor_cost, field="supervisor cost"),
        supervisor_fte=parse_fraction(text("supervisor_fte"), field="supervisor FTE", rule="R-16"),
        support_costs=None if support_costs is None else parse_money(support_costs, field="support costs"),
        support_rate=parse_fraction(text("support_rate"), field="support rate", rule="R-01"),
        estates=parse_money(text("estates"), field="estates"),
        grant_rate=None
        if grant_rate is None
        else parse_fraction(grant_rate, field="grant rate", rule="R-03"),
    )

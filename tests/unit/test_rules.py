"""The rule core's data and checks, one test (or more) per rule of docs/rules.md R-01..R-23."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ktpledger.domain.costing import CostingRequest, cost_project
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.rules import (
    GUIDANCE_2023,
    RULE_SETS,
    BusinessType,
    Category,
    LimitKind,
    Methodology,
    RuleSet,
    Tag,
    parse_choice,
    rule_set_for,
)

D = Decimal
C = Category
FEC = Methodology.FEC
NON_FEC = Methodology.NON_FEC
RULES = GUIDANCE_2023
ON = date(2024, 6, 1)


def cost(**fields: object) -> dict[Category, tuple[Decimal, Decimal, Decimal]]:
    """`cost_project` of a request, as {category: (eligible, grant, business)}."""
    defaults: dict[str, object] = {
        "methodology": FEC,
        "business_type": BusinessType.SME,
        "months": 12,
        "salary": D(45000),
    }
    request = CostingRequest(**{**defaults, **fields})  # type: ignore[arg-type]
    costing = cost_project(request, on=ON)
    return {line.category: (line.eligible, line.grant, line.business) for line in costing.lines}


# --- Rule sets -------------------------------------------------------------------------------


def test_rule_set_for_picks_guidance_2023_from_26_january_2023() -> None:
    assert rule_set_for(date(2023, 1, 26)) is GUIDANCE_2023
    assert rule_set_for(date(2023, 1, 27)) is GUIDANCE_2023
    assert rule_set_for(date(2024, 1, 2)) is GUIDANCE_2023
    assert rule_set_for(date(2031, 12, 31)) is GUIDANCE_2023


@pytest.mark.parametrize("on", [date(2023, 1, 25), date(2022, 12, 31), date(2000, 1, 1)])
def test_rule_set_for_refuses_dates_before_the_earliest_rule_set(on: date) -> None:
    with pytest.raises(RuleViolation) as caught:
        rule_set_for(on)
    assert caught.value.rule.startswith("R-")
    assert "2023-01-26" in caught.value.message
    assert on.isoformat() in caught.value.message


def test_cost_project_refuses_a_date_before_the_rules() -> None:
    request = CostingRequest(FEC, BusinessType.SME, 12, D(45000))
    with pytest.raises(RuleViolation):
        cost_project(request, on=date(2023, 1, 25))


def test_rule_sets_are_ordered_oldest_first_and_distinct() -> None:
    assert len(RULE_SETS) >= 1
    assert RULE_SETS[0] is GUIDANCE_2023
    dates = [rules.in_force_from for rules in RULE_SETS]
    assert dates == sorted(dates)
    assert len(set(dates)) == len(dates)
    assert all(isinstance(rules, RuleSet) for rules in RULE_SETS)
    assert GUIDANCE_2023.in_force_from == date(2023, 1, 26)


def test_rule_set_is_frozen() -> None:
    with pytest.raises(AttributeError):
        GUIDANCE_2023.overheads_rate = D("0.5")  # type: ignore[misc]
    with pytest.raises(TypeError):
        GUIDANCE_2023.grant_rates[(FEC, BusinessType.SME)] = D(1)  # type: ignore[index]
    with pytest.raises(TypeError):
        GUIDANCE_2023.categories[FEC] = ()  # type: ignore[index]


# --- parse_choice ------------------------------------------------------------------------------


def test_parse_choice_accepts_known_names() -> None:
    assert parse_choice(Methodology, "fec", field="methodology") is FEC
    assert parse_choice(Methodology, "non_fec", field="methodology") is NON_FEC
    for business_type in BusinessType:
        assert parse_choice(BusinessType, business_type.value, field="business type") is business_type


@pytest.mark.parametrize("value", ["FEC", "full", "", "non-fec", None, 1])
def test_parse_choice_refuses_unknown_methodology_listing_accepted(value: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_choice(Methodology, value, field="methodology")
    assert caught.value.rule == "R-01"
    assert caught.value.field == "methodology"
    assert "fec" in caught.value.message
    assert "non_fec" in caught.value.message


def test_parse_choice_refuses_unknown_business_type_with_the_rule_given() -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_choice(BusinessType, "charity", field="business type", rule="R-03")
    assert caught.value.rule == "R-03"
    for name in ("sme", "large", "not_for_profit", "public_sector"):
        assert name in caught.value.message
    assert '"charity"' in caught.value.message


# --- R-01 parties and categories -------------------------------------------------------------


def test_r01_methodologies_and_business_types() -> None:
    assert {m.value for m in Methodology} == {"fec", "non_fec"}
    assert {b.value for b in BusinessType} == {"sme", "large", "not_for_profit", "public_sector"}


def test_r01_fec_categories_in_guidance_order() -> None:
    assert RULES.categories_for(FEC) == (
        C.ASSOCIATE_EMPLOYMENT,
        C.ASSOCIATE_DEVELOPMENT,
        C.TRAVEL_SUBSISTENCE,
        C.CONSUMABLES,
        C.KNOWLEDGE_BASE_SUPERVISOR,
        C.ASSOCIATE_ESTATES,
        C.ADDITIONAL_ASSOCIATE_SUPPORT,
    )


def test_r01_non_fec_categories_in_guidance_order() -> None:
    assert RULES.categories_for(NON_FEC) == (
        C.ASSOCIATE_EMPLOYMENT,
        C.ACADEMIC_SECRETARIAL_SUPPORT,
        C.ASSOCIATE_DEVELOPMENT,
        C.TRAVEL_SUBSISTENCE,
        C.CONSUMABLES,
        C.KNOWLEDGE_BASE_OVERHEADS,
    )


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        (C.ASSOCIATE_EMPLOYMENT, LimitKind.MAXIMUM),
        (C.ASSOCIATE_DEVELOPMENT, LimitKind.MAXIMUM),
        (C.TRAVEL_SUBSISTENCE, LimitKind.STANDARD),
        (C.CONSUMABLES, LimitKind.STANDARD),
        (C.KNOWLEDGE_BASE_SUPERVISOR, LimitKind.STANDARD),
        (C.ASSOCIATE_ESTATES, LimitKind.MAXIMUM),
        (C.ADDITIONAL_ASSOCIATE_SUPPORT, LimitKind.BUDGET),
    ],
)
def test_r01_fec_limit_kinds(category: Category, kind: LimitKind) -> None:
    assert RULES.category_rule(FEC, category).kind is kind


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        (C.ASSOCIATE_EMPLOYMENT, LimitKind.MAXIMUM),
        (C.ACADEMIC_SECRETARIAL_SUPPORT, LimitKind.MAXIMUM),
        (C.ASSOCIATE_DEVELOPMENT, LimitKind.MAXIMUM),
        (C.TRAVEL_SUBSISTENCE, LimitKind.STANDARD),
        (C.CONSUMABLES, LimitKind.STANDARD),
        (C.KNOWLEDGE_BASE_OVERHEADS, LimitKind.DERIVED),
    ],
)
def test_r01_non_fec_limit_kinds(category: Category, kind: LimitKind) -> None:
    assert RULES.category_rule(NON_FEC, category).kind is kind


def test_r01_every_category_belongs_to_some_methodology() -> None:
    assert set(RULES.categories_for(FEC)) | set(RULES.categories_for(NON_FEC)) == set(Category)


@pytest.mark.parametrize(
    ("methodology", "category"),
    [
        (FEC, C.ACADEMIC_SECRETARIAL_SUPPORT),
        (FEC, C.KNOWLEDGE_BASE_OVERHEADS),
        (NON_FEC, C.KNOWLEDGE_BASE_SUPERVISOR),
        (NON_FEC, C.ASSOCIATE_ESTATES),
        (NON_FEC, C.ADDITIONAL_ASSOCIATE_SUPPORT),
    ],
)
def test_r01_category_not_of_the_methodology_is_refused(methodology: Methodology, category: Category) -> None:
    with pytest.raises(RuleViolation) as caught:
        RULES.category_rule(methodology, category)
    assert caught.value.rule == "R-01"
    assert category.value in caught.value.message
    with pytest.raises(RuleViolation):
        RULES.limit(methodology, category, 12)


def test_r01_non_fec_refuses_fec_only_inputs() -> None:
    for fields, rule in (
        ({"supervisor_cost": D(80000)}, "R-16"),
        ({"support_costs": D(36000)}, "R-01"),
        ({"estates": D(1000)}, "R-17"),
    ):
        with pytest.raises(RuleViolation) as caught:
            cost(methodology=NON_FEC, **fields)
        assert caught.value.rule == rule


# --- R-02 whole months, pro rata --------------------------------------------------------------


@pytest.mark.parametrize("months", [1, 2, 7, 12, 24, 59, 60])
def test_r02_months_1_to_60_accepted(months: int) -> None:
    assert RULES.check_months(months) == months


@pytest.mark.parametrize("months", [0, -1, 61, 120])
def test_r02_months_outside_1_to_60_refused(months: int) -> None:
    with pytest.raises(RuleViolation) as caught:
        RULES.check_months(months)
    assert caught.value.rule == "R-02"
    assert caught.value.field == "months"
    with pytest.raises(RuleViolation) as caught:
        RULES.limit(FEC, C.TRAVEL_SUBSISTENCE, months)
    assert caught.value.rule == "R-02"
    with pytest.raises(RuleViolation) as caught:
        cost(months=months)
    assert caught.value.rule == "R-02"


@pytest.mark.parametrize("months", ["12", 12.0, 1.5, True, False, None, D(12)])
def test_r02_non_int_months_refused(months: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        RULES.check_months(months)  # type: ignore[arg-type]
    assert caught.value.rule == "R-02"


@pytest.mark.parametrize(
    ("months", "travel"),
    [(12, 1250), (6, 625), (24, 2500), (1, 104), (7, 729), (18, 1875), (60, 6250)],
)
def test_r02_annual_figures_are_pro_rata(months: int, travel: int) -> None:
    assert RULES.limit(FEC, C.TRAVEL_SUBSISTENCE, months) == D(travel)


def test_r02_salary_is_pro_rata_in_the_costing() -> None:
    assert cost(months=6)[C.ASSOCIATE_EMPLOYMENT][0] == D(22500)
    assert cost(months=24)[C.ASSOCIATE_EMPLOYMENT][0] == D(90000)
    assert cost(months=7)[C.ASSOCIATE_EMPLOYMENT][0] == D(26250)  # 45,000 x 7 / 12


# --- R-03 grant rates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("business_type", "fec", "non_fec"),
    [
        (BusinessType.NOT_FOR_PROFIT, "0.75", "0.70"),
        (BusinessType.SME, "0.67", "0.60"),
        (BusinessType.LARGE, "0.50", "0.50"),
        (BusinessType.PUBLIC_SECTOR, "0.50", "0.50"),
    ],
)
def test_r03_grant_rates(business_type: BusinessType, fec: str, non_fec: str) -> None:
    assert RULES.grant_rate(FEC, business_type) == D(fec)
    assert RULES.grant_rate(NON_FEC, business_type) == D(non_fec)
    assert isinstance(RULES.grant_rate(FEC, business_type), Decimal)
    request = CostingRequest(FEC, business_type, 12, D(45000))
    assert cost_project(request, on=ON).grant_rate == D(fec)
    request = CostingRequest(NON_FEC, business_type, 12, D(45000))
    assert cost_project(request, on=ON).grant_rate == D(non_fec)


def test_r03_the_table_is_complete() -> None:
    assert set(RULES.grant_rates) == {(m, b) for m in Methodology for b in BusinessType}


def test_r03_offer_letter_rate_overrides_and_business_funds_the_rest() -> None:
    lines = cost(grant_rate=D("0.40"))
    assert lines[C.ASSOCIATE_EMPLOYMENT] == (D(45000), D(18000), D(27000))


def test_r03_offer_letter_rate_outside_0_1_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        cost(grant_rate=D("1.5"))
    assert caught.value.rule == "R-03"


# --- R-10 associate employment maximum --------------------------------------------------------


def test_r10_maximum_55000_and_58000_with_london() -> None:
    assert RULES.category_rule(FEC, C.ASSOCIATE_EMPLOYMENT).annual == D(55000)
    assert RULES.london_weighting_annual == D(3000)
    for methodology in Methodology:
        assert RULES.limit(methodology, C.ASSOCIATE_EMPLOYMENT, 12) == D(55000)
        assert RULES.limit(methodology, C.ASSOCIATE_EMPLOYMENT, 12, london=True) == D(58000)


@pytest.mark.parametrize(
    ("months", "standard", "london"),
    [
        (7, 32083, 33833),  # 32,083.33 and 33,833.33 round down
        (1, 4583, 4833),  # 4,583.33 and 4,833.33
        (5, 22916, 24166),  # 22,916.67 and 24,166.67: down, not half up
        (11, 50416, 53166),  # 50,416.67 and 53,166.67
        (24, 110000, 116000),
        (60, 275000, 290000),
    ],
)
def test_r10_pro_rata_maximum_rounds_down(months: int, standard: int, london: int) -> None:
    assert RULES.limit(FEC, C.ASSOCIATE_EMPLOYMENT, months) == D(standard)
    assert RULES.limit(FEC, C.ASSOCIATE_EMPLOYMENT, months, london=True) == D(london)


def test_r10_costs_above_the_maximum_are_cut() -> None:
    assert cost(salary=D(70000))[C.ASSOCIATE_EMPLOYMENT] == (D(55000), D(36850), D(18150))
    assert cost(salary=D(70000), london=True)[C.ASSOCIATE_EMPLOYMENT] == (D(58000), D(38860), D(19140))
    assert cost(salary=D(70000), months=7)[C.ASSOCIATE_EMPLOYMENT][0] == D(32083)


def test_r10_rule_id_on_the_category() -> None:
    assert RULES.category_rule(FEC, C.ASSOCIATE_EMPLOYMENT).rule == "R-10"


# --- R-11 virtual and london ------------------------------------------------------------------


def test_r11_virtual_and_london_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        cost(virtual=True, london=True)
    assert caught.value.rule == "R-11"
    with pytest.raises(RuleViolation) as caught:
        cost(methodology=NON_FEC, virtual=True, london=True)
    assert caught.value.rule == "R-11"


# --- R-12 associate development ---------------------------------------------------------------


def test_r12_development_maximum_and_higher_degree_cap() -> None:
    rule = RULES.category_rule(FEC, C.ASSOCIATE_DEVELOPMENT)
    assert rule.kind is LimitKind.MAXIMUM
    assert rule.annual == D(2000)
    assert rule.rule == "R-12"
    assert RULES.limit(FEC, C.ASSOCIATE_DEVELOPMENT, 12) == D(2000)
    assert RULES.limit(FEC, C.ASSOCIATE_DEVELOPMENT, 7) == D(1166)  # 1,166.67 down: a maximum
    assert RULES.limit(NON_FEC, C.ASSOCIATE_DEVELOPMENT, 24) == D(4000)
    assert RULES.higher_degree_fee_cap == D(700)
    assert cost()[C.ASSOCIATE_DEVELOPMENT] == (D(2000), D(1340), D(660))


# --- R-13 travel and subsistence --------------------------------------------------------------


def test_r13_travel_standard_and_conference_guide() -> None:
    rule = RULES.category_rule(FEC, C.TRAVEL_SUBSISTENCE)
    assert rule.kind is LimitKind.STANDARD
    assert rule.annual == D(1250)
    assert rule.rule == "R-13"
    assert RULES.limit(FEC, C.TRAVEL_SUBSISTENCE, 12) == D(1250)
    assert RULES.conference_guide == 2
    assert cost()[C.TRAVEL_SUBSISTENCE] == (D(1250), D(838), D(413))


# --- R-14 virtual business (data only in the rule core) ----------------------------------------


def test_r14_virtual_business_is_accepted_without_london() -> None:
    assert cost(virtual=True) == cost()
    assert cost(methodology=NON_FEC, virtual=True) == cost(methodology=NON_FEC)
    request = CostingRequest(FEC, BusinessType.SME, 12, D(45000), virtual=True)
    costing = cost_project(request, on=ON)
    assert costing.request.virtual is True
    assert C.TRAVEL_SUBSISTENCE in RULES.categories_for(FEC)
    assert Tag.ASSOCIATE_TRAVEL.value == "associate_travel"
    assert Tag.ACADEMIC_TRAVEL.value == "academic_travel"


# --- R-15 consumables -------------------------------------------------------------------------


def test_r15_consumables_standard_and_computer_cap() -> None:
    rule = RULES.category_rule(NON_FEC, C.CONSUMABLES)
    assert rule.kind is LimitKind.STANDARD
    assert rule.annual == D(2000)
    assert rule.rule == "R-15"
    assert RULES.limit(FEC, C.CONSUMABLES, 12) == D(2000)
    assert RULES.limit(FEC, C.CONSUMABLES, 7) == D(1167)  # 1,166.67 half up: a standard
    assert RULES.computer_cap == 1


# --- R-16 knowledge base supervisor -----------------------------------------------------------


def test_r16_supervisor_standard_is_one_tenth_fte() -> None:
    assert RULES.supervisor_fte_standard == D("0.1")
    rule = RULES.category_rule(FEC, C.KNOWLEDGE_BASE_SUPERVISOR)
    assert rule.kind is LimitKind.STANDARD
    assert rule.rule == "R-16"
    assert RULES.limit(FEC, C.KNOWLEDGE_BASE_SUPERVISOR, 12, supervisor_cost=D(80000)) == D(8000)
    assert RULES.limit(FEC, C.KNOWLEDGE_BASE_SUPERVISOR, 7, supervisor_cost=D(80000)) == D(4667)
    assert RULES.limit(FEC, C.KNOWLEDGE_BASE_SUPERVISOR, 12) is None  # the offered line is its own standard
    assert cost(supervisor_cost=D(80000))[C.KNOWLEDGE_BASE_SUPERVISOR] == (D(8000), D(5360), D(2640))
    assert cost()[C.KNOWLEDGE_BASE_SUPERVISOR] == (D(0), D(0), D(0))


def test_r16_more_than_standard_fte_is_a_soft_limit() -> None:
    request = CostingRequest(
        FEC, BusinessType.SME, 12, D(45000), supervisor_cost=D(80000), supervisor_fte=D("0.2")
    )
    line = next(ln for ln in cost_project(request, on=ON).lines if ln.category is C.KNOWLEDGE_BASE_SUPERVISOR)
    assert line.eligible == D(16000)  # not cut: a standard, not a maximum
    assert "R-16" in line.note


def test_r16_fte_outside_0_1_refused() -> None:
    with pytest.raises(RuleViolation) as caught:
        cost(supervisor_cost=D(80000), supervisor_fte=D("1.5"))
    assert caught.value.rule == "R-16"


# --- R-17 associate estates -------------------------------------------------------------------


@pytest.mark.parametrize("months", [1, 6, 12, 24, 60])
def test_r17_estates_10000_per_project_not_pro_rata(months: int) -> None:
    rule = RULES.category_rule(FEC, C.ASSOCIATE_ESTATES)
    assert rule.kind is LimitKind.MAXIMUM
    assert rule.per_project == D(10000)
    assert rule.annual is None
    assert rule.rule == "R-17"
    assert RULES.limit(FEC, C.ASSOCIATE_ESTATES, months) == D(10000)


def test_r17_estates_normally_zero_and_cut_to_the_maximum() -> None:
    assert cost()[C.ASSOCIATE_ESTATES] == (D(0), D(0), D(0))
    assert cost(estates=D(6000), months=6)[C.ASSOCIATE_ESTATES] == (D(6000), D(4020), D(1980))
    assert cost(estates=D(12000))[C.ASSOCIATE_ESTATES] == (D(10000), D(6700), D(3300))
    assert cost(estates=D(12000), months=36)[C.ASSOCIATE_ESTATES][0] == D(10000)


# --- R-18 academic and secretarial support ----------------------------------------------------


@pytest.mark.parametrize(
    ("months", "expected"), [(12, 15000), (7, 8750), (1, 1250), (13, 16250), (60, 75000)]
)
def test_r18_academic_support_15000_pro_rata(months: int, expected: int) -> None:
    rule = RULES.category_rule(NON_FEC, C.ACADEMIC_SECRETARIAL_SUPPORT)
    assert rule.kind is LimitKind.MAXIMUM
    assert rule.annual == D(15000)
    assert rule.rule == "R-18"
    assert RULES.limit(NON_FEC, C.ACADEMIC_SECRETARIAL_SUPPORT, months) == D(expected)
    assert cost(methodology=NON_FEC, months=months)[C.ACADEMIC_SECRETARIAL_SUPPORT][0] == D(expected)


# --- R-19 non-fec overheads -------------------------------------------------------------------


def test_r19_overheads_rule_data() -> None:
    assert RULES.overheads_rate == D("0.46")
    assert RULES.overheads_sources == (C.ASSOCIATE_EMPLOYMENT, C.ACADEMIC_SECRETARIAL_SUPPORT)
    rule = RULES.category_rule(NON_FEC, C.KNOWLEDGE_BASE_OVERHEADS)
    assert rule.kind is LimitKind.DERIVED
    assert rule.rule == "R-19"
    assert RULES.limit(NON_FEC, C.KNOWLEDGE_BASE_OVERHEADS, 12) is None


@pytest.mark.parametrize(
    ("business_type", "overheads"),
    [
        (BusinessType.SME, 16560),  # 46% x (27,000 + 9,000)
        (BusinessType.LARGE, 13800),  # 46% x (22,500 + 7,500)
        (BusinessType.NOT_FOR_PROFIT, 19320),  # 46% x (31,500 + 10,500)
        (BusinessType.PUBLIC_SECTOR, 13800),
    ],
)
def test_r19_overheads_46_percent_of_grant_shares_business_zero(
    business_type: BusinessType, overheads: int
) -> None:
    lines = cost(methodology=NON_FEC, business_type=business_type)
    assert lines[C.KNOWLEDGE_BASE_OVERHEADS] == (D(overheads), D(overheads), D(0))


def test_r19_overheads_follow_the_cut_employment_line() -> None:
    lines = cost(methodology=NON_FEC, salary=D(70000))
    # 46% x (33,000 + 9,000): the grant share of the eligible 55,000, not of 70,000
    assert lines[C.KNOWLEDGE_BASE_OVERHEADS] == (D(19320), D(19320), D(0))


# --- R-20..R-23 rounding ----------------------------------------------------------------------


def test_r20_maxima_down_standards_half_up_for_the_same_annual_figure() -> None:
    # 2,000 x 7 / 12 = 1,166.67: development is a maximum, consumables a standard.
    assert RULES.limit(FEC, C.ASSOCIATE_DEVELOPMENT, 7) == D(1166)
    assert RULES.limit(FEC, C.CONSUMABLES, 7) == D(1167)
    for months in range(1, 61):
        for category in RULES.categories_for(FEC):
            limit = RULES.limit(FEC, category, months, supervisor_cost=D("80000.50"))
            if limit is not None:
                assert limit == limit.to_integral_value(), (category, months)


def test_r20_salary_pro_rata_rounds_half_up_to_the_pound() -> None:
    # 45,006 x 1 / 12 = 3,750.50 -> 3,751
    assert cost(months=1, salary=D(45006))[C.ASSOCIATE_EMPLOYMENT][0] == D(3751)
    # 45,000.49 x 12 / 12 -> 45,000; 45,000.50 -> 45,001
    assert cost(salary=D("45000.49"))[C.ASSOCIATE_EMPLOYMENT][0] == D(45000)
    assert cost(salary=D("45000.50"))[C.ASSOCIATE_EMPLOYMENT][0] == D(45001)


@pytest.mark.parametrize(
    ("months", "salary", "expected"),
    [
        (13, "30006", 32507),  # 30,006 x 13 / 12 = 32,506.50
        (22, "2733", 5011),  # 2,733 x 22 / 12 = 5,010.50
        (4, "16.50", 6),  # 16.50 x 4 / 12 = 5.50
        (7, "6", 4),  # 6 x 7 / 12 = 3.50
    ],
)
def test_r02_r20_exact_halves_of_a_pro_rata_salary_round_up(months: int, salary: str, expected: int) -> None:
    assert cost(months=months, salary=D(salary))[C.ASSOCIATE_EMPLOYMENT][0] == D(expected)


def test_r02_r20_exact_half_of_a_pro_rata_supervisor_rounds_up() -> None:
    # 60,060 x 0.1 x 13 / 12 = 6,506.50 -> 6,507
    assert RULES.limit(FEC, C.KNOWLEDGE_BASE_SUPERVISOR, 13, supervisor_cost=D(60060)) == D(6507)
    assert cost(months=13, supervisor_cost=D(60060))[C.KNOWLEDGE_BASE_SUPERVISOR][0] == D(6507)


def test_r02_r20_exact_half_of_pro_rata_additional_support_rounds_up() -> None:
    # 30,012 x 0.5 x 13 / 12 = 16,256.50 -> 16,257
    assert cost(months=13, support_costs=D(30012))[C.ADDITIONAL_ASSOCIATE_SUPPORT][0] == D(16257)


def test_r21_each_share_rounded_on_its_own() -> None:
    assert cost()[C.TRAVEL_SUBSISTENCE] == (D(1250), D(838), D(413))
    request = CostingRequest(
        FEC, BusinessType.SME, 12, D(45000), supervisor_cost=D(80000), support_costs=D(36000)
    )
    costing = cost_project(request, on=ON)
    assert costing.grant == sum(line.grant for line in costing.lines)
    assert costing.business == sum(line.business for line in costing.lines)
    assert (costing.eligible, costing.grant, costing.business) == (D(76250), D(51088), D(25163))


def test_r22_amounts_are_decimals_not_floats() -> None:
    request = CostingRequest(
        FEC, BusinessType.SME, 12, D(45000), supervisor_cost=D(80000), support_costs=D(36000)
    )
    costing = cost_project(request, on=ON)
    for line in costing.lines:
        for amount in (line.requested, line.eligible, line.grant, line.business):
            assert isinstance(amount, Decimal)
    with pytest.raises(RuleViolation) as caught:
        cost(salary=45000.0)
    assert caught.value.rule == "R-22"
    with pytest.raises(RuleViolation) as caught:
        cost(salary=D(-1))
    assert caught.value.rule == "R-22"
    with pytest.raises(RuleViolation) as caught:
        cost(salary=D("NaN"))
    assert caught.value.rule == "R-22"

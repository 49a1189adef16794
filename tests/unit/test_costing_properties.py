"""Property tests of `cost_project` against docs/rules.md R-02, R-03, R-10..R-21."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor, gcd

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ktpledger.cli import app
from ktpledger.domain.costing import Costing, CostingRequest, cost_project
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.money import parse_money
from ktpledger.domain.rules import BusinessType, Category, Methodology, parse_choice

D = Decimal
C = Category
ON = date(2024, 6, 1)
RULE_ID = re.compile(r"^R-\d\d$")
MONEY = re.compile(r"^\d+\.\d{2}$")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLI_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# R-03, written out again so the tests do not read the rates from the code under test.
RATES = {
    (Methodology.FEC, BusinessType.NOT_FOR_PROFIT): Fraction(75, 100),
    (Methodology.NON_FEC, BusinessType.NOT_FOR_PROFIT): Fraction(70, 100),
    (Methodology.FEC, BusinessType.SME): Fraction(67, 100),
    (Methodology.NON_FEC, BusinessType.SME): Fraction(60, 100),
    (Methodology.FEC, BusinessType.LARGE): Fraction(50, 100),
    (Methodology.NON_FEC, BusinessType.LARGE): Fraction(50, 100),
    (Methodology.FEC, BusinessType.PUBLIC_SECTOR): Fraction(50, 100),
    (Methodology.NON_FEC, BusinessType.PUBLIC_SECTOR): Fraction(50, 100),
}


def exact(amount: Decimal) -> Fraction:
    return Fraction(amount)


def half_up(value: Fraction) -> int:
    """Half up to the whole pound, exactly (values here are never negative)."""
    assert value >= 0
    return floor(value + Fraction(1, 2))


def pro_rata_maximum(annual: int, months: int) -> int:
    """R-02 and R-20: `annual * months / 12`, rounded down."""
    return floor(Fraction(annual * months, 12))


def money_2dp(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(low), max_value=D(high), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def requests(draw: st.DrawFn) -> CostingRequest:
    methodology = draw(st.sampled_from(Methodology))
    london, virtual = draw(st.sampled_from([(False, False), (True, False), (False, True)]))
    common = {
        "methodology": methodology,
        "business_type": draw(st.sampled_from(BusinessType)),
        "months": draw(st.integers(min_value=1, max_value=60)),
        "salary": draw(money_2dp("0", "200000")),
        "london": london,
        "virtual": virtual,
    }
    if methodology is Methodology.NON_FEC:
        return CostingRequest(**common)  # type: ignore[arg-type]
    return CostingRequest(
        **common,  # type: ignore[arg-type]
        supervisor_cost=draw(st.none() | money_2dp("0", "300000")),
        supervisor_fte=draw(st.sampled_from([D("0.1"), D("0.05"), D("0.2"), D("0"), D("1")])),
        support_costs=draw(st.none() | money_2dp("0", "200000")),
        support_rate=draw(st.decimals(min_value=0, max_value=1, places=2)),
        estates=draw(st.just(D(0)) | money_2dp("0", "30000")),
    )


def lines_of(costing: Costing) -> dict[Category, tuple[int, int, int, int]]:
    """{category: (requested, eligible, grant, business)} as ints, checking they are whole pounds."""
    result = {}
    for line in costing.lines:
        values = (line.requested, line.eligible, line.grant, line.business)
        for value in values:
            assert value == value.to_integral_value(), (line.category, value)  # whole pounds
        result[line.category] = tuple(int(v) for v in values)
    return result  # type: ignore[return-value]


def maxima(request: CostingRequest) -> dict[Category, int]:
    """The pro-rata maxima of docs/rules.md for the request's maximum lines (R-10, R-12, R-17, R-18)."""
    months = request.months
    result = {
        C.ASSOCIATE_EMPLOYMENT: pro_rata_maximum(58000 if request.london else 55000, months),
        C.ASSOCIATE_DEVELOPMENT: pro_rata_maximum(2000, months),
    }
    if request.methodology is Methodology.FEC:
        result[C.ASSOCIATE_ESTATES] = 10000  # per project, not pro rata
    else:
        result[C.ACADEMIC_SECRETARIAL_SUPPORT] = pro_rata_maximum(15000, months)
    return result


# --- properties of every costing --------------------------------------------------------------


@PROPERTY
@given(requests())
def test_maximum_lines_never_exceed_their_pro_rata_maximum(request: CostingRequest) -> None:
    lines = lines_of(cost_project(request, on=ON))
    for category, maximum in maxima(request).items():
        _, eligible, _, _ = lines[category]
        assert 0 <= eligible <= maximum, (category, eligible, maximum)


@PROPERTY
@given(requests())
def test_shares_are_each_rounded_half_up_and_within_a_pound_of_eligible(request: CostingRequest) -> None:
    costing = cost_project(request, on=ON)
    rate = RATES[(request.methodology, request.business_type)]
    assert costing.grant_rate == D(rate.numerator) / D(rate.denominator)
    for category, (_, eligible, grant, business) in lines_of(costing).items():
        assert 0 <= grant <= eligible, category
        assert 0 <= business <= eligible, category
        assert eligible <= grant + business <= eligible + 1, category
        if category is C.KNOWLEDGE_BASE_OVERHEADS:
            assert (grant, business) == (eligible, 0)
        else:
            assert grant == half_up(eligible * rate), category
            assert business == half_up(eligible * (1 - rate)), category


@PROPERTY
@given(requests())
def test_totals_are_the_sums_of_the_lines(request: CostingRequest) -> None:
    costing = cost_project(request, on=ON)
    assert costing.eligible == sum(line.eligible for line in costing.lines)
    assert costing.grant == sum(line.grant for line in costing.lines)
    assert costing.business == sum(line.business for line in costing.lines)


@PROPERTY
@given(requests())
def test_lines_are_those_of_the_methodology_in_guidance_order(request: CostingRequest) -> None:
    costing = cost_project(request, on=ON)
    expected = {
        Methodology.FEC: [
            "associate_employment",
            "associate_development",
            "travel_subsistence",
            "consumables",
            "knowledge_base_supervisor",
            "associate_estates",
            "additional_associate_support",
        ],
        Methodology.NON_FEC: [
            "associate_employment",
            "academic_secretarial_support",
            "associate_development",
            "travel_subsistence",
            "consumables",
            "knowledge_base_overheads",
        ],
    }[request.methodology]
    assert [line.category.value for line in costing.lines] == expected


@PROPERTY
@given(requests().filter(lambda r: r.methodology is Methodology.NON_FEC))
def test_non_fec_overheads_are_46_percent_of_the_grant_shares(request: CostingRequest) -> None:
    lines = lines_of(cost_project(request, on=ON))
    base = lines[C.ASSOCIATE_EMPLOYMENT][2] + lines[C.ACADEMIC_SECRETARIAL_SUPPORT][2]
    overheads = half_up(Fraction(46, 100) * base)
    assert lines[C.KNOWLEDGE_BASE_OVERHEADS] == (overheads, overheads, overheads, 0)


@PROPERTY
@given(requests())
def test_cut_is_requested_minus_eligible_and_only_on_maximum_lines(request: CostingRequest) -> None:
    costing = cost_project(request, on=ON)
    limits = maxima(request)
    for line in costing.lines:
        assert line.cut == line.requested - line.eligible
        assert line.cut >= 0
        if line.category in limits:
            assert line.eligible == min(line.requested, D(limits[line.category]))
        else:
            assert line.cut == 0, line.category  # standards and budgets are never cut


@PROPERTY
@given(requests())
@example(CostingRequest(Methodology.FEC, BusinessType.SME, 12, D(45000), supervisor_cost=D(80000)))
@example(CostingRequest(Methodology.NON_FEC, BusinessType.LARGE, 13, D(30006)))  # 32,506.50
@example(CostingRequest(Methodology.FEC, BusinessType.SME, 13, D(45000), supervisor_cost=D(60060)))
@example(CostingRequest(Methodology.FEC, BusinessType.SME, 13, D(45000), support_costs=D(30012)))
def test_costing_matches_rules_md_to_the_pound(request: CostingRequest) -> None:
    """An independent exact (Fraction) computation of every line from docs/rules.md."""
    months = Fraction(request.months, 12)
    rate = RATES[(request.methodology, request.business_type)]
    wanted: dict[Category, int] = {
        C.ASSOCIATE_EMPLOYMENT: half_up(exact(request.salary) * months),
        C.ASSOCIATE_DEVELOPMENT: pro_rata_maximum(2000, request.months),
        C.TRAVEL_SUBSISTENCE: half_up(1250 * months),
        C.CONSUMABLES: half_up(2000 * months),
    }
    if request.methodology is Methodology.FEC:
        supervisor = request.supervisor_cost
        support = request.support_costs
        wanted[C.KNOWLEDGE_BASE_SUPERVISOR] = (
            0 if supervisor is None else half_up(exact(supervisor) * exact(request.supervisor_fte) * months)
        )
        wanted[C.ASSOCIATE_ESTATES] = half_up(exact(request.estates))
        wanted[C.ADDITIONAL_ASSOCIATE_SUPPORT] = (
            0 if support is None else half_up(exact(support) * exact(request.support_rate) * months)
        )
    else:
        wanted[C.ACADEMIC_SECRETARIAL_SUPPORT] = pro_rata_maximum(15000, request.months)
    lines = lines_of(cost_project(request, on=ON))
    for category, requested in wanted.items():
        eligible = min(requested, maxima(request).get(category, requested))
        assert lines[category][:2] == (requested, eligible), (category, request)
        assert lines[category][2:] == (half_up(eligible * rate), half_up(eligible * (1 - rate)))


@st.composite
def exact_half_salaries(draw: st.DrawFn) -> tuple[int, Decimal, int]:
    """(months, salary, expected): salary x months / 12 is exactly n + 0.50 pounds."""
    months = draw(st.integers(min_value=1, max_value=60))
    step = months // gcd(600, months)  # salary in pence = odd * 600 / months must be whole
    assume(step % 2 == 1)
    odd = step * (2 * draw(st.integers(min_value=0, max_value=(200000 * months) // (12 * step) // 2 - 1)) + 1)
    salary = D(odd * 600 // months) / 100
    assert Fraction(salary) * months / 12 == Fraction(odd, 2)
    return months, salary, (odd + 1) // 2


@PROPERTY
@given(exact_half_salaries(), st.sampled_from(Methodology))
def test_exact_half_of_a_pro_rata_salary_rounds_up(
    case: tuple[int, Decimal, int], methodology: Methodology
) -> None:
    """R-02 `annual * months / 12` then R-20 half up: an exact half pound goes up."""
    months, salary, expected = case
    request = CostingRequest(methodology, BusinessType.SME, months, salary)
    line = next(ln for ln in cost_project(request, on=ON).lines if ln.category is C.ASSOCIATE_EMPLOYMENT)
    assert line.requested == expected, (months, salary)


# --- refusals ---------------------------------------------------------------------------------


def assert_names_a_rule(error: RuleViolation) -> None:
    assert RULE_ID.match(error.rule), error.rule
    assert error.message
    assert str(error).startswith(error.rule)


@PROPERTY
@given(requests(), st.integers(max_value=0) | st.integers(min_value=61))
def test_months_outside_1_to_60_refused(request: CostingRequest, months: int) -> None:
    bad = CostingRequest(**{**request.__dict__, "months": months})
    with pytest.raises(RuleViolation) as caught:
        cost_project(bad, on=ON)
    assert_names_a_rule(caught.value)
    assert caught.value.rule == "R-02"


@PROPERTY
@given(
    requests().filter(lambda r: r.methodology is Methodology.FEC),
    st.sampled_from(["salary", "supervisor_cost", "support_costs", "estates"]),
    money_2dp("-1000000", "-0.01"),
)
def test_negative_amounts_refused(request: CostingRequest, field: str, amount: Decimal) -> None:
    bad = CostingRequest(**{**request.__dict__, field: amount})
    with pytest.raises(RuleViolation) as caught:
        cost_project(bad, on=ON)
    assert_names_a_rule(caught.value)


@PROPERTY
@given(money_2dp("-1000000", "-0.01"))
def test_negative_salary_refused_for_non_fec(amount: Decimal) -> None:
    with pytest.raises(RuleViolation) as caught:
        cost_project(CostingRequest(Methodology.NON_FEC, BusinessType.SME, 12, amount), on=ON)
    assert_names_a_rule(caught.value)


def is_number(text: str) -> bool:
    try:
        return D(text.strip()).is_finite()
    except InvalidOperation:
        return False


def is_valid_months(text: str) -> bool:
    try:
        return 1 <= int(text) <= 60
    except ValueError:
        return False


NON_NUMERIC = st.text(max_size=20).filter(lambda s: not is_number(s))


@PROPERTY
@given(NON_NUMERIC)
def test_non_numeric_amounts_refused(text: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(text, field="salary")
    assert_names_a_rule(caught.value)


@PROPERTY
@given(st.floats(allow_nan=True, allow_infinity=True) | st.booleans() | st.none() | st.lists(st.integers()))
def test_non_money_types_refused(value: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="salary")
    assert_names_a_rule(caught.value)


@PROPERTY
@given(st.decimals(min_value=0, max_value=1000000, allow_nan=False, allow_infinity=False))
def test_more_than_two_decimal_places_refused(amount: Decimal) -> None:
    if amount == amount.quantize(D("0.01")):
        assert parse_money(amount, field="salary") == amount
    else:
        with pytest.raises(RuleViolation) as caught:
            parse_money(amount, field="salary")
        assert caught.value.rule == "R-22"


@PROPERTY
@given(st.text(max_size=20).filter(lambda s: s not in {m.value for m in Methodology}))
def test_unknown_methodology_refused(name: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_choice(Methodology, name, field="methodology")
    assert_names_a_rule(caught.value)
    assert "non_fec" in caught.value.message


@PROPERTY
@given(st.text(max_size=20).filter(lambda s: s not in {b.value for b in BusinessType}))
def test_unknown_business_type_refused(name: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_choice(BusinessType, name, field="business type", rule="R-03")
    assert_names_a_rule(caught.value)
    assert "public_sector" in caught.value.message


# --- through the CLI --------------------------------------------------------------------------


def cli_args(request: CostingRequest) -> list[str]:
    args = [
        "costing",
        f"--methodology={request.methodology.value}",
        f"--business-type={request.business_type.value}",
        f"--months={request.months}",
        f"--salary={request.salary}",
        "--format=json",
    ]
    if request.london:
        args.append("--london")
    if request.virtual:
        args.append("--virtual")
    if request.methodology is Methodology.FEC:
        args += [
            f"--supervisor-fte={request.supervisor_fte}",
            f"--support-rate={request.support_rate}",
            f"--estates={request.estates}",
        ]
        if request.supervisor_cost is not None:
            args.append(f"--supervisor-cost={request.supervisor_cost}")
        if request.support_costs is not None:
            args.append(f"--support-costs={request.support_costs}")
    return args


@CLI_PROPERTY
@given(requests())
def test_cli_json_agrees_with_cost_project(request: CostingRequest) -> None:
    result = CliRunner().invoke(app, cli_args(request))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    costing = cost_project(request)
    assert len(document["lines"]) == len(costing.lines)
    for shown, line in zip(document["lines"], costing.lines, strict=True):
        assert shown["category"] == line.category.value
        for key in ("eligible", "grant", "business"):
            assert MONEY.match(shown[key]), shown[key]
            assert D(shown[key]) == getattr(line, key)
    for key in ("eligible", "grant", "business"):
        assert MONEY.match(document["totals"][key])
        assert D(document["totals"][key]) == sum(D(shown[key]) for shown in document["lines"])


@CLI_PROPERTY
@given(
    st.sampled_from(["--methodology", "--business-type", "--months", "--salary"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12),
)
def test_cli_bad_values_exit_1_naming_a_rule(option: str, value: str) -> None:
    good = {"--methodology": "fec", "--business-type": "sme", "--months": "12", "--salary": "45000"}
    if option in ("--methodology", "--business-type"):
        assume(value not in {m.value for m in Methodology} | {b.value for b in BusinessType})
    elif option == "--months":
        assume(not is_valid_months(value))
    else:
        assume(not is_number(value))
    args = ["costing", *(f"{k}={value if k == option else v}" for k, v in good.items()), "--format=json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert re.search(r"R-\d\d", result.output)
    assert RULE_ID.match(json.loads(result.stdout)["error"]["rule"])

"""Allowances (R-40) from a folded `ProjectState`, every figure worked out by hand from docs/rules.md.

The base project is tests.ledger.factory's offer: fec, SME (grant 67%), 24 months from 2024-10-01,
budget associate_employment 100,000, associate_development 4,000, travel_subsistence 2,500,
consumables 4,000, knowledge_base_supervisor 16,000 (no supervisor_cost: the offered line is its
own standard), associate_estates 0, additional_associate_support 36,000.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.domain.support import D, build, expect, figures, lines
from tests.ledger.factory import claim, decision, offer, reversal

FEC_ORDER = [
    "associate_employment",
    "associate_development",
    "travel_subsistence",
    "consumables",
    "knowledge_base_supervisor",
    "associate_estates",
    "additional_associate_support",
]
NON_FEC_ORDER = [
    "associate_employment",
    "academic_secretarial_support",
    "associate_development",
    "travel_subsistence",
    "consumables",
    "knowledge_base_overheads",
]


def non_fec_offer(business_type: str = "sme", **data: Any) -> dict[str, Any]:
    """The guidance's non-fec worked example: 12 months, salary 45,000, at the business's premises."""
    fields: dict[str, Any] = {
        "methodology": "non_fec",
        "business_type": business_type,
        "months": 12,
        "budget": {
            "associate_employment": "45000",
            "academic_secretarial_support": "15000",
            "associate_development": "2000",
            "travel_subsistence": "1250",
            "consumables": "2000",
        },
    }
    fields.update(data)
    return offer(**fields)


def empty_offer(methodology: str, months: int, *, london: bool = False, **data: Any) -> dict[str, Any]:
    return offer(methodology=methodology, months=months, london=london, budget={}, **data)


# --- budget and limit after the offer and LMC decisions -------------------------------------------


def test_offer_gives_every_fec_line_in_the_guidance_order() -> None:
    found = lines(build(offer()))
    assert list(found) == FEC_ORDER
    # 24 months: maxima 55,000 x 24 / 12 = 110,000 and 2,000 x 24 / 12 = 4,000; standards
    # 1,250 x 2 = 2,500 and 2,000 x 2 = 4,000; estates 10,000 per project; the supervisor line
    # without supervisor_cost is its own standard (16,000); a budget line's limit is its budget.
    assert figures(found["associate_employment"]) == expect(
        "100000", "110000", "maximum", "0", "100000", "0", "0"
    )
    assert figures(found["associate_development"]) == expect("4000", "4000", "maximum", "0", "4000", "0", "0")
    assert figures(found["travel_subsistence"]) == expect("2500", "2500", "standard", "0", "2500", "0", "0")
    assert figures(found["consumables"]) == expect("4000", "4000", "standard", "0", "4000", "0", "0")
    assert figures(found["knowledge_base_supervisor"]) == expect(
        "16000", "16000", "standard", "0", "16000", "0", "0"
    )
    assert figures(found["associate_estates"]) == expect("0", "10000", "maximum", "0", "0", "0", "0")
    assert figures(found["additional_associate_support"]) == expect(
        "36000", "36000", "budget", "0", "36000", "0", "0"
    )


def test_virements_move_budget_and_a_budget_line_limit_follows_its_budget() -> None:
    state = build(
        offer(),
        decision(
            "v1",
            kind="virement",
            to="associate_estates",
            minute="LMC 1",
            amount="5000",
            **{"from": "associate_employment"},
        ),
        decision(
            "v2",
            kind="virement",
            to="associate_employment",
            minute="LMC 1",
            amount="2000",
            **{"from": "additional_associate_support"},
        ),
    )
    found = lines(state)
    # associate_employment 100,000 - 5,000 + 2,000 = 97,000; estates 0 + 5,000 (max 10,000);
    # additional_associate_support 36,000 - 2,000 = 34,000, and its limit (kind budget) is 34,000.
    assert figures(found["associate_employment"]) == expect(
        "97000", "110000", "maximum", "0", "97000", "0", "0"
    )
    assert figures(found["associate_estates"]) == expect("5000", "10000", "maximum", "0", "5000", "0", "0")
    assert figures(found["additional_associate_support"]) == expect(
        "34000", "34000", "budget", "0", "34000", "0", "0"
    )
    # Untouched lines keep their offered budget.
    assert found["consumables"].budget == D(4000)
    assert state.original_budget[found["associate_employment"].category] == D(100000)


def test_budget_revision_sets_the_named_lines_and_keeps_the_others() -> None:
    found = lines(
        build(
            offer(),
            decision(
                "r1",
                kind="budget_revision",
                minute="LMC 2",
                budget={"associate_employment": "105000", "additional_associate_support": "40000"},
            ),
        )
    )
    assert figures(found["associate_employment"]) == expect(
        "105000", "110000", "maximum", "0", "105000", "0", "0"
    )
    assert figures(found["additional_associate_support"]) == expect(
        "40000", "40000", "budget", "0", "40000", "0", "0"
    )
    assert found["travel_subsistence"].budget == D(2500)
    assert found["associate_development"].budget == D(4000)


def test_approve_exceedance_raises_the_limit_not_the_budget_until_a_virement_uses_it() -> None:
    approved = build(
        offer(),
        decision(
            "a1",
            kind="approve_exceedance",
            category="travel_subsistence",
            limit="3500",
            justification="two overseas trials",
            approved_by="KTP adviser",
        ),
    )
    # The standard is 2,500 (1,250 x 24 / 12); the approval raises the limit to 3,500.
    assert figures(lines(approved)["travel_subsistence"]) == expect(
        "2500", "3500", "standard", "0", "2500", "0", "0"
    )
    vired = build(
        offer(),
        decision(
            "a1",
            kind="approve_exceedance",
            category="travel_subsistence",
            limit="3500",
            justification="two overseas trials",
            approved_by="KTP adviser",
        ),
        decision(
            "v1",
            kind="virement",
            to="travel_subsistence",
            amount="1000",
            minute="LMC 3",
            **{"from": "consumables"},
        ),
    )
    found = lines(vired)
    # travel 2,500 + 1,000 = 3,500 (= its approved limit); consumables 4,000 - 1,000 = 3,000, limit
    # still its standard 4,000.
    assert figures(found["travel_subsistence"]) == expect("3500", "3500", "standard", "0", "3500", "0", "0")
    assert figures(found["consumables"]) == expect("3000", "4000", "standard", "0", "3000", "0", "0")
    revised = build(
        offer(),
        decision(
            "a1",
            kind="approve_exceedance",
            category="consumables",
            limit="5000",
            justification="second rig",
            approved_by="KTP adviser",
        ),
        decision("r1", kind="budget_revision", minute="LMC 3", budget={"consumables": "5000"}),
    )
    assert figures(lines(revised)["consumables"]) == expect("5000", "5000", "standard", "0", "5000", "0", "0")


# --- limits pro rata (R-02, R-20) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "london", "expected"),
    [
        # 7 months: 55,000 x 7 / 12 = 32,083.33 -> 32,083 (maximum: down); London 58,000 x 7 / 12 =
        # 33,833.33 -> 33,833; development 2,000 x 7 / 12 = 1,166.67 -> 1,166 (maximum: down);
        # travel 1,250 x 7 / 12 = 729.17 -> 729; consumables 2,000 x 7 / 12 = 1,166.67 -> 1,167
        # (standard: half up); estates 10,000 per project, not pro rata.
        (7, False, {"associate_employment": "32083", "associate_development": "1166"}),
        (7, True, {"associate_employment": "33833", "associate_development": "1166"}),
        # 30 months: 55,000 x 30 / 12 = 137,500; London 58,000 x 30 / 12 = 145,000;
        # development 5,000; travel 3,125; consumables 5,000.
        (30, False, {"associate_employment": "137500", "associate_development": "5000"}),
        (30, True, {"associate_employment": "145000", "associate_development": "5000"}),
        # 9 months: 41,250; London 43,500; travel 1,250 x 9 / 12 = 937.50 -> 938 (half up).
        (9, False, {"associate_employment": "41250", "associate_development": "1500"}),
        (9, True, {"associate_employment": "43500", "associate_development": "1500"}),
    ],
)
def test_fec_limits_are_pro_rata_with_maxima_rounded_down(
    months: int, london: bool, expected: dict[str, str]
) -> None:
    standards = {
        7: {"travel_subsistence": "729", "consumables": "1167"},
        30: {"travel_subsistence": "3125", "consumables": "5000"},
        9: {"travel_subsistence": "938", "consumables": "1500"},
    }[months]
    found = lines(build(empty_offer("fec", months, london=london)))
    for category, limit in expected.items():
        assert (found[category].limit, found[category].limit_kind.value) == (D(limit), "maximum")
    for category, limit in standards.items():
        assert (found[category].limit, found[category].limit_kind.value) == (D(limit), "standard")
    assert (found["associate_estates"].limit, found["associate_estates"].limit_kind.value) == (
        D(10000),
        "maximum",
    )
    assert all(line.budget == 0 and line.spent == 0 for line in found.values())


@pytest.mark.parametrize(
    ("months", "london", "employment", "support"),
    [
        # associate 55,000 / 58,000 x months / 12 down; academic and secretarial 15,000 x months / 12
        (7, False, "32083", "8750"),  # 15,000 x 7 / 12 = 8,750
        (7, True, "33833", "8750"),
        (30, False, "137500", "37500"),  # 15,000 x 30 / 12 = 37,500
        (30, True, "145000", "37500"),
        (11, True, "53166", "13750"),  # 58,000 x 11 / 12 = 53,166.67 -> 53,166
    ],
)
def test_non_fec_maxima_pro_rata(months: int, london: bool, employment: str, support: str) -> None:
    found = lines(build(empty_offer("non_fec", months, london=london)))
    assert list(found) == NON_FEC_ORDER
    assert (found["associate_employment"].limit, found["associate_employment"].limit_kind.value) == (
        D(employment),
        "maximum",
    )
    assert (
        found["academic_secretarial_support"].limit,
        found["academic_secretarial_support"].limit_kind.value,
    ) == (D(support), "maximum")
    overheads = found["knowledge_base_overheads"]
    assert (overheads.limit, overheads.limit_kind.value) == (None, "derived")


def test_supervisor_standard_from_supervisor_cost() -> None:
    # 0.1 x 85,000 x 7 / 12 = 4,958.33 -> 4,958 (a standard: half up, R-16, R-20)
    found = lines(
        build(
            offer(months=7, supervisor_cost="85000", budget={"knowledge_base_supervisor": "4958"}),
        )
    )
    assert figures(found["knowledge_base_supervisor"]) == expect(
        "4958", "4958", "standard", "0", "4958", "0", "0"
    )
    # 0.1 x 80,000 x 24 / 12 = 16,000 (the guidance's example, two years)
    found = lines(build(offer(supervisor_cost="80000")))
    assert found["knowledge_base_supervisor"].limit == D(16000)


def test_an_offer_justification_sets_a_standard_line_limit_to_its_offered_budget() -> None:
    found = lines(
        build(
            offer(
                budget={"travel_subsistence": "3000", "consumables": "4000"},
                justifications={"travel_subsistence": "trials at three sites"},
            )
        )
    )
    # standard 2,500, justified offer 3,000: limit 3,000; consumables unjustified: 4,000
    assert figures(found["travel_subsistence"]) == expect("3000", "3000", "standard", "0", "3000", "0", "0")
    assert figures(found["consumables"]) == expect("4000", "4000", "standard", "0", "4000", "0", "0")


def test_a_costed_extension_raises_the_maxima_and_a_no_cost_one_does_not() -> None:
    base = empty_offer("fec", 12)
    costed = lines(build(base, decision("e1", kind="extension", months=6, costed=True)))
    # 18 months count: 55,000 x 18 / 12 = 82,500; 2,000 x 18 / 12 = 3,000; 1,250 x 18 / 12 = 1,875
    assert costed["associate_employment"].limit == D(82500)
    assert costed["associate_development"].limit == D(3000)
    assert costed["travel_subsistence"].limit == D(1875)
    free = lines(build(base, decision("e1", kind="extension", months=6, costed=False)))
    assert free["associate_employment"].limit == D(55000)
    assert free["associate_development"].limit == D(2000)
    assert free["travel_subsistence"].limit == D(1250)


# --- spent, remaining, eligible, ineligible -------------------------------------------------------


def test_spent_is_net_of_partial_and_full_reversals() -> None:
    found = lines(
        build(
            offer(),
            claim("c1", "1000.00"),
            claim("c2", "250.50"),
            claim("c3", "99.99"),
            reversal("r1", "c1", "200.25"),
            reversal("r2", "c2"),
        )
    )
    # 1,000.00 - 200.25 + 250.50 - 250.50 + 99.99 = 899.74; remaining 4,000 - 899.74 = 3,100.26
    assert figures(found["consumables"]) == expect(
        "4000", "4000", "standard", "899.74", "3100.26", "899.74", "0"
    )


def test_remaining_is_negative_over_budget_and_eligible_stops_at_the_budget() -> None:
    found = lines(
        build(
            offer(),
            claim("t1", "1500.00", category="travel_subsistence"),
            claim("t2", "1100.40", category="travel_subsistence"),
            claim("s1", "37000.00", category="additional_associate_support"),
        )
    )
    # travel: 1,500 + 1,100.40 = 2,600.40 against 2,500: remaining -100.40, eligible 2,500
    assert figures(found["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "2600.40", "-100.40", "2500", "100.40"
    )
    # a budget line: 37,000 against 36,000
    assert figures(found["additional_associate_support"]) == expect(
        "36000", "36000", "budget", "37000.00", "-1000.00", "36000", "1000.00"
    )


def test_eligible_never_above_a_maximum() -> None:
    found = lines(
        build(
            offer(),
            decision(
                "v1",
                kind="virement",
                to="associate_estates",
                amount="10000",
                minute="LMC 1",
                **{"from": "associate_employment"},
            ),
            claim("d1", "3000.00", category="associate_development"),
            claim("d2", "1500.00", category="associate_development"),
            claim("e1", "10500.00", category="associate_estates"),
            claim("w1", "111000.00", category="associate_employment"),
        )
    )
    # development: 4,500 against a 4,000 maximum (= budget): eligible 4,000, 500 ineligible
    assert figures(found["associate_development"]) == expect(
        "4000", "4000", "maximum", "4500.00", "-500.00", "4000", "500.00"
    )
    # estates: 10,500 against 10,000 per project
    assert figures(found["associate_estates"]) == expect(
        "10000", "10000", "maximum", "10500.00", "-500.00", "10000", "500.00"
    )
    # employment: budget 100,000 - 10,000 = 90,000, spent 111,000 (> the 110,000 maximum too)
    assert figures(found["associate_employment"]) == expect(
        "90000", "110000", "maximum", "111000.00", "-21000.00", "90000", "21000.00"
    )


# --- sub-limits and R-14 ---------------------------------------------------------------------------


def test_higher_degree_fees_over_700_per_project_are_ineligible() -> None:
    events = [
        offer(),
        claim("h1", "500.00", category="associate_development", tags=["higher_degree_fee"]),
        claim("h2", "400.00", category="associate_development", tags=["higher_degree_fee"]),
        claim("d1", "1000.00", category="associate_development"),
    ]
    # fees 500 + 400 = 900: 900 - 700 = 200 ineligible; spent 1,900, eligible 1,700
    assert figures(lines(build(*events))["associate_development"]) == expect(
        "4000", "4000", "maximum", "1900.00", "2100.00", "1700.00", "200.00"
    )
    # a partial reversal of 150 leaves fees of 750: 50 ineligible; spent 1,750, eligible 1,700
    events.append(reversal("r1", "h2", "150.00"))
    assert figures(lines(build(*events))["associate_development"]) == expect(
        "4000", "4000", "maximum", "1750.00", "2250.00", "1700.00", "50.00"
    )


def test_the_third_conference_and_later_are_ineligible() -> None:
    events = [
        offer(),
        claim("k1", "300.00", category="travel_subsistence", tags=["conference"]),
        claim("k2", "200.00", category="travel_subsistence", tags=["conference"]),
        claim("t1", "100.00", category="travel_subsistence"),
        claim("k3", "250.00", category="travel_subsistence", tags=["conference"]),
        claim("k4", "50.00", category="travel_subsistence", tags=["conference"]),
    ]
    # k3 and k4 are the third and fourth conferences: 300 ineligible of 900
    assert figures(lines(build(*events))["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "900.00", "1600.00", "600.00", "300.00"
    )
    # a partial reversal of k1 keeps it a conference: k3, k4 still out; spent 800, eligible 500
    partly = [*events, reversal("r1", "k1", "100.00")]
    assert figures(lines(build(*partly))["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "800.00", "1700.00", "500.00", "300.00"
    )
    # reversing k1 in full: k2 and k3 are the two, k4 the third: 50 ineligible of 600
    fully = [*events, reversal("r1", "k1")]
    assert figures(lines(build(*fully))["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "600.00", "1900.00", "550.00", "50.00"
    )


def test_a_second_computer_is_ineligible_until_the_first_is_reversed_in_full() -> None:
    events = [
        offer(),
        claim("p1", "900.00", tags=["computer"]),
        claim("p2", "1100.00", tags=["computer"]),
        claim("x1", "500.00"),
    ]
    # 2,500 spent; p2 (1,100) is the second computer
    assert figures(lines(build(*events))["consumables"]) == expect(
        "4000", "4000", "standard", "2500.00", "1500.00", "1400.00", "1100.00"
    )
    partly = [*events, reversal("r1", "p1", "100.00")]
    # p1 is still a computer: 2,400 spent, 1,100 ineligible
    assert figures(lines(build(*partly))["consumables"]) == expect(
        "4000", "4000", "standard", "2400.00", "1600.00", "1300.00", "1100.00"
    )
    fully = [*events, reversal("r1", "p1")]
    # p1 reversed in full no longer counts: p2 is the one computer, 1,600 all eligible
    assert figures(lines(build(*fully))["consumables"]) == expect(
        "4000", "4000", "standard", "1600.00", "2400.00", "1600.00", "0"
    )


@pytest.mark.parametrize(
    ("virtual", "eligible", "ineligible"), [(True, "400.00", "200.00"), (False, "600.00", "0")]
)
def test_virtual_business_associate_travel_is_ineligible_academic_travel_is_not(
    virtual: bool, eligible: str, ineligible: str
) -> None:
    found = lines(
        build(
            offer(virtual=virtual),
            claim("a1", "200.00", category="travel_subsistence", tags=["associate_travel"]),
            claim("b1", "300.00", category="travel_subsistence", tags=["academic_travel"]),
            claim("u1", "100.00", category="travel_subsistence"),
        )
    )
    # 600 spent; on a virtual business the 200 of associate travel is excluded
    assert figures(found["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "600.00", "1900.00", eligible, ineligible
    )


def test_exclusions_come_out_of_spend_before_the_budget_caps_it() -> None:
    # Decision (allowances.py): excluded claims are taken out first; what is left counts up to
    # the budget. 1,000 + 1,000 + 600 (third conference) + 400 = 3,000 spent; 3,000 - 600 = 2,400,
    # under the 2,500 budget: eligible 2,400, ineligible 600.
    found = lines(
        build(
            offer(),
            claim("k1", "1000.00", category="travel_subsistence", tags=["conference"]),
            claim("k2", "1000.00", category="travel_subsistence", tags=["conference"]),
            claim("k3", "600.00", category="travel_subsistence", tags=["conference"]),
            claim("t1", "400.00", category="travel_subsistence"),
        )
    )
    assert figures(found["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "3000.00", "-500.00", "2400.00", "600.00"
    )
    # and over budget after exclusions: + 500 more = 3,500; 3,500 - 600 = 2,900 -> 2,500 eligible
    found = lines(
        build(
            offer(),
            claim("k1", "1000.00", category="travel_subsistence", tags=["conference"]),
            claim("k2", "1000.00", category="travel_subsistence", tags=["conference"]),
            claim("k3", "600.00", category="travel_subsistence", tags=["conference"]),
            claim("t1", "900.00", category="travel_subsistence"),
        )
    )
    assert figures(found["travel_subsistence"]) == expect(
        "2500", "2500", "standard", "3500.00", "-1000.00", "2500", "1000.00"
    )


def test_eligible_plus_ineligible_is_spent_on_every_line_of_a_busy_project() -> None:
    state = build(
        offer(virtual=True),
        claim("a1", "2600.00", category="travel_subsistence", tags=["associate_travel"]),
        claim("k1", "10.00", category="travel_subsistence", tags=["conference"]),
        claim("k2", "10.00", category="travel_subsistence", tags=["conference"]),
        claim("k3", "10.00", category="travel_subsistence", tags=["conference"]),
        claim("p1", "900.00", tags=["computer"]),
        claim("p2", "3900.00", tags=["computer"]),
        claim("h1", "4500.00", category="associate_development", tags=["higher_degree_fee"]),
        claim("w1", "120000.00", category="associate_employment"),
        reversal("r1", "p1", "0.01"),
    )
    found = lines(state)  # checks eligible + ineligible = spent on each line
    # travel: 2,630 spent; a1 (2,600) and k3 (10) excluded: 20 eligible
    assert found["travel_subsistence"].eligible == D("20.00")
    # consumables: 899.99 + 3,900 = 4,799.99; p2 excluded: 899.99 eligible
    assert found["consumables"].eligible == D("899.99")
    # development: 4,500 of fees; 3,800 over the 700 cap excluded: 700 eligible
    assert found["associate_development"].eligible == D("700.00")
    assert found["associate_employment"].eligible == D("100000")
    for line in found.values():
        assert D(0) <= line.eligible <= line.budget


# --- the non-fec overheads line (R-19) --------------------------------------------------------------


def test_overheads_budget_is_46_percent_of_the_grant_share_of_its_sources() -> None:
    found = lines(build(non_fec_offer()))
    assert list(found) == NON_FEC_ORDER
    # SME non-fec 60%: 45,000 x 0.60 = 27,000.00; 15,000 x 0.60 = 9,000.00; 36,000 x 0.46 = 16,560
    assert figures(found["knowledge_base_overheads"]) == expect(
        "16560.00", None, "derived", "0", "16560.00", "0", "0"
    )
    large = lines(build(non_fec_offer("large")))
    # large 50%: 22,500 + 7,500 = 30,000 x 0.46 = 13,800
    assert figures(large["knowledge_base_overheads"]) == expect(
        "13800.00", None, "derived", "0", "13800.00", "0", "0"
    )


def test_overheads_spent_follows_the_eligible_spend_of_its_sources_share_by_share() -> None:
    found = lines(
        build(
            non_fec_offer(),
            claim("w1", "3333.33", category="associate_employment"),
            claim("s1", "1111.11", category="academic_secretarial_support"),
            claim("c1", "500.00", category="consumables"),
        )
    )
    # 3,333.33 x 0.60 = 1,999.998 -> 2,000.00; 1,111.11 x 0.60 = 666.666 -> 666.67;
    # (2,000.00 + 666.67) x 0.46 = 1,226.6682 -> 1,226.67 (not 4,444.44 x 0.60 = 2,666.66 -> 1,226.66)
    # remaining 16,560 - 1,226.67 = 15,333.33; consumables do not count
    assert figures(found["knowledge_base_overheads"]) == expect(
        "16560.00", None, "derived", "1226.67", "15333.33", "1226.67", "0"
    )


def test_overheads_round_half_up_to_the_penny_at_each_step() -> None:
    found = lines(
        build(
            non_fec_offer("large"),
            claim("w1", "100.01", category="associate_employment"),
            claim("s1", "101.49", category="academic_secretarial_support"),
        )
    )
    # 100.01 x 0.50 = 50.005 -> 50.01; 101.49 x 0.50 = 50.745 -> 50.75 (half up, not to even);
    # 100.76 x 0.46 = 46.3496 -> 46.35
    assert found["knowledge_base_overheads"].eligible == D("46.35")
    assert found["knowledge_base_overheads"].spent == D("46.35")
    found = lines(build(non_fec_offer("large"), claim("w1", "1.50", category="associate_employment")))
    # 1.50 x 0.50 = 0.75; 0.75 x 0.46 = 0.345 -> 0.35 (half up)
    assert found["knowledge_base_overheads"].eligible == D("0.35")


def test_overheads_use_eligible_not_spent_and_never_pass_their_budget() -> None:
    found = lines(
        build(
            non_fec_offer(),
            claim("w1", "46000.00", category="associate_employment"),
            claim("s1", "15500.00", category="academic_secretarial_support"),
        )
    )
    # sources eligible at their budgets (45,000, 15,000): overheads 16,560 = its budget, none ineligible
    assert figures(found["associate_employment"]) == expect(
        "45000", "55000", "maximum", "46000.00", "-1000.00", "45000", "1000.00"
    )
    assert figures(found["academic_secretarial_support"]) == expect(
        "15000", "15000", "maximum", "15500.00", "-500.00", "15000", "500.00"
    )
    assert figures(found["knowledge_base_overheads"]) == expect(
        "16560.00", None, "derived", "16560.00", "0", "16560.00", "0"
    )


def test_overheads_budget_follows_lmc_decisions_on_its_sources() -> None:
    revised = lines(
        build(
            non_fec_offer(),
            decision("r1", kind="budget_revision", minute="LMC 1", budget={"associate_employment": "50000"}),
        )
    )
    # 50,000 x 0.60 = 30,000 + 9,000 = 39,000 x 0.46 = 17,940
    assert revised["knowledge_base_overheads"].budget == D("17940.00")
    vired = lines(
        build(
            non_fec_offer(),
            decision(
                "v1",
                kind="virement",
                to="associate_employment",
                amount="1000",
                minute="LMC 1",
                **{"from": "consumables"},
            ),
        )
    )
    # 46,000 x 0.60 = 27,600 + 9,000 = 36,600 x 0.46 = 16,836
    assert vired["knowledge_base_overheads"].budget == D("16836.00")
    assert vired["consumables"].budget == D(1000)


def test_a_fec_project_has_no_overheads_line() -> None:
    assert "knowledge_base_overheads" not in lines(build(offer()))

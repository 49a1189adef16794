"""End-of-grant reconciliation (R-42), with figures worked out by hand from docs/rules.md."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.bootstrap import App
from ktpledger.domain.reconciliation import fold_with_history, reconcile
from ktpledger.service.statements import claim_pack, reconciliation
from tests.domain.support import fold_accepted
from tests.ledger.factory import claim, decision, event, offer, reversal

D = Decimal


def by_category(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["category"]: line for line in document["lines"]}


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [
        r.to_json() for r in results if r.status != "recorded"
    ]


FEC_BUDGET = {
    "associate_employment": "40000",
    "associate_development": "2000",
    "travel_subsistence": "1250",
    "consumables": "2000",
    "knowledge_base_supervisor": "8000",
    "associate_estates": "0",
    "additional_associate_support": "18000",
}


def fec_history(project: str = "KTP-R1") -> list[dict[str, Any]]:
    def c(key: str, amount: str, category: str, *tags: str) -> dict[str, Any]:
        return claim(key, amount, category=category, project=project, date="2025-06-15", tags=list(tags))

    return [
        offer(project, date="2024-12-01", start="2025-01-01", months=12, budget=FEC_BUDGET),
        c("ae", "41000.00", "associate_employment"),
        c("fees", "1500.00", "associate_development", "higher_degree_fee"),
        c("course", "600.00", "associate_development"),
        c("conf1", "300.00", "travel_subsistence", "conference"),
        c("conf2", "300.00", "travel_subsistence", "conference"),
        c("conf3", "300.00", "travel_subsistence", "conference"),
        c("rail", "500.00", "travel_subsistence"),
        c("laptop", "1200.00", "consumables", "computer"),
        c("tablet", "900.00", "consumables", "computer"),
        c("paper", "100.00", "consumables"),
        c("supervision", "8000.00", "knowledge_base_supervisor"),
        c("support", "9000.50", "additional_associate_support"),
        event(
            "ParentalLeaveCost",
            "leave",
            "2025-07-31",
            {"amount": "1000.01", "description": "maternity"},
            project=project,
        ),
        event("GrantPayment", "pay", "2025-09-30", {"amount": "30000.00"}, project=project),
    ]


def test_fec_sme_worked_by_hand(app: App) -> None:
    record(app, fec_history())
    document = reconciliation(app.database, "KTP-R1")
    lines = by_category(document)
    # (claimed, eligible, ineligible, reasons, grant = eligible x 0.67 half up to the penny, business)
    expected = {
        # 41,000 against a 40,000 budget (the 55,000 maximum is not reached): 1,000 over budget.
        "associate_employment": (
            "41000.00",
            "40000.00",
            "1000.00",
            {"over_budget": "1000.00"},
            "26800.00",
            "13200.00",
        ),
        # 1,500 higher-degree fees, 700 allowed: 800 out; 600 + 700 = 1,300 eligible.
        "associate_development": (
            "2100.00",
            "1300.00",
            "800.00",
            {"higher_degree_fee": "800.00"},
            "871.00",
            "429.00",
        ),
        # Third conference out: 300 + 300 + 500 = 1,100 eligible.
        "travel_subsistence": ("1400.00", "1100.00", "300.00", {"conference": "300.00"}, "737.00", "363.00"),
        # Second computer out: 1,200 + 100 = 1,300 eligible.
        "consumables": ("2200.00", "1300.00", "900.00", {"computer": "900.00"}, "871.00", "429.00"),
        "knowledge_base_supervisor": ("8000.00", "8000.00", "0.00", {}, "5360.00", "2640.00"),
        "associate_estates": ("0.00", "0.00", "0.00", {}, "0.00", "0.00"),
        # 9,000.50 x 0.67 = 6,030.335 -> 6,030.34; business 9,000.50 - 6,030.34 = 2,970.16.
        "additional_associate_support": ("9000.50", "9000.50", "0.00", {}, "6030.34", "2970.16"),
    }
    for category, (claimed, eligible, ineligible, reasons, grant, business) in expected.items():
        line = lines[category]
        assert (line["claimed"], line["eligible"], line["ineligible"]) == (claimed, eligible, ineligible), (
            category
        )
        assert line["ineligible_reasons"] == reasons, category
        assert (line["grant"], line["business"]) == (grant, business), category
    assert document["totals"] == {
        "original_budget": "71250.00",
        "final_budget": "71250.00",
        "claimed": "63700.50",
        "eligible": "60700.50",
        "ineligible": "3000.00",
        "grant": "40669.34",
        "business": "20031.16",
    }
    # 1,000.01 x 0.67 = 670.0067 -> 670.01.
    assert document["parental_leave"] == {"incurred": "1000.01", "reimbursable": "670.01"}
    assert document["grant_paid"] == "30000.00"
    assert document["balance_due"] == "11339.35"  # 40,669.34 + 670.01 - 30,000.00
    assert document["final"] is False


def test_a_line_above_its_maximum_is_over_cap(app: App) -> None:
    record(
        app,
        [
            offer(
                "KTP-R2",
                date="2024-12-01",
                start="2025-01-01",
                months=12,
                budget={**FEC_BUDGET, "associate_employment": "55000"},
            ),
            claim("ae", "56000.00", category="associate_employment", project="KTP-R2", date="2025-12-31"),
        ],
    )
    line = by_category(reconciliation(app.database, "KTP-R2"))["associate_employment"]
    assert (line["eligible"], line["ineligible"], line["ineligible_reasons"]) == (
        "55000.00",
        "1000.00",
        {"over_cap": "1000.00"},
    )
    assert (line["grant"], line["business"]) == ("36850.00", "18150.00")  # 55,000 x 0.67


def test_non_fec_virtual_with_overheads_worked_by_hand(app: App) -> None:
    budget = {
        "associate_employment": "45000",
        "academic_secretarial_support": "15000",
        "associate_development": "2000",
        "travel_subsistence": "1250",
        "consumables": "2000",
    }
    p = "KTP-R3"
    record(
        app,
        [
            offer(
                p,
                date="2024-12-01",
                start="2025-01-01",
                months=12,
                methodology="non_fec",
                virtual=True,
                budget=budget,
            ),
            claim("ae", "45000.00", category="associate_employment", project=p, date="2025-12-31"),
            claim("ass", "15000.00", category="academic_secretarial_support", project=p, date="2025-12-31"),
            claim("a-rail", "200.00", category="travel_subsistence", project=p, tags=["associate_travel"]),
            claim("k-rail", "300.00", category="travel_subsistence", project=p, tags=["academic_travel"]),
            event("ProjectClosed", "close", "2026-01-20", {}, project=p),
        ],
    )
    document = reconciliation(app.database, p)
    lines = by_category(document)
    assert document["final"] is True and document["grant_rate"] == "0.60"
    assert (lines["travel_subsistence"]["eligible"], lines["travel_subsistence"]["ineligible_reasons"]) == (
        "300.00",
        {"associate_travel": "200.00"},
    )
    assert (lines["associate_employment"]["grant"], lines["academic_secretarial_support"]["grant"]) == (
        "27000.00",
        "9000.00",
    )
    overheads = lines["knowledge_base_overheads"]
    # 46% x (27,000 + 9,000) = 16,560: claimed 0, eligible = grant, business 0.
    assert (overheads["claimed"], overheads["eligible"], overheads["grant"], overheads["business"]) == (
        "0.00",
        "16560.00",
        "16560.00",
        "0.00",
    )
    assert overheads["final_budget"] == "16560.00"
    assert document["totals"]["grant"] == "52740.00"  # 27,000 + 9,000 + 180 + 16,560
    assert document["totals"]["business"] == "24120.00"  # 18,000 + 6,000 + 120
    assert document["totals"]["eligible"] == "76860.00"


def test_lmc_changes_are_listed_per_line(app: App) -> None:
    p = "KTP-R4"
    record(
        app,
        [
            offer(p),
            decision(
                "v",
                project=p,
                kind="virement",
                **{
                    "from": "consumables",
                    "to": "associate_employment",
                    "amount": "500",
                    "minute": "LMC2 item 4",
                },
            ),
            decision(
                "r",
                project=p,
                kind="budget_revision",
                budget={"associate_employment": "101000", "additional_associate_support": "35500"},
                minute="LMC3 item 2",
            ),
        ],
    )
    lines = by_category(reconciliation(app.database, p))
    ae = lines["associate_employment"]
    assert (ae["original_budget"], ae["final_budget"]) == ("100000.00", "101000.00")
    assert [(c["kind"], c["amount"]) for c in ae["changes"]] == [
        ("virement", "500.00"),
        ("budget_revision", "500.00"),
    ]
    assert [(c["kind"], c["amount"]) for c in lines["consumables"]["changes"]] == [("virement", "-500.00")]


def test_the_same_ledger_gives_the_same_document(app: App) -> None:
    record(app, fec_history())
    first = reconciliation(app.database, "KTP-R1")
    second = reconciliation(app.database, "KTP-R1")
    assert json.dumps(first) == json.dumps(second)
    stream = app.ledger.stream("KTP-R1")
    assert first["ledger"] == {
        "version": len(stream),
        "position": stream[-1].position,
        "head_hash": stream[-1].hash,
    }


def test_claim_pack_for_a_quarter(app: App) -> None:
    p = "KTP-R5"
    record(
        app,
        [
            offer(p, date="2024-12-01", start="2025-01-01", months=12, budget=FEC_BUDGET),
            claim("q1", "300.00", project=p, date="2025-02-10"),
            claim("q2a", "400.00", project=p, date="2025-04-10"),
            claim("q2b", "1300.00", project=p, date="2025-06-30"),
            reversal("q2a-r", "q2a", "100.00", project=p, date="2025-05-01"),
            claim("q3", "50.00", project=p, date="2025-07-01"),
        ],
    )
    pack = claim_pack(app.database, p, "2025Q2")
    consumables = by_category(pack)["consumables"]
    assert (pack["from"], pack["to"]) == ("2025-04-01", "2025-06-30")
    assert consumables["in_quarter"] == "1600.00"  # 400 + 1,300 - 100
    assert consumables["cumulative"] == "1900.00"  # and 300 from Q1; Q3's claim is not in
    # 1,900 spent + the even plan's last 6 months (2,000 x 6/12 = 1,000)
    assert consumables["forecast"] == "2900.00"
    kinds = {(a["category"], a["kind"]) for a in pack["alerts_open_at_quarter_end"]}
    assert ("consumables", "threshold") in kinds and ("consumables", "forecast_overspend") in kinds
    assert pack["claim"] == {
        "eligible_added": {"consumables": "1600.00"},
        "grant_added": {"consumables": "1072.00"},  # 1,600 x 67%
        "grant": "1072.00",
    }


@pytest.mark.parametrize("quarter", ["2025Q5", "Q2", "2031Q1"])
def test_claim_pack_refuses_a_bad_quarter(app: App, quarter: str) -> None:
    from ktpledger.domain.errors import RuleViolation

    record(app, [offer("KTP-R6")])
    with pytest.raises(RuleViolation):
        claim_pack(app.database, "KTP-R6", quarter)


CATEGORIES = {
    "fec": [
        "associate_employment",
        "associate_development",
        "travel_subsistence",
        "consumables",
        "knowledge_base_supervisor",
        "associate_estates",
        "additional_associate_support",
    ],
    "non_fec": [
        "associate_employment",
        "academic_secretarial_support",
        "associate_development",
        "travel_subsistence",
        "consumables",
    ],
}
TAGS = {
    "associate_development": ["higher_degree_fee"],
    "travel_subsistence": ["conference", "associate_travel"],
    "consumables": ["computer"],
}


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    methodology = draw(st.sampled_from(["fec", "non_fec"]))
    business_type = draw(st.sampled_from(["sme", "large", "not_for_profit", "public_sector"]))
    virtual = draw(st.booleans())
    ceilings = {
        "associate_employment": 55000,
        "associate_development": 2000,
        "academic_secretarial_support": 15000,
    }
    budget = {
        c: str(draw(st.integers(0, ceilings.get(c, 4000))))
        for c in CATEGORIES[methodology]
        if c != "associate_estates"
    }
    if methodology == "fec":
        budget["knowledge_base_supervisor"] = str(draw(st.integers(0, 8000)))
    items = [
        offer(
            "KTP-H",
            date="2024-12-01",
            start="2025-01-01",
            months=12,
            methodology=methodology,
            business_type=business_type,
            virtual=virtual,
            budget=budget,
            justifications={"travel_subsistence": "x", "consumables": "y"},
        )
    ]
    keys: list[str] = []
    for n in range(draw(st.integers(0, 25))):
        category = draw(st.sampled_from(CATEGORIES[methodology]))
        tags = draw(st.lists(st.sampled_from(TAGS.get(category, ["none"])), max_size=1))
        amount = draw(st.decimals(min_value=D("0.01"), max_value=D("9000"), places=2))
        items.append(
            claim(
                f"c{n}",
                str(amount),
                category=category,
                project="KTP-H",
                tags=[t for t in tags if t != "none"],
            )
        )
        keys.append(f"c{n}")
        if draw(st.booleans()) and keys:
            items.append(reversal(f"r{n}", draw(st.sampled_from(keys)), project="KTP-H", date="2025-08-01"))
    if draw(st.booleans()):
        items.append(
            event(
                "ParentalLeaveCost",
                "pl",
                "2025-06-01",
                {
                    "amount": str(draw(st.decimals(min_value=D("0.01"), max_value=D("5000"), places=2))),
                    "description": "leave",
                },
                project="KTP-H",
            )
        )
    return items


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_every_line_balances_and_totals_sum_the_lines(items: list[dict[str, Any]]) -> None:
    _, events = fold_accepted("KTP-H", items)
    folded, history = fold_with_history("KTP-H", events)
    result = reconcile(folded, history)
    for line in result.lines:
        assert line.grant + line.business == line.eligible, line
        assert line.business >= 0 and line.grant >= 0
        if line.category.value != "knowledge_base_overheads":
            assert line.eligible + line.ineligible == line.claimed, line
            assert sum(line.reasons.values(), D(0)) == line.ineligible, line
            assert line.eligible <= line.final_budget
        else:
            assert line.claimed == 0 and line.business == 0 and line.eligible <= line.final_budget
    for name in ("final_budget", "claimed", "eligible", "ineligible", "grant", "business"):
        assert result.total(name) == sum((getattr(line, name) for line in result.lines), D(0))
    assert (
        result.balance_due == result.total("grant") + result.parental_leave_reimbursable - result.grant_paid
    )

"""Issue 10, item 1: the non-fec overheads line (R-19, R-20, R-42) the same in the costing, the
allowances, the reconciliation and the claim packs; every figure worked out by hand from docs/rules.md.

The project: non-fec SME (grant rate 60%, R-03), 12 months from 2025-01-01, budgets that are not
round: associate_employment 45,001 and academic_secretarial_support 15,000.

- Costing (R-21, R-20): the grant shares are 45,001 x 0.6 = 27,000.60 -> 27,001 and 15,000 x 0.6
  = 9,000; 46% of 36,001 = 16,560.46 -> 16,560 (whole pounds). The overheads *budget* is 16,560.00.
  (Worked to the penny instead, 0.46 x (27,000.60 + 9,000) = 16,560.28: the old, wrong budget.)
- Reconciliation (R-23, R-42): employment 45,001 claimed and eligible, grant 27,000.60; support
  15,000, grant 9,000; 46% of 36,000.60 = 16,560.276 -> 16,560.28, capped at the budget 16,560.00.
- Travel: budget 1,250 (the standard, R-13), spent 1,400: eligible 1,250, ineligible 150 over budget.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktpledger.bootstrap import App
from ktpledger.domain.costing import cost_project, parse_request
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import (
    History,
    pack_covers_until,
    project_quarters,
    quarter_bounds,
    quarter_claim,
    reconcile,
)
from ktpledger.service.statements import claim_pack, reconciliation
from tests.domain.support import fold_accepted
from tests.ledger.factory import claim, decision, event, offer, reversal
from tests.reconciliation.test_reconciliation import CATEGORIES as ALL_CATEGORIES
from tests.reconciliation.test_reconciliation import TAGS

D = Decimal
P = "KTP-NF"

NON_FEC_BUDGET = {
    "associate_employment": "45001",
    "academic_secretarial_support": "15000",
    "associate_development": "2000",
    "travel_subsistence": "1250",
    "consumables": "2000",
}


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def non_fec_project() -> list[dict[str, Any]]:
    return [
        offer(
            P, date="2024-12-01", start="2025-01-01", months=12, methodology="non_fec", budget=NON_FEC_BUDGET
        ),
        claim("ae-q1", "11250.25", category="associate_employment", project=P, date="2025-03-31"),
        claim("ae-rest", "33750.75", category="associate_employment", project=P, date="2025-12-31"),
        claim("ass", "15000.00", category="academic_secretarial_support", project=P, date="2025-12-31"),
        claim("rail", "1400.00", category="travel_subsistence", project=P, date="2025-06-30"),
    ]


def lines_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["category"]: line for line in document["lines"]}


def test_the_overheads_budget_is_the_costings_whole_pounds() -> None:
    costing = cost_project(
        parse_request(methodology="non_fec", business_type="sme", months="12", salary="45001")
    )
    overheads = {line.category.value: line for line in costing.lines}["knowledge_base_overheads"]
    assert overheads.eligible == overheads.grant == D("16560")  # 46% of (27,001 + 9,000) -> 16,560

    state = ProjectState(project=P)
    raw = parse_event(non_fec_project()[0])
    state.check(raw)
    state.apply(raw, 1)
    from ktpledger.domain.allowances import allowances

    derived = {line.category.value: line for line in allowances(state)}["knowledge_base_overheads"]
    assert derived.budget == D("16560")  # not 16,560.28


def test_allowances_and_reconciliation_agree_and_nothing_is_negative(app: App) -> None:
    record(app, non_fec_project())
    allowance = {line["category"]: line for line in app.projector.allowances(P).to_json()["lines"]}
    document = reconciliation(app.database, P)
    lines = lines_of(document)

    overheads = lines["knowledge_base_overheads"]
    assert (
        overheads["final_budget"],
        overheads["claimed"],
        overheads["eligible"],
        overheads["ineligible"],
        overheads["grant"],
        overheads["business"],
    ) == ("16560.00", "0.00", "16560.00", "0.00", "16560.00", "0.00")
    assert (
        allowance["knowledge_base_overheads"]["budget"],
        allowance["knowledge_base_overheads"]["eligible"],
    ) == (
        "16560.00",
        "16560.00",
    )
    assert allowance["knowledge_base_overheads"]["ineligible"] == "0.00"
    assert lines["associate_employment"]["grant"] == "27000.60"
    assert (lines["travel_subsistence"]["eligible"], lines["travel_subsistence"]["ineligible"]) == (
        "1250.00",
        "150.00",
    )
    # totals.ineligible is the claimed lines' ineligible spend: only travel's 150.
    assert document["totals"]["ineligible"] == "150.00"
    # 27,000.60 + 9,000 + 750 (travel 1,250 x 0.6) + 16,560
    assert document["totals"]["grant"] == "53310.60"
    for category, line in lines.items():
        assert D(line["ineligible"]) >= 0, category
        assert line["final_budget"] == allowance[category]["budget"], category
        assert line["eligible"] == allowance[category]["eligible"], category
        assert line["ineligible"] == allowance[category]["ineligible"], category
        if category != "knowledge_base_overheads":
            assert line["claimed"] == allowance[category]["spent"], category


def test_the_claim_pack_charges_the_overheads_line_as_all_grant(app: App) -> None:
    record(app, non_fec_project())
    pack = claim_pack(app.database, P, "2025Q1")
    # Q1: employment 11,250.25 eligible, grant 6,750.15 (11,250.25 x 0.6 = 6,750.15);
    # overheads earned 46% x 6,750.15 = 3,105.069 -> 3,105.07, all of it grant (not x 0.6).
    assert pack["claim"]["eligible_added"] == {
        "associate_employment": "11250.25",
        "knowledge_base_overheads": "3105.07",
    }
    assert pack["claim"]["grant_added"] == {
        "associate_employment": "6750.15",
        "knowledge_base_overheads": "3105.07",
    }
    assert pack["claim"]["grant"] == "9855.22"
    total = sum(
        (
            D(claim_pack(app.database, P, quarter)["claim"]["grant"])
            for quarter in ("2025Q1", "2025Q2", "2025Q3", "2025Q4")
        ),
        D(0),
    )
    assert total == D(reconciliation(app.database, P)["totals"]["grant"]) == D("53310.60")


def test_the_final_quarters_pack_takes_events_dated_after_the_end(app: App) -> None:
    record(
        app,
        [
            *non_fec_project(),
            reversal("rail-refund", "rail", "100.00", project=P, date="2026-02-10"),  # after the end
        ],
    )
    # The refund takes travel from 1,400 to 1,300: still 50 over the 1,250 budget, eligible unchanged.
    assert claim_pack(app.database, P, "2025Q4")["final_quarter"] is True
    assert claim_pack(app.database, P, "2025Q3")["final_quarter"] is False
    total = sum(
        (
            D(claim_pack(app.database, P, q)["claim"]["grant"])
            for q in ("2025Q1", "2025Q2", "2025Q3", "2025Q4")
        ),
        D(0),
    )
    assert total == D(reconciliation(app.database, P)["totals"]["grant"])


# --- property: the packs add up to the reconciliation, fec and non-fec --------------------------

# The claimable lines of each methodology (estates left out: its budget is 0 here) and their tags.
CATEGORIES = {
    methodology: [c for c in lines if c != "associate_estates"]
    for methodology, lines in ALL_CATEGORIES.items()
}
START = date(2025, 2, 1)  # a period that starts and ends mid-quarter


def day(offset: int) -> str:
    return date.fromordinal(START.toordinal() + offset).isoformat()


@st.composite
def lives(draw: st.DrawFn) -> list[dict[str, Any]]:
    methodology = draw(st.sampled_from(["fec", "non_fec"]))
    months = draw(st.integers(6, 20))
    # Below the maxima for the months; standard lines come with a justification.
    per_month = {
        "associate_employment": 4583,
        "associate_development": 166,
        "academic_secretarial_support": 1250,
    }
    budget = {c: str(draw(st.integers(0, per_month.get(c, 300) * months))) for c in CATEGORIES[methodology]}
    items = [
        offer(
            "KTP-P",
            date="2025-01-10",
            start=START.isoformat(),
            months=months,
            methodology=methodology,
            business_type=draw(st.sampled_from(["sme", "large", "not_for_profit", "public_sector"])),
            virtual=draw(st.booleans()),
            budget=budget,
            justifications={
                c: "agreed"
                for c in ("travel_subsistence", "consumables", "knowledge_base_supervisor")
                if c in budget
            },
        )
    ]
    period_days = months * 28  # inside the period whatever the months' lengths
    keys: list[str] = []
    for n in range(draw(st.integers(0, 30))):
        action = draw(st.sampled_from(["claim", "claim", "claim", "reversal", "revision"]))
        when = draw(st.integers(0, period_days))
        if action == "claim":
            category = draw(st.sampled_from(CATEGORIES[methodology]))
            tags = draw(st.lists(st.sampled_from(TAGS.get(category, ["none"])), max_size=1))
            amount = draw(st.decimals(min_value=D("0.01"), max_value=D("6000"), places=2))
            items.append(
                claim(
                    f"c{n}",
                    str(amount),
                    category=category,
                    project="KTP-P",
                    date=day(when),
                    tags=[t for t in tags if t != "none"],
                )
            )
            keys.append(f"c{n}")
        elif action == "reversal" and keys:
            late = draw(st.booleans())  # some reversals come after the project's end
            items.append(
                reversal(
                    f"r{n}",
                    draw(st.sampled_from(keys)),
                    project="KTP-P",
                    date=day(when + (400 if late else 0)),
                )
            )
        elif action == "revision":
            category = draw(st.sampled_from(CATEGORIES[methodology]))
            items.append(
                decision(
                    f"d{n}",
                    day(when),
                    project="KTP-P",
                    kind="budget_revision",
                    budget={category: str(draw(st.integers(0, 60000)))},
                    minute="m",
                )
            )
    if draw(st.booleans()):
        items.append(event("ProjectClosed", "close", day(period_days + 40), {}, project="KTP-P"))
    return items


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lives())
def test_the_packs_grant_adds_up_to_the_reconciliations_grant(items: list[dict[str, Any]]) -> None:
    state, events = fold_accepted("KTP-P", items)
    total = D(0)
    for quarter in project_quarters(state):
        start, end = quarter_bounds(quarter)
        until = pack_covers_until(start, end, state.end)
        covered = [item for item in events if item[0].date <= until]
        total += quarter_claim("KTP-P", covered, quarter_start=start).grant
    result = reconcile(state, History())
    assert total == result.total("grant")
    for line in result.lines:
        assert line.ineligible >= 0, line

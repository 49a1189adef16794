"""A project's health (R-47), every reason worked by hand.

The factory's offer: fec, SME (67%), 24 months from 2025-01-01 (ends 2026-12-31), budget lines
associate 100,000, development 4,000, travel 2,500, consumables 4,000, supervisor 16,000,
estates 0, additional associate support 36,000: 162,500.00 on the lines the pace counts. No
recorded profile: every line is planned evenly by month (R-43).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ktpledger.domain.allowances import allowances
from ktpledger.domain.health import Health, HealthReason, ProjectHealth, project_health
from tests.domain.support import Ledger
from tests.ledger.factory import claim, event, offer

D = Decimal
START = "2025-01-01"


def project() -> Ledger:
    return Ledger(offer(date="2024-12-01", start=START))


def health(ledger: Ledger, today: str) -> ProjectHealth:
    state = ledger.state
    return project_health(state, allowances(state), today=date.fromisoformat(today))


def kinds(found: ProjectHealth) -> list[tuple[str, str, str, str]]:
    return [(r.severity.value, r.kind, r.category, r.subject) for r in found.reasons]


def test_a_project_on_plan_is_green() -> None:
    ledger = project()
    ledger.add(claim("ae", "12500.00", category="associate_employment", date="2025-03-10"))
    # 20 March 2025 is month 3 of 24 (12.5% elapsed); 12,500 of 162,500 spent is 7.7%: 4.8 points
    # behind, within 15. The associate's forecast is 12,500 + 21 months x 100,000/24 (87,500) =
    # 100,000, its budget. No quarter has ended, so no claim is due and no profile is judged.
    found = health(ledger, "2025-03-20")
    assert (found.status, found.reasons, found.top_reason) == (Health.GREEN, (), None)


def test_over_budget_and_an_overdue_claim_are_red_and_come_first() -> None:
    ledger = project()
    ledger.add(claim("cons", "4100.00", date="2025-02-01"))
    ledger.add(claim("ae", "12500.00", category="associate_employment", date="2025-03-31"))
    # On 5 May 2025 (month 5): consumables 4,100 is 100 over its 4,000 budget (red); 2025Q1's claim
    # was due 30 days after 31 March, on 30 April, and is not submitted (red, 5 days late); the
    # consumables forecast is 4,100 + 19 months x 4,000/24 (3,166.67) = 7,266.67 > 4,000 (amber);
    # at 2025Q1's end 4,100 was spent against 500 planned, more than 10% above (amber). The
    # associate's 12,500 is on its plan. Pace: 16,600 / 162,500 = 10.2% against 5/24 = 20.8%:
    # 10.6 points behind, within 15.
    found = health(ledger, "2025-05-05")
    assert found.status is Health.RED
    assert kinds(found) == [
        ("red", "over_budget", "consumables", ""),
        ("red", "claim_overdue", "", "2025Q1"),
        ("amber", "forecast_overspend", "consumables", ""),
        ("amber", "ahead_of_profile", "consumables", ""),
    ]
    top = found.top_reason
    assert top is not None and top.rule == "R-41"
    assert top.figures == {
        "spent": "4100.00",
        "budget": "4000.00",
        "excess": "100.00",
        "message": "the excess is ineligible until an LMC decision covers it",
    }
    assert top.message.startswith(
        "Equipment & consumables: spend £4,100.00 is £100.00 over the budget £4,000.00"
    )
    overdue = found.reasons[1]
    assert (overdue.rule, overdue.figures["due"], overdue.figures["days"]) == ("R-45", "2025-04-30", 5)


def test_behind_time_no_spend_and_an_underspend_are_amber() -> None:
    ledger = project()
    ledger.add(claim("sup", "100.00", category="knowledge_base_supervisor", date="2025-01-05"))
    # On 10 April 2025 (month 4, 4/24 = 16.7% elapsed): 100 of 162,500 spent (0.06%) is 16.6
    # points behind time, more than 15 (amber); nothing since 5 January, three months and more
    # (amber). The supervisor's forecast: 100 + 20 months x 16,000/24 (13,333.33) = 13,433.33,
    # more than 10% under 16,000 and 2,566.67 short (amber); at 2025Q1's end 100 against 2,000
    # planned (amber). 2025Q1's claim is due on 30 April: not yet within its 10 days.
    found = health(ledger, "2025-04-10")
    assert found.status is Health.AMBER
    assert kinds(found) == [
        ("amber", "forecast_underspend", "knowledge_base_supervisor", ""),
        ("amber", "behind_profile", "knowledge_base_supervisor", ""),
        ("amber", "behind_time", "", ""),
        ("amber", "no_spend", "", ""),
    ]
    pace = found.reasons[2]
    assert pace.figures == {
        "spent": "100.00",
        "budget": "162500.00",
        "spent_share": "0.0006",
        "elapsed": "0.1667",
        "month": 4,
        "months": 24,
        "gap": "-0.1661",
        "as_of": "2025-04-10",
    }
    assert pace.rule == "R-47"
    assert "£100.00 of the £162,500.00 budget is spent (0%) in month 4 of 24 (17% of the period)" in (
        pace.message
    )
    quiet = found.reasons[3]
    assert quiet.figures["since"] == "2025-01-05" and quiet.figures["last_spend"] == "2025-01-05"
    # Ten days before the claim's due date it is due (amber), ordered after the forecasts' overspend.
    assert ("amber", "claim_due", "", "2025Q1") in kinds(health(ledger, "2025-04-20"))


def test_ahead_of_time_and_its_edge() -> None:
    ledger = project()
    # Month 3 (12.5% elapsed): 45,000 of 162,500 is 27.7%, 15.2 points ahead (amber) ...
    ledger.add(claim("aas", "36000.00", category="additional_associate_support", date="2025-03-01"))
    ledger.add(claim("ae", "9000.00", category="associate_employment", date="2025-03-01"))
    found = health(ledger, "2025-03-20")
    assert ("amber", "ahead_of_time", "", "") in kinds(found)
    # ... a month later (month 4, 16.7%) 27.7% is 11.0 points ahead: within 15.
    ledger.add(claim("cons", "100.00", date="2025-04-02"))
    assert "ahead_of_time" not in [r.kind for r in health(ledger, "2025-04-05").reasons]


def test_the_pace_waits_for_month_three() -> None:
    ledger = project()
    ledger.add(claim("aas", "36000.00", category="additional_associate_support", date="2025-02-01"))
    # Month 2: 22% spent against 8% elapsed, but the pace is judged from month 3.
    assert "ahead_of_time" not in [r.kind for r in health(ledger, "2025-02-20").reasons]


def test_ended_not_closed_is_amber_then_red_after_ninety_days() -> None:
    ledger = project()
    quarter_ends = {1: "03-31", 2: "06-30", 3: "09-30", 4: "12-31"}
    for year in (2025, 2026):
        for q, ends in quarter_ends.items():
            ledger.add(
                claim(f"ae-{year}Q{q}", "12500.00", category="associate_employment", date=f"{year}-{ends}")
            )
            on = f"{year + (q == 4)}-{1 if q == 4 else 3 * q + 1:02d}-05"
            ledger.add(ledger.claim_event(f"{year}Q{q}", on))
    # The associate on its plan (12,500.00 a quarter, the profile's even 100,000/8) and every quarter
    # claimed; the period ended on 31 December 2026. 31 March 2027 is 90 days on: amber; 1 April
    # 2027 is 91 days on: red.
    assert kinds(health(ledger, "2027-03-31")) == [("amber", "ended_not_closed", "", "")]
    late = health(ledger, "2027-04-01")
    assert kinds(late) == [("red", "ended_not_closed", "", "")]
    assert late.reasons[0].rule == "R-36" and late.reasons[0].figures["days_since_end"] == 91


def test_a_closed_project_is_green_though_its_findings_stay() -> None:
    ledger = project()
    ledger.add(claim("cons", "4100.00", date="2025-02-01"))  # over budget: a finding at closure
    # Closed without its claims: nothing more is asked of it (the grant is reconciled at closure).
    ledger.add(event("ProjectClosed", "close", "2027-01-15", {}))
    assert health(ledger, "2027-06-01").status is Health.GREEN


def test_reasons_read_as_json() -> None:
    reason = HealthReason(Health.AMBER, "no_spend", "", "", "No spend.", "R-47", {"months": 3})
    assert reason.to_json() == {
        "kind": "no_spend",
        "severity": "amber",
        "category": None,
        "subject": None,
        "message": "No spend.",
        "rule": "R-47",
        "figures": {"months": 3},
    }


def test_over_a_maximum_is_red_before_over_budget() -> None:
    ledger = project()
    # Associate development's budget is its maximum, 4,000: 4,100 is over both (red), over
    # the maximum first; its forecast on 20 March (month 3) is 4,100 + 21 x 4,000/24 (3,500.00) =
    # 7,600.00 (amber). Pace: 4,100 / 162,500 = 2.5% against 12.5%, within 15 points.
    ledger.add(claim("dev", "4100.00", category="associate_development", date="2025-02-01"))
    assert kinds(health(ledger, "2025-03-20")) == [
        ("red", "over_cap", "associate_development", ""),
        ("red", "over_budget", "associate_development", ""),
        ("amber", "forecast_overspend", "associate_development", ""),
    ]


def test_a_third_conference_and_a_virtual_business_s_associate_travel_are_amber() -> None:
    ledger = project()
    # Three conferences against the guide's two: travel 300 + 21 x 2,500/24 (2,187.50) =
    # 2,487.50 is neither over 2,500 nor 10% under it.
    for n in range(3):
        ledger.add(
            claim(
                f"conf{n}",
                "100.00",
                category="travel_subsistence",
                date=f"2025-02-0{n + 1}",
                tags=["conference"],
            )
        )
    assert kinds(health(ledger, "2025-03-20")) == [("amber", "sub_limit", "travel_subsistence", "conference")]
    virtual = Ledger(offer(date="2024-12-01", start=START, virtual=True))
    virtual.add(
        claim("trip", "80.00", category="travel_subsistence", date="2025-02-01", tags=["associate_travel"])
    )
    found = health(virtual, "2025-03-20")
    assert kinds(found) == [("amber", "ineligible_claim", "travel_subsistence", "trip")]
    assert found.reasons[0].rule == "R-14"


def test_an_invoice_due_then_overdue() -> None:
    ledger = project()
    ledger.add(claim("ae", "12500.00", category="associate_employment", date="2025-03-31"))
    ledger.submit("2025Q1", "2025-04-02")
    # The business's 33% of 12,500 is 4,125.00, invoiced on 3 April and due 30 days on, 3 May: due
    # (amber) from 23 April, overdue (red) from 4 May.
    due = ledger.invoice("2025Q1", "INV-1", "2025-04-03")
    assert due.amount == D("4125.00")
    assert kinds(health(ledger, "2025-04-22")) == []
    assert kinds(health(ledger, "2025-04-23")) == [("amber", "invoice_due", "", "INV-1")]
    assert kinds(health(ledger, "2025-05-03")) == [("amber", "invoice_due", "", "INV-1")]
    late = health(ledger, "2025-05-04")
    assert kinds(late) == [("red", "invoice_overdue", "", "INV-1")]
    assert late.reasons[0].figures["outstanding"] == "4125.00"

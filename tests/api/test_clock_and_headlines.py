"""Issue 10, items 6 and 7: time is judged as of today (or `?today=`), and each headline figure has
one definition, the same on the API and the dashboard. Figures worked out by hand (R-41).

The project is tests.ledger.factory's offer: fec SME, 24 months from 2024-10-01 (ends 2026-09-30),
budget 162,500 in all (100,000 + 4,000 + 2,500 + 4,000 + 16,000 + 0 + 36,000).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.service.projections import comparable
from tests.api.conftest import bearer, money
from tests.api.test_dashboard import figures, sign_in
from tests.ledger.factory import PROJECT, claim, offer
from tests.reconciliation.test_overheads_and_claims import NON_FEC_BUDGET

D = Decimal


def record(app: App, items: list[dict[str, Any]]) -> None:
    assert all(r.status == "recorded" for r in app.ledger.append(items))


def non_fec_offer() -> dict[str, Any]:
    """Non-fec SME (60%), 12 months from 2025-01-01; overheads budget 16,560 (R-19, R-20)."""
    return offer(
        start="2025-01-01", date="2024-12-01", months=12, methodology="non_fec", budget=NON_FEC_BUDGET
    )


def history() -> list[dict[str, Any]]:
    return [
        offer(),
        claim("laptop", "600.00", category="consumables", date="2024-12-10"),
        claim("rail", "300.00", category="travel_subsistence", date="2025-01-15"),
        claim("salary", "4000.00", category="associate_employment", date="2025-01-31"),
    ]


def summary(client: TestClient, token: str, day: str) -> dict[str, Any]:
    response = client.get(f"/projects/{PROJECT}/summary?today={day}", headers=bearer(token))
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def test_the_period_and_forecasts_are_judged_as_of_the_day_asked(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    record(app, history())
    during = summary(client, tokens["viewer"], "2025-01-31")
    assert (during["month"], during["period"]["phase"], during["period"]["describe"]) == (
        4,
        "running",
        "month 4 of 24",
    )
    lines = {line["category"]: line for line in during["lines"]}
    # month 4: spend to date + the rest of each line's even plan, 20/24 of its budget:
    # consumables 600 + (4,000 - 666.67) = 3,933.33; travel 300 + (2,500 - 416.67) = 2,383.33;
    # employment 4,000 + (100,000 - 16,666.67) = 87,333.33
    assert (lines["consumables"]["forecast"], lines["travel_subsistence"]["forecast"]) == (
        "3933.33",
        "2383.33",
    )
    assert lines["associate_employment"]["forecast"] == "87333.33"
    # the lines with no spend forecast the rest of their plan: development 4,000 - 666.67 =
    # 3,333.33, supervisor 16,000 - 2,666.67 = 13,333.33, estates 0, support 36,000 - 6,000 =
    # 30,000; in all 3,933.33 + 2,383.33 + 87,333.33 + 3,333.33 + 13,333.33 + 30,000 = 140,316.65
    assert lines["associate_development"]["forecast"] == "3333.33"
    assert during["spend"]["forecast"] == "140316.65" and during["spend"]["forecast_excess"] == "0.00"

    # Long after the end date (2026-09-30) and not closed: month 24 of 24, the forecast is the spend.
    after = summary(client, tokens["viewer"], "2026-12-01")
    assert after["period"]["phase"] == "ended" and after["period"]["ended_not_closed"] is True
    assert after["period"]["describe"] == "ended 2026-09-30, not closed (62 days ago)"
    assert (after["month"], after["period"]["elapsed"]) == (24, "1.0000")
    assert after["spend"]["forecast"] == after["spend"]["spent"] == "4900.00"
    # The laptop (600 in month 3 against 500 planned: 600 + 3,500 = 4,100 > 4,000) raised the
    # consumables forecast; month 4 holds it in its band (3,933.33 > 95% of 4,000 = 3,800).
    # Issue 15: the ledger's clock (2025-01-31) has passed 2024Q4's end, by which consumables had
    # 600.00 spent against 500.00 planned (ahead_of_profile), travel and employment nothing against
    # 312.50 and 12,500.00 (behind_profile); employment's forecast, 87,333.33, is 12,666.67 short of
    # 100,000, more than 10% (forecast_underspend); travel's 2,383.33 is only 116.67 short. (And each
    # quarter not claimed is claim_overdue: R-45, tests/reconciliation/test_grant_claims.py.)
    assert sorted(
        (a["kind"], a["category"]) for a in after["open_alerts"] if a["kind"] != "claim_overdue"
    ) == [
        ("ahead_of_profile", "consumables"),
        ("behind_profile", "associate_employment"),
        ("behind_profile", "travel_subsistence"),
        ("ended_not_closed", None),
        ("forecast_overspend", "consumables"),
        ("forecast_underspend", "associate_employment"),
    ]
    assert not [a for a in during["open_alerts"] if a["kind"] == "ended_not_closed"]


def test_alerts_and_the_project_list_flag_a_project_past_its_end(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    record(app, history())
    headers = bearer(tokens["viewer"])
    late = client.get("/alerts?today=2026-12-01", headers=headers).json()
    [finding] = [a for a in late if a["kind"] == "ended_not_closed"]
    assert (finding["id"], finding["project"], finding["detail"]["days_since_end"]) == (None, PROJECT, 62)
    assert "ended on 30 September 2026" in finding["message"]

    def clock(today: str, claims: bool) -> list[dict[str, Any]]:
        """The calendar's findings as of `today`: the claims' (R-45) or the others."""
        found = client.get(f"/alerts?today={today}", headers=headers).json()
        return [a for a in found if a["id"] is None and a["kind"].startswith("claim_") == claims]

    assert not clock("2026-09-30", claims=False)
    [row] = client.get("/projects?today=2026-12-01", headers=headers).json()
    assert row["ended_not_closed"] is True and row["period"]["phase"] == "ended"
    [early] = client.get("/projects?today=2025-01-31", headers=headers).json()
    late_claims, early_claims = len(clock("2026-12-01", claims=True)), len(clock("2025-01-31", claims=True))
    assert early["ended_not_closed"] is False
    assert row["open_alerts"] - late_claims == early["open_alerts"] - early_claims + 1
    # The day asked for changes what readers judge, never what the ledger's projections hold.
    stored = comparable(app.projector.alerts(include_resolved=True))
    app.projector.replay()
    assert comparable(app.projector.alerts(include_resolved=True)) == stored


def test_no_spend_for_three_months(app: App, client: TestClient, tokens: dict[str, str]) -> None:
    record(app, history())  # the last spend is dated 2025-01-31: three months on is 2025-04-30
    assert summary(client, tokens["viewer"], "2025-04-29")["period"]["no_spend_for_three_months"] is False
    assert summary(client, tokens["viewer"], "2025-04-30")["period"]["no_spend_for_three_months"] is True


def test_the_headline_is_the_tables_total_and_the_forecast_says_how_far_over(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    record(
        app,
        [
            offer(),
            claim("salary", "20000.00", category="associate_employment", date="2024-12-15"),
            claim("kit", "2000.00", category="consumables", date="2024-12-16"),
        ],
    )
    # Month 3: each line's spend + the rest of its even plan (21/24 of its budget): employment
    # 20,000 + 87,500 = 107,500; consumables 2,000 + 3,500 = 5,500; development 3,500; travel
    # 2,187.50; supervisor 14,000; estates 0; support 31,500: 164,187.50 against 162,500.
    document = summary(client, tokens["viewer"], "2024-12-31")
    spend = document["spend"]
    assert (spend["budget"], spend["spent"], spend["forecast"], spend["forecast_excess"]) == (
        "162500.00",
        "22000.00",
        "164187.50",
        "1687.50",
    )
    assert (spend["budget"], spend["spent"]) == (document["totals"]["budget"], document["totals"]["spent"])
    assert spend["forecast"] == document["totals"]["forecast"]
    sign_in(client, tokens["viewer"])
    page = client.get(f"/dashboard/projects/{PROJECT}?today=2024-12-31")
    shown = figures(page.text)
    assert money(shown[("", "spend.forecast")]) == D("164187.50")
    assert shown[("", "spend.forecast_excess")].startswith("£1,687.50 over the budget")
    assert money(shown[("", "spend.budget")]) == money(shown[("", "totals.budget")]) == D("162500.00")
    assert shown[("", "period")] == "month 3 of 24"


def test_a_non_fec_projects_headline_counts_the_derived_overheads(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    record(
        app,
        [
            non_fec_offer(),
            claim("salary", "11250.25", category="associate_employment", date="2025-03-31"),
        ],
    )
    document = summary(client, tokens["viewer"], "2025-03-31")
    # Budget: 65,251 of claimed lines + 16,560 overheads (the costing's whole pounds) = 81,811.
    # Spent: 11,250.25 + overheads earned 46% x 6,750.15 = 3,105.07 -> 14,355.32.
    assert (document["spend"]["budget"], document["totals"]["budget"]) == ("81811.00", "81811.00")
    assert (document["spend"]["spent"], document["totals"]["spent"]) == ("14355.32", "14355.32")
    assert document["spend"]["includes_derived"] is True
    assert document["spend"]["series"][-1]["cumulative"] == "14355.32"
    overheads = {line["category"]: line for line in document["lines"]}["knowledge_base_overheads"]
    assert (overheads["ineligible"], overheads["budget"]) == ("0.00", "16560.00")


def test_the_derived_overheads_forecast_stops_at_its_budget(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    record(
        app,
        [
            non_fec_offer(),
            claim("salary", "11250.25", category="associate_employment", date="2025-03-31"),
            claim("support", "3750.00", category="academic_secretarial_support", date="2025-03-31"),
        ],
    )
    lines = {line["category"]: line for line in summary(client, tokens["viewer"], "2025-03-31")["lines"]}
    # Earned: 46% x (6,750.15 + 2,250.00) = 4,140.069 -> 4,140.07; at month 3 of 12 the even plan
    # has 16,560 x 9/12 = 12,420 to come: 16,560.07, but the line can never earn more than its
    # 16,560 budget.
    assert lines["knowledge_base_overheads"]["spent"] == "4140.07"
    assert lines["knowledge_base_overheads"]["forecast"] == "16560.00"
    assert lines["knowledge_base_overheads"]["forecast_over_budget"] is False

"""Spend profiles (R-43) through the doors, on each backend: a profile recorded by `POST /events`
(lmc; refused naming the field, and for a role that may not record it), read back by
`GET /projects/{project}/profile` and its CLI twin `ktpledger profile`, every figure worked by hand.

The project is tests.ledger.factory's offer: 24 months from 2024-10-01 (the quarters 2024Q4 ..
2026Q3), consumables 4,000, travel_subsistence 2,500 (no profile: even, 312.50 a quarter),
associate_estates 0. Judged on 2025-04-15: month 7, inside 2025Q2.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from tests.api.conftest import bearer
from tests.ledger.factory import PROJECT, claim, event, offer, reversal

URL = f"/projects/{PROJECT}/profile"
QUARTERS = {"2024Q4": "1500.00", "2026Q3": "400.00"} | dict.fromkeys(
    ("2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"), "350.00"
)


def profile(lines: dict[str, Any], key: str = "profile-1") -> dict[str, Any]:
    return event("SpendProfileSet", key, "2024-10-01", {"lines": lines, "minute": "LMC 1, item 2"})


def line_of(body: dict[str, Any], category: str) -> dict[str, Any]:
    (found,) = [line for line in body["lines"] if line["category"] == category]
    return found


def figures(quarter: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        quarter[name]
        for name in ("quarter", "planned", "spent", "cumulative_planned", "cumulative_spent", "status")
    )


def test_a_profile_recorded_by_the_lmc_is_read_back_by_quarter(
    app: App, client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    assert [r.status for r in app.ledger.append([offer()])] == ["recorded"]
    sent = client.post(
        "/events",
        json=profile({"consumables": {"rule": "amounts", "quarters": QUARTERS}}),
        headers=bearer(tokens["lmc"]),
    )
    assert sent.status_code == 200 and sent.json()[0]["status"] == "recorded", sent.text
    results = app.ledger.append(
        [
            claim("laptop", "1450.00", date="2024-11-10", tags=["computer"]),
            claim("rail", "50.00", category="travel_subsistence", date="2024-12-01"),
            claim("kit", "900.00", date="2025-02-10"),
            reversal("kit-refund", "kit", "100.00", date="2025-03-01"),
        ]
    )
    assert [r.status for r in results] == ["recorded"] * 4
    body = client.get(URL, params={"today": "2025-04-15"}, headers=bearer(tokens["viewer"])).json()
    assert (body["as_of"], body["start"], body["end"]) == ("2025-04-15", "2024-10-01", "2026-09-30")
    consumables = line_of(body, "consumables")
    assert (consumables["rule"], consumables["profiled_on"]) == ("amounts", "2024-10-01")
    # 2024Q4: 1,450 of 1,500 (within 10%); 2025Q1: 900 - 100 = 800, 2,250 of 1,850 (above 2,035)
    assert [figures(q) for q in consumables["quarters"][:4]] == [
        ("2024Q4", "1500.00", "1450.00", "1500.00", "1450.00", "on_profile"),
        ("2025Q1", "350.00", "800.00", "1850.00", "2250.00", "ahead"),
        ("2025Q2", "350.00", "0.00", "2200.00", "2250.00", "in_progress"),
        ("2025Q3", "350.00", "0.00", "2550.00", "2250.00", "to_come"),
    ]
    assert consumables["quarters"][-1]["cumulative_planned"] == "4000.00"
    # April 2025 is month 7: 2025Q2's 350 is due from its first month, so 1,500 + 350 + 350 = 2,200
    # planned by now; the forecast is 2,250 + (4,000 - 2,200) = 4,050.00
    assert (consumables["spent"], consumables["planned_to_date"], consumables["forecast"]) == (
        "2250.00",
        "2200.00",
        "4050.00",
    )
    travel = line_of(body, "travel_subsistence")
    assert (travel["rule"], travel["profiled_on"]) == ("even", None)
    # 312.50 a quarter: 50 of 312.50, then 50 of 625: behind; 2,500 x 7/24 = 729.17 planned by
    # now, forecast 50 + 1,770.83 = 1,820.83
    assert [q["status"] for q in travel["quarters"][:2]] == ["behind", "behind"]
    assert (travel["planned_to_date"], travel["forecast"]) == ("729.17", "1820.83")
    estates = line_of(body, "associate_estates")  # budget 0, nothing spent: says nothing
    assert {q["status"] for q in estates["quarters"] if q["quarter"] < "2025Q2"} == {"not_judged"}
    assert "knowledge_base_overheads" not in {line["category"] for line in body["lines"]}
    # the command line's JSON is the route's body
    result = CliRunner().invoke(
        cli, ["--db", database_url, "profile", PROJECT, "--today", "2025-04-15", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == body
    table = CliRunner().invoke(cli, ["--db", database_url, "profile", PROJECT, "--today", "2025-04-15"])
    assert "profile amounts (since 2024-10-01)" in table.stdout and "2025Q1" in table.stdout


def test_a_bad_profile_is_refused_at_the_door_and_records_nothing(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    app.ledger.append([offer()])
    short = {"2024Q4": "1500.00"}
    sent = client.post(
        "/events",
        json=profile({"consumables": {"rule": "amounts", "quarters": short}}),
        headers=bearer(tokens["lmc"]),
    )
    assert sent.status_code == 422  # every event of the body refused
    (result,) = sent.json()
    assert result["status"] == "rejected" and result["error"]["rule"] == "R-43"
    assert "sum to 1500.00, but the line's budget is 4000.00" in result["error"]["message"]
    refused = client.post(
        "/events", json=profile({"consumables": {"rule": "even"}}), headers=bearer(tokens["finance"])
    )
    assert refused.status_code == 403 and refused.json()["error"]["rule"] == "access"
    assert len(app.ledger.stream(PROJECT)) == 1


def test_the_route_refuses_an_unknown_project_and_a_bad_day(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    app.ledger.append([offer()])
    missing = client.get("/projects/KTP-0043/profile", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404 and missing.json()["error"]["rule"] == "R-31"
    bad = client.get(URL, params={"today": "2025-13-01"}, headers=bearer(tokens["admin"]))
    assert bad.status_code == 422 and bad.json()["error"]["rule"] == "R-40"
    early = client.get(URL, params={"today": "2024-09-01"}, headers=bearer(tokens["admin"]))
    assert early.status_code == 404 and early.json()["error"]["rule"] == "R-31"  # no offer by then

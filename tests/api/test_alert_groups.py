"""Alerts across projects (issue 16, item 4), on both databases: `GET /alerts?kind=`, `GET
/alerts/groups` and `ktpledger alerts --group`, worked by hand.

Five projects from the factory's offer (fec, 24 months from 2025-01-01), judged on 25 April 2025:
each has 2025Q1's claim due on 30 April (within its 10 days: `claim_due`, amber, a calendar
finding). KTP-E also spent 4,100 on consumables on 1 February, 100 over the 4,000 budget: the stored
alerts `over_budget` (red) and the 80% and 90% thresholds (info). The stored alerts are judged at
the ledger's clock (its latest event, 1 February, month 2): no forecast is judged before month 3
and no quarter had ended, so there is no `forecast_overspend` or `ahead_of_profile` alert (the
project's health, judged as of the reader's day, has them: tests/api/test_portfolio.py).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.service.access import create_token
from tests.api.conftest import bearer
from tests.ledger.factory import claim, offer

TODAY = "2025-04-25"
NAMES = ("KTP-A", "KTP-B", "KTP-C", "KTP-D", "KTP-E")


@pytest.fixture
def five(app: App) -> None:
    events = [offer(name, date="2024-12-01", start="2025-01-01") for name in NAMES]
    events.append(claim("cons", "4100.00", date="2025-02-01", project="KTP-E"))
    results = app.ledger.append(events)
    assert all(result.status == "recorded" for result in results)


@pytest.mark.usefixtures("five")
def test_twenty_alerts_of_one_kind_read_as_one_line(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(f"/alerts/groups?today={TODAY}", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["as_of"], body["count"], body["projects"]) == (TODAY, 8, 5)
    summary = [(g["severity"], g["kind"], g["count"]) for g in body["groups"]]
    # Red first; then amber; then the thresholds.
    assert summary == [
        ("red", "over_budget", 1),
        ("amber", "claim_due", 5),
        ("info", "threshold", 2),
    ]
    due = body["groups"][1]
    assert due["summary"] == "Claim due: 5 alerts in 5 projects (KTP-A, KTP-B, KTP-C and 2 more)."
    assert due["projects"] == [{"project": name, "count": 1} for name in NAMES]
    assert due["categories"] == [{"category": None, "count": 1 * 5}]
    assert [alert["subject"] for alert in due["alerts"]] == ["2025Q1"] * 5
    over = body["groups"][0]
    assert over["summary"] == "Over budget: 1 alert in 1 project (KTP-E), on Equipment & consumables (1)."
    assert over["oldest_raised_on"] == "2025-02-01"
    thresholds = body["groups"][2]
    assert thresholds["summary"] == (
        "Threshold: 2 alerts in 1 project (KTP-E), on Equipment & consumables (2)."
    )


@pytest.mark.usefixtures("five")
def test_filtered_by_kind_project_and_grant(client: TestClient, tokens: dict[str, str], app: App) -> None:
    admin = bearer(tokens["admin"])
    listed = client.get(f"/alerts?today={TODAY}&kind=claim_due", headers=admin).json()
    assert sorted(alert["project"] for alert in listed) == list(NAMES)
    both = client.get(f"/alerts?today={TODAY}&kind=claim_due,over_budget", headers=admin).json()
    assert len(both) == 6
    grouped = client.get(f"/alerts/groups?today={TODAY}&project=KTP-E&kind=threshold", headers=admin).json()
    assert [(g["kind"], g["count"]) for g in grouped["groups"]] == [("threshold", 2)]
    viewer = create_token(app.database, "viewer", ["KTP-B"], "adviser")
    mine = client.get(f"/alerts/groups?today={TODAY}", headers=bearer(viewer)).json()
    assert [(g["kind"], g["projects"]) for g in mine["groups"]] == [
        ("claim_due", [{"project": "KTP-B", "count": 1}])
    ]
    refused = client.get("/alerts/groups?kind=overspent", headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["rule"] == "R-41" and "kind" in refused.json()["error"]["message"]
    assert client.get("/alerts?kind=overspent", headers=admin).status_code == 422


@pytest.mark.usefixtures("five")
def test_the_command_gives_the_same_groups(
    client: TestClient, tokens: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    runner = CliRunner()
    args = ["--db", database_url, "alerts", "--today", TODAY, "--group"]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    api = client.get(f"/alerts/groups?today={TODAY}", headers=bearer(tokens["admin"])).json()
    assert json.loads(result.stdout) == api
    result = runner.invoke(cli, [*args, "--kind", "claim_due"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "5 alerts in 5 projects, judged as of 2025-04-25, by kind:",
        "[amber] Claim due: 5 alerts in 5 projects (KTP-A, KTP-B, KTP-C and 2 more).",
    ]
    result = runner.invoke(cli, ["--db", database_url, "alerts", "--kind", "nope"])
    assert result.exit_code != 0 and "R-41" in result.stderr and "kind" in result.stderr

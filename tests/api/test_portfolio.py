"""The KTP office's portfolio (R-47) through `GET /portfolio` and `ktpledger portfolio`, on both
databases: three projects judged as of 25 April 2025, worked by hand.

The factory's offer (fec, 24 months, lines 162,500.00: associate 100,000, development 4,000,
travel 2,500, consumables 4,000, supervisor 16,000, estates 0, additional support 36,000), no
recorded profile (each line even by month, R-43):

- KTP-RED (from 2025-01-01, month 4 on 25 April): consumables 4,100 is 100 over its budget (red);
  its forecast 4,100 + 20 months x 4,000/24 (3,333.33) = 7,433.33 is over 4,000 (amber); 2025Q1's
  claim is due on 30 April, within 10 days (amber); at 2025Q1's end 4,100 against 500 planned is
  ahead of the profile (amber). The associate's 12,500 is on its plan. Pace: 16,600 / 162,500 =
  10.2% against 4/24 = 16.7%, within 15 points.
- KTP-AMBER (from 2025-01-01): only the associate's 12,500 on plan: 2025Q1's claim due (amber).
- KTP-GREEN (a large business, from 2025-04-01, month 1): 4,000 on the associate; nothing is
  judged in the first months and no quarter of its period has ended: green.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.adapters.projection_sql import projection_store
from ktpledger.adapters.projection_store import ProjectionStoreError
from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from ktpledger.service.access import COMMAND_LINE, create_token
from ktpledger.service.portfolio import (
    RowCache,
    document_text,
    judge_the_day,
    portfolio,
    portfolio_quarters,
    project_row,
    stored_for,
)
from tests.api.conftest import bearer
from tests.ledger.factory import claim, offer

TODAY = "2025-04-25"


@pytest.fixture
def three(app: App) -> None:
    events = [
        offer("KTP-RED", date="2024-12-01", start="2025-01-01"),
        claim("cons", "4100.00", date="2025-02-01", project="KTP-RED"),
        claim("ae", "12500.00", category="associate_employment", date="2025-03-31", project="KTP-RED"),
        offer("KTP-AMBER", date="2024-12-01", start="2025-01-01", knowledge_base="Northshire College"),
        claim("ae", "12500.00", category="associate_employment", date="2025-03-31", project="KTP-AMBER"),
        offer("KTP-GREEN", date="2025-03-01", start="2025-04-01", business_type="large"),
        claim("ae", "4000.00", category="associate_employment", date="2025-04-10", project="KTP-GREEN"),
    ]
    results = app.ledger.append(events)
    assert all(result.status == "recorded" for result in results), [r.to_json() for r in results]


def read(client: TestClient, token: str, query: str = "") -> Any:
    response = client.get(f"/portfolio?today={TODAY}{query}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("three")
def test_every_project_with_its_status_reasons_and_totals(client: TestClient, tokens: dict[str, str]) -> None:
    body = read(client, tokens["admin"])
    assert body["as_of"] == TODAY
    rows = {row["project"]: row for row in body["projects"]}
    assert [row["project"] for row in body["projects"]] == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]
    red = rows["KTP-RED"]
    assert red["status"] == "red"
    assert [(r["severity"], r["kind"], r["category"], r["subject"]) for r in red["reasons"]] == [
        ("red", "over_budget", "consumables", None),
        ("amber", "forecast_overspend", "consumables", None),
        ("amber", "claim_due", None, "2025Q1"),
        ("amber", "ahead_of_profile", "consumables", None),
    ]
    assert red["top_reason"].startswith("Equipment & consumables: spend £4,100.00 is £100.00 over the budget")
    assert (red["budget"], red["spent"], red["spent_share"], red["elapsed"]) == (
        "162500.00",
        "16600.00",
        "0.1022",  # 16,600 / 162,500
        "0.1667",  # 4 / 24
    )
    # Every line's spend plus the rest of its plan after April: 7,433.33 + 95,833.33 (associate:
    # 12,500 + 20 x 100,000/24) + 3,333.33 + 2,083.33 + 13,333.33 + 0 + 30,000.00.
    assert red["forecast"] == "152016.65"
    assert red["next_deadline"] == {"due": "2025-04-30", "kind": "claim", "subject": "2025Q1"}
    assert (red["grant_claimed"], red["grant_paid"]) == ("0.00", "0.00")
    amber = rows["KTP-AMBER"]
    assert (amber["status"], [r["kind"] for r in amber["reasons"]]) == ("amber", ["claim_due"])
    green = rows["KTP-GREEN"]
    assert (green["status"], green["reasons"], green["top_reason"]) == ("green", [], None)
    assert green["next_deadline"] == {"due": "2025-07-30", "kind": "claim", "subject": "2025Q2"}
    assert body["totals"] == {
        "projects": 3,
        "red": 1,
        "amber": 1,
        "green": 1,
        "budget": "487500.00",
        "spent": "33100.00",  # 16,600 + 12,500 + 4,000
        # 152,016.65 + 147,916.65 (KTP-AMBER: 95,833.33 + the same rests as KTP-RED's, consumables
        # 3,333.33) + 159,729.15 (KTP-GREEN in month 1: 4,000 + 23/24 of each line's budget)
        "forecast": "459662.45",
        "grant_claimed": "0.00",
        "grant_paid": "0.00",
    }


@pytest.mark.usefixtures("three")
def test_filters_and_who_may_read(client: TestClient, tokens: dict[str, str], app: App) -> None:
    admin = tokens["admin"]
    names = lambda body: [row["project"] for row in body["projects"]]  # noqa: E731 - a test's shorthand
    assert names(read(client, admin, "&status=red&status=green")) == ["KTP-RED", "KTP-GREEN"]
    assert names(read(client, admin, "&status=amber,green")) == ["KTP-AMBER", "KTP-GREEN"]
    assert names(read(client, admin, "&knowledge_base=northshire%20college")) == ["KTP-AMBER"]
    assert names(read(client, admin, "&business_type=large")) == ["KTP-GREEN"]
    assert names(read(client, admin, "&methodology=non_fec")) == []
    # Ending within 20 months of 25 April 2025 (by 25 December 2026): none (KTP-RED and KTP-AMBER
    # end on 31 December 2026, KTP-GREEN on 31 March 2027); within 22 (by 25 February 2027) the
    # first two; within 24 (by 25 April 2027) all three.
    assert names(read(client, admin, "&ending_within=20")) == []
    assert names(read(client, admin, "&ending_within=22")) == ["KTP-RED", "KTP-AMBER"]
    assert names(read(client, admin, "&ending_within=24")) == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]
    filtered = read(client, admin, "&status=red")
    assert filtered["totals"]["projects"] == 1 and filtered["totals"]["spent"] == "16600.00"
    # A viewer granted one project sees that one only.
    viewer = create_token(app.database, "viewer", ["KTP-AMBER"], "adviser")
    assert names(read(client, viewer)) == ["KTP-AMBER"]
    assert client.get("/portfolio").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=purple", "status"),
        ("business_type=charity", "business_type"),
        ("methodology=full", "methodology"),
        ("ending_within=-1", "ending_within"),
        ("ending_within=six", "ending_within"),
        ("format=pdf", "format"),
        ("today=2025-02-30", "today"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(
    client: TestClient, tokens: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/portfolio?{query}", headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    # The documented error shape: the rule, and a message naming the parameter and what it takes.
    assert field in error["message"], error
    assert error["rule"] == ("R-40" if field == "today" else "R-47"), error


@pytest.mark.usefixtures("three")
def test_csv_and_xlsx_hold_the_same_rows(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(f"/portfolio?today={TODAY}&format=csv", headers=bearer(tokens["admin"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="ktp-portfolio-2025-04-25.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [(r["project"], r["status"], r["spent"]) for r in rows] == [
        ("KTP-RED", "red", "16600.00"),
        ("KTP-AMBER", "amber", "12500.00"),
        ("KTP-GREEN", "green", "4000.00"),
        ("total", "1 red, 1 amber, 1 green", "33100.00"),
    ]
    assert rows[0]["reasons"] == "over_budget; forecast_overspend; claim_due; ahead_of_profile"
    response = client.get(f"/portfolio?today={TODAY}&format=xlsx", headers=bearer(tokens["admin"]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = table[0]
    spent = header.index("spent")
    assert [(row[0], row[spent]) for row in table[1:]] == [
        ("KTP-RED", 16600),
        ("KTP-AMBER", 12500),
        ("KTP-GREEN", 4000),
        ("total", 33100),
    ]
    again = client.get(f"/portfolio?today={TODAY}&format=xlsx", headers=bearer(tokens["admin"]))
    assert again.content == response.content  # deterministic


@pytest.mark.usefixtures("three")
def test_the_command_gives_the_api_document(
    client: TestClient, tokens: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", database_url, "portfolio", "--today", TODAY, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == read(client, tokens["admin"])
    result = runner.invoke(cli, ["--db", database_url, "portfolio", "--today", TODAY, "--status", "red"])
    assert result.exit_code == 0, result.stderr
    assert "1 project as of 2025-04-25: 1 red, 0 amber, 0 green" in result.stdout
    assert (
        "KTP-RED (red): Equipment & consumables: spend £4,100.00 is £100.00 over the budget" in result.stdout
    )
    result = runner.invoke(cli, ["--db", database_url, "portfolio", "--status", "purple"])
    assert result.exit_code == 2 and "purple" in result.stderr
    result = runner.invoke(cli, ["--db", database_url, "portfolio", "--ending-within", "-3"])
    assert result.exit_code == 2


@pytest.mark.usefixtures("three")
def test_rows_come_from_the_stored_facts_and_equal_a_fold(app: App) -> None:
    names = ["KTP-AMBER", "KTP-GREEN", "KTP-RED"]
    today = date.fromisoformat(TODAY)
    stored = stored_for(app.database, names, today)
    assert sorted(stored.facts) == names and not stored.rows  # the projector wrote the facts
    made = portfolio(app, COMMAND_LINE, today=today, cache=RowCache())
    assert [row.to_json() for row in made.projects] == [
        project_row(app, row.project, today).to_json() for row in made.projects
    ]
    # Facts behind the ledger's head (a projector not caught up) are not used: the row is folded.
    clear_rows(app)
    with projection_store(app.database).write() as unit:
        [row] = unit.facts.of_projects(["KTP-RED"])
        unit.facts.upsert([{**row, "version": row["version"] - 1}])
        unit.commit()
    assert sorted(stored_for(app.database, names, today).facts) == ["KTP-AMBER", "KTP-GREEN"]
    again = portfolio(app, COMMAND_LINE, today=today, cache=RowCache())
    assert again.to_json() == made.to_json()


def clear_rows(app: App) -> None:
    with projection_store(app.database).write() as unit:
        unit.portfolio_rows.upsert(
            [
                {"project": name, "version": 0, "as_of": date(2000, 1, 1), "row": ""}
                for name in ["KTP-AMBER", "KTP-GREEN", "KTP-RED"]
            ]
        )
        unit.commit()


@pytest.mark.usefixtures("three")
def test_judged_rows_are_stored_for_the_day_and_read_back_the_same(app: App) -> None:
    names = ["KTP-AMBER", "KTP-GREEN", "KTP-RED"]
    today = date.fromisoformat(TODAY)
    judged = portfolio(app, COMMAND_LINE, today=today, cache=RowCache())
    stored = stored_for(app.database, names, today)
    assert sorted(stored.rows) == names and not stored.facts  # written back; no facts read now
    parsed = portfolio(app, COMMAND_LINE, today=today, cache=RowCache())
    assert parsed.to_json() == judged.to_json()
    assert [row.quarters for row in parsed.projects] == [row.quarters for row in judged.projects]
    assert [row.version for row in parsed.projects] == [row.version for row in judged.projects]
    assert [row.health for row in parsed.projects] == [
        row.health for row in judged.projects
    ]  # built when asked
    # The JSON answer takes the stored documents as they are, byte for byte what encoding gives.
    assert all(row.document is not None for row in parsed.projects)
    assert parsed.json_text() == judged.json_text() == document_text(judged.to_json())
    assert json.loads(parsed.json_text()) == judged.to_json()
    assert portfolio_quarters(parsed) == portfolio_quarters(judged)
    assert [(row.budget, row.forecast) for row in parsed.projects] == [
        (row.budget, row.forecast) for row in judged.projects
    ]
    # Another day is judged again, never read from this day's rows.
    tomorrow = today + timedelta(days=1)
    assert not stored_for(app.database, names, tomorrow).rows
    assert judge_the_day(app, tomorrow, RowCache()) == 3
    assert judge_the_day(app, tomorrow, RowCache()) == 0  # the day's rows are all there
    assert sorted(stored_for(app.database, names, tomorrow).rows) == names


@pytest.mark.usefixtures("three")
def test_a_stored_row_is_read_only_for_its_version_and_day(app: App) -> None:
    today = date.fromisoformat(TODAY)
    assert judge_the_day(app, today, RowCache()) == 3
    with projection_store(app.database).write() as unit:
        [row] = unit.portfolio_rows.of_projects(["KTP-GREEN"], today)
        unit.portfolio_rows.upsert([{**row, "row": row["row"].replace('"title":"', '"title":"Stored ')}])
        unit.commit()
    shown = {row.project: row for row in portfolio(app, COMMAND_LINE, today=today, cache=RowCache()).projects}
    assert shown["KTP-GREEN"].title.startswith("Stored ")  # the stored row is what is read
    # A new event makes the stored row another version's: the project is judged again and stored.
    result = app.ledger.append(
        [claim("ae2", "1000.00", category="associate_employment", date="2025-04-20", project="KTP-GREEN")]
    )
    assert result[0].status == "recorded"
    app.projector.catch_up("KTP-GREEN")
    shown = {row.project: row for row in portfolio(app, COMMAND_LINE, today=today, cache=RowCache()).projects}
    assert not shown["KTP-GREEN"].title.startswith("Stored ")
    assert shown["KTP-GREEN"].spent == Decimal("5000.00")
    assert shown["KTP-GREEN"].to_json() == project_row(app, "KTP-GREEN", today).to_json()
    [row] = stored_for(app.database, ["KTP-GREEN"], today).rows.values()
    assert '"spent":"5000.00"' in row


@pytest.mark.usefixtures("three")
def test_a_stored_row_that_cannot_be_read_is_judged_again(app: App) -> None:
    today = date.fromisoformat(TODAY)
    expected = portfolio(app, COMMAND_LINE, today=today, cache=RowCache()).to_json()
    with projection_store(app.database).write() as unit:
        rows = unit.portfolio_rows.of_projects(["KTP-RED", "KTP-AMBER"], today)
        broken = ["{not json", '{"format": 99}']
        unit.portfolio_rows.upsert([{**row, "row": text} for row, text in zip(rows, broken, strict=True)])
        unit.commit()
    assert portfolio(app, COMMAND_LINE, today=today, cache=RowCache()).to_json() == expected
    assert all(
        text.startswith('{"format":2') for text in stored_for(app.database, ["KTP-RED"], today).rows.values()
    )


@pytest.mark.usefixtures("three")
def test_a_store_that_refuses_the_rows_still_answers(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ktpledger.service.portfolio as module

    real = module.projection_store

    class ReadOnly:
        def __init__(self, database: Any) -> None:
            self._store = real(database)

        def read(self) -> Any:
            return self._store.read()

        def write(self, **_: Any) -> Any:
            raise ProjectionStoreError("the projection store failed: read-only replica")

    today = date.fromisoformat(TODAY)
    monkeypatch.setattr(module, "projection_store", ReadOnly)
    made = portfolio(app, COMMAND_LINE, today=today, cache=RowCache())
    assert [row.status.value for row in made.projects] == ["red", "amber", "green"]
    assert "not stored" in caplog.text and "read-only replica" in caplog.text
    monkeypatch.setattr(module, "projection_store", real)
    assert not stored_for(app.database, ["KTP-RED"], today).rows

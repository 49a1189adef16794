"""The drill-down (issue 14, item 4) on each backend, with figures worked by hand in
tests/api/drill_story.py: `GET /projects/{project}/transactions` (JSON and CSV), its CLI twin
`ktpledger transactions`, the dashboard's page and the project page's links to it."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ktpledger.bootstrap import App
from ktpledger.cli import app as cli
from tests.api import demo, drill_story
from tests.api.conftest import bearer, money

PROJECT = drill_story.PROJECT
TRAVEL = drill_story.TRAVEL
URL = f"/projects/{PROJECT}/transactions"
PAGE = f"/dashboard/projects/{PROJECT}/transactions"


@pytest.fixture
def story(app: App) -> App:
    results = app.ledger.append(drill_story.events())
    assert all(result.status == "recorded" for result in results), [r.to_json() for r in results]
    return app


def line_of(body: dict[str, Any], category: str) -> dict[str, Any]:
    (found,) = [line for line in body["lines"] if line["category"] == category]
    return found


def run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def test_each_claim_is_judged_as_worked_by_hand(
    story: App, client: TestClient, tokens: dict[str, str]
) -> None:
    body = client.get(URL, headers=bearer(tokens["viewer"])).json()
    travel = line_of(body, TRAVEL)
    assert (
        travel["budget"],
        travel["spent"],
        travel["eligible"],
        travel["ineligible"],
        travel["remaining"],
    ) == (
        "2500.00",
        "3650.00",
        "2500.00",
        "1150.00",
        "-1150.00",
    )
    rows = {row["key"]: row for row in travel["transactions"]}
    assert list(rows) == ["conf-1", "conf-2", "conf-3", "assoc", "rail", "hotel", "hotel-refund"]
    judged = {
        key: (row["eligibility"], row["eligible"], row["ineligible"], [r["text"] for r in row["reasons"]])
        for key, row in rows.items()
    }
    assert judged == {
        "conf-1": ("eligible", "500.00", "0.00", []),
        "conf-2": ("eligible", "600.00", "0.00", []),
        "conf-3": ("ineligible", "0.00", "700.00", ["third conference (R-13)"]),
        "assoc": ("ineligible", "0.00", "300.00", ["associate travel of a virtual business (R-14)"]),
        "rail": ("eligible", "1300.00", "0.00", []),
        "hotel": ("partly eligible", "100.00", "150.00", ["over budget (R-40)"]),
        "hotel-refund": (None, None, None, []),
    }
    assert [r["rule"] for r in rows["conf-3"]["reasons"]] == ["R-13"]
    assert rows["conf-3"]["tags"] == ["conference"]
    assert (
        rows["hotel-refund"]["kind"],
        rows["hotel-refund"]["amount"],
        rows["hotel-refund"]["reverses"],
    ) == (
        "reversal",
        "-150.00",
        "hotel",
    )
    assert travel["totals"] == {
        "claimed": "3800.00",
        "reversed": "150.00",
        "net": "3650.00",
        "eligible": "2500.00",
        "ineligible": "1150.00",
    }
    consumables = line_of(body, "consumables")
    assert [(m["kind"], m["amount"], m["date"]) for m in consumables["budget_moves"]] == [
        ("offer", "4000.00", "2024-09-02"),
        ("virement", "-500.00", "2025-03-01"),
    ]
    assert "LMC 2, item 3" in consumables["budget_moves"][1]["note"]
    assert consumables["budget"] == "3500.00"
    support = line_of(body, "additional_associate_support")
    assert [m["amount"] for m in support["budget_moves"]] == ["36000.00", "500.00"]


def test_totals_equal_the_allowance_lines(story: App, client: TestClient, tokens: dict[str, str]) -> None:
    """Sum of claims less reversals is each line's spent, the eligible sum its eligible, and the
    figures are those of `/allowances`, line by line."""
    headers = bearer(tokens["finance"])
    body = client.get(URL, headers=headers).json()
    allowances = {
        line["category"]: line
        for line in client.get(f"/projects/{PROJECT}/allowances", headers=headers).json()["lines"]
    }
    assert [line["category"] for line in body["lines"]] == list(allowances)
    for line in body["lines"]:
        expected = allowances[line["category"]]
        for figure in ("budget", "spent", "eligible", "ineligible", "remaining"):
            assert line[figure] == expected[figure], (line["category"], figure)
        claims = sum((Decimal(r["amount"]) for r in line["transactions"]), Decimal(0))
        assert claims == Decimal(line["spent"]) == Decimal(line["totals"]["net"])
        eligible = sum(
            (Decimal(r["eligible"]) for r in line["transactions"] if r["kind"] == "claim"), Decimal(0)
        )
        assert eligible == Decimal(line["eligible"])
        moves = sum((Decimal(m["amount"]) for m in line["budget_moves"]), Decimal(0))
        assert moves == Decimal(line["budget"])


def test_the_demo_agrees_with_its_allowances(
    app: App, recorded: object, client: TestClient, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["admin"])
    for project in (demo.MAIN, demo.SECOND, demo.CLOSED):
        body = client.get(f"/projects/{project}/transactions", headers=headers).json()
        allowances = client.get(f"/projects/{project}/allowances", headers=headers).json()["lines"]
        assert [(line["category"], line["spent"], line["eligible"]) for line in body["lines"]] == [
            (line["category"], line["spent"], line["eligible"]) for line in allowances
        ]
        for line in body["lines"]:
            assert line["totals"]["eligible"] == line["eligible"] or line["limit_kind"] == "derived"


def test_dates_choose_the_rows_listed_not_the_figures(
    story: App, client: TestClient, tokens: dict[str, str]
) -> None:
    body = client.get(
        URL,
        params={"category": TRAVEL, "from": "2025-03-01", "to": "2025-04-30"},
        headers=bearer(tokens["lmc"]),
    ).json()
    assert (body["category"], body["from"], body["to"]) == (TRAVEL, "2025-03-01", "2025-04-30")
    (travel,) = body["lines"]
    assert [row["key"] for row in travel["transactions"]] == ["conf-3", "assoc", "rail", "hotel"]
    assert travel["budget_moves"] == []  # the offer is dated 2024-09-02
    assert travel["eligible"] == "2500.00"  # as the ledger stands
    assert travel["totals"]["net"] == "2700.00"
    assert travel["totals"]["eligible"] == "1400.00"


def test_csv_is_for_excel_and_guarded(story: App, client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(URL, params={"format": "csv", "category": TRAVEL}, headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="{PROJECT}-transactions-{TRAVEL}.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    hotel = next(row for row in rows if row["key"] == "hotel")
    assert hotel["description"].startswith("'=HYPERLINK")
    assert (hotel["eligibility"], hotel["eligible"], hotel["ineligible"]) == (
        "partly eligible",
        "100.00",
        "150.00",
    )
    assert hotel["reasons"] == "over budget (R-40): 150.00"
    refund = next(row for row in rows if row["key"] == "hotel-refund")
    assert (refund["amount"], refund["reverses"]) == ("-150.00", "hotel")  # a number, not guarded
    assert [row["kind"] for row in rows if row["row"] == "budget"] == ["offer"]
    by_accept = client.get(
        URL, params={"category": TRAVEL}, headers={**bearer(tokens["viewer"]), "Accept": "text/csv"}
    )
    assert by_accept.content == response.content


@pytest.mark.parametrize(
    ("query", "status", "rule"),
    [
        ({"category": "nope"}, 422, "R-01"),
        ({"category": "knowledge_base_overheads"}, 422, "R-01"),  # a fec project has no such line
        ({"from": "2025-02-30"}, 422, "R-40"),
        ({"from": "2025-05-01", "to": "2025-04-01"}, 422, "R-40"),
        ({"format": "xlsx"}, 422, "R-40"),
    ],
)
def test_bad_filters_are_refused_naming_the_rule(
    story: App, client: TestClient, tokens: dict[str, str], query: dict[str, str], status: int, rule: str
) -> None:
    response = client.get(URL, params=query, headers=bearer(tokens["viewer"]))
    assert response.status_code == status, response.text
    assert response.json()["error"]["rule"] == rule


def test_unknown_and_forbidden_projects(story: App, client: TestClient, tokens: dict[str, str]) -> None:
    unknown = client.get("/projects/KTP-DRIL/transactions", headers=bearer(tokens["viewer"]))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["rule"] == "R-31"
    assert "KTP-DRILL" in unknown.json()["error"]["message"]
    assert client.get(URL, headers=bearer(tokens["viewer@main"])).status_code == 403
    assert client.get(URL).status_code == 401


def test_cli_json_is_the_api_body(
    story: App, client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    body = client.get(
        URL, params={"category": TRAVEL, "from": "2025-03-01"}, headers=bearer(tokens["admin"])
    ).content
    code, out, _ = run(
        "--db",
        database_url,
        "transactions",
        PROJECT,
        "--category",
        TRAVEL,
        "--from",
        "2025-03-01",
        "--format",
        "json",
    )
    assert code == 0
    assert out == body + b"\n"
    code, out, _ = run("--db", database_url, "transactions", PROJECT, "--category", TRAVEL, "--format", "csv")
    assert code == 0
    assert (
        out
        == client.get(
            URL, params={"category": TRAVEL, "format": "csv"}, headers=bearer(tokens["admin"])
        ).content
    )


def test_cli_table_and_refusals(story: App, database_url: str) -> None:
    code, out, _ = run("--db", database_url, "transactions", PROJECT, "--category", TRAVEL)
    assert code == 0
    text = out.decode()
    assert (
        "Travel & subsistence: budget 2,500.00, spent 3,650.00, eligible 2,500.00, ineligible 1,150.00"
        in text
    )
    assert "third conference (R-13)" in text
    assert "reversal of hotel" in text
    code, _, err = run("--db", database_url, "transactions", PROJECT, "--category", "nope")
    assert code == 1 and "R-01" in err
    code, _, err = run("--db", database_url, "transactions", "KTP-DRIL")
    assert code == 1 and "R-31" in err and "KTP-DRILL" in err


def test_every_figure_of_the_project_page_links_to_its_drill_down(
    story: App, client: TestClient, tokens: dict[str, str]
) -> None:
    page = client.get(f"/dashboard/projects/{PROJECT}", headers=bearer(tokens["lmc"])).text
    row = re.search(rf'<tr data-category="{TRAVEL}".*?</tr>', page, re.DOTALL)
    assert row is not None
    for figure in ("budget", "spent", "eligible", "ineligible", "remaining"):
        cell = re.search(
            rf'data-figure="{figure}"><a class="drill-link" href="([^"]+)">([^<]+)</a>', row.group(0)
        )
        assert cell is not None, figure
        assert cell.group(1) == f"{PAGE}?category={TRAVEL}"
    assert f'data-figure="totals.spent"><a class="drill-link" href="{PAGE}">' in page


def test_the_page_shows_the_claims_and_totals(story: App, client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(PAGE, params={"category": TRAVEL}, headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    page = response.text
    assert "<script>" not in page and " style=" not in page  # the CSP: no inline script or style
    figures = dict(re.findall(r'<dd data-figure="(\w+)"[^>]*>([^<]+)</dd>', page))
    assert {name: money(text) for name, text in figures.items()} == {
        "budget": Decimal("2500.00"),
        "spent": Decimal("3650.00"),
        "eligible": Decimal("2500.00"),
        "ineligible": Decimal("1150.00"),
        "remaining": Decimal("-1150.00"),
    }
    totals = dict(re.findall(r'data-total="(\w+)">([^<]+)<', page))
    assert money(totals["net"]) == Decimal("3650.00")
    assert money(totals["eligible"]) == Decimal("2500.00")
    assert "third conference (R-13)" in page
    assert "associate travel of a virtual business (R-14)" in page
    assert "over budget (R-40)" in page
    assert "reverses claim hotel" in page
    assert f'href="/projects/{PROJECT}/transactions?category={TRAVEL}&amp;format=csv"' in page
    assert '<option value="travel_subsistence" selected>' in page


def test_the_page_refuses_as_the_api_does(story: App, client: TestClient, tokens: dict[str, str]) -> None:
    assert (
        client.get(PAGE, params={"from": "2025-13-01"}, headers=bearer(tokens["viewer"])).status_code == 422
    )
    assert (
        client.get("/dashboard/projects/KTP-DRIL/transactions", headers=bearer(tokens["viewer"])).status_code
        == 404
    )
    assert client.get(PAGE, headers=bearer(tokens["viewer@main"])).status_code == 403
    # The empty fields of the filter form mean no filter.
    whole = client.get(PAGE, params={"category": "", "from": "", "to": ""}, headers=bearer(tokens["viewer"]))
    assert whole.status_code == 200
    assert whole.text.count('class="card drill-line"') == len(
        json.loads(client.get(URL, headers=bearer(tokens["viewer"])).text)["lines"]
    )


def test_each_row_names_who_recorded_it_in_json_csv_and_on_the_page(
    app: App, client: TestClient, tokens: dict[str, str]
) -> None:
    # The offer and the LMC's decision by the library (no recorder: stored as null), the claims
    # and reversals over HTTP by the fixture's finance token, labelled "finance for tests".
    events = drill_story.events()
    decisions = [event for event in events if event["type"] in ("GrantOffered", "LMCDecision")]
    spend = [event for event in events if event not in decisions]
    assert all(result.status == "recorded" for result in app.ledger.append(decisions))
    response = client.post("/events", json=spend, headers=bearer(tokens["finance"]))
    assert response.status_code == 200, response.text
    body = client.get(URL, headers=bearer(tokens["viewer"])).json()
    rows = line_of(body, TRAVEL)["transactions"]
    assert rows and all(
        row["recorded_by"] == {"name": "finance for tests", "role": "finance", "channel": "api"}
        for row in rows
    )
    table = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"{URL}?format=csv", headers=bearer(tokens["viewer"])).text.lstrip("\ufeff")
            )
        )
    )
    spend = [row for row in table if row["row"] == "spend"]
    budget = [row for row in table if row["row"] == "budget"]
    assert spend and all(row["recorded_by"] == "finance for tests (finance, api)" for row in spend)
    assert budget and all(row["recorded_by"] == "" for row in budget)
    client.cookies.set("ktpledger_token", tokens["viewer"])
    page = client.get(f"{PAGE}?category={TRAVEL}").text
    assert page.count("finance for tests (finance, api)") == len(rows)

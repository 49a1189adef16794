"""Every route of the HTTP API, on both backends: the same JSON as the command line's functions."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.domain.costing import CostingRequest, cost_project
from ktpledger.domain.rules import BusinessType, Methodology
from ktpledger.service.alert_reader import read_alerts
from ktpledger.service.statements import claim_pack, reconciliation
from ktpledger.views import costing_json
from tests.api import demo
from tests.api.conftest import DEMO_TODAY, bearer
from tests.ledger.factory import claim, offer

pytestmark = pytest.mark.usefixtures("recorded")


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_and_docs_need_no_token(client: TestClient) -> None:
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/events",
        "/projects",
        "/projects/{project}/events",
        "/projects/{project}/allowances",
        "/alerts",
        "/projects/{project}/reconciliation",
        "/projects/{project}/claim-pack",
        "/costing",
        "/health",
    ):
        assert path in paths, path
    assert "only admin records" in paths["/events"]["post"]["description"].lower()
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI is the app's own copy: the page works with no network.
    assert "/docs/static/swagger-ui-bundle.js" in docs.text and "https://" not in docs.text
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_post_events_records_one_event_or_a_list(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    head = len(app.ledger.stream(demo.MAIN))
    one = claim("api-1", "12.50", project=demo.MAIN, date="2025-06-20")
    response = client.post("/events", json=one, headers=bearer(tokens["finance"]))
    assert response.status_code == 200
    [result] = response.json()
    assert result == {
        "line": 1,
        "key": "api-1",
        "status": "recorded",
        "project": demo.MAIN,
        "version": head + 1,
    }

    again = client.post(
        "/events",
        json=[one, claim("api-2", "7.00", project=demo.MAIN, date="2025-06-21")],
        headers=bearer(tokens["finance"]),
    )
    assert again.status_code == 200
    assert [(r["line"], r["status"], r["version"]) for r in again.json()] == [
        (1, "duplicate", head + 1),
        (2, "recorded", head + 2),
    ]
    assert app.ledger.stream(demo.MAIN)[-1].key == "api-2"


def test_post_events_422_when_any_is_rejected_and_the_rest_recorded(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    body = [
        claim("ok-1", "10.00", project=demo.MAIN, date="2025-06-20"),
        claim("bad-1", "10.001", project=demo.MAIN, date="2025-06-20"),
        claim("late", "10.00", project=demo.MAIN, date="2031-01-01"),
    ]
    response = client.post("/events", json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 422
    results = response.json()
    assert [r["status"] for r in results] == ["recorded", "rejected", "rejected"]
    assert results[1]["error"]["rule"] == "R-22"
    assert results[2]["error"]["rule"] == "R-33"
    assert "version" not in results[1]
    assert [item.key for item in app.ledger.stream(demo.MAIN)][-1] == "ok-1"


def test_post_events_keeps_money_decimal(client: TestClient, tokens: dict[str, str], app: App) -> None:
    # A JSON number is parsed as a decimal, never a float: 0.1 + 0.2 stays 0.30.
    raw = (
        '[{"type": "SpendClaimed", "project": "KTP-0042", "key": "n-1", "date": "2025-06-20",'
        ' "data": {"category": "consumables", "amount": 0.1, "description": "a"}},'
        ' {"type": "SpendClaimed", "project": "KTP-0042", "key": "n-2", "date": "2025-06-20",'
        ' "data": {"category": "consumables", "amount": 0.2, "description": "b"}}]'
    )
    before = spent(client, tokens, "consumables")
    response = client.post(
        "/events", content=raw, headers={**bearer(tokens["finance"]), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert spent(client, tokens, "consumables") == f"{float(before) + 0.3:.2f}"
    assert app.ledger.stream(demo.MAIN)[-1].to_json()["data"]["amount"] == "0.20"


def spent(client: TestClient, tokens: dict[str, str], category: str) -> str:
    lines = client.get(f"/projects/{demo.MAIN}/allowances", headers=bearer(tokens["viewer"])).json()["lines"]
    return next(line["spent"] for line in lines if line["category"] == category)


def test_get_projects_lists_status_end_and_open_alerts(
    client: TestClient, tokens: dict[str, str], app: App
) -> None:
    response = client.get("/projects", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    rows = {row["project"]: row for row in response.json()}
    assert list(rows) == sorted([demo.MAIN, demo.SECOND, demo.CLOSED])
    main = rows[demo.MAIN]
    assert main["title"] == "Machine vision for bakery QA"
    assert main["status"] == "open"
    assert main["end"] == "2026-09-30"
    # the stored alerts and the calendar's findings as of the readers' day (claims not submitted, R-45)
    clock = [a for a in read_alerts(app.database, demo.MAIN, today=DEMO_TODAY) if a["id"] is None]
    assert main["open_alerts"] == len(app.projector.alerts(demo.MAIN)) + len(clock) > 0
    assert rows[demo.CLOSED]["status"] == "closed"
    assert rows[demo.CLOSED]["end"] == "2024-07-31"
    second = [a for a in read_alerts(app.database, demo.SECOND, today=DEMO_TODAY) if a["id"] is None]
    assert {a["kind"] for a in second} <= {"claim_due", "claim_overdue"}  # no claim submitted
    assert rows[demo.SECOND]["open_alerts"] == len(second)  # no stored alert


def test_get_events_is_the_stream(client: TestClient, tokens: dict[str, str], app: App) -> None:
    response = client.get(f"/projects/{demo.MAIN}/events", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    assert response.json() == [item.to_json() for item in app.ledger.stream(demo.MAIN)]
    assert response.json()[0]["type"] == "GrantOffered"


def test_get_allowances_now_and_as_of(client: TestClient, tokens: dict[str, str], app: App) -> None:
    now = client.get(f"/projects/{demo.MAIN}/allowances", headers=bearer(tokens["lmc"]))
    assert now.status_code == 200
    assert now.json() == app.projector.allowances(demo.MAIN).to_json()
    past = client.get(f"/projects/{demo.MAIN}/allowances?as_of=2024-12-31", headers=bearer(tokens["lmc"]))
    assert past.status_code == 200
    assert past.json() == app.projector.allowances(demo.MAIN, as_of=date(2024, 12, 31)).to_json()
    assert past.json()["as_of"] == "2024-12-31"


def test_get_alerts_open_and_all(client: TestClient, tokens: dict[str, str], app: App) -> None:
    headers = bearer(tokens["viewer"])
    day = DEMO_TODAY
    assert client.get("/alerts", headers=headers).json() == read_alerts(app.database, today=day)
    assert client.get(f"/alerts?project={demo.MAIN}", headers=headers).json() == read_alerts(
        app.database, demo.MAIN, today=day
    )
    everything = client.get("/alerts?all=true", headers=headers).json()
    assert everything == read_alerts(app.database, include_resolved=True, today=day)
    # The projection's own rows, in the same order, with what readers add.
    assert [a["id"] for a in everything if a["id"] is not None] == [
        a["id"] for a in app.projector.alerts(None, include_resolved=True)
    ]
    # ... then the calendar's: the demo's quarters not claimed by the day
    assert {a["kind"] for a in everything if a["id"] is None} <= {"claim_due", "claim_overdue"}
    assert client.get("/alerts?project=KTP-NONE", headers=headers).json() == []


def test_reconciliation_json_is_the_statement(client: TestClient, tokens: dict[str, str], app: App) -> None:
    response = client.get(f"/projects/{demo.MAIN}/reconciliation", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == reconciliation(app.database, demo.MAIN)


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [
        ("csv", "text/csv", b""),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("html", "text/html", b"<!"),
        ("pdf", "application/pdf", b"%PDF"),
        ("json", "application/json", b"{"),
    ],
)
def test_reconciliation_formats_by_query_and_by_accept(
    client: TestClient, tokens: dict[str, str], fmt: str, media: str, magic: bytes
) -> None:
    url = f"/projects/{demo.MAIN}/reconciliation"
    by_query = client.get(f"{url}?format={fmt}", headers=bearer(tokens["viewer"]))
    assert by_query.status_code == 200
    assert by_query.headers["content-type"].startswith(media)
    assert by_query.content.startswith(magic)
    if fmt not in ("json", "html"):
        assert "attachment" in by_query.headers["content-disposition"]
        assert demo.MAIN in by_query.headers["content-disposition"]
    by_accept = client.get(url, headers={**bearer(tokens["viewer"]), "Accept": f"{media}, */*;q=0.1"})
    assert by_accept.status_code == 200
    assert by_accept.headers["content-type"].startswith(media)


def test_reconciliation_csv_carries_the_figures(client: TestClient, tokens: dict[str, str], app: App) -> None:
    response = client.get(
        f"/projects/{demo.MAIN}/reconciliation?format=csv", headers=bearer(tokens["viewer"])
    )
    text = response.content.decode("utf-8-sig")
    document = reconciliation(app.database, demo.MAIN)
    assert document["balance_due"] in text
    assert any("travel_subsistence" in row for row in csv.reader(io.StringIO(text)))


def test_claim_pack(client: TestClient, tokens: dict[str, str], app: App) -> None:
    url = f"/projects/{demo.MAIN}/claim-pack?quarter=2025Q1"
    response = client.get(url, headers=bearer(tokens["finance"]))
    assert response.status_code == 200
    assert response.json() == claim_pack(app.database, demo.MAIN, "2025Q1")
    pdf = client.get(url + "&format=pdf", headers=bearer(tokens["finance"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_costing_is_the_cli_costing(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/costing?methodology=fec&business_type=sme&months=12&salary=45000"
        "&supervisor_cost=80000&support_costs=36000",
        headers=bearer(tokens["viewer"]),
    )
    assert response.status_code == 200
    expected = costing_json(
        cost_project(
            CostingRequest(
                methodology=Methodology.FEC,
                business_type=BusinessType.SME,
                months=12,
                salary=Decimal(45000),
                supervisor_cost=Decimal(80000),
                support_costs=Decimal(36000),
            )
        )
    )
    assert response.json() == expected
    assert response.json()["totals"] == {"eligible": "76250.00", "grant": "51088.00", "business": "25163.00"}


def test_costing_non_fec_london(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/costing?methodology=non_fec&business_type=large&months=24&salary=60000&london=true",
        headers=bearer(tokens["viewer"]),
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["london"] is True and body["months"] == 24
    assert body["lines"][0]["eligible"] == "116000.00"  # 58,000 x 2: the London maximum


def test_summary_matches_the_allowances(client: TestClient, tokens: dict[str, str], app: App) -> None:
    response = client.get(f"/projects/{demo.MAIN}/summary", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    summary = response.json()
    allowances = app.projector.allowances(demo.MAIN).to_json()
    for shown, line in zip(summary["lines"], allowances["lines"], strict=True):
        for name in ("category", "budget", "spent", "eligible", "ineligible", "remaining", "limit_kind"):
            assert shown[name] == line[name]
    assert summary["status"] == "open"
    assert summary["open_alerts"] == read_alerts(app.database, demo.MAIN, today=DEMO_TODAY)
    assert [d["kind"] for d in summary["decisions"]] == ["approve_exceedance", "virement"]
    series = summary["spend"]["series"]
    assert [point["month"] for point in series] == list(range(1, summary["month"] + 1))
    assert series[-1]["cumulative"] == summary["spend"]["spent"] == summary["totals"]["spent"]
    assert summary["spend"]["budget"] == summary["totals"]["budget"]
    assert json.dumps(summary)  # plain JSON


def test_a_project_reference_with_a_slash(client: TestClient, tokens: dict[str, str]) -> None:
    project = "KTP/2025/7"
    recorded = client.post("/events", json=offer(project), headers=bearer(tokens["admin"]))
    assert recorded.status_code == 200, recorded.text
    for path in ("events", "allowances", "summary", "reconciliation"):
        response = client.get(f"/projects/{project}/{path}", headers=bearer(tokens["viewer"]))
        assert response.status_code == 200, (path, response.text)
    assert (
        client.get(
            f"/projects/{project}/claim-pack?quarter=2024Q4", headers=bearer(tokens["viewer"])
        ).status_code
        == 200
    )


def test_a_report_says_who_prepared_it_and_when(client: TestClient, tokens: dict[str, str]) -> None:
    url = f"/projects/{demo.MAIN}/reconciliation?format=html&prepared_on=2026-01-31"
    first = client.get(url, headers=bearer(tokens["viewer"]))
    assert first.status_code == 200
    page = first.content.decode("utf-8")
    assert "Prepared on</b></td><td>31 January 2026" in page
    assert "Prepared by</b></td><td>viewer for tests" in page  # the token's label
    assert client.get(url, headers=bearer(tokens["viewer"])).content == first.content  # no clock
    bad = client.get(
        f"/projects/{demo.MAIN}/reconciliation?format=html&prepared_on=soon", headers=bearer(tokens["viewer"])
    )
    assert bad.status_code == 422
    json_document = client.get(
        f"/projects/{demo.MAIN}/reconciliation?prepared_on=2026-01-31", headers=bearer(tokens["viewer"])
    ).json()
    assert "prepared" not in json_document  # the JSON is the statement's alone

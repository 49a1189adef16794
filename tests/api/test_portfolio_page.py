"""The portfolio page (`GET /dashboard/portfolio`, issue 16 item 2) on both databases, over
test_portfolio.py's three projects judged as of 25 April 2025 (worked by hand there): rows, badges,
reasons and their links, totals, each filter, each sort both ways, bad filters, the exports, who may
read, and the budget and spend by quarter (worked by hand below).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ktpledger.bootstrap import App
from ktpledger.domain.errors import RuleViolation
from ktpledger.service.access import Principal, Role, create_token
from ktpledger.service.portfolio import portfolio, portfolio_quarters, sort_rows
from tests.api.conftest import bearer
from tests.api.test_dashboard import figures, sign_in
from tests.api.test_portfolio import TODAY, three

__all__ = ["three"]  # the fixture, shared with test_portfolio.py

pytestmark = pytest.mark.usefixtures("three")

ADMIN = Principal(token_id=0, role=Role.ADMIN, projects=None)

ROW = re.compile(r'<tr data-project="([^"]+)" data-status="([^"]+)">')


def page(client: TestClient, query: str = "", status: int = 200) -> str:
    response = client.get(f"/dashboard/portfolio?today={TODAY}{query}")
    assert response.status_code == status, response.text
    return response.text


def rows(html: str) -> list[str]:
    return [project for project, _ in ROW.findall(html)]


@pytest.fixture
def signed_in(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["admin"])
    return client


def test_the_page_needs_a_sign_in(client: TestClient) -> None:
    response = client.get("/dashboard/portfolio", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/portfolio"


def test_rows_badges_figures_and_totals_are_the_api_s(signed_in: TestClient, tokens: dict[str, str]) -> None:
    html = page(signed_in)
    api = signed_in.get(f"/portfolio?today={TODAY}", headers=bearer(tokens["admin"])).json()
    assert ROW.findall(html) == [("KTP-RED", "red"), ("KTP-AMBER", "amber"), ("KTP-GREEN", "green")]
    shown = figures(html)
    # The status is a badge with its word, not colour alone.
    for project, status in (("KTP-RED", "red"), ("KTP-AMBER", "amber"), ("KTP-GREEN", "green")):
        assert shown[(project, "status")] == status
        assert f'<span class="badge health-{status}">{status}</span>' in html
    red = shown
    assert (red[("KTP-RED", "budget")], red[("KTP-RED", "spent")]) == ("£162,500.00", "£16,600.00")
    assert (red[("KTP-RED", "spent_share")], red[("KTP-RED", "elapsed")]) == ("10.2%", "16.7%")
    assert red[("KTP-RED", "forecast")] == "£152,016.65"
    assert (red[("KTP-RED", "grant_claimed")], red[("KTP-RED", "grant_paid")]) == ("£0.00", "£0.00")
    assert red[("KTP-GREEN", "spent_share")] == "2.5%"  # 4,000 / 162,500 = 0.0246
    for row in api["projects"]:
        for name in ("budget", "spent", "forecast", "grant_claimed", "grant_paid"):
            assert shown[(row["project"], name)].replace("£", "").replace(",", "") == row[name]
    assert "2025-04-30" in shown[("KTP-RED", "next_deadline")]  # the 2025Q1 claim
    totals = api["totals"]
    assert shown[("totals", "budget")] == "£487,500.00" and totals["budget"] == "487500.00"
    assert shown[("totals", "spent")] == "£33,100.00"
    assert shown[("totals", "forecast")] == "£459,662.45"
    assert shown[("totals", "status")] == "3 projects"
    assert "1 red, 1 amber, 1 green" in html


def test_the_reasons_link_to_the_figures_behind_them(signed_in: TestClient) -> None:
    html = page(signed_in)
    red = html[html.index('data-project="KTP-RED"') : html.index('data-project="KTP-AMBER"')]
    links = re.findall(r'<a class="reason[^"]*" href="([^"]+)" data-kind="([^"]+)">', red)
    day = f"?today={TODAY}"
    assert [(kind, href.replace("&amp;", "&")) for href, kind in links] == [
        # Spend already made: the line's transactions.
        ("over_budget", "/dashboard/projects/KTP-RED/transactions?category=consumables"),
        # A forecast: the line on the project page.
        ("forecast_overspend", f"/dashboard/projects/KTP-RED{day}#line-consumables"),
        # The project's own deadline: the project page.
        ("claim_due", f"/dashboard/projects/KTP-RED{day}"),
        ("ahead_of_profile", "/dashboard/projects/KTP-RED/transactions?category=consumables"),
    ]
    # The top reason in the row, the other three in a disclosure.
    assert 'class="reason top-reason"' in red and "<summary>3 more reasons</summary>" in red
    assert "Equipment &amp; consumables: spend £4,100.00 is £100.00 over the budget" in red
    # Each link's target exists: the line's anchor on the project page, the drill-down.
    project = signed_in.get(f"/dashboard/projects/KTP-RED{day}")
    assert project.status_code == 200 and 'id="line-consumables"' in project.text
    drill = signed_in.get("/dashboard/projects/KTP-RED/transactions?category=consumables")
    assert drill.status_code == 200
    assert "Nothing needs the office." in html  # KTP-GREEN: no reason


def test_the_portfolio_is_linked_from_the_projects_page_and_the_navigation(signed_in: TestClient) -> None:
    html = signed_in.get("/dashboard").text
    assert 'href="/dashboard/portfolio"' in html and 'id="to-portfolio"' in html
    assert 'id="nav-portfolio"' in page(signed_in)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("&status=red&status=green", ["KTP-RED", "KTP-GREEN"]),
        ("&status=amber", ["KTP-AMBER"]),
        ("&knowledge_base=Northshire+College", ["KTP-AMBER"]),
        ("&business_type=large", ["KTP-GREEN"]),
        ("&methodology=fec", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
        ("&methodology=non_fec", []),
        # By 25 February 2027: KTP-RED and KTP-AMBER end on 31 December 2026, KTP-GREEN in March.
        ("&ending_within=22", ["KTP-RED", "KTP-AMBER"]),
        ("&ending_within=20", []),
        # The form sends every field, the empty ones empty: they let everything through.
        (
            "&knowledge_base=&business_type=&methodology=&ending_within=",
            ["KTP-RED", "KTP-AMBER", "KTP-GREEN"],
        ),
    ],
)
def test_each_filter(signed_in: TestClient, query: str, expected: list[str]) -> None:
    html = page(signed_in, query)
    assert rows(html) == expected
    if not expected:
        assert 'id="no-rows"' in html


def test_the_filters_stay_in_the_form_the_links_and_the_totals(signed_in: TestClient) -> None:
    html = page(signed_in, "&status=red&status=amber&business_type=sme")
    assert 'id="status-red" checked' in html and 'id="status-amber" checked' in html
    assert 'id="status-green">' in html
    assert '<option value="sme" selected>' in html
    # The knowledge bases present, each once, in the select.
    assert html.count('<option value="Northshire College"') == 1
    sort_link = re.search(r'data-column="spent">\s*<a class="sort" href="([^"]+)"', html)
    assert sort_link is not None
    assert sort_link.group(1).replace("&amp;", "&") == (
        f"/dashboard/portfolio?status=red&status=amber&business_type=sme&today={TODAY}&sort=spent&dir=asc"
    )
    shown = figures(html)
    assert shown[("totals", "spent")] == "£29,100.00"  # 16,600 + 12,500
    assert shown[("totals", "status")] == "2 projects"


SORTS = [
    ("project", "asc", ["KTP-AMBER", "KTP-GREEN", "KTP-RED"]),
    ("project", "desc", ["KTP-RED", "KTP-GREEN", "KTP-AMBER"]),
    ("status", "asc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("status", "desc", ["KTP-GREEN", "KTP-AMBER", "KTP-RED"]),
    # Equal budgets keep the most pressing first, either way.
    ("budget", "asc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("budget", "desc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("spent", "asc", ["KTP-GREEN", "KTP-AMBER", "KTP-RED"]),  # 4,000; 12,500; 16,600
    ("spent", "desc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("spent_share", "asc", ["KTP-GREEN", "KTP-AMBER", "KTP-RED"]),  # 2.5%, 7.7%, 10.2%
    ("spent_share", "desc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("elapsed", "asc", ["KTP-GREEN", "KTP-RED", "KTP-AMBER"]),  # 1/24; 4/24 twice
    ("elapsed", "desc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("forecast", "asc", ["KTP-AMBER", "KTP-RED", "KTP-GREEN"]),  # 147,916.65; 152,016.65; 159,729.15
    ("forecast", "desc", ["KTP-GREEN", "KTP-RED", "KTP-AMBER"]),
    ("grant_claimed", "desc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),  # all 0.00
    ("grant_paid", "asc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),
    ("next_deadline", "asc", ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]),  # 30 April twice, 30 July
    ("next_deadline", "desc", ["KTP-GREEN", "KTP-RED", "KTP-AMBER"]),
]


@pytest.mark.parametrize(("column", "direction", "expected"), SORTS)
def test_each_sort_both_ways(signed_in: TestClient, column: str, direction: str, expected: list[str]) -> None:
    html = page(signed_in, f"&sort={column}&dir={direction}")
    assert rows(html) == expected
    header = re.search(rf'<th scope="col" class="[^"]*" data-column="{column}" aria-sort="([a-z]+)">', html)
    assert header is not None and header.group(1) == ("descending" if direction == "desc" else "ascending")
    assert html.count("aria-sort=") == 1
    # The header's link turns the order round; the other headers' sort ascending.
    link = re.search(rf'data-column="{column}" aria-sort="[a-z]+">\s*<a class="sort" href="([^"]+)"', html)
    assert link is not None and link.group(1).endswith(
        f"sort={column}&amp;dir={'asc' if direction == 'desc' else 'desc'}"
    )


def test_the_default_order_is_the_service_s_without_aria_sort(signed_in: TestClient) -> None:
    html = page(signed_in)
    assert rows(html) == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"] and "aria-sort" not in html
    assert '<option value="">Most pressing first</option>' in html
    assert 'id="nav-portfolio" aria-current="page"' in html


def test_the_form_sorts_too(signed_in: TestClient) -> None:
    """A phone hides the table's headers: the form's Sort by and Order (sent with the filters)."""
    html = page(
        signed_in,
        "&status=&knowledge_base=&business_type=&methodology=&ending_within=&sort=forecast&dir=desc",
    )
    assert rows(html) == ["KTP-GREEN", "KTP-RED", "KTP-AMBER"]
    assert '<option value="forecast" selected>Forecast at end</option>' in html
    assert '<option value="desc" selected>Descending</option>' in html
    # No column chosen: the service's order, whatever the order field says.
    assert rows(page(signed_in, "&sort=&dir=desc")) == ["KTP-RED", "KTP-AMBER", "KTP-GREEN"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("&status=purple", "status"),
        ("&business_type=charity", "business_type"),
        ("&methodology=full", "methodology"),
        ("&ending_within=-1", "ending_within"),
        ("&ending_within=six", "ending_within"),
        ("&sort=colour", "sort"),
        ("&sort=spent&dir=sideways", "dir"),
    ],
)
def test_a_bad_filter_gives_the_page_naming_the_field(signed_in: TestClient, query: str, field: str) -> None:
    html = page(signed_in, query, status=422)
    assert f'id="filter-error" data-field="{field}"' in html
    assert f"The filter {field.replace('_', ' ')} was not understood: R-47: {field}" in html
    assert 'class="figures portfolio"' not in html  # no rows under a filter not understood
    assert '<form class="drill-filter portfolio-filter"' in html  # the form, to put it right
    assert '<option value="Northshire College"' in html  # with the knowledge bases to choose from


def test_a_bad_day_gives_the_page_naming_it(signed_in: TestClient) -> None:
    response = signed_in.get("/dashboard/portfolio?today=2025-02-30")
    assert response.status_code == 422 and 'data-field="today"' in response.text


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


@pytest.mark.parametrize(
    "query", ["", "&status=red&status=amber", "&business_type=large", "&ending_within=22"]
)
def test_the_exports_are_the_api_s_rows_under_the_same_filters(
    signed_in: TestClient, tokens: dict[str, str], query: str
) -> None:
    html = page(signed_in, query + "&sort=spent&dir=asc")
    for fmt in ("csv", "xlsx"):
        found = re.search(rf'id="export-{fmt}" href="([^"]+)"', html)
        assert found is not None
        href = found.group(1).replace("&amp;", "&")
        assert href.startswith("/portfolio?") and f"format={fmt}" in href and "sort=" not in href
        # The dashboard's session cookie reads it, as every GET of the API.
        by_cookie = signed_in.get(href)
        assert by_cookie.status_code == 200, by_cookie.text
        by_token = signed_in.get(href, headers=bearer(tokens["admin"]))
        if fmt == "csv":
            assert by_cookie.headers["content-type"].startswith("text/csv")
            assert csv_rows(by_cookie.content) == csv_rows(by_token.content)
            exported = [row["project"] for row in csv_rows(by_cookie.content)][:-1]  # less the totals
            assert sorted(exported) == sorted(rows(html))
        else:
            assert by_cookie.content == by_token.content


def test_a_viewer_granted_one_project_sees_only_it(client: TestClient, app: App) -> None:
    sign_in(client, create_token(app.database, "viewer", ["KTP-AMBER"], "adviser"))
    html = page(client)
    assert rows(html) == ["KTP-AMBER"]
    assert "KTP-RED" not in html and "KTP-GREEN" not in html
    # The knowledge bases offered are the readable projects' only.
    assert re.findall(r'<option value="([^"]+)"(?: selected)?>', html)[0] == "Northshire College"
    assert figures(html)[("totals", "spent")] == "£12,500.00"


# The budget and spend by quarter, worked by hand. Each project's lines are planned evenly by month
# (no profile recorded, R-43): 162,500 / 24 a month, 20,312.50 a quarter (associate 12,500,
# development 500, travel 312.50, consumables 500, supervisor 2,000, additional support 4,500).
# KTP-RED and KTP-AMBER run 2025Q1 to 2026Q4, KTP-GREEN 2025Q2 to 2027Q1. Spend: 2025Q1 16,600
# (KTP-RED) + 12,500 (KTP-AMBER) = 29,100; 2025Q2 4,000 (KTP-GREEN).
EVERY_QUARTER = [f"{year}Q{n}" for year in (2025, 2026) for n in (1, 2, 3, 4)] + ["2027Q1"]
BY_HAND = {
    "2025Q1": ("40625.00", "29100.00"),
    **dict.fromkeys(EVERY_QUARTER[1:-1], ("60937.50", "0.00")),
    "2025Q2": ("60937.50", "4000.00"),
    "2027Q1": ("20312.50", "0.00"),
}


def test_the_budget_and_spend_by_quarter_worked_by_hand(app: App) -> None:
    made = portfolio(app, ADMIN, today=date(2025, 4, 25))
    quarters = [figures.to_json() for figures in portfolio_quarters(made)]
    assert [q["quarter"] for q in quarters] == EVERY_QUARTER
    assert {q["quarter"]: (q["budget"], q["spent"]) for q in quarters} == BY_HAND
    assert sum(Decimal(q["budget"]) for q in quarters) == Decimal("487500.00")  # the three budgets
    # Only the red project: its own eight quarters.
    only_red = type(made)(as_of=made.as_of, projects=made.projects[:1])
    red = [figures.to_json() for figures in portfolio_quarters(only_red)]
    assert [(q["quarter"], q["budget"], q["spent"]) for q in red][:2] == [
        ("2025Q1", "20312.50", "16600.00"),
        ("2025Q2", "20312.50", "0.00"),
    ]
    assert len(red) == 8 and red[-1]["quarter"] == "2026Q4"


def test_the_page_shows_the_quarters_and_the_scatter(signed_in: TestClient) -> None:
    html = page(signed_in)
    table = html[html.index('<table class="figures quarters">') :]
    assert re.findall(r'<tr data-quarter="([^"]+)">', table) == EVERY_QUARTER
    assert (
        '<tr data-quarter="2025Q1"><th scope="row">2025Q1</th><td class="num" data-figure="budget">£40,625.00'
        in table
    )
    assert 'role="img" aria-labelledby="quarters-title"' in html
    assert 'role="img" aria-labelledby="scatter-title"' in html
    # One point per project in each drawing (wide and narrow), titled with its figures.
    points = re.findall(
        r'class="point" data-project="([^"]+)" data-status="([a-z]+)"><title>([^<]+)</title>', html
    )
    assert len(points) == 6
    assert (
        "KTP-RED",
        "red",
        "KTP-RED (red): 10.2% of the budget spent, 16.7% of the period elapsed",
    ) in points


def test_sort_rows_refuses_what_it_does_not_know_and_puts_the_missing_last(app: App) -> None:
    made = portfolio(app, ADMIN, today=date(2025, 4, 25))
    assert sort_rows(made.projects, None) == made.projects
    with pytest.raises(RuleViolation) as refused:
        sort_rows(made.projects, "colour")
    assert refused.value.field == "sort" and refused.value.rule == "R-47"
    with pytest.raises(RuleViolation):
        sort_rows(made.projects, "spent", "up")
    # A project without a next deadline sorts after the others, either way.
    last: Any = made.projects[0]
    without = dataclasses.replace(last, project="KTP-NONE", next_deadline=None)
    for direction in ("asc", "desc"):
        ordered = sort_rows((without, *made.projects), "next_deadline", direction)
        assert ordered[-1].project == "KTP-NONE"


def test_the_table_is_shown_a_page_at_a_time_with_every_row_in_the_totals(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page holds PAGE_ROWS rows (two here); the totals, the charts and the downloads are of
    every row the filters keep, and the pages keep the filters and the sort."""
    import ktpledger.api.dashboard_portfolio as module

    monkeypatch.setattr(module, "PAGE_ROWS", 2)
    first = page(signed_in, "&sort=project&dir=asc")
    assert rows(first) == ["KTP-AMBER", "KTP-GREEN"]
    assert "Rows 1 to 2 of 3 (page 1 of 2" in first and 'id="page-previous"' not in first
    assert figures(first)[("totals", "budget")] == "£487,500.00"  # the three projects' 162,500.00
    next_link = re.search(r'id="page-next" href="([^"]+)"', first)
    assert next_link is not None
    href = next_link.group(1).replace("&amp;", "&")
    assert href == f"/dashboard/portfolio?today={TODAY}&sort=project&dir=asc&page=2"
    second = signed_in.get(href).text
    assert rows(second) == ["KTP-RED"]
    assert "Rows 3 to 3 of 3 (page 2 of 2" in second and 'id="page-next"' not in second
    assert figures(second)[("totals", "budget")] == "£487,500.00"
    assert 'id="export-csv"' in second and "page=" not in re.search(
        r'id="export-csv" href="([^"]+)"', second
    ).group(1)
    for bad in ("0", "3", "x", "-1"):
        html = page(signed_in, f"&page={bad}", status=422)
        assert 'data-field="page"' in html and "R-47: page must be a whole number from 1 to 2" in html
    # One page: no page links at all.
    monkeypatch.setattr(module, "PAGE_ROWS", 100)
    assert 'id="pages"' not in page(signed_in)

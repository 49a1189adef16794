"""The dashboard's LMC and admin forms (api/forms/lmc.py, api/forms/admin.py), on SQLite and
PostgreSQL: each preview's effect worked out by hand, a confirm records one event (a second one
nothing), bad input refused inline with its rule and the typed values kept and nothing recorded,
the roles (finance and viewer 403 on the LMC forms, lmc 403 on the admin ones) and a tampered
confirmation refused and logged."""

from __future__ import annotations

import html
import json
import logging
import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api import form_signing
from ktpledger.bootstrap import App
from tests.api import demo
from tests.api.conftest import bearer
from tests.api.test_dashboard_forms import (
    SECURITY_LOG,
    confirmation,
    figure,
    hidden,
    open_form,
    post,
    refused,
    sign_in,
)
from tests.ledger.factory import offer

pytestmark = pytest.mark.usefixtures("recorded")

MAIN = demo.MAIN
# KTP-0042 as the demo leaves it (worked from tests/api/demo.py):
#   consumables: offered 4,000, vired 1,000 to travel -> budget 3,000; limit (its standard) 4,000;
#     spent 1,499 + 862.35 (+ 250 reversed) = 2,361.35
#   travel_subsistence: 2,500 + 1,000 = 3,500, approved limit 3,500; spent 184.20 + 640 + 710.50 + 1,320 = 2,854.70
#   associate_employment: 100,000, maximum 110,000; spent 9 x 4,150 = 37,350
#   period: 2024-10-01 for 24 months, to 2026-09-30
VIRTUAL = "KTP-0300"


def path(slug: str, project: str = MAIN) -> str:
    return f"/dashboard/projects/{project}/record/{slug}"


@pytest.fixture
def virtual_project(app: App) -> str:
    """A virtual business's project (R-11, R-14): its travel may not be vired away (R-32)."""
    results = app.ledger.append([offer(VIRTUAL, key="offer-virtual", virtual=True)])
    assert results[0].status == "recorded", results[0].to_json()
    return VIRTUAL


@pytest.fixture
def lmc(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["lmc"])
    return client


def events(
    client: TestClient, tokens: dict[str, str], project: str = MAIN, kind: str = "LMCDecision"
) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{project}/events", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    return [event for event in response.json() if event["type"] == kind]


def preview(
    client: TestClient, slug: str, values: dict[str, Any], project: str = MAIN
) -> tuple[Response, dict[str, str]]:
    form = open_form(client, path(slug, project))
    return post(client, f"{path(slug, project)}/preview", {**form, **values}), form


def confirm_twice(client: TestClient, slug: str, page: str, project: str = MAIN) -> str:
    """Confirm the preview's values, then again (a double click): the second records nothing."""
    data = {**confirmation(page), "action": "confirm"}
    done = post(client, f"{path(slug, project)}/confirm", data)
    assert done.status_code == 303, done.text
    assert "already" not in done.headers["location"]
    again = post(client, f"{path(slug, project)}/confirm", data)
    assert again.status_code == 303, again.text
    assert again.headers["location"].endswith("?already=1")
    return str(done.headers["location"])


def recorded_by_form(
    client: TestClient, tokens: dict[str, str], nonce: str, project: str = MAIN
) -> dict[str, Any]:
    found = [event for event in events(client, tokens, project) if event["key"] == f"dashboard:{nonce}"]
    assert len(found) == 1, found
    return found[0]


def assert_refused_inline(page: Response, field: str, rule: str) -> None:
    assert page.status_code == 422, page.text
    assert f"Not recorded: {rule}" in page.text
    assert re.search(
        rf'<p class="field-error" id="field-{re.escape(field)}-error"><strong>{rule}</strong>', page.text
    ), page.text


def period(page: str, name: str) -> str:
    found = re.search(rf'data-period="{name}">([^<]*)<', page)
    assert found is not None, (name, page)
    return found.group(1)


# ---------------------------------------------------------------- virement

VIREMENT = {
    "date": "2025-07-10",
    "from": "consumables",
    "to": "associate_employment",
    "amount": "500",
    "minute": "LMC 5, item 2",
}


def test_virement_preview_confirm_and_double_confirm(lmc: TestClient, tokens: dict[str, str]) -> None:
    before = events(lmc, tokens)
    response, form = preview(lmc, "virement", VIREMENT)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: consumables 3,000 - 500 = 2,500, remaining 2,500 - 2,361.35 = 138.65;
    # associate employment 100,000 + 500 = 100,500, remaining 100,500 - 37,350 = 63,150.
    assert figure(page, "consumables", "budget-before") == Decimal(3000)
    assert figure(page, "consumables", "budget-after") == Decimal(2500)
    assert figure(page, "consumables", "remaining-before") == Decimal("638.65")
    assert figure(page, "consumables", "remaining-after") == Decimal("138.65")
    assert figure(page, "associate_employment", "budget-after") == Decimal(100500)
    assert figure(page, "associate_employment", "remaining-after") == Decimal(63150)
    # A virement moves budget between lines: the project's total budget stays.
    assert figure(page, "total", "budget-before") == figure(page, "total", "budget-after")
    assert "LMC 5, item 2" in page and "Nothing has been recorded yet" in page
    assert events(lmc, tokens) == before  # the preview records nothing
    confirm_twice(lmc, "virement", page)
    recorded = recorded_by_form(lmc, tokens, form["nonce"])
    assert recorded["data"] == {
        "kind": "virement",
        "from": "consumables",
        "to": "associate_employment",
        "amount": "500.00",
        "minute": "LMC 5, item 2",
    }
    assert recorded["date"] == "2025-07-10"
    assert recorded["recorded_by"] == {"name": "lmc for tests", "role": "lmc", "channel": "dashboard"}
    assert len(events(lmc, tokens)) == len(before) + 1


def test_a_virement_out_of_a_virtual_business_travel_is_refused_inline(
    lmc: TestClient, tokens: dict[str, str], virtual_project: str
) -> None:
    before = events(lmc, tokens, virtual_project)
    values = {**VIREMENT, "from": "travel_subsistence", "to": "consumables", "amount": "300"}
    response, _ = preview(lmc, "virement", values, virtual_project)
    assert_refused_inline(response, "from", "R-32")
    assert "virtual business" in response.text
    assert '<option value="travel_subsistence" selected>' in response.text
    assert 'value="300"' in response.text and 'value="LMC 5, item 2"' in response.text
    assert events(lmc, tokens, virtual_project) == before


def test_a_virement_in_pence_is_refused_inline(lmc: TestClient, tokens: dict[str, str]) -> None:
    before = events(lmc, tokens)
    response, _ = preview(lmc, "virement", {**VIREMENT, "amount": "500.50"})
    assert response.status_code == 422, response.text
    assert 'id="field-amount-error"' in response.text and 'value="500.50"' in response.text
    assert events(lmc, tokens) == before


# ---------------------------------------------------------------- approval to exceed

EXCEEDANCE = {
    "date": "2025-07-10",
    "category": "consumables",
    "limit": "5000",
    "justification": "A second test rig for the trials",
    "approved_by": "KTP adviser J. Smith",
}


def test_approval_to_exceed_shows_the_limit_before_and_after(lmc: TestClient, tokens: dict[str, str]) -> None:
    response, form = preview(lmc, "approve-exceedance", EXCEEDANCE)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: consumables' limit is its standard, 4,000; approved to 5,000. Its budget (3,000) and
    # remaining (638.65) do not move: an approval moves no money.
    assert figure(page, "consumables", "limit-before") == Decimal(4000)
    assert figure(page, "consumables", "limit-after") == Decimal(5000)
    assert figure(page, "consumables", "budget-after") == Decimal(3000)
    assert figure(page, "consumables", "remaining-after") == Decimal("638.65")
    confirm_twice(lmc, "approve-exceedance", page)
    recorded = recorded_by_form(lmc, tokens, form["nonce"])
    assert recorded["data"]["kind"] == "approve_exceedance"
    assert (
        recorded["data"]["limit"] == "5000.00" and recorded["data"]["approved_by"] == "KTP adviser J. Smith"
    )


def test_a_limit_below_the_budget_is_refused_inline(lmc: TestClient, tokens: dict[str, str]) -> None:
    before = events(lmc, tokens)
    response, _ = preview(lmc, "approve-exceedance", {**EXCEEDANCE, "limit": "2000"})
    assert_refused_inline(response, "limit", "R-40")
    assert 'value="2000"' in response.text and "A second test rig for the trials</textarea>" in response.text
    assert events(lmc, tokens) == before


def test_only_standard_lines_are_offered_for_an_approval(lmc: TestClient) -> None:
    page = lmc.get(path("approve-exceedance")).text
    assert '<option value="consumables"' in page
    assert '<option value="associate_employment"' not in page  # a maximum, not a standard


# ---------------------------------------------------------------- extension


def test_extension_moves_the_end_of_the_period(lmc: TestClient, tokens: dict[str, str]) -> None:
    response, form = preview(lmc, "extension", {"date": "2025-07-10", "months": "3", "costed": "no"})
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: 2024-10-01 for 24 months ends 2026-09-30; 3 more months end 2026-12-31.
    assert (period(page, "months-before"), period(page, "months-after")) == ("24", "27")
    assert (period(page, "end-before"), period(page, "end-after")) == ("2026-09-30", "2026-12-31")
    # A no-cost extension moves no budget line: the page says so instead of a table of unchanged lines.
    assert "data-no-lines" in page and 'data-line="total"' not in page
    confirm_twice(lmc, "extension", page)
    recorded = recorded_by_form(lmc, tokens, form["nonce"])
    assert recorded["data"] == {"kind": "extension", "months": 3, "costed": False}


def test_an_extension_past_60_months_is_refused_inline(lmc: TestClient, tokens: dict[str, str]) -> None:
    before = events(lmc, tokens)
    response, _ = preview(lmc, "extension", {"date": "2025-07-10", "months": "37", "costed": "yes"})
    # By hand: 24 + 37 = 61 months, past the 60 of R-02.
    assert_refused_inline(response, "months", "R-02")
    assert "between 1 and 60, got 61" in response.text
    assert 'value="37"' in response.text and '<option value="yes" selected>' in response.text
    assert events(lmc, tokens) == before


# ---------------------------------------------------------------- budget revision


def test_budget_revision_is_prefilled_and_names_only_the_changed_lines(
    lmc: TestClient, tokens: dict[str, str]
) -> None:
    page = lmc.get(path("budget-revision")).text
    assert hidden(page, "budget.consumables") == "3000"
    assert hidden(page, "budget.travel_subsistence") == "3500"
    assert hidden(page, "budget.associate_employment") == "100000"
    assert "budget.knowledge_base_overheads" not in page  # derived lines are not budgeted
    values = {
        **{name: hidden(page, name) for name in re.findall(r'name="(budget\.[a-z_]+)"', page)},
        "date": "2025-07-10",
        "minute": "LMC 5, item 4: salary review",
        "budget.consumables": "3500",
        "budget.associate_employment": "101000",
    }
    response, form = preview(lmc, "budget-revision", values)
    assert response.status_code == 200, response.text
    shown = response.text
    # By hand: consumables 3,000 -> 3,500, remaining 638.65 -> 1,138.65; associate employment
    # 100,000 -> 101,000, remaining 62,650 -> 63,650; the total budget grows by 1,500.
    assert figure(shown, "consumables", "remaining-after") == Decimal("1138.65")
    assert figure(shown, "associate_employment", "remaining-before") == Decimal(62650)
    assert figure(shown, "associate_employment", "remaining-after") == Decimal(63650)
    assert figure(shown, "total", "budget-after") - figure(shown, "total", "budget-before") == Decimal(1500)
    assert 'data-line="travel_subsistence"' not in shown  # unchanged: not in the effect
    confirm_twice(lmc, "budget-revision", shown)
    recorded = recorded_by_form(lmc, tokens, form["nonce"])
    assert recorded["data"] == {
        "kind": "budget_revision",
        "budget": {"associate_employment": "101000.00", "consumables": "3500.00"},
        "minute": "LMC 5, item 4: salary review",
    }


def test_a_revision_lowering_a_virtual_business_travel_is_refused_inline(
    lmc: TestClient, tokens: dict[str, str], virtual_project: str
) -> None:
    before = events(lmc, tokens, virtual_project)
    page = lmc.get(path("budget-revision", virtual_project)).text
    values = {
        **{name: hidden(page, name) for name in re.findall(r'name="(budget\.[a-z_]+)"', page)},
        "date": "2025-07-10",
        "minute": "LMC 2",
        "budget.travel_subsistence": "2000",
        "budget.consumables": "4500",
    }
    response, _ = preview(lmc, "budget-revision", values, virtual_project)
    assert_refused_inline(response, "budget.travel_subsistence", "R-32")
    assert 'value="2000"' in response.text and 'value="4500"' in response.text
    assert events(lmc, tokens, virtual_project) == before


def test_a_revision_lowering_the_business_contribution_is_refused(
    lmc: TestClient, tokens: dict[str, str]
) -> None:
    before = events(lmc, tokens)
    response, _ = preview(
        lmc, "budget-revision", {"date": "2025-07-10", "minute": "LMC 5", "budget.consumables": "2500"}
    )
    assert response.status_code == 422, response.text
    assert "Not recorded: R-32" in response.text and "contribution" in response.text
    assert events(lmc, tokens) == before


# ---------------------------------------------------------------- who may

LMC_FORMS = ("virement", "approve-exceedance", "extension", "budget-revision")


@pytest.mark.parametrize("role", ["finance", "viewer"])
def test_finance_and_viewer_get_403_on_the_lmc_forms(
    client: TestClient, tokens: dict[str, str], role: str
) -> None:
    sign_in(client, tokens[role])
    for slug in LMC_FORMS:
        refused(client.get(path(slug)), f"a {role} token may not record LMCDecision")
        refused(post(client, f"{path(slug)}/preview", VIREMENT), f"a {role} token may not record LMCDecision")
        refused(post(client, f"{path(slug)}/confirm", VIREMENT), f"a {role} token may not record LMCDecision")


def test_admin_may_use_the_lmc_forms_and_the_project_page_lists_them(
    client: TestClient, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["admin"])
    page = client.get(f"/dashboard/projects/{MAIN}").text
    for slug in LMC_FORMS:
        assert f'href="{path(slug)}"' in page, slug
        assert client.get(path(slug)).status_code == 200


def test_a_tampered_lmc_confirmation_is_refused_and_logged(
    lmc: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    before = events(lmc, tokens)
    response, _ = preview(lmc, "virement", VIREMENT)
    data = {**confirmation(response.text), "action": "confirm"}
    data["payload"] = form_signing.encode_values({**VIREMENT, "amount": "900"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refusal = post(lmc, f"{path('virement')}/confirm", data)
    refused(refusal, "values were changed after the preview")
    assert "Nothing was recorded" in html.unescape(refusal.text)
    logged = [
        r.getMessage() for r in caplog.records if r.name == SECURITY_LOG and r.levelno == logging.WARNING
    ]
    assert any("values were changed" in message and MAIN in message for message in logged), logged
    assert events(lmc, tokens) == before


# ---------------------------------------------------------------- closure


@pytest.fixture
def admin(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["admin"])
    return client


def test_closure_shows_the_final_position_and_that_the_project_will_close(
    admin: TestClient, tokens: dict[str, str]
) -> None:
    second = demo.SECOND
    before = events(admin, tokens, second, "ProjectClosed")
    response, form = preview(admin, "closure", {"date": "2026-02-27"}, second)
    assert response.status_code == 200, response.text
    page = response.text
    assert 'data-closes="2026-02-27"' in page and "The project will be closed on 2026-02-27" in page
    # By hand (tests/api/demo.py): budgets 55,000 + 15,000 + 2,000 + 1,250 + 2,000 and the derived
    # overheads 16,100 = 91,350; spent 2 x 4,580 + 350 and the overheads earned 2,106.80 = 11,616.80;
    # remaining 91,350 - 11,616.80 = 79,733.20. A closure moves no figure.
    assert figure(page, "total", "budget-after") == Decimal(91350)
    assert figure(page, "total", "spent-after") == Decimal("11616.80")
    assert figure(page, "total", "remaining-after") == Decimal("79733.20")
    assert figure(page, "consumables", "remaining-after") == Decimal(1650)  # every line is shown
    assert events(admin, tokens, second, "ProjectClosed") == before
    confirm_twice(admin, "closure", page, second)
    closed = events(admin, tokens, second, "ProjectClosed")
    assert [event["key"] for event in closed] == [f"dashboard:{form['nonce']}"]
    assert closed[0]["date"] == "2026-02-27" and closed[0]["data"] == {}


def test_a_closure_before_the_offer_is_refused_inline(admin: TestClient, tokens: dict[str, str]) -> None:
    response, _ = preview(admin, "closure", {"date": "2024-12-01"}, demo.SECOND)
    assert_refused_inline(response, "date", "R-36")
    assert 'value="2024-12-01"' in response.text
    assert events(admin, tokens, demo.SECOND, "ProjectClosed") == []


def test_closing_a_closed_project_is_refused(admin: TestClient, tokens: dict[str, str]) -> None:
    before = events(admin, tokens, demo.CLOSED, "ProjectClosed")
    response, _ = preview(admin, "closure", {"date": "2024-08-31"}, demo.CLOSED)
    assert response.status_code == 422 and "Not recorded: R-36" in response.text
    assert events(admin, tokens, demo.CLOSED, "ProjectClosed") == before


# ---------------------------------------------------------------- amendment


def amendment_values(admin: TestClient, **changed: str) -> dict[str, str]:
    """The amendment form as it starts (the offer as it stands), with `changed` typed over it."""
    page = admin.get(path("amendment")).text
    names = re.findall(r'<(?:input|textarea)[^>]* name="([a-z_.]+)"', page)
    values = {
        name: hidden(page, name) for name in names if name not in ("nonce", "issued", "form_csrf", "reason")
    }
    for select in re.findall(r'<select id="field-([a-z_]+)"', page):
        chosen = re.search(
            rf'<select id="field-{select}".*?<option value="([^"]*)" selected>', page, re.DOTALL
        )
        assert chosen is not None, select
        values[select] = chosen.group(1)
    return {
        **values,
        "date": "2025-07-10",
        "reason": "The offer letter says 101,000",
        **changed,
    }


def test_amendment_is_prefilled_and_records_only_the_changed_fields(
    admin: TestClient, tokens: dict[str, str]
) -> None:
    values = amendment_values(
        admin, **{"budget.associate_employment": "101000", "title": "Machine vision for bakery quality"}
    )
    assert values["business_type"] == "sme" and values["virtual"] == "no" and values["months"] == "24"
    assert values["title"] != "Machine vision for bakery QA" and values["start"] == "2024-10-01"
    response, form = preview(admin, "amendment", values)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: associate employment offered 100,000 (maximum 110,000), spent 37,350; offered
    # 101,000 now: budget 101,000, remaining 62,650 -> 63,650.
    assert figure(page, "associate_employment", "budget-before") == Decimal(100000)
    assert figure(page, "associate_employment", "budget-after") == Decimal(101000)
    assert figure(page, "associate_employment", "remaining-after") == Decimal(63650)
    assert 'data-line="travel_subsistence"' not in page
    confirm_twice(admin, "amendment", page)
    recorded = [
        e for e in events(admin, tokens, MAIN, "OfferAmended") if e["key"] == f"dashboard:{form['nonce']}"
    ]
    assert len(recorded) == 1
    assert recorded[0]["data"] == {
        "reason": "The offer letter says 101,000",
        "title": "Machine vision for bakery quality",
        "budget": {"associate_employment": "101000.00"},
    }


def test_an_amendment_lowering_the_business_contribution_is_refused(
    admin: TestClient, tokens: dict[str, str]
) -> None:
    values = amendment_values(admin, **{"budget.associate_employment": "90000"})
    response, _ = preview(admin, "amendment", values)
    assert response.status_code == 422, response.text
    text = html.unescape(response.text)
    assert "Not recorded: R-37" in text and "lowers the business's contribution" in text and "(R-32)" in text
    assert 'value="90000"' in response.text and "The offer letter says 101,000</textarea>" in text
    assert events(admin, tokens, MAIN, "OfferAmended") == []


@pytest.mark.parametrize("role", ["lmc", "finance", "viewer"])
def test_only_admin_may_use_the_admin_forms(client: TestClient, tokens: dict[str, str], role: str) -> None:
    sign_in(client, tokens[role])
    for slug, event_type in (("closure", "ProjectClosed"), ("amendment", "OfferAmended")):
        refused(client.get(path(slug)), f"a {role} token may not record {event_type}")
        refused(post(client, f"{path(slug)}/preview", {"date": "2025-07-10"}), f"may not record {event_type}")
        refused(post(client, f"{path(slug)}/confirm", {"date": "2025-07-10"}), f"may not record {event_type}")
    assert 'record/closure"' not in client.get(f"/dashboard/projects/{MAIN}").text


# ---------------------------------------------------------------- new project from a costing

NEW = "/dashboard/record/new-project"
COSTING = {
    "project": "KTP-0200",
    "title": "Robotic palletising",
    "knowledge_base": "University of Example",
    "business": "Stackwell Ltd",
    "methodology": "fec",
    "business_type": "sme",
    "virtual": "no",
    "london": "no",
    "start": "2025-10-01",
    "date": "",
    "months": "24",
    "salary": "40000",
    "supervisor_cost": "80000",
    "supervisor_fte": "0.1",
    "support_costs": "18000",
    "support_rate": "0.5",
    "estates": "0",
    "grant_rate": "",
}
CLI_OPTIONS = [
    "costing", "--offer", "--methodology", "fec", "--business-type", "sme", "--months", "24",
    "--salary", "40000", "--supervisor-cost", "80000", "--support-costs", "18000",
    "--project", "KTP-0200", "--start", "2025-10-01", "--title", "Robotic palletising",
    "--knowledge-base", "University of Example", "--business", "Stackwell Ltd",
]  # fmt: skip


def new_preview(client: TestClient, values: dict[str, str]) -> tuple[Response, dict[str, str]]:
    form = open_form(client, NEW)
    return post(client, f"{NEW}/preview", {**form, **values}), form


def offers(client: TestClient, tokens: dict[str, str], project: str) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{project}/events", headers=bearer(tokens["admin"]))
    return [] if response.status_code == 404 else [e for e in response.json() if e["type"] == "GrantOffered"]


def test_the_projects_page_links_the_new_project_form_for_admins_only(
    client: TestClient, tokens: dict[str, str]
) -> None:
    sign_in(client, tokens["admin"])
    assert f'href="{NEW}"' in client.get("/dashboard").text
    for role in ("lmc", "admin@main"):
        other = TestClient(client.app, base_url="https://testserver")
        sign_in(other, tokens[role])
        assert f'href="{NEW}"' not in other.get("/dashboard").text
        assert other.get(NEW).status_code == 403


def test_a_new_project_from_a_costing_is_the_cli_offer(admin: TestClient, tokens: dict[str, str]) -> None:
    from typer.testing import CliRunner

    from ktpledger.cli import app as cli

    response, form = new_preview(admin, COSTING)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand, 24 months (2 years): associate 40,000 x 2 = 80,000; supervisor 0.1 x 80,000 x 2 =
    # 16,000; support 18,000 x 2 x 0.5 = 18,000; development 2,000 x 2 = 4,000; travel 1,250 x 2 =
    # 2,500; consumables 2,000 x 2 = 4,000; estates 0: 124,500 in all, nothing spent, each new.
    assert figure(page, "associate_employment", "budget-before") == Decimal(0)
    assert figure(page, "associate_employment", "budget-after") == Decimal(80000)
    assert figure(page, "knowledge_base_supervisor", "remaining-after") == Decimal(16000)
    assert figure(page, "additional_associate_support", "budget-after") == Decimal(18000)
    assert figure(page, "total", "budget-after") == Decimal(124500)
    assert period(page, "end-after") == "2027-09-30"
    assert offers(admin, tokens, "KTP-0200") == []
    data = {**confirmation(page), "action": "confirm"}
    done = post(admin, f"{NEW}/confirm", data)
    assert done.status_code == 303, done.text
    assert "Recorded: GrantOffered <code>dashboard:" in admin.get(done.headers["location"]).text
    again = post(admin, f"{NEW}/confirm", data)
    assert again.status_code == 303 and again.headers["location"].endswith("&already=1")
    recorded = offers(admin, tokens, "KTP-0200")
    assert len(recorded) == 1 and recorded[0]["key"] == f"dashboard:{form['nonce']}"
    # The same event as `ktpledger costing --offer` prints from the same inputs (but its key).
    printed = CliRunner().invoke(cli, CLI_OPTIONS)
    assert printed.exit_code == 0, printed.output
    expected = json.loads(printed.stdout)
    assert recorded[0]["data"] == expected["data"] and recorded[0]["date"] == expected["date"]


def test_a_new_project_with_a_taken_reference_is_refused_inline(
    admin: TestClient, tokens: dict[str, str]
) -> None:
    response, _ = new_preview(admin, {**COSTING, "project": MAIN})
    assert_refused_inline(response, "project", "R-31")
    assert f'value="{MAIN}"' in response.text and 'value="Robotic palletising"' in response.text
    assert len(offers(admin, tokens, MAIN)) == 1


def test_a_bad_costing_is_refused_by_its_field(admin: TestClient, tokens: dict[str, str]) -> None:
    response, _ = new_preview(admin, {**COSTING, "months": "61"})
    assert_refused_inline(response, "months", "R-02")
    assert 'value="61"' in response.text and 'value="40000"' in response.text
    assert offers(admin, tokens, "KTP-0200") == []


def test_a_tampered_new_project_is_refused_and_logged(
    admin: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    response, _ = new_preview(admin, COSTING)
    data = {**confirmation(response.text), "action": "confirm"}
    data["payload"] = form_signing.encode_values({**COSTING, "salary": "90000"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refusal = post(admin, f"{NEW}/confirm", data)
    refused(refusal, "values were changed after the preview")
    assert any("values were changed" in r.getMessage() for r in caplog.records if r.name == SECURITY_LOG)
    assert offers(admin, tokens, "KTP-0200") == []

"""The dashboard's forms (api/dashboard_forms.py), with the spend claim form, on SQLite and
PostgreSQL: the preview's effect worked out by hand, confirm records once with who recorded it,
bad input refused inline with its rule and the typed values kept, and every unsafe write refused
(role, project grant, CSRF, another session, a changed payload, an expired form) and logged."""

from __future__ import annotations

import html
import logging
import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from ktpledger.api import form_signing
from ktpledger.api.app import create_app
from ktpledger.bootstrap import App
from tests.api import demo
from tests.api.conftest import bearer, dashboard_post, money, same_origin

pytestmark = pytest.mark.usefixtures("recorded")

PROJECT = demo.SECOND  # consumables: budget £2,000, one claim of £350 ("kit")
FORM = f"/dashboard/projects/{PROJECT}/record/spend-claim"
SECURITY_LOG = "ktpledger.dashboard.security"
CLAIM = {
    "date": "2025-06-10",
    "category": "consumables",
    "amount": "123.45",
    "description": "Sample jars for the mix trials",
}


def sign_in(client: TestClient, token: str) -> None:
    response = dashboard_post(client, "/dashboard/login", {"token": token})
    assert response.status_code == 303, response.text


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, (name, page)
    return html.unescape(found.group(1))


def stamp(page: str) -> dict[str, str]:
    return {name: hidden(page, name) for name in ("nonce", "issued", "form_csrf")}


def open_form(client: TestClient, path: str = FORM) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return stamp(page.text)


def post(client: TestClient, path: str, data: dict[str, Any]) -> Response:
    return client.post(path, data=data, headers=same_origin(client), follow_redirects=False)


def figure(page: str, line: str, name: str) -> Decimal:
    row = re.search(rf'<tr[^>]*data-line="{line}"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert row is not None, (line, page)
    cell = re.search(rf'data-figure="{name}">([^<]*)<', row.group(1))
    assert cell is not None, (line, name)
    return money(cell.group(1))


def claims(client: TestClient, tokens: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{PROJECT}/events", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    return [event for event in response.json() if event["type"] == "SpendClaimed"]


@pytest.fixture
def finance(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["finance"])
    return client


def preview(client: TestClient, values: dict[str, Any] | None = None) -> tuple[Response, dict[str, str]]:
    form = open_form(client)
    return post(client, f"{FORM}/preview", {**form, **(values or CLAIM)}), form


def confirmation(page: str) -> dict[str, str]:
    return {**stamp(page), "payload": hidden(page, "payload"), "signature": hidden(page, "signature")}


# ---------------------------------------------------------------- the flow


def test_the_project_page_lists_the_forms_of_the_role(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["finance"])
    assert f'href="{FORM}"' in client.get(f"/dashboard/projects/{PROJECT}").text
    viewer = TestClient(client.app, base_url="https://testserver")
    sign_in(viewer, tokens["viewer"])
    page = viewer.get(f"/dashboard/projects/{PROJECT}").text
    assert "/record/" not in page and 'aria-label="Record"' not in page


def test_preview_shows_the_effect_and_records_nothing(finance: TestClient, tokens: dict[str, str]) -> None:
    before = claims(finance, tokens)
    response, _ = preview(finance)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: consumables' budget £2,000; spent £350 (the "kit" claim); this claim £123.45.
    budget, spent, amount = Decimal(2000), Decimal("350.00"), Decimal("123.45")
    assert figure(page, "consumables", "budget-before") == budget
    assert figure(page, "consumables", "budget-after") == budget
    assert figure(page, "consumables", "spent-before") == spent
    assert figure(page, "consumables", "spent-after") == spent + amount
    assert figure(page, "consumables", "remaining-before") == budget - spent
    assert figure(page, "consumables", "remaining-after") == budget - spent - amount == Decimal("1526.55")
    assert figure(page, "consumables", "eligible-after") == spent + amount  # within budget: all eligible
    # The project's totals move by the claim alone.
    assert figure(page, "total", "spent-after") - figure(page, "total", "spent-before") == amount
    assert "Nothing has been recorded yet" in page
    assert claims(finance, tokens) == before


def test_confirm_records_one_claim_by_the_token_on_channel_dashboard(
    finance: TestClient, tokens: dict[str, str]
) -> None:
    assert "£473" not in finance.get(f"/dashboard/projects/{PROJECT}").text
    before = len(claims(finance, tokens))
    response, form = preview(finance)
    confirm = confirmation(response.text)
    done = post(finance, f"{FORM}/confirm", {**confirm, "action": "confirm"})
    assert done.status_code == 303, done.text
    page = finance.get(done.headers["location"])
    key = f"dashboard:{form['nonce']}"
    assert f"Recorded: SpendClaimed <code>{key}</code>" in page.text
    after = claims(finance, tokens)
    assert len(after) == before + 1
    recorded = next(event for event in after if event["key"] == key)
    assert recorded["data"]["amount"] == "123.45" and recorded["date"] == "2025-06-10"
    assert recorded["recorded_by"] == {"name": "finance for tests", "role": "finance", "channel": "dashboard"}
    # The same confirmation again (a double click, a resubmit): nothing new, and the page says so.
    again = post(finance, f"{FORM}/confirm", {**confirm, "action": "confirm"})
    assert again.status_code == 303
    page = finance.get(again.headers["location"])
    assert "already recorded" in page.text and "nothing new was recorded" in page.text
    assert len(claims(finance, tokens)) == before + 1
    # The project page shows the new figure (whole pounds): £350 + £123.45.
    assert "£473" in finance.get(f"/dashboard/projects/{PROJECT}").text


def test_change_returns_the_form_with_the_values_kept(finance: TestClient, tokens: dict[str, str]) -> None:
    before = claims(finance, tokens)
    response, _ = preview(finance)
    back = post(finance, f"{FORM}/confirm", {**confirmation(response.text), "action": "change"})
    assert back.status_code == 200
    assert 'value="123.45"' in back.text and 'value="Sample jars for the mix trials"' in back.text
    assert '<option value="consumables" selected>' in back.text
    assert claims(finance, tokens) == before


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", "12.345", "R-22"),
        ("date", "2027-06-01", "R-33"),
        ("description", "", "R-33"),
    ],
)
def test_bad_input_is_refused_inline_with_the_values_kept(
    finance: TestClient, tokens: dict[str, str], field: str, value: str, rule: str
) -> None:
    before = claims(finance, tokens)
    values = {**CLAIM, field: value}
    response, _ = preview(finance, values)
    assert response.status_code == 422, response.text
    page = response.text
    assert f"Not recorded: {rule}" in page
    error = re.search(rf'<p class="field-error" id="field-{field}-error"><strong>{rule}</strong>', page)
    assert error is not None, page
    assert re.search(rf'id="field-{field}"[^>]*aria-describedby="[^"]*field-{field}-error', page), page
    for name in ("amount", "description", "date"):
        assert f'value="{html.escape(values[name])}"' in page, name
    assert '<option value="consumables" selected>' in page
    assert claims(finance, tokens) == before


# ---------------------------------------------------------------- who may


def refused(response: Response, why: str) -> None:
    text = html.unescape(response.text)
    assert response.status_code == 403, (response.status_code, text)
    assert why in text, text


def test_a_viewer_gets_403_on_every_step(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, tokens["viewer"])
    refused(client.get(FORM), "a viewer token may not record SpendClaimed")
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refused(post(client, f"{FORM}/preview", CLAIM), "may not record SpendClaimed")
    assert any("viewer for tests" in record.getMessage() for record in caplog.records)


def test_lmc_gets_403_on_a_finance_form(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["lmc"])
    refused(client.get(FORM), "a lmc token may not record SpendClaimed")
    refused(post(client, f"{FORM}/preview", CLAIM), "a lmc token may not record SpendClaimed")
    refused(post(client, f"{FORM}/confirm", CLAIM), "a lmc token may not record SpendClaimed")


def test_a_token_not_granted_the_project_gets_403(client: TestClient, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["finance@main"])  # granted KTP-0042 only
    refused(client.get(FORM), f"this token was not granted project {PROJECT!r}")
    refused(post(client, f"{FORM}/preview", CLAIM), f"this token was not granted project {PROJECT!r}")
    assert client.get(f"/dashboard/projects/{demo.MAIN}/record/spend-claim").status_code == 200


# ---------------------------------------------------------------- safe writes


def assert_refused_and_logged(response: Response, why: str, caplog: pytest.LogCaptureFixture) -> None:
    refused(response, why)
    assert "Nothing was recorded" in html.unescape(response.text)
    logged = [r for r in caplog.records if r.name == SECURITY_LOG and r.levelno == logging.WARNING]
    assert logged, caplog.records
    message = logged[-1].getMessage()
    assert why in message and PROJECT in message and "/confirm" in message, message
    assert re.search(r"token \d+ \('(finance|admin) for tests'\)|no session", message), message


@pytest.fixture
def confirm_data(finance: TestClient) -> dict[str, str]:
    response, _ = preview(finance)
    assert response.status_code == 200
    return {**confirmation(response.text), "action": "confirm"}


def test_a_write_without_the_form_token_is_refused(
    finance: TestClient,
    tokens: dict[str, str],
    confirm_data: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = claims(finance, tokens)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        response = post(finance, f"{FORM}/confirm", {**confirm_data, "form_csrf": ""})
    assert_refused_and_logged(response, "the form carried no form token", caplog)
    assert claims(finance, tokens) == before


def test_a_write_from_another_site_is_refused(
    finance: TestClient,
    tokens: dict[str, str],
    confirm_data: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = claims(finance, tokens)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        response = finance.post(
            f"{FORM}/confirm",
            data=confirm_data,
            headers={"Origin": "https://evil.example"},
            follow_redirects=False,
        )
    assert_refused_and_logged(response, "it came from another site", caplog)
    assert claims(finance, tokens) == before


def test_another_sessions_form_is_refused(
    app: App, tokens: dict[str, str], confirm_data: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(app), base_url="https://testserver") as other:
        sign_in(other, tokens["admin"])
        before = claims(other, tokens)
        with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
            response = post(other, f"{FORM}/confirm", confirm_data)
        assert_refused_and_logged(response, "was not issued to this session", caplog)
        assert claims(other, tokens) == before


def test_a_write_without_a_session_cookie_is_refused(
    app: App, tokens: dict[str, str], confirm_data: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(app), base_url="https://testserver") as other:
        before = claims(other, tokens)
        with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
            # A bearer token is not a dashboard session: forms take the cookie only.
            response = other.post(
                f"{FORM}/confirm",
                data=confirm_data,
                headers={**same_origin(other), **bearer(tokens["finance"])},
                follow_redirects=False,
            )
        assert_refused_and_logged(response, "no dashboard session", caplog)
        assert claims(other, tokens) == before


def test_a_tampered_payload_is_refused(
    finance: TestClient,
    tokens: dict[str, str],
    confirm_data: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = claims(finance, tokens)
    changed = form_signing.encode_values({**CLAIM, "amount": "9999.00", "tags": ()})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        response = post(finance, f"{FORM}/confirm", {**confirm_data, "payload": changed})
    assert_refused_and_logged(response, "values were changed after the preview", caplog)
    assert claims(finance, tokens) == before


def test_an_expired_form_is_refused(
    finance: TestClient,
    tokens: dict[str, str],
    confirm_data: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = claims(finance, tokens)
    issued = int(confirm_data["issued"])
    monkeypatch.setattr(form_signing, "now", lambda: issued + 12 * 3600 + 1)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        response = post(finance, f"{FORM}/confirm", confirm_data)
    assert_refused_and_logged(response, "the form has expired", caplog)
    assert claims(finance, tokens) == before


def test_post_events_still_takes_no_cookie(finance: TestClient) -> None:
    response = finance.post("/events", json={"type": "SpendClaimed"}, headers=same_origin(finance))
    assert response.status_code == 401


def test_the_preview_shows_a_derived_line_the_claim_moves(finance: TestClient) -> None:
    # KTP-0107 is non-fec: its KB overheads line is derived from the eligible spend of its source
    # lines, so a salary claim moves it too, and the preview shows it.
    response, _ = preview(finance, {**CLAIM, "category": "associate_employment", "amount": "1000.00"})
    assert response.status_code == 200, response.text
    page = response.text
    assert figure(page, "associate_employment", "spent-after") - figure(
        page, "associate_employment", "spent-before"
    ) == Decimal("1000.00")
    overheads_before = figure(page, "knowledge_base_overheads", "spent-before")
    overheads_after = figure(page, "knowledge_base_overheads", "spent-after")
    assert overheads_after > overheads_before
    moved = figure(page, "total", "spent-after") - figure(page, "total", "spent-before")
    assert moved == Decimal("1000.00") + overheads_after - overheads_before

"""The finance role's forms (api/forms/: reversal, parental-leave cost, grant payment) on SQLite and
PostgreSQL, as tests/api/test_dashboard_forms.py tests the spend claim: the preview's effect worked
out by hand, confirm records once by the token on channel `dashboard`, a double confirm records
nothing new, bad input refused inline with its rule and the typed values kept, lmc and viewer 403,
a tampered confirmation 403 and logged.

The project is the demo's KTP-0107 (non-fec, 1 Feb 2025 to 31 Jan 2026, offer 6 Jan 2025):
consumables budget £2,000 with one claim, "kit", of £350 on 12 Mar 2025; salary claims of £4,580
on 28 Feb and 31 Mar 2025; no parental-leave cost and no grant payment yet.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from ktpledger.adapters import upload_store
from ktpledger.adapters.upload_tables import dashboard_uploads
from ktpledger.api import dashboard_import, form_signing
from ktpledger.bootstrap import App
from ktpledger.domain.events import parse_event
from ktpledger.service import held_uploads
from ktpledger.service.imports import plan_import
from tests.api import demo
from tests.api.conftest import bearer, money, same_origin
from tests.api.test_dashboard_forms import (
    SECURITY_LOG,
    assert_refused_and_logged,
    confirmation,
    figure,
    open_form,
    post,
    refused,
    sign_in,
)

pytestmark = pytest.mark.usefixtures("recorded")

PROJECT = demo.SECOND
BASE = f"/dashboard/projects/{PROJECT}/record"
REVERSAL = {
    "claim": "kit",
    "date": "2025-04-01",
    "amount": "50.00",
    "reason": "Part refund from the supplier",
}
LEAVE = {
    "date": "2025-06-30",
    "amount": "2400.00",
    "description": "Occupational paternity pay above statutory",
}
PAYMENT = {"date": "2025-04-28", "amount": "9100.00"}
FORMS = {
    "reversal": ("ClaimReversed", REVERSAL),
    "parental-leave": ("ParentalLeaveCost", LEAVE),
    "grant-payment": ("GrantPayment", PAYMENT),
}


@pytest.fixture
def finance(client: TestClient, tokens: dict[str, str]) -> TestClient:
    sign_in(client, tokens["finance"])
    return client


def events(client: TestClient, tokens: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{PROJECT}/events", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    return list(response.json())


def preview(client: TestClient, slug: str, values: dict[str, str]) -> tuple[Response, dict[str, str]]:
    form = open_form(client, f"{BASE}/{slug}")
    return post(client, f"{BASE}/{slug}/preview", {**form, **values}), form


def confirm(client: TestClient, slug: str, values: dict[str, str]) -> tuple[Response, dict[str, str], str]:
    response, form = preview(client, slug, values)
    assert response.status_code == 200, response.text
    data = {**confirmation(response.text), "action": "confirm"}
    done = post(client, f"{BASE}/{slug}/confirm", data)
    assert done.status_code == 303, done.text
    return done, data, f"dashboard:{form['nonce']}"


def project_figure(page: str, name: str, when: str) -> Decimal:
    return figure(page, name, f"value-{when}")


# ---------------------------------------------------------------- the list of claims


def test_the_reversal_lists_the_outstanding_claims_newest_first(finance: TestClient) -> None:
    page = finance.get(f"{BASE}/reversal").text
    options = re.findall(r'<option value="([^"]+)">([^<]*)</option>', page)
    assert [value for value, _ in options] == ["salary-2025-03", "kit", "salary-2025-02"]
    labels = dict(options)
    assert (
        html.unescape(labels["kit"])
        == "12 Mar 2025 · Equipment & consumables · claim kit · £350.00 outstanding"
    )
    assert html.unescape(labels["salary-2025-02"]).startswith("28 Feb 2025 · Associate employment · ")


def test_a_claim_reversed_in_full_leaves_the_list(finance: TestClient, tokens: dict[str, str]) -> None:
    _, _, key = confirm(finance, "reversal", {**REVERSAL, "amount": ""})
    recorded = next(event for event in events(finance, tokens) if event["key"] == key)
    assert recorded["data"] == {"claim": "kit", "reason": REVERSAL["reason"]}  # blank: all that is left
    page = finance.get(f"{BASE}/reversal").text
    assert 'value="kit"' not in page and 'value="salary-2025-03"' in page


# ---------------------------------------------------------------- the effect, by hand


def test_the_reversal_preview_shows_the_line_before_and_after(
    finance: TestClient, tokens: dict[str, str]
) -> None:
    before = events(finance, tokens)
    response, _ = preview(finance, "reversal", REVERSAL)
    assert response.status_code == 200, response.text
    page = response.text
    # By hand: consumables budget £2,000, spent £350 (kit); reversing £50 leaves £300 spent.
    assert figure(page, "consumables", "spent-before") == Decimal("350.00")
    assert figure(page, "consumables", "spent-after") == Decimal("300.00")
    assert figure(page, "consumables", "eligible-before") == Decimal("350.00")
    assert figure(page, "consumables", "eligible-after") == Decimal("300.00")
    assert figure(page, "consumables", "remaining-before") == Decimal("1650.00")
    assert figure(page, "consumables", "remaining-after") == Decimal("1700.00")
    assert figure(page, "consumables", "budget-after") == Decimal(2000)
    assert "12 Mar 2025 · Equipment &amp; consumables · claim kit" in page  # the claim as people read it
    assert events(finance, tokens) == before


def test_a_blank_amount_reverses_all_that_is_left(finance: TestClient) -> None:
    response, _ = preview(finance, "reversal", {**REVERSAL, "amount": ""})
    assert response.status_code == 200, response.text
    assert figure(response.text, "consumables", "spent-after") == Decimal("0.00")
    assert figure(response.text, "consumables", "remaining-after") == Decimal("2000.00")
    assert "<dd>all that is left of the claim</dd>" in response.text


def test_the_parental_leave_preview_shows_the_projects_total(
    finance: TestClient, tokens: dict[str, str]
) -> None:
    before = events(finance, tokens)
    response, _ = preview(finance, "parental-leave", LEAVE)
    assert response.status_code == 200, response.text
    page = response.text
    # No line moves; the project's parental-leave costs go from £0 to £2,400.
    assert "This changes no budget line" in page and 'data-line="consumables"' not in page
    assert project_figure(page, "parental_leave", "before") == Decimal("0.00")
    assert project_figure(page, "parental_leave", "after") == Decimal("2400.00")
    assert events(finance, tokens) == before


def test_the_grant_payment_preview_shows_the_grant_received(
    finance: TestClient, tokens: dict[str, str]
) -> None:
    before = events(finance, tokens)
    response, _ = preview(finance, "grant-payment", PAYMENT)
    assert response.status_code == 200, response.text
    page = response.text
    assert "This changes no budget line" in page
    assert project_figure(page, "grant_paid", "before") == Decimal("0.00")
    assert project_figure(page, "grant_paid", "after") == Decimal("9100.00")
    assert 'data-line="parental_leave"' not in page
    assert events(finance, tokens) == before


# ---------------------------------------------------------------- confirm, once


@pytest.mark.parametrize("slug", list(FORMS))
def test_confirm_records_once_by_the_token(finance: TestClient, tokens: dict[str, str], slug: str) -> None:
    event_type, values = FORMS[slug]
    before = len(events(finance, tokens))
    done, data, key = confirm(finance, slug, values)
    page = finance.get(done.headers["location"])
    assert f"Recorded: {event_type} <code>{key}</code>" in page.text
    after = events(finance, tokens)
    assert len(after) == before + 1
    recorded = next(event for event in after if event["key"] == key)
    assert recorded["type"] == event_type and recorded["date"] == values["date"]
    assert recorded["data"]["amount"] == values["amount"]
    assert recorded["recorded_by"] == {"name": "finance for tests", "role": "finance", "channel": "dashboard"}
    again = post(finance, f"{BASE}/{slug}/confirm", data)
    assert again.status_code == 303
    assert "nothing new was recorded" in finance.get(again.headers["location"]).text
    assert len(events(finance, tokens)) == before + 1


def test_the_grant_payment_counts_in_the_projects_grant_received(
    finance: TestClient, tokens: dict[str, str]
) -> None:
    confirm(finance, "grant-payment", PAYMENT)
    response, _ = preview(finance, "grant-payment", {"date": "2025-07-28", "amount": "900.00"})
    assert project_figure(response.text, "grant_paid", "before") == Decimal("9100.00")
    assert project_figure(response.text, "grant_paid", "after") == Decimal("10000.00")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("slug", "field", "value", "rule"),
    [
        ("reversal", "amount", "350.01", "R-34"),  # more than the £350 left of kit
        ("reversal", "date", "2025-03-01", "R-34"),  # before the claim of 12 Mar 2025
        ("reversal", "reason", "", "R-34"),
        ("reversal", "amount", "12.345", "R-22"),
        ("parental-leave", "date", "2026-03-01", "R-35"),  # after the period's end, 31 Jan 2026
        ("parental-leave", "amount", "12.345", "R-22"),
        ("parental-leave", "description", "", "R-35"),
        ("grant-payment", "date", "2025-01-05", "R-42"),  # before the offer of 6 Jan 2025
        ("grant-payment", "amount", "-5.00", "R-22"),
    ],
)
def test_bad_input_is_refused_inline_with_the_values_kept(
    finance: TestClient, tokens: dict[str, str], slug: str, field: str, value: str, rule: str
) -> None:
    before = events(finance, tokens)
    values = {**FORMS[slug][1], field: value}
    response, _ = preview(finance, slug, values)
    assert response.status_code == 422, response.text
    page = response.text
    assert f"Not recorded: {rule}" in page
    error = re.search(rf'<p class="field-error" id="field-{field}-error"><strong>{rule}</strong>', page)
    assert error is not None, page
    for name, typed in values.items():
        if name == "claim":
            assert f'<option value="{typed}" selected>' in page
        else:
            assert f'value="{html.escape(typed)}"' in page, name
    assert events(finance, tokens) == before


# ---------------------------------------------------------------- who may, safe writes


@pytest.mark.parametrize("role", ["lmc", "viewer"])
@pytest.mark.parametrize("slug", list(FORMS))
def test_lmc_and_viewer_get_403(client: TestClient, tokens: dict[str, str], role: str, slug: str) -> None:
    event_type, values = FORMS[slug]
    sign_in(client, tokens[role])
    why = f"a {role} token may not record {event_type}"
    refused(client.get(f"{BASE}/{slug}"), why)
    refused(post(client, f"{BASE}/{slug}/preview", values), why)
    refused(post(client, f"{BASE}/{slug}/confirm", values), why)
    assert f"{BASE}/{slug}" not in client.get(f"/dashboard/projects/{PROJECT}").text


@pytest.mark.parametrize("slug", list(FORMS))
def test_the_project_page_lists_the_finance_forms(finance: TestClient, slug: str) -> None:
    assert f'href="{BASE}/{slug}"' in finance.get(f"/dashboard/projects/{PROJECT}").text


@pytest.mark.parametrize("slug", list(FORMS))
def test_a_tampered_confirmation_is_refused_and_logged(
    finance: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture, slug: str
) -> None:
    values = FORMS[slug][1]
    response, _ = preview(finance, slug, values)
    data = {**confirmation(response.text), "action": "confirm"}
    before = events(finance, tokens)
    changed = form_signing.encode_values({**values, "amount": "1.00"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refusal = post(finance, f"{BASE}/{slug}/confirm", {**data, "payload": changed})
    assert_refused_and_logged(refusal, "values were changed after the preview", caplog)
    assert events(finance, tokens) == before


# ---------------------------------------------------------------- the export upload
#
# The demo's KTP-0042 and the Agresso fixture (tests/imports/fixtures): rows 4-11 would record
# (consumables 1,200.00 + 1,399.99 + 12.00 + 12.00 claimed and 200.00 reversed by the credit note;
# travel 84.50 + 1,050.00 claimed and 84.50 reversed), rows 12-13 skipped (a blank row, the totals).

UPLOAD_PROJECT = demo.MAIN
UPLOAD = f"/dashboard/projects/{UPLOAD_PROJECT}/record/export-upload"
FIXTURES = Path(__file__).resolve().parents[1] / "imports" / "fixtures"
AGRESSO = ("agresso_2025_01.csv", "agresso.toml")
SAP = ("sap_fbl3n_2025_02.csv", "sap.toml")  # row 7 rejected, row 8 skipped, 5 would record


def upload(
    client: TestClient,
    files: tuple[str, str | None] = AGRESSO,
    extra: dict[str, str] | None = None,
    profile_bytes: bytes | None = None,
) -> tuple[Response, dict[str, str]]:
    form = open_form(client, UPLOAD)
    export, profile = files
    sent: dict[str, Any] = {"file": (export, (FIXTURES / export).read_bytes(), "text/csv")}
    if profile is not None:
        sent["profile"] = (profile, profile_bytes or (FIXTURES / profile).read_bytes(), "application/toml")
    response = client.post(
        f"{UPLOAD}/preview",
        data={**form, **(extra or {})},
        files=sent,
        headers=same_origin(client),
        follow_redirects=False,
    )
    return response, form


def all_events(client: TestClient, tokens: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{UPLOAD_PROJECT}/events", headers=bearer(tokens["admin"]))
    assert response.status_code == 200, response.text
    return list(response.json())


def fates(page: str) -> list[tuple[int, str]]:
    return [
        (int(row), status) for row, status in re.findall(r'<tr data-row="(\d+)" data-status="([^"]+)">', page)
    ]


def planned(app: App, files: tuple[str, str]) -> list[dict[str, Any]]:
    """The events `ktpledger import --dry-run` plans for the fixture (the service, called directly)."""
    export, profile = files
    plan = plan_import(
        app.ledger, UPLOAD_PROJECT, (FIXTURES / export).read_bytes(), export, (FIXTURES / profile).read_text()
    )
    return [row.event for row in plan.rows if row.status == "would record" and row.event is not None]


def test_the_upload_preview_is_the_dry_run_plan(finance: TestClient, tokens: dict[str, str]) -> None:
    before = all_events(finance, tokens)
    response, _ = upload(finance)
    assert response.status_code == 200, response.text
    page = response.text
    assert fates(page) == [*((row, "would record") for row in range(4, 12)), (12, "skipped"), (13, "skipped")]
    assert '<span class="count" data-count="would record">8 would record</span>' in page
    assert "agresso:5010:INV-1001:1" in page and "the export&#39;s totals row" in page
    # The totals per line, by hand.
    assert figure_total(page, "consumables", "claimed") == Decimal("2623.99")
    assert figure_total(page, "consumables", "reversed") == Decimal("200.00")
    assert figure_total(page, "consumables", "net") == Decimal("2423.99")
    assert figure_total(page, "travel_subsistence", "net") == Decimal("1050.00")
    # The lines before and after move by the net.
    moved = figure(page, "consumables", "spent-after") - figure(page, "consumables", "spent-before")
    assert moved == Decimal("1200.00") + Decimal("1399.99") + Decimal("12.00") + Decimal("12.00") - Decimal(
        "200.00"
    )
    travel = figure(page, "travel_subsistence", "spent-after") - figure(
        page, "travel_subsistence", "spent-before"
    )
    assert travel == Decimal("1050.00")
    assert "Nothing has been recorded yet" in page
    assert all_events(finance, tokens) == before


def figure_total(page: str, line: str, name: str) -> Decimal:
    row = re.search(rf'<tr data-total-line="{line}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, (line, page)
    cell = re.search(rf'data-total="{name}">([^<]*)<', row.group(1))
    assert cell is not None
    return money(cell.group(1))


def test_confirm_records_exactly_the_previewed_events_once(
    app: App, finance: TestClient, tokens: dict[str, str]
) -> None:
    previewed = planned(app, AGRESSO)
    before = all_events(finance, tokens)
    response, _ = upload(finance)
    shown = re.findall(r'data-status="would record">.*?<code>([^<]+)</code>', response.text, re.DOTALL)
    data = {**confirmation(response.text), "action": "confirm"}
    done = post(finance, f"{UPLOAD}/confirm", data)
    assert done.status_code == 303, done.text
    page = finance.get(done.headers["location"]).text
    assert "8 recorded, 2 skipped" in page and "Recorded: <code>agresso:5010:INV-1001:1</code>" in page
    after = all_events(finance, tokens)
    new = after[len(before) :]
    assert [event["key"] for event in new] == shown == [event["key"] for event in previewed]
    for event, plan in zip(new, previewed, strict=True):
        assert parse_event({name: event[name] for name in plan}) == parse_event(
            plan
        )  # as the domain reads them
        assert event["recorded_by"] == {"name": "finance for tests", "role": "finance", "channel": "import"}
    again = post(finance, f"{UPLOAD}/confirm", data)
    assert again.status_code == 303
    assert "nothing new was recorded" in finance.get(again.headers["location"]).text
    assert len(all_events(finance, tokens)) == len(after)


def test_a_rejected_row_stops_the_import_unless_skipped(finance: TestClient, tokens: dict[str, str]) -> None:
    before = all_events(finance, tokens)
    response, _ = upload(finance, SAP)
    assert response.status_code == 200, response.text
    assert (7, "rejected") in fates(response.text) and "<strong>R-33</strong>" in response.text
    assert "Nothing would be recorded: 1 row rejected" in response.text
    assert 'value="confirm"' not in response.text
    response, _ = upload(finance, SAP, {"skip_rejected": "on"})
    assert 'value="confirm"' in response.text
    done = post(finance, f"{UPLOAD}/confirm", {**confirmation(response.text), "action": "confirm"})
    assert "5 recorded, 1 rejected, 1 skipped" in finance.get(done.headers["location"]).text
    assert len(all_events(finance, tokens)) == len(before) + 5


@pytest.mark.parametrize(
    ("files", "profile_bytes", "field", "message"),
    [
        (AGRESSO, b"name = 'x'\n[columns\n", "profile", "R-30"),  # not TOML
        (("agresso_2025_01.csv", None), None, "profile", "R-30"),  # no profile at all
        (("agresso_2025_01.csv", "sap.toml"), None, "file", "R-30"),  # the columns are not there
    ],
)
def test_a_refused_upload_is_shown_inline_with_the_values_kept(
    finance: TestClient,
    tokens: dict[str, str],
    files: tuple[str, str | None],
    profile_bytes: bytes | None,
    field: str,
    message: str,
) -> None:
    before = all_events(finance, tokens)
    response, _ = upload(finance, files, {"sheet": "Sheet9", "skip_rejected": "on"}, profile_bytes)
    assert response.status_code == 422, response.text
    page = response.text
    assert f"Not recorded: {message}" in page
    assert re.search(r'<p class="field-error" id="field-[a-z_]+-error"><strong>R-30</strong>', page), page
    assert 'value="Sheet9"' in page and 'name="skip_rejected" value="on" checked' in page
    assert all_events(finance, tokens) == before


def test_a_profile_kept_on_the_server(
    app: App, finance: TestClient, tokens: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "agresso.toml").write_bytes((FIXTURES / "agresso.toml").read_bytes())
    monkeypatch.setattr(app, "settings", replace(app.settings, import_profiles=str(profiles)))
    assert '<option value="agresso.toml">agresso.toml</option>' in finance.get(UPLOAD).text
    response, _ = upload(finance, ("agresso_2025_01.csv", None), {"profile_name": "agresso.toml"})
    assert response.status_code == 200, response.text
    assert len([status for _, status in fates(response.text) if status == "would record"]) == 8
    response, _ = upload(finance, ("agresso_2025_01.csv", None), {"profile_name": "../secret.toml"})
    assert response.status_code == 422 and "there is no profile" in html.unescape(response.text)


def test_an_export_over_the_limit_is_a_413_page(finance: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard_import, "MAX_EXPORT_BYTES", 100)
    response, _ = upload(finance)
    assert response.status_code == 413
    assert "over the import&#39;s limit" in response.text or "over the import's limit" in response.text


@pytest.mark.parametrize("role", ["lmc", "viewer"])
def test_lmc_and_viewer_may_not_upload(client: TestClient, tokens: dict[str, str], role: str) -> None:
    sign_in(client, tokens[role])
    refused(client.get(UPLOAD), f"a {role} token may not record")
    refused(post(client, f"{UPLOAD}/preview", {}), f"a {role} token may not record")
    refused(post(client, f"{UPLOAD}/confirm", {}), f"a {role} token may not record")


def test_a_tampered_upload_confirmation_is_refused_and_logged(
    finance: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    response, _ = upload(finance, SAP)
    data = {**confirmation(response.text), "action": "confirm"}
    before = all_events(finance, tokens)
    # Turn skip_rejected on after a preview that would record nothing: the signature says no.
    values = form_signing.decode_values(data["payload"])
    assert values is not None
    changed = form_signing.encode_values({**values, "skip_rejected": "on"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        refusal = post(finance, f"{UPLOAD}/confirm", {**data, "payload": changed})
    refused(refusal, "values were changed after the preview")
    logged = [r.getMessage() for r in caplog.records if r.name == SECURITY_LOG]
    assert logged and "values were changed after the preview" in logged[-1] and UPLOAD_PROJECT in logged[-1]
    assert all_events(finance, tokens) == before


def test_the_stored_upload_is_bound_to_the_session(
    app: App, finance: TestClient, tokens: dict[str, str]
) -> None:
    response, _ = upload(finance)
    data = {**confirmation(response.text), "action": "confirm"}
    # The held export changed in the database: its digest no longer matches the signed one.
    with app.database.projection() as connection:
        held = connection.execute(select(dashboard_uploads.c.export)).scalar_one()
        connection.execute(
            update(dashboard_uploads).values(export=held + b"06/01/2025,INV-9999,5010,Extra,1.00,\n")
        )
        connection.commit()
    before = all_events(finance, tokens)
    refused(post(finance, f"{UPLOAD}/confirm", data), "the stored upload is not the one previewed")
    assert all_events(finance, tokens) == before


def test_a_confirmation_carrying_a_file_is_refused(finance: TestClient, tokens: dict[str, str]) -> None:
    response, _ = upload(finance)
    data = {**confirmation(response.text), "action": "confirm"}
    before = all_events(finance, tokens)
    sneaked = finance.post(
        f"{UPLOAD}/confirm",
        data=data,
        files={"file": ("other.csv", b"Trans Date\n", "text/csv")},
        headers=same_origin(finance),
        follow_redirects=False,
    )
    refused(sneaked, "not a form this page sent")
    assert all_events(finance, tokens) == before


def test_the_upload_store_is_bounded_per_session_and_in_all(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = app.database
    for number in range(held_uploads.PER_SESSION + 2):
        held_uploads.put(database, "session-a", f"nonce{number}", b"x", {"n": number})
    held_uploads.put(database, "session-b", "nonce0", b"y", {"n": 0})
    assert held_uploads.get(database, "session-a", "nonce0") is None  # the oldest went
    assert held_uploads.get(database, "session-a", "nonce1") is None
    assert held_uploads.get(database, "session-a", f"nonce{held_uploads.PER_SESSION + 1}") is not None
    assert held_uploads.get(database, "session-b", "nonce1") is None  # another session's nonce: not found
    stored = held_uploads.get(database, "session-b", "nonce0")
    assert stored is not None and stored.export == b"y"
    assert upload_store.count(database) == held_uploads.PER_SESSION + 1
    # In all: at most TOTAL (here 2), the oldest of any session going first.
    monkeypatch.setattr(held_uploads, "TOTAL", 2)
    held_uploads.put(database, "session-c", "nonce0", b"z", {"n": 0})
    assert upload_store.count(database) == 2
    assert held_uploads.get(database, "session-c", "nonce0") is not None
    assert held_uploads.get(database, "session-b", "nonce0") is not None


def test_an_expired_upload_is_refused(app: App, finance: TestClient, tokens: dict[str, str]) -> None:
    response, _ = upload(finance)
    data = {**confirmation(response.text), "action": "confirm"}
    with app.database.projection() as connection:  # held 12 hours and a second ago
        stored_ns = connection.execute(select(dashboard_uploads.c.stored_ns)).scalar_one()
        connection.execute(update(dashboard_uploads).values(stored_ns=stored_ns - (12 * 3600 + 1) * 10**9))
        connection.commit()
    before = all_events(finance, tokens)
    refused(post(finance, f"{UPLOAD}/confirm", data), "the upload has expired or was removed")
    assert all_events(finance, tokens) == before
    assert upload_store.count(app.database) == 0  # removed with it
